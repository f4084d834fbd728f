"""What the pages read: a result view of one batch, and one batch's latest assignment run."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Engine, select

from models import views
from models.db import get_batch, session
from models.schema import AssignmentRun, Proposal

ROW_LIMIT = 2000
"""Rows a page shows of one table (the download has them all)."""


def batch_view(engine: Engine, batch_id: str, view: str) -> pd.DataFrame:
    """The rows of result view ``view`` that belong to batch ``batch_id`` (a LookupError when
    there is no such batch)."""
    with session(engine) as s:
        get_batch(s, batch_id)
        frame = views.frame(s, view)
        if "batch" in frame.columns:
            return frame[frame["batch"] == batch_id].reset_index(drop=True)
        if "proposal" not in frame.columns:
            return frame
        ids = set(s.scalars(select(Proposal.proposal_id).where(Proposal.batch_id == batch_id)))
    return frame[frame["proposal"].isin(ids)].reset_index(drop=True)


def latest_run(engine: Engine, batch_id: str, mode: str | None = None) -> AssignmentRun | None:
    """The batch's latest assignment run (of ``mode``), if any."""
    with session(engine) as s:
        q = select(AssignmentRun).where(AssignmentRun.batch_id == batch_id)
        if mode is not None:
            q = q.where(AssignmentRun.mode == mode)
        return s.scalars(q.order_by(AssignmentRun.run_id.desc())).first()


def records(frame: pd.DataFrame, limit: int = ROW_LIMIT) -> list[dict[str, object]]:
    """The first ``limit`` rows as dicts (missing values as None)."""
    head = frame.head(limit)
    return head.astype(object).where(head.notna(), None).to_dict("records")
