"""How each export reads for a person: sheet titles, column headers in Chinese or English, the
format of every column, and the layouts of the deliverables an officer sends.

- Import kinds: headers are the column names (English) or the Chinese aliases the importer
  accepts, so an exported sheet imports again either way.
- Result views: headers are labels from the message catalogue; a column no label names keeps
  its name and a format inferred from its values.
- Deliverables: ``invitations`` (专家邀请名单; ``by_expert`` adds a printable sheet per expert
  with the expert's details above the proposals), ``assignments`` (项目评审专家表, per proposal
  its experts then its reserves in order), ``panels`` (会评分组: the members per panel, the
  leader first, and a second sheet with the proposals each panel hears).

CSV keeps the English column names unless Chinese headers are asked for; its values never
change with the language, but for the stored messages (screening findings, conflict reasons),
which are written in the reader's language. Contact details (phone, e-mail) appear only in the
invitations.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine

from models import io, jobs
from models.i18n import N_, _, language, using
from models.schema import IMPORT_KINDS
from models.titles import TITLES
from models.vocab import (
    ASSIGNMENT_STATUS,
    EXPERT_KIND,
    INVITATION_ROLE,
    MODE,
    SCREENING_STATUS,
    SEVERITY,
    TITLE,
    UNIT_TYPE,
)
from models.workbook import Column, Sheet, infer_format, write_workbook


@dataclass(frozen=True)
class Label:
    """A view column's header (a catalogue message), its format and the labels of its codes."""

    header: str
    fmt: str = "text"
    labels: Mapping[str, str] | None = None


LABELS: dict[str, Label] = {
    "run_id": Label(N_("Run"), "int"),
    "proposal": Label(N_("Proposal")),
    "title": Label(N_("Proposal title")),
    "lead_unit": Label(N_("Lead unit")),
    "lead_unit_type": Label(N_("Lead unit type"), labels=UNIT_TYPE),
    "direction": Label(N_("Direction")),
    "direction_title": Label(N_("Direction title")),
    "expert": Label(N_("Expert")),
    "expert_name": Label(N_("Expert name")),
    "expert_unit": Label(N_("Expert's unit")),
    "expert_title": Label(N_("Professional title"), labels=TITLE),
    "phone": Label(N_("Phone")),
    "email": Label(N_("E-mail")),
    "role": Label(N_("Role"), labels=INVITATION_ROLE),
    "status": Label(N_("Status"), labels=ASSIGNMENT_STATUS),
    "reserve_rank": Label(N_("Reserve order"), "int"),
    "deadline": Label(N_("Review deadline"), "date"),
    "affinity": Label(N_("Affinity"), "score"),
    "probability": Label(N_("Probability"), "percent"),
    "selected": Label(N_("Selected"), "bool"),
    "grant_wan": Label(N_("Grant (万元)"), "money"),
    "requested_wan": Label(N_("Requested (万元)"), "money"),
    "total_budget_wan": Label(N_("Total budget (万元)"), "money"),
    "calibrated_score": Label(N_("Calibrated score"), "score"),
    "p_selected": Label(N_("P(selected)"), "percent"),
    "alternate_rank": Label(N_("Alternate rank"), "int"),
    "explanation": Label(N_("Explanation")),
    "invited": Label(N_("Experts invited"), "int"),
    "received": Label(N_("Reviews in"), "int"),
    "short": Label(N_("Reviews missing"), "int"),
    "group": Label(N_("Panel")),
    "group_title": Label(N_("Panel name")),
    "leader": Label(N_("Leader (组长)"), "bool"),
    "kind": Label(N_("Expert kind"), labels=EXPERT_KIND),
    "reason": Label(N_("Reason")),
    "rule": Label(N_("Rule")),
    "severity": Label(N_("Severity"), labels=SEVERITY),
    "waived_reason": Label(N_("Waiver reason")),
    "waived_by": Label(N_("Waived by")),
    "method": Label(N_("Method")),
    "score": Label(N_("Score"), "score"),
    "se": Label(N_("Standard error"), "score"),
    "expected_rank": Label(N_("Expected rank"), "score"),
    "rank_lo": Label(N_("Rank, 80 % low"), "int"),
    "rank_hi": Label(N_("Rank, 80 % high"), "int"),
    "n_reviews": Label(N_("Reviews"), "int"),
    "leniency": Label(N_("Leniency"), "score"),
    "lo": Label(N_("Leniency, 80 % low"), "score"),
    "hi": Label(N_("Leniency, 80 % high"), "score"),
    "batch": Label(N_("Batch")),
    "id": Label(N_("Event"), "int"),
    "at": Label(N_("Time"), "datetime"),
    "actor": Label(N_("By")),
    "command": Label(N_("Command")),
    "params": Label(N_("Parameters")),
    "seed": Label(N_("Seed"), "int"),
    "input_digest": Label(N_("Input digest")),
    "result_digest": Label(N_("Result digest")),
    "message": Label(N_("Message")),
}
"""The result views' columns, by name."""

VIEW_LABELS: dict[tuple[str, str], Label] = {
    ("findings", "status"): Label(N_("Screening result"), labels=SCREENING_STATUS),
    ("screening", "status"): Label(N_("Screening result"), labels=SCREENING_STATUS),
    ("conflicts", "kind"): Label(N_("Conflict kind")),
}
"""Columns whose name means something else in one view."""


GROUP_BY = {
    "assignments": "proposal",
    "invitations": "expert",
    "panels": "group",
    "panel_proposals": "group",
    "decisions": "direction",
    "rankings": "direction",
    "findings": "proposal",
    "conflicts": "proposal",
}
"""Views whose rows come in blocks (banded in the workbook)."""

