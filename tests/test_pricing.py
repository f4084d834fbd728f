"""Pricing certificate: node potentials, pruned optimal pairs found again, dense solves."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import bellman_ford

from assign.flow import (
    build_network,
    entry_nodes,
    potentials,
    scaled_cost,
    shortest_distances,
    solve_network,
)
from assign.pricing import CooPool, is_member
from assign.problem import AssignmentProblem, Status
from assign.solver import quality_summary, solve, solve_dense


def _network(pr: AssignmentProblem, p: np.ndarray, e: np.ndarray, w: np.ndarray, group: bool):
    return build_network(
        cand_p=p,
        cand_e=e,
        cand_cost=scaled_cost(w),
        k=pr.k,
        max_load=pr.max_load,
        min_load=pr.min_load,
        unit=pr.expert_unit,
        in_group=pr.is_industry if group else None,
        quota=pr.min_industry if group else None,
    )


def _problem(rng: np.random.Generator, n_p: int, n_e: int, *, group: bool) -> AssignmentProblem:
    w = np.round(rng.random((n_p, n_e)), 4)
    p, e = np.nonzero(np.ones((n_p, n_e), bool))
    unit = rng.integers(-1, n_e // 2, n_e)
    # quota group made of whole units so that the flow form applies
    ind_unit = rng.random(n_e) < 0.5
    ind = np.where(unit >= 0, ind_unit[np.maximum(unit, 0)], rng.random(n_e) < 0.5)
    return AssignmentProblem(
        proposal_ids=tuple(f"P{i}" for i in range(n_p)),
        expert_ids=tuple(f"E{i}" for i in range(n_e)),
        cand_p=p, cand_e=e, cand_w=w[p, e], k=2, max_load=rng.integers(1, 4, n_e),
        min_load=(rng.random(n_e) < 0.2).astype(int), expert_unit=unit, is_industry=ind,
        min_industry=1 if group else 0,
    )  # fmt: skip


def _feasible_problem(seed: int, n_p: int, n_e: int, *, group: bool) -> AssignmentProblem:
    """The first feasible random instance drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    while True:
        pr = _problem(rng, n_p, n_e, group=group)
        if _flow_value(pr, np.ones(pr.cand_p.size, bool), group) is not None:
            return pr


def _flow_value(pr: AssignmentProblem, chosen: np.ndarray, group: bool) -> int | None:
    net = _network(pr, pr.cand_p[chosen], pr.cand_e[chosen], pr.cand_w[chosen], group)
    sol = solve_network(net)
    return sol.cost if sol.feasible else None


def test_shortest_distances_match_scipy() -> None:
    rng = np.random.default_rng(1)
    for _ in range(20):
        n = 30
        t = rng.integers(0, n, 120)
        h = rng.integers(0, n, 120)
        keep = t < h  # a DAG: no negative cycle whatever the costs
        pairs = np.unique(np.column_stack([t[keep], h[keep]]), axis=0)
        t, h = pairs[:, 0], pairs[:, 1]
        c = rng.integers(-50, 50, t.size)
        d = shortest_distances(n, t, h, c)
        g = csr_matrix(
            (
                np.r_[c, np.zeros(n)].astype(float),
                (np.r_[t, np.full(n, n)], np.r_[h, np.arange(n)]),
            ),
            shape=(n + 1, n + 1),
        )
        ref = bellman_ford(g, indices=n)[:n]
        np.testing.assert_array_equal(d, ref.astype(np.int64))


@pytest.mark.parametrize("group", [False, True])
@pytest.mark.parametrize("seed", range(6))
def test_reduced_costs_nonnegative_on_residual_arcs(group: bool, seed: int) -> None:
    pr = _feasible_problem(seed, 6, 9, group=group)
    net = _network(pr, pr.cand_p, pr.cand_e, pr.cand_w, group)
    sol = solve_network(net)
    d = potentials(net, sol.flow)
    rc = net.cost + d[net.tail] - d[net.head]
    assert np.all(rc[sol.flow < net.cap] >= 0)
    assert np.all(rc[sol.flow > 0] <= 0)


