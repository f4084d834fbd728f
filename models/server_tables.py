"""Tables of the web workbench and of the job queue: users and their logins, jobs with their
state and progress, uploaded files, and the server's own settings.

They live in the same database as the batch, so that a job, its uploads and its audit event
commit together, and so that every server and worker process sharing the database (SQLite
file, or PostgreSQL for several machines) sees the same users, jobs and locks.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.schema import Base

ROLES = ("admin", "officer", "chair", "viewer")
JOB_STATES = ("queued", "running", "done", "failed")


class User(Base):
    """A person who logs in to the workbench, with one role (see ``web.roles``)."""

    __tablename__ = "users"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(256))  # argon2id, with its own salt
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(64))


class LoginAttempt(Base):
    """One failed login, by user name and client address (the rate limit counts them)."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)


class Job(Base):
    """A run that outlives the request (import, screen, pool, conflicts, assign, replace, rank,
    select, waive): queued, then running on one worker, then done or failed.

    ``progress`` is a fraction in [0, 1] and ``stage`` the step it is at (a stored message);
    ``result`` holds the run's figures when done, ``error`` the message (and ``problems`` the
    rows of an invalid file) when failed. A worker beats ``heartbeat_at`` while it runs, so
    that a job whose worker died is marked failed by the next worker that looks.
    """

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    batch_id: Mapped[str | None] = mapped_column(String(32), index=True)
    params: Mapped[dict] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), index=True)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    stage: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    problems: Mapped[list | None] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    worker: Mapped[str | None] = mapped_column(String(128))
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class Upload(Base):
    """An uploaded file, kept in the database only (its name is shown, never used as a path)."""

    __tablename__ = "uploads"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(256))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)


class ServerSetting(Base):
    """A setting every server process shares (the session-signing key)."""

    __tablename__ = "server_settings"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


__all__ = ["JOB_STATES", "ROLES", "Job", "LoginAttempt", "ServerSetting", "Upload", "User"]
