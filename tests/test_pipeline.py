"""The whole pipeline through the CLI on a small generated batch, on SQLite and PostgreSQL:
import → screen → pool → conflicts → assign → replace → reviews → rank → select → override →
finalize, with the invariants each stage promises and the exit codes of its failures."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, func, select

from assign.screening import RULES
from data.build_guide import load_guide
from data.generate import generate_batch, write_batch
from models.db import batch_lock, session
from models.demo import _planted_check
from models.schema import Assignment, AuditEvent, Conflict, Decision, Review
from scoring.simulate import simulate_reviews
from scripts.cli import cli

CODES = ["3001", "3002", "3003", "6001", "6002", "8001"]


@pytest.fixture(scope="module")
def batch_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    guide = load_guide()
    tables = generate_batch(
        guide[guide["code"].isin(CODES)], n_experts=260, proposals_per_direction=(6, 8), seed=7
    )
    out = tmp_path_factory.mktemp("batch")
    write_batch(tables, out)
    return out


def run(engine: Engine, *args: str) -> Result:
    url = engine.url.render_as_string(hide_password=False)
    head = ["--db", url, "--actor", "chair"]
    if args and args[0] == "--wait":
        head, args = [*head, *args[:2]], args[2:]
    return CliRunner().invoke(cli, [*head, *args])


def js(result: Result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_pipeline_end_to_end(engine: Engine, batch_dir: Path, tmp_path: Path) -> None:
    assert run(engine, "import", "all", str(batch_dir)).exit_code == 0

    screened = js(run(engine, "screen", "--json"))
    planted = pd.read_csv(batch_dir / "planted.csv", dtype=str)
    rejects = planted["rule"].map(lambda r: RULES[r].severity) == "reject"
    assert screened["rejected"] == planted.loc[rejects, "proposal_id"].nunique()
    check = _planted_check(engine)  # the demo's figures: every plant found at its severity
    assert check["planted"] == rejects.sum() == check["planted_found"]
    assert check["planted_warnings"] == (~rejects).sum() == check["planted_warnings_found"]
    assert check["unplanted_rejections"] == 0

    assert js(run(engine, "pool", "--json"))["set_aside"] >= 0
    conflicts = js(run(engine, "conflicts", "--json"))
    assert conflicts["pairs"] > 0

    # exit 3 when a stage is asked for something impossible to parse, 4 when infeasible
    assert run(engine, "assign", "--k-direction", "3001=x").exit_code == 2
    infeasible = run(engine, "assign", "--k", "60")
    assert infeasible.exit_code == 4
    assert "need" in infeasible.stderr and "experts" in infeasible.stderr

    assigned = js(
        run(engine, "assign", "--k", "3", "--max-probability", "0.5", "--reserve-ratio", "1",
            "--seed", "3", "--json")
    )  # fmt: skip
    assert assigned["conflicts_violated"] == 0 and assigned["k_violated"] == 0
    assert assigned["objective"] == assigned["total_affinity"] and "bound" in assigned
    with session(engine) as s:
        invited = s.execute(
            select(Assignment.proposal_id, Assignment.expert_id).where(
                Assignment.status == "invited"
            )
        ).all()
        conflicted = set(s.execute(select(Conflict.proposal_id, Conflict.expert_id)).all())
    assert not set(invited) & conflicted
    per_proposal = pd.Series([p for p, _ in invited]).value_counts()
    assert set(per_proposal) == {3}

    p, e = invited[0]
    replaced = js(run(engine, "replace", f"{p}:{e}", "--json"))
    assert replaced["declined"] == 1 and replaced["from_reserve"] + replaced["re_solved"] == 1
    with session(engine) as s:
        now_invited = s.execute(
            select(Assignment.proposal_id, Assignment.expert_id).where(
                Assignment.status == "invited"
            )
        ).all()
    assert (p, e) not in now_invited
    assert set(invited) - {(p, e)} <= set(now_invited)  # nobody else moved

    # reviews: a conflicted pair is refused with nothing written
    truth_p = pd.read_csv(batch_dir / "truth_proposals.csv", dtype={"proposal_id": str})
    truth_e = pd.read_csv(batch_dir / "truth_experts.csv", dtype={"expert_id": str})
    pairs = pd.DataFrame(now_invited, columns=["proposal_id", "expert_id"])
    reviews = simulate_reviews(pairs, truth_p, truth_e, seed=1)
    bad = reviews.copy()
    cp, ce = sorted(conflicted)[0]
    bad.loc[0, ["proposal_id", "expert_id"]] = [cp, ce]
    bad_path = tmp_path / "bad_reviews.csv"
    bad.to_csv(bad_path, index=False)
    refused = run(engine, "import", "reviews", str(bad_path))
    assert refused.exit_code == 3
    assert (
        f"expected an expert without a conflict of interest with the proposal ({cp}: see"
        in refused.stderr
    )
    with session(engine) as s:
        assert s.scalar(select(func.count()).select_from(Review)) == 0
    half = tmp_path / "reviews_half.csv"
    reviews.iloc[: len(reviews) // 2].to_csv(half, index=False)
    partial = js(run(engine, "import", "reviews", str(half), "--json"))
    assert len(partial["proposals_short_of_reviews"]) > 0
    good_path = tmp_path / "reviews.csv"
    reviews.to_csv(good_path, index=False)
    complete = js(run(engine, "import", "reviews", str(good_path), "--json"))
    assert complete["proposals_short_of_reviews"] == []
    assert complete["imported"]["reviews"]["unchanged"] == len(reviews) // 2

    explained = js(run(engine, "explain", ce, cp, "--json"))
    assert explained["conflicted"] and explained["reasons"]
    assert 0.0 <= explained["affinity"] <= 1.0

    invitations = run(engine, "export", "invitations")
    by_expert = pd.read_csv(pd.io.common.StringIO(invitations.stdout.lstrip("\ufeff")), dtype=str)
    assert (by_expert["role"] == "assigned").sum() == len(now_invited)
    assert by_expert["expert"].is_monotonic_increasing

    ranked = js(run(engine, "rank", "--draws", "50", "--json"))
    assert ranked["method"] == "bayes" and ranked["kendall_tau"] > 0.2

    chosen = js(run(engine, "select", "--draws", "30", "--json"))
    assert chosen["status"] == "optimal"
    assert 1 <= chosen["directions_funded"] <= len(CODES)
    assert chosen["funded"] <= 2 * chosen["directions_funded"]

    decisions = run(engine, "export", "decisions")
    frame = pd.read_csv(pd.io.common.StringIO(decisions.stdout.lstrip("\ufeff")), dtype=str)
    for col in ("proposal", "direction", "selected", "grant_wan", "requested_wan",
                "total_budget_wan", "lead_unit_type", "calibrated_score", "p_selected",
                "alternate_rank"):  # fmt: skip
        assert col in frame.columns
    loser = frame.loc[frame["selected"] == "False", "proposal"].iloc[0]

    assert run(engine, "override", loser, "force_in", "--reason", "strategic need").exit_code == 0
    after = js(run(engine, "select", "--draws", "0", "--json"))
    assert after["status"] == "optimal"
    with session(engine) as s:
        assert s.get(Decision, loser).selected  # type: ignore[union-attr]

    groups = put_groups(tmp_path, {"3001": "大模型", "3002": "大模型"})
    panels = js(run(engine, "assign", "--mode", "panel", "--panel-size", "3", "--panel-min", "1",
                    "--panel-groups", str(groups), "--json"))  # fmt: skip
    assert panels["panels"] == len(CODES) - 1

    assert run(engine, "finalize").exit_code == 0
    refused_select = run(engine, "select", "--draws", "0")
    assert refused_select.exit_code == 1
    assert "finalised by chair" in refused_select.stderr
    assert run(engine, "unlock").exit_code == 2  # the reason is required
    assert run(engine, "unlock", "--reason", "appeal upheld").exit_code == 0
    assert run(engine, "select", "--draws", "0").exit_code == 0

    with session(engine) as s:
        commands = [a.command for a in s.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    for c in ("import all", "screen", "pool", "conflicts", "assign", "replace", "rank",
              "select", "override", "finalize", "unlock"):  # fmt: skip
        assert c in commands


def put_groups(tmp_path: Path, groups: dict[str, str]) -> Path:
    path = tmp_path / "groups.csv"
    path.write_text(
        "direction_code,group\n" + "".join(f"{d},{g}\n" for d, g in groups.items()),
        encoding="utf-8",
    )
    return path


def test_assign_with_an_officers_affinity_file(
    engine: Engine, batch_dir: Path, tmp_path: Path
) -> None:
    for step in (["import", "all", str(batch_dir)], ["screen"], ["pool"], ["conflicts"]):
        assert run(engine, *step).exit_code == 0
    props = pd.read_csv(batch_dir / "proposals.csv", dtype=str)["proposal_id"]
    experts = pd.read_csv(batch_dir / "experts.csv", dtype=str)["expert_id"]
    rows = [(p, e, ((i * 31 + j * 17) % 100) / 100) for i, p in enumerate(props)
            for j, e in enumerate(experts[:40])]  # fmt: skip
    path = tmp_path / "scores.csv"
    pd.DataFrame(rows, columns=["proposal", "expert", "score"]).to_csv(path, index=False)
    result = js(run(engine, "assign", "--k", "2", "--affinity", str(path), "--json"))
    assert result["status"] == "optimal" and result["conflicts_violated"] == 0
    with session(engine) as s:
        used = set(s.scalars(select(Assignment.expert_id)))
    assert used <= set(experts[:40])  # only experts the file scores
    bad = tmp_path / "bad.csv"
    bad.write_text("proposal,expert,score\nP-X,E-Y,0.5\n", encoding="utf-8")
    refused = run(engine, "assign", "--k", "2", "--affinity", str(bad))
    assert refused.exit_code == 3
    assert "P-X" in refused.stderr


def test_locked_batch_exits_5(engine: Engine, batch_dir: Path) -> None:
    assert run(engine, "import", "all", str(batch_dir)).exit_code == 0
    with batch_lock(engine, "2024", holder="another-run"):
        result = run(engine, "screen")
    assert result.exit_code == 5
    assert "batch 2024 is locked by another run: another-run (process" in result.stderr
    assert run(engine, "screen").exit_code == 0  # released

    def hold_briefly() -> None:
        with batch_lock(engine, "2024", holder="short-run"):
            time.sleep(1.0)

    holder = threading.Thread(target=hold_briefly)
    holder.start()
    time.sleep(0.2)
    waited = run(engine, "--wait", "30", "screen")  # waits for the short run instead of exiting
    holder.join()
    assert waited.exit_code == 0, waited.output


def test_commands_before_init_say_so(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'none.db'}"
    result = CliRunner().invoke(cli, ["--db", url, "screen"])
    assert result.exit_code == 1
    assert "has no reviewopt schema; run `reviewopt init` first" in result.stderr
