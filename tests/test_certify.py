"""Certified assignment over a whole affinity model (pruned candidates, full-matrix pricing)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assign.affinity import AffinityModel
from assign.certify import CertifyInputError, solve_certified
from assign.conflicts import find_conflicts
from assign.flow import scaled_cost
from assign.pipeline import AssignOptions, build_problem
from assign.pricing import is_member
from assign.problem import AssignmentProblem, Status, pair_key
from assign.scan import SparseScores, row_top
from assign.solver import quality_summary, solve
from data.build_guide import load_guide
from data.generate import generate_batch


@pytest.fixture(scope="module")
def batch() -> tuple[dict, object]:
    tables = generate_batch(load_guide(), n_experts=220, n_proposals=160, seed=3)
    day = date.fromisoformat(str(tables["batches"]["batch_date"].iloc[0]))
    return tables, find_conflicts(tables, batch_date=day)


def _build(
    batch: tuple[dict, object], **options: object
) -> tuple[AssignmentProblem, AffinityModel]:
    tables, conflicts = batch
    return build_problem(
        tables,
        proposal_ids=tables["proposals"]["proposal_id"].tolist(),
        expert_ids=tables["experts"]["expert_id"].tolist(),
        conflicts=conflicts,  # type: ignore[arg-type]
        options=AssignOptions(**options),  # type: ignore[arg-type]
    )


def _full(problem: AssignmentProblem, model: AffinityModel) -> AssignmentProblem:
    """The same problem over every eligible pair of the model's matrix."""
    w = model.dense_block(slice(0, model.n_proposals)).astype(np.float64)
    ok = w >= problem.affinity_floor
    ok[problem.conflict_p, problem.conflict_e] = False
    p, e = np.nonzero(ok)
    return replace(problem, cand_p=p, cand_e=e, cand_w=w[p, e])


def _cost(res: object) -> int:
    return int(scaled_cost(res.pair_w).sum())  # type: ignore[attr-defined]


def _check_rules(problem: AssignmentProblem, res: object) -> None:
    q = quality_summary(problem, res)  # type: ignore[arg-type]
    assert q["conflicts_violated"] == 0 and q["one_per_unit_violated"] == 0
    assert q["k_violated"] == 0 and q["load_violated"] == 0


@pytest.mark.parametrize("workers", [1, 2])
def test_pruned_optimal_pairs_are_found_and_the_full_optimum_reached(
    batch: tuple[dict, object], workers: int
) -> None:
    problem, model = _build(batch, k=3, max_load=3, top_n=6, per_expert=3)
    full = _full(problem, model)
    ref = solve(full, prune=False)
    assert ref.status == Status.OPTIMAL
    assert _cost(solve(problem)) > _cost(ref)  # the pruning costs affinity
    res = solve_certified(problem, model, workers=workers, keep_per_row=2)
    assert res.status == Status.OPTIMAL and res.certified
    assert _cost(res) == _cost(ref)
    assert res.bound == res.objective and res.gap == 0.0
    # the optimum uses pairs that the top-N pruning had left out
    cand = set((problem.cand_p * problem.n_experts + problem.cand_e).tolist())
    used = (res.pair_p * problem.n_experts + res.pair_e).tolist()
    assert any(k not in cand for k in used)
    _check_rules(full, res)
    np.testing.assert_array_equal(res.pair_w, full.cand_w[np.searchsorted(
        full.cand_p * problem.n_experts + full.cand_e, np.array(used))])  # fmt: skip


def test_pruning_infeasible_but_truly_feasible(batch: tuple[dict, object]) -> None:
    problem, model = _build(batch, k=4, max_load=3, top_n=4, per_expert=3)
    assert solve(problem).status == Status.INFEASIBLE  # the pruning, not the instance
    ref = solve(_full(problem, model), prune=False)
    assert ref.status == Status.OPTIMAL
    res = solve_certified(problem, model, keep_per_row=1)
    assert res.status == Status.OPTIMAL and res.certified
    assert _cost(res) == _cost(ref)
    _check_rules(problem, res)


