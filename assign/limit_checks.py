"""Screening checks on the call's limits: deadline, guide direction, funding share and caps,
duration, credit, own funds, and requested recusals."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from assign.graph import (
    to_dates,
)
from assign.rule_registry import rule
from assign.screening_context import (
    EPS,
    Finding,
    ScreeningContext,
    applicant_units,
    cell_num,
    cell_str,
    proposal_rows,
    row_columns,
    row_tuples,
    to_timestamp,
    wan,
)
from models.i18n import N_, Msg


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
    for p in proposal_rows(ctx):
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
        for p in proposal_rows(ctx)
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
    for p in proposal_rows(ctx):
        pid = p["proposal_id"]
        req, tot = cell_num(p["requested_wan"]), cell_num(p["total_budget_wan"])
        if req is None or tot is None:
            out.append((pid, "funding_share", "warn", Msg("requested or total budget is missing")))
            continue
        ent = cell_str(ctx.unit.get(p["lead_unit_id"], {}).get("type")) == "enterprise"
        share = cfg.max_share_enterprise if ent else cfg.max_share
        if req > share * tot + EPS:
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
    for p in proposal_rows(ctx):
        req = cell_num(p["requested_wan"])
        if req is not None and req > cap + EPS:
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
    for p in proposal_rows(ctx):
        pid, code = p["proposal_id"], p["direction_code"]
        g = ctx.guide.get(code)
        if g is None:
            continue  # guide_direction rejects it
        cap, req = cell_num(g.get("cap_wan")), cell_num(p["requested_wan"])
        if cap is None:
            msg = Msg(
                "direction {direction} has no known funding cap; check by hand", direction=code
            )
            out.append((pid, "direction_cap", "warn", msg))
        elif req is not None and req > cap + EPS:
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
    for p in proposal_rows(ctx):
        pid, code = p["proposal_id"], p["direction_code"]
        d = cell_num(p["duration_years"])
        if d is None:
            out.append((pid, "duration", "warn", Msg("no duration is given")))
            continue
        mx = cell_num(ctx.guide.get(code, {}).get("max_years"))
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
    for p in proposal_rows(ctx):
        pid, code = p["proposal_id"], p["direction_code"]
        d = cell_num(p["duration_years"])
        mx = cell_num(ctx.guide.get(code, {}).get("max_years"))
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
        *row_columns(cp, ["subject_type", "subject_id"]),
        starts,
        ends,
        cp["reason"].tolist(),
        strict=True,
    ):
        if st and sid:
            pens[(st, sid)].append((s, e, cell_str(why)))
    out: list[Finding] = []
    for p in proposal_rows(ctx):
        pid = p["proposal_id"]
        day = ctx.batch_date[pid]
        subjects = [("unit", u) for u in applicant_units(ctx, p)]
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
    for p in proposal_rows(ctx):
        own, req, tot = (
            cell_num(p[c]) for c in ("own_funds_wan", "requested_wan", "total_budget_wan")
        )
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
    for pid, person, unit in row_tuples(rec, ["proposal_id", "person_id", "unit_id"]):
        if pid and (person or unit):
            asked[pid].append(ctx.pn(person) if person else ctx.un(unit))
    out: list[Finding] = []
    for p in proposal_rows(ctx):
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
