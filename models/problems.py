"""Problems found in input files, and spreadsheet formula escaping: shared by the database
importer and the plain-file readers of the cores (no database code here)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

MAX_LISTED = 50


@dataclass(frozen=True)
class Problem:
    """One bad cell, row or file: file, row (header = its sheet row), column, value, expected."""

    file: str
    row: int | None
    column: str | None
    value: str | None
    expected: str

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", row {self.row}"
        if self.column is not None:
            where += f", column {self.column}"
        if self.value is None:
            return f"{where}: expected {self.expected}"
        return f"{where}: got {self.value!r}; expected {self.expected}"


class InvalidInput(ValueError):
    """Input files with problems; nothing was written. ``problems`` lists all of them."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        files = list(dict.fromkeys(p.file for p in problems))
        self.problems = sorted(problems, key=lambda p: (files.index(p.file), p.row or 0))
        shown = [f"  - {p}" for p in self.problems[:MAX_LISTED]]
        more = len(self.problems) - MAX_LISTED
        if more > 0:
            shown.append(f"  … and {more} more")
        n = len(self.problems)
        super().__init__(
            f"{n} problem{'s' if n != 1 else ''} in the input; nothing was written:\n"
            + "\n".join(shown)
        )


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def escape_formula(value: Any) -> Any:
    """Prefix text a spreadsheet would run as a formula with ``'``; numbers pass unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        try:
            float(value)
        except ValueError:
            return "'" + value
    return value


def unescape_formula(value: str) -> str:
    """Undo :func:`escape_formula`, so that an exported table re-imports unchanged."""
    if value.startswith("'") and escape_formula(value[1:]) != value[1:]:
        return value[1:]
    return value
