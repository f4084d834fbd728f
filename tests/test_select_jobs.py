"""Selection runs in the database, on SQLite and PostgreSQL: stored options reused on rerun,
what changed between runs, override replies, digests of content, a finalize that locks every
command feeding the decisions (also against a select running at the same time), and review
status per assignment run."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, select

import models.select_jobs as select_jobs
from assign.pipeline import AssignOptions
from data.build_guide import load_guide
from data.generate import generate_batch, write_batch
from models import assign_jobs, jobs, screen_jobs, views
from models.db import session
from models.finalisation import BatchFinalized
from models.schema import Assignment, AuditEvent, Decision, Finding, Review, SelectionRun
from scoring.simulate import simulate_reviews
from scripts.cli import cli

CODES = ["3001", "3002", "6001", "6002"]


@pytest.fixture(scope="module")
def batch_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    guide = load_guide()
    tables = generate_batch(
        guide[guide["code"].isin(CODES)], n_experts=200, proposals_per_direction=(6, 7), seed=11
    )
    out = tmp_path_factory.mktemp("batch")
    write_batch(tables, out)
    return out


def run(engine: Engine, *args: str) -> Result:
    url = engine.url.render_as_string(hide_password=False)
    return CliRunner().invoke(cli, ["--db", url, "--actor", "chair", "--lang", "en", *args])


def js(result: Result) -> dict[str, Any]:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def reviews_file(engine: Engine, batch_dir: Path, path: Path, run_id: int) -> Path:
    with session(engine) as s:
        pairs = pd.DataFrame(
            s.execute(
                select(Assignment.proposal_id, Assignment.expert_id).where(
                    Assignment.run_id == run_id, Assignment.status == "invited"
                )
            ).all(),
            columns=["proposal_id", "expert_id"],
        )
    truth_p = pd.read_csv(batch_dir / "truth_proposals.csv", dtype={"proposal_id": str})
    truth_e = pd.read_csv(batch_dir / "truth_experts.csv", dtype={"expert_id": str})
    simulate_reviews(pairs, truth_p, truth_e, seed=2).to_csv(path, index=False)
    return path


def ranked(engine: Engine, batch_dir: Path, tmp_path: Path) -> Path:
    """Import, screen, pool, conflicts, assign (k = 3), reviews and rank; the reviews file."""
    jobs.import_all(engine, batch_dir, actor="officer")
    screen_jobs.screen_job(engine, None, actor="officer")
    screen_jobs.pool_job(engine, None, filters=screen_jobs.PoolFilters(), actor="officer")
    screen_jobs.conflicts_job(engine, None, actor="officer")
    spec = assign_jobs.RunSpec(mode="review", options=AssignOptions(k=3), seed=1)
    out = assign_jobs.assign_job(engine, None, spec=spec, actor="officer")
    path = reviews_file(engine, batch_dir, tmp_path / "reviews.csv", out.run_id)
    jobs.import_kind(engine, "reviews", path, actor="officer")
    jobs.rank_job(engine, None, n_draws=30, actor="officer")
    return path


def decisions(engine: Engine) -> dict[str, tuple[bool, float]]:
    with session(engine) as s:
        rows = s.execute(select(Decision.proposal_id, Decision.selected, Decision.grant_wan))
        return {p: (bool(sel), float(g)) for p, sel, g in rows}


def test_rerun_reuses_options_reports_changes_and_digests_content(
    engine: Engine, batch_dir: Path, tmp_path: Path
) -> None:
    ranked(engine, batch_dir, tmp_path)
    first = js(run(engine, "select", "--budget", "5000", "--draws", "20", "--seed", "4", "--json"))
    assert first["changed"] == {"funded_in": [], "funded_out": [], "grant_changed": []}
    assert first["options"]["budget_wan"] == 5000 and first["options_reused_from"] is None
    again = js(run(engine, "select", "--json"))
    assert again["options_reused_from"] == first["run_id"]
    assert again["options"] == first["options"]  # budget, draws and seed reused
    assert again["changed"] == first["changed"]
    with session(engine) as s:
        digests = list(s.scalars(select(SelectionRun.result_digest).order_by(SelectionRun.run_id)))
    assert digests[0] == digests[1]  # two identical seeded runs, identical content digests
    before = decisions(engine)
    text = run(engine, "select", "--budget", "2500")
    assert text.exit_code == 0, text.output
    assert f"Option changed since run {again['run_id']}: --budget 5000.0 → --budget 2500.0" in (
        text.stdout
    )
    assert "Reusing the options of select run" in text.stdout
    after = decisions(engine)
    funded_out = sorted(p for p, (sel, _g) in before.items() if sel and not after[p][0])
    funded_in = sorted(p for p, (sel, _g) in after.items() if sel and not before[p][0])
    assert funded_out  # a smaller budget funds less
    with session(engine) as s:
        event = s.scalars(
            select(AuditEvent).where(AuditEvent.command == "select").order_by(AuditEvent.id.desc())
        ).first()
    assert event is not None
    assert event.params["changed"]["funded_out"] == funded_out
    assert event.params["changed"]["funded_in"] == funded_in
    fresh = js(run(engine, "select", "--fresh", "--draws", "0", "--json"))
    assert fresh["options"]["budget_wan"] is None and fresh["options_reused_from"] is None


def test_override_reply_lists_every_decision_it_moved(
    engine: Engine, batch_dir: Path, tmp_path: Path
) -> None:
    ranked(engine, batch_dir, tmp_path)
    assert run(engine, "override", "P-3001-01", "clear", "--reason", "nothing yet").exit_code == 0
    js(run(engine, "select", "--budget", "4000", "--draws", "0", "--json"))
    before = decisions(engine)
    loser = sorted(p for p, (sel, _g) in before.items() if not sel)[-1]
    reply = js(run(engine, "override", loser, "force_in", "--reason", "strategic need", "--json"))
    after = decisions(engine)
    assert reply["applied"] and loser in reply["changed"]["funded_in"]
    moved_in = sorted(p for p in after if after[p][0] and not before[p][0])
    moved_out = sorted(p for p in after if before[p][0] and not after[p][0])
    regranted = sorted(p for p in after if before[p][0] and after[p][0] and before[p] != after[p])
    assert reply["changed"]["funded_in"] == moved_in
    assert reply["changed"]["funded_out"] == moved_out
    assert sorted(g["proposal"] for g in reply["changed"]["grant_changed"]) == regranted


def test_finalize_locks_every_command_until_unlocked(
    engine: Engine, batch_dir: Path, tmp_path: Path
) -> None:
    reviews = ranked(engine, batch_dir, tmp_path)
    js(run(engine, "select", "--draws", "0", "--json"))
    assert run(engine, "finalize").exit_code == 0
    changed = pd.read_csv(reviews, dtype=str)
    changed.loc[0, "verdict"] = "abstain"
    changed_path = tmp_path / "changed.csv"
    changed.to_csv(changed_path, index=False)
    with session(engine) as s:
        p, e = s.execute(
            select(Assignment.proposal_id, Assignment.expert_id).where(
                Assignment.status == "invited"
            )
        ).first()  # type: ignore[misc]
        fp, rule = s.execute(select(Finding.proposal_id, Finding.rule)).first()  # type: ignore[misc]
    locked = [
        ["import", "reviews", str(changed_path)],
        ["assign", "--k", "3"],
        ["replace", f"{p}:{e}"],
        ["waive", fp, rule, "--reason", "a clerical slip"],
        ["screen"],
        ["pool"],
        ["conflicts"],
        ["rank", "--draws", "10"],
        ["select", "--draws", "0"],
        ["override", "P-3001-01", "force_out", "--reason", "x"],
        *(["import", kind, str(path)] for kind, path in _changed_inputs(batch_dir, tmp_path, p, e)),
    ]
    with session(engine) as s:
        n_reviews = len(s.scalars(select(Review.id)).all())
    for args in locked:
        result = run(engine, *args)
        assert result.exit_code == 5, (args, result.output)
        assert "batch 2024 was finalised by chair" in result.stderr, args
    with session(engine) as s:
        assert len(s.scalars(select(Review.id)).all()) == n_reviews
    assert run(engine, "import", "reviews", str(reviews)).exit_code == 0  # nothing changes
    assert run(engine, "import", "all", str(batch_dir)).exit_code == 0  # nothing changes
    newcomer = tmp_path / "newcomer.csv"  # a new person changes no batch (the next one needs them)
    pd.DataFrame([{"person_id": "NEW-1", "name": "新人"}]).to_csv(newcomer, index=False)
    assert run(engine, "import", "people", str(newcomer)).exit_code == 0
    assert run(engine, "unlock", "--reason", "appeal upheld").exit_code == 0
    for args in (["import", "reviews", str(changed_path)], ["rank", "--draws", "10"],
                 ["select", "--draws", "0"]):  # fmt: skip
        assert run(engine, *args).exit_code == 0, args
    for kind, path in _changed_inputs(batch_dir, tmp_path, p, e):
        assert run(engine, "import", kind, str(path)).exit_code == 0, kind


def _changed_inputs(batch_dir: Path, tmp_path: Path, p: str, e: str) -> list[tuple[str, Path]]:
    """One file per kind that changes the batch: a proposal's request, a person's name, an
    expert's load, a team member added, and an outside assignment run."""
    out = []
    for kind, column, value in (("proposals", "requested_wan", "99"), ("people", "name", "改名"),
                                ("experts", "max_load", "9")):  # fmt: skip
        frame = pd.read_csv(batch_dir / f"{kind}.csv", dtype=str, keep_default_na=False).head(1)
        frame[column] = value
        out.append((kind, frame))
    out.append(
        ("team_members", pd.DataFrame([{"proposal_id": p, "person_id": e, "role": "member"}]))
    )
    out.append(("assignments", pd.DataFrame([{"batch_id": "2024", "proposal_id": p,
                                              "expert_id": e, "status": "invited"}])))  # fmt: skip
    paths = []
    for kind, frame in out:
        path = tmp_path / f"changed_{kind}.csv"
        frame.to_csv(path, index=False)
        paths.append((kind, path))
    return paths


