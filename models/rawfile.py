"""Reading input files into raw tables of text cells, refusing what cannot be read right.

CSV: UTF-8 (with or without BOM), GB18030/GBK (what Excel writes in China) or UTF-16 (Excel's
"Unicode text"); one encoding for the whole file, decided from all of its bytes: a file whose
text is UTF-8 but for some rows is refused naming those rows, and bytes that read as neither
UTF-8 nor plausible GB18030 (Latin-1, Windows-1252) are refused naming the cells, never stored
as mojibake. Quoting is strict: a quote that is never closed, or a row with more or fewer
fields than the header, is refused with its row.

XLSX: the first sheet; the header may sit below title rows; merged header cells are refused;
a merge of one column's cells inside the data is filled down with a warning (other merges are
refused); a formula cell without a saved value is refused, naming the cell.

Every cell is checked for control characters (tab and line breaks are allowed). Cell problems
are kept with their column index, so that the validator can name the column as the file does.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import math
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from models.i18n import Msg
from models.problems import InvalidInput, Problem

_SNIFF = 4096
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_ESCAPED = re.compile(r"[\udc80-\udcff]+")


@dataclass(frozen=True)
class CellIssue:
    """A bad cell found while reading: sheet row, column index, value shown, expectation."""

    row: int
    col: int
    value: str
    expected: Msg


@dataclass(frozen=True)
class RawTable:
    """Cells as stripped strings ('' = empty); ``first_row`` is the sheet row of ``rows[0]``.

    ``cell_issues`` are cells that cannot be taken as they are (encoding, control characters);
    ``warnings`` what was done to the file's layout (merged cells filled down).
    """

    file: str
    header: list[str]
    rows: list[list[str]]
    first_row: int
    cell_issues: tuple[CellIssue, ...] = ()
    warnings: tuple[Msg, ...] = field(default_factory=tuple)


def refuse(name: str, expected: Msg, *, row: int | None = None) -> InvalidInput:
    return InvalidInput([Problem(name, row, None, None, expected)])


def check_path(path: Path) -> None:
    """A clear problem when ``path`` is missing or is a folder."""
    name = str(path)
    if path.is_dir():
        raise refuse(name, Msg("a file (this is a folder; name the file inside it)"))
    if not path.exists():
        raise refuse(name, Msg("an existing file"))


@dataclass(frozen=True)
class FileData:
    """A file as bytes with the name it had where it came from (an upload): the name is
    shown in messages and tells CSV from XLSX; it is never used as a path."""

    name: str
    data: bytes

    @property
    def suffix(self) -> str:
        return PurePosixPath(self.name.replace("\\", "/")).suffix.lower()


def file_data(path: Path | FileData) -> FileData:
    """The bytes of ``path`` (checked to be a file), or the upload as it is."""
    if isinstance(path, FileData):
        return path
    check_path(path)
    return FileData(str(path), path.read_bytes())


def norm_header(h: str) -> str:
    return re.sub(r"[\s*＊:：]", "", h).lower()


# --- CSV ----------------------------------------------------------------------------------------


def _looks_gb18030(data: bytes) -> bool:
    """Whether ``data`` decodes as GB18030 into mostly common (GB2312) characters.

    Latin-1 or Windows-1252 bytes decode as GB18030 too, into rare characters (an accented
    letter followed by an ASCII letter is a two-byte code with a low second byte): in text
    written in GBK most two-byte codes lie in the GB2312 block (both bytes 0xA1–0xFE).
    """
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        return False
    wide = [c for c in text if ord(c) > 0x7F]
    if not wide:
        return True
    common = 0
    for c in wide:
        try:
            b = c.encode("gb2312")
        except UnicodeEncodeError:
            continue
        common += len(b) == 2
    return common >= 0.5 * len(wide)


def _utf8_lines(data: bytes) -> int:
    """Lines that are whole valid UTF-8 holding a character of three or more bytes (Chinese in
    UTF-8 is; a line of GBK bytes practically never is)."""
    n = 0
    for line in data.split(b"\n"):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            continue
        n += any(ord(c) >= 0x800 for c in text)
    return n


def _decode(data: bytes, name: str) -> tuple[str, str]:
    """The text and the encoding it was read in; undecodable bytes are kept as surrogate
    escapes (U+DC80–U+DCFF) so that the cells holding them can be named."""
    for bom, enc in ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
        if data.startswith(bom):
            return _decode_utf16(data[len(bom) :], enc, name), "UTF-16"
    head = data[:_SNIFF]
    if head.count(0) > len(head) // 4:
        even, odd = head[0::2].count(0), head[1::2].count(0)
        if max(even, odd) > 0.9 * (len(head) // 2) and min(even, odd) < len(head) // 8:
            return _decode_utf16(data, "utf-16-be" if even > odd else "utf-16-le", name), "UTF-16"
        raise refuse(name, Msg("a CSV text table (the file is binary; for Excel use .xlsx)"))
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8", "surrogateescape"), "UTF-8"
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    text = data.decode("utf-8", "surrogateescape")
    if _utf8_lines(data):
        return text, "UTF-8"  # UTF-8 with some rows in another encoding: name those cells
    if _looks_gb18030(data):
        return data.decode("gb18030"), "GB18030"
    return text, "unknown"


def _decode_utf16(data: bytes, encoding: str, name: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise refuse(
            name,
            Msg(
                "UTF-16 text (the file starts as UTF-16 but byte {at} is not: save it again "
                "as UTF-8 CSV)",
                at=exc.start,
            ),
        ) from None


def _escaped_issue(cell: str, encoding: str) -> tuple[str, Msg]:
    """The value to show for a cell holding undecodable bytes, and what was expected."""
    raw = cell.encode("utf-8", "surrogateescape")
    if encoding == "UTF-8":
        try:
            shown = raw.decode("gb18030")
        except UnicodeDecodeError:
            shown = raw.decode("cp1252", "replace")
        return shown, Msg(
            "UTF-8 text like the rest of the file (this cell is in another encoding, "
            "e.g. GBK: save the whole file as UTF-8)"
        )
    return raw.decode("cp1252", "replace"), Msg(
        "text in UTF-8 or GB18030/GBK (these bytes read as Latin-1/Windows-1252: "
        "save the file as UTF-8)"
    )


def _control_issue(cell: str) -> tuple[str, Msg] | None:
    m = _CONTROL.search(cell)
    if m is None:
        return None
    ch = m.group()
    code = f"U+{ord(ch):04X}"
    what = unicodedata.name(ch, "") or "control character"
    return cell.encode("unicode_escape").decode("ascii"), Msg(
        "text without control characters (found {code} {what} at position {at}; only tab "
        "and line breaks are allowed)",
        code=code,
        what=what.lower(),
        at=m.start() + 1,
    )


def _cell_issues(rows: list[list[str]], first_row: int, encoding: str) -> list[CellIssue]:
    out = []
    for i, row in enumerate(rows):
        for j, cell in enumerate(row):
            found: tuple[str, Msg] | None = None
            if _ESCAPED.search(cell):
                found = _escaped_issue(cell, encoding)
            else:
                found = _control_issue(cell)
            if found is not None:
                out.append(CellIssue(first_row + i, j, found[0], found[1]))
    return out


def _clean_rows(rows: list[list[str]]) -> list[list[str]]:
    """Stripped cells, escaped and control characters removed (they are reported apart)."""
    return [[_ESCAPED.sub("", c).strip() for c in r] for r in rows]


def read_csv(path: Path | FileData) -> RawTable:
    """A CSV file's header and rows, or :class:`InvalidInput` naming what cannot be read."""
    src = file_data(path)
    data, name = src.data, src.name
    if not data.strip():
        raise refuse(name, Msg("a header row and data rows (file is empty)"))
    if data[:4] in (b"PK\x03\x04", b"%PDF"):
        raise refuse(name, Msg("a CSV text table (the file is binary; for Excel use .xlsx)"))
    text, encoding = _decode(data, name)
    first = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first and "," not in first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows: list[list[str]] = []
    try:
        for r in reader:
            rows.append(r)
    except csv.Error as exc:
        record = len(rows) + 1
        if "unexpected end of data" in str(exc):
            expected = Msg(
                "a closing quote for the quoted cell that starts in this row (it is never "
                "closed, so every later row would fall into that one cell)"
            )
        else:
            expected = Msg(
                "well-formed CSV quoting (a quote inside a quoted cell must be doubled: {error})",
                error=str(exc),
            )
        raise refuse(name, expected, row=record) from None
    while rows and not any(c.strip() for c in rows[-1]):
        rows.pop()
    if not rows:
        raise refuse(name, Msg("a header row and data rows (file is empty)"))
    width = len(rows[0])
    problems = [
        Problem(
            name,
            i + 1,
            None,
            None,
            Msg(
                "as many fields as the header ({width}), got {n}: check the quotes and "
                "delimiters of this row",
                width=width,
                n=len(r),
            ),
        )
        for i, r in enumerate(rows)
        if i > 0 and r and len(r) != width
    ]
    if problems:
        raise InvalidInput(problems)
    issues = _cell_issues(rows, 1, encoding)
    clean = _clean_rows(rows)
    return RawTable(name, clean[0], clean[1:], 2, tuple(issues))


