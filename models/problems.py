"""Problems found in input files, and spreadsheet formula escaping: shared by the database
importer and the plain-file readers of the cores (no database code here).

A :class:`Problem` names the file, row, column (as the file's header writes it, with the
canonical name beside it when they differ), value and what was expected. :class:`InvalidInput`
lists them for people, the same mistake on many rows as one line (with the rows as ranges and
the first values); :meth:`InvalidInput.records` gives every problem, one per row, for
``--errors-out`` and ``--json``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from models.i18n import Msg, _, _n

MAX_LISTED = 50
GROUP_AT = 3
"""Problems sharing file, column and expectation are shown as one line from this many on."""
FIRST_VALUES = 3


@dataclass(frozen=True)
class Problem:
    """One bad cell, row or file: file, row (header = its sheet row), column, value, expected.

    ``column`` is the header as written in the file; ``field`` the canonical column name when
    the header differs (a Chinese alias); ``note`` a detail of this row alone (e.g. where the
    first copy of a duplicate is), left out when equal problems are shown together.
    """

    file: str
    row: int | None
    column: str | None
    value: str | None
    expected: str | Msg
    field: str | None = None
    note: str | Msg | None = None

    def where(self, *, row: bool = True) -> str:
        text = self.file
        if row and self.row is not None:
            text = _("{where}, row {row}", where=text, row=self.row)
        if self.column is not None:
            text = _("{where}, column {column}", where=text, column=self.label)
        return text

    @property
    def label(self) -> str | None:
        """The column as the file writes it, with the canonical name in brackets."""
        if self.column is None:
            return None
        if self.field and self.field != self.column:
            return f"{self.column} [{self.field}]"
        return self.column

    def expectation(self) -> str:
        text = str(self.expected)
        if self.note is not None:
            text = _("{expected} ({note})", expected=text, note=str(self.note))
        return text

    def __str__(self) -> str:
        if self.value is None:
            return _(
                "{where}: expected {expected}", where=self.where(), expected=self.expectation()
            )
        return _(
            "{where}: got {value}; expected {expected}",
            where=self.where(),
            value=repr(self.value),
            expected=self.expectation(),
        )

    def record(self) -> dict[str, Any]:
        """The problem as plain data (``--json``, ``--errors-out``)."""
        return {
            "file": self.file,
            "row": self.row,
            "column": self.column,
            "field": self.field or self.column,
            "value": self.value,
            "expected": self.expectation(),
        }


def row_ranges(rows: Sequence[int]) -> str:
    """``2–5, 8, 10–12`` for rows 2, 3, 4, 5, 8, 10, 11, 12."""
    out: list[str] = []
    srt = sorted(set(rows))
    start = prev = srt[0] if srt else 0
    for r in [*srt[1:], None]:
        if r is not None and r == prev + 1:
            prev = r
            continue
        out.append(str(start) if start == prev else f"{start}–{prev}")
        if r is not None:
            start = prev = r
    return ", ".join(out)


def _group_key(p: Problem) -> tuple[str, str | None, str]:
    """Problems of different rows with the same key are the same mistake."""
    if p.row is None:
        return (p.file, None, str(p))
    return (p.file, p.label, str(p.expected))


def _group_line(group: list[Problem]) -> str:
    p = group[0]
    rows = [q.row for q in group if q.row is not None]
    values = list(dict.fromkeys(q.value for q in group if q.value is not None))
    shown = ", ".join(repr(v) for v in values[:FIRST_VALUES])
    if len(values) > FIRST_VALUES:
        shown += ", …"
    head = _n(
        "{where}: {n} row: expected {expected} (rows {rows})",
        "{where}: {n} rows: expected {expected} (rows {rows})",
        len(group),
        where=p.where(row=False),
        expected=str(p.expected),
        rows=row_ranges(rows),
    )
    if not shown:
        return head
    return _("{text}; first values {values}", text=head, values=shown)


class InvalidInput(ValueError):
    """Input files with problems; nothing was written. ``problems`` lists all of them."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        files = list(dict.fromkeys(p.file for p in problems))
        self.problems = sorted(problems, key=lambda p: (files.index(p.file), p.row or 0))
        super().__init__(len(self.problems))

    def lines(self) -> list[str]:
        """One line per problem, or per group of at least :data:`GROUP_AT` equal problems."""
        groups: dict[tuple[str, str | None, str], list[Problem]] = {}
        for p in self.problems:
            groups.setdefault(_group_key(p), []).append(p)
        out: list[str] = []
        done: set[tuple[str, str | None, str]] = set()
        for p in self.problems:  # in file and row order, each group where it first appears
            key = _group_key(p)
            group = groups[key]
            if len(group) >= GROUP_AT:
                if key not in done:
                    done.add(key)
                    out.append(_group_line(group))
            else:
                out.append(str(p))
        return out

    def __str__(self) -> str:
        lines = self.lines()
        shown = [f"  - {line}" for line in lines[:MAX_LISTED]]
        if len(lines) > MAX_LISTED:
            shown.append("  " + _("… and {n} more", n=len(lines) - MAX_LISTED))
        n = len(self.problems)
        head = _n(
            "{n} problem in the input; nothing was written:",
            "{n} problems in the input; nothing was written:",
            n,
        )
        return "\n".join([head, *shown])

    def records(self) -> list[dict[str, Any]]:
        return [p.record() for p in self.problems]

    def csv_bytes(self) -> bytes:
        """Every problem, one row each, as CSV (UTF-8 with BOM, so that Excel shows Chinese)."""
        buf = io.StringIO()
        fields = ["file", "row", "column", "field", "value", "expected"]
        writer = csv.DictWriter(buf, fieldnames=fields)
        writer.writeheader()
        for rec in self.records():
            writer.writerow({k: escape_formula("" if v is None else v) for k, v in rec.items()})
        return buf.getvalue().encode("utf-8-sig")


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


class Infeasible(RuntimeError):
    """The solver proved there is no assignment; the message is the diagnosis."""