def test_units_and_one_quota_kept_and_certified(batch: tuple[dict, object]) -> None:
    problem, model = _build(batch, k=3, max_load=3, top_n=5, min_senior=1)
    # a quota group that does not split units keeps the flow form
    senior_unit = np.zeros(int(problem.expert_unit.max()) + 1, bool)
    has = problem.expert_unit >= 0
    senior_unit[problem.expert_unit[has & problem.is_senior]] = True
    senior = np.where(has, senior_unit[np.maximum(problem.expert_unit, 0)], problem.is_senior)
    problem = replace(problem, is_senior=senior)
    ref = solve(_full(problem, model), prune=False)
    res = solve_certified(problem, model, keep_per_row=2)
    assert ref.solver == "min-cost-flow" and ref.status == Status.OPTIMAL
    assert res.certified and _cost(res) == _cost(ref)
    q = quality_summary(problem, res)
    assert q["quota_satisfaction"]["senior"]["met"] == problem.n_proposals
    _check_rules(problem, res)


def test_model_in_another_order_is_mapped(batch: tuple[dict, object]) -> None:
    problem, model = _build(batch, k=3, max_load=4, top_n=6)
    rng = np.random.default_rng(0)
    pp, pe = rng.permutation(problem.n_proposals), rng.permutation(problem.n_experts)
    inv_p, inv_e = np.argsort(pp), np.argsort(pe)
    moved = replace(
        problem,
        proposal_ids=tuple(problem.proposal_ids[i] for i in pp),
        expert_ids=tuple(problem.expert_ids[i] for i in pe),
        cand_p=inv_p[problem.cand_p], cand_e=inv_e[problem.cand_e],
        k=problem.k[pp], max_load=problem.max_load[pe], min_load=problem.min_load[pe],
        expert_unit=problem.expert_unit[pe], is_industry=problem.is_industry[pe],
        is_outside=problem.is_outside[pe], is_senior=problem.is_senior[pe],
        min_industry=problem.min_industry[pp], min_outside=problem.min_outside[pp],
        min_senior=problem.min_senior[pp],
        conflict_p=inv_p[problem.conflict_p], conflict_e=inv_e[problem.conflict_e],
    )  # fmt: skip
    a = solve_certified(problem, model, keep_per_row=2)
    b = solve_certified(moved, model, keep_per_row=2)
    assert a.certified and b.certified and _cost(a) == _cost(b)


def test_mismatched_model_is_refused(batch: tuple[dict, object]) -> None:
    problem, model = _build(batch, k=3, max_load=4, top_n=6)
    extra = replace(problem, proposal_ids=("P-X",) + problem.proposal_ids[1:])
    with pytest.raises(CertifyInputError) as err:
        solve_certified(extra, model)
    assert str(err.value) == (
        "proposals P-X of the problem are not in the affinity model; fit the model on the same "
        "batch (build_problem returns the problem and its model together)"
    )
    bent = replace(problem, cand_w=np.clip(problem.cand_w + 0.01, 0, 1))
    with pytest.raises(CertifyInputError, match="in the problem but .* in the model; build"):
        solve_certified(bent, model, workers=1)


def test_truly_infeasible_is_diagnosed(batch: tuple[dict, object]) -> None:
    problem, model = _build(batch, k=3, max_load=1, top_n=6)  # 220 reviews for 480 needed
    res = solve_certified(problem, model)
    assert res.status == Status.INFEASIBLE and not res.certified
    assert res.records[0].kind == "full_matrix"
    assert res.diagnosis[0].startswith(
        "No assignment exists even over every eligible pair of the affinity matrix"
    )
    assert any(r.kind == "capacity" for r in res.records)


def test_two_quotas_small_matrix_go_whole_to_the_integer_program(
    batch: tuple[dict, object],
) -> None:
    """Outside the flow form, a small matrix is solved over every eligible pair: certified,
    even where the candidates alone admit no assignment."""
    problem, model = _build(
        batch, k=3, max_load=5, top_n=2, per_expert=1, min_senior=1, min_outside=1
    )
    assert solve(problem).status == Status.INFEASIBLE  # the pruning, not the batch
    res = solve_certified(problem, model)
    ref = solve(_full(problem, model))
    assert ref.status == res.status == Status.OPTIMAL and res.certified
    assert _cost(res) == _cost(ref)
    _check_rules(problem, res)