NOT_IN_WORKBOOK = {"invitations": ("status",)}
"""CSV columns a person does not need on the sheet (the role says it)."""

EXPERT_DETAILS = ("expert", "expert_name", "expert_unit", "expert_title", "phone", "email")
"""The invitation columns that describe the expert (above the table on a per-expert sheet)."""


def _import_column(spec: io.ColumnSpec) -> tuple[str, str, Mapping[str, str] | None]:
    """Chinese header, format and code labels of an import kind's column."""
    fmt = {"str": "text", "int": "int", "bool": "bool", "date": "date", "datetime": "datetime"}
    if spec.kind == "float":
        return spec.zh, "money" if spec.name.endswith("_wan") else "number", None
    # the organisation mode is stored in Chinese, as the call writes it: nothing to relabel
    labels = spec.enum if spec.enum and spec.enum is not MODE else None
    return spec.zh, fmt[spec.kind], labels


def columns(kind: str, frame: pd.DataFrame, *, headers: str) -> tuple[Column, ...]:
    """How the columns of ``frame`` (an export of ``kind``) are shown; ``headers`` en or zh.

    Codes are shown as their Chinese labels when the current language is Chinese.
    """
    specs = {s.name: s for s in io.column_specs(IMPORT_KINDS[kind])} if kind in IMPORT_KINDS else {}
    zh_values = language() == "zh"
    out = []
    for name in frame.columns:
        if name in specs:
            zh, fmt, labels = _import_column(specs[name])
            header = (zh or name) if headers == "zh" else name
        else:
            label = VIEW_LABELS.get((kind, name)) or LABELS.get(name)
            if label is None:
                header, fmt, labels = name, infer_format(frame[name].tolist()), None
            else:
                with using(headers):
                    header = _(label.header)
                fmt, labels = label.fmt, label.labels
        out.append(Column(name, header, fmt, labels if zh_values else None))
    return tuple(out)


def csv_headers(kind: str, frame: pd.DataFrame, *, headers: str) -> list[str]:
    """The header row of a CSV export: the column names, or Chinese with ``headers="zh"``."""
    if headers != "zh":
        return [str(c) for c in frame.columns]
    return [c.header for c in columns(kind, frame, headers="zh")]


def title(kind: str, headers: str) -> str:
    """The sheet title of ``kind`` in the headers' language."""
    with using(headers):
        return _(TITLES[kind]) if kind in TITLES else kind


def table_sheet(kind: str, frame: pd.DataFrame, *, headers: str) -> Sheet:
    """One sheet of ``frame`` as ``kind`` reads."""
    hidden = NOT_IN_WORKBOOK.get(kind, ())
    shown = frame.drop(columns=[c for c in hidden if c in frame.columns])
    group = GROUP_BY.get(kind)
    return Sheet(
        title(kind, headers),
        shown,
        columns(kind, shown, headers=headers),
        group_by=group if group in shown.columns else None,
    )


def expert_sheets(frame: pd.DataFrame, *, headers: str) -> list[Sheet]:
    """One printable sheet per expert of an invitations frame: the expert's details above
    the proposals they are asked to review."""
    sheet = table_sheet("invitations", frame, headers=headers)
    by_key = {c.key: c for c in sheet.columns}
    details = [by_key[k] for k in EXPERT_DETAILS if k in by_key]
    deadline = by_key.get("deadline")
    table = tuple(c for c in sheet.columns if c.key not in EXPERT_DETAILS and c.key != "deadline")
    out = []
    for _expert, rows in sheet.frame.groupby("expert", sort=False):
        first = rows.iloc[0]
        preamble = [(c.header, _shown(first[c.key], c)) for c in details]
        if deadline is not None:
            preamble.append((deadline.header, first["deadline"]))
        name = f"{first['expert_name'] or ''} {first['expert']}".strip()
        out.append(Sheet(name, rows.reset_index(drop=True), table, preamble=tuple(preamble)))
    return out


def _shown(value: object, column: Column) -> object:
    if column.labels is not None and value is not None:
        return column.labels.get(str(value), value)
    return value


def workbook_sheets(
    engine: Engine,
    kind: str,
    *,
    headers: str,
    by_expert: bool = False,
    contacts: bool = False,
) -> list[Sheet]:
    """The sheets of ``kind``'s workbook (see the module's docstring for the deliverables)."""
    frame = jobs.export_kind(engine, kind, contacts=contacts)
    sheets = [table_sheet(kind, frame, headers=headers)]
    if kind == "invitations" and by_expert:
        sheets += expert_sheets(frame, headers=headers)
    if kind == "panels":
        heard = jobs.export_kind(engine, "panel_proposals")
        sheets.append(table_sheet("panel_proposals", heard, headers=headers))
    return sheets


def write_export(
    engine: Engine,
    kind: str,
    out: Path | None,
    fmt: str,
    *,
    headers: str | None = None,
    by_expert: bool = False,
    contacts: bool = False,
) -> tuple[int, bytes | None]:
    """Write ``kind`` as CSV or XLSX to ``out``: (rows written, the CSV bytes when ``out`` is
    None). CSV headers are the column names unless ``headers="zh"``; XLSX headers follow
    ``headers``, else the current language."""
    if fmt == "xlsx":
        if out is None:
            raise ValueError(_("--format xlsx needs --out FILE.xlsx"))
        sheets = workbook_sheets(
            engine, kind, headers=headers or language(), by_expert=by_expert, contacts=contacts
        )
        write_workbook(out, sheets)
        return len(sheets[0].frame), None
    frame = jobs.export_kind(engine, kind, contacts=contacts)
    frame.columns = pd.Index(csv_headers(kind, frame, headers=headers or "en"))
    return len(frame), io.write_frame(frame, out, fmt)
