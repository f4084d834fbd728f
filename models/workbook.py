"""Formatted XLSX workbooks for people: named sheets, typed cells, fitted widths, ready to print.

A :class:`Sheet` is a table (a frame and how each of its columns is shown) with optional
label/value lines above it. :func:`write_workbook` writes sheets with openpyxl:

- the header row bold and frozen, an auto-filter over the table, runs of rows with the same
  ``group_by`` value banded so that one expert's or one proposal's rows read as a block;
- money as whole 万元 (``#,##0``), scores with two decimals, probabilities as percentages,
  counts and ranks as whole numbers, dates as dates, booleans as 是/否 (yes/no in English),
  enumeration codes as their labels where given;
- column widths fitted to the text, a CJK character counting twice; long text wraps;
- landscape A4, one page wide, the header repeated on every printed page;
- text a spreadsheet would run as a formula escaped with a leading ``'`` (as in CSV), control
  characters XML cannot hold replaced by U+FFFD, text cut at Excel's 32,767 characters.

No database here: the callers build the frames (see :mod:`models.sheets`).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import pandas as pd

from models.i18n import _, render_stored
from models.problems import escape_formula

FORMATS = ("text", "int", "money", "score", "percent", "number", "bool", "date", "datetime")
"""How a column is shown; ``number`` keeps up to three decimals."""

NUMBER_FORMAT = {
    "text": "@",
    "int": "0",
    "money": "#,##0",
    "score": "0.00",
    "percent": "0%",
    "number": "#,##0.###",
    "bool": "General",
    "date": "yyyy-mm-dd",
    "datetime": "yyyy-mm-dd hh:mm",
}
MAX_WIDTH = 48  # characters (a CJK character counts 2); wider text wraps
MIN_WIDTH = 6
MAX_CELL_TEXT = 32_767  # Excel's limit on one cell
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_SHEET_NAME_BAD = re.compile(r"[\[\]:*?/\\]")
_BAND = "F2F6FC"
_HEADER_FILL = "DCE6F1"


@dataclass(frozen=True)
class Column:
    """One column as shown: ``key`` in the frame, header text, format, labels of codes."""

    key: str
    header: str
    fmt: str = "text"
    labels: Mapping[str, str] | None = None

    def __post_init__(self) -> None:
        if self.fmt not in FORMATS:
            raise ValueError(f"column {self.key}: format {self.fmt!r} is not one of {FORMATS}")


@dataclass(frozen=True)
class Sheet:
    """A titled table; ``preamble`` lines (label, value) sit above its header row."""

    title: str
    frame: pd.DataFrame
    columns: tuple[Column, ...]
    preamble: tuple[tuple[str, Any], ...] = ()
    group_by: str | None = None

    def __post_init__(self) -> None:
        missing = [c.key for c in self.columns if c.key not in self.frame.columns]
        if missing:
            raise ValueError(f"sheet {self.title!r}: no column {', '.join(missing)} in the frame")


def infer_format(values: Sequence[Any]) -> str:
    """The format that fits a column's values (the first non-empty one decides)."""
    for v in values:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            continue
        if isinstance(v, bool):
            return "bool"
        if isinstance(v, dt.datetime):
            return "datetime"
        if isinstance(v, dt.date):
            return "date"
        if isinstance(v, int):
            return "int"
        if isinstance(v, float):
            return "number"
        return "text"
    return "text"


def plain_sheet(title: str, frame: pd.DataFrame) -> Sheet:
    """A sheet of ``frame`` with its column names as headers and formats inferred."""
    columns = tuple(Column(str(c), str(c), infer_format(frame[c].tolist())) for c in frame.columns)
    return Sheet(title, frame, columns)


def clean_text(text: str) -> str:
    """Text a cell can hold: no XML-illegal control characters, at most 32,767 characters."""
    text = _ILLEGAL.sub("\ufffd", text)
    if len(text) > MAX_CELL_TEXT:
        text = text[: MAX_CELL_TEXT - 1] + "…"
    return text


def display_width(text: str) -> int:
    """Columns ``text`` takes in a spreadsheet: 2 for wide (CJK) characters, 1 otherwise."""
    line = max(text.split("\n"), key=len) if "\n" in text else text
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)


def _missing(v: Any) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    return isinstance(v, float) and math.isnan(v)


def cell_value(v: Any, column: Column) -> Any:
    """The value written for ``v`` in ``column`` (None for an empty cell)."""
    if _missing(v):
        return None
    if hasattr(v, "item") and not isinstance(v, str):  # NumPy scalars
        v = v.item()
    fmt = column.fmt
    if fmt == "bool":
        return _("yes") if v else _("no")
    if fmt in ("int", "money", "score", "percent", "number"):
        try:
            x = float(v)
        except (TypeError, ValueError):
            return clean_text(escape_formula(str(v)))
        if not math.isfinite(x):
            return None
        return int(round(x)) if fmt == "int" else x
    if fmt == "date":
        if isinstance(v, dt.datetime):
            return v.date()
        if isinstance(v, dt.date):
            return v
        return _parse_date(str(v), column)
    if fmt == "datetime":
        if isinstance(v, dt.datetime):
            return v
        if isinstance(v, dt.date):
            return dt.datetime.combine(v, dt.time())
        return _parse_date(str(v), column)
    if isinstance(v, dict | list):
        text = json.dumps(v, ensure_ascii=False, sort_keys=True, default=str)
    else:
        text = str(v)
        if column.labels is not None:
            text = column.labels.get(text, text)
        text = render_stored(text)
    return clean_text(escape_formula(text))


