"""The job queue: runs that outlive a web request, as rows of the ``jobs`` table.

A job is queued with its parameters (and, for an import, its uploaded files), claimed by one
worker, run, and left done (with its result) or failed (with its error). Everything is in the
database, so that a reload shows the same job, and so that any number of worker processes, on
this machine or others, can share one queue:

- :func:`claim` takes the oldest queued job whose batch has no running job. On PostgreSQL the
  candidate row is read with ``SELECT … FOR UPDATE SKIP LOCKED``, so that workers polling at
  once each get a different job without waiting on one another; on every database the claim
  is a compare-and-set (``UPDATE … WHERE state = 'queued'``), so a job never runs twice.
- A running job's worker beats ``heartbeat_at``; :func:`reap` marks failed the running jobs
  whose heartbeat stopped (the worker died), so that their batch is free again.
- :func:`enqueue` refuses a second run on a batch while one is queued or running
  (:class:`BatchBusy`); the jobs themselves take the batch lock too, which also keeps a run
  from the command line off the batch.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import socket
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, or_, select, update
from sqlalchemy.exc import OperationalError

from models.db import check_schema, now, session
from models.i18n import _
from models.server_tables import Job, Upload

HEARTBEAT_S = 5.0
"""How often a worker refreshes a running job's heartbeat."""
STALE_AFTER = dt.timedelta(minutes=2)
"""A running job whose heartbeat is older than this is taken for lost (its worker died)."""
ACTIVE = ("queued", "running")


class BatchBusy(RuntimeError):
    """A job of the batch is already queued or running."""

    def __init__(self, job_id: int, batch_id: str) -> None:
        self.job_id = job_id
        super().__init__(
            _(
                "job {job} on batch {batch} is still queued or running; wait for it to end",
                job=job_id,
                batch=batch_id,
            )
        )


@dataclass(frozen=True)
class NewUpload:
    """A file to import: its kind, the name it had on the user's machine (shown, never used
    as a path) and its bytes."""

    kind: str
    name: str
    data: bytes


def worker_name() -> str:
    """This process and thread, as recorded on the jobs it runs: ``host:pid:thread``."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"


def enqueue(
    engine: Engine,
    kind: str,
    *,
    params: dict[str, Any],
    actor: str,
    batch_id: str | None = None,
    uploads: Sequence[NewUpload] = (),
) -> int:
    """Queue a job (with its uploads, in one transaction); returns its id."""
    check_schema(engine)
    with session(engine) as s, s.begin():
        if batch_id is not None:
            busy = s.scalar(
                select(Job.id).where(Job.batch_id == batch_id, Job.state.in_(ACTIVE)).limit(1)
            )
            if busy is not None:
                raise BatchBusy(busy, batch_id)
        job = Job(
            kind=kind,
            batch_id=batch_id,
            params=params,
            state="queued",
            progress=0.0,
            created_by=actor,
            created_at=now(),
        )
        s.add(job)
        s.flush()
        for up in uploads:
            s.add(
                Upload(
                    job_id=job.id,
                    kind=up.kind,
                    name=up.name,
                    size=len(up.data),
                    sha256=hashlib.sha256(up.data).hexdigest(),
                    data=up.data,
                    created_by=actor,
                    created_at=now(),
                )
            )
        return job.id


def claim(engine: Engine, worker: str) -> Job | None:
    """Take the oldest queued job whose batch has no running job, or None."""
    busy = select(Job.batch_id).where(Job.state == "running", Job.batch_id.is_not(None))
    try:
        with session(engine) as s, s.begin():
            job = s.scalars(
                select(Job)
                .where(
                    Job.state == "queued",
                    or_(Job.batch_id.is_(None), Job.batch_id.not_in(busy.scalar_subquery())),
                )
                .order_by(Job.id)
                .limit(1)
                .with_for_update(skip_locked=True, of=Job)
            ).first()
            if job is None:
                return None
            at = now()
            taken = cast(  # an UPDATE gives a cursor result, which has the row count
                CursorResult[Any],
                s.execute(
                    update(Job)
                    .where(Job.id == job.id, Job.state == "queued")
                    .values(state="running", worker=worker, started_at=at, heartbeat_at=at)
                ),
            )
            if taken.rowcount != 1:
                return None
    except OperationalError:  # SQLite: another worker wrote first; try again at the next poll
        return None
    with session(engine) as s:
        return s.get(Job, job.id)


def progress(engine: Engine, job_id: int, fraction: float, stage: str | None = None) -> None:
    """Record how far a running job is (and beat its heartbeat)."""
    values: dict[str, Any] = {"progress": min(max(fraction, 0.0), 1.0), "heartbeat_at": now()}
    if stage is not None:
        values["stage"] = stage
    with session(engine) as s, s.begin():
        s.execute(update(Job).where(Job.id == job_id, Job.state == "running").values(**values))


def heartbeat(engine: Engine, job_id: int) -> None:
    with session(engine) as s, s.begin():
        s.execute(
            update(Job).where(Job.id == job_id, Job.state == "running").values(heartbeat_at=now())
        )


def finish(
    engine: Engine,
    job_id: int,
    *,
    result: dict[str, Any] | None = None,
    error: str | None = None,
    problems: list[dict[str, Any]] | None = None,
) -> None:
    """Close a running job: done with ``result``, or failed with ``error`` (and the rows of an
    invalid file in ``problems``)."""
    with session(engine) as s, s.begin():
        s.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(
                state="failed" if error is not None else "done",
                progress=1.0 if error is None else Job.progress,
                result=result,
                error=error,
                problems=problems,
                finished_at=now(),
                heartbeat_at=now(),
            )
        )


def reap(engine: Engine) -> list[int]:
    """Mark failed the running jobs whose worker stopped beating; returns their ids."""
    with session(engine) as s, s.begin():
        lost = list(
            s.scalars(
                select(Job.id).where(Job.state == "running", Job.heartbeat_at < now() - STALE_AFTER)
            )
        )
        if lost:
            s.execute(
                update(Job)
                .where(Job.id.in_(lost), Job.state == "running")
                .values(
                    state="failed",
                    error=_("the worker running this job stopped; queue it again"),
                    finished_at=now(),
                )
            )
    return lost


def get_job(engine: Engine, job_id: int) -> Job | None:
    with session(engine) as s:
        return s.get(Job, job_id)


def uploads_of(engine: Engine, job_id: int) -> list[Upload]:
    """A job's uploaded files, in the order they were given."""
    with session(engine) as s:
        return list(s.scalars(select(Upload).where(Upload.job_id == job_id).order_by(Upload.id)))


def recent_jobs(engine: Engine, *, batch_id: str | None = None, limit: int = 50) -> list[Job]:
    """The latest jobs, newest first (of one batch when ``batch_id`` is given)."""
    with session(engine) as s:
        q = select(Job).order_by(Job.id.desc()).limit(limit)
        if batch_id is not None:
            q = q.where(Job.batch_id == batch_id)
        return list(s.scalars(q))


def active_job(engine: Engine, batch_id: str) -> Job | None:
    """The batch's queued or running job, if any."""
    with session(engine) as s:
        return s.scalars(
            select(Job).where(Job.batch_id == batch_id, Job.state.in_(ACTIVE)).order_by(Job.id)
        ).first()
