"""Selection jobs: the funding list, chair overrides (each applied at once, its reply listing
every decision it moved), an optional audited grey-zone lottery, and finalisation (a finalised
batch refuses changes until it is explicitly unlocked with a reason).

A ``select`` run stores its options; the next run reuses them unless told otherwise, and every
run reports what changed against the decisions before it (funded in, funded out, grants).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.orm import Session

from assign.conflict_policy import load_policy
from assign.graph import related_unit_pairs
from models.checks import sheet_of
from models.db import audit, batch_lock, check_schema, digest, get_batch, now, session
from models.finalisation import ensure_open
from models.i18n import _
from models.jobs import DEFAULT_METHOD, calibrate_batch
from models.schema import (
    Batch,
    Decision,
    GuideDirection,
    Override,
    Person,
    Proposal,
    Ranking,
    SelectionRun,
    TeamMember,
    Unit,
    UnitRelation,
)
from models.screen_jobs import screening_statuses
from scoring.select import (
    Override as OverrideRule,
)
from scoring.select import (
    SelectionResult,
    SelectionRules,
    grey_zone,
    lottery,
    selection_probability,
)
from scoring.select import (
    select as select_projects,
)

YOUNG_BORN_FROM = dt.date(1984, 1, 1)


@dataclass(frozen=True)
class SelectOptions:
    """Budgets in 万元; policy: rank (default) or merit-sum; method: the calibration whose
    scores are the merit; draws and seed: P(selected) (and the lottery's draw)."""

    policy: str = "rank"
    budget_wan: float | None = None
    programme_budgets_wan: dict[str, float] = field(default_factory=dict)
    quality_floor: float = 60.0
    min_grant_share: float = 1.0
    youth_min_share: float | None = None
    related_exclusive: bool = True
    method: str = DEFAULT_METHOD
    draws: int = 200
    seed: int = 0
    lottery: bool = False

    def params(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> SelectOptions:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in params.items() if k in names})


@dataclass(frozen=True)
class Resolved:
    """The options a run uses: those given, the rest from the batch's last run (reused) or the
    defaults; differences: (field, last run's value, this run's) for the options that differ."""

    options: SelectOptions
    previous_run: int | None
    reused: tuple[str, ...]
    differences: tuple[tuple[str, Any, Any], ...]


@dataclass(frozen=True)
class SelectOutcome:
    result: SelectionResult
    p_selected: pd.Series
    lottery: pd.DataFrame | None
    options: SelectOptions
    budget_wan: float | None
    resolved: Resolved
    changed: dict[str, Any]
    run_id: int | None


def resolve_options(
    s: Session, batch: Batch, given: Mapping[str, Any], *, fresh: bool = False
) -> Resolved:
    """Options given explicitly win; the others come from the batch's last select run (unless
    ``fresh``), else from the defaults."""
    last = s.scalars(
        select(SelectionRun)
        .where(SelectionRun.batch_id == batch.batch_id)
        .order_by(SelectionRun.run_id.desc())
    ).first()
    base = SelectOptions() if fresh or last is None else SelectOptions.from_params(last.options)
    options = replace(base, **dict(given))
    reused = () if fresh or last is None else tuple(f for f in base.params() if f not in given)
    before = SelectOptions.from_params(last.options).params() if last is not None else None
    diff: tuple[tuple[str, Any, Any], ...] = ()
    if before is not None:
        now_ = options.params()
        diff = tuple((k, before[k], now_[k]) for k in now_ if before.get(k) != now_[k])
    return Resolved(options, None if last is None else last.run_id, reused, diff)