@pytest.mark.parametrize("group", [False, True])
@pytest.mark.parametrize("seed", range(8))
def test_pruned_optimal_pair_is_priced_back_in(group: bool, seed: int) -> None:
    """Remove a pair of the full optimum; pricing must find what is missing and the
    re-solves must reach the full optimum again (through unit and group nodes)."""
    pr = _feasible_problem(100 + seed, 5, 8, group=group)
    full = _flow_value(pr, np.ones(pr.cand_p.size, bool), group)
    assert full is not None
    net = _network(pr, pr.cand_p, pr.cand_e, pr.cand_w, group)
    used = np.flatnonzero(solve_network(net).flow[: net.n_pairs] > 0)
    pool = CooPool(pr.cand_p, pr.cand_e, pr.cand_w)
    pool.chosen[:] = True
    # drop each used pair that the optimum needs (dropping it worsens the optimum)
    dropped = []
    for i in used:
        trial = pool.chosen.copy()
        trial[i] = False
        v = _flow_value(pr, trial, group)
        if v is not None and v > full:
            pool.chosen[i] = False
            if _flow_value(pr, pool.chosen, group) is None:
                pool.chosen[i] = True
            else:
                dropped.append(i)
    assert dropped, "no necessary pair to drop"
    first = True
    while True:
        sel = pool.selection()
        net = _network(pr, sel.p, sel.e, sel.w, group)
        sol = solve_network(net)
        assert sol.feasible
        d = potentials(net, sol.flow)
        before = pool.chosen.copy()
        added, neg = pool.price(net, d, pr.expert_unit, pr.is_industry if group else None)
        if first:
            assert added >= 1
            assert sol.cost + neg <= full <= sol.cost  # the Lagrangian bound holds
            first = False
        if added == 0:
            break
        assert np.all(pool.chosen >= before)
    assert sol.cost == full


@pytest.mark.parametrize("seed", range(6))
def test_price_margin_adds_near_pairs_but_counts_only_those_that_price_in(seed: int) -> None:
    pr = _feasible_problem(200 + seed, 5, 8, group=False)
    pool = CooPool(pr.cand_p, pr.cand_e, pr.cand_w)
    pool.chosen[:] = np.random.default_rng(seed).random(pr.cand_p.size) < 0.6
    while _flow_value(pr, pool.chosen, False) is None:
        pool.chosen[np.flatnonzero(~pool.chosen)[0]] = True
    sel = pool.selection()
    net = _network(pr, sel.p, sel.e, sel.w, False)
    d = potentials(net, solve_network(net).flow)
    before = pool.chosen.copy()
    entry = entry_nodes(net, pool.p, pool.e, pr.expert_unit, None)
    rc = pool.cost + d[entry] - d[net.e_node[pool.e]]
    out = rc[~before]
    margin = int(np.median(out[out >= 0])) + 1
    assert (~before & (rc >= 0) & (rc < margin)).any()  # the margin has pairs to add
    plain = CooPool(pr.cand_p, pr.cand_e, pr.cand_w)
    plain.chosen = before.copy()
    got = pool.price(net, d, pr.expert_unit, None, margin=margin)
    assert got == plain.price(net, d, pr.expert_unit, None)
    assert got == (int((~before & (rc < 0)).sum()), int(rc[~before & (rc < 0)].sum()))
    np.testing.assert_array_equal(plain.chosen, before | (rc < 0))
    np.testing.assert_array_equal(pool.chosen, before | (rc < margin))


@st.composite
def dense_case(draw: st.DrawFn) -> dict:
    n_p = draw(st.integers(1, 4))
    n_e = draw(st.integers(3, 7))
    seed = draw(st.integers(0, 10_000))
    rng = np.random.default_rng(seed)
    w = np.round(rng.random((n_p, n_e)), 3)
    w[rng.random((n_p, n_e)) < 0.15] = np.nan
    unit = rng.integers(-1, 3, n_e)
    ind_unit = rng.random(3) < 0.5
    ind = np.where(unit >= 0, ind_unit[np.maximum(unit, 0)], rng.random(n_e) < 0.5)
    return dict(
        w=w,
        k=draw(st.integers(1, 2)),
        max_load=rng.integers(1, 3, n_e),
        min_load=(rng.random(n_e) < 0.15).astype(int),
        expert_unit=unit if draw(st.booleans()) else None,
        is_industry=ind,
        min_industry=draw(st.sampled_from([0, 1])),
        floor=draw(st.sampled_from([0.0, 0.3])),
        conflicts=(rng.integers(0, n_p, 2), rng.integers(0, n_e, 2)),
    )


