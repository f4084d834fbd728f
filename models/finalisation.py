"""A finalised batch refuses every change that feeds its decisions.

``finalize`` freezes the batch: imports that change what feeds it, assignment, replacement,
waivers, screening, the expert pool, conflicts, ranking, selection and overrides refuse it
(exit 5, naming the batch) until ``reviewopt unlock --reason`` reopens it. The check sits
inside each command's writing transaction and holds the batch row until that transaction
ends, so that a
``finalize`` arriving while a run writes waits for it, and a run that started before a
``finalize`` cannot overwrite what was finalised.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models.i18n import _
from models.schema import Batch, Proposal


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


def ensure_import_open(session: Session, changed: Sequence[Mapping[str, Any]]) -> None:
    """Inside an import's transaction: refuse rows it created or changed that feed a
    finalised batch, and hold every batch they feed.

    A row feeds the batches it names (``batch_id``) or whose proposals it names
    (``proposal_id``: reviews, teams, recusals, joint directions, outside assignments). A row
    of a kind of no batch (people, experts, units and their relations, ...) feeds every batch:
    changing one a batch already has is refused while any batch is finalised; new rows are
    not (the next batch needs them), and are passed in ``changed`` only when they are changes.
    """
    if not changed:
        return
    batches = {r["batch_id"] for r in changed if r.get("batch_id")}
    proposals = {r["proposal_id"] for r in changed if r.get("proposal_id")}
    if proposals:
        batches.update(
            session.scalars(
                select(Proposal.batch_id).where(Proposal.proposal_id.in_(sorted(proposals)))
            )
        )
    if not any("batch_id" in r or "proposal_id" in r for r in changed):
        batches.update(
            session.scalars(select(Batch.batch_id).where(Batch.finalized_at.is_not(None)))
        )
    known = session.scalars(  # ratings name past batches that may not be in the database
        select(Batch.batch_id).where(Batch.batch_id.in_(sorted(b for b in batches if b)))
    )
    for batch_id in sorted(known):
        ensure_open(session, batch_id)
