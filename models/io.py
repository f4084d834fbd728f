"""Table import and export: CSV/XLSX in, validated all-or-nothing; CSV/XLSX out, formula-safe.

Every importable kind is an ORM class in :mod:`models.schema` with ``KIND`` set; its columns,
their Chinese header aliases, enums and references come from the ORM column ``info``, so the
schema is the single description of the input formats.

Reading: CSV in UTF-8 (with or without BOM) or GB18030/GBK (what Excel writes in China), and
XLSX (first sheet; the header may sit below title rows; merged header cells are refused). Every
problem is collected with file, row, column, value and expectation before anything is written;
one problem means nothing is written. Re-importing the same rows changes nothing (upsert by the
natural key) and reports created / updated / unchanged counts.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
from sqlalchemy import Boolean, Date, DateTime, Float, Integer, String, Text, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.schema import Column, Table

from models.checks import ROW_CHECKS
from models.places import normalise_places
from models.problems import InvalidInput, Problem, escape_formula, unescape_formula
from models.schema import IMPORT_KINDS, Base


@dataclass
class ImportCounts:
    kind: str
    file: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    ignored_columns: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "file": self.file,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "ignored_columns": self.ignored_columns,
        }


# --- reading files into raw string tables -----------------------------------------------------


@dataclass(frozen=True)
class RawTable:
    """Cells as stripped strings ('' = empty); ``first_row`` is the sheet row of ``rows[0]``."""

    file: str
    header: list[str]
    rows: list[list[str]]
    first_row: int


def _cell_text(value: Any) -> str:
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
    return str(value).strip()


def _decode(data: bytes, name: str) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise InvalidInput(
            [Problem(name, None, None, None, "text in UTF-8 or GB18030/GBK encoding")]
        ) from None


@dataclass(frozen=True)
class FileData:
    """A file as bytes with the name it had where it came from (an upload): the name is
    shown in messages and tells CSV from XLSX; it is never used as a path."""

    name: str
    data: bytes


def _file_data(path: Path | FileData) -> FileData:
    if isinstance(path, FileData):
        return path
    if not path.exists():
        raise InvalidInput([Problem(str(path), None, None, None, "an existing file")])
    return FileData(str(path), path.read_bytes())


def _read_csv(path: Path | FileData) -> tuple[list[list[str]], int]:
    data, name = (src := _file_data(path)).data, src.name
    if not data.strip():
        raise InvalidInput(
            [Problem(name, None, None, None, "a header row and data rows (file is empty)")]
        )
    if b"\x00" in data[:4096] or data[:4] in (b"PK\x03\x04", b"%PDF"):
        raise InvalidInput(
            [
                Problem(
                    name,
                    None,
                    None,
                    None,
                    "a CSV text table (the file is binary; for Excel use .xlsx)",
                )
            ]
        )
    text = _decode(data, name)
    first = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first and "," not in first else ","
    try:
        rows = [[c.strip() for c in r] for r in csv.reader(io.StringIO(text), delimiter=delimiter)]
    except csv.Error as exc:
        raise InvalidInput(
            [Problem(name, None, None, None, f"a well-formed CSV table ({exc})")]
        ) from None
    return rows, 1


def _read_xlsx(path: Path | FileData, known: set[str]) -> tuple[list[list[str]], int]:
    import openpyxl

    src = _file_data(path)
    name = src.name
    try:
        wb = openpyxl.load_workbook(io.BytesIO(src.data), data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise InvalidInput(
            [Problem(name, None, None, None, f"an XLSX workbook (could not open it: {exc})")]
        ) from None
    ws = wb.worksheets[0]
    rows = [[_cell_text(v) for v in r] for r in ws.iter_rows(values_only=True)]
    header_at = _find_header(rows, known)
    if header_at is None:
        return rows, 1
    sheet_row = header_at + 1
    for rng in ws.merged_cells.ranges:
        if rng.min_row <= sheet_row <= rng.max_row:
            raise InvalidInput(
                [
                    Problem(
                        name,
                        sheet_row,
                        rng.coord,
                        rows[header_at][rng.min_col - 1]
                        if rng.min_col - 1 < len(rows[header_at])
                        else None,
                        "one header cell per column (unmerge the merged header cells)",
                    )
                ]
            )
    return rows[header_at:], sheet_row


def _norm_header(h: str) -> str:
    return re.sub(r"[\s*＊:：]", "", h).lower()


def _find_header(rows: list[list[str]], known: set[str]) -> int | None:
    """Index of the first of the first 20 rows naming at least two known columns (or all)."""
    for i, row in enumerate(rows[:20]):
        names = {_norm_header(c) for c in row if c}
        hits = len(names & known)
        if hits >= min(2, len(known)) or (names and names <= known):
            return i
    return None


# --- the kind's columns -----------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    zh: str
    required: bool
    kind: str  # str | int | float | date | datetime | bool
    max_len: int | None
    enum: dict[str, str] | None
    ref: str | None


def _table(cls: type[Base]) -> Table:
    return cast(Table, cls.__table__)


def _py_kind(column: Column) -> tuple[str, int | None]:
    t = column.type
    if isinstance(t, Boolean):
        return "bool", None
    if isinstance(t, DateTime):
        return "datetime", None
    if isinstance(t, Date):
        return "date", None
    if isinstance(t, Integer):
        return "int", None
    if isinstance(t, Float):
        return "float", None
    if isinstance(t, Text):
        return "str", None
    if isinstance(t, String):
        return "str", t.length
    raise TypeError(f"unsupported column type {t!r}")


def column_specs(cls: type[Base]) -> list[ColumnSpec]:
    """The importable columns of ``cls``, in table order."""
    specs = []
    for c in _table(cls).columns:
        if c.info.get("internal") or (c.primary_key and c.autoincrement is True):
            continue
        if c.name == "id" and c.primary_key:
            continue
        kind, max_len = _py_kind(c)
        ref = c.info.get("ref")
        if ref is None:
            for fk in c.foreign_keys:  # every foreign key names a kind
                ref = next(
                    k for k, m in IMPORT_KINDS.items() if m.__tablename__ == fk.column.table.name
                )
        specs.append(
            ColumnSpec(
                name=c.name,
                zh=c.info.get("zh", ""),
                required=not c.nullable and c.default is None,
                kind=kind,
                max_len=max_len,
                enum=c.info.get("enum"),
                ref=ref,
            )
        )
    return specs


def kind_class(kind: str) -> type[Base]:
    try:
        return IMPORT_KINDS[kind]
    except KeyError:
        raise ValueError(
            f"unknown kind {kind!r}; expected one of: {', '.join(IMPORT_KINDS)}"
        ) from None


def format_rows(kind: str) -> list[dict[str, str]]:
    """The documented input format of ``kind``: one row per column."""
    return [
        {
            "column": s.name,
            "zh": s.zh,
            "type": s.kind,
            "required": "required" if s.required else "optional",
            "values": " | ".join(s.enum) if s.enum else (f"a {s.ref} id" if s.ref else ""),
        }
        for s in column_specs(kind_class(kind))
    ]


# --- parsing values ---------------------------------------------------------------------------

_TRUE = {"true", "1", "yes", "y", "是", "t"}
_FALSE = {"false", "0", "no", "n", "否", "f"}
_DATE_RE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")
_DT_RE = re.compile(
    r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?[ T](\d{1,2}):(\d{2})(?::(\d{2}))?$"
)


def _parse(spec: ColumnSpec, raw: str) -> Any:
    """The typed value of ``raw`` or raise ValueError(expected-text)."""
    if spec.enum is not None:
        for code, label in spec.enum.items():
            if (
                raw == code
                or raw == label
                or raw.lower() == code.lower()
                or raw.lower() == label.lower()
            ):
                return code
        raise ValueError("one of " + ", ".join(f"{c} ({lbl})" for c, lbl in spec.enum.items()))
    if spec.kind == "str":
        raw = unescape_formula(raw)
        if spec.max_len is not None and len(raw) > spec.max_len:
            raise ValueError(f"text of at most {spec.max_len} characters (got {len(raw)})")
        return raw
    if spec.kind == "int":
        try:
            f = float(raw.replace(",", ""))
        except ValueError:
            raise ValueError("a whole number") from None
        if not f.is_integer():
            raise ValueError("a whole number")
        return int(f)
    if spec.kind == "float":
        try:
            f = float(raw.replace(",", ""))
        except ValueError:
            raise ValueError("a number") from None
        if not math.isfinite(f):
            raise ValueError("a finite number")
        return f
    if spec.kind == "bool":
        low = raw.lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ValueError("true or false (是/否)")
    if spec.kind == "date":
        m = _DATE_RE.match(raw)
        try:
            if m:
                return dt.date(int(m[1]), int(m[2]), int(m[3]))
            return dt.date.fromisoformat(raw)
        except ValueError:
            raise ValueError("a date YYYY-MM-DD") from None
    if spec.kind == "datetime":
        m = _DT_RE.match(raw)
        try:
            if m:
                return dt.datetime(
                    int(m[1]), int(m[2]), int(m[3]), int(m[4]), int(m[5]), int(m[6] or 0)
                )
            return dt.datetime.fromisoformat(raw)
        except ValueError:
            raise ValueError("a date and time YYYY-MM-DD HH:MM") from None
    raise AssertionError(spec.kind)


# --- validation -------------------------------------------------------------------------------


def read_raw_csv(path: Path | FileData) -> RawTable:
    """A CSV file's header and rows (any of the accepted encodings)."""
    src = _file_data(path)
    rows, first = _read_csv(src)
    return _raw_table(src.name, rows, first)


