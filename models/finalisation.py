"""A finalised batch refuses every change that feeds its decisions.

``finalize`` freezes the batch: review imports, assignment, replacement, waivers, screening,
the expert pool, conflicts, ranking, selection and overrides refuse it (exit 5, naming the
batch) until ``reviewopt unlock --reason`` reopens it. The check sits inside each command's
writing transaction and holds the batch row until that transaction ends, so that a
``finalize`` arriving while a run writes waits for it, and a run that started before a
``finalize`` cannot overwrite what was finalised.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models.db import digest
from models.i18n import _
from models.schema import Batch, Proposal, Review


class BatchFinalized(RuntimeError):
    """The batch's decisions are final; unlock it (with a reason) to change them."""


def ensure_open(session: Session, batch_id: str) -> None:
    """Inside a writing transaction: raise :class:`BatchFinalized` if the batch is finalised,
    else hold its row (a conditional no-op update) until the transaction ends."""
    held = session.execute(
        update(Batch)
        .where(Batch.batch_id == batch_id, Batch.finalized_at.is_(None))
        .values(finalized_at=Batch.finalized_at)
        .execution_options(synchronize_session=False)
    )
    if held.rowcount == 0:  # type: ignore[attr-defined]
        batch = session.execute(
            select(Batch.finalized_by, Batch.finalized_at).where(Batch.batch_id == batch_id)
        ).first()
        raise BatchFinalized(
            _(
                "batch {batch} was finalised by {actor} at {at}; its decisions and everything "
                "feeding them are locked. `reviewopt unlock --reason TEXT` reopens it",
                batch=batch_id,
                actor=batch[0] if batch else "?",
                at=batch[1].strftime("%Y-%m-%d %H:%M") if batch and batch[1] else "?",
            )
        )


def review_digests(session: Session) -> dict[str, str]:
    """batch_id -> digest of its reviews (to find the batches an import changed)."""
    rows = session.execute(
        select(
            Proposal.batch_id,
            Review.proposal_id,
            Review.expert_id,
            Review.innovation,
            Review.feasibility,
            Review.team,
            Review.prospects,
            Review.targets,
            Review.total,
            Review.confidence,
            Review.verdict,
        )  # fmt: skip
        .join(Proposal, Proposal.proposal_id == Review.proposal_id)
        .order_by(Review.proposal_id, Review.expert_id)
    ).all()
    by: dict[str, list] = {}
    for b, *rest in rows:
        by.setdefault(b, []).append(rest)
    return {b: digest(v) for b, v in by.items()}


def ensure_reviews_open(session: Session, before: dict[str, str]) -> None:
    """After an import inside its transaction: refuse if it changed a finalised batch's
    reviews, and hold every batch whose reviews it changed."""
    after = review_digests(session)
    for b in sorted(set(before) | set(after)):
        if before.get(b) != after.get(b):
            ensure_open(session, b)
