"""What the pages read: a result view of one batch, where a batch stands, and one batch's
latest assignment run.

Views and stages are read once per version of the data and kept for the pages that follow
(many users read the same pages between two runs). The version is the count and the last id of
the audit events: every change of a batch's data records an audit event in the same
transaction, so a committed change always moves the version, whatever order concurrent
transactions commit in.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import pandas as pd
from sqlalchemy import Engine, func, select

from models import views
from models.db import get_batch, session
from models.schema import AssignmentRun, AuditEvent, Proposal
from models.status import BatchStatus, status_job

T = TypeVar("T")

ROW_LIMIT = 2000
"""Rows a page shows of one table (the download has them all)."""


def data_version(engine: Engine) -> tuple[int, int]:
    """(number of audit events, last event id): changes whenever a change is committed."""
    with session(engine) as s:
        count, last = s.execute(select(func.count(AuditEvent.id), func.max(AuditEvent.id))).one()
    return int(count), int(last or 0)


@functools.lru_cache(maxsize=64)
def _at_version(read: Callable[..., Any], engine: Engine, args: tuple[Any, ...], _v: Any) -> Any:
    return read(engine, *args)


def read_at_version(read: Callable[..., T], engine: Engine, *args: Any) -> T:
    """``read(engine, *args)`` as of the current data version (kept until the data change;
    callers must not change what they get)."""
    return _at_version(read, engine, args, data_version(engine))  # type: ignore[no-any-return]


def batch_view(engine: Engine, batch_id: str, view: str) -> pd.DataFrame:
    """The rows of result view ``view`` that belong to batch ``batch_id`` (a LookupError when
    there is no such batch). Shared between requests: do not change it."""
    return read_at_version(_batch_view, engine, batch_id, view)


def batch_stages(engine: Engine, batch_id: str) -> BatchStatus:
    """Where batch ``batch_id`` stands (``reviewopt status``), as of the current data."""
    return read_at_version(status_job, engine, batch_id)


def _batch_view(engine: Engine, batch_id: str, view: str) -> pd.DataFrame:
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