def _raw_table(name: str, rows: list[list[str]], first: int) -> RawTable:
    while rows and not any(rows[-1]):
        rows.pop()
    if not rows:
        raise InvalidInput(
            [Problem(name, None, None, None, "a header row and data rows (file is empty)")]
        )
    return RawTable(name, rows[0], rows[1:], first + 1)


def read_raw(path: Path | FileData, kind: str) -> RawTable:
    """Read ``path`` into stripped string cells with its header row located."""
    specs = column_specs(kind_class(kind))
    known = {_norm_header(s.name) for s in specs} | {_norm_header(s.zh) for s in specs if s.zh}
    src = _file_data(path)
    suffix = Path(src.name).suffix.lower()
    if suffix in (".csv", ".txt", ".tsv"):
        return read_raw_csv(src)
    if suffix not in (".xlsx", ".xlsm"):
        raise InvalidInput([Problem(src.name, None, None, None, "a .csv or .xlsx file")])
    rows, first = _read_xlsx(src, known)
    return _raw_table(src.name, rows, first)


def validate(table: RawTable, kind: str) -> tuple[list[dict[str, Any]], list[Problem], list[str]]:
    """Typed rows, problems, and the ignored (unknown) header names of ``table``."""
    specs = column_specs(kind_class(kind))
    problems: list[Problem] = []
    by_name: dict[str, ColumnSpec] = {}
    for s in specs:
        by_name[_norm_header(s.name)] = s
        if s.zh:
            by_name.setdefault(_norm_header(s.zh), s)
    positions: dict[str, int] = {}
    header_label: dict[str, str] = {}
    ignored: list[str] = []
    for i, h in enumerate(table.header):
        spec = by_name.get(_norm_header(h)) if h else None
        if spec is None:
            if h:
                ignored.append(h)
            continue
        if spec.name in positions:
            problems.append(
                Problem(table.file, table.first_row - 1, h, h, f"column {spec.name} only once")
            )
            continue
        positions[spec.name] = i
        header_label[spec.name] = h
    missing = [s.name for s in specs if s.required and s.name not in positions]
    if missing:
        if not positions:
            names = ", ".join(s.name for s in specs)
            expected = f"a table whose header names the {kind} columns ({names})"
            problems.append(Problem(table.file, table.first_row - 1, None, None, expected))
        else:
            for m in missing:
                spec = next(s for s in specs if s.name == m)
                alias = f" (or {spec.zh})" if spec.zh else ""
                problems.append(
                    Problem(table.file, table.first_row - 1, m, None, f"a column named {m}{alias}")
                )
        return [], problems, ignored
    if not table.rows:
        problems.append(Problem(table.file, None, None, None, "at least one data row"))
    out: list[dict[str, Any]] = []
    for offset, cells in enumerate(table.rows):
        row_no = table.first_row + offset
        if not any(cells):
            continue
        rec: dict[str, Any] = {}
        for s in specs:
            pos = positions.get(s.name)
            if pos is None:
                continue
            raw = cells[pos] if pos < len(cells) else ""
            if raw == "":
                if s.required:
                    problems.append(
                        Problem(table.file, row_no, header_label[s.name], "", "a value (required)")
                    )
                rec[s.name] = None
                continue
            try:
                rec[s.name] = _parse(s, raw)
            except ValueError as exc:
                problems.append(Problem(table.file, row_no, header_label[s.name], raw, str(exc)))
        rec["__row__"] = row_no
        out.append(rec)
    return out, problems, ignored


