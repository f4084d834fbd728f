"""Tests for assign.panels: brute force on tiny instances, invariants, leader, diagnoses."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assign.panels import (
    PanelInputError,
    PanelProblem,
    PanelResult,
    group_proposals,
    solve_panels,
)
from assign.problem import Status

# --- helpers ------------------------------------------------------------------------------


def _problem(
    groups: dict[str, list[str]],
    experts: list[str],
    pairs: dict[tuple[str, str], float],
    *,
    conflicts: tuple[tuple[str, str], ...] = (),
    unit: dict[str, int] | None = None,
    kind: dict[str, str] | None = None,
    senior: tuple[str, ...] = (),
    level: dict[str, str] | None = None,
    n: int = 3,
    n_min: int = 2,
    min_industry: int = 0,
    min_finance: int = 0,
) -> PanelProblem:
    group_ids = tuple(groups)
    proposal_ids = tuple(p for g in group_ids for p in groups[g])
    proposal_group = [i for i, g in enumerate(group_ids) for _ in groups[g]]
    pi = {p: i for i, p in enumerate(proposal_ids)}
    ei = {e: i for i, e in enumerate(experts)}
    unit = unit or {}
    kind = kind or {}
    level = level or {}
    return PanelProblem(
        group_ids=group_ids,
        proposal_ids=proposal_ids,
        proposal_group=np.array(proposal_group),
        expert_ids=tuple(experts),
        cand_p=np.array([pi[p] for p, _ in pairs], dtype=np.int64),
        cand_e=np.array([ei[e] for _, e in pairs], dtype=np.int64),
        cand_w=np.array(list(pairs.values()), dtype=float),
        expert_unit=np.array([unit.get(e, -1) for e in experts]),
        expert_kind=np.array([kind.get(e, "academic") for e in experts]),
        is_senior=np.array([e in senior for e in experts]),
        expert_level=np.array([level.get(e, "") for e in experts]),
        conflict_p=np.array([pi[p] for p, _ in conflicts], dtype=np.int64),
        conflict_e=np.array([ei[e] for _, e in conflicts], dtype=np.int64),
        n=np.asarray(n),
        n_min=np.asarray(n_min),
        min_industry=np.asarray(min_industry),
        min_finance=np.asarray(min_finance),
    )


def _random_problem(seed: int) -> PanelProblem:
    """2 groups, <= 8 experts, n = 3 (or 1), random units, kinds, conflicts and quotas."""
    rng = np.random.default_rng(seed)
    n_e = int(rng.integers(4, 9))
    sizes = rng.integers(1, 4, size=2)
    n_p = int(sizes.sum())
    pairs = rng.random((n_p, n_e)) < 0.75
    cand_p, cand_e = np.nonzero(pairs)
    conflicts = rng.random((n_p, n_e)) < 0.12
    conf_p, conf_e = np.nonzero(conflicts)
    n = int(rng.choice([1, 3], p=[0.2, 0.8]))
    return PanelProblem(
        group_ids=("G1", "G2"),
        proposal_ids=tuple(f"P{i}" for i in range(n_p)),
        proposal_group=np.repeat([0, 1], sizes),
        expert_ids=tuple(f"E{i}" for i in range(n_e)),
        cand_p=cand_p,
        cand_e=cand_e,
        cand_w=rng.integers(0, 101, size=cand_p.size) / 100,
        expert_unit=rng.integers(-1, 5, size=n_e),
        expert_kind=rng.choice(["academic", "industry", "finance"], size=n_e, p=[0.5, 0.3, 0.2]),
        is_senior=rng.random(n_e) < 0.5,
        expert_level=rng.choice(["A", "B", "C", ""], size=n_e),
        conflict_p=conf_p,
        conflict_e=conf_e,
        n=np.asarray(n),
        n_min=rng.integers(0, n + 1, size=2),
        min_industry=(rng.random(2) < 0.3).astype(int),
        min_finance=(rng.random(2) < (0.3 if n > 1 else 0)).astype(int),
    )


def _group_weight(problem: PanelProblem) -> dict[tuple[int, int], float]:
    """Aggregated non-conflicted affinity per (group, expert), for experts with such a pair."""
    conflicts = set(zip(problem.conflict_p.tolist(), problem.conflict_e.tolist(), strict=True))
    out: dict[tuple[int, int], float] = {}
    for p, e, w in zip(
        problem.cand_p.tolist(), problem.cand_e.tolist(), problem.cand_w.tolist(), strict=True
    ):
        if (p, e) not in conflicts:
            key = (int(problem.proposal_group[p]), e)
            out[key] = out.get(key, 0.0) + w
    return out


def _panel_ok(problem: PanelProblem, g: int, panel: tuple[int, ...]) -> bool:
    n = int(problem.n[g])
    if len(panel) != n:
        return False
    units = [int(problem.expert_unit[e]) for e in panel if problem.expert_unit[e] >= 0]
    if len(units) != len(set(units)):
        return False
    kinds = [str(problem.expert_kind[e]) for e in panel]
    if kinds.count("industry") < problem.min_industry[g]:
        return False
    if kinds.count("finance") < problem.min_finance[g]:
        return False
    conflicts = set(zip(problem.conflict_p.tolist(), problem.conflict_e.tolist(), strict=True))
    for p in np.flatnonzero(problem.proposal_group == g).tolist():
        if sum((p, e) not in conflicts for e in panel) < problem.n_min[g]:
            return False
    return True


def _brute_force(problem: PanelProblem) -> float | None:
    """Best total affinity over all pairs of disjoint feasible panels (None if none)."""
    weight = _group_weight(problem)
    options = []
    for g in range(problem.n_groups):
        cands = sorted(e for (h, e) in weight if h == g)
        options.append(
            [
                (set(c), sum(weight[g, e] for e in c))
                for c in itertools.combinations(cands, int(problem.n[g]))
                if _panel_ok(problem, g, c)
            ]
        )
    best = None
    for (a, wa), (b, wb) in itertools.product(*options):
        if not a & b and (best is None or wa + wb > best):
            best = wa + wb
    return best


def _check_invariants(problem: PanelProblem, result: PanelResult) -> None:
    ei = {e: i for i, e in enumerate(problem.expert_ids)}
    weight = _group_weight(problem)
    seen: set[str] = set()
    total = 0.0
    conflicts = set(zip(problem.conflict_p.tolist(), problem.conflict_e.tolist(), strict=True))
    for g, gid in enumerate(problem.group_ids):
        panel = tuple(ei[e] for e in result.panels[gid])
        assert _panel_ok(problem, g, panel)
        assert all((g, e) in weight for e in panel)  # only candidates of the group
        assert not seen & set(result.panels[gid])
        seen |= set(result.panels[gid])
        assert result.leaders[gid] in result.panels[gid]
        total += sum(weight[g, e] for e in panel)
        for p in np.flatnonzero(problem.proposal_group == g).tolist():
            free = sum((p, e) not in conflicts for e in panel)
            assert result.members_per_proposal[problem.proposal_ids[p]] == free
    assert result.objective == pytest.approx(total)


# --- brute force and invariants -----------------------------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1))
def test_matches_brute_force_and_keeps_invariants(seed: int) -> None:
    problem = _random_problem(seed)
    best = _brute_force(problem)
    result = solve_panels(problem, top_n=None, time_limit_s=10, seed=0)
    if best is None:
        assert result.status is Status.INFEASIBLE
        assert result.diagnosis
        assert all(line.startswith("group") for line in result.diagnosis)
        assert result.objective is None and not result.panels
    else:
        assert result.status is Status.OPTIMAL
        assert result.objective == pytest.approx(best, abs=1e-9)
        assert result.gap == 0.0 and result.bound == pytest.approx(best)
        _check_invariants(problem, result)


def test_hand_computed_optimum() -> None:
    # E1 is best for both groups; giving it to A (0.9 + 0.9) beats giving it to B (0.8).
    problem = _problem(
        {"A": ["a1", "a2"], "B": ["b1"]},
        ["E1", "E2", "E3", "E4"],
        {
            ("a1", "E1"): 0.9,
            ("a2", "E1"): 0.9,
            ("a1", "E2"): 0.1,
            ("b1", "E1"): 0.8,
            ("b1", "E3"): 0.3,
            ("a2", "E4"): 0.2,
        },
        n=1,
        n_min=1,
    )
    result = solve_panels(problem, seed=0)
    assert result.status is Status.OPTIMAL
    assert dict(result.panels) == {"A": ("E1",), "B": ("E3",)}
    assert result.objective == pytest.approx(2.1)
    assert dict(result.members_per_proposal) == {"a1": 1, "a2": 1, "b1": 1}


def test_conflicted_affinity_does_not_count_and_member_recuses() -> None:
    problem = _problem(
        {"A": ["a1", "a2"]},
        ["E1", "E2", "E3", "E4"],
        {
            ("a1", "E1"): 1.0,
            ("a2", "E1"): 0.5,
            ("a1", "E2"): 0.4,
            ("a1", "E3"): 0.3,
            ("a1", "E4"): 0.2,
        },
        conflicts=(("a1", "E1"),),
        n=3,
        n_min=2,
    )
    result = solve_panels(problem, seed=0)
    assert result.panels["A"] == ("E1", "E2", "E3")
    assert result.objective == pytest.approx(0.5 + 0.4 + 0.3)
    assert dict(result.members_per_proposal) == {"a1": 2, "a2": 3}


# --- leader -------------------------------------------------------------------------------


def _leader_of(senior: tuple[str, ...], level: dict[str, str], weights: dict[str, float]) -> str:
    experts = list(weights)
    problem = _problem(
        {"A": ["a1"]},
        experts,
        {("a1", e): w for e, w in weights.items()},
        senior=senior,
        level=level,
        n=len(experts),
        n_min=0,
    )
    result = solve_panels(problem, seed=0)
    assert result.panels["A"] == tuple(sorted(experts))
    return result.leaders["A"]


def test_leader_senior_before_level() -> None:
    leader = _leader_of(("E2",), {"E1": "A", "E2": "C", "E3": "B"}, {"E1": 1, "E2": 0, "E3": 1})
    assert leader == "E2"


def test_leader_level_then_affinity_then_id() -> None:
    level = {"E1": "B", "E2": "A", "E3": "A"}
    assert _leader_of(("E1", "E2", "E3"), level, {"E1": 0.9, "E2": 0.2, "E3": 0.5}) == "E3"
    assert _leader_of(("E1", "E2", "E3"), level, {"E1": 0.9, "E2": 0.5, "E3": 0.5}) == "E2"
    assert _leader_of((), {"E1": "", "E2": "C", "E3": ""}, {"E1": 1, "E2": 0, "E3": 1}) == "E2"


# --- diagnoses ----------------------------------------------------------------------------


def _solve(problem: PanelProblem, **kw: object) -> PanelResult:
    result = solve_panels(problem, seed=0, **kw)  # type: ignore[arg-type]
    assert result.status is Status.INFEASIBLE
    assert result.objective is None and not result.panels
    return result


def test_diagnosis_too_few_candidates() -> None:
    problem = _problem(
        {"3001": ["p1"], "3002": ["p2"]},
        ["E1", "E2", "E3", "E4"],
        {("p1", "E1"): 1, ("p1", "E2"): 1, ("p2", "E3"): 1, ("p2", "E4"): 1},
    )
    result = _solve(problem)
    assert result.diagnosis == (
        "group 3001: too few candidate experts — only 2 have affinity to its proposals but the "
        "panel needs n = 3; add experts in this field to the pool or lower n",
        "group 3002: too few candidate experts — only 2 have affinity to its proposals but the "
        "panel needs n = 3; add experts in this field to the pool or lower n",
    )


def test_diagnosis_conflicted_proposal() -> None:
    experts = [f"E{i}" for i in range(6)]
    pairs = {(p, e): 0.5 for p in ("p1", "p2") for e in experts}
    problem = _problem(
        {"3001": ["p1", "p2"]},
        experts,
        pairs,
        conflicts=(("p2", "E0"), ("p2", "E1")),
        n=5,
        n_min=5,
    )
    assert _solve(problem).message == (
        "group 3001: too many conflicted experts for proposal p2 — only 4 non-conflicted "
        "candidates but n_min = 5 (2 of 6 candidates are conflicted); lower n_min, or move the "
        "proposal to another group, or add non-conflicted experts"
    )


def test_diagnosis_units_and_quotas() -> None:
    experts = ["E1", "E2", "E3", "E4"]
    problem = _problem(
        {"6001": ["p1"]},
        experts,
        {("p1", e): 0.5 for e in experts},
        unit={"E1": 7, "E2": 7, "E3": 8, "E4": 8},
        kind={"E1": "industry"},
        min_industry=2,
        min_finance=1,
    )
    assert _solve(problem).diagnosis == (
        "group 6001: its 4 candidate experts come from only 2 distinct units and at most one "
        "expert per unit may sit on a panel, but n = 3; add experts from other units or lower n",
        "group 6001: not enough industry candidates — 1 but min_industry = 2; add industry "
        "experts with affinity to the group or lower min_industry",
        "group 6001: not enough finance candidates — 0 but min_finance = 1; add finance experts "
        "with affinity to the group or lower min_finance",
    )


def test_diagnosis_contention_between_groups() -> None:
    experts = ["E1", "E2", "E3", "E4", "E5", "E6", "E7"]
    pairs = {(p, e): 0.5 for p in ("a1", "b1") for e in experts[:4]}
    pairs.update({("c1", e): 0.5 for e in experts[4:]})
    problem = _problem({"A": ["a1"], "B": ["b1"], "C": ["c1"]}, experts, pairs, n=3, n_min=0)
    assert _solve(problem).diagnosis == (
        "groups A, B contend for the same experts: together they need 6 panel members (n per "
        "panel) but have only 4 distinct candidates between them, and at most 4 seats can be "
        "filled with each expert on one panel and one expert per unit per panel; add experts in "
        "these fields, merge groups or lower n",
    )


def test_diagnosis_combined_rules_in_one_group() -> None:
    # Each proposal alone keeps 3 free candidates, but a panel of 3 must avoid both E1 and E2.
    experts = ["E1", "E2", "E3", "E4"]
    pairs = {(p, e): 0.5 for p in ("a1", "a2") for e in experts}
    pairs.update({("b1", e): 0.5 for e in ("E5", "E6", "E7")})
    problem = _problem(
        {"A": ["a1", "a2"], "B": ["b1"]},
        [*experts, "E5", "E6", "E7"],
        pairs,
        conflicts=(("a1", "E1"), ("a2", "E2")),
        n=3,
        n_min=3,
    )
    assert _solve(problem).diagnosis == (
        "group A: no panel of n = 3 among its 4 candidates meets one expert per unit, n_min "
        "non-conflicted members for every proposal and the industry/finance quotas at once; "
        "lower n_min or the quotas, or add experts",
    )


def test_diagnosis_points_at_top_n_pruning() -> None:
    experts = [f"E{i}" for i in range(8)]
    pairs = {("p1", e): 1 - i / 10 for i, e in enumerate(experts)}
    problem = _problem(
        {"A": ["p1"]},
        experts,
        pairs,
        conflicts=tuple(("p1", e) for e in experts[:2]),
        kind={"E7": "industry"},
        n=3,
        n_min=3,
        min_industry=1,
    )
    # conflicted experts are not candidates; top_n = 2 keeps E2, E3 plus the best industry one
    result = solve_panels(problem, top_n=2, seed=0)
    assert result.status is Status.OPTIMAL
    assert result.panels["A"] == ("E2", "E3", "E7")
    problem2 = _problem({"A": ["p1"]}, experts, pairs, n=5, n_min=0)
    assert _solve(problem2, top_n=3).diagnosis == (
        "group A: too few candidate experts — only 3 have affinity to its proposals among its "
        "top_n = 3 candidates (8 in the whole pool; raise top_n) but the panel needs n = 5; "
        "add experts in this field to the pool or lower n",
    )


# --- determinism, grouping, validation ------------------------------------------------------


def test_same_seed_same_panels() -> None:
    rng = np.random.default_rng(5)
    n_e, n_p, n_g = 36, 12, 3
    cp, ce = np.nonzero(rng.random((n_p, n_e)) < 0.5)
    problem = PanelProblem(
        group_ids=("1001", "1002", "2001"),
        proposal_ids=tuple(f"P{i}" for i in range(n_p)),
        proposal_group=np.arange(n_p) % n_g,
        expert_ids=tuple(f"E{i}" for i in range(n_e)),
        cand_p=cp,
        cand_e=ce,
        cand_w=np.round(rng.random(cp.size), 2),
        expert_unit=rng.integers(0, 20, size=n_e),
        expert_kind=rng.choice(["academic", "industry", "finance"], size=n_e),
        is_senior=rng.random(n_e) < 0.5,
        expert_level=rng.choice(["A", "B", "C"], size=n_e),
        conflict_p=cp[::7],
        conflict_e=ce[::7],
        n=np.asarray(5),
        n_min=np.asarray(4),
        min_industry=np.asarray(1),
        min_finance=np.asarray(1),
    )
    first = solve_panels(problem, seed=3)
    again = solve_panels(problem, seed=3)
    assert first.status is Status.OPTIMAL
    assert first.panels == again.panels and first.leaders == again.leaders
    assert first.members_per_proposal == again.members_per_proposal
    assert first.objective == again.objective
    _check_invariants(problem, first)
    fast = solve_panels(problem, seed=3, deterministic=False)
    assert fast.objective == pytest.approx(first.objective)


def test_group_proposals() -> None:
    ids, idx = group_proposals(["3002", "1001", "3001", "3002"])
    assert ids == ("1001", "3001", "3002") and idx.tolist() == [2, 0, 1, 2]
    ids, idx = group_proposals(["3002", "1001", "3001"], by="programme")
    assert ids == ("1", "3") and idx.tolist() == [1, 0, 1]
    with pytest.raises(PanelInputError, match="proposal at position 1 has an empty direction"):
        group_proposals(["3001", " "])


def test_inputs_not_mutated_and_frozen() -> None:
    w = np.array([0.5, 0.5, 0.5])
    problem = PanelProblem(
        group_ids=("A",),
        proposal_ids=("p1",),
        proposal_group=np.array([0]),
        expert_ids=("E1", "E2", "E3"),
        cand_p=np.zeros(3, dtype=np.int64),
        cand_e=np.arange(3),
        cand_w=w,
        n=np.asarray(3),
        n_min=np.asarray(3),
    )
    assert w.flags.writeable and not problem.cand_w.flags.writeable
    solve_panels(problem, seed=0)
    assert w.tolist() == [0.5, 0.5, 0.5]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"n": 4}, "group A: panel size n = 4; use an odd n >= 1"),
        ({"n_min": 4}, "group A: n_min = 4; use 0 <= n_min <= n = 3"),
        (
            {"min_industry": 2, "min_finance": 2},
            "group A: min_industry = 2 and min_finance = 2; use quotas >= 0 that sum to at most "
            "n = 3",
        ),
        ({"expert_ids": ("E1", "E2", "E1")}, "expert id E1 is listed more than once"),
        ({"expert_kind": ["academic", "財務", "finance"]}, "expert E2 has kind '財務'"),
        ({"expert_level": ["A", "D", "B"]}, "expert E2 has level 'D'; use A, B, C or ''"),
        ({"cand_w": [0.5, -0.1, 0.5]}, r"affinity of pair \(p1, E2\) is -0.1"),
        ({"group_ids": ("A", "B")}, r"group\(s\) B have no proposals"),
        ({"proposal_group": [3]}, "proposal p1 has group index 3, outside 0..0"),
    ],
)
def test_validation_names_ids(change: dict[str, object], message: str) -> None:
    kw: dict[str, object] = {
        "group_ids": ("A",),
        "proposal_ids": ("p1",),
        "proposal_group": [0],
        "expert_ids": ("E1", "E2", "E3"),
        "cand_p": [0, 0, 0],
        "cand_e": [0, 1, 2],
        "cand_w": [0.5, 0.5, 0.5],
        "n": 3,
        "n_min": 3,
    }
    kw.update(change)
    with pytest.raises(PanelInputError, match=message):
        PanelProblem(**kw)  # type: ignore[arg-type]
