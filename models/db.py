"""Engines, sessions, schema upgrades, batch locks and audit events.

The default database is a SQLite file ``reviewopt.db`` in the working directory; ``--db URL`` or
``REVIEWOPT_DB`` selects another (``postgresql+psycopg://user@host/db`` for PostgreSQL).
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import getpass
import hashlib
import json
import math
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from typing import Any

import psutil
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, delete, event, inspect, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from models.i18n import Msg, _
from models.schema import AuditEvent, Batch, BatchLock

DEFAULT_URL = "sqlite:///reviewopt.db"

LOCK_WAIT_S: contextvars.ContextVar[float] = contextvars.ContextVar("lock_wait_s", default=0.0)
"""How long a run waits for a batch that another run holds (the CLI's ``--wait``)."""

LOCK_TIMEOUT_S: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "lock_timeout_s", default=None
)
"""Seconds without a heartbeat after which a lock held from another host is stale (None:
``REVIEWOPT_LOCK_TIMEOUT``, else :data:`DEFAULT_LOCK_TIMEOUT_S`)."""

DEFAULT_LOCK_TIMEOUT_S = 120.0

HEARTBEAT_S = 10.0
"""How often a lock's holder refreshes its heartbeat."""

RUN_ACTOR: contextvars.ContextVar[str | None] = contextvars.ContextVar("run_actor", default=None)
"""Who runs this process's commands (the CLI's ``--actor``; None: the login name), for the
audit events of locks."""

RUN_COMMAND: contextvars.ContextVar[str] = contextvars.ContextVar("run_command", default="")
"""The command this process runs, recorded with the locks it takes."""


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
            _(
                "database {url} has no reviewopt schema; run `reviewopt init` first",
                url=engine.url.render_as_string(hide_password=True),
            )
        )
    if rev != head_revision(engine):
        raise SchemaOutOfDate(
            _(
                "database schema is at revision {rev}, the code expects {head}; run "
                "`reviewopt init` to upgrade it",
                rev=rev,
                head=head_revision(engine),
            )
        )


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@dataclass(frozen=True)
class Holder:
    """The process that holds (or wants) a lock: host, PID, the process's start time (seconds
    since the epoch, so that a reused PID is told apart) and a token unique to the holding."""

    host: str
    pid: int
    started: float | None
    token: str

    @classmethod
    def current(cls, token: str | None = None) -> Holder:
        pid = os.getpid()
        host = socket.gethostname()
        return cls(host, pid, process_started(pid), token or f"{host}:{pid}:{uuid.uuid4().hex[:8]}")


def process_started(pid: int) -> float | None:
    """When process ``pid`` of this host started (None when there is no such process)."""
    try:
        return float(psutil.Process(pid).create_time())
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return None
    except psutil.Error:  # exists, but may not be inspected
        return -1.0


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def lock_timeout() -> float:
    """Seconds without a heartbeat after which another host's lock is stale (the hosts'
    clocks must agree to well within it, as NTP keeps them)."""
    value = LOCK_TIMEOUT_S.get()
    if value is not None:
        return value
    text = os.environ.get("REVIEWOPT_LOCK_TIMEOUT", "")
    try:
        value = float(text) if text else DEFAULT_LOCK_TIMEOUT_S
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ValueError(
            _(
                "REVIEWOPT_LOCK_TIMEOUT must be a number of seconds above 0, got {value}",
                value=repr(text),
            )
        )
    return value


def _actor() -> str:
    actor = RUN_ACTOR.get()
    if actor:
        return actor
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "?"


def gone(lock: BatchLock) -> Msg | None:
    """Why the holder of ``lock`` is gone (None while it may still run).

    On this host: its PID no longer runs, or now belongs to a process started later. On
    another host: its last heartbeat is older than :func:`lock_timeout`.
    """
    host, pid = lock.host, lock.pid
    if host is None and lock.holder.count(":") >= 1:  # a lock written before holders were kept
        host, _sep, rest = lock.holder.partition(":")
        pid = int(rest.split(":")[0]) if rest.split(":")[0].isdigit() else None
    if host == socket.gethostname() and pid is not None:
        started = process_started(pid)
        if started is None:
            return Msg("process {pid} on {host} is no longer running", pid=pid, host=host)
        recorded = lock.process_started_at
        if recorded is not None and started >= 0 and abs(started - recorded) > 1.0:
            return Msg(
                "process {pid} on {host} has ended (the PID now belongs to another process)",
                pid=pid,
                host=host,
            )
        return None
    beat = lock.heartbeat_at
    age = (_utc_now() - beat).total_seconds() if beat is not None else math.inf
    if age > lock_timeout():
        shown = "?" if math.isinf(age) else str(round(age))
        return Msg(
            "its last heartbeat is {age} s old (a run on another host is taken for gone after "
            "{timeout:g} s without one)",
            age=shown,
            timeout=lock_timeout(),
        )
    return None