def _natural_key(cls: type[Base], rec: dict[str, Any]) -> tuple:
    return tuple(rec.get(k) for k in cls.NATURAL_KEY)


def _check_duplicates(cls: type[Base], rows: list[dict[str, Any]], file: str) -> list[Problem]:
    seen: dict[tuple, int] = {}
    problems = []
    for rec in rows:
        key = _natural_key(cls, rec)
        if key in seen:
            problems.append(
                Problem(
                    file,
                    rec["__row__"],
                    ", ".join(cls.NATURAL_KEY),
                    " / ".join("" if v is None else str(v) for v in key),
                    f"a unique {', '.join(cls.NATURAL_KEY)} (already on row {seen[key]})",
                )
            )
        else:
            seen[key] = rec["__row__"]
    return problems


def _existing_ids(session: Session, kind: str) -> set[str]:
    cls = kind_class(kind)
    (pk,) = _table(cls).primary_key.columns
    return set(session.scalars(select(pk)))


def _check_references(
    session: Session, cls: type[Base], rows: list[dict[str, Any]], file: str
) -> list[Problem]:
    problems = []
    cache: dict[str, set[str]] = {}
    for s in column_specs(cls):
        if s.ref is None:
            continue
        values = {r.get(s.name) for r in rows} - {None}
        if not values:
            continue
        if s.ref not in cache:
            cache[s.ref] = _existing_ids(session, s.ref)
        known = cache[s.ref]
        for r in rows:
            v = r.get(s.name)
            if v is not None and v not in known:
                problems.append(
                    Problem(
                        file,
                        r["__row__"],
                        s.name,
                        str(v),
                        f"an existing {s.ref} id (import {s.ref} first)",
                    )
                )
    return problems


