"""Result views for ``reviewopt export``: joined, readable tables of what the runs produced."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from models.i18n import render_stored
from models.schema import (
    Assignment,
    AssignmentRun,
    AuditEvent,
    Conflict,
    Decision,
    Expert,
    Finding,
    Leniency,
    PanelMember,
    Person,
    PoolExclusion,
    Proposal,
    Ranking,
    Review,
    ScreeningStatus,
    Unit,
)


def _latest_run(mode: str | None = None) -> Select:
    q = select(func.max(AssignmentRun.run_id))
    return q.where(AssignmentRun.mode == mode) if mode else q


def _decisions() -> Select:
    return (
        select(
            Proposal.proposal_id.label("proposal"),
            Proposal.direction_code.label("direction"),
            Proposal.title,
            Unit.name.label("lead_unit"),
            Unit.type.label("lead_unit_type"),
            Decision.selected,
            Decision.grant_wan,
            Proposal.requested_wan,
            Proposal.total_budget_wan,
            Decision.calibrated_score,
            Decision.p_selected,
            Decision.alternate_rank,
            Decision.reason_code,
            Decision.explanation,
        )
        .join(Decision, Decision.proposal_id == Proposal.proposal_id)
        .join(Unit, Unit.unit_id == Proposal.lead_unit_id)
        .order_by(Proposal.direction_code, Decision.selected.desc(), Proposal.proposal_id)
    )


def _assignments() -> Select:
    return (
        select(
            Assignment.run_id,
            Assignment.proposal_id.label("proposal"),
            Proposal.direction_code.label("direction"),
            Assignment.expert_id.label("expert"),
            Person.name.label("expert_name"),
            Unit.name.label("expert_unit"),
            Assignment.affinity,
            Assignment.status,
            Assignment.reserve_rank,
            Assignment.probability,
        )
        .join(Proposal, Proposal.proposal_id == Assignment.proposal_id)
        .join(Person, Person.person_id == Assignment.expert_id)
        .outerjoin(Unit, Unit.unit_id == Person.unit_id)
        .where(Assignment.run_id == _latest_run().scalar_subquery())
        .order_by(
            Assignment.proposal_id, Assignment.reserve_rank.nulls_first(), Assignment.expert_id
        )
    )


def _invitations() -> Select:
    """The latest run's invitations per expert (what each expert is asked to review)."""
    return (
        select(
            Assignment.expert_id.label("expert"),
            Person.name.label("expert_name"),
            Unit.name.label("expert_unit"),
            Assignment.proposal_id.label("proposal"),
            Proposal.direction_code.label("direction"),
            Proposal.title,
            Assignment.status,
            Assignment.reserve_rank,
        )
        .join(Proposal, Proposal.proposal_id == Assignment.proposal_id)
        .join(Person, Person.person_id == Assignment.expert_id)
        .outerjoin(Unit, Unit.unit_id == Person.unit_id)
        .where(
            Assignment.run_id == _latest_run().scalar_subquery(),
            Assignment.status.in_(("invited", "accepted")),
        )
        .order_by(Assignment.expert_id, Assignment.proposal_id)
    )


def _review_status() -> Select:
    """Per assignment run and proposal: experts invited and reviews received from those
    experts (short = missing); a review counts only for the run that invited its expert."""
    current = Assignment.status.in_(("invited", "accepted"))
    invited = (
        select(Assignment.run_id, Assignment.proposal_id, func.count().label("invited"))
        .where(current)
        .group_by(Assignment.run_id, Assignment.proposal_id)
        .subquery()
    )
    received = (
        select(Assignment.run_id, Assignment.proposal_id, func.count().label("received"))
        .join(
            Review,
            (Review.proposal_id == Assignment.proposal_id)
            & (Review.expert_id == Assignment.expert_id),
        )
        .where(current)
        .group_by(Assignment.run_id, Assignment.proposal_id)
        .subquery()
    )
    got = func.coalesce(received.c.received, 0)
    return (
        select(
            invited.c.run_id,
            invited.c.proposal_id.label("proposal"),
            Proposal.direction_code.label("direction"),
            invited.c.invited,
            got.label("received"),
            (invited.c.invited - got).label("short"),
        )
        .join(Proposal, Proposal.proposal_id == invited.c.proposal_id)
        .outerjoin(
            received,
            (received.c.proposal_id == invited.c.proposal_id)
            & (received.c.run_id == invited.c.run_id),
        )
        .order_by(invited.c.run_id.desc(), (invited.c.invited - got).desc(), invited.c.proposal_id)
    )


