"""Solving from plain files: every bad file is rejected with the exact message."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assign.files import solve_files, write_assignment_csv
from assign.problem import Status
from assign.solver import quality_summary
from models.problems import InvalidInput, Problem

GOOD = "proposal,expert,score\nP1,E1,0.9\nP1,E2,0.8\nP2,E1,0.7\nP2,E2,0.1\nP2,E3,0.5\n"


def put(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def reject(tmp_path: Path, scores: str, **files: str) -> str:
    paths = {k: put(tmp_path, f"{k}.csv", v) for k, v in files.items()}
    with pytest.raises(InvalidInput) as info:
        solve_files(
            put(tmp_path, "scores.csv", scores),
            conflicts=paths.get("conflicts"),
            experts=paths.get("experts"),
            k=1,
            max_load=2,
        )
    return str(info.value)


def test_good_files_solve(tmp_path: Path) -> None:
    problem, res = solve_files(
        put(tmp_path, "scores.csv", GOOD),
        conflicts=put(tmp_path, "conflicts.csv", "proposal,expert\nP2,E1\n"),
        experts=None,
        k=1,
        max_load=2,
    )
    assert res.status == Status.OPTIMAL
    assert res.to_frame().values.tolist() == [["P1", "E1", 0.9], ["P2", "E3", 0.5]]
    assert quality_summary(problem, res)["conflicts_violated"] == 0
    out = tmp_path / "out.csv"
    assert write_assignment_csv(res, out) == 2
    assert out.read_text() == "proposal,expert,score\nP1,E1,0.9\nP2,E3,0.5\n"


def test_bad_scores_all_listed(tmp_path: Path) -> None:
    msg = reject(
        tmp_path,
        "proposal,expert,score\nP1,E1,0.9\nP1,E2,abc\nP1,E1,0.5\n,E3,0.2\nP2,E3,inf\nP2,E4,\n",
    )
    assert msg == (
        "5 problems in the input; nothing was written:\n  - "
        "scores.csv, column score: 3 rows: expected a finite number (the affinity score) "
        "(rows 3, 6–7); first values 'abc', 'inf', ''\n"
        "  - scores.csv, row 4, column proposal,expert: got 'P1,E1'; expected each (proposal, "
        "expert) pair once (first at row 2)\n"
        "  - scores.csv, row 5, column proposal: got ''; expected a non-empty id"
    )


def test_scores_missing_header_and_empty(tmp_path: Path) -> None:
    assert reject(tmp_path, "proposal,expert\nP1,E1\n") == (
        "1 problem in the input; nothing was written:\n  - "
        "scores.csv, row 1, column score: got 'proposal,expert'; expected a header row with "
        "columns proposal,expert,score"
    )
    assert reject(tmp_path, "") == (
        "1 problem in the input; nothing was written:\n  - "
        "scores.csv: expected a header row proposal,expert,score and data rows"
    )
    assert reject(tmp_path, "proposal,expert,score\n") == (
        "1 problem in the input; nothing was written:\n"
        "  - scores.csv: expected at least one data row"
    )


def test_unknown_ids_in_conflicts(tmp_path: Path) -> None:
    msg = reject(tmp_path, GOOD, conflicts="proposal,expert\nP1,E9\nP7,E1\nP1,E1\n")
    assert msg == (
        "2 problems in the input; nothing was written:\n  - "
        "conflicts.csv, row 2, column expert: got 'E9'; expected an expert id that occurs in "
        "the scores file\n"
        "  - conflicts.csv, row 3, column proposal: got 'P7'; expected a proposal id that occurs "
        "in the scores file"
    )


def test_bad_experts_file(tmp_path: Path) -> None:
    msg = reject(
        tmp_path,
        GOOD,
        experts="expert,max_load,unit,kind\nE1,2,U1,industry\nE2,x,U1,alien\nE2,,,\n",
    )
    assert msg == (
        "4 problems in the input; nothing was written:\n  - "
        "experts.csv, column expert: got 'E3'; expected a row for every expert in the scores "
        "file\n"
        "  - experts.csv, row 3, column max_load: got 'x'; expected an integer >= 0 or empty\n"
        "  - experts.csv, row 3, column kind: got 'alien'; expected academic, industry, finance "
        "or empty\n"
        "  - experts.csv, row 4, column expert: got 'E2'; expected each expert once (first at "
        "row 3)"
    )


def test_problem_list_capped_at_fifty(tmp_path: Path) -> None:
    rows = "".join(f"P{i},E{i},0.5\nP{i},E{i},0.5\n" for i in range(60))  # 60 distinct lines
    msg = reject(tmp_path, "proposal,expert,score\n" + rows)
    lines = msg.splitlines()
    assert lines[0] == "60 problems in the input; nothing was written:"
    assert len(lines) == 52
    assert lines[-1] == "  … and 10 more"


def test_input_error_is_value_error_with_records(tmp_path: Path) -> None:
    with pytest.raises(ValueError) as info:
        solve_files(
            put(tmp_path, "scores.csv", "proposal,expert,score\nP1,E1,x\n"),
            conflicts=None,
            experts=None,
            k=1,
            max_load=1,
        )
    assert isinstance(info.value, InvalidInput)
    assert info.value.problems == [
        Problem("scores.csv", 2, "score", "x", "a finite number (the affinity score)")
    ]


def test_experts_attributes_drive_units_and_quotas(tmp_path: Path) -> None:
    scores = put(
        tmp_path,
        "scores.csv",
        "proposal,expert,score\n"
        + "".join(f"P{p},E{e},{(p + 2 * e) % 7 / 7:.3f}\n" for p in range(3) for e in range(5)),
    )
    experts = put(
        tmp_path,
        "experts.csv",
        "expert,max_load,unit,kind,province,title\n"
        "E0,3,U1,industry,江苏,正高\nE1,3,U1,academic,Jiangsu,associate\n"
        "E2,3,U2,academic,浙江,senior\nE3,1,,finance,,\nE4,3,U3,industry,上海,\n",
    )
    problem, res = solve_files(
        scores, conflicts=None, experts=experts, k=2, max_load=9, min_industry=1, min_outside=1
    )
    assert res.status == Status.OPTIMAL
    np.testing.assert_array_equal(problem.max_load, [3, 3, 3, 1, 3])
    np.testing.assert_array_equal(problem.is_outside, [False, False, True, False, True])
    np.testing.assert_array_equal(problem.is_senior, [True, False, True, False, False])
    assert problem.expert_unit[0] == problem.expert_unit[1] != problem.expert_unit[2]
    q = quality_summary(problem, res)
    assert q["one_per_unit_violated"] == 0
    assert q["quota_satisfaction"] == {
        "industry": {"met": 3, "total": 3},
        "outside-province": {"met": 3, "total": 3},
    }


def test_allow_missing_goes_dense_and_is_certified(tmp_path: Path) -> None:
    scores = put(tmp_path, "scores.csv", "proposal,expert,score\nP1,E1,0.9\nP2,E1,0.8\nP2,E2,0.3\n")
    # without allow_missing P1 has one candidate: infeasible with a diagnosis, not an error
    _, res = solve_files(scores, conflicts=None, experts=None, k=2, max_load=2)
    assert res.status == Status.INFEASIBLE
    assert res.diagnosis[0].startswith("Proposal P1 has only 1 eligible experts but needs k=2")
    problem, res = solve_files(
        scores, conflicts=None, experts=None, k=2, max_load=2, allow_missing=True
    )
    assert res.status == Status.OPTIMAL and res.certified
    assert res.to_frame().values.tolist() == [
        ["P1", "E1", 0.9],
        ["P1", "E2", 0.0],
        ["P2", "E1", 0.8],
        ["P2", "E2", 0.3],
    ]


def test_formula_cells_escaped(tmp_path: Path) -> None:
    _, res = solve_files(
        put(tmp_path, "scores.csv", "proposal,expert,score\n=cmd(),@E1,0.5\n"),
        conflicts=None,
        experts=None,
        k=1,
        max_load=1,
    )
    out = tmp_path / "out.csv"
    write_assignment_csv(res, out)
    assert out.read_text() == "proposal,expert,score\n'=cmd(),'@E1,0.5\n"
