"""Eligibility screening (形式审查) of a batch's proposals against the call's rules.

One check function per rule id (the ids of the batch formats' ``planted`` table), registered in
:data:`RULES`. Each check returns findings ``(proposal_id, rule, severity, reason)`` whose reason
names the facts (amounts in 万元, caps, unit names, dates). :func:`screen` runs every check and
gives each proposal a status: ``rejected`` (a reject finding), ``warnings`` (only warnings) or
``eligible``; waived (proposal_id, rule) findings are reported but do not count.

Related units (rule ``related_joint_units`` and the unit condition of ``near_duplicate``) come from
:func:`assign.graph.related_unit_pairs`, the same definition the conflict rules use.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pandas as pd

from assign.conflicts import TextIndex
from assign.graph import (
    DEFAULT_REACH,
    Normalised,
    describe_related,
    name_maps,
    related_unit_pairs,
    table,
    to_date,
    to_dates,
)

DEFAULT_DEADLINE = datetime(2024, 8, 5, 17, 30)
DIRECTED = "定向委托"
OPEN_CALL = "揭榜挂帅"
COMPETITIVE = "竞争择优"
_EPS = 1e-9
SEVERITIES = ("reject", "warn")
FINDING_COLUMNS = ["proposal_id", "rule", "severity", "reason", "waived"]

Finding = tuple[str, str, str, str]  # proposal_id, rule, severity, reason
_INVERSE = {
    "subsidiary": "parent",
    "parent": "subsidiary",
    "controlled": "controller",
    "controller": "controlled",
    "sibling": "sibling",
    "shareholder": "investee",
    "investee": "shareholder",
}


class ScreeningConfigError(ValueError):
    """A screening configuration value that cannot be used."""


@dataclass(frozen=True)
class ScreeningConfig:
    """Screening parameters (money in 万元, shares as fractions).

    deadline: online-submission deadline; None = ``batches.deadline`` of the proposal's batch,
    else 2024-08-05 17:30. batch_date: the date credit penalties and employment are checked at;
    None = ``batches.batch_date``, else the deadline's date. similarity_threshold: TF-IDF
    char 2-3-gram cosine of title + abstract at or above which two proposals of the same or
    related lead units are near-duplicates (default 0.7). unit_reach / shareholding: which units
    are related (rule 3 names shareholding, so it is on by default here). max_recusals:
    recusal requests (experts or units) a proposal may make (practice: 3).
    """

    deadline: datetime | None = None
    batch_date: date | None = None
    young_birth_cutoff: date = date(1984, 1, 1)
    young_share: float = 0.4
    max_request_wan: float = 2000.0
    max_share: float = 0.5
    max_share_enterprise: float = 0.3
    min_years: int = 3
    max_years: int = 5
    min_joint: int = 3
    max_joint: int = 5
    similarity_threshold: float = 0.7
    unit_reach: frozenset[str] = DEFAULT_REACH
    shareholding: bool = True
    partner_lead_types: frozenset[str] = frozenset({"university", "institute", "new_rnd"})
    home_province: str = "江苏"
    max_recusals: int = 3

    def __post_init__(self) -> None:
        object.__setattr__(self, "unit_reach", frozenset(self.unit_reach))
        object.__setattr__(self, "partner_lead_types", frozenset(self.partner_lead_types))
        for name in ("young_share", "max_share", "max_share_enterprise"):
            v = getattr(self, name)
            if not 0 <= v <= 1:
                raise ScreeningConfigError(f"{name} must be a fraction in [0, 1], got {v!r}")
        if not 0 < self.similarity_threshold <= 1:
            raise ScreeningConfigError(
                f"similarity_threshold must be in (0, 1], got {self.similarity_threshold!r}"
            )
        if not 0 < self.min_years <= self.max_years:
            raise ScreeningConfigError(
                f"need 0 < min_years <= max_years, got {self.min_years} and {self.max_years}"
            )
        if not 0 < self.min_joint <= self.max_joint:
            raise ScreeningConfigError(
                f"need 0 < min_joint <= max_joint, got {self.min_joint} and {self.max_joint}"
            )
        if self.max_request_wan <= 0:
            raise ScreeningConfigError(f"max_request_wan must be > 0, got {self.max_request_wan}")
        if self.max_recusals < 0:
            raise ScreeningConfigError(f"max_recusals must be >= 0, got {self.max_recusals}")


@dataclass(frozen=True, eq=False)
class ScreeningResult:
    """findings: proposal_id, rule, severity, reason, waived (one row per finding).
    status: proposal_id, direction_code, department, status (eligible | rejected | warnings),
    rejects, warnings (counts of findings that are not waived)."""

    findings: pd.DataFrame
    status: pd.DataFrame

    def by_rule(self) -> pd.DataFrame:
        """Counts per rule: rule, severity, findings, proposals, waived (every registered rule)."""
        return summary_by_rule(self)

    def by_direction(self) -> pd.DataFrame:
        """Counts per direction: direction_code, proposals, eligible, warnings, rejected."""
        return summary_by_direction(self)


@dataclass(frozen=True, eq=False)
class ScreeningContext:
    """What the checks read: normalised tables, the guide by code, names, per-proposal dates."""

    tables: Mapping[str, pd.DataFrame]
    guide: dict[str, dict[str, Any]]
    config: ScreeningConfig
    proposals: pd.DataFrame
    person_name: dict[str, str]
    unit_name: dict[str, str]
    unit: dict[str, dict[str, Any]]
    deadline: dict[str, datetime]  # proposal_id -> deadline
    batch_date: dict[str, date]  # proposal_id -> date of checks
    joint: dict[str, list[tuple[int | None, str | None]]]  # proposal_id -> [(seq, unit_id)]
    _cache: dict[str, Any] = field(default_factory=dict)

    def _employers(
        self, who: set[str]
    ) -> tuple[set[str], dict[str, set[str]], dict[str, list[tuple[str, date | None]]]]:
        """(who, person -> people.unit_id units, person -> [(unit, employment end)])."""
        cur: dict[str, set[str]] = defaultdict(set)
        people = self.tables["people"]
        people = people[people["person_id"].isin(who)]
        for p, u in _tuples(people, ["person_id", "unit_id"]):
            if p and u:
                cur[p].add(u)
        rows: dict[str, list[tuple[str, date | None]]] = defaultdict(list)
        emp = self.tables["employment"]
        emp = emp[emp["person_id"].isin(who)]
        ends = to_dates(emp["end_date"])
        for p, u, e in zip(*_columns(emp, ["person_id", "unit_id"]), ends, strict=True):
            if p and u:
                rows[p].append((u, e))
        return who, cur, rows

    def pn(self, pid: Any) -> str:
        return self.person_name.get(pid, str(pid))

    def un(self, uid: Any) -> str:
        return self.unit_name.get(uid, str(uid))

    def mode(self, code: Any) -> str | None:
        g = self.guide.get(code)
        return None if g is None else _str(g.get("mode"))

    def related(self) -> dict[str, list[tuple[str, str, str | None]]]:
        """unit_id -> [(other unit, relation of other to unit, via)] (same unit excluded)."""
        if "related" not in self._cache:
            rel = related_unit_pairs(
                self.tables["unit_relations"],
                reach=self.config.unit_reach,
                shareholding=self.config.shareholding,
            )
            out: dict[str, list[tuple[str, str, str | None]]] = defaultdict(list)
            for u, o, r, v in _tuples(rel, ["unit_id", "other_unit_id", "relation", "via"]):
                out[u].append((o, r, v))
            self._cache["related"] = dict(out)
        return self._cache["related"]

    def current_units(self, person_id: str, day: date) -> set[str]:
        """Units employing the person at ``day`` (people.unit_id and open employment rows)."""
        if "employers" not in self._cache:  # indexed for the PIs first; others on demand
            self._cache["employers"] = self._employers(set(self.proposals["pi_id"].dropna()))
        who, cur, rows = self._cache["employers"]
        if person_id not in who:
            _, cur, rows = self._employers({person_id})
        out = set(cur.get(person_id, set()))
        out |= {u for u, end in rows.get(person_id, []) if end is None or end >= day}
        return out


def _columns(df: pd.DataFrame, cols: list[str]) -> list[list[Any]]:
    """The columns as Python lists; missing values of nullable (Int64, boolean) columns are
    None, as ``DataFrame.to_dict`` gives them."""
    out = []
    for c in cols:
        values = df[c].tolist()
        dtype = df[c].dtype
        if isinstance(dtype, pd.api.extensions.ExtensionDtype) and not isinstance(
            dtype, pd.StringDtype
        ):
            values = [None if v is pd.NA else v for v in values]
        out.append(values)
    return out


def _tuples(df: pd.DataFrame, cols: list[str]) -> Iterator[tuple[Any, ...]]:
    """Rows of ``df[cols]`` as plain tuples (no per-row pandas objects)."""
    return zip(*_columns(df, cols), strict=True)


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """``df.to_dict("records")`` built column-wise (the same values, much faster)."""
    cols = [str(c) for c in df.columns]
    return [dict(zip(cols, row, strict=True)) for row in _tuples(df, cols)]


def _str(v: Any) -> str | None:
    if v is None or v is pd.NA or (isinstance(v, float) and v != v):
        return None
    s = str(v).strip()
    return s or None


def _num(v: Any) -> float | None:
    if v is None or v is pd.NA:
        return None
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return None if x != x else x


def to_timestamp(value: Any) -> datetime | None:
    """An ISO timestamp (``YYYY-MM-DD HH:MM``) as a naive datetime; None when missing/bad."""
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip())
        except ValueError:
            pass
    ts = pd.to_datetime(value, errors="coerce")
    return None if ts is None or pd.isna(ts) else ts.to_pydatetime().replace(tzinfo=None)


def wan(x: float) -> str:
    """An amount in 万元 as text: 2000万, 1234.5万."""
    text = f"{x:.2f}".rstrip("0").rstrip(".")
    return f"{text}万"


# ---------------------------------------------------------------------------------------------
# registry


@dataclass(frozen=True)
class Rule:
    """A screening rule: id (as in the planted table), default severity, check, summary."""

    rule_id: str
    severity: str
    check: Callable[[ScreeningContext], list[Finding]]
    summary: str


RULES: dict[str, Rule] = {}


def rule(
    rule_id: str, severity: str, summary: str
) -> Callable[[Callable[[ScreeningContext], list[Finding]]], Callable[..., list[Finding]]]:
    """Register a check function under ``rule_id``."""

    def wrap(fn: Callable[[ScreeningContext], list[Finding]]) -> Callable[..., list[Finding]]:
        RULES[rule_id] = Rule(rule_id, severity, fn, summary)
        return fn

    return wrap


def _rows(ctx: ScreeningContext) -> list[dict[str, Any]]:
    """The proposals as row dicts (built once per context; checks must not change them)."""
    if "rows" not in ctx._cache:
        ctx._cache["rows"] = _records(ctx.proposals)
    return ctx._cache["rows"]


def _applicant_units(ctx: ScreeningContext, p: dict[str, Any]) -> list[str]:
    """Lead unit, then the joint units in joint-direction order (cached; do not change it)."""
    cache = ctx._cache.setdefault("applicant_units", {})
    key = (p["proposal_id"], p["lead_unit_id"])
    if key not in cache:
        units = [p["lead_unit_id"]] if p["lead_unit_id"] else []
        for _, u in ctx.joint.get(p["proposal_id"], []):
            if u and u not in units:
                units.append(u)
        cache[key] = units
    return cache[key]


# ---------------------------------------------------------------------------------------------
# the checks, one per rule


@rule("units_in_jiangsu", "reject", "lead and joint units are registered in Jiangsu (江苏)")
def check_units_in_jiangsu(ctx: ScreeningContext) -> list[Finding]:
    """Rule 1: every lead and joint unit is in the units table with province 江苏."""
    out: list[Finding] = []
    home = ctx.config.home_province
    for p in _rows(ctx):
        pid = p["proposal_id"]
        for u in _applicant_units(ctx, p):
            role = "lead unit" if u == p["lead_unit_id"] else "joint unit"
            info = ctx.unit.get(u)
            if info is None:
                out.append(
                    (pid, "units_in_jiangsu", "reject", f"{role} {u} is not in the units table")
                )
                continue
            prov = _str(info.get("province"))
            if prov != home:
                where = f"registered in {prov}" if prov else "has no registered province"
                out.append(
                    (
                        pid,
                        "units_in_jiangsu",
                        "reject",
                        f"{role} {ctx.un(u)} is {where}, not in {home}",
                    )
                )
    return out


@rule(
    "enterprise_partner", "reject", "a university/institute/new R&D lead has an enterprise partner"
)
def check_enterprise_partner(ctx: ScreeningContext) -> list[Finding]:
    """Rule 2: a university, institute or new R&D lead needs an enterprise joint unit."""
    out: list[Finding] = []
    for p in _rows(ctx):
        lead = p["lead_unit_id"]
        ltype = _str(ctx.unit.get(lead, {}).get("type"))
        if ltype not in ctx.config.partner_lead_types:
            continue
        partners = [
            u
            for u in _applicant_units(ctx, p)
            if u != lead and _str(ctx.unit.get(u, {}).get("type")) == "enterprise"
        ]
        if not partners:
            out.append(
                (
                    p["proposal_id"],
                    "enterprise_partner",
                    "reject",
                    f"lead unit {ctx.un(lead)} is a {ltype} and no joint direction is carried by "
                    "an enterprise",
                )
            )
    return out


@rule("related_joint_units", "reject", "no related units among the applicant units")
def check_related_joint_units(ctx: ScreeningContext) -> list[Finding]:
    """Rule 3: related units (parent/subsidiary/common control/shareholding) may not both apply."""
    out: list[Finding] = []
    related = ctx.related()
    for p in _rows(ctx):
        pid, lead = p["proposal_id"], p["lead_unit_id"]
        seqs: dict[str, list[int | None]] = defaultdict(list)
        for s, u in ctx.joint.get(pid, []):
            if u:
                seqs[u].append(s)
        units = _applicant_units(ctx, p)

        def role(u: str, lead: str = lead, seqs: dict[str, list[int | None]] = seqs) -> str:
            if u == lead:
                return "the lead unit"
            return "joint direction " + ", ".join(str(s) for s in seqs[u])

        seen: set[frozenset[str]] = set()
        for y in units:
            for x, rel, via in related.get(y, []):
                pair = frozenset((x, y))
                if x not in units or x == y or pair in seen:
                    continue
                seen.add(pair)
                desc = describe_related(
                    ctx.un(x), rel, ctx.un(y), None if via is None else ctx.un(via)
                )
                out.append(
                    (
                        pid,
                        "related_joint_units",
                        "reject",
                        f"{desc}; {ctx.un(x)} ({role(x)}) and {ctx.un(y)} ({role(y)}) are "
                        "related units applying together",
                    )
                )
    return out


@rule("joint_directions", "reject", "3-5 joint directions, distinct units, lead carries one")
def check_joint_directions(ctx: ScreeningContext) -> list[Finding]:
    """Rule 4: 3–5 joint directions, each by a different unit, one carried by the lead unit."""
    out: list[Finding] = []
    lo, hi = ctx.config.min_joint, ctx.config.max_joint
    for p in _rows(ctx):
        pid, lead = p["proposal_id"], p["lead_unit_id"]
        jd = ctx.joint.get(pid, [])
        if not lo <= len(jd) <= hi:
            out.append(
                (
                    pid,
                    "joint_directions",
                    "reject",
                    f"has {len(jd)} joint directions; {lo}–{hi} required",
                )
            )
        by_unit: dict[str, list[str]] = defaultdict(list)
        for s, u in jd:
            if u:
                by_unit[u].append(str(s))
        for u, ss in by_unit.items():
            if len(ss) > 1:
                out.append(
                    (
                        pid,
                        "joint_directions",
                        "reject",
                        f"{ctx.un(u)} carries joint directions {', '.join(ss)}; each must be "
                        "carried by a different unit",
                    )
                )
        if jd and lead not in by_unit:
            out.append(
                (
                    pid,
                    "joint_directions",
                    "reject",
                    f"the lead unit {ctx.un(lead)} carries none of the joint directions",
                )
            )
    return out


@rule("pi_employed", "reject", "the PI is employed by the lead unit")
def check_pi_employed(ctx: ScreeningContext) -> list[Finding]:
    """Rule 5: the PI works at the lead unit (current employer or an open employment row)."""
    out: list[Finding] = []
    for p in _rows(ctx):
        pid, pi, lead = p["proposal_id"], p["pi_id"], p["lead_unit_id"]
        if not pi:
            out.append((pid, "pi_employed", "reject", "no PI is named"))
            continue
        units = ctx.current_units(pi, ctx.batch_date[pid])
        if lead in units:
            continue
        where = ", ".join(sorted(ctx.un(u) for u in units)) or "no recorded unit"
        out.append(
            (
                pid,
                "pi_employed",
                "reject",
                f"PI {ctx.pn(pi)} works at {where}, not at the lead unit {ctx.un(lead)}",
            )
        )
    return out


def _in_progress(ctx: ScreeningContext, year: int) -> list[dict[str, Any]]:
    """In-progress provincial projects in ``year`` (start ≤ year ≤ end; missing = open), cached."""
    key = f"in_progress_{year}"
    if key not in ctx._cache:
        rows = []
        for r in _records(ctx.tables["in_progress_projects"]):
            s, e = _num(r["start_year"]), _num(r["end_year"])
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
    s, e = _num(row["start_year"]), _num(row["end_year"])
    return f"{'?' if s is None else int(s)}–{'?' if e is None else int(e)}"


@rule("pi_in_progress", "reject", "PI has no in-progress provincial project (not 定向委托)")
def check_pi_in_progress(ctx: ScreeningContext) -> list[Finding]:
    """Rule 6: a PI leading an in-progress provincial project may not lead a new one."""
    out: list[Finding] = []
    for p in _rows(ctx):
        pid, pi = p["proposal_id"], p["pi_id"]
        if not pi or ctx.mode(p["direction_code"]) == DIRECTED:
            continue
        for row in _in_progress_by(ctx, ctx.batch_date[pid].year, "pi_id").get(pi, []):
            out.append(
                (
                    pid,
                    "pi_in_progress",
                    "reject",
                    f"PI {ctx.pn(pi)} leads in-progress provincial project {row['project_id']} "
                    f"({_years(row)})",
                )
            )
    return out


@rule("one_per_pi", "reject", "one application per PI per year (not 定向委托)")
def check_one_per_pi(ctx: ScreeningContext) -> list[Finding]:
    """Rule 7: a PI with several applications in a year (定向委托 excepted): all are flagged."""
    groups: dict[tuple[str, int], list[str]] = defaultdict(list)
    for p in _rows(ctx):
        pid, pi = p["proposal_id"], p["pi_id"]
        if pi and ctx.mode(p["direction_code"]) != DIRECTED:
            groups[(pi, ctx.batch_date[pid].year)].append(pid)
    out: list[Finding] = []
    for (pi, year), pids in groups.items():
        if len(pids) < 2:
            continue
        ids = ", ".join(sorted(pids))
        for pid in pids:
            out.append(
                (
                    pid,
                    "one_per_pi",
                    "reject",
                    f"PI {ctx.pn(pi)} has {len(pids)} applications in {year} ({ids}); one per "
                    "PI per year",
                )
            )
    return out


def _lead_in_progress(
    ctx: ScreeningContext, rule_id: str, mode: str, counts: Callable[[str], bool], what: str
) -> list[Finding]:
    """Proposals of ``mode`` directions whose lead enterprise leads an in-progress provincial
    project of a mode for which ``counts`` holds (``what`` names such projects)."""
    out: list[Finding] = []
    for p in _rows(ctx):
        pid, lead = p["proposal_id"], p["lead_unit_id"]
        if ctx.mode(p["direction_code"]) != mode:
            continue
        if _str(ctx.unit.get(lead, {}).get("type")) != "enterprise":
            continue
        for row in _in_progress_by(ctx, ctx.batch_date[pid].year, "lead_unit_id").get(lead, []):
            if not counts(_str(row["mode"])):
                continue
            out.append(
                (
                    pid,
                    rule_id,
                    "reject",
                    f"lead enterprise {ctx.un(lead)} leads in-progress {what} "
                    f"{row['project_id']} ({_years(row)}); direction {p['direction_code']} is "
                    f"{mode}",
                )
            )
    return out


@rule(
    "open_call_lead_in_progress", "reject", "揭榜挂帅: lead enterprise has no in-progress 揭榜挂帅"
)
def check_open_call_lead_in_progress(ctx: ScreeningContext) -> list[Finding]:
    """Rule 8: in a 揭榜挂帅 direction, a lead enterprise with an in-progress 揭榜挂帅 project."""
    return _lead_in_progress(
        ctx, "open_call_lead_in_progress", OPEN_CALL, lambda m: m == OPEN_CALL,
        f"{OPEN_CALL} project",
    )  # fmt: skip


@rule(
    "competitive_lead_in_progress",
    "reject",
    "竞争择优: lead enterprise has no in-progress provincial project (定向委托 excepted)",
)
def check_competitive_lead_in_progress(ctx: ScreeningContext) -> list[Finding]:
    """Rule 8b: in a 竞争择优 direction (3001 in 2024: "有在研省科技计划项目的企业不得牵头申报
    （定向委托项目除外）"), a lead enterprise with an in-progress provincial project that was
    not a 定向委托 one."""
    return _lead_in_progress(
        ctx, "competitive_lead_in_progress", COMPETITIVE, lambda m: m != DIRECTED,
        "provincial project",
    )  # fmt: skip


@rule("young_share", "warn", "per department, ≥ 40 % of proposals have a young PI or key member")
def check_young_share(ctx: ScreeningContext) -> list[Finding]:
    """Rule 9: per recommending department, the share of proposals with a PI or key member born
    on or after the cutoff must reach the configured share; else every proposal is warned."""
    cfg = ctx.config
    keys: dict[str, set[str]] = defaultdict(set)
    tm = ctx.tables["team_members"]
    for pid, person, role in _tuples(tm, ["proposal_id", "person_id", "role"]):
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
    for p in _rows(ctx):
        dept = _str(p["department"])
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
        if y >= cfg.young_share * n - _EPS:
            continue
        reason = (
            f"{dept} recommends {n} proposals, {y} ({100 * y / n:.1f} %) with a PI or key member "
            f"born on or after {cfg.young_birth_cutoff.isoformat()}; at least "
            f"{100 * cfg.young_share:g} % required"
        )
        out.extend((pid, "young_share", "warn", reason) for pid, _ in items)
    return out


@dataclass(frozen=True, eq=False)
class NearDuplicates:
    """Pairs of proposals (a < b) led by the same or related units whose title+abstract
    similarity reaches the threshold: columns a, b, similarity, lead_a, lead_b, relation (of
    b's lead to a's: "same" or a relation kind), via. ``pairs_checked``: how many pairs had
    their similarity computed."""

    pairs: pd.DataFrame
    pairs_checked: int


def near_duplicates(ctx: ScreeningContext) -> NearDuplicates:
    """Rule 10's pairs, found without listing every pair of a unit's proposals.

    The proposals whose lead unit has another proposal, or a related unit that leads one, are
    searched by :meth:`TextIndex.neighbours` (exact: only pairs sharing a rare n-gram whose
    similarity bound reaches the threshold are computed), over TF-IDF fitted on the whole
    batch; the pairs found are kept when their lead units are the same or related. Cost grows
    with the pairs that share rare text, not with the square of a unit's proposals.
    """
    props = ctx.proposals
    lead_of: dict[str, str] = {}
    by_lead: dict[str, list[str]] = defaultdict(list)
    for pid, lead in _tuples(props, ["proposal_id", "lead_unit_id"]):
        if lead:
            lead_of[pid] = lead
            by_lead[lead].append(pid)
    relation: dict[tuple[str, str], tuple[str, str | None]] = {}
    for lead in by_lead:
        for other, rel, via in ctx.related().get(lead, []):
            if other in by_lead:
                relation.setdefault((lead, other), (rel, via))
    linked = {u for pair in relation for u in pair}
    sources = [p for lead, pids in by_lead.items() if len(pids) > 1 or lead in linked for p in pids]
    columns = ["a", "b", "similarity", "lead_a", "lead_b", "relation", "via"]
    if not sources:
        return NearDuplicates(pd.DataFrame(columns=columns), 0)
    stats: dict[str, int] = {}
    found = TextIndex.from_proposals(props).neighbours(
        sources, threshold=ctx.config.similarity_threshold, stats=stats
    )
    rows = []
    for a, b, sim in _tuples(found, ["source", "target", "similarity"]):
        if not a < b or b not in lead_of:
            continue
        la, lb = lead_of[a], lead_of[b]
        if la == lb:
            rel, via = "same", None
        elif (la, lb) in relation:
            rel, via = relation[(la, lb)]
        else:
            continue
        rows.append((a, b, sim, la, lb, rel, via))
    pairs = pd.DataFrame(sorted(rows, key=lambda r: (r[0], r[1])), columns=columns)
    return NearDuplicates(pairs, stats.get("candidates", 0))


@rule("near_duplicate", "reject", "no near-duplicate applications by the same or related units")
def check_near_duplicate(ctx: ScreeningContext) -> list[Finding]:
    """Rule 10: two proposals whose lead units are the same or related and whose title+abstract
    TF-IDF (char 2-3-gram) cosine is at or above the threshold: both are flagged."""
    thr = ctx.config.similarity_threshold
    out: list[Finding] = []
    for a, b, sim, la, lb, rel, via in _tuples(
        near_duplicates(ctx).pairs, ["a", "b", "similarity", "lead_a", "lead_b", "relation", "via"]
    ):
        rel = None if rel == "same" else rel
        back = _INVERSE.get(rel) if rel else None
        for me, other, mine, theirs, r in ((a, b, la, lb, rel), (b, a, lb, la, back)):
            if mine == theirs:
                who = f"also led by {ctx.un(mine)}"
            elif r is not None:
                who = "led by " + describe_related(
                    ctx.un(theirs), r, ctx.un(mine), None if via is None else ctx.un(via)
                )
            else:
                who = f"led by {ctx.un(theirs)}, a unit related to {ctx.un(mine)}"
            out.append(
                (
                    me,
                    "near_duplicate",
                    "reject",
                    f"title and abstract are {sim:.2f} similar to proposal {other} (TF-IDF char "
                    f"n-gram cosine, threshold {thr:.2f}), {who}",
                )
            )
    return out


@rule("deadline", "reject", "submitted by the online deadline")
def check_deadline(ctx: ScreeningContext) -> list[Finding]:
    """Rule 11: submitted after the deadline (a missing submission time is a warning)."""
    out: list[Finding] = []
    for p in _rows(ctx):
        pid = p["proposal_id"]
        dl = ctx.deadline[pid]
        ts = to_timestamp(p["submitted_at"])
        if ts is None:
            out.append((pid, "deadline", "warn", "no submission time is recorded"))
            continue
        if ts > dl:
            out.append(
                (
                    pid,
                    "deadline",
                    "reject",
                    f"submitted at {ts:%Y-%m-%d %H:%M}, after the deadline {dl:%Y-%m-%d %H:%M}",
                )
            )
    return out


@rule("funding_share", "reject", "request ≤ 50 % of the total budget (≤ 30 % if enterprise-led)")
def check_funding_share(ctx: ScreeningContext) -> list[Finding]:
    """Provincial request ≤ max_share of the total budget (max_share_enterprise when the lead
    unit is an enterprise). Missing figures are a warning."""
    cfg = ctx.config
    out: list[Finding] = []
    for p in _rows(ctx):
        pid = p["proposal_id"]
        req, tot = _num(p["requested_wan"]), _num(p["total_budget_wan"])
        if req is None or tot is None:
            out.append((pid, "funding_share", "warn", "requested or total budget is missing"))
            continue
        ent = _str(ctx.unit.get(p["lead_unit_id"], {}).get("type")) == "enterprise"
        share = cfg.max_share_enterprise if ent else cfg.max_share
        if req > share * tot + _EPS:
            who = "an enterprise leads" if ent else "the lead is not an enterprise"
            pct = 100 * req / tot if tot > 0 else float("inf")
            out.append(
                (
                    pid,
                    "funding_share",
                    "reject",
                    f"requests {wan(req)} of a {wan(tot)} total budget ({pct:.1f} %); at most "
                    f"{100 * share:g} % ({wan(share * tot)}) since {who}",
                )
            )
    return out


@rule("funding_max", "reject", "request ≤ 2000万")
def check_funding_max(ctx: ScreeningContext) -> list[Finding]:
    """Provincial request ≤ the general cap (2000万)."""
    cap = ctx.config.max_request_wan
    out: list[Finding] = []
    for p in _rows(ctx):
        req = _num(p["requested_wan"])
        if req is not None and req > cap + _EPS:
            out.append(
                (
                    p["proposal_id"],
                    "funding_max",
                    "reject",
                    f"requests {wan(req)}; at most {wan(cap)}",
                )
            )
    return out


@rule("direction_cap", "reject", "request ≤ the direction's cap")
def check_direction_cap(ctx: ScreeningContext) -> list[Finding]:
    """Provincial request ≤ the guide direction's cap; an unknown direction is rejected and a
    direction without a known cap is a warning."""
    out: list[Finding] = []
    for p in _rows(ctx):
        pid, code = p["proposal_id"], p["direction_code"]
        g = ctx.guide.get(code)
        if g is None:
            out.append(
                (pid, "direction_cap", "reject", f"direction {code} is not in the guide catalogue")
            )
            continue
        cap, req = _num(g.get("cap_wan")), _num(p["requested_wan"])
        if cap is None:
            out.append(
                (
                    pid,
                    "direction_cap",
                    "warn",
                    f"direction {code} has no known funding cap; check by hand",
                )
            )
        elif req is not None and req > cap + _EPS:
            out.append(
                (
                    pid,
                    "direction_cap",
                    "reject",
                    f"requests {wan(req)}; direction {code} caps provincial funding at {wan(cap)}",
                )
            )
    return out


@rule("duration", "reject", "duration ≤ the direction's max years (3–5 years in general)")
def check_duration(ctx: ScreeningContext) -> list[Finding]:
    """Duration above the direction's max_years is rejected; outside min–max years, a warning."""
    cfg = ctx.config
    out: list[Finding] = []
    for p in _rows(ctx):
        pid, code = p["proposal_id"], p["direction_code"]
        d = _num(p["duration_years"])
        if d is None:
            out.append((pid, "duration", "warn", "no duration is given"))
            continue
        mx = _num(ctx.guide.get(code, {}).get("max_years"))
        if mx is not None and d > mx:
            out.append(
                (
                    pid,
                    "duration",
                    "reject",
                    f"runs {d:g} years; direction {code} allows at most {mx:g}",
                )
            )
        elif not cfg.min_years <= d <= cfg.max_years:
            out.append(
                (
                    pid,
                    "duration",
                    "warn",
                    f"runs {d:g} years; projects normally run "
                    f"{cfg.min_years}–{cfg.max_years} years",
                )
            )
    return out


@rule("credit", "reject", "no active credit penalty (失信) on a lead/joint unit or the PI")
def check_credit(ctx: ScreeningContext) -> list[Finding]:
    """A lead or joint unit, or the PI, under a credit penalty active at the batch date."""
    cp = ctx.tables["credit_penalties"]
    pens: dict[tuple[str, str], list[tuple[date | None, date | None, str | None]]] = defaultdict(
        list
    )
    starts, ends = to_dates(cp["start_date"]), to_dates(cp["end_date"])
    for st, sid, s, e, why in zip(
        *_columns(cp, ["subject_type", "subject_id"]),
        starts,
        ends,
        cp["reason"].tolist(),
        strict=True,
    ):
        if st and sid:
            pens[(st, sid)].append((s, e, _str(why)))
    out: list[Finding] = []
    for p in _rows(ctx):
        pid = p["proposal_id"]
        day = ctx.batch_date[pid]
        subjects = [("unit", u) for u in _applicant_units(ctx, p)]
        if p["pi_id"]:
            subjects.append(("person", p["pi_id"]))
        for st, sid in subjects:
            for s, e, why in pens.get((st, sid), []):
                if (s is None or s <= day) and (e is None or e >= day):
                    if st == "person":
                        who = f"PI {ctx.pn(sid)}"
                    elif sid == p["lead_unit_id"]:
                        who = f"lead unit {ctx.un(sid)}"
                    else:
                        who = f"joint unit {ctx.un(sid)}"
                    span = f"from {s.isoformat() if s else '?'} to {e.isoformat() if e else 'open'}"
                    tail = f": {why}" if why else ""
                    out.append(
                        (
                            pid,
                            "credit",
                            "reject",
                            f"{who} has an active credit penalty (失信) {span}{tail}",
                        )
                    )
    return out


@rule("own_funds", "warn", "own funds + provincial request cover the total budget")
def check_own_funds(ctx: ScreeningContext) -> list[Finding]:
    """Own funds plus the provincial request should cover the total budget (warning if not)."""
    out: list[Finding] = []
    for p in _rows(ctx):
        own, req, tot = (_num(p[c]) for c in ("own_funds_wan", "requested_wan", "total_budget_wan"))
        if own is None or req is None or tot is None:
            continue
        if own + req < tot - 1e-6:
            out.append(
                (
                    p["proposal_id"],
                    "own_funds",
                    "warn",
                    f"own funds {wan(own)} + provincial {wan(req)} = {wan(own + req)} do not cover "
                    f"the total budget {wan(tot)}",
                )
            )
    return out


@rule("recusal_requests", "warn", "at most 3 recusal requests (experts or units) per proposal")
def check_recusal_requests(ctx: ScreeningContext) -> list[Finding]:
    """Practice, not the call: a proposal asking to avoid more experts or units than
    ``max_recusals`` (warning). The conflicts stage honours every request on file until an
    officer removes the extra ones."""
    cap = ctx.config.max_recusals
    asked: dict[str, list[str]] = defaultdict(list)
    rec = ctx.tables["recusals"]
    for pid, person, unit in _tuples(rec, ["proposal_id", "person_id", "unit_id"]):
        if pid and (person or unit):
            asked[pid].append(ctx.pn(person) if person else ctx.un(unit))
    out: list[Finding] = []
    for p in _rows(ctx):
        names = asked.get(p["proposal_id"], [])
        if len(names) > cap:
            out.append(
                (
                    p["proposal_id"],
                    "recusal_requests",
                    "warn",
                    f"the applicants ask to avoid {len(names)} experts or units "
                    f"({', '.join(names)}); at most {cap} are allowed",
                )
            )
    return out


# ---------------------------------------------------------------------------------------------
# running the checks


def build_context(
    tables: Mapping[str, pd.DataFrame], guide: pd.DataFrame, *, config: ScreeningConfig
) -> ScreeningContext:
    """Normalise the tables and index what the checks read."""
    t = Normalised(tables)  # each kind normalised when a check first reads it
    g = table({"guide": guide}, "guide")
    guide_by_code = {r["code"]: r for r in g.to_dict("records") if r["code"]}
    pn, un = name_maps(t)
    units = {r["unit_id"]: r for r in _records(t["units"]) if r["unit_id"]}
    props = t["proposals"]
    props = (
        props[props["proposal_id"].notna()].drop_duplicates("proposal_id").reset_index(drop=True)
    )
    batches = {r["batch_id"]: r for r in _records(t["batches"]) if r["batch_id"]}
    dates: dict[Any, tuple[datetime, date]] = {}  # batch id -> (deadline, date), parsed once
    deadline: dict[str, datetime] = {}
    bdate: dict[str, date] = {}
    for pid, bid in _tuples(props, ["proposal_id", "batch_id"]):
        if bid not in dates:
            b = batches.get(bid, {})
            dl = config.deadline
            if dl is None:
                dl = to_timestamp(b.get("deadline")) or DEFAULT_DEADLINE
            dates[bid] = (dl, config.batch_date or to_date(b.get("batch_date")) or dl.date())
        deadline[pid], bdate[pid] = dates[bid]
    joint: dict[str, list[tuple[int | None, str | None]]] = defaultdict(list)
    jd = t["joint_directions"]
    for pid, seq, uid in _tuples(jd, ["proposal_id", "seq", "unit_id"]):
        if pid:
            s = _num(seq)
            joint[pid].append((None if s is None else int(s), uid))
    for v in joint.values():
        v.sort(key=lambda x: (x[0] is None, x[0] or 0))
    return ScreeningContext(
        tables=t,
        guide=guide_by_code,
        config=config,
        proposals=props,
        person_name=pn,
        unit_name=un,
        unit=units,
        deadline=deadline,
        batch_date=bdate,
        joint=dict(joint),
    )


def screen(
    tables: Mapping[str, pd.DataFrame],
    guide: pd.DataFrame,
    *,
    config: ScreeningConfig | None = None,
    waivers: Iterable[tuple[str, str]] = (),
    rules: Iterable[str] | None = None,
) -> ScreeningResult:
    """Run the checks (all registered rules, or ``rules``) over the batch's proposals.

    waivers: (proposal_id, rule) pairs whose findings are kept but do not count for the status.
    """
    config = config or ScreeningConfig()
    chosen = list(RULES) if rules is None else list(rules)
    bad = [r for r in chosen if r not in RULES]
    if bad:
        raise ScreeningConfigError(
            f"unknown screening rule(s) {', '.join(bad)}; known rules: {', '.join(RULES)}"
        )
    ctx = build_context(tables, guide, config=config)
    found: list[Finding] = []
    for rid in chosen:
        found.extend(RULES[rid].check(ctx))
    waived = {(str(p), str(r)) for p, r in waivers}
    findings = pd.DataFrame(
        {
            "proposal_id": pd.Series([f[0] for f in found], dtype=object),
            "rule": pd.Series([f[1] for f in found], dtype=object),
            "severity": pd.Series([f[2] for f in found], dtype=object),
            "reason": pd.Series([f[3] for f in found], dtype=object),
            "waived": pd.Series([(f[0], f[1]) in waived for f in found], dtype=bool),
        }
    )
    order = {r: i for i, r in enumerate(RULES)}
    if len(findings):
        findings = findings.assign(_o=findings["rule"].map(order))
        findings = findings.sort_values(["proposal_id", "_o"], kind="stable").drop(columns="_o")
        findings = findings.reset_index(drop=True)
    rejects: dict[str, int] = defaultdict(int)
    warns: dict[str, int] = defaultdict(int)
    for pid, sev, w in _tuples(findings, ["proposal_id", "severity", "waived"]):
        if not w:
            (rejects if sev == "reject" else warns)[pid] += 1
    props = ctx.proposals
    status = pd.DataFrame(
        {
            "proposal_id": props["proposal_id"].astype(object),
            "direction_code": props["direction_code"].astype(object),
            "department": props["department"].astype(object),
        }
    )
    status["rejects"] = [rejects.get(p, 0) for p in status["proposal_id"]]
    status["warnings"] = [warns.get(p, 0) for p in status["proposal_id"]]
    status["status"] = [
        "rejected" if r else ("warnings" if w else "eligible")
        for r, w in zip(status["rejects"], status["warnings"], strict=True)
    ]
    status = status[
        ["proposal_id", "direction_code", "department", "status", "rejects", "warnings"]
    ]
    return ScreeningResult(findings=findings, status=status)


def summary_by_rule(result: ScreeningResult) -> pd.DataFrame:
    """Per rule: rule, severity (default), findings, proposals, waived; every registered rule."""
    f = result.findings
    rows = []
    for rid, r in RULES.items():
        sub = f[f["rule"] == rid]
        rows.append(
            {
                "rule": rid,
                "severity": r.severity,
                "findings": int(len(sub)),
                "proposals": int(sub["proposal_id"].nunique()),
                "waived": int(sub["waived"].sum()),
            }
        )
    return pd.DataFrame(rows)


def summary_by_direction(result: ScreeningResult) -> pd.DataFrame:
    """Per direction: direction_code, proposals, eligible, warnings, rejected (sorted by code)."""
    s = result.status
    rows = []
    for code, grp in s.groupby(s["direction_code"].fillna(""), sort=True):
        counts = grp["status"].value_counts()
        rows.append(
            {
                "direction_code": code or None,
                "proposals": int(len(grp)),
                "eligible": int(counts.get("eligible", 0)),
                "warnings": int(counts.get("warnings", 0)),
                "rejected": int(counts.get("rejected", 0)),
            }
        )
    cols = ["direction_code", "proposals", "eligible", "warnings", "rejected"]
    return pd.DataFrame(rows, columns=cols)


def findings_by_direction(result: ScreeningResult) -> pd.DataFrame:
    """Counts of non-waived findings per (direction_code, rule)."""
    f = result.findings[~result.findings["waived"]]
    d = dict(zip(result.status["proposal_id"], result.status["direction_code"], strict=True))
    f = f.assign(direction_code=[d.get(p) for p in f["proposal_id"]])
    out = f.groupby(["direction_code", "rule"], as_index=False).size()
    return out.rename(columns={"size": "findings"})
