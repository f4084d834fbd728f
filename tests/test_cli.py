"""CLI behaviour outside the database pipeline: plain-file solving, usage errors, output forms."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from scripts.cli import cli

SCORES = "proposal,expert,score\n" + "".join(
    f"P{p},E{e},{((p * 7 + e * 3) % 10) / 10:.1f}\n" for p in range(4) for e in range(6)
)


def put(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_solve_from_plain_files_json(tmp_path: Path) -> None:
    scores = put(tmp_path, "scores.csv", SCORES)
    conflicts = put(tmp_path, "conflicts.csv", "proposal,expert\nP0,E0\nP1,E1\n")
    out = tmp_path / "a.csv"
    result = CliRunner().invoke(
        cli,
        ["solve", "--scores", str(scores), "--conflicts", str(conflicts), "--k", "2",
         "--max-load", "2", "--out", str(out), "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    for key in ("status", "objective", "bound", "gap", "wall_s"):
        assert key in data
    assert data["status"] == "optimal" and data["conflicts_violated"] == 0
    pairs = pd.read_csv(out, dtype=str)
    assert len(pairs) == 8 and pairs.groupby("proposal").size().eq(2).all()
    chosen = set(zip(pairs["proposal"], pairs["expert"], strict=True))
    assert not {("P0", "E0"), ("P1", "E1")} & chosen
    assert pairs["expert"].value_counts().max() <= 2
    total = pd.read_csv(scores, dtype={"proposal": str, "expert": str}).merge(
        pairs, on=["proposal", "expert"]
    )["score_x"]
    assert abs(total.sum() - data["objective"]) < 1e-9


def test_solve_fair_and_draw_modes(tmp_path: Path) -> None:
    scores = put(tmp_path, "scores.csv", SCORES)
    for extra in (["--fair", "--time-limit", "20"], ["--max-probability", "0.5", "--seed", "4"]):
        out = tmp_path / "a.csv"
        result = CliRunner().invoke(
            cli,
            ["solve", "--scores", str(scores), "--k", "2", "--max-load", "2",
             "--out", str(out), "--json", *extra],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        pairs = pd.read_csv(out, dtype=str)
        assert pairs.groupby("proposal").size().eq(2).all()
        data = json.loads(result.stdout)
        if "--fair" in extra:
            assert data["fair_min"] == pytest.approx(data["min_proposal_affinity"])
            assert data["fair_min_bound"] >= data["fair_min"]
            assert data["fair_gap"] >= 0
            assert [s["stage"] for s in data["stages"]] == ["min", "total"]
            assert {s["status"] for s in data["stages"]} <= {"optimal", "feasible", "time_limit"}
        else:
            assert data["max_pair_probability"] <= 0.5
            assert data["bound"] == data["expected_objective"] >= data["objective"] - 2


def test_solve_takes_the_matchers_inputs(tmp_path: Path) -> None:
    a = put(tmp_path, "a.csv", SCORES)
    b = put(tmp_path, "b.csv", "p,e,s\n".replace("p,e,s\n", "") + "P0,E5,0.9\nP3,E0,0.8\n")
    cons = put(tmp_path, "c.csv", "P1,E2,1\nP2,E3,-1\n")
    demands = put(tmp_path, "d.csv", "proposal,k\nP0,1\n")
    experts = put(tmp_path, "e.csv", "".join(f"E{e},2\n" for e in range(6)))
    out = tmp_path / "out.csv"
    args = ["solve", "--scores", str(a), "--scores", str(b), "--weights", "1,0.5",
            "--constraints", str(cons), "--demands", str(demands), "--experts", str(experts),
            "--k", "2", "--num-alternates", "2", "--out", str(out), "--json"]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    pairs = pd.read_csv(out, dtype=str)
    assert pairs.groupby("proposal").size().to_dict() == {"P0": 1, "P1": 2, "P2": 2, "P3": 2}
    assert ("P1", "E2") in set(zip(pairs["proposal"], pairs["expert"], strict=True))
    assert data["must_assign"] == 1 and data["k_violated"] == 0
    alt = pd.read_csv(tmp_path / "out.alternates.csv", dtype=str)
    assert list(alt.columns) == ["proposal", "expert", "score", "rank"]
    assert data["alternates"] == len(alt) == 8
    marg = tmp_path / "m.csv"
    result = CliRunner().invoke(
        cli, [*args[:-3], "--max-probability", "0.6", "--marginals-out", str(marg), "--out",
              str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    probs = pd.read_csv(marg, dtype={"proposal": str, "expert": str})
    assert probs.groupby("proposal")["probability"].sum().round(9).to_dict() == {
        "P0": 1,
        "P1": 2,
        "P2": 2,
        "P3": 2,
    }


def test_solve_weights_must_match_the_scores(tmp_path: Path) -> None:
    scores = put(tmp_path, "scores.csv", SCORES)
    result = CliRunner().invoke(
        cli,
        ["solve", "--scores", str(scores), "--weights", "1", "--weights", "2", "--out", "x.csv"],
    )
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: --weights gives 2 weights for 1 --scores files; give one per file\n"
    )


def test_solve_rejects_bad_files_with_exit_3(tmp_path: Path) -> None:
    scores = put(tmp_path, "scores.csv", "proposal,expert,score\nP1,E1,high\nP1,E1,0.5\n")
    result = CliRunner().invoke(
        cli, ["solve", "--scores", str(scores), "--k", "1", "--max-load", "1", "--out", "x.csv"]
    )
    assert result.exit_code == 3
    assert result.stdout == ""
    err = result.stderr.replace(str(tmp_path) + "/", "")
    assert "2 problems in the input; nothing was written:" in err
    assert "scores.csv, row 2, column score: got 'high'; expected a finite number" in err
    assert "scores.csv, row 3, column proposal,expert: got 'P1,E1'" in err
    assert "Traceback" not in result.output


def test_solve_infeasible_exits_4_with_a_diagnosis(tmp_path: Path) -> None:
    scores = put(tmp_path, "scores.csv", SCORES)
    result = CliRunner().invoke(
        cli,
        ["solve", "--scores", str(scores), "--k", "5", "--max-load", "1", "--out",
         str(tmp_path / "a.csv")],
    )  # fmt: skip
    assert result.exit_code == 4
    assert "infeasible" in result.stdout
    assert "raise max_load" in result.stdout or "lower k" in result.stdout
    assert not (tmp_path / "a.csv").exists()


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["formats", "nonsense"]).exit_code == 2
    result = runner.invoke(cli, ["--db", f"sqlite:///{tmp_path}/x.db", "export", "units",
                                 "--format", "xlsx"])  # fmt: skip
    assert result.exit_code == 2
    assert "--format xlsx needs --out FILE.xlsx" in result.stderr
    scores = put(tmp_path, "scores.csv", SCORES)
    both = runner.invoke(
        cli,
        ["solve", "--scores", str(scores), "--k", "1", "--out", "a.csv", "--fair",
         "--max-probability", "0.5"],
    )  # fmt: skip
    assert both.exit_code == 2
    assert "--fair and --max-probability cannot be combined" in both.stderr
    db = ["--db", f"sqlite:///{tmp_path}/x.db", "assign"]
    for bad, said in (("P1", "--k-proposal takes ID=K, got 'P1'"),
                      ("P1=2 --k-proposal P1=3", "--k-proposal gives P1 twice")):  # fmt: skip
        args = [x for item in bad.split(" --k-proposal ") for x in ("--k-proposal", item)]
        result = runner.invoke(cli, [*db, *args])
        assert result.exit_code == 2 and said in result.stderr


def test_formats_lists_chinese_aliases() -> None:
    result = CliRunner().invoke(cli, ["formats", "people", "--json"])
    assert result.exit_code == 0
    columns = {c["column"]: c["zh"] for c in json.loads(result.stdout)["columns"]}
    assert columns["name"] == "姓名" and columns["unit_id"] == "单位编号"