def _parse_date(text: str, column: Column) -> Any:
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        return clean_text(escape_formula(text))
    return when.date() if column.fmt == "date" else when


def _shown_width(value: Any, column: Column) -> int:
    if value is None:
        return 0
    if column.fmt == "money" and isinstance(value, float):
        return len(f"{value:,.0f}")
    if column.fmt in ("score", "percent") and isinstance(value, float):
        return len(f"{value:.2f}")
    if column.fmt == "date":
        return 10
    if column.fmt == "datetime":
        return 16
    return display_width(str(value))


def sheet_name(title: str, taken: set[str]) -> str:
    """``title`` as a valid, unique sheet name (≤ 31 characters, none of []:*?/\\)."""
    base = _SHEET_NAME_BAD.sub("_", _ILLEGAL.sub("", title)).strip("'") or "Sheet"
    name, n = base[:31], 1
    while name.lower() in {t.lower() for t in taken}:
        n += 1
        suffix = f" ({n})"
        name = base[: 31 - len(suffix)] + suffix
    taken.add(name)
    return name


def write_workbook(path: Path | BinaryIO, sheets: Sequence[Sheet]) -> None:
    """Write ``sheets`` to ``path`` (a file, or a binary stream) as one XLSX workbook, in
    order."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    if not sheets:
        raise ValueError("a workbook needs at least one sheet")
    wb = Workbook()
    wb.remove(wb.active)
    taken: set[str] = set()
    bold = Font(bold=True)
    header_fill = PatternFill("solid", fgColor=_HEADER_FILL)
    band_fill = PatternFill("solid", fgColor=_BAND)
    thin = Side(style="thin", color="B7B7B7")
    header_border = Border(bottom=thin)
    wrap = Alignment(wrap_text=True, vertical="top")
    top = Alignment(vertical="top")
    centre = Alignment(horizontal="center", vertical="top")
    for sheet in sheets:
        ws = wb.create_sheet(sheet_name(sheet.title, taken))
        row = 1
        for label, value in sheet.preamble:
            ws.cell(row, 1, clean_text(label)).font = bold
            fmt = infer_format([value])
            cell = ws.cell(row, 2, cell_value(value, Column("value", "", fmt)))
            cell.number_format = NUMBER_FORMAT[fmt]
            cell.alignment = Alignment(horizontal="left")
            row += 1
        if sheet.preamble:
            row += 1  # a blank line between the lines and the table
        header_row = row
        widths = [display_width(clean_text(c.header)) for c in sheet.columns]
        for j, c in enumerate(sheet.columns, 1):
            cell = ws.cell(header_row, j, clean_text(c.header))
            cell.font, cell.fill, cell.border = bold, header_fill, header_border
            cell.alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")
        frame = sheet.frame
        columns = [frame[c.key].tolist() for c in sheet.columns]
        groups = frame[sheet.group_by].tolist() if sheet.group_by else None
        band, previous = False, object()
        for i in range(len(frame)):
            r = header_row + 1 + i
            if groups is not None and groups[i] != previous:
                band, previous = not band, groups[i]
            for j, c in enumerate(sheet.columns):
                value = cell_value(columns[j][i], c)
                cell = ws.cell(r, j + 1, value)
                cell.number_format = NUMBER_FORMAT[c.fmt]
                cell.alignment = centre if c.fmt == "bool" else top
                if groups is not None and band:
                    cell.fill = band_fill
                widths[j] = max(widths[j], _shown_width(value, c))
        last_row = header_row + max(len(frame), 1)
        for j, c in enumerate(sheet.columns):
            letter = get_column_letter(j + 1)
            width = min(max(widths[j], MIN_WIDTH), MAX_WIDTH)
            ws.column_dimensions[letter].width = width + 2
            if widths[j] > MAX_WIDTH and c.fmt == "text":
                for (cell,) in ws.iter_rows(
                    min_row=header_row + 1, max_row=last_row, min_col=j + 1, max_col=j + 1
                ):
                    cell.alignment = wrap
        if sheet.preamble:
            ws.column_dimensions["A"].width = max(
                ws.column_dimensions["A"].width,
                max(display_width(label) for label, _v in sheet.preamble) + 2,
            )
        last_col = get_column_letter(max(len(sheet.columns), 1))
        ws.freeze_panes = ws.cell(header_row + 1, 1).coordinate
        ws.auto_filter.ref = f"A{header_row}:{last_col}{last_row}"
        ws.print_title_rows = f"{header_row}:{header_row}"
        ws.page_setup.orientation = "landscape"
        ws.page_setup.paperSize = ws.PAPERSIZE_A4
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 0
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        ws.print_options.horizontalCentered = True
    wb.save(path)
