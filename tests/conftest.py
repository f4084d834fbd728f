"""Shared fixtures: a fresh database per test on SQLite, and on PostgreSQL where one answers.

PostgreSQL tests use ``REVIEWOPT_TEST_PG_URL`` (``.ci/run`` sets it when the server at
127.0.0.1:5432 answers); each test gets its own schema, dropped afterwards. Without the
variable or the server they are skipped with the reason shown in the summary.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text

from models.db import make_engine, upgrade

PG_URL = os.environ.get("REVIEWOPT_TEST_PG_URL")


def _pg_engine(schema: str) -> Engine:
    """An engine whose connections live in ``schema`` (named in the URL, so the CLI can use it)."""
    assert PG_URL is not None
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    sep = "&" if "?" in PG_URL else "?"
    return make_engine(f"{PG_URL}{sep}options=-csearch_path%3D{schema}")


def _pg_available() -> str | None:
    """None when PostgreSQL can be used, else the reason it cannot."""
    if not PG_URL:
        return "REVIEWOPT_TEST_PG_URL is not set (no PostgreSQL server for the database tests)"
    try:
        eng = create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with eng.connect():
            pass
        eng.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure means: skip with the reason
        return f"PostgreSQL at REVIEWOPT_TEST_PG_URL does not answer: {exc.__class__.__name__}"
    return None


_PG_SKIP = _pg_available()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path) -> Iterator[Engine]:  # type: ignore[no-untyped-def]
    """A freshly initialised database (schema at head) on each backend."""
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'test.db'}")
        upgrade(eng)
        yield eng
        eng.dispose()
        return
    if _PG_SKIP:
        pytest.skip(_PG_SKIP)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    eng = _pg_engine(schema)
    upgrade(eng)
    yield eng
    eng.dispose()
    admin = create_engine(PG_URL)  # type: ignore[arg-type]
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def sqlite_engine(tmp_path) -> Iterator[Engine]:  # type: ignore[no-untyped-def]
    eng = make_engine(f"sqlite:///{tmp_path / 'test.db'}")
    upgrade(eng)
    yield eng
    eng.dispose()
