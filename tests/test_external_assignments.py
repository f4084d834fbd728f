"""An assignment made outside reviewopt: imported as a run, conflicted pairs flagged, reviews
imported against it, then ranking and selection without `reviewopt assign`."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, select

from assign.conflict_policy import load_policy
from assign.conflicts import find_conflicts
from data.build_guide import load_guide
from data.generate import generate_batch, write_batch
from models.db import session
from models.schema import Assignment, AssignmentRun, AuditEvent
from scoring.simulate import simulate_reviews
from scripts.cli import cli

CODES = ["3001", "3002", "6001", "8001"]


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, pd.DataFrame]]:
    guide = load_guide()
    tables = generate_batch(
        guide[guide["code"].isin(CODES)], n_experts=150, proposals_per_direction=(5, 6), seed=11
    )
    out = tmp_path_factory.mktemp("ext")
    write_batch(tables, out)
    return out, tables


def run(engine: Engine, *args: str) -> Result:
    url = engine.url.render_as_string(hide_password=False)
    return CliRunner().invoke(cli, ["--db", url, "--actor", "officer", "--lang", "en", *args])


def js(result: Result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _pairs(tables: dict[str, pd.DataFrame]) -> tuple[pd.DataFrame, tuple[str, str]]:
    """Three experts per proposal, as another platform would draw them, plus one pair that
    reviewopt's default policy finds conflicted."""
    props = sorted(tables["proposals"]["proposal_id"])
    experts = sorted(tables["experts"]["expert_id"])
    found = find_conflicts(
        tables, batch_date=pd.Timestamp("2024-09-01").date(), policy=load_policy(None)
    )
    bad = {(p, e) for p, e in zip(found["proposal_id"], found["expert_id"], strict=True)}
    rows, k = [], 0
    for p in props:
        chosen = 0
        while chosen < 3:
            e = experts[k % 24]  # 24 experts, each reviewing about three proposals
            k += 1
            if (p, e) not in bad:
                rows.append((p, e))
                chosen += 1
    conflicted = sorted(bad)[0]
    rows.append(conflicted)
    frame = pd.DataFrame(rows, columns=["proposal_id", "expert_id"])
    return frame, conflicted


def test_outside_assignment_then_reviews_rank_and_select(
    engine: Engine, batch: tuple[Path, dict[str, pd.DataFrame]], tmp_path: Path
) -> None:
    folder, tables = batch
    assert run(engine, "import", "all", str(folder)).exit_code == 0
    pairs, conflicted = _pairs(tables)
    sheet = pairs.assign(batch_id="2024", status="已接受")  # statuses may be written in Chinese
    sheet = sheet.rename(
        columns={"proposal_id": "项目编号", "expert_id": "专家编号", "batch_id": "批次"}
    )
    sheet["状态"] = sheet.pop("status")
    path = tmp_path / "assignments.csv"
    sheet.to_csv(path, index=False)

    out = js(run(engine, "import", "assignments", str(path), "--json"))
    counts = out["imported"]["assignments"]
    assert (counts["created"], counts["updated"]) == (len(pairs), 0)
    flagged = [(f["proposal_id"], f["expert_id"]) for f in counts["findings"]]
    assert conflicted in flagged and all(f["reason"] for f in counts["findings"])
    with session(engine) as s:
        runs = list(s.scalars(select(AssignmentRun)))
        assert [(r.mode, r.params["label"]) for r in runs] == [("external", "external")]
        assert runs[0].summary["conflicted"]
        events = [e.command for e in s.scalars(select(AuditEvent))]
        assert "assign" not in events
        message = s.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        assert message is not None and "conflicted pairs imported" in (message.message or "")

    clean = pairs[[tuple(r) != conflicted for r in pairs.itertuples(index=False)]]
    reviews = simulate_reviews(clean, tables["truth_proposals"], tables["truth_experts"], seed=2)
    rpath = tmp_path / "reviews.csv"
    reviews.to_csv(rpath, index=False)
    imported = js(run(engine, "import", "reviews", str(rpath), "--json"))
    assert imported["imported"]["reviews"]["created"] == len(clean)
    assert imported["proposals_short_of_reviews"] == [conflicted[0]]

    stray = reviews.head(1).assign(expert_id=sorted(tables["experts"]["expert_id"])[-1])
    stray.to_csv(tmp_path / "stray.csv", index=False)
    result = run(engine, "import", "reviews", str(tmp_path / "stray.csv"))
    assert result.exit_code == 3
    assert "expected an expert assigned to the proposal in the batch's latest assignment run" in (
        result.stderr
    )

    assert js(run(engine, "screen", "--json"))["proposals"] == len(tables["proposals"])
    ranked = js(run(engine, "rank", "--json"))
    assert ranked["proposals"] == len(tables["proposals"])
    assert ranked["leniency_identifiable"] in ("global", "within_components")
    selected = js(run(engine, "select", "--json"))
    assert selected["status"] == "optimal" and selected["funded"] >= 1


def test_reimport_updates_statuses_and_keeps_pairs(
    engine: Engine, batch: tuple[Path, dict[str, pd.DataFrame]], tmp_path: Path
) -> None:
    folder, tables = batch
    assert run(engine, "import", "all", str(folder)).exit_code == 0
    pairs, _ = _pairs(tables)
    first = pairs.assign(batch_id="2024", status="invited", run_label="平台第一轮")
    first.to_csv(tmp_path / "a1.csv", index=False)
    js(run(engine, "import", "assignments", str(tmp_path / "a1.csv"), "--json"))
    second = first.head(4).copy()
    second.loc[second.index[0], "status"] = "declined"
    second.to_csv(tmp_path / "a2.csv", index=False)
    counts = js(run(engine, "import", "assignments", str(tmp_path / "a2.csv"), "--json"))
    c = counts["imported"]["assignments"]
    assert (c["created"], c["updated"], c["unchanged"]) == (0, 1, 3)
    with session(engine) as s:
        rows = list(s.scalars(select(Assignment)))
        assert len(rows) == len(pairs)  # the pairs the second file leaves out are still there
        assert sorted(r.status for r in rows).count("declined") == 1
        assert {r.affinity for r in rows} == {None}
    result = run(engine, "replace", f"{pairs.iloc[1, 0]}:{pairs.iloc[1, 1]}")
    assert result.exit_code == 1
    assert "was made outside reviewopt; record declines" in result.stderr


def test_rows_are_checked_like_any_kind(
    engine: Engine, batch: tuple[Path, dict[str, pd.DataFrame]], tmp_path: Path
) -> None:
    folder, tables = batch
    assert run(engine, "import", "all", str(folder)).exit_code == 0
    prop = sorted(tables["proposals"]["proposal_id"])[0]
    expert = sorted(tables["experts"]["expert_id"])[0]
    text = (
        "batch_id,proposal_id,expert_id,status\n"
        f"2024,{prop},{expert},maybe\n"
        f"2024,{prop},NOBODY,invited\n"
        f"2023,{prop},{expert},invited\n"
    )
    (tmp_path / "a.csv").write_text(text)
    result = run(engine, "import", "assignments", str(tmp_path / "a.csv"))
    assert result.exit_code == 3
    err = result.stderr
    assert "row 2, column status: got 'maybe'; expected one of invited (已邀请)" in err
    assert "row 3, column expert_id: got 'NOBODY'; expected an id already in Experts" in err
    assert "row 4, column batch_id: got '2023'; expected an id already in Batches" in err
    with session(engine) as s:
        assert s.scalars(select(AssignmentRun)).first() is None
