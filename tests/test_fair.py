"""Max-min fairness: brute-force max-min and best total among max-min solutions on tiny cases,
the plain optimum's figures alongside, a bound that never falls below the minimum reached,
the same answer on every run, and infeasible inputs diagnosed."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assign.fair import fair_summary, solve_fair
from assign.problem import AssignmentProblem, Status
from assign.solver import solve


def tiny(seed: int, *, n_p: int = 3, n_e: int = 5, k: int = 2, load: int = 2) -> AssignmentProblem:
    rng = np.random.default_rng(seed)
    grid_p, grid_e = np.meshgrid(np.arange(n_p), np.arange(n_e), indexing="ij")
    cp, ce = grid_p.ravel(), grid_e.ravel()
    keep = rng.random(cp.size) < 0.85
    return AssignmentProblem(
        tuple(f"P{i}" for i in range(n_p)),
        tuple(f"E{i}" for i in range(n_e)),
        cp[keep],
        ce[keep],
        rng.integers(0, 100, keep.sum()) / 100,
        k=k,
        max_load=load,
        expert_unit=rng.integers(-1, 3, n_e),
        conflict_p=rng.integers(0, n_p, 1),
        conflict_e=rng.integers(0, n_e, 1),
        affinity_floor=0.05,
    )


def brute(pr: AssignmentProblem) -> tuple[float, float, float] | None:
    """(max-min, best total among max-min, plain best total) by enumeration, or None."""
    n_e = pr.n_experts
    conf = set((pr.conflict_p * n_e + pr.conflict_e).tolist())
    w = {}
    for p, e, a in zip(pr.cand_p.tolist(), pr.cand_e.tolist(), pr.cand_w.tolist(), strict=True):
        if p * n_e + e not in conf and a >= pr.affinity_floor:
            w[p, e] = a
    teams = []
    for p in range(pr.n_proposals):
        opts = []
        for team in itertools.combinations(sorted(e for q, e in w if q == p), int(pr.k[p])):
            units = [pr.expert_unit[e] for e in team if pr.expert_unit[e] >= 0]
            if len(units) == len(set(units)):
                opts.append(team)
        teams.append(opts)
    best: tuple[int, int] | None = None
    plain = -1
    for combo in itertools.product(*teams):
        load = np.zeros(n_e, int)
        for team in combo:
            load[list(team)] += 1
        if np.any(load > pr.max_load):
            continue
        sums = [round(sum(w[p, e] for e in team) * 100) for p, team in enumerate(combo)]
        key = (min(sums), sum(sums))
        best = key if best is None or key > best else best
        plain = max(plain, sum(sums))
    if best is None:
        return None
    return best[0] / 100, best[1] / 100, plain / 100


CASES: list[tuple[int, dict[str, int]]] = [(s, {}) for s in range(6)] + [
    (s, {"n_e": 7, "load": 1}) for s in range(12)
]


@pytest.mark.parametrize(("seed", "shape"), CASES)
def test_matches_brute_force(seed: int, shape: dict[str, int]) -> None:
    """Tight loads (7 experts, load 1) make max-min cost total in 5 of the 12 cases."""
    pr = tiny(seed, **shape)
    ref = brute(pr)
    res = solve_fair(pr, time_limit_s=20, tolerance=0)
    if ref is None:
        assert res.status == Status.INFEASIBLE and res.diagnosis
        return
    assert res.status == Status.OPTIMAL
    assert res.min_affinity == pytest.approx(ref[0])
    assert res.total == pytest.approx(ref[1])
    assert res.plain_total == pytest.approx(ref[2])
    assert res.price_of_fairness == pytest.approx(ref[2] - ref[1])
    assert res.price_of_fairness >= -1e-9 and res.min_gain >= -1e-9
    assert res.min_bound == pytest.approx(ref[0])  # proven: the bound is the brute max-min
    assert [s.status for s in res.stages] == ["optimal", "optimal"]
    assert res.min_gap == 0


def test_fairness_trades_total_for_the_worst_off() -> None:
    # E0 is the best match for both proposals but can review only one
    pr = AssignmentProblem(
        ("P0", "P1"), ("E0", "E1", "E2"),
        cand_p=np.array([0, 0, 0, 1, 1, 1]), cand_e=np.array([0, 1, 2, 0, 1, 2]),
        cand_w=np.array([0.9, 0.8, 0.1, 1.0, 0.2, 0.1]), k=1, max_load=1,
    )  # fmt: skip
    res = solve_fair(pr)
    plain = solve(pr)
    # plain: P0-E1 0.8 + P1-E0 1.0 = 1.8 (min 0.8); fair: the same here (min 0.8 is best)
    assert plain.objective == pytest.approx(1.8)
    assert res.min_affinity == pytest.approx(0.8) and res.total == pytest.approx(1.8)
    pr2 = AssignmentProblem(
        ("P0", "P1"), ("E0", "E1", "E2"),
        cand_p=np.array([0, 0, 0, 1, 1, 1]), cand_e=np.array([0, 1, 2, 0, 1, 2]),
        cand_w=np.array([0.9, 0.1, 0.1, 1.0, 0.85, 0.1]), k=1, max_load=1,
    )  # fmt: skip
    res2 = solve_fair(pr2)
    # plain: P0-E0 0.9 + P1-E1 0.85 = 1.75; fair: same (min 0.85); now force a real trade-off
    assert res2.plain_total == pytest.approx(1.75)
    pr3 = AssignmentProblem(
        ("P0", "P1"), ("E0", "E1", "E2"),
        cand_p=np.array([0, 0, 1, 1]), cand_e=np.array([0, 1, 0, 2]),
        cand_w=np.array([0.5, 0.3, 1.0, 0.6]), k=1, max_load=1,
    )  # fmt: skip
    res3 = solve_fair(pr3)
    # plain: P0-E1 0.3 + P1-E0 1.0 = 1.3 (min 0.3); fair: P0-E0 0.5 + P1-E2 0.6 = 1.1 (min 0.5)
    assert res3.plain_total == pytest.approx(1.3) and res3.plain_min_affinity == pytest.approx(0.3)
    assert res3.total == pytest.approx(1.1) and res3.min_affinity == pytest.approx(0.5)
    assert res3.price_of_fairness == pytest.approx(0.2) and res3.min_gain == pytest.approx(0.2)
    assert res3.assignment.pairs.tolist() == [[0, 0], [1, 2]]
    assert res3.assignment.solver == "fair-mip"
    assert res3.min_bound == pytest.approx(0.5)


def test_plain_optimum_meeting_the_bound_is_returned_without_a_model() -> None:
    # P1's best on its own is 0.4 and the plain optimum gives it 0.4: nothing to improve
    pr = AssignmentProblem(
        ("P0", "P1"), ("E0", "E1", "E2"),
        cand_p=np.array([0, 0, 1, 1]), cand_e=np.array([0, 1, 1, 2]),
        cand_w=np.array([0.9, 0.5, 0.4, 0.3]), k=1, max_load=1,
    )  # fmt: skip
    res = solve_fair(pr)
    assert res.assignment.solver == "fair: plain optimum meets the bound"
    assert res.status == Status.OPTIMAL
    assert res.min_affinity == pytest.approx(0.4) and res.min_bound == pytest.approx(0.4)
    assert res.total == pytest.approx(1.3) and res.price_of_fairness == 0


def test_infeasible_is_a_result_with_a_diagnosis() -> None:
    pr = AssignmentProblem(
        ("P0",), ("E0",), cand_p=np.array([0]), cand_e=np.array([0]), cand_w=np.array([0.5]), k=2
    )
    res = solve_fair(pr)
    assert res.status == Status.INFEASIBLE
    assert res.diagnosis[0].startswith("Proposal P0 has only 1 eligible experts but needs k=2")


def topics(seed: int, n_p: int = 60, n_e: int = 90) -> AssignmentProblem:
    """Dense scores over 6 topics of uneven popularity: popular topics lack good experts."""
    rng = np.random.default_rng(seed)
    pop = 1 / np.arange(1, 7)
    tp = rng.choice(6, n_p, p=pop / pop.sum())
    te = rng.integers(0, 6, n_e)
    same = tp[:, None] == te[None, :]
    s = np.where(same, 0.5 + 0.5 * rng.random((n_p, n_e)), 0.4 * rng.random((n_p, n_e)) ** 2)
    p, e = np.nonzero(rng.random((n_p, n_e)) > 0.02)
    return AssignmentProblem(
        tuple(f"P{i}" for i in range(n_p)), tuple(f"E{i}" for i in range(n_e)),
        p, e, np.round(s[p, e], 4), k=3, max_load=3,
    )  # fmt: skip


def test_same_input_same_answer_and_an_honest_bound() -> None:
    pr = topics(3)
    first, second = solve_fair(pr), solve_fair(pr)
    assert first.assignment.pairs.tolist() == second.assignment.pairs.tolist()
    assert fair_summary(first) | {"stages": None} == fair_summary(second) | {"stages": None}
    assert first.min_bound >= first.min_affinity > first.plain_min_affinity
    assert first.total <= first.plain_total + 1e-9
    got = np.bincount(first.assignment.pair_p, weights=first.assignment.pair_w).min()
    assert got == pytest.approx(first.min_affinity)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), load=st.integers(1, 3), k=st.integers(1, 3))
def test_bound_never_below_the_minimum(seed: int, load: int, k: int) -> None:
    pr = tiny(seed, n_p=4, n_e=6, k=k, load=load)
    res = solve_fair(pr, time_limit_s=20)
    if res.status == Status.INFEASIBLE:
        return
    assert res.min_bound >= res.min_affinity - 1e-9
    ref = brute(pr)
    assert ref is not None and ref[0] <= res.min_bound + 1e-9  # the bound bounds the optimum
    assert res.min_affinity <= ref[0] + 1e-9
