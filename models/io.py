"""Table import and export: CSV/XLSX in, validated all-or-nothing; CSV/XLSX out, formula-safe.

Every importable kind is an ORM class in :mod:`models.schema` with ``KIND`` set; its columns,
their Chinese header aliases, enums and references come from the ORM column ``info``, so the
schema is the single description of the input formats. One kind is not a table of its own:
``assignments``, an assignment run made outside reviewopt (see :mod:`models.external`).

Files are read by :mod:`models.rawfile` (encodings, quoting, control characters, merged and
formula cells). Every problem is collected with file, row, column (as the file writes it, with
the canonical name beside it), value and expectation before anything is written; one problem
means nothing is written. Values are checked for plausibility: no negative money, nothing over
:attr:`Limits.max_wan`, no birth date in the future, shares within 0–1, ids that differ only
by case or spaces are refused.

Re-importing updates by the natural key and never erases: a column the file does not have
leaves the stored values as they are; an empty cell clears a stored value only in an optional
column, and the counts report those cells as ``cleared``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
from sqlalchemy import Boolean, Date, DateTime, Float, Integer, String, Text, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.schema import Column, Table

from models.cells import Bad, ColumnSpec, Limits, implausible, parse, range_text
from models.checks import ROW_CHECKS
from models.db import digest
from models.finalisation import ensure_import_open
from models.i18n import Msg, _
from models.places import normalise_places
from models.problems import InvalidInput, Problem, escape_formula
from models.rawfile import (
    FileData,
    RawTable,
    file_data,
    norm_header,
    read_csv,
    read_xlsx,
    refuse,
)
from models.schema import IMPORT_KINDS, Base
from models.titles import TITLES
from models.vocab import ASSIGNMENT_STATUS

EXTERNAL_KIND = "assignments"


@dataclass
class ImportCounts:
    """What an import did: rows created, updated (``cleared`` of their cells emptied),
    unchanged; header names it did not know; warnings (merged cells filled down); findings
    (conflicted pairs of an imported assignment)."""

    kind: str
    file: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    cleared: int = 0
    ignored_columns: list[str] = field(default_factory=list)
    warnings: list[Msg] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)
    content_digest: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "file": self.file,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "cleared": self.cleared,
            "ignored_columns": self.ignored_columns,
            "warnings": [w.render("en") for w in self.warnings],
            "findings": self.findings,
        }


# --- the kind's columns -----------------------------------------------------------------------


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


def _orm_specs(cls: type[Base]) -> list[ColumnSpec]:
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
        default = getattr(c.default, "arg", None)
        specs.append(
            ColumnSpec(
                name=c.name,
                zh=c.info.get("zh", ""),
                required=not c.nullable and c.default is None,
                kind=kind,
                max_len=max_len,
                enum=c.info.get("enum"),
                ref=ref,
                default=None if callable(default) else default,
                normalise=c.info.get("normalise"),
            )
        )
    return specs


EXTERNAL_SPECS: tuple[ColumnSpec, ...] = (
    ColumnSpec("batch_id", "批次", True, "str", 32, None, "batches"),
    ColumnSpec("proposal_id", "项目编号", True, "str", 32, None, "proposals"),
    ColumnSpec("expert_id", "专家编号", True, "str", 32, None, "experts"),
    ColumnSpec("status", "状态", True, "str", 16, ASSIGNMENT_STATUS, None),
    ColumnSpec("run_label", "分配名称", False, "str", 64, None, None),
)
"""The ``assignments`` kind: one row per (proposal, expert) of an outside assignment run."""


def kinds() -> list[str]:
    """Every importable kind, referenced kinds first (an outside assignment before reviews)."""
    out = list(IMPORT_KINDS)
    out.insert(out.index("reviews"), EXTERNAL_KIND)
    return out


def column_specs(kind: str | type[Base]) -> list[ColumnSpec]:
    """The importable columns of a kind (or of its ORM class), in file order."""
    if kind == EXTERNAL_KIND:
        return list(EXTERNAL_SPECS)
    return _orm_specs(kind if isinstance(kind, type) else kind_class(kind))


def natural_key(kind: str) -> tuple[str, ...]:
    if kind == EXTERNAL_KIND:
        return ("batch_id", "run_label", "proposal_id", "expert_id")
    return kind_class(kind).NATURAL_KEY


def kind_class(kind: str) -> type[Base]:
    try:
        return IMPORT_KINDS[kind]
    except KeyError:
        raise ValueError(
            _(
                "unknown kind {kind}; expected one of: {kinds}",
                kind=repr(kind),
                kinds=", ".join(kinds()),
            )
        ) from None


def _values_text(spec: ColumnSpec) -> str:
    if spec.enum:
        return " | ".join(
            f"{code} ({label})" if label != code else code for code, label in spec.enum.items()
        )
    return f"a {spec.ref} id" if spec.ref else ""


def format_rows(kind: str) -> list[dict[str, str]]:
    """The documented input format of ``kind``: one row per column (enumerations with the
    Chinese value each code may be written as)."""
    return [
        {
            "column": s.name,
            "zh": s.zh,
            "type": s.kind,
            "required": "required" if s.required else "optional",
            "values": _values_text(s),
            "ref": s.ref or "",
            "range": range_text(s.name, Limits()),
        }
        for s in column_specs(kind)
    ]


# --- reading and validation -------------------------------------------------------------------


def read_raw(path: Path | FileData, kind: str) -> RawTable:
    """Read ``path`` (or an upload's bytes) into stripped string cells with its header row
    located."""
    specs = column_specs(kind)
    known = {norm_header(s.name) for s in specs} | {norm_header(s.zh) for s in specs if s.zh}
    src = file_data(path)
    if src.suffix in (".csv", ".txt", ".tsv"):
        return read_csv(src)
    if src.suffix not in (".xlsx", ".xlsm"):
        raise refuse(src.name, Msg("a .csv or .xlsx file"))
    return read_xlsx(src, known)


@dataclass
class Validated:
    """Typed rows of a file (each with ``__row__``; a key is absent where the cell gives no
    value to store), the kind's columns the file has, those it lacks, and unknown headers."""

    rows: list[dict[str, Any]]
    problems: list[Problem]
    present: list[str]
    missing: list[str]
    ignored: list[str]
    labels: dict[str, str]
    header_row: int


def validate(table: RawTable, kind: str, *, limits: Limits | None = None) -> Validated:
    """Type and check every cell of ``table`` as ``kind``."""
    limits = limits or Limits()
    specs = column_specs(kind)
    problems: list[Problem] = []
    by_name: dict[str, ColumnSpec] = {}
    for s in specs:
        by_name[norm_header(s.name)] = s
        if s.zh:
            by_name.setdefault(norm_header(s.zh), s)
    positions: dict[str, int] = {}
    labels: dict[str, str] = {}
    ignored: list[str] = []
    header_row = table.first_row - 1
    for i, h in enumerate(table.header):
        spec = by_name.get(norm_header(h)) if h else None
        if spec is None:
            if h:
                ignored.append(h)
            continue
        if spec.name in positions:
            problems.append(
                Problem(
                    table.file,
                    header_row,
                    h,
                    h,
                    Msg("column {column} only once", column=spec.name),
                    field=spec.name,
                )
            )
            continue
        positions[spec.name] = i
        labels[spec.name] = h
    keys = natural_key(kind)
    missing = [s.name for s in specs if s.required and s.name not in positions]
    out = Validated([], problems, list(positions), missing, ignored, labels, header_row)
    if not positions:
        expected = Msg(
            "a table whose header names the {kind} columns ({names})",
            kind=kind,
            names=", ".join(s.name for s in specs),
        )
        problems.append(Problem(table.file, header_row, None, None, expected))
        return out
    lacking_keys = [m for m in missing if m in keys]
    for m in lacking_keys:
        spec = next(s for s in specs if s.name == m)
        problems.append(Problem(table.file, header_row, m, None, _column_named(spec)))
    if lacking_keys:
        return out
    if not table.rows:
        problems.append(Problem(table.file, None, None, None, Msg("at least one data row")))
    for issue in table.cell_issues:
        name = next((n for n, p in positions.items() if p == issue.col), None)
        if name is not None:
            problems.append(
                Problem(
                    table.file, issue.row, labels[name], issue.value, issue.expected, field=name
                )
            )
    bad_rows = {i.row for i in table.cell_issues}
    used = [s for s in specs if s.name in positions]
    for offset, cells in enumerate(table.rows):
        row_no = table.first_row + offset
        if not any(cells):
            continue
        rec: dict[str, Any] = {"__row__": row_no}
        out.rows.append(rec)
        if row_no in bad_rows:
            continue
        for s in used:
            pos = positions[s.name]
            raw = cells[pos] if pos < len(cells) else ""
            if raw == "":
                if s.required:
                    problems.append(
                        Problem(
                            table.file,
                            row_no,
                            labels[s.name],
                            "",
                            Msg("a value (required)"),
                            field=s.name,
                        )
                    )
                elif s.default is None:
                    rec[s.name] = None  # an explicit empty cell clears an optional value
                continue
            try:
                value = parse(s, raw)
            except Bad as exc:
                problems.append(
                    Problem(table.file, row_no, labels[s.name], raw, exc.expected, field=s.name)
                )
                continue
            why = None if isinstance(value, str | bool) else implausible(s.name, value, limits)
            if why is not None:
                problems.append(Problem(table.file, row_no, labels[s.name], raw, why, field=s.name))
                continue
            rec[s.name] = value
    return out


def _column_named(spec: ColumnSpec) -> Msg:
    if spec.zh:
        return Msg("a column named {name} (or {zh})", name=spec.name, zh=spec.zh)
    return Msg("a column named {name}", name=spec.name)


def _fold(value: Any) -> Any:
    return value.strip().casefold() if isinstance(value, str) else value


def _check_duplicates(kind: str, v: Validated, file: str) -> list[Problem]:
    """Rows with the same natural key, also when the ids differ only by case or spaces."""
    keys = natural_key(kind)
    seen: dict[tuple, tuple[int, tuple]] = {}
    problems = []
    label = ", ".join(v.labels.get(k, k) for k in keys if k in v.labels)
    canonical = ", ".join(k for k in keys if k in v.labels)
    for rec in v.rows:
        key = tuple(rec.get(k) for k in keys)
        if any(
            x is None and k in v.labels and k not in rec for x, k in zip(key, keys, strict=True)
        ):
            continue  # a key cell that could not be read is reported already
        folded = tuple(_fold(x) for x in key)
        shown = " / ".join("" if x is None else str(x) for x in key)
        if folded in seen:
            first_row, first_key = seen[folded]
            if first_key == key:
                expected = Msg("a unique {key}", key=canonical)
            else:
                expected = Msg(
                    "a {key} that differs from {other} by more than case or spaces",
                    key=canonical,
                    other=repr(" / ".join("" if x is None else str(x) for x in first_key)),
                )
            problems.append(
                Problem(
                    file,
                    rec["__row__"],
                    label,
                    shown,
                    expected,
                    field=canonical,
                    note=Msg("already on row {row}", row=first_row),
                )
            )
        else:
            seen[folded] = (rec["__row__"], key)
    return problems


def _existing_ids(session: Session, kind: str) -> set[str]:
    cls = kind_class(kind)
    (pk,) = _table(cls).primary_key.columns
    return set(session.scalars(select(pk)))


def _check_stored_ids(session: Session, kind: str, v: Validated, file: str) -> list[Problem]:
    """New ids that differ from a stored one only by case or spaces (one-column keys)."""
    keys = natural_key(kind)
    if kind == EXTERNAL_KIND or len(keys) != 1 or keys[0] not in v.labels:
        return []
    (key,) = keys
    stored = {_fold(x): x for x in _existing_ids(session, kind)}
    problems = []
    for rec in v.rows:
        value = rec.get(key)
        other = stored.get(_fold(value))
        if value is not None and other is not None and other != value:
            problems.append(
                Problem(
                    file,
                    rec["__row__"],
                    v.labels[key],
                    str(value),
                    Msg(
                        "an id that differs from the stored {other} by more than case or "
                        "spaces (write {other} to update it)",
                        other=repr(other),
                    ),
                    field=key,
                )
            )
    return problems


def _check_references(session: Session, kind: str, v: Validated, file: str) -> list[Problem]:
    problems = []
    cache: dict[str, set[str]] = {}
    for s in column_specs(kind):
        if s.ref is None or s.name not in v.labels:
            continue
        values = {r.get(s.name) for r in v.rows} - {None}
        if not values:
            continue
        if s.ref not in cache:
            cache[s.ref] = _existing_ids(session, s.ref)
        known = cache[s.ref]
        folded = {_fold(k): k for k in known}
        for r in v.rows:
            value = r.get(s.name)
            if value is None or value in known:
                continue
            near = folded.get(_fold(value))
            problems.append(
                Problem(
                    file,
                    r["__row__"],
                    v.labels[s.name],
                    str(value),
                    Msg(
                        "an id already in {name} (import {kind} first)",
                        name=Msg(TITLES[s.ref]),
                        kind=s.ref,
                    ),
                    field=s.name,
                    note=None if near is None else Msg("did you mean {id}?", id=repr(near)),
                )
            )
    return problems


def _check_new_rows(session: Session, kind: str, v: Validated, file: str) -> list[Problem]:
    """Rows that would be created while the file lacks a required column."""
    if not v.missing or kind == EXTERNAL_KIND:
        return []
    cls = kind_class(kind)
    table = _table(cls)
    key_cols = [table.columns[k] for k in cls.NATURAL_KEY]
    stored = {tuple(r) for r in session.execute(select(*key_cols)).all()}
    specs = {s.name: s for s in column_specs(kind)}
    new = [r for r in v.rows if tuple(r.get(k) for k in cls.NATURAL_KEY) not in stored]
    if len(new) == len(v.rows):  # nothing to update: the file lacks the column
        return [Problem(file, v.header_row, m, None, _column_named(specs[m])) for m in v.missing]
    problems = []
    for rec in new:
        for m in v.missing:
            zh = specs[m].zh
            problems.append(
                Problem(
                    file,
                    rec["__row__"],
                    m,
                    None,
                    Msg(
                        "a column named {name} (or {zh}): this row is new and needs it; "
                        "rows already stored may leave it out",
                        name=m,
                        zh=zh or m,
                    ),
                )
            )
    return problems


def _upsert(
    session: Session, cls: type[Base], v: Validated, counts: ImportCounts
) -> list[dict[str, Any]]:
    """Insert new rows, update changed ones in the columns the file has, never erase; returns
    the rows of the file that change what is stored (new rows only where they belong to a
    batch, see :func:`models.finalisation.ensure_import_open`)."""
    specs = column_specs(cls)
    defaults = {s.name: s.default for s in specs}
    names = [s.name for s in specs]
    table = _table(cls)
    surrogate = "id" in table.columns and table.columns["id"].primary_key
    key_cols = [table.columns[k] for k in cls.NATURAL_KEY]
    existing: dict[tuple, dict[str, Any]] = {}
    wanted = [*key_cols, *(table.columns[n] for n in names if n not in cls.NATURAL_KEY)]
    if surrogate:
        wanted.append(table.columns["id"])
    for row in session.execute(select(*wanted)).mappings():
        existing[tuple(row[c.name] for c in key_cols)] = dict(row)
    new, changed, changing = [], [], []
    batch_scoped = "batch_id" in names or "proposal_id" in names
    given = set(v.present).union(*(rec.keys() for rec in v.rows))  # and what hooks fill in
    present = [n for n in names if n in given]
    for rec in v.rows:
        key = tuple(rec.get(k) for k in cls.NATURAL_KEY)
        old = existing.get(key)
        if old is None:
            values = {n: rec.get(n, defaults[n]) for n in names}
            new.append(values)
            existing[key] = values
            if batch_scoped:
                changing.append(values)
            continue
        values = {n: rec.get(n, old[n]) for n in present}
        if all(old[n] == values[n] for n in present):
            counts.unchanged += 1
            continue
        counts.cleared += sum(1 for n in present if values[n] is None and old[n] is not None)
        if surrogate:
            values["id"] = old["id"]
        old.update(values)
        changed.append(values)
        changing.append(old)
    if new:
        session.execute(insert(cls), new)
    if changed:
        session.execute(update(cls), changed)
    counts.created += len(new)
    counts.updated += len(changed)
    return changing


def import_file(
    session: Session,
    kind: str,
    path: Path | FileData,
    *,
    actor: str = "",
    limits: Limits | None = None,
) -> ImportCounts:
    """Validate ``path`` as ``kind`` and upsert it in ``session``'s transaction.

    Raises :class:`InvalidInput` listing every problem (types, enums, plausibility, required
    values, duplicates, references); the caller rolls back.
    """
    raw = read_raw(path, kind)
    v = validate(raw, kind, limits=limits)
    problems = list(v.problems)
    problems += normalise_places(kind, v.rows, raw.file)
    if v.rows:
        problems += _check_duplicates(kind, v, raw.file)
        problems += _check_stored_ids(session, kind, v, raw.file)
        problems += _check_references(session, kind, v, raw.file)
        problems += _check_new_rows(session, kind, v, raw.file)
        if not problems and kind in ROW_CHECKS:
            problems += ROW_CHECKS[kind](session, v.rows, raw.file, v.labels)
    if problems:
        raise InvalidInput(problems)
    counts = ImportCounts(
        kind,
        raw.file,
        ignored_columns=v.ignored,
        warnings=list(raw.warnings),
        content_digest=digest(stored_content(v.rows)),
    )
    if kind == EXTERNAL_KIND:
        from models.external import store_external_run

        store_external_run(session, v, counts, actor=actor)
        ensure_import_open(session, v.rows)
    else:
        ensure_import_open(session, _upsert(session, kind_class(kind), v, counts))
    session.flush()
    return counts


def stored_content(rows: list[dict[str, Any]]) -> list[list[Any]]:
    """The imported values of validated rows, in file order (what an import digest covers)."""
    return [sorted((k, v) for k, v in r.items() if k != "__row__") for r in rows]


def directory_files(directory: Path) -> list[tuple[str, Path]]:
    """The ``<kind>.csv`` / ``<kind>.xlsx`` files of ``directory``, referenced kinds first."""
    name = str(directory)
    if not directory.exists():
        raise refuse(name, Msg("an existing folder"))
    if not directory.is_dir():
        raise refuse(
            name,
            Msg("a folder (this is a file: import one file with `reviewopt import KIND FILE`)"),
        )
    files, problems = [], []
    for kind in kinds():
        found = [directory / f"{kind}{suffix}" for suffix in (".csv", ".xlsx")]
        found = [p for p in found if p.is_file()]
        if len(found) > 1:
            problems.append(
                Problem(
                    name,
                    None,
                    None,
                    None,
                    Msg(
                        "one file of kind {kind} (both {a} and {b} are here: remove one)",
                        kind=kind,
                        a=found[0].name,
                        b=found[1].name,
                    ),
                )
            )
        files += [(kind, p) for p in found]
    if problems:
        raise InvalidInput(problems)
    if not files:
        raise refuse(
            str(directory),
            Msg(
                "a folder with files named <kind>.csv or <kind>.xlsx, kinds: {kinds}",
                kinds=", ".join(kinds()),
            ),
        )
    return files


def import_directory(
    session: Session, directory: Path, *, actor: str = "", limits: Limits | None = None
) -> list[ImportCounts]:
    """Import every ``<kind>.csv`` / ``<kind>.xlsx`` in ``directory``, referenced kinds first.

    All problems of all files are collected; one problem anywhere and nothing is written.
    """
    return import_files(session, directory_files(directory), actor=actor, limits=limits)


def import_files(
    session: Session,
    files: Sequence[tuple[str, Path | FileData]],
    *,
    actor: str = "",
    limits: Limits | None = None,
) -> list[ImportCounts]:
    """Import ``(kind, file)`` pairs (files, or uploads as bytes), referenced kinds first.

    All problems of all files are collected; one problem anywhere and nothing is written.
    """
    order = kinds()
    results, problems = [], []
    for kind, path in sorted(files, key=lambda f: order.index(f[0])):
        try:
            results.append(import_file(session, kind, path, actor=actor, limits=limits))
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

    return hashlib.sha256(file_data(path).data).hexdigest()


def read_panel_groups(path: Path, known_directions: set[str]) -> dict[str, str]:
    """An officer's panel grouping: a CSV ``direction_code,group`` (Chinese 指南代码,分组)."""
    raw = read_csv(path)
    header = [norm_header(h) for h in raw.header]
    want = {"direction_code": ("direction_code", "指南代码"), "group": ("group", "分组")}
    pos: dict[str, int] = {}
    problems: list[Problem] = []
    for key, names in want.items():
        hits = [i for i, h in enumerate(header) if h in {norm_header(n) for n in names}]
        if not hits:
            problems.append(
                Problem(raw.file, raw.first_row - 1, key, None, Msg("a column {name}", name=key))
            )
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
                Problem(raw.file, row, "direction_code", code, Msg("a direction code of the batch"))
            )
        elif not group:
            problems.append(Problem(raw.file, row, "group", group, Msg("a group name")))
        elif code in groups:
            problems.append(
                Problem(raw.file, row, "direction_code", code, Msg("each direction once"))
            )
        else:
            groups[code] = group
    if problems:
        raise InvalidInput(problems)
    return groups