def describe_lock(lock: BatchLock) -> str:
    """``assign`` (process 4711 on host-a, since 2024-09-01 10:00:00, heartbeat 3 s ago)."""
    beat = lock.heartbeat_at
    age = str(round((_utc_now() - beat).total_seconds())) if beat is not None else "?"
    command = "`" + lock.command + "`" if lock.command else lock.holder
    since = lock.acquired_at.strftime("%Y-%m-%d %H:%M:%S")
    return _(
        "{command} (process {pid} on {host}, since {since}, last heartbeat {age} s ago)",
        command=command,
        pid=lock.pid if lock.pid is not None else "?",
        host=lock.host or "?",
        since=since,
        age=age,
    )


def _new_lock(batch_id: str, me: Holder) -> BatchLock:
    return BatchLock(
        batch_id=batch_id,
        holder=me.token,
        acquired_at=now(),
        host=me.host,
        pid=me.pid,
        process_started_at=me.started,
        heartbeat_at=_utc_now(),
        command=RUN_COMMAND.get() or None,
    )


def _take_over(engine: Engine, batch_id: str, me: Holder) -> tuple[bool, BatchLock | None]:
    """Take the lock from a holder that is gone, with an audit event: (True, None). While a
    live run holds it: (False, its lock); (False, None) when it was released or taken by
    another run meanwhile."""
    try:
        with Session(engine, expire_on_commit=False) as s, s.begin():
            lock = s.get(BatchLock, batch_id)
            if lock is None:
                return False, None
            why = gone(lock)
            if why is None:
                return False, lock
            held = {"holder": lock.holder, "host": lock.host, "pid": lock.pid,
                    "command": lock.command, "acquired_at": str(lock.acquired_at),
                    "heartbeat_at": str(lock.heartbeat_at)}  # fmt: skip
            res = s.execute(
                delete(BatchLock).where(
                    BatchLock.batch_id == batch_id, BatchLock.holder == lock.holder
                )
            )
            if res.rowcount != 1:  # type: ignore[attr-defined]
                return False, None
            s.add(_new_lock(batch_id, me))
            audit(
                s,
                actor=_actor(),
                command="lock takeover",
                params={"batch": batch_id, "stale": held, "by": me.token},
                message=Msg(
                    "lock of batch {batch} taken over from {holder}: {why}",
                    batch=batch_id,
                    holder=lock.holder,
                    why=why,
                ).render("en"),
            )
        return True, None
    except IntegrityError:
        return False, None


class _Heartbeat(threading.Thread):
    """Refreshes the lock's ``heartbeat_at`` every :data:`HEARTBEAT_S` seconds until stopped.

    A beat that fails (the database busy) is tried again at the next one; the holder's own
    work never waits for it."""

    def __init__(self, engine: Engine, batch_id: str, token: str) -> None:
        super().__init__(name=f"reviewopt-heartbeat-{batch_id}", daemon=True)
        self.engine, self.batch_id, self.token = engine, batch_id, token
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(HEARTBEAT_S):
            try:
                with Session(self.engine) as s, s.begin():
                    s.execute(
                        update(BatchLock)
                        .where(BatchLock.batch_id == self.batch_id, BatchLock.holder == self.token)
                        .values(heartbeat_at=_utc_now())
                    )
            except SQLAlchemyError:
                continue

    def stop(self) -> None:
        self.done.set()
        self.join(timeout=HEARTBEAT_S)


@contextlib.contextmanager
def batch_lock(
    engine: Engine, batch_id: str, *, wait_s: float | None = None, holder: str | None = None
) -> Iterator[None]:
    """Hold ``batch_id`` for the duration of a run.

    A second run that finds the lock held by a live run waits up to ``wait_s`` seconds
    (default :data:`LOCK_WAIT_S`), then raises :class:`BatchLocked`. A lock whose holder is
    gone (see :func:`gone`) is taken over at once, with an audit event. The lock is a row, so
    it works the same on SQLite and PostgreSQL; while it is held a thread beats its heartbeat.
    """
    me = Holder.current(holder)
    deadline = time.monotonic() + (LOCK_WAIT_S.get() if wait_s is None else wait_s)
    while True:
        try:
            with Session(engine) as s, s.begin():
                s.add(_new_lock(batch_id, me))
            break
        except IntegrityError:
            taken, held = _take_over(engine, batch_id, me)
            if taken:
                break
            if time.monotonic() >= deadline:
                raise BatchLocked(
                    _(
                        "batch {batch} is locked by another run: {holder}; wait for it to "
                        "finish, or pass `reviewopt --wait SECONDS`. If that run is gone, "
                        "`reviewopt unlock --stale` clears the lock",
                        batch=batch_id,
                        holder=describe_lock(held) if held is not None else "?",
                    )
                ) from None
            time.sleep(0.2)
    beat = _Heartbeat(engine, batch_id, me.token)
    beat.start()
    try:
        yield
    finally:
        beat.stop()
        with Session(engine) as s, s.begin():
            s.execute(
                delete(BatchLock).where(
                    BatchLock.batch_id == batch_id, BatchLock.holder == me.token
                )
            )


