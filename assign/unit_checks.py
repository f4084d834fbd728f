"""Screening checks on the applying units: registered in Jiangsu, an enterprise among the
joint units, no related units together, joint directions named."""

from __future__ import annotations

from collections import defaultdict

from assign.rule_registry import rule
from assign.screening_context import (
    UNIT_TYPE,
    Finding,
    ScreeningContext,
    applicant_units,
    cell_str,
    proposal_rows,
)
from models import places
from models.i18n import N_, Msg

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
    for p in proposal_rows(ctx):
        pid = p["proposal_id"]
        for u in applicant_units(ctx, p):
            role = Msg(_LEAD if u == p["lead_unit_id"] else _JOINT)
            info = ctx.unit.get(u)
            if info is None:
                msg = Msg("{role} {unit} is not in the units table", role=role, unit=u)
                out.append((pid, "units_in_jiangsu", "reject", msg))
                continue
            text = cell_str(info.get("province"))
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
    for p in proposal_rows(ctx):
        lead = p["lead_unit_id"]
        ltype = cell_str(ctx.unit.get(lead, {}).get("type"))
        if ltype not in ctx.config.partner_lead_types:
            continue
        partners = [
            u
            for u in applicant_units(ctx, p)
            if u != lead and cell_str(ctx.unit.get(u, {}).get("type")) == "enterprise"
        ]
        if not partners:
            kind: Msg | str = Msg(UNIT_TYPE[ltype]) if ltype in UNIT_TYPE else str(ltype)
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
    for p in proposal_rows(ctx):
        pid, lead = p["proposal_id"], p["lead_unit_id"]
        seqs: dict[str, list[int | None]] = defaultdict(list)
        for s, u in ctx.joint.get(pid, []):
            if u:
                seqs[u].append(s)
        units = applicant_units(ctx, p)

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
    for p in proposal_rows(ctx):
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
