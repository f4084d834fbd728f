"""`reviewopt rank` on real review shapes: one review per expert (leniency not identifiable),
the notes under --json, and ties ordered by proposal id."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from click.testing import CliRunner, Result
from sqlalchemy import Engine

from scripts.cli import cli

FILES = {
    "batches": "batch_id,name,year,batch_date,deadline\n"
    "2024,2024年度,2024,2024-09-01,2024-08-05 17:30\n",
    "guide": "code,programme,title\n3001,人工智能,垂直领域大模型关键技术研发与场景应用\n",
    "units": "unit_id,name,type,city,province\nU1,江苏恒远集团有限公司,企业,南京,江苏\n",
}
CRITERIA = {"innovation": 20, "feasibility": 20, "team": 16, "prospects": 16}


def run(engine: Engine, *args: str) -> Result:
    url = engine.url.render_as_string(hide_password=False)
    return CliRunner().invoke(cli, ["--db", url, "--actor", "chair", "--lang", "en", *args])


def _batch(engine: Engine, tmp_path: Path, reviews: Sequence[tuple[str, str, float]]) -> None:
    """Proposals, experts, an outside assignment of exactly the reviewed pairs, the reviews."""
    props = sorted({p for p, _e, _t in reviews})
    experts = sorted({e for _p, e, _t in reviews})
    files = dict(FILES)
    files["people"] = "person_id,name,unit_id\n" + "".join(
        f"{x},某{x},U1\n" for x in ["PI", *experts]
    )
    files["experts"] = "expert_id,kind\n" + "".join(f"{e},academic\n" for e in experts)
    files["proposals"] = (
        "proposal_id,batch_id,direction_code,title,lead_unit_id,pi_id,total_budget_wan,"
        "requested_wan\n" + "".join(f"{p},2024,3001,题目{p},U1,PI,3000,900\n" for p in props)
    )
    files["assignments"] = "batch_id,proposal_id,expert_id,status\n" + "".join(
        f"2024,{p},{e},accepted\n" for p, e, _t in reviews
    )
    rows = []
    for p, e, total in reviews:
        rows.append({"proposal_id": p, "expert_id": e, **CRITERIA, "targets": total - 72,
                     "total": total, "verdict": "recommend", "confidence": 3})  # fmt: skip
    folder = tmp_path / "batch"
    folder.mkdir()
    for kind, text in files.items():
        (folder / f"{kind}.csv").write_text(text)
    pd.DataFrame(rows).to_csv(folder / "reviews.csv", index=False)
    result = run(engine, "import", "all", str(folder))
    assert result.exit_code == 0, result.output


ONE_EACH = [("Q1", "E1", 80), ("Q1", "E2", 75), ("Q2", "E3", 78), ("Q2", "E4", 74),
            ("Q3", "E5", 76), ("Q3", "E6", 79)]  # fmt: skip


def test_zscore_refuses_one_review_per_expert(engine: Engine, tmp_path: Path) -> None:
    _batch(engine, tmp_path, ONE_EACH)
    result = run(engine, "rank", "--method", "zscore")
    assert result.exit_code == 3
    assert "zscore needs experts with at least two reviews" in result.stderr
    assert "Traceback" not in result.output


def test_bayes_falls_back_and_says_so(engine: Engine, tmp_path: Path) -> None:
    _batch(engine, tmp_path, ONE_EACH)
    out = run(engine, "rank", "--json")
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["leniency_identifiable"] == "none" and data["leniency_estimated"] is False
    assert any("per-proposal shrinkage" in n for n in data["notes"])
    table = run(engine, "rank")
    assert "leniency identifiable: none (no expert reviewed two proposals)" in table.stdout
    assert "Most severe and most lenient experts" not in table.stdout
    assert run(engine, "export", "leniencies").stdout.strip().splitlines()[1:] == []


def test_ties_are_ordered_by_proposal_id(engine: Engine, tmp_path: Path) -> None:
    same = [(p, e, t) for p in ("Q9", "Q3", "Q5") for e, t in (("E1", 80), ("E2", 74))]
    _batch(engine, tmp_path, same)
    out = json.loads(run(engine, "rank", "--method", "raw_mean", "--draws", "0", "--json").stdout)
    assert out["leniency_identifiable"] == "global"
    ranks = pd.read_csv(
        pd.io.common.StringIO(run(engine, "export", "rankings").stdout.lstrip("\ufeff"))
    )
    ranks = ranks[ranks["method"] == "raw_mean"].sort_values("expected_rank")
    assert ranks["proposal"].tolist() == ["Q3", "Q5", "Q9"]
