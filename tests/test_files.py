"""Solving from plain files: every bad file is rejected with the exact message."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from assign.file_solve import draw_inputs, solve_exact, solve_fair_inputs, solve_files
from assign.files import alternates, read_inputs, write_assignment_csv
from assign.problem import AssignmentProblem, Status
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
            constraints=paths.get("constraints"),
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


def test_plain_output_keeps_ids_exactly(tmp_path: Path) -> None:
    """``solve --out`` is a CSV for scripts: ids starting with = + - @ come back unchanged."""
    _, res = solve_files(
        put(tmp_path, "scores.csv", "proposal,expert,score\n=cmd(),@E1,0.5\n-P2,+E2,0.25\n"),
        conflicts=None,
        experts=None,
        k=1,
        max_load=1,
    )
    out = tmp_path / "out.csv"
    write_assignment_csv(res, out)
    assert out.read_text() == "proposal,expert,score\n-P2,+E2,0.25\n=cmd(),@E1,0.5\n"


# --- ids stay text ---------------------------------------------------------------------------

NUMERIC = "proposal,expert,score\n007,7,0.9\n007,07,0.8\n1e3,7,0.4\n1e3,07,0.7\n"


def test_numeric_looking_ids_round_trip(tmp_path: Path) -> None:
    scores = put(tmp_path, "scores.csv", NUMERIC)
    conflicts = put(tmp_path, "conflicts.csv", "proposal,expert\n1e3,07\n")
    problem, res = solve_files(scores, conflicts=conflicts, experts=None, k=1, max_load=1)
    assert problem.proposal_ids == ("007", "1e3")
    assert problem.expert_ids == ("7", "07")  # two experts, not one
    out = tmp_path / "out.csv"
    write_assignment_csv(res, out)
    assert out.read_text() == "proposal,expert,score\n007,07,0.8\n1e3,7,0.4\n"
    again, _ = solve_files(out, conflicts=None, experts=None, k=1, max_load=1)
    assert again.proposal_ids == ("007", "1e3") and again.expert_ids == ("07", "7")


def test_numeric_ids_in_every_file_and_format(tmp_path: Path) -> None:
    scores = put(tmp_path, "scores.csv", NUMERIC)
    experts = put(tmp_path, "experts.csv", "expert,max_load\n07,1\n7,1\n")
    demands = put(tmp_path, "demands.csv", "proposal,k\n007,1\n1e3,1\n")
    pq_path = tmp_path / "scores.parquet"
    pd.read_csv(scores, dtype=str, keep_default_na=False).to_parquet(pq_path)
    npz = tmp_path / "scores.npz"
    np.savez(
        npz, scores=np.array([[0.9, 0.8], [0.4, 0.7]]), proposals=np.array(["007", "1e3"]),
        experts=np.array(["7", "07"]),
    )  # fmt: skip
    got = []
    for path in (scores, pq_path, npz):
        inputs = read_inputs([path], experts=experts, demands=demands, k=2, max_load=1)
        assert inputs.full.proposal_ids == ("007", "1e3")
        assert inputs.full.expert_ids == ("07", "7")
        full = inputs.full
        got.append(sorted(zip(full.cand_p, full.cand_e, full.cand_w, strict=True)))
    assert got[0] == got[1] == got[2]


def test_headerless_matcher_files(tmp_path: Path) -> None:
    """Files as the matcher writes them, without a header, read in its column order."""
    scores = put(tmp_path, "s.csv", "p1,r1,0.5\np1,r2,0.25\np2,r1,0.75\np2,r2,0.5\n")
    cons = put(tmp_path, "c.csv", "p2,r1,-1\np1,r1,0\n")
    caps = put(tmp_path, "m.csv", "r1,1\nr2,1\n")
    inputs = read_inputs([scores], constraints=cons, experts=caps, k=1, max_load=5)
    problem, res = solve_exact(inputs)
    assert problem.max_load.tolist() == [1, 1]
    assert res.to_frame().values.tolist() == [["p1", "r1", 0.5], ["p2", "r2", 0.5]]
    msg = reject(tmp_path, "p1,r1,0.5\np1,r2,high\n")
    assert "scores.csv, row 2, column score: got 'high'" in msg


# --- the matcher's inputs, each binding on a small instance, checked by brute force -----------


def brute(problem: AssignmentProblem, must: set[tuple[int, int]] = frozenset()) -> float:  # type: ignore[assignment]
    """Best total over every assignment keeping k, loads (min and max), conflicts and the
    must-assign pairs (enumeration)."""
    n_e = problem.n_experts
    conf = set(zip(problem.conflict_p.tolist(), problem.conflict_e.tolist(), strict=True))
    w = {
        (p, e): s
        for p, e, s in zip(problem.cand_p.tolist(), problem.cand_e.tolist(),
                           problem.cand_w.tolist(), strict=True)
        if (p, e) not in conf and s >= problem.affinity_floor
    }  # fmt: skip
    options = []
    for p in range(problem.n_proposals):
        cands = sorted(e for q, e in w if q == p)
        teams = [
            t for t in itertools.combinations(cands, int(problem.k[p]))
            if all(e in t for q, e in must if q == p)
        ]  # fmt: skip
        options.append(teams)
    best = -np.inf
    for combo in itertools.product(*options):
        load = np.zeros(n_e, int)
        for team in combo:
            load[list(team)] += 1
        if np.any(load > problem.max_load) or np.any(load < problem.min_load):
            continue
        best = max(best, sum(w[p, e] for p, team in enumerate(combo) for e in team))
    return float(best)


def random_scores(rng: np.random.Generator, n_p: int = 3, n_e: int = 4) -> str:
    rows = [f"P{p},E{e},{rng.integers(0, 100) / 100}" for p in range(n_p) for e in range(n_e)]
    return "proposal,expert,score\n" + "\n".join(rows) + "\n"


@pytest.mark.parametrize("seed", range(4))
def test_weights_binding(tmp_path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = put(tmp_path, "a.csv", random_scores(rng))
    b = put(tmp_path, "b.csv", random_scores(rng))
    inputs = read_inputs([a, b], weights=[0.3, 2.0], k=2, max_load=2)
    one = read_inputs([a], k=2, max_load=2).full
    two = read_inputs([b], k=2, max_load=2).full
    np.testing.assert_allclose(inputs.full.cand_w, 0.3 * one.cand_w + 2.0 * two.cand_w)
    _, res = solve_exact(inputs)
    assert res.objective == pytest.approx(brute(inputs.full))


@pytest.mark.parametrize("seed", range(4))
def test_must_assign_and_conflict_constraints_bind(tmp_path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    scores = put(tmp_path, "s.csv", random_scores(rng))
    plain = read_inputs([scores], k=2, max_load=2)
    _, best = solve_exact(plain)
    # force a pair the plain optimum leaves out, forbid one it takes
    taken = set(zip(best.pair_p.tolist(), best.pair_e.tolist(), strict=True))
    free = sorted({(p, e) for p in range(3) for e in range(4)} - taken)
    must, ban = free[seed % len(free)], sorted(taken)[seed % len(taken)]
    if must[0] == ban[0] and must[1] == ban[1]:
        return
    cons = put(
        tmp_path, "c.csv",
        f"proposal,expert,constraint\nP{must[0]},E{must[1]},1\nP{ban[0]},E{ban[1]},-1\n",
    )  # fmt: skip
    inputs = read_inputs([scores], constraints=cons, k=2, max_load=2)
    problem, res = solve_exact(inputs)
    pairs = set(zip(res.pair_p.tolist(), res.pair_e.tolist(), strict=True))
    assert must in pairs and ban not in pairs
    assert res.objective == pytest.approx(brute(problem, {must}))
    assert quality_summary(problem, res)["k_violated"] == 0
    fair = solve_fair_inputs(inputs, time_limit_s=20)
    fair_pairs = set(
        zip(fair.assignment.pair_p.tolist(), fair.assignment.pair_e.tolist(), strict=True)
    )
    assert must in fair_pairs and ban not in fair_pairs
    per = np.bincount(fair.assignment.pair_p, weights=fair.assignment.pair_w, minlength=3)
    assert per.min() == pytest.approx(fair.min_affinity) and fair.min_bound >= per.min() - 1e-9


def test_must_assign_that_cannot_hold_is_refused(tmp_path: Path) -> None:
    cons = "proposal,expert,constraint\nP1,E1,1\nP1,E2,+1\nP2,E1,-1\nP2,E1,1\nP2,E3,2\n"
    msg = reject(tmp_path, GOOD, constraints=cons)
    assert msg == (
        "3 problems in the input; nothing was written:\n"
        "  - constraints.csv, row 3, column constraint: got '1'; expected at most k=1 "
        "must-assign experts for proposal P1\n"
        "  - constraints.csv, row 5, column proposal,expert: got 'P2,E1'; expected each "
        "(proposal, expert) pair once (first at row 4)\n"
        "  - constraints.csv, row 6, column constraint: got '2'; expected -1 (conflict), "
        "1 (must assign) or 0"
    )


@pytest.mark.parametrize("seed", range(4))
def test_demands_and_expert_loads_bind(tmp_path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    scores = put(tmp_path, "s.csv", random_scores(rng, 3, 5))
    demands = put(tmp_path, "d.csv", "proposal,k\nP0,1\nP2,3\n")
    experts = put(
        tmp_path, "e.csv", "expert,min_load,max_load\nE0,2,2\nE1,,1\nE2,0,\nE3,1,3\nE4,,\n"
    )
    inputs = read_inputs([scores], demands=demands, experts=experts, k=2, max_load=2)
    problem, res = solve_exact(inputs)
    assert problem.k.tolist() == [1, 2, 3]
    assert problem.min_load.tolist() == [2, 0, 0, 1, 0]
    assert problem.max_load.tolist() == [2, 1, 2, 3, 2]
    assert np.bincount(res.pair_p, minlength=3).tolist() == [1, 2, 3]
    load = np.bincount(res.pair_e, minlength=5)
    assert np.all(load >= problem.min_load) and np.all(load <= problem.max_load)
    assert res.objective == pytest.approx(brute(problem))


def test_alternates_are_the_next_best(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    scores = put(tmp_path, "s.csv", random_scores(rng, 3, 6))
    cons = put(tmp_path, "c.csv", "proposal,expert,constraint\nP0,E5,-1\n")
    inputs = read_inputs([scores], constraints=cons, k=2, max_load=2)
    problem, res = solve_exact(inputs)
    alt = alternates(problem, res, 2)
    for p in range(3):
        mine = {e for q, e in zip(res.pair_p, res.pair_e, strict=True) if q == p}
        conflicted = {5} if p == 0 else set()
        rest = sorted(
            ((-w, e) for q, e, w in zip(problem.cand_p, problem.cand_e, problem.cand_w, strict=True)
             if q == p and e not in mine | conflicted)
        )  # fmt: skip
        want = [[f"P{p}", f"E{e}", -w, i + 1] for i, (w, e) in enumerate(rest[:2])]
        assert alt[alt["proposal"] == f"P{p}"].values.tolist() == want


def test_marginals_sum_to_k_and_keep_the_cap(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    scores = put(tmp_path, "s.csv", random_scores(rng, 4, 6))
    cons = put(tmp_path, "c.csv", "proposal,expert,constraint\nP1,E2,1\n")
    inputs = read_inputs([scores], constraints=cons, k=2, max_load=3)
    draw, marg = draw_inputs(inputs, q=0.4, seed=5)
    assert marg.groupby("proposal")["probability"].sum().tolist() == pytest.approx([2] * 4)
    must = (marg["proposal"] == "P1") & (marg["expert"] == "E2")
    assert marg.loc[must, "probability"].tolist() == [1.0]
    assert marg.loc[~must, "probability"].max() <= 0.4 + 1e-12
    assert draw.expected_objective == pytest.approx((marg["score"] * marg["probability"]).sum())
    pairs = set(zip(draw.assignment.pair_p.tolist(), draw.assignment.pair_e.tolist(), strict=True))
    assert (1, 2) in pairs and len(pairs) == 8


def test_pair_keys_are_64_bit(tmp_path: Path) -> None:
    """50,000 x 50,000 ids: keys p * E + e pass 2**31, where 32-bit index arithmetic wraps."""
    n = 50_000
    rows = [f"P{i},E{i},0.5" for i in range(n)] + [f"P{n - 1},E0,0.9", f"P{n - 1},E1,0.8"]
    scores = put(tmp_path, "s.csv", "proposal,expert,score\n" + "\n".join(rows) + "\n")
    cons = put(
        tmp_path, "c.csv", f"proposal,expert,constraint\nP{n - 1},E0,-1\nP{n - 2},E{n - 2},1\n"
    )
    inputs = read_inputs([scores], constraints=cons, k=1, max_load=2)
    assert (n - 1) * n + 0 > 2**31
    problem, res = solve_exact(inputs)
    pairs = set(zip(res.pair_p.tolist(), res.pair_e.tolist(), strict=True))
    assert (n - 1, 1) in pairs and (n - 1, 0) not in pairs and (n - 2, n - 2) in pairs
    alt = alternates(problem, res, 1)
    assert alt[alt["proposal"] == f"P{n - 1}"].values.tolist() == [
        [f"P{n - 1}", f"E{n - 1}", 0.5, 1]
    ]


def test_ragged_or_undecodable_csv_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    msg = reject(tmp_path, "proposal,expert,score\nP1,E1,0.5\nP1,E2,0.5,extra,cells\n")
    assert msg.startswith("1 problem in the input; nothing was written:\n  - scores.csv: ")
    assert "expected a UTF-8 CSV file with as many cells in every row" in msg
    (tmp_path / "latin.csv").write_bytes(b"proposal,expert,score\nP\xe9,E1,0.5\n")
    with pytest.raises(InvalidInput, match="UTF-8"):
        solve_files(tmp_path / "latin.csv", conflicts=None, experts=None, k=1, max_load=1)
