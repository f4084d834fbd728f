"""`reviewopt status`: the stages of a batch on a fresh, a half-done and a finalised batch, what
is missing, the next command, and a stage left out of date by a later import."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from click.testing import CliRunner
from conftest import BatchRun
from sqlalchemy import Engine

from data.build_guide import load_guide
from data.generate import generate_batch, write_batch
from models.status import STAGES, status_job
from scripts.cli import cli


def by_name(status: dict) -> dict[str, dict]:
    assert [s["name"] for s in status["stages"]] == list(STAGES)
    for stage in status["stages"]:
        assert set(stage) == {"name", "done", "counts", "next"}  # exactly, for jobs
    return {s["name"]: s for s in status["stages"]}


def test_database_without_a_batch(batch_run: BatchRun) -> None:
    status = batch_run.status["fresh"]
    stages = by_name(status)
    assert status["batch"] is None and status["next"] == "reviewopt import all DIR"
    assert not any(s["done"] for s in stages.values())


def test_imported_batch_waits_for_screening(batch_run: BatchRun) -> None:
    status = batch_run.status["imported"]
    stages = by_name(status)
    proposals = pd.read_csv(batch_run.batch_dir / "proposals.csv", dtype=str)
    assert stages["imported"]["done"] and stages["imported"]["next"] is None
    assert stages["imported"]["counts"]["proposals"] == len(proposals)
    assert not stages["screened"]["done"] and stages["screened"]["counts"]["screened"] == 0
    assert status["next"] == "reviewopt screen"


def test_half_done_batch_waits_for_reviews(batch_run: BatchRun) -> None:
    status = batch_run.status["assigned"]
    stages = by_name(status)
    done = [s["name"] for s in status["stages"] if s["done"]]
    assert done == ["imported", "screened", "pool", "conflicts", "assigned", "declines"]
    screened = stages["screened"]["counts"]
    eligible = screened["eligible"] + screened["warnings"]  # rejected ones get no experts
    assigned = stages["assigned"]["counts"]
    assert assigned["proposals_to_assign"] == assigned["proposals_assigned"] == eligible
    assert assigned["invitations"] == 3 * eligible
    reviews = stages["reviews"]["counts"]
    assert reviews["reviews_in"] == 0 and reviews["reviews_expected"] == 3 * eligible
    assert reviews["proposals_short"] == eligible
    assert status["next"] == "reviewopt import reviews FILE"
    assert stages["ranked"]["next"] == "reviewopt rank"


def test_finalised_batch_has_nothing_left(batch_run: BatchRun) -> None:
    status = batch_run.status["finalised"]
    stages = by_name(status)
    assert all(s["done"] for s in stages.values()) and status["next"] is None
    assert status["finalized_by"] == "officer"
    reviews = stages["reviews"]["counts"]
    assert reviews["reviews_in"] == reviews["reviews_expected"] > 0
    assert stages["declines"]["counts"] == {"declined": 1, "open": 0}
    decisions = pd.read_csv(
        pd.io.common.StringIO(
            CliRunner().invoke(cli, ["--db", batch_run.url, "export", "decisions"]).stdout
        ),
        dtype={"selected": str},
    )
    assert stages["selected"]["counts"]["funded"] == (decisions["selected"] == "True").sum()


def test_a_later_import_leaves_screening_out_of_date(engine: Engine, tmp_path: Path) -> None:
    guide = load_guide()
    batch = tmp_path / "batch"
    tables = generate_batch(
        guide[guide["code"].isin(["3001"])], n_experts=30, proposals_per_direction=(3, 3)
    )
    write_batch({k: t for k, t in tables.items() if len(t)}, batch)
    url = engine.url.render_as_string(hide_password=False)

    def run(*args: str) -> str:
        result = CliRunner().invoke(cli, ["--db", url, *args])
        assert result.exit_code == 0, result.output
        return result.stdout

    run("import", "all", str(batch))
    run("screen")
    assert by_name(status_job(engine, None).as_dict())["screened"]["done"]
    run("import", "units", str(batch / "units.csv"))
    status = status_job(engine, None)
    screened = next(s for s in status.stages if s.name == "screened")
    assert not screened.done
    assert [m.render("en") for m in screened.missing] == ["data imported after the last screening"]
    assert status.next == "reviewopt screen"
    text = run("--lang", "zh", "status")
    assert "上次形式审查之后又导入了数据" in text and "下一步：reviewopt screen" in text
    english = run("--lang", "en", "status")
    assert "Next: reviewopt screen" in english and "Screening (形式审查)" in english


def test_several_batches_need_one_named(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "batches.csv"
    path.write_text(
        "batch_id,name,year,batch_date,deadline\n"
        "2024,甲,2024,2024-09-01,2024-08-05 17:30\n2025,乙,2025,2025-09-01,2025-08-05 17:30\n",
        encoding="utf-8",
    )
    url = engine.url.render_as_string(hide_password=False)
    assert CliRunner().invoke(cli, ["--db", url, "import", "batches", str(path)]).exit_code == 0
    vague = CliRunner().invoke(cli, ["--db", url, "status"])
    assert vague.exit_code == 1 and "name one with --batch" in vague.stderr
    named = CliRunner().invoke(cli, ["--db", url, "status", "--batch", "2025", "--json"])
    assert named.exit_code == 0
    assert '"next": "reviewopt import all DIR"' in named.stdout