def _related_groups(s: Session, lead_units: pd.Series) -> pd.Series:
    """Proposal → id of its lead unit's group of related units ('' when unrelated)."""
    rels = pd.DataFrame(
        s.execute(
            select(
                UnitRelation.unit_id,
                UnitRelation.related_unit_id,
                UnitRelation.kind,
                UnitRelation.share,
            )
        ).all(),
        columns=["unit_id", "related_unit_id", "kind", "share"],
    )
    units = set(lead_units)
    pairs = related_unit_pairs(rels, relatedness=load_policy().relatedness, units=units)
    g = nx.Graph()
    g.add_edges_from(zip(pairs["unit_id"], pairs["other_unit_id"], strict=True))
    group: dict[str, str] = {}
    for comp in nx.connected_components(g):
        leads = sorted(u for u in comp if u in units)
        if len(leads) > 1:
            group.update({u: leads[0] for u in leads})
    return lead_units.map(lambda u: group.get(u, ""))


def selection_inputs(s: Session, batch: Batch, method: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The proposals frame (merit, money, eligibility, PI, youth, related group) and the
    directions frame that the selection core reads."""
    status = screening_statuses(s, batch)
    rows = s.execute(
        select(
            Proposal.proposal_id,
            Proposal.direction_code,
            GuideDirection.programme,
            Proposal.requested_wan,
            Proposal.total_budget_wan,
            Unit.type,
            Proposal.lead_unit_id,
            Proposal.pi_id,
        )
        .join(GuideDirection, GuideDirection.code == Proposal.direction_code)
        .join(Unit, Unit.unit_id == Proposal.lead_unit_id)
        .where(Proposal.batch_id == batch.batch_id)
        .order_by(Proposal.proposal_id)
    ).all()
    props = pd.DataFrame(
        rows,
        columns=[
            "proposal_id",
            "direction_code",
            "programme",
            "requested_wan",
            "total_budget_wan",
            "lead_type",
            "lead_unit_id",
            "pi_id",
        ],
    )
    merit = dict(
        s.execute(select(Ranking.proposal_id, Ranking.score).where(Ranking.method == method)).all()
    )
    if not merit:
        raise LookupError(
            _(
                "no rankings by method {method} yet; run `reviewopt rank --method {method}` first",
                method=method,
            )
        )
    props["merit"] = props["proposal_id"].map(merit).astype(float)
    props["eligible"] = props["proposal_id"].map(status).ne("rejected")
    props["reviewed"] = props["merit"].notna()
    props["merit"] = props["merit"].fillna(0.0)  # unreviewed ones are never funded
    withdrawn = set(
        s.scalars(
            select(Override.proposal_id).where(
                Override.proposal_id.in_(props["proposal_id"].tolist()),
                Override.action == "withdraw",
            )
        )
    )
    props["withdrawn"] = props["proposal_id"].isin(withdrawn)
    props["enterprise_led"] = props["lead_type"] == "enterprise"
    born = dict(
        s.execute(
            select(TeamMember.proposal_id, Person.birth_date)
            .join(Person, Person.person_id == TeamMember.person_id)
            .where(TeamMember.role.in_(("pi", "key")), Person.birth_date >= YOUNG_BORN_FROM)
        ).all()
    )
    props["young"] = props["proposal_id"].isin(born)
    props["related_group"] = _related_groups(s, props["lead_unit_id"])
    directions = pd.DataFrame(
        s.execute(
            select(GuideDirection.code, GuideDirection.programme, GuideDirection.cap_wan)
        ).all(),
        columns=["direction_code", "programme", "cap_wan"],
    )
    directions["cap_wan"] = directions["cap_wan"].astype(float)
    return props, directions


def _overrides(s: Session, ids: list[str]) -> tuple[OverrideRule, ...]:
    return tuple(
        OverrideRule(o.proposal_id, o.action, o.reason, o.actor)  # type: ignore[arg-type]
        for o in s.scalars(
            select(Override)
            .where(Override.proposal_id.in_(ids), Override.action != "withdraw")
            .order_by(Override.id)
        )
    )


def select_job(
    engine: Engine,
    batch_id: str | None,
    *,
    given: Mapping[str, Any] | None = None,
    fresh: bool = False,
    actor: str,
    progress: Callable[[str, float], None] | None = None,
) -> SelectOutcome:
    """Select the funded projects and grants; store decisions with P(selected), alternates,
    reason codes and explanations, the run's options, and what changed (audited).

    given: the options set explicitly (SelectOptions field -> value); the others are the last
    run's (unless ``fresh``) or the defaults.
    """
    check_schema(engine)
    with session(engine) as s:
        batch = get_batch(s, batch_id)
        if batch.finalized_at is not None:
            ensure_open(s, batch.batch_id)  # refuses at once, before any work
        resolved = resolve_options(s, batch, given or {}, fresh=fresh)
    options = resolved.options
    with batch_lock(engine, batch.batch_id):
        with session(engine) as s:
            props, directions = selection_inputs(s, batch, options.method)
            rules = selection_rules(s, batch, props, options)
            result = select_projects(props, directions, rules, progress=progress)
            drawn: pd.DataFrame | None = None
            if options.lottery and result.status in ("optimal", "feasible"):
                result, drawn = _lottery(s, props, directions, rules, result, options)
            p_sel = _p_selected(s, batch, props, directions, rules, result, options, progress)
        with session(engine) as s, s.begin():
            ensure_open(s, batch.batch_id)
            changed = _changes(s, props, result)
            run_id = None
            if result.status in ("optimal", "feasible"):
                rows = _decision_rows(s, props, result, p_sel)
                _store_decisions(s, props, rows)
                result_digest = digest(rows)
                run = SelectionRun(
                    batch_id=batch.batch_id,
                    options=options.params(),
                    status=str(result.status),
                    funded=len(result.selected_ids),
                    grants_total_wan=float(result.grants_total_wan),
                    result_digest=result_digest,
                    created_at=now(),
                    actor=actor,
                )
                s.add(run)
                s.flush()
                run_id = run.run_id
            else:
                result_digest = digest([m.as_dict() for m in result.diagnosis])
            audit(
                s,
                actor=actor,
                command="select",
                params={
                    "batch": batch.batch_id,
                    **options.params(),
                    "reused_from_run": resolved.previous_run if resolved.reused else None,
                    "changed": changed,
                },
                seed=options.seed,
                input_digest=digest(props.to_dict("split")),
                result_digest=result_digest,
                message=(
                    f"{result.status} ({options.policy}): {len(result.selected_ids)} funded, "
                    f"{result.grants_total_wan}万 granted; changed: "
                    f"{len(changed['funded_in'])} in, {len(changed['funded_out'])} out, "
                    f"{len(changed['grant_changed'])} grants"
                    + ("" if drawn is None else f"; lottery drew {int(drawn['wins'].sum())}")
                ),
            )
    budget = options.budget_wan
    if budget is None and set(props["programme"]) <= set(options.programme_budgets_wan):
        budget = float(sum(options.programme_budgets_wan.values()))  # every programme budgeted
    return SelectOutcome(result, p_sel, drawn, options, budget, resolved, changed, run_id)


def selection_rules(
    s: Session, batch: Batch, props: pd.DataFrame, options: SelectOptions
) -> SelectionRules:
    sheet = sheet_of(batch)
    return SelectionRules(
        policy=options.policy,  # type: ignore[arg-type]
        quality_floor=options.quality_floor,
        budget_wan=options.budget_wan,
        programme_budgets_wan=options.programme_budgets_wan or None,
        min_grant_share=options.min_grant_share,
        youth_min_share=options.youth_min_share,
        related_exclusive=options.related_exclusive,
        overrides=_overrides(s, props["proposal_id"].tolist()),
        merit_range=(0.0, float(sum(sheet.values()))),
    )


def _changes(s: Session, props: pd.DataFrame, result: SelectionResult) -> dict[str, Any]:
    """funded_in, funded_out (ids) and grant_changed ({proposal, from, to}) against the stored
    decisions (empty lists on the first run or when nothing was decided)."""
    ids = props["proposal_id"].tolist()
    before = {
        p: (bool(sel), float(g))
        for p, sel, g in s.execute(
            select(Decision.proposal_id, Decision.selected, Decision.grant_wan).where(
                Decision.proposal_id.in_(ids)
            )
        ).all()
    }
    out: dict[str, Any] = {"funded_in": [], "funded_out": [], "grant_changed": []}
    if not before or result.status not in ("optimal", "feasible"):
        return out
    for r in result.table.sort_values("proposal_id").itertuples():
        was, grant = before.get(r.proposal_id, (False, 0.0))
        if r.selected and not was:
            out["funded_in"].append(r.proposal_id)
        elif was and not r.selected:
            out["funded_out"].append(r.proposal_id)
        elif was and r.selected and float(r.grant_wan) != grant:
            out["grant_changed"].append(
                {"proposal": r.proposal_id, "from": grant, "to": float(r.grant_wan)}
            )
    return out


def _lottery(
    s: Session,
    props: pd.DataFrame,
    directions: pd.DataFrame,
    rules: SelectionRules,
    result: SelectionResult,
    options: SelectOptions,
) -> tuple[SelectionResult, pd.DataFrame]:
    """Draw the contested places of each direction's grey zone and re-select with the draw
    as overrides (recorded as the lottery's, with the seed)."""
    ranks = pd.DataFrame(
        s.execute(
            select(Ranking.proposal_id, Ranking.rank_lo, Ranking.rank_hi).where(
                Ranking.method == options.method
            )
        ).all(),
        columns=["proposal_id", "rank_lo", "rank_hi"],
    )
    frame = props[["proposal_id", "direction_code"]].merge(ranks, on="proposal_id")
    grey = grey_zone(frame, result.table[["proposal_id", "selected"]])
    drawn = lottery(grey, seed=options.seed)
    forced = tuple(
        OverrideRule(
            r.proposal_id,
            "force_in" if r.wins else "force_out",
            f"grey-zone lottery, seed {options.seed}, draw {r.draw_order}",
            "lottery",
        )
        for r in drawn.itertuples()
    )
    chair = {o.proposal_id for o in rules.overrides}
    forced = tuple(o for o in forced if o.proposal_id not in chair)
    again = select_projects(props, directions, replace(rules, overrides=rules.overrides + forced))
    return again, drawn


def _p_selected(
    s: Session,
    batch: Batch,
    props: pd.DataFrame,
    directions: pd.DataFrame,
    rules: SelectionRules,
    result: SelectionResult,
    options: SelectOptions,
    progress: Callable[[str, float], None] | None,
) -> pd.Series:
    """P(selected) from the calibration's merit draws pushed through the same selection."""
    if options.draws == 0 or result.status not in ("optimal", "feasible"):
        return pd.Series(np.nan, index=props["proposal_id"])
    cal = calibrate_batch(
        s, batch.batch_id, method=options.method, n_draws=options.draws, seed=options.seed
    )
    col = {p: i for i, p in enumerate(cal.proposals["proposal_id"])}
    draws = np.full((cal.draws.shape[0], len(props)), np.nan)
    for j, p in enumerate(props["proposal_id"]):
        if p in col:
            draws[:, j] = cal.draws[:, col[p]]
    draws = np.where(np.isnan(draws), -1e9, draws)  # unreviewed: never above the floor
    prob = selection_probability(
        props, directions, rules, draws, skip_infeasible=True, progress=progress
    )
    return pd.Series(prob, index=props["proposal_id"])


def _decision_rows(
    s: Session, props: pd.DataFrame, result: SelectionResult, p_sel: pd.Series
) -> list[dict[str, Any]]:
    """The decisions as stored (explanations as stored messages), in proposal order: what the
    run's result digest covers."""
    ids = props["proposal_id"].tolist()
    ranked = set(s.scalars(select(Ranking.proposal_id).where(Ranking.proposal_id.in_(ids))))
    rows = []
    for r in result.table.sort_values("proposal_id").itertuples():
        p = p_sel.get(r.proposal_id)
        rows.append(
            {
                "proposal_id": r.proposal_id,
                "selected": bool(r.selected),
                "grant_wan": float(r.grant_wan),
                "calibrated_score": float(r.merit) if r.proposal_id in ranked else None,
                "p_selected": None if p is None or pd.isna(p) else round(float(p), 6),
                "alternate_rank": None if pd.isna(r.alternate_rank) else int(r.alternate_rank),
                "reason_code": r.reason_code,
                "explanation": r.explanation.to_json(),
            }
        )
    return rows


def _store_decisions(s: Session, props: pd.DataFrame, rows: list[dict[str, Any]]) -> None:
    s.execute(delete(Decision).where(Decision.proposal_id.in_(props["proposal_id"].tolist())))
    s.execute(insert(Decision), rows)


# --- overrides and finalisation ---------------------------------------------------------------


@dataclass(frozen=True)
class OverrideOutcome:
    """The override recorded and, when the batch had a selection, the re-run it triggered."""

    proposal_id: str
    action: str
    applied: SelectOutcome | None


def override_job(
    engine: Engine,
    proposal_id: str,
    action: str,
    *,
    reason: str,
    actor: str,
    progress: Callable[[str, float], None] | None = None,
) -> OverrideOutcome:
    """Force a proposal in or out, record its withdrawal, or ``clear`` a previous override,
    with a reason (audited); then, when the batch has been selected before, select again with
    the last run's options so that the reply can list every decision the override moved."""
    check_schema(engine)
    if not reason.strip():
        raise ValueError("an override needs a reason (--reason TEXT)")
    with session(engine) as s, s.begin():
        prop = s.get(Proposal, proposal_id)
        if prop is None:
            raise LookupError(_("no proposal {id} in the database", id=repr(proposal_id)))
        batch_id = prop.batch_id
        ensure_open(s, batch_id)
        s.execute(delete(Override).where(Override.proposal_id == proposal_id))
        if action != "clear":
            s.add(
                Override(
                    proposal_id=proposal_id,
                    action=action,
                    reason=reason,
                    actor=actor,
                    created_at=now(),
                )
            )
        audit(
            s,
            actor=actor,
            command="override",
            params={"proposal": proposal_id, "action": action, "reason": reason},
            message=f"{action} {proposal_id}: {reason}",
        )
        selected_before = s.scalar(
            select(SelectionRun.run_id).where(SelectionRun.batch_id == batch_id).limit(1)
        )
    applied = None
    if selected_before is not None:
        applied = select_job(engine, batch_id, actor=actor, progress=progress)
    return OverrideOutcome(proposal_id, action, applied)


def finalize_job(engine: Engine, batch_id: str | None, *, actor: str) -> Batch:
    """Lock the batch's decisions."""
    check_schema(engine)
    with session(engine) as s, s.begin():
        batch = get_batch(s, batch_id)
        ensure_open(s, batch.batch_id)
        n = s.scalar(
            select(Decision.proposal_id)
            .join(Proposal, Proposal.proposal_id == Decision.proposal_id)
            .where(Proposal.batch_id == batch.batch_id)
            .limit(1)
        )
        if n is None:
            raise LookupError(
                _("batch {batch} has no decisions; run `reviewopt select`", batch=batch.batch_id)
            )
        batch.finalized_at, batch.finalized_by = now(), actor
        audit(s, actor=actor, command="finalize", params={"batch": batch.batch_id})
    return batch


def unlock_job(engine: Engine, batch_id: str | None, *, reason: str, actor: str) -> Batch:
    """Reopen a finalised batch, with a reason (audited)."""
    check_schema(engine)
    if not reason.strip():
        raise ValueError("unlocking a finalised batch needs a reason (--reason TEXT)")
    with session(engine) as s, s.begin():
        batch = get_batch(s, batch_id)
        if batch.finalized_at is None:
            raise LookupError(_("batch {batch} is not finalised", batch=batch.batch_id))
        was = f"{batch.finalized_by} at {batch.finalized_at:%Y-%m-%d %H:%M}"
        batch.finalized_at, batch.finalized_by = None, None
        audit(
            s,
            actor=actor,
            command="unlock",
            params={"batch": batch.batch_id, "reason": reason},
            message=f"unlocked (finalised by {was}): {reason}",
        )
    return batch