def test_finalize_while_select_runs_cannot_be_overwritten(
    engine: Engine, batch_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ranked(engine, batch_dir, tmp_path)
    select_jobs.select_job(engine, None, given={"draws": 0}, actor="chair")
    final = decisions(engine)
    computed, go_on = threading.Event(), threading.Event()
    real = select_jobs.select_projects

    def slow(*args: Any, **kwargs: Any) -> Any:
        out = real(*args, **kwargs)
        computed.set()
        assert go_on.wait(60)
        return out

    monkeypatch.setattr(select_jobs, "select_projects", slow)
    errors: list[BaseException] = []

    def selecting() -> None:
        try:
            select_jobs.select_job(
                engine, None, given={"draws": 0, "budget_wan": 1000.0}, actor="late"
            )
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            errors.append(exc)

    worker = threading.Thread(target=selecting)
    worker.start()
    assert computed.wait(60)
    select_jobs.finalize_job(engine, None, actor="chair")  # while select is mid-run
    go_on.set()
    worker.join(60)
    assert len(errors) == 1 and isinstance(errors[0], BatchFinalized)
    assert decisions(engine) == final


def test_review_status_counts_reviews_per_assignment_run(
    engine: Engine, batch_dir: Path, tmp_path: Path
) -> None:
    ranked(engine, batch_dir, tmp_path)
    spec = assign_jobs.RunSpec(mode="review", options=AssignOptions(k=2), seed=9)
    assign_jobs.assign_job(engine, None, spec=spec, actor="officer")
    with session(engine) as s:
        status = views.frame(s, "review_status")
        status["run_id"] = status["run_id"].astype(int)
        invited = pd.DataFrame(
            s.execute(
                select(Assignment.run_id, Assignment.proposal_id, Assignment.expert_id).where(
                    Assignment.status.in_(("invited", "accepted"))
                )
            ).all(),
            columns=["run_id", "proposal", "expert"],
        )
        reviewed = set(s.execute(select(Review.proposal_id, Review.expert_id)).all())
    assert sorted(status["run_id"].unique()) == sorted(invited["run_id"].unique())
    invited["got"] = [
        (p, e) in reviewed for p, e in zip(invited["proposal"], invited["expert"], strict=False)
    ]
    expect = invited.groupby(["run_id", "proposal"])["got"].sum().astype(int).to_dict()
    got = status.set_index(["run_id", "proposal"])["received"].astype(int).to_dict()
    assert {(int(r), str(p)): n for (r, p), n in got.items()} == {
        (int(r), str(p)): n for (r, p), n in expect.items()
    }
    latest = status[status["run_id"] == status["run_id"].max()]
    assert (latest["invited"] == 2).all()
