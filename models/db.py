"""Engines, sessions, schema upgrades, batch locks and audit events.

The default database is a SQLite file ``reviewopt.db`` in the working directory; ``--db URL`` or
``REVIEWOPT_DB`` selects another (``postgresql+psycopg://user@host/db`` for PostgreSQL).
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import hashlib
import json
import os
import socket
import time
from collections.abc import Iterator
from importlib import resources
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from models.schema import AuditEvent, Batch, BatchLock

DEFAULT_URL = "sqlite:///reviewopt.db"

LOCK_WAIT_S: contextvars.ContextVar[float] = contextvars.ContextVar("lock_wait_s", default=0.0)
"""How long a run waits for a batch that another run holds (the CLI's ``--wait``)."""


class BatchLocked(RuntimeError):
    """Another run holds the batch."""


class SchemaOutOfDate(RuntimeError):
    """The database was not created by ``reviewopt init`` or needs an upgrade."""


def database_url(url: str | None = None) -> str:
    """The URL to use: the explicit one, else ``REVIEWOPT_DB``, else the SQLite default."""
    return url or os.environ.get("REVIEWOPT_DB") or DEFAULT_URL


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def make_engine(url: str | None = None) -> Engine:
    """An engine for ``url`` (see :func:`database_url`); SQLite gets foreign keys and WAL."""
    url = database_url(url)
    engine = create_engine(url, future=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("models") / "migrations"))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine) -> str:
    """Create or upgrade the schema to the newest migration; returns the revision."""
    command.upgrade(_alembic_config(engine), "head")
    return current_revision(engine) or ""


def current_revision(engine: Engine) -> str | None:
    if not inspect(engine).has_table("alembic_version"):
        return None
    with engine.connect() as conn:
        row = conn.exec_driver_sql("SELECT version_num FROM alembic_version").first()
    return row[0] if row else None


def head_revision(engine: Engine) -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config(engine)).get_current_head()
    assert head is not None
    return head


def check_schema(engine: Engine) -> None:
    """Raise :class:`SchemaOutOfDate` unless the database is at the newest revision."""
    rev = current_revision(engine)
    if rev is None:
        raise SchemaOutOfDate(
            f"database {engine.url.render_as_string(hide_password=True)} has no reviewopt schema; "
            "run `reviewopt init` first"
        )
    if rev != head_revision(engine):
        raise SchemaOutOfDate(
            f"database schema is at revision {rev}, the code expects {head_revision(engine)}; "
            "run `reviewopt init` to upgrade it"
        )


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextlib.contextmanager
def batch_lock(
    engine: Engine, batch_id: str, *, wait_s: float | None = None, holder: str | None = None
) -> Iterator[None]:
    """Hold ``batch_id`` for the duration of a run.

    A second run that finds the lock waits up to ``wait_s`` seconds (default
    :data:`LOCK_WAIT_S`), then raises :class:`BatchLocked`. The lock is a row, so it works the
    same on SQLite and PostgreSQL.
    """
    holder = holder or f"{socket.gethostname()}:{os.getpid()}"
    deadline = time.monotonic() + (LOCK_WAIT_S.get() if wait_s is None else wait_s)
    while True:
        try:
            with Session(engine) as s, s.begin():
                s.add(BatchLock(batch_id=batch_id, holder=holder, acquired_at=now()))
            break
        except IntegrityError:
            if time.monotonic() >= deadline:
                with Session(engine) as s:
                    lock = s.get(BatchLock, batch_id)
                who = f"{lock.holder} since {lock.acquired_at:%Y-%m-%d %H:%M:%S}" if lock else "?"
                raise BatchLocked(
                    f"batch {batch_id} is locked by another run ({who}); wait for it to finish, "
                    "or pass `reviewopt --wait SECONDS`"
                ) from None
            time.sleep(0.2)
    try:
        yield
    finally:
        with Session(engine) as s, s.begin():
            lock = s.get(BatchLock, batch_id)
            if lock is not None and lock.holder == holder:
                s.delete(lock)


def now() -> dt.datetime:
    """Local wall-clock time, to the second (what officers read in the audit log)."""
    return dt.datetime.now().replace(microsecond=0)


def digest(obj: Any) -> str:
    """A stable SHA-256 of a JSON-able object (inputs and results of a run)."""
    blob = json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


def audit(
    session: Session,
    *,
    actor: str,
    command: str,
    params: dict[str, Any],
    seed: int | None = None,
    input_digest: str | None = None,
    result_digest: str | None = None,
    message: str | None = None,
) -> AuditEvent:
    """Record an audit event in ``session``'s transaction (it commits with the result)."""
    ev = AuditEvent(
        at=now(),
        actor=actor,
        command=command,
        params=json.loads(json.dumps(params, default=str)),
        seed=seed,
        input_digest=input_digest,
        result_digest=result_digest,
        message=message,
    )
    session.add(ev)
    return ev


def get_batch(session: Session, batch_id: str | None) -> Batch:
    """The named batch, or the only one; a clear error when it is missing or ambiguous."""
    if batch_id is not None:
        batch = session.get(Batch, batch_id)
        if batch is None:
            known = ", ".join(session.scalars(select(Batch.batch_id))) or "none"
            raise LookupError(f"no batch {batch_id!r} in the database (known: {known})")
        return batch
    batches = list(session.scalars(select(Batch).order_by(Batch.batch_id)))
    if not batches:
        raise LookupError("the database has no batch yet; import a batches file first")
    if len(batches) > 1:
        raise LookupError(
            "the database holds several batches ("
            + ", ".join(b.batch_id for b in batches)
            + "); name one with --batch"
        )
    return batches[0]


def session(engine: Engine) -> Session:
    """A session whose objects stay readable after commit (jobs return what they wrote)."""
    return Session(engine, expire_on_commit=False)