def _panels() -> Select:
    return (
        select(
            PanelMember.run_id,
            PanelMember.group_id.label("group"),
            PanelMember.expert_id.label("expert"),
            Person.name.label("expert_name"),
            Unit.name.label("expert_unit"),
            Expert.kind,
            PanelMember.leader,
        )
        .join(Person, Person.person_id == PanelMember.expert_id)
        .join(Expert, Expert.expert_id == PanelMember.expert_id)
        .outerjoin(Unit, Unit.unit_id == Person.unit_id)
        .where(PanelMember.run_id == _latest_run("panel").scalar_subquery())
        .order_by(PanelMember.group_id, PanelMember.leader.desc(), PanelMember.expert_id)
    )


def _conflicts() -> Select:
    return (
        select(
            Conflict.proposal_id.label("proposal"),
            Conflict.expert_id.label("expert"),
            Person.name.label("expert_name"),
            Conflict.kind,
            Conflict.reason,
        )
        .join(Person, Person.person_id == Conflict.expert_id)
        .order_by(Conflict.proposal_id, Conflict.expert_id, Conflict.kind)
    )


def _findings() -> Select:
    return (
        select(
            Finding.proposal_id.label("proposal"),
            Proposal.direction_code.label("direction"),
            ScreeningStatus.status,
            Finding.rule,
            Finding.severity,
            Finding.reason,
            Finding.waived_reason,
            Finding.waived_by,
        )
        .join(Proposal, Proposal.proposal_id == Finding.proposal_id)
        .outerjoin(ScreeningStatus, ScreeningStatus.proposal_id == Finding.proposal_id)
        .order_by(Finding.proposal_id, Finding.rule)
    )


def _screening() -> Select:
    return (
        select(
            ScreeningStatus.proposal_id.label("proposal"),
            Proposal.direction_code.label("direction"),
            ScreeningStatus.status,
        )
        .join(Proposal, Proposal.proposal_id == ScreeningStatus.proposal_id)
        .order_by(ScreeningStatus.proposal_id)
    )


def _rankings() -> Select:
    return (
        select(
            Ranking.method,
            Ranking.proposal_id.label("proposal"),
            Proposal.direction_code.label("direction"),
            Proposal.title,
            Ranking.score,
            Ranking.se,
            Ranking.expected_rank,
            Ranking.rank_lo,
            Ranking.rank_hi,
            Ranking.n_reviews,
        )
        .join(Proposal, Proposal.proposal_id == Ranking.proposal_id)
        .order_by(Ranking.method, Proposal.direction_code, Ranking.expected_rank)
    )


def _leniencies() -> Select:
    return (
        select(
            Leniency.method,
            Leniency.expert_id.label("expert"),
            Person.name.label("expert_name"),
            Leniency.leniency,
            Leniency.lo,
            Leniency.hi,
        )
        .join(Person, Person.person_id == Leniency.expert_id)
        .order_by(Leniency.method, Leniency.expert_id)
    )


def _pool() -> Select:
    return (
        select(
            PoolExclusion.batch_id.label("batch"),
            PoolExclusion.expert_id.label("expert"),
            Person.name.label("expert_name"),
            PoolExclusion.reason,
        )
        .join(Person, Person.person_id == PoolExclusion.expert_id)
        .order_by(PoolExclusion.expert_id)
    )


def _audit() -> Select:
    return select(
        AuditEvent.id,
        AuditEvent.at,
        AuditEvent.actor,
        AuditEvent.command,
        AuditEvent.params,
        AuditEvent.seed,
        AuditEvent.input_digest,
        AuditEvent.result_digest,
        AuditEvent.message,
    ).order_by(AuditEvent.id)


VIEWS: dict[str, Callable[[], Select]] = {
    "decisions": _decisions,
    "assignments": _assignments,
    "invitations": _invitations,
    "review_status": _review_status,
    "panels": _panels,
    "conflicts": _conflicts,
    "findings": _findings,
    "screening": _screening,
    "rankings": _rankings,
    "leniencies": _leniencies,
    "pool": _pool,
    "audit": _audit,
}


def frame(session: Session, view: str) -> pd.DataFrame:
    """The rows of a result view as a frame."""
    try:
        query = VIEWS[view]()
    except KeyError:
        raise ValueError(f"unknown view {view!r}; expected one of: {', '.join(VIEWS)}") from None
    result = session.execute(query)
    out = pd.DataFrame([tuple(r) for r in result], columns=list(result.keys()), dtype=object)
    if "explanation" in out.columns:  # stored messages, shown in the reader's language
        out["explanation"] = out["explanation"].map(render_stored)
    return out