def _upsert(
    session: Session, cls: type[Base], rows: list[dict[str, Any]], counts: ImportCounts
) -> None:
    specs = [s.name for s in column_specs(cls)]
    table = _table(cls)
    surrogate = "id" in table.columns and table.columns["id"].primary_key
    key_cols = [table.columns[k] for k in cls.NATURAL_KEY]
    existing: dict[tuple, dict[str, Any]] = {}
    wanted = [*key_cols, *(table.columns[n] for n in specs if n not in cls.NATURAL_KEY)]
    if surrogate:
        wanted.append(table.columns["id"])
    for row in session.execute(select(*wanted)).mappings():
        existing[tuple(row[c.name] for c in key_cols)] = dict(row)
    new, changed = [], []
    for rec in rows:
        # a column the file does not have is left as stored (e.g. contacts kept out of exports)
        values = {n: rec.get(n) for n in specs if n in rec}
        key = _natural_key(cls, rec)
        old = existing.get(key)
        if old is None:
            values = {n: rec.get(n) for n in specs}
            new.append(values)
            existing[key] = values
        elif any(old.get(n) != values[n] for n in values):
            if surrogate:
                values["id"] = old["id"]
            changed.append(values)
        else:
            counts.unchanged += 1
    if new:
        session.execute(insert(cls), new)
    if changed:
        session.execute(update(cls), changed)
    counts.created += len(new)
    counts.updated += len(changed)


def import_file(session: Session, kind: str, path: Path | FileData) -> ImportCounts:
    """Validate ``path`` as ``kind`` and upsert it in ``session``'s transaction.

    Raises :class:`InvalidInput` listing every problem (types, enums, required values,
    duplicates, references); the caller rolls back.
    """
    cls = kind_class(kind)
    raw = read_raw(path, kind)
    rows, problems, ignored = validate(raw, kind)
    problems += normalise_places(kind, rows, raw.file)
    if rows:
        problems += _check_duplicates(cls, rows, raw.file)
        problems += _check_references(session, cls, rows, raw.file)
        if not problems and kind in ROW_CHECKS:
            problems += ROW_CHECKS[kind](session, rows, raw.file)
    if problems:
        raise InvalidInput(problems)
    counts = ImportCounts(kind, raw.file, ignored_columns=ignored)
    _upsert(session, cls, rows, counts)
    session.flush()
    return counts


def import_directory(session: Session, directory: Path) -> list[ImportCounts]:
    """Import every ``<kind>.csv`` / ``<kind>.xlsx`` in ``directory``, referenced kinds first.

    All problems of all files are collected; one problem anywhere and nothing is written.
    """
    files = []
    for kind in IMPORT_KINDS:
        for suffix in (".csv", ".xlsx"):
            p = directory / f"{kind}{suffix}"
            if p.exists():
                files.append((kind, p))
    if not files:
        raise InvalidInput(
            [
                Problem(
                    str(directory),
                    None,
                    None,
                    None,
                    f"files named <kind>.csv or <kind>.xlsx, kinds: {', '.join(IMPORT_KINDS)}",
                )
            ]
        )
    return import_files(session, files)


