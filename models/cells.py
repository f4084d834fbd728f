"""One cell of an input file: its column's format, its typed value, and whether it can be right.

A :class:`ColumnSpec` describes a column (type, length, enumeration, referenced kind, default,
an optional normaliser of the text); :func:`parse` turns a cell's text into the stored value or
raises :class:`Bad` saying what was expected. :func:`implausible` refuses values that parse but
cannot be right: negative money, amounts over :attr:`Limits.max_wan`, birth dates in the future,
shares outside 0–1, years outside 1900–2100.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from models.i18n import N_, Msg, _
from models.problems import unescape_formula


@dataclass(frozen=True)
class Limits:
    """Plausibility ceilings of imported values. max_wan: the largest amount of money (万元)
    any money column may hold (`reviewopt import --max-wan`); today: the day dates may not
    pass (None = the day of the import)."""

    max_wan: float = 1_000_000.0
    today: dt.date | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.max_wan) and self.max_wan > 0):
            raise ValueError(
                _("--max-wan must be a number above 0, got {value}", value=self.max_wan)
            )

    @property
    def day(self) -> dt.date:
        return self.today or dt.date.today()


@dataclass(frozen=True)
class ColumnSpec:
    """One column of an input format. ``normalise`` (column info ``normalise``) maps a cell's
    text to the stored text before it is parsed (e.g. place names written several ways)."""

    name: str
    zh: str
    required: bool
    kind: str  # str | int | float | date | datetime | bool
    max_len: int | None
    enum: dict[str, str] | None
    ref: str | None
    default: Any = None
    normalise: Callable[[str], str] | None = None


_TRUE = {"true", "1", "yes", "y", "是", "t"}
_FALSE = {"false", "0", "no", "n", "否", "f"}
_DATE_RE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")
_DT_RE = re.compile(
    r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?[ T](\d{1,2}):(\d{2})(?::(\d{2}))?$"
)


class Bad(ValueError):
    """A cell that cannot be read: ``expected`` says what it should be."""

    def __init__(self, expected: Msg) -> None:
        super().__init__(expected.id)
        self.expected = expected


def parse(spec: ColumnSpec, raw: str) -> Any:
    """The typed value of ``raw`` or raise :class:`Bad`."""
    if spec.normalise is not None:
        raw = spec.normalise(raw)
    if spec.enum is not None:
        for code, label in spec.enum.items():
            if raw.lower() in (code.lower(), label.lower()):
                return code
        return _bad(
            Msg(
                "one of {values}",
                values=", ".join(f"{c} ({lbl})" for c, lbl in spec.enum.items()),
            )
        )
    if spec.kind == "str":
        raw = unescape_formula(raw)
        if spec.max_len is not None and len(raw) > spec.max_len:
            return _bad(
                Msg("text of at most {max} characters (got {n})", max=spec.max_len, n=len(raw))
            )
        return raw
    if spec.kind in ("int", "float"):
        try:
            f = float(raw.replace(",", ""))
        except ValueError:
            return _bad(Msg("a whole number") if spec.kind == "int" else Msg("a number"))
        if not math.isfinite(f):
            return _bad(Msg("a finite number"))
        if spec.kind == "float":
            return f
        if not f.is_integer():
            return _bad(Msg("a whole number"))
        return int(f)
    if spec.kind == "bool":
        low = raw.lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        return _bad(Msg("true or false (是/否)"))
    if spec.kind == "date":
        m = _DATE_RE.match(raw)
        try:
            if m:
                return dt.date(int(m[1]), int(m[2]), int(m[3]))
            return dt.date.fromisoformat(raw)
        except ValueError:
            return _bad(Msg("a date YYYY-MM-DD"))
    if spec.kind == "datetime":
        m = _DT_RE.match(raw)
        try:
            if m:
                return dt.datetime(
                    int(m[1]), int(m[2]), int(m[3]), int(m[4]), int(m[5]), int(m[6] or 0)
                )
            return dt.datetime.fromisoformat(raw)
        except ValueError:
            return _bad(Msg("a date and time YYYY-MM-DD HH:MM"))
    raise AssertionError(spec.kind)


def _bad(expected: Msg) -> Any:
    raise Bad(expected)


# --- plausibility -----------------------------------------------------------------------------

_YEAR_RANGE = (1900, 2100)
_WHOLE_RANGES = {
    "confidence": (1, 5),
    "duration_years": (1, 20),
    "max_years": (1, 20),
    "seq": (1, 99),
    "max_load": (0, 1000),
}
_PAST = {"birth_date", "rated_on", "submitted_at"}


def range_text(name: str, limits: Limits) -> str:
    """The plausible range of a column, for `reviewopt formats`."""
    if name.endswith("_wan"):
        return f"0–{limits.max_wan:g} 万元"
    if name == "share":
        return "0–1"
    if name in _WHOLE_RANGES:
        lo, hi = _WHOLE_RANGES[name]
        return f"{lo}–{hi}"
    if name.endswith("year"):
        return f"{_YEAR_RANGE[0]}–{_YEAR_RANGE[1]}"
    if name in _PAST:
        return N_("not in the future")
    return ""


def implausible(name: str, value: Any, limits: Limits) -> Msg | None:
    """Why ``value`` cannot be right for column ``name`` (None when it can)."""
    if name.endswith("_wan"):
        if value < 0:
            return Msg("an amount of at least 0 万元")
        if value > limits.max_wan:
            return Msg(
                "an amount of at most {max:g} 万元 (the ceiling for any amount; if this one is "
                "right, raise it with `reviewopt import --max-wan`)",
                max=limits.max_wan,
            )
    elif name == "share":
        if not 0 <= value <= 1:
            return Msg("a share from 0 to 1 (e.g. 0.8 for 80 %)")
    elif name in _WHOLE_RANGES:
        lo, hi = _WHOLE_RANGES[name]
        if not lo <= value <= hi:
            return Msg("a whole number from {lo} to {hi}", lo=lo, hi=hi)
    elif name.endswith("year"):
        if not _YEAR_RANGE[0] <= value <= _YEAR_RANGE[1]:
            return Msg("a year from {lo} to {hi}", lo=_YEAR_RANGE[0], hi=_YEAR_RANGE[1])
    elif name in _PAST:
        day = value.date() if isinstance(value, dt.datetime) else value
        if day > limits.day:
            return Msg("a date not in the future (today is {today})", today=limits.day.isoformat())
        if name == "birth_date" and day.year < _YEAR_RANGE[0]:
            return Msg("a birth date after {year}", year=_YEAR_RANGE[0])
    return None
