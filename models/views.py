"""Result views for ``reviewopt export``: joined, readable tables of what the runs produced."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
from sqlalchemy import Integer, Select, String, case, func, literal, select, union_all
from sqlalchemy.orm import Session, aliased

from models.i18n import render_stored
from models.names import beside_ids
from models.schema import (
    Assignment,
    AssignmentRun,
    AuditEvent,
    Batch,
    Conflict,
    Decision,
    Expert,
    Finding,
    GuideDirection,
    Leniency,
    PanelMember,
    PanelProposal,
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
    """项目评审专家表: per proposal of the latest review run, its experts, then its reserves in
    order, then those who declined or were replaced."""
    lead, where = aliased(Unit), aliased(Unit)
    order = case(
        (Assignment.status.in_(("invited", "accepted")), 0),
        (Assignment.status == "reserve", 1),
        else_=2,
    )
    return (
        select(
            Assignment.run_id,
            Assignment.proposal_id.label("proposal"),
            Proposal.title,
            lead.name.label("lead_unit"),
            Proposal.direction_code.label("direction"),
            GuideDirection.title.label("direction_title"),
            Assignment.expert_id.label("expert"),
            Person.name.label("expert_name"),
            where.name.label("expert_unit"),
            Person.title.label("expert_title"),
            Assignment.status,
            Assignment.reserve_rank,
            Assignment.affinity,
            Assignment.probability,
        )
        .join(Proposal, Proposal.proposal_id == Assignment.proposal_id)
        .join(lead, lead.unit_id == Proposal.lead_unit_id)
        .outerjoin(GuideDirection, GuideDirection.code == Proposal.direction_code)
        .join(Person, Person.person_id == Assignment.expert_id)
        .outerjoin(where, where.unit_id == Person.unit_id)
        .where(Assignment.run_id == _latest_run("review").scalar_subquery())
        .order_by(
            Assignment.proposal_id,
            order,
            Assignment.reserve_rank.nulls_first(),
            Assignment.expert_id,
        )
    )


def _invitations() -> Select:
    """专家邀请名单: what each expert is asked to review, with the contact details to ask them.

    The latest review run's current invitations (role ``assigned``) and reserves (``reserve``,
    in order), and the latest panel run's members (``panel_leader`` / ``panel_member``) with
    every proposal their panel hears. The deadline is the batch's review date.
    """
    review = (
        select(
            Assignment.expert_id.label("expert"),
            case((Assignment.status == "reserve", "reserve"), else_="assigned").label("role"),
            Assignment.reserve_rank,
            Assignment.status,
            Assignment.proposal_id.label("proposal"),
            AssignmentRun.batch_id,
        )
        .join(AssignmentRun, AssignmentRun.run_id == Assignment.run_id)
        .where(
            Assignment.run_id == _latest_run("review").scalar_subquery(),
            Assignment.status.in_(("invited", "accepted", "reserve")),
        )
    )
    panel = (
        select(
            PanelMember.expert_id.label("expert"),
            case((PanelMember.leader, "panel_leader"), else_="panel_member").label("role"),
            literal(None, Integer).label("reserve_rank"),
            literal(None, String).label("status"),
            PanelProposal.proposal_id.label("proposal"),
            AssignmentRun.batch_id,
        )
        .join(
            PanelProposal,
            (PanelProposal.run_id == PanelMember.run_id)
            & (PanelProposal.group_id == PanelMember.group_id),
        )
        .join(AssignmentRun, AssignmentRun.run_id == PanelMember.run_id)
        .where(PanelMember.run_id == _latest_run("panel").scalar_subquery())
    )
    asked = union_all(review, panel).subquery()
    lead, where = aliased(Unit), aliased(Unit)
    role_order = case((asked.c.role == "assigned", 0), (asked.c.role == "reserve", 1), else_=2)
    return (
        select(
            asked.c.expert,
            Person.name.label("expert_name"),
            where.name.label("expert_unit"),
            Person.title.label("expert_title"),
            Person.phone,
            Person.email,
            asked.c.role,
            asked.c.reserve_rank,
            asked.c.status,
            asked.c.proposal,
            Proposal.title,
            lead.name.label("lead_unit"),
            Proposal.direction_code.label("direction"),
            GuideDirection.title.label("direction_title"),
            Batch.batch_date.label("deadline"),
        )
        .join(Person, Person.person_id == asked.c.expert)
        .outerjoin(where, where.unit_id == Person.unit_id)
        .join(Proposal, Proposal.proposal_id == asked.c.proposal)
        .join(lead, lead.unit_id == Proposal.lead_unit_id)
        .outerjoin(GuideDirection, GuideDirection.code == Proposal.direction_code)
        .join(Batch, Batch.batch_id == asked.c.batch_id)
        .order_by(asked.c.expert, role_order, asked.c.reserve_rank.nulls_first(), asked.c.proposal)
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


def _group_title(group: Any) -> Any:
    """A panel group's name: its direction's title, its programme (a one-digit group), or the
    officer's own group name."""
    by_direction, in_programme = aliased(GuideDirection), aliased(GuideDirection)
    programme = (
        select(func.min(in_programme.programme))
        .where(func.substr(in_programme.code, 1, 1) == group)
        .scalar_subquery()
    )
    title = select(by_direction.title).where(by_direction.code == group).scalar_subquery()
    return func.coalesce(title, programme, group)