def _sparse_twin(c: dict) -> AssignmentProblem:
    w = c["w"]
    p, e = np.nonzero(~np.isnan(w))
    return AssignmentProblem(
        proposal_ids=tuple(str(i) for i in range(w.shape[0])),
        expert_ids=tuple(str(i) for i in range(w.shape[1])),
        cand_p=p, cand_e=e, cand_w=w[p, e], k=c["k"], max_load=c["max_load"],
        min_load=c["min_load"], expert_unit=c["expert_unit"], is_industry=c["is_industry"],
        min_industry=c["min_industry"], conflict_p=c["conflicts"][0],
        conflict_e=c["conflicts"][1], affinity_floor=c["floor"],
    )  # fmt: skip


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dense_case())
def test_dense_certified_equals_full_solve(c: dict) -> None:
    full = solve(_sparse_twin(c), prune=False)
    res = solve_dense(
        c["w"], k=c["k"], max_load=c["max_load"], min_load=c["min_load"],
        expert_unit=c["expert_unit"], is_industry=c["is_industry"],
        min_industry=c["min_industry"], floor=c["floor"], conflicts=c["conflicts"],
        candidates_per_proposal=1, candidates_per_expert=0,
        proposal_ids=full.proposal_ids, expert_ids=full.expert_ids,
    )  # fmt: skip
    if full.status == Status.INFEASIBLE:
        assert res.status == Status.INFEASIBLE
        return
    assert res.status == Status.OPTIMAL and res.certified
    assert scaled_cost(res.pair_w).sum() == scaled_cost(full.pair_w).sum()
    q = quality_summary(_sparse_twin(c), res)
    assert q["conflicts_violated"] == 0 and q["one_per_unit_violated"] == 0
    assert q["k_violated"] == 0 and q["load_violated"] == 0
    assert not np.any(np.isnan(res.pair_w))


def test_dense_callable_matches_matrix_and_leaves_input_alone() -> None:
    rng = np.random.default_rng(3)
    w = rng.random((60, 90))
    before = w.copy()
    a = solve_dense(w, k=3, max_load=3, block_rows=7)
    b = solve_dense(lambda s: w[s], n_proposals=60, k=3, max_load=3, block_rows=11)
    assert a.certified and b.certified
    assert a.objective == pytest.approx(b.objective, abs=1e-9)
    np.testing.assert_array_equal(w, before)
    full = solve(_sparse_twin(dict(
        w=w, k=3, max_load=3, min_load=0, expert_unit=None, is_industry=None, min_industry=0,
        floor=0.0, conflicts=(np.zeros(0, int), np.zeros(0, int)),
    )), prune=False)  # fmt: skip
    assert a.objective == pytest.approx(full.objective, abs=1e-9)


def test_dense_needs_several_rounds_and_bound_when_stopped() -> None:
    rng = np.random.default_rng(5)
    # all proposals prefer the same few experts: the first selection is far from optimal
    w = np.clip(rng.random((40, 60)) * 0.2 + np.linspace(1, 0, 60)[None, :] * 0.8, 0, 1)
    best = solve_dense(w, k=2, max_load=2, candidates_per_proposal=2, candidates_per_expert=1)
    assert best.certified and best.pricing_rounds >= 2
    cut = solve_dense(
        w, k=2, max_load=2, candidates_per_proposal=2, candidates_per_expert=1, max_rounds=1
    )
    assert cut.status == Status.FEASIBLE and not cut.certified
    assert cut.objective <= best.objective + 1e-9 <= cut.bound + 2e-9
    assert cut.gap == pytest.approx((cut.bound - cut.objective) / cut.bound)