# --- XLSX ---------------------------------------------------------------------------------------


def cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def find_header(rows: list[list[str]], known: set[str]) -> int | None:
    """Index of the first of the first 20 rows naming at least two known columns (or all)."""
    for i, row in enumerate(rows[:20]):
        names = {norm_header(c) for c in row if c}
        hits = len(names & known)
        if hits >= min(2, len(known)) or (names and names <= known):
            return i
    return None


def read_xlsx(path: Path | FileData, known: set[str]) -> RawTable:
    """The first sheet of a workbook, header located among the first rows (see the module)."""
    import openpyxl
    from openpyxl.utils import get_column_letter

    src = file_data(path)
    name = src.name
    try:
        wb = openpyxl.load_workbook(io.BytesIO(src.data), data_only=True)
        formulas = openpyxl.load_workbook(io.BytesIO(src.data), data_only=False).worksheets[0]
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise refuse(
            name, Msg("an XLSX workbook (could not open it: {error})", error=str(exc))
        ) from None
    ws = wb.worksheets[0]
    grid = [[v for v in r] for r in ws.iter_rows(values_only=True)]
    texts = [[cell_text(v) for v in r] for r in grid]
    at = find_header(texts, known)
    header_row = 1 if at is None else at + 1
    problems: list[Problem] = []
    warnings: list[Msg] = []
    for rng in ws.merged_cells.ranges:
        top = texts[rng.min_row - 1][rng.min_col - 1] if rng.min_row <= len(texts) else ""
        if rng.max_row < header_row:
            continue  # title rows above the header
        if rng.min_row <= header_row:
            problems.append(
                Problem(
                    name,
                    header_row,
                    rng.coord,
                    top,
                    Msg("one header cell per column (unmerge the merged header cells)"),
                )
            )
        elif rng.min_col != rng.max_col:
            problems.append(
                Problem(
                    name,
                    rng.min_row,
                    rng.coord,
                    top,
                    Msg("one value per cell (cells merged across columns: unmerge them)"),
                )
            )
        else:
            for r in range(rng.min_row + 1, rng.max_row + 1):
                while len(texts[r - 1]) < rng.min_col:
                    texts[r - 1].append("")
                texts[r - 1][rng.min_col - 1] = top
            warnings.append(
                Msg(
                    "cells {cells} are merged: their value {value} was used for rows {first}–"
                    "{last}",
                    cells=rng.coord,
                    value=repr(top),
                    first=rng.min_row,
                    last=rng.max_row,
                )
            )
    for row in formulas.iter_rows(min_row=header_row + 1):
        for c in row:
            if c.data_type == "f" and grid[c.row - 1][c.column - 1] is None:
                problems.append(
                    Problem(
                        name,
                        c.row,
                        f"{get_column_letter(c.column)}{c.row}",
                        str(c.value),
                        Msg(
                            "a value, not a formula without a saved result (open the file in "
                            "Excel and save it, or paste the values)"
                        ),
                    )
                )
    if problems:
        raise InvalidInput(problems)
    rows = texts[header_row - 1 :]
    while rows and not any(rows[-1]):
        rows.pop()
    if not rows:
        raise refuse(name, Msg("a header row and data rows (file is empty)"))
    issues = _cell_issues(rows, header_row, "UTF-8")
    clean = _clean_rows(rows)
    return RawTable(name, clean[0], clean[1:], header_row + 1, tuple(issues), tuple(warnings))