def _panels() -> Select:
    """会评分组: the latest panel run's members per panel, the leader (组长) first."""
    return (
        select(
            PanelMember.run_id,
            PanelMember.group_id.label("group"),
            _group_title(PanelMember.group_id).label("group_title"),
            PanelMember.leader,
            PanelMember.expert_id.label("expert"),
            Person.name.label("expert_name"),
            Unit.name.label("expert_unit"),
            Person.title.label("expert_title"),
            Expert.kind,
        )
        .join(Person, Person.person_id == PanelMember.expert_id)
        .join(Expert, Expert.expert_id == PanelMember.expert_id)
        .outerjoin(Unit, Unit.unit_id == Person.unit_id)
        .where(PanelMember.run_id == _latest_run("panel").scalar_subquery())
        .order_by(PanelMember.group_id, PanelMember.leader.desc(), PanelMember.expert_id)
    )


def _panel_proposals() -> Select:
    """The proposals each panel of the latest panel run hears."""
    return (
        select(
            PanelProposal.run_id,
            PanelProposal.group_id.label("group"),
            _group_title(PanelProposal.group_id).label("group_title"),
            PanelProposal.proposal_id.label("proposal"),
            Proposal.title,
            Unit.name.label("lead_unit"),
            Proposal.direction_code.label("direction"),
            GuideDirection.title.label("direction_title"),
        )
        .join(Proposal, Proposal.proposal_id == PanelProposal.proposal_id)
        .join(Unit, Unit.unit_id == Proposal.lead_unit_id)
        .outerjoin(GuideDirection, GuideDirection.code == Proposal.direction_code)
        .where(PanelProposal.run_id == _latest_run("panel").scalar_subquery())
        .order_by(PanelProposal.group_id, Proposal.direction_code, PanelProposal.proposal_id)
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
        .order_by(
            Ranking.method,
            Proposal.direction_code,
            Ranking.expected_rank,
            Ranking.score.desc(),
            Ranking.proposal_id,
        )
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
    "panel_proposals": _panel_proposals,
    "conflicts": _conflicts,
    "findings": _findings,
    "screening": _screening,
    "rankings": _rankings,
    "leniencies": _leniencies,
    "pool": _pool,
    "audit": _audit,
}


#: Columns that hold stored messages (models.i18n), shown in the reader's language.
STORED: dict[str, tuple[str, ...]] = {
    "conflicts": ("reason",),
    "decisions": ("explanation",),
    "findings": ("reason",),
    "pool": ("reason",),
}


def frame(session: Session, view: str) -> pd.DataFrame:
    """The rows of a result view as a frame; stored messages rendered in the current language."""
    try:
        query = VIEWS[view]()
    except KeyError:
        raise ValueError(f"unknown view {view!r}; expected one of: {', '.join(VIEWS)}") from None
    result = session.execute(query)
    rows = pd.DataFrame([tuple(r) for r in result], columns=list(result.keys()), dtype=object)
    for column in STORED.get(view, ()):
        rows[column] = [render_stored(v) for v in rows[column].tolist()]
    return beside_ids(session, rows)