def import_files(
    session: Session, files: Sequence[tuple[str, Path | FileData]]
) -> list[ImportCounts]:
    """Import ``(kind, file)`` pairs, referenced kinds first, in ``session``'s transaction.

    All problems of all files are collected; one problem anywhere and nothing is written.
    """
    order = list(IMPORT_KINDS)
    results, problems = [], []
    for kind, path in sorted(files, key=lambda f: order.index(f[0])):
        try:
            results.append(import_file(session, kind, path))
        except InvalidInput as exc:
            problems.extend(exc.problems)
    if problems:
        raise InvalidInput(problems)
    return results


# --- export -----------------------------------------------------------------------------------


def _typed(values: list[Any], spec: ColumnSpec) -> pd.Series:
    """A column as the cores expect it: the same values a reader of the CSV form would see."""
    if spec.kind == "date":
        return pd.Series([None if v is None else v.isoformat() for v in values], dtype="str")
    if spec.kind == "datetime":
        fmt = "%Y-%m-%d %H:%M"
        return pd.Series([None if v is None else v.strftime(fmt) for v in values], dtype="str")
    if spec.kind == "int":
        return pd.Series(values, dtype="Int64")
    if spec.kind == "float":
        return pd.Series([np.nan if v is None else v for v in values], dtype="float64")
    if spec.kind == "bool":
        return pd.Series(values, dtype="boolean")
    return pd.Series(values, dtype="str")


def table_frame(session: Session, kind: str) -> pd.DataFrame:
    """All rows of an importable kind, columns as in the import format (dates as ISO text)."""
    cls = kind_class(kind)
    specs = column_specs(cls)
    cols = [_table(cls).columns[s.name] for s in specs]
    order = [_table(cls).columns[k] for k in cls.NATURAL_KEY]
    rows = session.execute(select(*cols).order_by(*order)).all()
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(specs)
    return pd.DataFrame({s.name: _typed(list(c), s) for s, c in zip(specs, columns, strict=True)})


def write_frame(frame: pd.DataFrame, path: Path | None, fmt: str) -> bytes | None:
    """Write ``frame`` as CSV (UTF-8 with BOM, so Excel shows Chinese) or XLSX, formula-safe.

    With ``path`` None, CSV is returned as bytes (for stdout); XLSX needs a path.
    """
    safe = frame.astype(object).map(escape_formula)
    safe = safe.where(pd.notna(safe), None)
    if fmt == "csv":
        data = safe.to_csv(index=False).encode("utf-8-sig")
        if path is None:
            return data
        path.write_bytes(data)
        return None
    if fmt == "xlsx":
        if path is None:
            raise ValueError("XLSX export needs --out FILE")
        from models.workbook import plain_sheet, write_workbook

        write_workbook(path, [plain_sheet(path.stem, frame)])
        return None
    raise ValueError(f"unknown format {fmt!r}; expected csv or xlsx")


def file_digest(path: Path | FileData) -> str:
    """SHA-256 of a file's bytes (recorded in audit events)."""
    import hashlib

    return hashlib.sha256(_file_data(path).data).hexdigest()


def read_panel_groups(path: Path, known_directions: set[str]) -> dict[str, str]:
    """An officer's panel grouping: a CSV ``direction_code,group`` (Chinese 指南代码,分组)."""
    raw = read_raw_csv(path)
    header = [_norm_header(h) for h in raw.header]
    want = {"direction_code": ("direction_code", "指南代码"), "group": ("group", "分组")}
    pos: dict[str, int] = {}
    problems: list[Problem] = []
    for key, names in want.items():
        hits = [i for i, h in enumerate(header) if h in {_norm_header(n) for n in names}]
        if not hits:
            problems.append(Problem(raw.file, raw.first_row - 1, key, None, f"a column {key}"))
        else:
            pos[key] = hits[0]
    if problems:
        raise InvalidInput(problems)
    groups: dict[str, str] = {}
    for offset, cells in enumerate(raw.rows):
        row = raw.first_row + offset
        code = cells[pos["direction_code"]] if pos["direction_code"] < len(cells) else ""
        group = cells[pos["group"]] if pos["group"] < len(cells) else ""
        if code not in known_directions:
            problems.append(
                Problem(raw.file, row, "direction_code", code, "a direction code of the batch")
            )
        elif not group:
            problems.append(Problem(raw.file, row, "group", group, "a group name"))
        elif code in groups:
            problems.append(Problem(raw.file, row, "direction_code", code, "each direction once"))
        else:
            groups[code] = group
    if problems:
        raise InvalidInput(problems)
    return groups
