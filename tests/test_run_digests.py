"""Result digests cover what a run stored, never how long it took: two identical seeded draws
digest alike, a different seed does not; an import's digest covers the values imported."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, select

from data.build_guide import load_guide
from data.generate import generate_batch, write_batch
from models.db import session
from models.schema import AssignmentRun, AuditEvent
from scripts.cli import cli


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    guide = load_guide()
    tables = generate_batch(
        guide[guide["code"].isin(["3001", "3002", "6001"])],
        n_experts=120,
        proposals_per_direction=(4, 5),
        seed=5,
    )
    out = tmp_path_factory.mktemp("digest")
    write_batch(tables, out)
    return out


def run(engine: Engine, *args: str) -> Result:
    url = engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(cli, ["--db", url, "--actor", "officer", *args])
    assert result.exit_code == 0, result.output
    return result


def _digests(engine: Engine, command: str) -> list[str | None]:
    with session(engine) as s:
        events = s.scalars(
            select(AuditEvent).where(AuditEvent.command == command).order_by(AuditEvent.id)
        )
        return [e.result_digest for e in events]


def test_identical_seeded_draws_have_identical_digests(engine: Engine, folder: Path) -> None:
    for step in (["import", "all", str(folder)], ["screen"], ["pool"], ["conflicts"]):
        run(engine, *step)
    draw = ["assign", "--k", "3", "--max-probability", "0.5", "--reserve-ratio", "1"]
    run(engine, *draw, "--seed", "4")
    run(engine, *draw, "--seed", "4")
    run(engine, *draw, "--seed", "5")
    first, second, other = _digests(engine, "assign")
    assert first == second and first != other
    with session(engine) as s:
        walls = [r.summary["wall_s"] for r in s.scalars(select(AssignmentRun))]
    assert len(walls) == 3  # the timings are kept with the runs, outside the digest
    run(engine, "import", "all", str(folder))
    imports = _digests(engine, "import all")
    assert imports[0] == imports[1]  # the same values imported again
