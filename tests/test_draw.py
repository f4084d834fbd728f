"""Randomised draw: capped fractional optimum (checked against an LP), exact marginals under
dependent rounding, feasibility of every draw, reproducibility, quotas and diagnoses."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from assign.draw import (
    DrawInputError,
    check_draw,
    draw_assignment,
    fractional_assignment,
    round_flow,
)
from assign.problem import AssignmentProblem, Status
from assign.solver import solve


def make_problem(
    n_p: int,
    n_e: int,
    *,
    seed: int,
    k: int = 3,
    max_load: int | np.ndarray = 3,
    density: float = 1.0,
    units: int = 0,
    **kw: object,
) -> AssignmentProblem:
    rng = np.random.default_rng(seed)
    grid_p, grid_e = np.meshgrid(np.arange(n_p), np.arange(n_e), indexing="ij")
    cp, ce = grid_p.ravel(), grid_e.ravel()
    keep = rng.random(cp.size) < density
    cp, ce = cp[keep], ce[keep]
    unit = rng.integers(-1, units, size=n_e) if units else None
    return AssignmentProblem(
        proposal_ids=tuple(f"P{i}" for i in range(n_p)),
        expert_ids=tuple(f"E{i}" for i in range(n_e)),
        cand_p=cp,
        cand_e=ce,
        cand_w=np.round(rng.random(cp.size), 3),
        k=k,
        max_load=max_load,
        expert_unit=unit,
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def small() -> AssignmentProblem:
    """6 proposals x 10 experts, k=3, loads <= 2, units, two conflicts, a floor."""
    base = make_problem(6, 10, seed=0, k=3, max_load=2)
    return AssignmentProblem(
        proposal_ids=base.proposal_ids,
        expert_ids=base.expert_ids,
        cand_p=base.cand_p,
        cand_e=base.cand_e,
        cand_w=base.cand_w,
        k=3,
        max_load=np.array([2, 2, 2, 2, 3, 2, 2, 2, 2, 1]),
        expert_unit=np.array([0, 0, 1, 1, 2, -1, -1, 3, 3, 4]),
        conflict_p=np.array([0, 2]),
        conflict_e=np.array([4, 5]),
        affinity_floor=0.05,
    )


def lp_optimum(problem: AssignmentProblem, q: float) -> float:
    """Independent check: the capped fractional problem as an LP (HiGHS via linprog)."""
    n_e = problem.n_experts
    key = problem.cand_p * n_e + problem.cand_e
    ok = ~np.isin(key, problem.conflict_p * n_e + problem.conflict_e)
    ok &= problem.cand_w >= problem.affinity_floor
    p, e, w = problem.cand_p[ok], problem.cand_e[ok], problem.cand_w[ok]
    n = p.size
    a_eq = np.zeros((problem.n_proposals, n))
    a_eq[p, np.arange(n)] = 1
    rows = []
    ub = []
    for j in range(n_e):
        r = np.zeros(n)
        r[e == j] = 1
        rows.append(r)
        ub.append(problem.max_load[j])
    u = problem.expert_unit[e]
    for pi in range(problem.n_proposals):
        for uu in set(u[(p == pi) & (u >= 0)].tolist()):
            r = np.zeros(n)
            r[(p == pi) & (u == uu)] = 1
            rows.append(r)
            ub.append(1)
    res = linprog(
        -w, A_ub=np.array(rows), b_ub=ub, A_eq=a_eq, b_eq=problem.k, bounds=(0, q), method="highs"
    )
    assert res.status == 0
    return float(-res.fun)


@pytest.mark.parametrize("q", [0.5, 0.4, Fraction(2, 3), 1.0])
def test_fractional_matches_lp(small: AssignmentProblem, q: float) -> None:
    fr = fractional_assignment(small, q=q)
    assert fr.status == Status.OPTIMAL
    assert fr.objective == pytest.approx(lp_optimum(small, float(q)), abs=1e-5)
    assert fr.marginals.max() <= float(q) + 1e-12
    assert fr.objective == pytest.approx(float(np.dot(fr.marginals, small.cand_w)))


def test_q_one_is_the_exact_optimum(small: AssignmentProblem) -> None:
    fr = fractional_assignment(small, q=1)
    d = draw_assignment(small, q=1, seed=3, fractional=fr)
    assert d.realised_objective == pytest.approx(solve(small).objective, abs=1e-9)
    assert set(np.unique(fr.marginals)) <= {0.0, 1.0}


def test_many_draws_match_marginals_and_stay_feasible(small: AssignmentProblem) -> None:
    q, n = 0.5, 2000
    fr = fractional_assignment(small, q=q)
    n_e = small.n_experts
    key = small.cand_p * n_e + small.cand_e
    count = np.zeros(key.size)
    realised = []
    for s in range(n):
        d = draw_assignment(small, q=q, seed=s, fractional=fr)
        assert check_draw(small, d) == []
        assert np.array_equal(np.bincount(d.assignment.pair_p, minlength=6), small.k)
        count += np.isin(key, d.assignment.pair_p * n_e + d.assignment.pair_e)
        realised.append(d.realised_objective)
    freq = count / n
    x = fr.marginals
    sigma = np.sqrt(np.maximum(x * (1 - x), 1e-12) / n)
    assert np.all(np.abs(freq - x) <= 4.5 * sigma + 1e-12)
    assert np.all(freq <= q + 4.5 * np.sqrt(q * (1 - q) / n))
    assert np.mean(realised) == pytest.approx(
        fr.objective, abs=4.5 * float(np.std(realised) / np.sqrt(n))
    )


def test_same_seed_same_draw_and_marginals_reproduce(small: AssignmentProblem) -> None:
    a = draw_assignment(small, q=0.5, seed=11)
    b = draw_assignment(small, q=0.5, seed=11)
    assert np.array_equal(a.assignment.pairs, b.assignment.pairs)
    assert a.seed == 11
    again = fractional_assignment(small, q=0.5)
    assert np.array_equal(a.marginals, again.marginals)
    draws = {draw_assignment(small, q=0.5, seed=s).assignment.pairs.tobytes() for s in range(20)}
    assert len(draws) > 1


def test_loads_floor_or_ceil_of_expected(small: AssignmentProblem) -> None:
    fr = fractional_assignment(small, q=0.4)
    el = fr.expected_loads
    assert el is not None
    for s in range(200):
        d = draw_assignment(small, q=0.4, seed=s, fractional=fr)
        assert np.all(d.loads >= np.floor(el + 1e-9))
        assert np.all(d.loads <= np.ceil(el - 1e-9))
        assert np.all(d.loads <= small.max_load)


def test_quota_holds_in_every_draw() -> None:
    base = make_problem(5, 12, seed=4, k=3, max_load=2)
    industry = np.zeros(12, bool)
    industry[[0, 5, 9]] = True
    w = base.cand_w.copy()
    w[industry[base.cand_e]] = 0.01  # industry experts are poor matches: the quota binds
    pr = AssignmentProblem(
        base.proposal_ids, base.expert_ids, base.cand_p, base.cand_e, w, k=3, max_load=2,
        is_industry=industry, min_industry=1,
    )  # fmt: skip
    fr = fractional_assignment(pr, q=0.5)
    assert fr.status == Status.OPTIMAL
    for s in range(300):
        d = draw_assignment(pr, q=0.5, seed=s, fractional=fr)
        assert check_draw(pr, d) == []
        got = np.bincount(d.assignment.pair_p[industry[d.assignment.pair_e]], minlength=5)
        assert np.all(got >= 1)


def test_infeasible_under_cap_names_the_proposal() -> None:
    # P0 has exactly 3 eligible experts: fine when q = 1, impossible with q = 0.5
    pr = AssignmentProblem(
        ("P0", "P1"), tuple(f"E{i}" for i in range(10)),
        cand_p=np.array([0, 0, 0] + [1] * 10),
        cand_e=np.array([0, 1, 2] + list(range(10))),
        cand_w=np.full(13, 0.5), k=3, max_load=2,
    )  # fmt: skip
    assert fractional_assignment(pr, q=1).status == Status.OPTIMAL
    d = draw_assignment(pr, q=0.5, seed=0)
    assert d.status == Status.INFEASIBLE
    assert d.diagnosis == (
        "Proposal P0 needs k=3 experts but with no pair above probability 0.5 its eligible "
        "experts can give at most 1.5 in expectation (at most one per unit); raise the max "
        "probability q, lower k or add eligible experts.",
    )
    assert d.assignment.pair_p.size == 0


def test_joint_shortage_under_cap_names_the_proposals() -> None:
    # P0 and P1 each reach k = 2 under q = 0.5 (four candidates), the experts' capacity under
    # the cap is enough overall, and without the cap E0 and E1 serve both; with it they give
    # each at most 1, and E2-E5 take no load
    pr = AssignmentProblem(
        ("P0", "P1", "P2"), tuple(f"E{i}" for i in range(14)),
        cand_p=np.array([0, 0, 0, 0, 1, 1, 1, 1] + [2] * 8),
        cand_e=np.array([0, 1, 2, 3, 0, 1, 4, 5, *range(6, 14)]),
        cand_w=np.full(16, 0.5), k=np.array([2, 2, 1]),
        max_load=np.array([2, 2] + [0] * 4 + [1] * 8),
    )  # fmt: skip
    assert fractional_assignment(pr, q=1).status == Status.OPTIMAL
    d = draw_assignment(pr, q=0.5, seed=0)
    assert d.status == Status.INFEASIBLE
    (rec,) = d.fractional.records
    assert rec.kind == "hall_q" and rec.proposal_ids == ("P0", "P1")
    assert "need 4 reviews together" in rec.message
    assert "at most 2 in expectation" in rec.message


def test_bad_q_and_unsupported_quotas(small: AssignmentProblem) -> None:
    with pytest.raises(DrawInputError) as err:
        fractional_assignment(small, q=1.5)
    assert str(err.value) == (
        "max probability q must be in (0, 1], got 1.5; use e.g. --max-probability 0.5"
    )
    pr = make_problem(3, 8, seed=1, k=2, min_industry=1, min_outside=1,
                      is_industry=np.arange(8) < 4, is_outside=np.arange(8) % 2 == 0)  # fmt: skip
    with pytest.raises(DrawInputError) as err:
        draw_assignment(pr, q=0.5, seed=0)
    assert str(err.value).startswith("The randomised draw takes at most one quota kind")


def test_fractional_result_for_other_q_is_refused(small: AssignmentProblem) -> None:
    fr = fractional_assignment(small, q=0.5)
    with pytest.raises(DrawInputError, match=r"solved for q=0\.5, not q=0\.4"):
        draw_assignment(small, q=0.4, seed=0, fractional=fr)


def test_round_flow_on_a_cycle_keeps_balances() -> None:
    # arcs 0->1, 1->2, 2->0, 0->3, 3->1 with flows in thirds (scale 3): a circulation of 1/3
    # round the triangle plus 2/3 round 0->3->1->2->0
    tail = np.array([0, 1, 2, 0, 3])
    head = np.array([1, 2, 0, 3, 1])
    flow = np.array([1, 3, 3, 2, 2])
    rng = np.random.default_rng(0)
    bal = np.bincount(tail, flow, 4) - np.bincount(head, flow, 4)
    assert np.all(bal % 3 == 0)
    mean = np.zeros(5)
    for _ in range(3000):
        r = round_flow(tail, head, flow, 3, rng)
        rb = np.bincount(tail, r, 4) - np.bincount(head, r, 4)
        assert np.array_equal(rb, bal // 3)
        assert np.all((r == flow // 3) | (r == -(-flow // 3)))
        mean += r
    assert np.allclose(mean / 3000, flow / 3, atol=0.04)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n_p=st.integers(1, 6),
    k=st.integers(1, 3),
    q=st.sampled_from([0.25, 0.5, 0.6, 0.75, 1.0]),
    units=st.integers(0, 4),
)
def test_every_draw_is_feasible(seed: int, n_p: int, k: int, q: float, units: int) -> None:
    pr = make_problem(n_p, 9, seed=seed, k=k, max_load=3, density=0.8, units=units)
    fr = fractional_assignment(pr, q=q)
    if fr.status != Status.OPTIMAL:
        assert fr.diagnosis
        return
    assert fr.marginals.max() <= q + 1e-12
    for s in range(5):
        d = draw_assignment(pr, q=q, seed=seed + s, fractional=fr)
        assert check_draw(pr, d) == []
