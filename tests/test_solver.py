"""Exact assignment solver: brute force on tiny instances, invariants, diagnoses."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assign.diagnosis import diagnose
from assign.flow import scaled_cost
from assign.problem import AssignmentProblem, Status
from assign.solver import quality_summary, solve


def make(
    w: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    **kw: object,
) -> AssignmentProblem:
    """Problem over the pairs of (P, E) matrix ``w`` where ``mask`` (default all) is set."""
    n_p, n_e = w.shape
    mask = np.ones_like(w, dtype=bool) if mask is None else mask
    p, e = np.nonzero(mask)
    return AssignmentProblem(
        proposal_ids=tuple(f"P{i}" for i in range(n_p)),
        expert_ids=tuple(f"E{i}" for i in range(n_e)),
        cand_p=p,
        cand_e=e,
        cand_w=w[p, e],
        **kw,  # type: ignore[arg-type]
    )


def brute_force(pr: AssignmentProblem) -> int | None:
    """Best total integer score (scaled affinity) over all assignments, None if infeasible."""
    n_p, n_e = pr.n_proposals, pr.n_experts
    score = {}
    conflicts = set(zip(pr.conflict_p.tolist(), pr.conflict_e.tolist(), strict=True))
    cost = -scaled_cost(pr.cand_w)
    for p, e, c, w in zip(pr.cand_p, pr.cand_e, cost, pr.cand_w, strict=True):
        if (p, e) not in conflicts and w >= pr.affinity_floor:
            score[(int(p), int(e))] = int(c)
    options = []
    for p in range(n_p):
        elig = [e for e in range(n_e) if (p, e) in score]
        opts = []
        for combo in itertools.combinations(elig, int(pr.k[p])):
            units = [pr.expert_unit[e] for e in combo if pr.expert_unit[e] >= 0]
            if len(units) != len(set(units)):
                continue
            if sum(pr.is_industry[e] for e in combo) < pr.min_industry[p]:
                continue
            if sum(pr.is_outside[e] for e in combo) < pr.min_outside[p]:
                continue
            if sum(pr.is_senior[e] for e in combo) < pr.min_senior[p]:
                continue
            opts.append((combo, sum(score[(p, e)] for e in combo)))
        options.append(opts)
    best = None
    for choice in itertools.product(*options):
        load = np.zeros(n_e, dtype=int)
        for combo, _ in choice:
            load[list(combo)] += 1
        if np.any(load > pr.max_load) or np.any(load < pr.min_load):
            continue
        total = sum(s for _, s in choice)
        best = total if best is None else max(best, total)
    return best


def assert_valid(pr: AssignmentProblem, res: object) -> None:
    q = quality_summary(pr, res)  # type: ignore[arg-type]
    assert q["conflicts_violated"] == 0
    assert q["one_per_unit_violated"] == 0
    assert q["k_violated"] == 0
    assert q["load_violated"] == 0
    for name, v in q["quota_satisfaction"].items():  # type: ignore[union-attr]
        assert v["met"] == v["total"], name
    assert np.all(res.pair_w >= pr.affinity_floor)  # type: ignore[attr-defined]


def int_objective(res: object) -> int:
    return int(-scaled_cost(res.pair_w).sum())  # type: ignore[attr-defined]


RNG = np.random.default_rng(7)
W45 = np.round(RNG.random((4, 5)), 3)
UNIT5 = np.array([0, 0, 1, 1, -1])
IND5 = np.array([True, True, False, False, True])
OUT5 = np.array([False, True, True, False, True])
SEN5 = np.array([True, False, True, False, False])

CASES = {
    "plain": dict(k=2, max_load=2),
    "tight_loads": dict(k=2, max_load=np.array([1, 2, 2, 1, 2])),
    "min_load": dict(k=2, max_load=2, min_load=np.array([2, 0, 2, 0, 1])),
    "units": dict(k=2, max_load=2, expert_unit=UNIT5),
    "industry": dict(k=2, max_load=2, is_industry=IND5, min_industry=np.array([1, 2, 0, 1])),
    "outside": dict(k=2, max_load=2, is_outside=OUT5, min_outside=1),
    "senior_units": dict(
        k=2, max_load=2, is_senior=SEN5, min_senior=1, expert_unit=np.array([0, 1, 2, 3, -1])
    ),
    "two_quotas": dict(
        k=2, max_load=2, is_industry=IND5, min_industry=1, is_outside=OUT5, min_outside=1
    ),
    "two_quotas_units": dict(
        k=2,
        max_load=3,
        is_industry=IND5,
        min_industry=1,
        is_senior=SEN5,
        min_senior=1,
        expert_unit=UNIT5,
    ),  # fmt: skip
    "unit_mixes_group": dict(
        k=2,
        max_load=2,
        expert_unit=UNIT5,
        is_industry=IND5 & [True, False, True, True, True],
        min_industry=1,
    ),  # fmt: skip
    "conflicts_floor": dict(
        k=2,
        max_load=2,
        conflict_p=np.array([0, 1, 2]),
        conflict_e=np.array([0, 1, 2]),
        affinity_floor=0.1,
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("prune", [False, True])
def test_matches_brute_force(name: str, prune: bool) -> None:
    pr = make(W45, **CASES[name])
    best = brute_force(pr)
    res = solve(pr, prune=prune, candidates_per_proposal=1, candidates_per_expert=0)
    if best is None:
        assert res.status == Status.INFEASIBLE
        assert res.diagnosis
        return
    assert res.status == Status.OPTIMAL
    assert res.certified
    assert res.gap == 0.0
    assert_valid(pr, res)
    assert int_objective(res) == best
    assert res.objective == pytest.approx(float(res.pair_w.sum()))


def test_flow_used_for_one_quota_and_mip_for_two() -> None:
    assert solve(make(W45, **CASES["industry"])).solver == "min-cost-flow"
    assert solve(make(W45, **CASES["two_quotas"])).solver == "highs-mip"
    assert solve(make(W45, **CASES["unit_mixes_group"])).solver == "highs-mip"


def test_cp_sat_backend_agrees() -> None:
    pr = make(W45, **CASES["two_quotas_units"])
    res = solve(pr, mip_solver="cp-sat", time_limit_s=10)
    assert res.solver == "cp-sat"
    assert res.status == Status.OPTIMAL
    assert int_objective(res) == brute_force(pr)


def test_bad_mip_solver_named() -> None:
    with pytest.raises(ValueError, match="mip_solver must be 'highs' or 'cp-sat', got 'glpk'"):
        solve(make(W45, **CASES["two_quotas"]), mip_solver="glpk")


@st.composite
def tiny_problem(draw: st.DrawFn) -> AssignmentProblem:
    n_p = draw(st.integers(1, 3))
    n_e = draw(st.integers(2, 5))
    w = (
        np.array(
            draw(st.lists(st.integers(0, 20), min_size=n_p * n_e, max_size=n_p * n_e)), float
        ).reshape(n_p, n_e)
        / 20
    )
    mask = np.array(draw(st.lists(st.booleans(), min_size=n_p * n_e, max_size=n_p * n_e))).reshape(
        n_p, n_e
    )
    k = draw(st.integers(1, 2))
    max_load = np.array(draw(st.lists(st.integers(1, 3), min_size=n_e, max_size=n_e)))
    min_load = np.minimum(
        max_load, np.array(draw(st.lists(st.integers(0, 1), min_size=n_e, max_size=n_e)))
    )
    unit = np.array(draw(st.lists(st.integers(-1, 2), min_size=n_e, max_size=n_e)))
    flags = {
        f: np.array(draw(st.lists(st.booleans(), min_size=n_e, max_size=n_e)))
        for f in ("is_industry", "is_outside", "is_senior")
    }
    quotas = {
        q: draw(st.sampled_from([0, 0, 1])) for q in ("min_industry", "min_outside", "min_senior")
    }
    n_conf = draw(st.integers(0, 2))
    cp = np.array(draw(st.lists(st.integers(0, n_p - 1), min_size=n_conf, max_size=n_conf)))
    ce = np.array(draw(st.lists(st.integers(0, n_e - 1), min_size=n_conf, max_size=n_conf)))
    return make(
        w, mask=mask, k=k, max_load=max_load, min_load=min_load, expert_unit=unit,
        conflict_p=cp.astype(int), conflict_e=ce.astype(int),
        affinity_floor=draw(st.sampled_from([0.0, 0.2])), **flags, **quotas,
    )  # fmt: skip


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_problem(), st.booleans())
def test_hypothesis_invariants_and_optimum(pr: AssignmentProblem, prune: bool) -> None:
    res = solve(pr, prune=prune, candidates_per_proposal=1, candidates_per_expert=1)
    best = brute_force(pr)
    if best is None:
        assert res.status == Status.INFEASIBLE
        assert len(res.diagnosis) >= 1
        assert res.pair_p.size == 0
    else:
        assert res.status == Status.OPTIMAL, res.diagnosis
        assert_valid(pr, res)
        assert int_objective(res) == best


# --------------------------------------------------------------------------- diagnoses


def test_diagnosis_proposal_short_counts() -> None:
    w = np.full((2, 6), 0.5)
    w[0, 2:4] = 0.1
    mask = np.ones((2, 6), bool)
    mask[0, 4] = False
    pr = make(
        w, mask=mask, k=3, max_load=3, affinity_floor=0.3,
        conflict_p=np.array([0, 0]), conflict_e=np.array([0, 5]),
    )  # fmt: skip
    res = solve(pr)
    assert res.status == Status.INFEASIBLE
    assert res.diagnosis == (
        "Proposal P0 has only 1 eligible experts but needs k=3 (2 conflicted, 2 below the "
        "affinity floor 0.3, 1 not candidates); lower k, lower the affinity floor or add "
        "candidate experts.",
    )
    rec = res.records[0]
    assert rec.kind == "proposal_short"
    assert rec.proposal_ids == ("P0",)
    assert dict(rec.counts)["conflicted"] == 2


def test_diagnosis_units() -> None:
    pr = make(np.full((1, 4), 0.5), k=3, max_load=1, expert_unit=np.array([0, 0, 1, 1]))
    res = solve(pr)
    assert res.diagnosis == (
        "Proposal P0 has 4 eligible experts but they come from only 2 distinct units and at "
        "most one expert per unit may review it (k=3); lower k or add experts from other units.",
    )


def test_diagnosis_quota_short() -> None:
    pr = make(
        np.full((2, 5), 0.5), k=3, max_load=3,
        is_industry=np.array([True, False, False, False, False]), min_industry=np.array([2, 0]),
    )  # fmt: skip
    res = solve(pr)
    assert res.diagnosis == (
        "Proposal P0 needs at least 2 industry experts but only 1 eligible industry expert is "
        "available (counting one per unit; 1 industry experts in the pool); lower the industry "
        "quota or add eligible industry experts.",
    )
    assert res.records[0].kind == "quota_short"


def test_diagnosis_capacity_and_min_loads() -> None:
    res = solve(make(np.full((4, 3), 0.5), k=2, max_load=2))
    assert res.diagnosis == (
        "The proposals need 8 reviews in total but the experts can give at most 6 (3 experts "
        "with an eligible proposal, max loads and eligible pairs counted); raise max_load, add "
        "experts or lower k.",
    )
    res = solve(make(np.full((1, 3), 0.5), k=1, max_load=2, min_load=1))
    assert res.diagnosis[0] == (
        "The experts' minimum loads total 3 reviews but the proposals need only 1 (sum of k); "
        "lower min_load or raise k."
    )
    mask = np.array([[True, True, False], [True, True, False]])
    res = solve(make(np.full((2, 3), 0.5), mask=mask, k=1, max_load=2, min_load=[0, 0, 1]))
    assert res.diagnosis == (
        "Expert E2 must review at least 1 proposals but is eligible for only 0; lower its "
        "min_load or add candidate pairs.",
    )


def test_diagnosis_hall_names_the_crowded_proposals() -> None:
    # P0..P2 share only E0, E1 (loads 1 each) and need 3 reviews; P3 has plenty of experts
    mask = np.zeros((4, 6), bool)
    mask[:3, :2] = True
    mask[3, :] = True
    res = solve(make(np.full((4, 6), 0.5), mask=mask, k=1, max_load=1))
    assert res.status == Status.INFEASIBLE
    assert res.diagnosis == (
        "Proposals P0, P1, P2 (3 proposals) need 3 reviews together but their 2 eligible "
        "experts can give them at most 2 (max loads); raise max_load, add experts eligible "
        "for them or lower k.",
    )
    assert res.records[0].kind == "hall"
    assert res.records[0].expert_ids == ("E0", "E1")


def test_diagnosis_joint_when_no_single_cause() -> None:
    # each rule passes alone; industry and outside quotas together cannot both be met
    pr = make(
        np.full((1, 3), 0.5), k=1, max_load=1,
        is_industry=np.array([True, False, False]), min_industry=1,
        is_outside=np.array([False, True, False]), min_outside=1,
    )  # fmt: skip
    res = solve(pr)
    assert res.status == Status.INFEASIBLE
    assert res.records[-1].kind == "joint"
    assert res.diagnosis[-1].startswith(
        "No assignment satisfies all rules together (k per proposal, max loads, industry quota, "
        "outside-province quota)"
    )
    assert diagnose(pr) == []


def test_quality_summary_and_frame() -> None:
    pr = make(W45, **CASES["industry"])
    res = solve(pr)
    q = quality_summary(pr, res)
    assert q["total_affinity"] == pytest.approx(res.objective)
    assert sum(q["load_histogram"].values()) == pr.n_experts  # type: ignore[union-attr]
    assert sum(k * v for k, v in q["load_histogram"].items()) == 8  # type: ignore[union-attr]
    assert q["quota_satisfaction"] == {"industry": {"met": 3, "total": 3}}
    df = res.to_frame()
    assert list(df.columns) == ["proposal_id", "expert_id", "affinity"]
    assert len(df) == 8 and res.pairs.shape == (8, 2)
    assert q["min_proposal_affinity"] <= q["mean_proposal_affinity"]


def test_progress_called_and_inputs_untouched() -> None:
    pr = make(W45, k=2, max_load=2)
    before = pr.cand_w.copy()
    seen: list[tuple[str, float]] = []
    solve(pr, prune=True, candidates_per_proposal=1, progress=lambda s, f: seen.append((s, f)))
    assert ("flow", 1.0) in seen and any(s == "pricing" for s, _ in seen)
    np.testing.assert_array_equal(pr.cand_w, before)
