"""Shared fixtures: a fresh database per test on SQLite, and on PostgreSQL where one answers.

PostgreSQL tests use ``REVIEWOPT_TEST_PG_URL`` (``.ci/run`` sets it when the server at
127.0.0.1:5432 answers); each test gets its own schema, dropped afterwards. Without the
variable or the server they are skipped with the reason shown in the summary.
"""

from __future__ import annotations

import io
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
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


# --- one small batch taken through every stage by the CLI, shared by the tests that read it ---

RUN_CODES = ("3001", "3002", "6001", "8001")


@dataclass
class BatchRun:
    """A small generated batch run from import to finalisation through the CLI.

    ``url``: its database; ``batch_dir``: the generated files; ``outputs``: every command's
    stdout (``--json`` where the command has it), by step; ``status``: ``status --json`` after
    ``fresh`` (schema only), ``imported``, ``assigned`` (half-done: no reviews) and
    ``finalised``.
    """

    url: str
    batch_dir: Path
    outputs: dict[str, str] = field(default_factory=dict)
    status: dict[str, dict] = field(default_factory=dict)


def _run_batch(url: str, workdir: Path) -> BatchRun:
    from click.testing import CliRunner

    from data.build_guide import load_guide
    from data.generate import generate_batch, write_batch
    from scoring.simulate import simulate_reviews
    from scripts.cli import cli

    guide = load_guide()
    tables = generate_batch(
        guide[guide["code"].isin(RUN_CODES)], n_experts=160, proposals_per_direction=(5, 6), seed=3
    )
    run = BatchRun(url, workdir / "batch")
    write_batch(tables, run.batch_dir)

    def step(name: str, *args: str) -> str:
        result = CliRunner().invoke(cli, ["--db", url, "--actor", "officer", *args])
        assert result.exit_code == 0, (name, result.output)
        run.outputs[name] = result.stdout
        return result.stdout

    def status(label: str) -> None:
        run.status[label] = json.loads(step(f"status {label}", "status", "--json"))

    step("init", "init", "--json")
    status("fresh")
    step("import", "import", "all", str(run.batch_dir), "--json")
    status("imported")
    for command in ("screen", "pool", "conflicts"):
        step(command, command, "--json")
    step("assign", "assign", "--k", "3", "--reserve-ratio", "1", "--max-probability", "0.6",
         "--seed", "1", "--json")  # fmt: skip
    status("assigned")
    invited = pd.read_csv(io.StringIO(step("invited", "export", "assignments")), dtype=str)
    invited = invited[invited["status"] == "invited"]
    first = invited.iloc[0]
    step("replace", "replace", f"{first['proposal']}:{first['expert']}", "--json")
    step("panel", "assign", "--mode", "panel", "--panel-size", "3", "--panel-min", "1", "--json")
    now = pd.read_csv(io.StringIO(step("invited again", "export", "assignments")), dtype=str)
    pairs = now.loc[now["status"] == "invited", ["proposal", "expert"]]
    reviews = simulate_reviews(
        pairs.set_axis(["proposal_id", "expert_id"], axis=1),
        tables["truth_proposals"],
        tables["truth_experts"],
        seed=1,
    )
    reviews.to_csv(workdir / "reviews.csv", index=False)
    step("reviews", "import", "reviews", str(workdir / "reviews.csv"), "--json")
    step("rank", "rank", "--draws", "20", "--json")
    step("select", "select", "--draws", "10", "--json")
    step("finalize", "finalize", "--json")
    status("finalised")
    step("audit", "audit", "--last", "100", "--json")
    return run


@pytest.fixture(scope="session")
def sqlite_batch_run(tmp_path_factory: pytest.TempPathFactory) -> BatchRun:
    """:class:`BatchRun` on SQLite alone, for tests that work on a copy of its database file."""
    workdir = tmp_path_factory.mktemp("run_sqlite")
    return _run_batch(f"sqlite:///{workdir / 'run.db'}", workdir)


@pytest.fixture(
    scope="session", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def batch_run(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BatchRun]:
    """:class:`BatchRun` on SQLite, and on PostgreSQL where one answers (read it only)."""
    if request.param == "sqlite":
        yield request.getfixturevalue("sqlite_batch_run")
        return
    workdir = tmp_path_factory.mktemp("run_postgres")
    if _PG_SKIP:
        pytest.skip(_PG_SKIP)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    eng = _pg_engine(schema)
    yield _run_batch(eng.url.render_as_string(hide_password=False), workdir)
    eng.dispose()
    admin = create_engine(PG_URL)  # type: ignore[arg-type]
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()