def test_dense_rejects_bad_shapes_and_values() -> None:
    with pytest.raises(
        ValueError, match="affinity must be a \\(P, E\\) matrix, got shape \\(3,\\)"
    ):
        solve_dense(np.zeros(3), k=1, max_load=1)
    with pytest.raises(ValueError, match="hold infinite values; use NaN for non-candidates"):
        solve_dense(np.array([[np.inf, 0.5]]), k=1, max_load=1)
    with pytest.raises(ValueError, match="n_proposals is required"):
        solve_dense(lambda s: np.zeros((1, 2)), k=1, max_load=1)


def test_dense_infeasible_gets_diagnosis() -> None:
    w = np.full((3, 4), 0.5)
    w[0, :3] = np.nan
    res = solve_dense(w, k=2, max_load=2, proposal_ids=("A", "B", "C"))
    assert res.status == Status.INFEASIBLE
    assert res.diagnosis[0] == (
        "Proposal A has only 1 eligible experts but needs k=2 (0 conflicted, 0 below the "
        "affinity floor 0, 3 not candidates); lower k, lower the affinity floor or add "
        "candidate experts."
    )


def test_sparse_auto_prune_is_certified() -> None:
    rng = np.random.default_rng(9)
    n_p, n_e = 80, 120
    p = np.repeat(np.arange(n_p), 60)
    e = np.concatenate([rng.choice(n_e, 60, replace=False) for _ in range(n_p)])
    pr = AssignmentProblem(
        tuple(map(str, range(n_p))), tuple(map(str, range(n_e))), p, e, rng.random(p.size),
        k=3, max_load=2, expert_unit=rng.integers(-1, 30, n_e),
    )  # fmt: skip
    pruned = solve(pr)
    full = solve(pr, prune=False)
    assert pruned.solver == "min-cost-flow+pricing" and pruned.certified
    assert pruned.n_candidates < p.size
    assert scaled_cost(pruned.pair_w).sum() == scaled_cost(full.pair_w).sum()


@pytest.mark.parametrize("seed", range(6))
def test_lowered_potentials_stay_valid_and_slack_gives_feasibility(seed: int) -> None:
    from assign.flow import lowered_potentials, with_slack

    pr = _feasible_problem(200 + seed, 6, 9, group=True)
    keep = np.random.default_rng(seed).random(pr.cand_p.size) < 0.3  # likely short
    net = _network(pr, pr.cand_p[keep], pr.cand_e[keep], pr.cand_w[keep], True)
    big = 1_000_000 * (int(pr.k.sum()) + int(pr.min_load.sum()) + 1)
    slack = with_slack(net, big)
    sol = solve_network(slack)
    assert sol.feasible
    assert (sol.flow[net.tail.size :].sum() == 0) == solve_network(net).feasible
    d = lowered_potentials(slack, sol.flow, potentials(slack, sol.flow), net.e_node)
    rc = slack.cost + d[slack.tail] - d[slack.head]
    assert np.all(rc[sol.flow < slack.cap] >= 0)
    assert np.all(rc[sol.flow > 0] <= 0)


def _check_optimal(net, f: np.ndarray, d: np.ndarray) -> None:
    """``f`` is a balanced flow within capacities and ``d`` proves it optimal."""
    from assign.flow import excess

    assert np.all((f >= 0) & (f <= net.cap))
    assert not excess(net, f).any()
    rc = net.cost + d[net.tail] - d[net.head]
    assert np.all(rc[f < net.cap] >= 0) and np.all(rc[f > 0] <= 0)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 100_000), group=st.booleans())
def test_repair_from_scratch_reaches_the_min_cost_flow(seed: int, group: bool) -> None:
    """From the zero potentials and every arc of negative cost saturated (a pseudoflow that is
    optimal but unbalanced), the primal-dual repair reaches OR-Tools' optimum."""
    from assign.flow import repair, with_slack

    pr = _feasible_problem(seed, 5, 8, group=group)
    net = with_slack(_network(pr, pr.cand_p, pr.cand_e, pr.cand_w, group), 10**8)
    f0 = np.where(net.cost < 0, net.cap, 0)
    out = repair(net, f0, np.zeros(net.n_nodes, np.int64), max_phases=10_000)
    assert out is not None
    f, d = out
    _check_optimal(net, f, d)
    assert int((f * net.cost).sum()) == solve_network(net).cost


