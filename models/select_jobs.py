"""Selection jobs: the funding list by integer programming, chair overrides, an optional
audited grey-zone lottery, and finalisation (a finalised batch refuses changes until it is
explicitly unlocked with a reason).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.orm import Session

from assign.conflicts import load_policy
from assign.graph import related_unit_pairs
from models.db import audit, batch_lock, check_schema, digest, get_batch, now, session
from models.jobs import DEFAULT_METHOD, calibrate_batch
from models.schema import (
    Batch,
    Decision,
    GuideDirection,
    Override,
    Person,
    Proposal,
    Ranking,
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


class BatchFinalized(RuntimeError):
    """The batch's decisions are final; unlock it (with a reason) to change them."""


@dataclass(frozen=True)
class SelectOptions:
    """Budgets in 万元; method: the calibration whose scores are the merit."""

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


@dataclass(frozen=True)
class SelectOutcome:
    result: SelectionResult
    p_selected: pd.Series
    lottery: pd.DataFrame | None
    options: SelectOptions
    budget_wan: float | None


def _ensure_open(batch: Batch) -> None:
    if batch.finalized_at is not None:
        raise BatchFinalized(
            f"batch {batch.batch_id} was finalised by {batch.finalized_by} at "
            f"{batch.finalized_at:%Y-%m-%d %H:%M}; `reviewopt unlock --reason TEXT` to change it"
        )


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
            f"no rankings by method {method} yet; run `reviewopt rank --method {method}` first"
        )
    props["merit"] = props["proposal_id"].map(merit).astype(float)
    props["eligible"] = props["proposal_id"].map(status).ne("rejected") & props["merit"].notna()
    props["merit"] = props["merit"].fillna(0.0)  # unranked ones are ineligible anyway
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
            select(Override).where(Override.proposal_id.in_(ids)).order_by(Override.id)
        )
    )


def select_job(
    engine: Engine, batch_id: str | None, *, options: SelectOptions, actor: str
) -> SelectOutcome:
    """Select the funded projects and grants; store decisions with P(selected) and alternates."""
    check_schema(engine)
    with session(engine) as s:
        batch = get_batch(s, batch_id)
        _ensure_open(batch)
    with batch_lock(engine, batch.batch_id), session(engine) as s, s.begin():
        props, directions = selection_inputs(s, batch, options.method)
        ids = props["proposal_id"].tolist()
        rules = SelectionRules(
            quality_floor=options.quality_floor,
            budget_wan=options.budget_wan,
            programme_budgets_wan=options.programme_budgets_wan or None,
            min_grant_share=options.min_grant_share,
            youth_min_share=options.youth_min_share,
            related_exclusive=options.related_exclusive,
            overrides=_overrides(s, ids),
        )
        result = select_projects(props, directions, rules)
        drawn: pd.DataFrame | None = None
        if options.lottery and result.status in ("optimal", "feasible"):
            result, drawn = _lottery(s, batch, props, directions, rules, result, options)
        p_sel = _p_selected(s, batch, props, directions, rules, result, options)
        if result.status in ("optimal", "feasible"):
            _store_decisions(s, props, result, p_sel)
        audit(
            s,
            actor=actor,
            command="select",
            params={"batch": batch.batch_id, **_params(options)},
            seed=options.seed,
            input_digest=digest(props.to_dict("split")),
            result_digest=digest(
                result.table[["proposal_id", "selected", "grant_wan"]].to_dict("split")
            ),
            message=(
                f"{result.status}: {len(result.selected_ids)} funded, "
                f"{result.grants_total_wan}万 granted"
                + (f"; lottery drew {int(drawn['wins'].sum())} places" if drawn is not None else "")
            ),
        )
    budget = options.budget_wan
    if budget is None and set(props["programme"]) <= set(options.programme_budgets_wan):
        budget = float(sum(options.programme_budgets_wan.values()))  # every programme budgeted
    return SelectOutcome(result, p_sel, drawn, options, budget)


def _params(options: SelectOptions) -> dict[str, Any]:
    return {k: v for k, v in vars(options).items()}


def _lottery(
    s: Session,
    batch: Batch,
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
    grey = grey_zone(frame, result)
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
    prob = selection_probability(props, directions, rules, draws, skip_infeasible=True)
    return pd.Series(prob, index=props["proposal_id"])


def _store_decisions(
    s: Session, props: pd.DataFrame, result: SelectionResult, p_sel: pd.Series
) -> None:
    ids = props["proposal_id"].tolist()
    s.execute(delete(Decision).where(Decision.proposal_id.in_(ids)))
    ranked = set(s.scalars(select(Ranking.proposal_id).where(Ranking.proposal_id.in_(ids))))
    t = result.table
    s.execute(
        insert(Decision),
        [
            {
                "proposal_id": r.proposal_id,
                "selected": bool(r.selected),
                "grant_wan": float(r.grant_wan),
                "calibrated_score": float(r.merit) if r.proposal_id in ranked else None,
                "p_selected": None
                if pd.isna(p_sel.get(r.proposal_id))
                else float(p_sel[r.proposal_id]),
                "alternate_rank": None if pd.isna(r.alternate_rank) else int(r.alternate_rank),
                "explanation": r.explanation,
            }
            for r in t.itertuples()
        ],
    )


# --- overrides and finalisation ---------------------------------------------------------------


def override_job(engine: Engine, proposal_id: str, action: str, *, reason: str, actor: str) -> None:
    """Force a proposal in or out (or `clear` a previous override), with a reason (audited)."""
    check_schema(engine)
    if not reason.strip():
        raise ValueError("an override needs a reason (--reason TEXT)")
    with session(engine) as s, s.begin():
        prop = s.get(Proposal, proposal_id)
        if prop is None:
            raise LookupError(f"no proposal {proposal_id!r} in the database")
        _ensure_open(s.get(Batch, prop.batch_id))  # type: ignore[arg-type]
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
            message=f"{action} {proposal_id}: {reason} (run `reviewopt select` to apply)",
        )


def finalize_job(engine: Engine, batch_id: str | None, *, actor: str) -> Batch:
    """Lock the batch's decisions."""
    check_schema(engine)
    with session(engine) as s, s.begin():
        batch = get_batch(s, batch_id)
        _ensure_open(batch)
        n = s.scalar(
            select(Decision.proposal_id)
            .join(Proposal, Proposal.proposal_id == Decision.proposal_id)
            .where(Proposal.batch_id == batch.batch_id)
            .limit(1)
        )
        if n is None:
            raise LookupError(f"batch {batch.batch_id} has no decisions; run `reviewopt select`")
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
            raise LookupError(f"batch {batch.batch_id} is not finalised")
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