def clear_stale_lock(engine: Engine, batch_id: str, *, actor: str) -> BatchLock:
    """Remove the lock of ``batch_id`` when its holder is gone (audited); returns it.

    LookupError when the batch is not locked; :class:`BatchLocked` when its holder may still
    run (a live PID on this host, or a fresh heartbeat)."""
    with Session(engine, expire_on_commit=False) as s, s.begin():
        lock = s.get(BatchLock, batch_id)
        if lock is None:
            raise LookupError(_("batch {batch} is not locked", batch=batch_id))
        why = gone(lock)
        if why is None:
            raise BatchLocked(
                _(
                    "batch {batch} is held by a run that is still alive: {holder}; wait for it "
                    "to finish (or stop that process)",
                    batch=batch_id,
                    holder=describe_lock(lock),
                )
            )
        s.delete(lock)
        audit(
            s,
            actor=actor,
            command="unlock --stale",
            params={
                "batch": batch_id,
                "holder": lock.holder,
                "host": lock.host,
                "pid": lock.pid,
                "command": lock.command,
                "acquired_at": str(lock.acquired_at),
            },  # fmt: skip
            message=Msg(
                "stale lock of batch {batch} cleared: {why}", batch=batch_id, why=why
            ).render("en"),
        )
    return lock


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
            known = ", ".join(session.scalars(select(Batch.batch_id))) or "-"
            raise LookupError(
                _(
                    "no batch {batch} in the database (known: {known})",
                    batch=repr(batch_id),
                    known=known,
                )
            )
        return batch
    batches = list(session.scalars(select(Batch).order_by(Batch.batch_id)))
    if not batches:
        raise LookupError(_("the database has no batch yet; import a batches file first"))
    if len(batches) > 1:
        raise LookupError(
            _(
                "the database holds several batches ({batches}); name one with --batch",
                batches=", ".join(b.batch_id for b in batches),
            )
        )
    return batches[0]


def session(engine: Engine) -> Session:
    """A session whose objects stay readable after commit (jobs return what they wrote)."""
    return Session(engine, expire_on_commit=False)


def database_problem(exc: BaseException, url: str) -> str | None:
    """One line on what went wrong with the database at ``url`` and what to do about it
    (None when ``exc`` is not about the database or reaching it)."""
    from sqlalchemy.exc import DBAPIError, NoSuchModuleError

    shown = _display_url(url)
    if isinstance(exc, NoSuchModuleError | ArgumentError):
        return _(
            "the database URL {url} is not one reviewopt can use ({error}); give "
            "sqlite:///FILE or postgresql+psycopg://USER@HOST/DB with --db or REVIEWOPT_DB",
            url=shown,
            error=str(exc).splitlines()[0],
        )
    if not isinstance(exc, DBAPIError):
        return None
    orig = exc.orig if exc.orig is not None else exc
    detail = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
    low = detail.lower()
    if "file is not a database" in low or "file is encrypted" in low:
        return _(
            "{url} is not a reviewopt database (the file is not SQLite); point --db at the "
            "database, or at a new file and run `reviewopt init`",
            url=shown,
        )
    if "disk is full" in low or "no space left" in low or "could not extend file" in low:
        return _(
            "the disk of {url} is full ({error}); nothing of this run was written: free some "
            "space and run it again",
            url=shown,
            error=detail,
        )
    if "unable to open database file" in low:
        return _(
            "cannot open the SQLite database {url}: check that its folder exists and that you "
            "may write there",
            url=shown,
        )
    if "readonly database" in low or "read-only" in low:
        return _("the database {url} is read-only for you: {error}", url=shown, error=detail)
    if "database is locked" in low:
        return _(
            "the database {url} stayed busy with another process for too long; run the command "
            "again",
            url=shown,
        )
    if "nul" in low and "0x00" in low:
        return _(
            "the database {url} refused a text with a NUL character ({error}); remove it from "
            "the input",
            url=shown,
            error=detail,
        )
    if exc.connection_invalidated or any(
        w in low for w in ("connection", "could not connect", "does not exist", "authentication")
    ):
        return _(
            "cannot reach the database {url}: {error}; check that the server runs and accepts "
            "you, and the URL (--db or REVIEWOPT_DB)",
            url=shown,
            error=detail,
        )
    return _("database error on {url}: {error}", url=shown, error=detail)


def _display_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url