def test_two_quotas_large_matrix_solved_on_candidates_not_certified(
    batch: tuple[dict, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("assign.certify._FULL_IP_PAIRS", 0)  # as if the matrix were large
    problem, model = _build(batch, k=3, max_load=5, top_n=8, min_senior=1, min_outside=1)
    res = solve_certified(problem, model)
    assert not res.certified and res.status == Status.FEASIBLE and np.isnan(res.bound)
    assert res.records[-1].kind == "not_certified"
    narrow, model = _build(
        batch, k=3, max_load=5, top_n=2, per_expert=1, min_senior=1, min_outside=1
    )
    short = solve_certified(narrow, model)
    assert short.status == Status.UNKNOWN  # infeasible on the candidates proves nothing
    assert "may come from the pruning" in short.records[-1].message


def test_inputs_untouched(batch: tuple[dict, object]) -> None:
    problem, model = _build(batch, k=3, max_load=4, top_n=6)
    before = (problem.cand_p.copy(), problem.cand_w.copy(), problem.proposal_ids)
    stages: list[str] = []
    solve_certified(problem, model, progress=lambda s, f: stages.append(s))
    assert {"pass", "flow", "pricing"} <= set(stages)
    np.testing.assert_array_equal(problem.cand_p, before[0])
    np.testing.assert_array_equal(problem.cand_w, before[1])


@settings(max_examples=25, deadline=None)
@given(
    k=st.integers(2, 4),
    max_load=st.integers(3, 6),
    min_load=st.integers(0, 1),
    top_n=st.integers(2, 8),
    keep=st.integers(1, 4),
)
def test_certified_equals_the_full_solve_on_random_rules(
    batch: tuple[dict, object], k: int, max_load: int, min_load: int, top_n: int, keep: int
) -> None:
    """Whatever the loads and however narrow the candidates (several rounds, pairs left out
    of the network, repairs), the certified optimum is the full matrix's optimum."""
    problem, model = _build(
        batch, k=k, max_load=max_load, min_load=min_load, top_n=top_n, per_expert=1
    )
    ref = solve(_full(problem, model), prune=False)
    res = solve_certified(problem, model, workers=1, keep_per_row=keep)
    if ref.status == Status.INFEASIBLE:
        assert res.status == Status.INFEASIBLE
        return
    assert ref.status == Status.OPTIMAL
    assert res.status == Status.OPTIMAL and res.certified
    assert _cost(res) == _cost(ref)
    _check_rules(problem, res)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 6),
    st.integers(1, 40),
    st.integers(0, 45),
    st.integers(0, 1000),
)
def test_row_top_is_the_top(n_rows: int, width: int, t: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    blk = np.round(rng.random((n_rows, width)), 1).astype(np.float32)
    blk[rng.random(blk.shape) < 0.3] = -np.inf
    lo = np.float32(0.2)
    r, c, v, resid = row_top(blk, t, lo)
    for i in range(n_rows):
        row = np.sort(blk[i][blk[i] >= lo])[::-1]
        got = v[r == i]
        np.testing.assert_array_equal(got, row[:t])
        np.testing.assert_array_equal(blk[i, c[r == i]], got)
        assert resid[i] == (row[t] if row.size > t else -np.inf)


def test_past_2_31_pairs_conflicts_stay_masked_and_the_certificate_holds() -> None:
    """50,000 x 50,000 = 2.5e9 pairs (keys past 2^31), 20 scored pairs per proposal of which
    the problem keeps its best 3 eligible as candidates. The best-scored pair of every tenth
    proposal is conflicted: none is assigned, and the certified optimum is the optimum over
    every eligible pair."""
    n, per = 50_000, 20
    rng = np.random.default_rng(7)
    e = (rng.integers(0, n, (n, 1)) + rng.choice(n, per, replace=False)) % n  # distinct
    w = np.round(rng.random((n, per)), 3)
    conf_p = np.arange(0, n, 10)
    conf_e = e[conf_p, np.argmax(w[conf_p], axis=1)]
    p = np.repeat(np.arange(n), per)
    e, w = e.ravel(), w.ravel()
    ids = tuple(f"x{i}" for i in range(n))
    src = SparseScores.from_pairs(ids, ids, p, e, w)
    eligible = ~np.isin(pair_key(p, e, n), pair_key(conf_p, conf_e, n))
    order = np.lexsort((-w, ~eligible, p))  # per row: eligible first, best first
    rank = np.arange(p.size) % per
    top = order[rank < 3]
    problem = AssignmentProblem(
        ids, ids, p[top], e[top], w[top], k=2, max_load=3, conflict_p=conf_p, conflict_e=conf_e
    )
    res = solve_certified(problem, src, workers=1)
    assert res.status == Status.OPTIMAL and res.certified
    assert not is_member(pair_key(res.pair_p, res.pair_e, n), pair_key(conf_p, conf_e, n)).any()
    full = replace(problem, cand_p=p[eligible], cand_e=e[eligible], cand_w=w[eligible])
    ref = solve(full, prune=False)
    assert _cost(res) == _cost(ref) and _cost(solve(problem)) > _cost(ref)
    _check_rules(full, res)