def test_repair_gives_up_within_its_phases() -> None:
    from assign.flow import repair, with_slack

    pr = _feasible_problem(7, 5, 8, group=False)
    net = with_slack(_network(pr, pr.cand_p, pr.cand_e, pr.cand_w, False), 10**8)
    f0 = np.where(net.cost < 0, net.cap, 0)
    assert repair(net, f0, np.zeros(net.n_nodes, np.int64), max_phases=1) is None


def _first_flow(problem_seed: int, seed: int, share: float) -> tuple:
    """A random flow-form problem, a random ``share`` of its pairs selected, the optimal flow
    over them and its lowered potentials: (problem, spec, rng, selected mask, slack cost,
    flow, potentials)."""
    from assign.certify import _solve_flow
    from assign.flow import lowered_potentials
    from assign.pricing import Selection
    from assign.solver import flow_spec

    pr = _feasible_problem(problem_seed, 6, 9, group=seed % 2 == 0)
    spec = flow_spec(pr)
    assert spec is not None
    rng = np.random.default_rng(seed)
    keep = rng.random(pr.cand_p.size) < share
    big = 1_000_000 * (int(pr.k.sum()) + int(pr.min_load.sum()) + 1)
    prev = _solve_flow(spec, Selection(pr.cand_p[keep], pr.cand_e[keep], pr.cand_w[keep]), big)
    d = potentials(prev.solved, prev.sol.flow)
    d = lowered_potentials(prev.solved, prev.sol.flow, d, prev.net.e_node)
    return pr, spec, rng, keep, big, prev, d


@pytest.mark.parametrize("seed", range(12))
def test_next_flow_carries_the_last_flow_and_repairs_it(seed: int) -> None:
    """A few pairs priced in: the carried-over, repaired flow costs what a fresh solve costs,
    its potentials prove it, and new unit nodes (pairs now sharing a unit) are handled."""
    from assign.certify import _next_flow, _solve_flow
    from assign.pricing import Selection

    pr, spec, rng, keep, big, prev, d = _first_flow(300 + seed, seed, 0.5)
    add = rng.choice(np.flatnonzero(~keep), size=2, replace=False)
    idx = rng.permutation(np.r_[np.flatnonzero(keep), add])  # any order: pairs map by key
    sel1 = Selection(pr.cand_p[idx], pr.cand_e[idx], pr.cand_w[idx])
    nxt = _next_flow(spec, sel1, big, prev, d, pr.n_experts)
    assert nxt.sol.cost == _solve_flow(spec, sel1, big).sol.cost
    assert nxt.d is not None  # two new pairs upset the flow by at most a few units
    _check_optimal(nxt.solved, nxt.sol.flow, nxt.d)


def test_next_flow_after_pairs_left_out_takes_unit_nodes_away() -> None:
    """Pairs of positive reduced cost leave the selection (some unit nodes vanish with them)
    while two others come in: the carried-over flow still ends at a fresh solve's cost, with
    potentials that prove it whenever it is repaired."""
    from assign.certify import _next_flow, _solve_flow

    vanished = repaired = 0
    for seed in range(16):
        pr, spec, rng, keep, big, prev, d = _first_flow(400 + seed, seed, 0.7)
        if prev.slack:
            continue
        pool = CooPool(pr.cand_p, pr.cand_e, pr.cand_w)
        pool.chosen = keep.copy()
        unit, in_group = spec.unit, spec.in_group
        assert pool.drop_above(prev.net, d, unit, in_group, 1) > 0
        assert pool.drop_above(prev.net, d, unit, in_group, 1) == 0  # once at most
        pool.chosen[rng.choice(np.flatnonzero(~keep), size=2, replace=False)] = True
        sel1 = pool.selection()
        nxt = _next_flow(spec, sel1, big, prev, d, pr.n_experts)
        fresh = _solve_flow(spec, sel1, big)
        assert (nxt.sol.cost, nxt.slack) == (fresh.sol.cost, fresh.slack)
        if nxt.d is not None:
            _check_optimal(nxt.solved, nxt.sol.flow, nxt.d)
            repaired += 1
        vanished += not is_member(prev.net.unit_keys, nxt.net.unit_keys).all()
    assert vanished >= 8 and repaired >= 8
