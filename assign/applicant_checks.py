"""Screening checks on the principal investigators and lead units: employment, projects in
progress, one application per PI, the young-talent share."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date
from typing import Any

from assign.graph import (
    to_dates,
)
from assign.rule_registry import rule
from assign.screening_context import (
    COMPETITIVE,
    DIRECTED,
    EPS,
    OPEN_CALL,
    Finding,
    ScreeningContext,
    cell_num,
    cell_str,
    proposal_rows,
    row_records,
    row_tuples,
)
from models.i18n import N_, Msg


@rule(
    "pi_employed",
    "reject",
    N_("the PI is employed by the lead unit"),
    section="二、5",
    clause="项目负责人须为申报单位的在职人员（与申报单位签订劳动合同）",
    why=N_("须为 (must be): a PI who is not the applicant's employee may not lead the project."),
)
def check_pi_employed(ctx: ScreeningContext) -> list[Finding]:
    """Rule 5: the PI works at the lead unit (current employer or an open employment row)."""
    out: list[Finding] = []
    for p in proposal_rows(ctx):
        pid, pi, lead = p["proposal_id"], p["pi_id"], p["lead_unit_id"]
        if not pi:
            out.append((pid, "pi_employed", "reject", Msg("no PI is named")))
            continue
        units = ctx.current_units(pi, ctx.batch_date[pid])
        if lead in units:
            continue
        where: Msg | str = ", ".join(sorted(ctx.un(u) for u in units)) or Msg("no recorded unit")
        msg = Msg(
            "PI {pi} works at {where}, not at the lead unit {lead}",
            pi=ctx.pn(pi),
            where=where,
            lead=ctx.un(lead),
        )
        out.append((pid, "pi_employed", "reject", msg))
    return out


def _in_progress(ctx: ScreeningContext, year: int) -> list[dict[str, Any]]:
    """In-progress provincial projects in ``year`` (start ≤ year ≤ end; missing = open), cached."""
    key = f"in_progress_{year}"
    if key not in ctx._cache:
        rows = []
        for r in row_records(ctx.tables["in_progress_projects"]):
            s, e = cell_num(r["start_year"]), cell_num(r["end_year"])
            if (s is None or s <= year) and (e is None or e >= year):
                rows.append(r)
        ctx._cache[key] = rows
    return ctx._cache[key]


def _in_progress_by(ctx: ScreeningContext, year: int, column: str) -> dict[Any, list[dict]]:
    """:func:`_in_progress` rows grouped by ``column`` (pi_id or lead_unit_id), in table order."""
    key = f"in_progress_{year}_by_{column}"
    if key not in ctx._cache:
        by: dict[Any, list[dict[str, Any]]] = defaultdict(list)
        for r in _in_progress(ctx, year):
            by[r[column]].append(r)
        ctx._cache[key] = dict(by)
    return ctx._cache[key]


def _years(row: dict[str, Any]) -> str:
    s, e = cell_num(row["start_year"]), cell_num(row["end_year"])
    return f"{'?' if s is None else int(s)}–{'?' if e is None else int(e)}"


@rule(
    "pi_in_progress",
    "reject",
    N_("PI has no in-progress provincial project (not 定向委托)"),
    section="二、5",
    clause="有在研省科技计划项目的项目负责人，不得牵头申报本年度项目（定向委托项目除外）。",
    why=N_("不得 (may not)."),
)
def check_pi_in_progress(ctx: ScreeningContext) -> list[Finding]:
    """Rule 6: a PI leading an in-progress provincial project may not lead a new one."""
    out: list[Finding] = []
    for p in proposal_rows(ctx):
        pid, pi = p["proposal_id"], p["pi_id"]
        if not pi or ctx.mode(p["direction_code"]) == DIRECTED:
            continue
        for row in _in_progress_by(ctx, ctx.batch_date[pid].year, "pi_id").get(pi, []):
            msg = Msg(
                "PI {pi} leads in-progress provincial project {project} ({years})",
                pi=ctx.pn(pi),
                project=row["project_id"],
                years=_years(row),
            )
            out.append((pid, "pi_in_progress", "reject", msg))
    return out


@rule(
    "one_per_pi",
    "reject",
    N_("one application per PI per year (not 定向委托)"),
    section="二、5",
    clause="同一年度同一项目负责人只能申报一项省科技计划项目（定向委托项目除外）。",
    why=N_("只能 (only one): every application of such a PI is flagged for the officer to settle."),
)
def check_one_per_pi(ctx: ScreeningContext) -> list[Finding]:
    """Rule 7: a PI with several applications in a year (定向委托 excepted): all are flagged."""
    groups: dict[tuple[str, int], list[str]] = defaultdict(list)
    for p in proposal_rows(ctx):
        pid, pi = p["proposal_id"], p["pi_id"]
        if pi and ctx.mode(p["direction_code"]) != DIRECTED:
            groups[(pi, ctx.batch_date[pid].year)].append(pid)
    out: list[Finding] = []
    for (pi, year), pids in groups.items():
        if len(pids) < 2:
            continue
        msg = Msg(
            "PI {pi} has {n} applications in {year} ({ids}); one per PI per year",
            pi=ctx.pn(pi),
            n=len(pids),
            year=year,
            ids=", ".join(sorted(pids)),
        )
        out.extend((pid, "one_per_pi", "reject", msg) for pid in pids)
    return out


def _lead_in_progress(
    ctx: ScreeningContext, rule_id: str, mode: str, counts: Callable[[str | None], bool], what: str
) -> list[Finding]:
    """Proposals of ``mode`` directions whose lead enterprise leads an in-progress provincial
    project of a mode for which ``counts`` holds (``what`` names such projects)."""
    out: list[Finding] = []
    for p in proposal_rows(ctx):
        pid, lead = p["proposal_id"], p["lead_unit_id"]
        if ctx.mode(p["direction_code"]) != mode:
            continue
        if cell_str(ctx.unit.get(lead, {}).get("type")) != "enterprise":
            continue
        for row in _in_progress_by(ctx, ctx.batch_date[pid].year, "lead_unit_id").get(lead, []):
            if not counts(cell_str(row["mode"])):
                continue
            msg = Msg(
                "lead enterprise {unit} leads in-progress {what} {project} ({years}); "
                "direction {direction} is {mode}",
                unit=ctx.un(lead),
                what=Msg(what),
                project=row["project_id"],
                years=_years(row),
                direction=p["direction_code"],
                mode=mode,
            )
            out.append((pid, rule_id, "reject", msg))
    return out


@rule(
    "open_call_lead_in_progress",
    "reject",
    N_("揭榜挂帅: lead enterprise has no in-progress 揭榜挂帅"),
    section="附件1 揭榜挂帅方向的有关说明（如3002）",
    clause="有在研揭榜挂帅省科技计划项目的企业不得牵头申报",
    why=N_("不得 (may not), in the notes of every 揭榜挂帅 direction."),
)
def check_open_call_lead_in_progress(ctx: ScreeningContext) -> list[Finding]:
    """Rule 8: in a 揭榜挂帅 direction, a lead enterprise with an in-progress 揭榜挂帅 project."""
    return _lead_in_progress(
        ctx, "open_call_lead_in_progress", OPEN_CALL, lambda m: m == OPEN_CALL,
        N_("揭榜挂帅 project"),
    )  # fmt: skip


@rule(
    "competitive_lead_in_progress",
    "reject",
    N_("竞争择优: lead enterprise has no in-progress provincial project (定向委托 excepted)"),
    section="附件1 3001 有关说明",
    clause="有在研省科技计划项目的企业不得牵头申报（定向委托项目除外）",
    why=N_("不得 (may not), in the notes of direction 3001 (竞争择优)."),
)
def check_competitive_lead_in_progress(ctx: ScreeningContext) -> list[Finding]:
    """Rule 8b: in a 竞争择优 direction (3001 in 2024: "有在研省科技计划项目的企业不得牵头申报
    （定向委托项目除外）"), a lead enterprise with an in-progress provincial project that was
    not a 定向委托 one."""
    return _lead_in_progress(
        ctx, "competitive_lead_in_progress", COMPETITIVE, lambda m: m != DIRECTED,
        N_("provincial project"),
    )  # fmt: skip


@rule(
    "young_share",
    "warn",
    N_("per department, ≥ 40 % of proposals have a young PI or key member"),
    section="二、5",
    clause="各主管部门推荐项目中由青年人才担任项目负责人和项目骨干的比例不低于40%。",
    why=N_(
        "A share required of each department's recommendations as a whole, not of any one "
        "proposal; the call names no consequence for a proposal."
    ),
)
def check_young_share(ctx: ScreeningContext) -> list[Finding]:
    """Rule 9: per recommending department, the share of proposals with a PI or key member born
    on or after the cutoff must reach the configured share; else every proposal is warned."""
    cfg = ctx.config
    keys: dict[str, set[str]] = defaultdict(set)
    tm = ctx.tables["team_members"]
    for pid, person, role in row_tuples(tm, ["proposal_id", "person_id", "role"]):
        if pid and person and role in ("key", "pi"):
            keys[pid].add(person)
    # birth dates of the PIs and key members only, the column parsed once
    wanted = set().union(*keys.values(), (p for p in ctx.proposals["pi_id"].tolist() if p))
    people = ctx.tables["people"]
    people = people[people["person_id"].isin(wanted)]
    births: dict[str, date | None] = dict(
        zip(people["person_id"].tolist(), to_dates(people["birth_date"]), strict=True)
    )
    by_dept: dict[str, list[tuple[str, bool]]] = defaultdict(list)
    for p in proposal_rows(ctx):
        dept = cell_str(p["department"])
        if dept is None:
            continue
        people = keys[p["proposal_id"]] | ({p["pi_id"]} if p["pi_id"] else set())
        young = any(
            (b := births.get(x)) is not None and b >= cfg.young_birth_cutoff for x in people
        )
        by_dept[dept].append((p["proposal_id"], young))
    out: list[Finding] = []
    for dept, items in by_dept.items():
        n, y = len(items), sum(1 for _, v in items if v)
        if y >= cfg.young_share * n - EPS:
            continue
        msg = Msg(
            "{department} recommends {n} proposals, {young} ({percent:.1f} %) with a PI or key "
            "member born on or after {cutoff}; at least {share:g} % required",
            department=dept,
            n=n,
            young=y,
            percent=100 * y / n,
            cutoff=cfg.young_birth_cutoff.isoformat(),
            share=100 * cfg.young_share,
        )
        out.extend((pid, "young_share", "warn", msg) for pid, _ in items)
    return out
