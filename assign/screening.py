"""Eligibility screening (形式审查) of a batch's proposals against the call's rules.

One check function per rule id (the ids of the batch formats' ``planted`` table), registered in
:data:`RULES`. Each check returns findings ``(proposal_id, rule, severity, reason)`` whose reason
names the facts (amounts in 万元, caps, unit names, dates). :func:`screen` runs every check and
gives each proposal a status: ``rejected`` (a reject finding), ``warnings`` (only warnings) or
``eligible``; waived (proposal_id, rule) findings are reported but do not count.

Each rule carries the clause of the call it implements (quoted in Chinese, with its section
number) and why its severity follows from the call's wording: a prohibition (不得, 不予受理,
须, 不超过 without 原则上, ...) rejects; a limit worded 原则上 or arranged 通过评审后 (after
review), or a rule of practice, warns. ``docs/screening_rules.md`` is generated from :data:`RULES`
(``python -m scripts.screening_rules``). A finding whose facts are missing (no submission time,
no budget figure) is a warning to check by hand, whatever the rule's severity.

Findings are stored messages (:class:`models.i18n.Msg`), rendered in the reader's language.

Related units (rule ``related_joint_units`` and the unit condition of ``near_duplicate``) come from
:func:`assign.graph.related_unit_pairs` under the conflict policy's :class:`Relatedness`, the
same definition the conflict rules use.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pandas as pd

from assign.conflicts import TextIndex, load_policy
from assign.graph import (
    Normalised,
    Relatedness,
    name_maps,
    related_unit_pairs,
    table,
    to_date,
    to_dates,
)
from models import places
from models.i18n import N_, Msg

DEFAULT_DEADLINE = datetime(2024, 8, 5, 17, 30)
DIRECTED = "定向委托"
OPEN_CALL = "揭榜挂帅"
COMPETITIVE = "竞争择优"
_EPS = 1e-9
SEVERITIES = ("reject", "warn")
FINDING_COLUMNS = ["proposal_id", "rule", "severity", "reason", "waived"]

Finding = tuple[str, str, str, Msg]  # proposal_id, rule, severity, reason
_INVERSE = {
    "subsidiary": "parent",
    "parent": "subsidiary",
    "controlled": "controller",
    "controller": "controlled",
    "sibling": "sibling",
    "shareholder": "investee",
    "investee": "shareholder",
}
#: How ``other`` relates to ``unit`` (relation codes of :data:`assign.graph.RELATIONS`).
_RELATION = {
    "subsidiary": N_("{other} is a subsidiary of {unit}"),
    "controlled": N_("{other} is controlled by {unit}"),
    "investee": N_("{unit} holds {share:.0%} of {other}"),
    "parent": N_("{other} is the parent company of {unit}"),
    "controller": N_("{other} controls {unit}"),
    "shareholder": N_("{other} holds {share:.0%} of {unit}"),
    "sibling": N_("{other} and {unit} are both under {via}"),
}
_UNIT_TYPE = {
    "university": N_("a university"),
    "institute": N_("a research institute"),
    "new_rnd": N_("a new R&D institution"),
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
    related lead units are near-duplicates (default 0.7). relatedness: which units are related
    (default: the conflict policy file's, :func:`assign.conflicts.load_policy`). home_province:
    the province applicants must be registered in (any form :func:`models.places.province`
    reads). max_recusals: recusal requests (experts or units) a proposal may make (practice: 3).
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
    relatedness: Relatedness = field(default_factory=lambda: load_policy().relatedness)
    partner_lead_types: frozenset[str] = frozenset({"university", "institute", "new_rnd"})
    home_province: str = "江苏省"
    max_recusals: int = 3

    def __post_init__(self) -> None:
        object.__setattr__(self, "partner_lead_types", frozenset(self.partner_lead_types))
        if places.province(self.home_province) is None:
            raise ScreeningConfigError(
                f"home_province {self.home_province!r} is not a province of China"
            )
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
    """findings: proposal_id, rule, severity, reason (a :class:`models.i18n.Msg`), waived (one
    row per finding). status: proposal_id, direction_code, department, status (eligible |
    rejected | warnings), rejects, warnings (counts of findings that are not waived)."""

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

    def related(self) -> dict[str, list[tuple[str, str, str | None, float | None]]]:
        """unit_id -> [(other unit, relation of other to unit, via, share)] (same unit
        excluded)."""
        if "related" not in self._cache:
            rel = related_unit_pairs(
                self.tables["unit_relations"], relatedness=self.config.relatedness
            )
            out: dict[str, list[tuple[str, str, str | None, float | None]]] = defaultdict(list)
            cols = ["unit_id", "other_unit_id", "relation", "via", "share"]
            for u, o, r, v, sh in _tuples(rel, cols):
                out[u].append((o, r, v, sh))
            self._cache["related"] = dict(out)
        return self._cache["related"]

    def relation(self, other: str, rel: str, unit: str, via: str | None, share: Any) -> Msg:
        """How ``other`` relates to ``unit``, by name (see :data:`_RELATION`)."""
        return Msg(
            _RELATION[rel],
            other=self.un(other),
            unit=self.un(unit),
            via=None if via is None else self.un(via),
            share=share,
        )

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

#: Words of the call that make a clause a prohibition or an obligation (a reject may rest on
#: them) and words that soften it (a reject may not: 原则上 "in principle", 一般 "generally").
PROHIBITIONS = ("不得", "不予受理", "严禁", "必须", "须", "应", "只能", "取消", "不超过")
HEDGES = ("原则上", "一般")


@dataclass(frozen=True)
class Rule:
    """A screening rule: id (as in the planted table), severity, check, and what it rests on.

    severity: of a breach of the clause (reject | warn). summary: what the rule checks
    (English, in the message catalogue). section: where the call says it (e.g. 一、5; empty for
    a rule of practice). clause: the call's words, quoted in Chinese ("……" where words are left
    out; empty for a rule of practice). why: why that severity, from the clause's wording.
    """

    rule_id: str
    severity: str
    check: Callable[[ScreeningContext], list[Finding]]
    summary: str
    section: str
    clause: str
    why: str

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ScreeningConfigError(f"rule {self.rule_id}: unknown severity {self.severity}")


RULES: dict[str, Rule] = {}


def rule(
    rule_id: str, severity: str, summary: str, *, section: str, clause: str, why: str
) -> Callable[[Callable[[ScreeningContext], list[Finding]]], Callable[..., list[Finding]]]:
    """Register a check function under ``rule_id`` with the clause it implements."""

    def wrap(fn: Callable[[ScreeningContext], list[Finding]]) -> Callable[..., list[Finding]]:
        RULES[rule_id] = Rule(rule_id, severity, fn, summary, section, clause, why)
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

_LEAD = N_("lead unit")
_JOINT = N_("joint unit")


@rule(
    "units_in_jiangsu",
    "reject",
    N_("lead and joint units are registered in Jiangsu (江苏省)"),
    section="二、4",
    clause="申报单位应为江苏省境内注册的具有独立法人资格的高等院校、科研院所、新型研发机构、企业等。",
    why=N_("应为 (shall be): a unit registered outside Jiangsu is not an eligible applicant."),
)
def check_units_in_jiangsu(ctx: ScreeningContext) -> list[Finding]:
    """Rule 1: every lead and joint unit is in the units table, registered in the home
    province (江苏省, 江苏 and Jiangsu are one province: :func:`models.places.province`)."""
    out: list[Finding] = []
    home = places.province(ctx.config.home_province)
    assert home is not None  # checked by ScreeningConfig
    for p in _rows(ctx):
        pid = p["proposal_id"]
        for u in _applicant_units(ctx, p):
            role = Msg(_LEAD if u == p["lead_unit_id"] else _JOINT)
            info = ctx.unit.get(u)
            if info is None:
                msg = Msg("{role} {unit} is not in the units table", role=role, unit=u)
                out.append((pid, "units_in_jiangsu", "reject", msg))
                continue
            text = _str(info.get("province"))
            prov = places.province(text)
            if prov is not None and prov.code == home.code:
                continue
            if text is None:
                msg = Msg(
                    "{role} {unit} has no registered province; it must be registered in {home}",
                    role=role,
                    unit=ctx.un(u),
                    home=home.name,
                )
            else:
                msg = Msg(
                    "{role} {unit} is registered in {province}, not in {home}",
                    role=role,
                    unit=ctx.un(u),
                    province=text if prov is None else prov.name,
                    home=home.name,
                )
            out.append((pid, "units_in_jiangsu", "reject", msg))
    return out


@rule(
    "enterprise_partner",
    "reject",
    N_("a university/institute/new R&D lead has an enterprise partner"),
    section="二、4",
    clause="高等院校、科研院所或省产研院专业研究所牵头申报项目必须有企业联合，且企业实质性参与项目研发工作。",
    why=N_("必须 (must): without an enterprise partner the application does not meet the call."),
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
            kind: Msg | str = Msg(_UNIT_TYPE[ltype]) if ltype in _UNIT_TYPE else str(ltype)
            msg = Msg(
                "lead unit {unit} is {type} and no joint direction is carried by an enterprise",
                unit=ctx.un(lead),
                type=kind,
            )
            out.append((p["proposal_id"], "enterprise_partner", "reject", msg))
    return out


@rule(
    "related_joint_units",
    "reject",
    N_("no related units among the applicant units"),
    section="一、1",
    clause="申报单位关联企业不得同时申报联合攻关方向。",
    why=N_(
        "不得 (may not). Related units are those of the conflict policy file: parent, "
        "subsidiary, common control, and shareholding at or above its threshold."
    ),
)
def check_related_joint_units(ctx: ScreeningContext) -> list[Finding]:
    """Rule 3: related units (parent/subsidiary/common control/a shareholding at or above the
    policy's threshold) may not both apply."""
    out: list[Finding] = []
    related = ctx.related()
    for p in _rows(ctx):
        pid, lead = p["proposal_id"], p["lead_unit_id"]
        seqs: dict[str, list[int | None]] = defaultdict(list)
        for s, u in ctx.joint.get(pid, []):
            if u:
                seqs[u].append(s)
        units = _applicant_units(ctx, p)

        def role(u: str, lead: str = lead, seqs: dict[str, list[int | None]] = seqs) -> Msg:
            if u == lead:
                return Msg("the lead unit")
            return Msg("joint direction {seq}", seq=", ".join(str(s) for s in seqs[u]))

        seen: set[frozenset[str]] = set()
        for y in units:
            for x, rel, via, share in related.get(y, []):
                pair = frozenset((x, y))
                if x not in units or x == y or pair in seen:
                    continue
                seen.add(pair)
                msg = Msg(
                    "{first} ({first_role}) and {second} ({second_role}) are related units "
                    "applying together: {relation}",
                    first=ctx.un(x),
                    first_role=role(x),
                    second=ctx.un(y),
                    second_role=role(y),
                    relation=ctx.relation(x, rel, y, via, share),
                )
                out.append((pid, "related_joint_units", "reject", msg))
    return out


@rule(
    "joint_directions",
    "reject",
    N_("3-5 joint directions, distinct units, lead carries one"),
    section="一、1",
    clause=(
        "每个重大攻关项目采取联合攻关方式组织，下设3-5个联合攻关方向；每个联合攻关方向由不同单位承担"
        "实施，项目牵头申报单位必须承担1个联合攻关方向"
    ),
    why=N_("必须 (must): the call fixes how a major project is organised."),
)
def check_joint_directions(ctx: ScreeningContext) -> list[Finding]:
    """Rule 4: 3–5 joint directions, each by a different unit, one carried by the lead unit."""
    out: list[Finding] = []
    lo, hi = ctx.config.min_joint, ctx.config.max_joint
    for p in _rows(ctx):
        pid, lead = p["proposal_id"], p["lead_unit_id"]
        jd = ctx.joint.get(pid, [])
        if not lo <= len(jd) <= hi:
            msg = Msg("has {n} joint directions; {lo}–{hi} required", n=len(jd), lo=lo, hi=hi)
            out.append((pid, "joint_directions", "reject", msg))
        by_unit: dict[str, list[str]] = defaultdict(list)
        for s, u in jd:
            if u:
                by_unit[u].append(str(s))
        for u, ss in by_unit.items():
            if len(ss) > 1:
                msg = Msg(
                    "{unit} carries joint directions {seqs}; each must be carried by a "
                    "different unit",
                    unit=ctx.un(u),
                    seqs=", ".join(ss),
                )
                out.append((pid, "joint_directions", "reject", msg))
        if jd and lead not in by_unit:
            msg = Msg(
                "the lead unit {unit} carries none of the joint directions", unit=ctx.un(lead)
            )
            out.append((pid, "joint_directions", "reject", msg))
    return out


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
    for p in _rows(ctx):
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
    for p in _rows(ctx):
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
    for p in _rows(ctx):
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


@dataclass(frozen=True, eq=False)
class NearDuplicates:
    """Pairs of proposals (a < b) led by the same or related units whose title+abstract
    similarity reaches the threshold: columns a, b, similarity, lead_a, lead_b, relation (of
    b's lead to a's: "same" or a relation kind), via, share. ``pairs_checked``: how many pairs
    had their similarity computed."""

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
    relation: dict[tuple[str, str], tuple[str, str | None, Any]] = {}
    for lead in by_lead:
        for other, rel, via, share in ctx.related().get(lead, []):
            if other in by_lead:
                relation.setdefault((lead, other), (rel, via, share))
    linked = {u for pair in relation for u in pair}
    sources = [p for lead, pids in by_lead.items() if len(pids) > 1 or lead in linked for p in pids]
    columns = ["a", "b", "similarity", "lead_a", "lead_b", "relation", "via", "share"]
    if not sources:
        return NearDuplicates(pd.DataFrame(columns=columns), 0)
    stats = {"candidates": 0}
    found = TextIndex.from_proposals(props).neighbours(
        sources, threshold=ctx.config.similarity_threshold, stats=stats
    )
    rows = []
    for a, b, sim in _tuples(found, ["source", "target", "similarity"]):
        if not a < b or b not in lead_of:
            continue
        la, lb = lead_of[a], lead_of[b]
        if la == lb:
            rel, via, share = "same", None, None
        elif (la, lb) in relation:
            rel, via, share = relation[(la, lb)]
        else:
            continue
        rows.append((a, b, sim, la, lb, rel, via, share))
    rows.sort(key=lambda r: (r[0], r[1]))
    return NearDuplicates(pd.DataFrame(rows, columns=columns, dtype=object), stats["candidates"])


@rule(
    "near_duplicate",
    "reject",
    N_("no near-duplicate applications by the same or related units"),
    section="二、6",
    clause=(
        "同一单位以及关联单位不得将内容相同或相近的研发项目重复申报省科技计划项目……凡属重复或同时"
        "申报的，取消立项资格。"
    ),
    why=N_("不得 (may not); a repeated application loses its eligibility (取消立项资格)."),
)
def check_near_duplicate(ctx: ScreeningContext) -> list[Finding]:
    """Rule 10: two proposals whose lead units are the same or related and whose title+abstract
    TF-IDF (char 2-3-gram) cosine is at or above the threshold: both are flagged (pairs from
    :func:`near_duplicates`)."""
    thr = ctx.config.similarity_threshold
    out: list[Finding] = []
    cols = ["a", "b", "similarity", "lead_a", "lead_b", "relation", "via", "share"]
    for a, b, sim, la, lb, rel, via, share in _tuples(near_duplicates(ctx).pairs, cols):
        rel = None if rel == "same" else rel
        back = _INVERSE.get(rel) if rel else None
        for me, other, mine, theirs, r in ((a, b, la, lb, rel), (b, a, lb, la, back)):
            if mine == theirs:
                who = Msg("also led by {unit}", unit=ctx.un(mine))
            elif r is not None:
                who = Msg(
                    "led by {unit}; {relation}",
                    unit=ctx.un(theirs),
                    relation=ctx.relation(theirs, r, mine, via, share),
                )
            else:
                who = Msg(
                    "led by {unit}, a unit related to {mine}",
                    unit=ctx.un(theirs),
                    mine=ctx.un(mine),
                )
            msg = Msg(
                "title and abstract are {similarity:.2f} similar to proposal {other} (TF-IDF "
                "character n-gram cosine, threshold {threshold:.2f}), {who}",
                similarity=float(sim),
                other=other,
                threshold=thr,
                who=who,
            )
            out.append((me, "near_duplicate", "reject", msg))
    return out


@rule(
    "deadline",
    "reject",
    N_("submitted by the online deadline"),
    section="三、3",
    clause="本年度项目申报材料网上填报截止时间为2024年8月5日17:30……逾期不予受理。",
    why=N_(
        "逾期不予受理 (late applications are not accepted). The heading of section 三 is lost "
        "in the seed text; the numbering places this clause there."
    ),
)
def check_deadline(ctx: ScreeningContext) -> list[Finding]:
    """Rule 11: submitted after the deadline (a missing submission time is a warning)."""
    out: list[Finding] = []
    for p in _rows(ctx):
        pid = p["proposal_id"]
        dl = ctx.deadline[pid]
        ts = to_timestamp(p["submitted_at"])
        if ts is None:
            out.append((pid, "deadline", "warn", Msg("no submission time is recorded")))
            continue
        if ts > dl:
            msg = Msg(
                "submitted at {submitted}, after the deadline {deadline}",
                submitted=ts.strftime("%Y-%m-%d %H:%M"),
                deadline=dl.strftime("%Y-%m-%d %H:%M"),
            )
            out.append((pid, "deadline", "reject", msg))
    return out


@rule(
    "guide_direction",
    "reject",
    N_("the proposal names a direction of the guide"),
    section="二、1",
    clause="项目应具有明确的研发任务和创新目标，符合国家和我省的产业、技术政策，属于指南支持重点领域和方向。",
    why=N_("应 (shall): a proposal outside the guide's directions is not in the call."),
)
def check_guide_direction(ctx: ScreeningContext) -> list[Finding]:
    """The proposal's direction code is in the guide catalogue."""
    return [
        (
            p["proposal_id"],
            "guide_direction",
            "reject",
            Msg(
                "direction {direction} is not in the guide catalogue", direction=p["direction_code"]
            ),
        )
        for p in _rows(ctx)
        if p["direction_code"] not in ctx.guide
    ]


_AFTER_REVIEW = N_(
    "原则上 (in principle) and 通过评审后 (once the project passes review): a limit on the "
    "funding arranged after review, not a condition of eligibility. Screening warns; "
    "selection caps the grant at it."
)


@rule(
    "funding_share",
    "warn",
    N_("request ≤ 50 % of the total budget (≤ 30 % if enterprise-led), else the grant is capped"),
    section="一、5",
    clause=(
        "申报项目通过评审后，……原则上通过无偿资助和贷款贴息方式安排的省财政资助经费不超过项目总预算的"
        "50%，其中：企业牵头申报的项目省财政资助经费不超过项目总预算的30%"
    ),
    why=_AFTER_REVIEW,
)
def check_funding_share(ctx: ScreeningContext) -> list[Finding]:
    """Provincial request above max_share of the total budget (max_share_enterprise when the
    lead unit is an enterprise): the grant will be capped at that share. Missing figures are a
    warning too."""
    cfg = ctx.config
    out: list[Finding] = []
    for p in _rows(ctx):
        pid = p["proposal_id"]
        req, tot = _num(p["requested_wan"]), _num(p["total_budget_wan"])
        if req is None or tot is None:
            out.append((pid, "funding_share", "warn", Msg("requested or total budget is missing")))
            continue
        ent = _str(ctx.unit.get(p["lead_unit_id"], {}).get("type")) == "enterprise"
        share = cfg.max_share_enterprise if ent else cfg.max_share
        if req > share * tot + _EPS:
            who = Msg("an enterprise leads") if ent else Msg("the lead is not an enterprise")
            msg = Msg(
                "requests {request} of a {total} total budget ({percent:.1f} %); since {who}, "
                "provincial funding after review is at most {share:g} % of the budget ({cap}): "
                "if selected, the grant will be capped at {cap}",
                request=wan(req),
                total=wan(tot),
                percent=100 * req / tot if tot > 0 else float("inf"),
                who=who,
                share=100 * share,
                cap=wan(share * tot),
            )
            out.append((pid, "funding_share", "warn", msg))
    return out


@rule(
    "funding_max",
    "warn",
    N_("request ≤ 2000万, else the grant is capped"),
    section="一、5",
    clause="申报项目通过评审后，……原则上……每个项目省财政资助经费不超过2000万元",
    why=_AFTER_REVIEW,
)
def check_funding_max(ctx: ScreeningContext) -> list[Finding]:
    """Provincial request above the general cap (2000万): the grant will be capped at it."""
    cap = ctx.config.max_request_wan
    out: list[Finding] = []
    for p in _rows(ctx):
        req = _num(p["requested_wan"])
        if req is not None and req > cap + _EPS:
            msg = Msg(
                "requests {request}; provincial funding after review is at most {cap} per "
                "project: if selected, the grant will be capped at {cap}",
                request=wan(req),
                cap=wan(cap),
            )
            out.append((p["proposal_id"], "funding_max", "warn", msg))
    return out


@rule(
    "direction_cap",
    "warn",
    N_("request ≤ the direction's cap, else the grant is capped"),
    section="附件1 各指南方向有关说明（如1001）",
    clause="省财政资助经费原则上不超过2000万元",
    why=N_(
        "原则上 (in principle): each direction's cap bounds the grant, which selection caps; it "
        "is not a condition of eligibility."
    ),
)
def check_direction_cap(ctx: ScreeningContext) -> list[Finding]:
    """Provincial request above the guide direction's cap: the grant will be capped at it. A
    direction without a known cap is a warning to check by hand."""
    out: list[Finding] = []
    for p in _rows(ctx):
        pid, code = p["proposal_id"], p["direction_code"]
        g = ctx.guide.get(code)
        if g is None:
            continue  # guide_direction rejects it
        cap, req = _num(g.get("cap_wan")), _num(p["requested_wan"])
        if cap is None:
            msg = Msg(
                "direction {direction} has no known funding cap; check by hand", direction=code
            )
            out.append((pid, "direction_cap", "warn", msg))
        elif req is not None and req > cap + _EPS:
            msg = Msg(
                "requests {request}; direction {direction} funds at most {cap} per project in "
                "principle: if selected, the grant will be capped at {cap}",
                request=wan(req),
                direction=code,
                cap=wan(cap),
            )
            out.append((pid, "direction_cap", "warn", msg))
    return out


@rule(
    "duration",
    "reject",
    N_("duration ≤ the direction's maximum years"),
    section="附件1 各指南方向有关说明（如1001）",
    clause="项目执行期不超过3年",
    why=N_("不超过 (at most) with no 原则上: a hard limit of the direction."),
)
def check_duration(ctx: ScreeningContext) -> list[Finding]:
    """Duration above the direction's max_years is rejected; a missing duration is a warning."""
    out: list[Finding] = []
    for p in _rows(ctx):
        pid, code = p["proposal_id"], p["direction_code"]
        d = _num(p["duration_years"])
        if d is None:
            out.append((pid, "duration", "warn", Msg("no duration is given")))
            continue
        mx = _num(ctx.guide.get(code, {}).get("max_years"))
        if mx is not None and d > mx:
            msg = Msg(
                "runs {years:g} years; direction {direction} allows at most {max:g}",
                years=d,
                direction=code,
                max=mx,
            )
            out.append((pid, "duration", "reject", msg))
    return out


@rule(
    "duration_range",
    "warn",
    N_("duration within the usual 3–5 years"),
    section="一、1",
    clause="项目实施周期一般为3-5年。",
    why=N_("一般 (generally): a usual range, not a limit."),
)
def check_duration_range(ctx: ScreeningContext) -> list[Finding]:
    """Duration outside min_years–max_years (warning), where the direction's own maximum is
    not already broken."""
    cfg = ctx.config
    out: list[Finding] = []
    for p in _rows(ctx):
        pid, code = p["proposal_id"], p["direction_code"]
        d = _num(p["duration_years"])
        mx = _num(ctx.guide.get(code, {}).get("max_years"))
        if d is None or (mx is not None and d > mx) or cfg.min_years <= d <= cfg.max_years:
            continue
        msg = Msg(
            "runs {years:g} years; projects generally run {lo}–{hi} years",
            years=d,
            lo=cfg.min_years,
            hi=cfg.max_years,
        )
        out.append((pid, "duration_range", "warn", msg))
    return out


@rule(
    "credit",
    "reject",
    N_("no active credit penalty (失信) on a lead/joint unit or the PI"),
    section="二、10",
    clause="严禁剽窃他人科研成果、侵犯他人知识产权、伪造材料骗取申报资格等失信行为。因科研失信记……",
    why=N_(
        "严禁 (strictly forbidden). The sentence on 失信 records is cut in the seed text after "
        "因科研失信记; in practice a unit or person under an active penalty may not apply."
    ),
)
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
                        who = Msg("PI {name}", name=ctx.pn(sid))
                    elif sid == p["lead_unit_id"]:
                        who = Msg("lead unit {name}", name=ctx.un(sid))
                    else:
                        who = Msg("joint unit {name}", name=ctx.un(sid))
                    start = s.isoformat() if s else "?"
                    span = (
                        Msg("from {start} to {end}", start=start, end=e.isoformat())
                        if e
                        else Msg("since {start}", start=start)
                    )
                    if why:
                        msg = Msg(
                            "{who} has an active credit penalty (失信) {span}: {reason}",
                            who=who,
                            span=span,
                            reason=why,
                        )
                    else:
                        msg = Msg(
                            "{who} has an active credit penalty (失信) {span}", who=who, span=span
                        )
                    out.append((pid, "credit", "reject", msg))
    return out


@rule(
    "own_funds",
    "warn",
    N_("own funds + provincial request cover the total budget"),
    section="",
    clause="",
    why=N_(
        "Practice, not a clause of the call: a budget that does not add up is likely a form "
        "error for the officer to check."
    ),
)
def check_own_funds(ctx: ScreeningContext) -> list[Finding]:
    """Own funds plus the provincial request should cover the total budget (warning if not)."""
    out: list[Finding] = []
    for p in _rows(ctx):
        own, req, tot = (_num(p[c]) for c in ("own_funds_wan", "requested_wan", "total_budget_wan"))
        if own is None or req is None or tot is None:
            continue
        if own + req < tot - 1e-6:
            msg = Msg(
                "own funds {own} + provincial {request} = {sum} do not cover the total budget "
                "{total}",
                own=wan(own),
                request=wan(req),
                sum=wan(own + req),
                total=wan(tot),
            )
            out.append((p["proposal_id"], "own_funds", "warn", msg))
    return out


@rule(
    "recusal_requests",
    "warn",
    N_("at most 3 recusal requests (experts or units) per proposal"),
    section="",
    clause="",
    why=N_(
        "Practice, not a clause of the call (common review practice allows about 3 requests); "
        "the conflicts stage honours every request until the officer removes the extra ones."
    ),
)
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
            msg = Msg(
                "the applicants ask to avoid {n} experts or units ({names}); at most {cap} are "
                "allowed",
                n=len(names),
                names=", ".join(names),
                cap=cap,
            )
            out.append((p["proposal_id"], "recusal_requests", "warn", msg))
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
