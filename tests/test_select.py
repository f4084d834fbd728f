"""Tests for scoring.select: brute force on tiny instances, each rule binding, overrides,
infeasible diagnoses, P(selected), alternates, grey zone and lottery."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import scoring.select as sel_mod
from assign.problem import Status
from scoring.select import (
    Override,
    SelectionInfeasibleError,
    SelectionInputError,
    SelectionRules,
    grey_zone,
    lottery,
    select,
    selection_probability,
)

DIRS = pd.DataFrame(
    {
        "direction_code": ["1001", "1002", "2001"],
        "programme": ["新能源", "新能源", "6G技术"],
        "cap_wan": [1500.0, np.nan, 1000.0],
    }
)


def frame(rows: list[dict]) -> pd.DataFrame:
    """Proposals frame with defaults; rows give at least proposal_id, direction_code, merit."""
    out = []
    for r in rows:
        d = {
            "requested_wan": 1000,
            "total_budget_wan": 4000,
            "enterprise_led": False,
            "pi_id": "PI-" + r["proposal_id"],
            "eligible": True,
            "young": False,
            "related_group": "",
        }
        d.update(r)
        d["programme"] = "6G技术" if d["direction_code"].startswith("2") else "新能源"
        out.append(d)
    return pd.DataFrame(out)


def chosen(res) -> set[str]:
    return set(res.selected_ids)


def random_instance(rng: np.random.Generator, n: int) -> pd.DataFrame:
    d = rng.choice(DIRS["direction_code"].to_numpy(), n)
    return frame(
        [
            {
                "proposal_id": f"P{i:02d}",
                "direction_code": str(d[i]),
                "merit": float(np.round(rng.uniform(50, 95), 2)),
                "requested_wan": int(rng.integers(200, 2400)),
                "total_budget_wan": int(rng.integers(800, 6000)),
                "enterprise_led": bool(rng.random() < 0.4),
                "pi_id": f"PI{int(rng.integers(0, 6))}",
                "eligible": bool(rng.random() < 0.9),
                "young": bool(rng.random() < 0.5),
                "related_group": str(rng.choice(["", "", "G1", "G2"])),
            }
            for i in range(n)
        ]
    )


# --------------------------------------------------------------------------- brute force


def brute_force(props: pd.DataFrame, dirs: pd.DataFrame, rules: SelectionRules):
    """Enumerate every subset; return (key, funded set) of the lexicographic optimum or None."""
    cap = dict(zip(dirs["direction_code"], dirs["cap_wan"], strict=True))
    ids = list(props["proposal_id"])
    pos = {p: k for k, p in enumerate(sorted(ids))}
    rows = {r.proposal_id: r for r in props.itertuples()}
    ub, lb = {}, {}
    for p, r in rows.items():
        share = rules.max_share_enterprise if r.enterprise_led else rules.max_share
        c = cap[r.direction_code]
        c = math.inf if pd.isna(c) else c
        b = math.floor(min(r.requested_wan, c, share * r.total_budget_wan, rules.max_grant_wan))
        ub[p] = b
        lb[p] = max(math.ceil(rules.min_grant_share * b - 1e-9), min(b, 1))
    fin = {o.proposal_id for o in rules.overrides if o.action == "force_in"}
    fout = {o.proposal_id for o in rules.overrides if o.action == "force_out"}

    def qualified(p: str) -> bool:
        r = rows[p]
        return r.eligible and p not in fout and ub[p] > 0 and r.merit >= rules.quality_floor

    allowed = [p for p in ids if qualified(p) or p in fin]
    best = None
    for k in range(len(allowed) + 1):
        for combo in itertools.combinations(allowed, k):
            s = set(combo)
            if not fin <= s:
                continue
            ok = True
            for d in dirs["direction_code"]:
                cnt = sum(rows[p].direction_code == d for p in s)
                n_q = sum(qualified(p) for p in ids if rows[p].direction_code == d)
                if cnt > rules.max_per_direction or cnt < min(rules.min_per_direction, n_q):
                    ok = False
            pis = [rows[p].pi_id for p in s]
            if rules.one_per_pi and len(set(pis)) < len(pis):
                ok = False
            rel = [rows[p].related_group for p in s if rows[p].related_group]
            if rules.related_exclusive and len(set(rel)) < len(rel):
                ok = False
            for prog, b in (rules.programme_budgets_wan or {}).items():
                if sum(lb[p] for p in s if rows[p].programme == prog) > b:
                    ok = False
            if rules.budget_wan is not None and sum(lb[p] for p in s) > rules.budget_wan:
                ok = False
            if rules.youth_min_share:
                fr = Fraction(rules.youth_min_share).limit_denominator(10_000)
                if sum(rows[p].young for p in s) < fr * len(s):
                    ok = False
            if not ok:
                continue
            key = (
                -sum(round(rows[p].merit * 1000) for p in s),
                sum(ub[p] for p in s),
                sum(pos[p] for p in s),
            )
            if best is None or key < best[0]:
                best = (key, s)
    return best


RULE_SETS = [
    SelectionRules(),
    SelectionRules(budget_wan=2500, programme_budgets_wan={"新能源": 1800}),
    SelectionRules(youth_min_share=0.5, budget_wan=3500),
    SelectionRules(min_grant_share=0.7, programme_budgets_wan={"新能源": 1500, "6G技术": 900}),
    SelectionRules(one_per_pi=False, related_exclusive=False, max_per_direction=1),
    SelectionRules(min_per_direction=2, budget_wan=5000, quality_floor=70),
]


@pytest.mark.parametrize("rules_no", range(len(RULE_SETS)))
@pytest.mark.parametrize("seed", range(6))
def test_matches_brute_force(rules_no: int, seed: int) -> None:
    rules = RULE_SETS[rules_no]
    props = random_instance(np.random.default_rng(seed), 9 + seed % 2)
    res = select(props, DIRS, rules, explain=False, alternates=0)
    best = brute_force(props, DIRS, rules)
    if best is None:
        assert res.status == Status.INFEASIBLE
        assert res.diagnosis
        return
    assert res.status == Status.OPTIMAL
    key, s = best
    assert res.objective_terms == (-key[0], key[1], key[2])
    assert res.objective == pytest.approx(-key[0] / 1000)
    assert res.gap == 0.0
    assert chosen(res) == s


@pytest.mark.parametrize("fit", [0, 10**10])
def test_sequential_levels_equal_weighted(monkeypatch: pytest.MonkeyPatch, fit: int) -> None:
    cases = [(RULE_SETS[k], random_instance(np.random.default_rng(40 + k), 10)) for k in range(5)]
    weighted = [select(p, DIRS, r, explain=False, alternates=0) for r, p in cases]
    monkeypatch.setattr(sel_mod, "_FIT", fit)
    monkeypatch.setattr(sel_mod, "_DP_ENABLED", False)
    for (r, p), w in zip(cases, weighted, strict=True):
        s = select(p, DIRS, r, explain=False, alternates=0)
        assert s.status == w.status
        assert s.objective_terms == w.objective_terms
        assert chosen(s) == chosen(w)


# --------------------------------------------------------------------------- each rule binds


def test_max_per_direction_and_floor_on_second_project() -> None:
    props = frame(
        [
            {"proposal_id": "A", "direction_code": "1002", "merit": 90.0},
            {"proposal_id": "B", "direction_code": "1002", "merit": 80.0},
            {"proposal_id": "C", "direction_code": "1002", "merit": 70.0},
            {"proposal_id": "D", "direction_code": "2001", "merit": 88.0},
            {"proposal_id": "E", "direction_code": "2001", "merit": 59.9},
        ]
    )
    res = select(props, DIRS, SelectionRules())
    assert chosen(res) == {"A", "B", "D"}
    assert res.explanation("C") == (
        "direction 1002 already funds 2 higher-merit projects (A, B); "
        "would be funded if its merit rose above 80"
    )
    assert res.explanation("E") == (
        "below quality floor 60.0 (merit 59.9); would qualify if its merit reached 60.0"
    )
    one = select(props, DIRS, SelectionRules(max_per_direction=1))
    assert chosen(one) == {"A", "D"}


def test_ties_broken_by_total_grant_then_id_order() -> None:
    props = frame(
        [
            {"proposal_id": "D", "direction_code": "1002", "merit": 80, "requested_wan": 900},
            {"proposal_id": "C", "direction_code": "1002", "merit": 80, "requested_wan": 900},
            {"proposal_id": "B", "direction_code": "1002", "merit": 80, "requested_wan": 1000},
            {"proposal_id": "A", "direction_code": "1002", "merit": 90, "requested_wan": 1000},
        ]
    )
    res = select(props, DIRS, SelectionRules())
    assert chosen(res) == {"A", "C"}  # B costs more; C precedes D in id order
    assert res.explanation("D") == (
        "direction 1002 already funds 2 projects (C, A); would be funded if its merit rose "
        "above 80; tied on merit with the funded set; lost the tie-break on total grant or id "
        "order"
    )
    p = selection_probability(props, DIRS, SelectionRules(), np.tile(props["merit"], (3, 1)))
    assert p.tolist() == [0.0, 1.0, 0.0, 1.0]


def test_min_per_direction_only_where_someone_passes_the_floor() -> None:
    props = frame(
        [
            {"proposal_id": "A", "direction_code": "1001", "merit": 55.0},
            {"proposal_id": "B", "direction_code": "2001", "merit": 61.0, "requested_wan": 900},
        ]
    )
    res = select(props, DIRS, SelectionRules(budget_wan=1000))
    assert res.status == Status.OPTIMAL
    assert chosen(res) == {"B"}
    # the minimum forces a low-merit project in although dropping it would cost nothing here
    low = frame([{"proposal_id": "B", "direction_code": "2001", "merit": -5.0}])
    assert chosen(select(low, DIRS, SelectionRules(quality_floor=-10))) == {"B"}


def test_grant_bounds_each_limit() -> None:
    props = frame(
        [
            {"proposal_id": "req", "direction_code": "1002", "merit": 80, "requested_wan": 700},
            {"proposal_id": "cap", "direction_code": "1001", "merit": 80, "requested_wan": 1900},
            {
                "proposal_id": "half",
                "direction_code": "1002",
                "merit": 81,
                "requested_wan": 1900,
                "total_budget_wan": 3001,
            },
            {
                "proposal_id": "ent",
                "direction_code": "2001",
                "merit": 80,
                "requested_wan": 1900,
                "total_budget_wan": 3000,
                "enterprise_led": True,
            },
            {
                "proposal_id": "max",
                "direction_code": "2001",
                "merit": 82,
                "requested_wan": 5000,
                "total_budget_wan": 20000,
            },
        ]
    )
    dirs = DIRS.assign(cap_wan=[1500.0, np.nan, np.nan])
    res = select(props, dirs, SelectionRules(max_per_direction=2))
    b = res.table.set_index("proposal_id")["grant_bound_wan"].to_dict()
    assert b == {"req": 700, "cap": 1500, "half": 1500, "ent": 900, "max": 2000}
    g = res.table.set_index("proposal_id")["grant_wan"].to_dict()
    assert g == b  # all funded, no budget: grant = bound
    assert "limited by 30% of the total budget (enterprise-led)" in res.explanation("ent")
    assert "limited by the direction cap" in res.explanation("cap")
    assert "limited by the 2000万 per-project maximum" in res.explanation("max")


def test_programme_budget_binds_and_explains() -> None:
    props = frame(
        [
            {"proposal_id": "A", "direction_code": "1001", "merit": 90, "requested_wan": 1200},
            {"proposal_id": "B", "direction_code": "1001", "merit": 85, "requested_wan": 1000},
            {"proposal_id": "C", "direction_code": "1002", "merit": 70, "requested_wan": 300},
        ]
    )
    free = select(props, DIRS, SelectionRules())
    assert chosen(free) == {"A", "B", "C"}
    res = select(props, DIRS, SelectionRules(programme_budgets_wan={"新能源": 1600}))
    assert chosen(res) == {"A", "C"}
    assert res.explanation("B") == (
        "programme budget 新能源 exhausted: funding it would need 900万 more; "
        "would be funded if its merit rose above 90; "
        "would also be funded if the programme budget 新能源 rose by 900万"
    )
    use = res.programme_use.set_index("programme")
    assert use.loc["新能源", "grants_wan"] == 1500
    assert use.loc["新能源", "budget_wan"] == 1600


def test_overall_budget_binds() -> None:
    props = frame(
        [
            {"proposal_id": "A", "direction_code": "1002", "merit": 90, "requested_wan": 1000},
            {"proposal_id": "B", "direction_code": "2001", "merit": 80, "requested_wan": 1000},
            {"proposal_id": "C", "direction_code": "2001", "merit": 79, "requested_wan": 500},
        ]
    )
    res = select(props, DIRS, SelectionRules(budget_wan=1600))
    assert chosen(res) == {"A", "C"}
    assert res.grants_total_wan == 1500
    assert res.budget_wan == 1600


def test_min_grant_share_lets_more_in_with_pro_rata_cuts() -> None:
    props = frame(
        [
            {"proposal_id": "A", "direction_code": "1002", "merit": 90, "requested_wan": 1000},
            {"proposal_id": "B", "direction_code": "1002", "merit": 80, "requested_wan": 1000},
        ]
    )
    full = select(props, DIRS, SelectionRules(budget_wan=1700))
    assert chosen(full) == {"A"}
    cut = select(props, DIRS, SelectionRules(budget_wan=1700, min_grant_share=0.8))
    assert chosen(cut) == {"A", "B"}
    g = cut.table.set_index("proposal_id")["grant_wan"]
    assert g["A"] == g["B"] == 850
    assert "cut from its bound 1000万 to fit the overall budget" in cut.explanation("A")
    no_pressure = select(props, DIRS, SelectionRules(budget_wan=5000, min_grant_share=0.8))
    assert list(no_pressure.table["grant_wan"]) == [1000, 1000]


def test_one_per_pi_binds_across_directions() -> None:
    props = frame(
        [
            {"proposal_id": "A", "direction_code": "1002", "merit": 90, "pi_id": "P-1"},
            {"proposal_id": "B", "direction_code": "2001", "merit": 80, "pi_id": "P-1"},
            {"proposal_id": "C", "direction_code": "2001", "merit": 70},
            {"proposal_id": "D", "direction_code": "1002", "merit": 65},
        ]
    )
    res = select(props, DIRS, SelectionRules())
    assert chosen(res) == {"A", "C", "D"}
    assert res.n_components == 1
    assert res.explanation("B") == (
        "PI P-1 already funded for A; would be funded if its merit rose above 90"
    )
    off = select(props, DIRS, SelectionRules(one_per_pi=False))
    assert chosen(off) == {"A", "B", "C", "D"}
    assert off.n_components == 2


def test_related_group_binds() -> None:
    props = frame(
        [
            {"proposal_id": "A", "direction_code": "1002", "merit": 90, "related_group": "G"},
            {"proposal_id": "B", "direction_code": "1002", "merit": 80, "related_group": "G"},
            {"proposal_id": "C", "direction_code": "1002", "merit": 70},
        ]
    )
    res = select(props, DIRS, SelectionRules())
    assert chosen(res) == {"A", "C"}
    assert "related group G already funded via A" in res.explanation("B")
    assert chosen(select(props, DIRS, SelectionRules(related_exclusive=False))) == {"A", "B"}


def test_youth_share_binds() -> None:
    props = frame(
        [
            {"proposal_id": "A", "direction_code": "1002", "merit": 90},
            {"proposal_id": "B", "direction_code": "1002", "merit": 80},
            {"proposal_id": "C", "direction_code": "1002", "merit": 70, "young": True},
        ]
    )
    assert chosen(select(props, DIRS, SelectionRules())) == {"A", "B"}
    res = select(props, DIRS, SelectionRules(youth_min_share=0.4))
    assert chosen(res) == {"A", "C"}
    assert res.explanation("B") == (
        "direction 1002 already funds 2 projects (A, C); youth share 40% would not be met "
        "(1 of 3 funded projects young); would be funded if its merit rose above 90"
    )


# --------------------------------------------------------------------------- overrides


def test_overrides_force_in_and_out() -> None:
    props = frame(
        [
            {"proposal_id": "A", "direction_code": "1002", "merit": 90},
            {"proposal_id": "B", "direction_code": "1002", "merit": 80},
            {"proposal_id": "C", "direction_code": "1002", "merit": 50},
        ]
    )
    rules = SelectionRules(
        overrides=(
            Override("A", "force_out", "duplicate of a funded national project", "李四"),
            Override("C", "force_in", "strategic priority", "张三"),
        )
    )
    res = select(props, DIRS, rules)
    assert chosen(res) == {"B", "C"}
    assert res.explanation("A") == "forced out by 李四: duplicate of a funded national project"
    assert res.explanation("C").startswith("funded: forced in by 张三: strategic priority; grant")


def test_override_validation() -> None:
    with pytest.raises(SelectionInputError, match="action must be 'force_in' or 'force_out'"):
        Override("A", "drop", "x", "y")  # type: ignore[arg-type]
    props = frame([{"proposal_id": "A", "direction_code": "1002", "merit": 90}])
    rules = SelectionRules(overrides=(Override("Z", "force_in", "r", "张三"),))
    with pytest.raises(SelectionInputError) as e:
        select(props, DIRS, rules)
    assert str(e.value) == (
        "override by 张三 names proposal Z, which is not in the proposals frame; "
        "fix the id or drop the override"
    )


# --------------------------------------------------------------------------- infeasible


def test_infeasible_force_in_ineligible() -> None:
    props = frame([{"proposal_id": "A", "direction_code": "1002", "merit": 90, "eligible": False}])
    res = select(props, DIRS, SelectionRules(overrides=(Override("A", "force_in", "r", "张三"),)))
    assert res.status == Status.INFEASIBLE
    assert res.diagnosis == (
        "proposal A is forced in by 张三 but was rejected in screening; drop the override or "
        "revisit the screening decision",
    )
    assert not res.table["selected"].any()
    assert math.isnan(res.objective)


def test_infeasible_two_force_ins_same_pi() -> None:
    props = frame(
        [
            {"proposal_id": "A", "direction_code": "1002", "merit": 90, "pi_id": "P-9"},
            {"proposal_id": "B", "direction_code": "2001", "merit": 80, "pi_id": "P-9"},
        ]
    )
    ov = (Override("A", "force_in", "r", "张三"), Override("B", "force_in", "r", "李四"))
    res = select(props, DIRS, SelectionRules(overrides=ov))
    assert res.status == Status.INFEASIBLE
    assert res.diagnosis == (
        "proposals A and B are all forced in but share PI P-9, which may have only one funded "
        "project; drop all but one of these overrides",
    )


def test_infeasible_budget_below_forced_in() -> None:
    props = frame(
        [
            {"proposal_id": "A", "direction_code": "1001", "merit": 90, "requested_wan": 800},
            {"proposal_id": "B", "direction_code": "1002", "merit": 80, "requested_wan": 600},
        ]
    )
    ov = (Override("A", "force_in", "r", "张三"), Override("B", "force_in", "r", "张三"))
    res = select(props, DIRS, SelectionRules(programme_budgets_wan={"新能源": 1200}, overrides=ov))
    assert res.status == Status.INFEASIBLE
    assert res.diagnosis == (
        "programme budget 新能源 is 1200万 but the forced-in proposals A (800万), B (600万) need "
        "at least 1400万; raise the budget by 200万 or drop an override",
    )


def test_infeasible_min_per_direction_names_the_blocker() -> None:
    props = frame(
        [
            {"proposal_id": "A", "direction_code": "1002", "merit": 90, "pi_id": "P-1"},
            {"proposal_id": "B", "direction_code": "2001", "merit": 80, "pi_id": "P-1"},
        ]
    )
    res = select(props, DIRS, SelectionRules(overrides=(Override("A", "force_in", "r", "张三"),)))
    assert res.status == Status.INFEASIBLE
    assert res.diagnosis == (
        "direction 2001 cannot fund its minimum of 1: qualified B (PI P-1 already funded for A); "
        "lower min_per_direction, raise the budget or revise the overrides",
    )
    with pytest.raises(SelectionInfeasibleError, match="draw 0: no selection for directions"):
        selection_probability(
            props,
            DIRS,
            SelectionRules(overrides=(Override("A", "force_in", "r", "张三"),)),
            np.array([[90.0, 80.0]]),
        )


def test_infeasible_min_per_direction_pi_shared_without_overrides() -> None:
    props = frame(
        [
            {"proposal_id": "A", "direction_code": "1002", "merit": 90, "pi_id": "P-1"},
            {"proposal_id": "B", "direction_code": "2001", "merit": 80, "pi_id": "P-1"},
        ]
    )
    res = select(props, DIRS, SelectionRules())
    assert res.status == Status.INFEASIBLE
    assert len(res.diagnosis) == 1
    assert res.diagnosis[0].startswith("direction ")
    assert "cannot fund its minimum of 1: qualified " in res.diagnosis[0]
    assert "(PI P-1 already funded for " in res.diagnosis[0]
    assert chosen(select(props, DIRS, SelectionRules(one_per_pi=False))) == {"A", "B"}


def test_infeasible_budget_for_minimum() -> None:
    props = frame(
        [
            {"proposal_id": "A", "direction_code": "1001", "merit": 90, "requested_wan": 800},
            {"proposal_id": "B", "direction_code": "1002", "merit": 80, "requested_wan": 600},
        ]
    )
    res = select(props, DIRS, SelectionRules(budget_wan=1000))
    assert res.status == Status.INFEASIBLE
    assert res.diagnosis == (
        "overall budget (1000万) is 400万 short of the cheapest selection that meets the "
        "minimum per direction and the overrides; raise it by at least 400万 or lower "
        "min_per_direction",
    )


# --------------------------------------------------------------------------- P(selected)


@pytest.mark.parametrize("rules_no", range(len(RULE_SETS)))
def test_probability_is_point_selection_without_uncertainty(rules_no: int) -> None:
    rules = RULE_SETS[rules_no]
    for seed in range(100, 200):  # the first instance these rules admit
        props = random_instance(np.random.default_rng(seed), 10)
        res = select(props, DIRS, rules, explain=False, alternates=0)
        if res.status == Status.OPTIMAL:
            break
    draws = np.tile(props["merit"].to_numpy(), (4, 1))
    p = selection_probability(props, DIRS, rules, draws)
    assert set(np.unique(p)) <= {0.0, 1.0}
    assert np.array_equal(p == 1.0, res.table["selected"].to_numpy())


@pytest.mark.parametrize("coupled", [False, True])
def test_probability_matches_per_draw_selection(coupled: bool) -> None:
    rng = np.random.default_rng(7)
    props = random_instance(rng, 12)
    rules = SelectionRules(one_per_pi=False, related_exclusive=False)
    if coupled:
        rules = SelectionRules(budget_wan=6000)
    draws = props["merit"].to_numpy() + rng.normal(0, 6, size=(8, len(props)))
    draws = np.round(draws, 3)
    p = selection_probability(props, DIRS, rules, draws)
    counts = np.zeros(len(props))
    for t in range(len(draws)):
        r = select(props.assign(merit=draws[t]), DIRS, rules, explain=False, alternates=0)
        counts += r.table["selected"].to_numpy()
    assert np.allclose(p, counts / len(draws))
    assert 0 < p.max() <= 1


def test_probability_skips_infeasible_draws_when_asked() -> None:
    props = frame(
        [
            {"proposal_id": "A", "direction_code": "1002", "merit": 90, "requested_wan": 900},
            {"proposal_id": "B", "direction_code": "2001", "merit": 50, "requested_wan": 900},
        ]
    )
    rules = SelectionRules(budget_wan=1000)
    draws = np.array([[90.0, 50.0], [90.0, 70.0], [55.0, 50.0]])  # draw 1: both qualify
    with pytest.raises(SelectionInfeasibleError, match="draw 1: no selection"):
        selection_probability(props, DIRS, rules, draws)
    p = selection_probability(props, DIRS, rules, draws, skip_infeasible=True)
    assert p.tolist() == [0.5, 0.0]


def test_probability_rejects_bad_draws() -> None:
    props = frame([{"proposal_id": "A", "direction_code": "1002", "merit": 90}])
    with pytest.raises(SelectionInputError, match=r"draws must have shape \(n_draws, 1\)"):
        selection_probability(props, DIRS, SelectionRules(), np.zeros((3, 2)))


# --------------------------------------------------------------------------- alternates


def test_alternates_in_merit_order() -> None:
    props = frame(
        [
            {"proposal_id": f"X{k}", "direction_code": "1002", "merit": m}
            for k, m in enumerate([70.0, 91.0, 65.0, 85.0, 77.0, 55.0])
        ]
    )
    res = select(props, DIRS, SelectionRules(), alternates=3)
    t = res.table.set_index("proposal_id")
    assert chosen(res) == {"X1", "X3"}
    assert t.loc["X4", "alternate_rank"] == 1
    assert t.loc["X0", "alternate_rank"] == 2
    assert t.loc["X2", "alternate_rank"] == 3
    assert np.isnan(t.loc["X5", "alternate_rank"])  # below the floor
    assert np.isnan(t.loc["X1", "alternate_rank"])
    assert t.loc["X3", "merit_threshold"] == pytest.approx(77.0)
    assert t.loc["X4", "merit_threshold"] == pytest.approx(85.0)


def test_alternate_skips_pi_already_funded() -> None:
    props = frame(
        [
            {"proposal_id": "A", "direction_code": "1002", "merit": 90},
            {"proposal_id": "B", "direction_code": "1002", "merit": 85},
            {"proposal_id": "C", "direction_code": "1002", "merit": 80, "pi_id": "P-7"},
            {"proposal_id": "D", "direction_code": "1002", "merit": 75},
            {"proposal_id": "E", "direction_code": "2001", "merit": 88, "pi_id": "P-7"},
        ]
    )
    res = select(props, DIRS, SelectionRules(), alternates=1)
    t = res.table.set_index("proposal_id")
    assert t.loc["D", "alternate_rank"] == 1
    assert np.isnan(t.loc["C", "alternate_rank"])


# --------------------------------------------------------------------------- invariants


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(1, 12),
    budget=st.one_of(st.none(), st.integers(500, 6000)),
    prog_budget=st.one_of(st.none(), st.integers(500, 4000)),
    share=st.sampled_from([1.0, 0.8, 0.6]),
    youth=st.sampled_from([None, 0.3]),
)
def test_invariants(seed, n, budget, prog_budget, share, youth) -> None:
    props = random_instance(np.random.default_rng(seed), n)
    rules = SelectionRules(
        budget_wan=budget,
        programme_budgets_wan=None if prog_budget is None else {"新能源": prog_budget},
        min_grant_share=share,
        youth_min_share=youth,
    )
    before = props.copy()
    res = select(props, DIRS, rules, explain=False, alternates=0)
    pd.testing.assert_frame_equal(props, before)  # input untouched
    t = res.table
    if res.status == Status.INFEASIBLE:
        assert res.diagnosis and not t["selected"].any()
        return
    assert res.status == Status.OPTIMAL
    assert t.groupby("direction_code")["selected"].sum().max() <= 2
    s = t[t["selected"]]
    assert (s["grant_wan"] <= s["grant_bound_wan"]).all()
    assert (s["grant_wan"] >= s["grant_floor_wan"]).all()
    assert (s["grant_wan"] > 0).all()
    assert (t.loc[~t["selected"], "grant_wan"] == 0).all()
    assert (s["grant_bound_wan"] <= 2000).all()
    if budget is not None:
        assert t["grant_wan"].sum() <= budget
    if prog_budget is not None:
        assert t.loc[t["programme"] == "新能源", "grant_wan"].sum() <= prog_budget
    merged = s.merge(props, on="proposal_id", suffixes=("", "_in"))
    assert merged["pi_id"].is_unique
    rel = merged.loc[merged["related_group"] != "", "related_group"]
    assert rel.is_unique
    assert (merged["merit"] >= rules.quality_floor).all()
    assert merged["eligible"].all()
    if youth and len(merged):
        assert merged["young"].sum() >= youth * len(merged) - 1e-9


# --------------------------------------------------------------------------- grey zone, lottery


def test_grey_zone_and_lottery() -> None:
    props = frame(
        [
            {"proposal_id": "A", "direction_code": "1002", "merit": 90},
            {"proposal_id": "B", "direction_code": "1002", "merit": 85},
            {"proposal_id": "C", "direction_code": "1002", "merit": 84},
            {"proposal_id": "D", "direction_code": "1002", "merit": 70},
            {"proposal_id": "E", "direction_code": "2001", "merit": 80},
        ]
    )
    res = select(props, DIRS, SelectionRules())
    ranks = props.assign(rank_lo=[1, 1, 2, 3, 1], rank_hi=[1, 3, 4, 4, 1])
    grey = grey_zone(ranks, res)
    assert list(grey["proposal_id"]) == ["B", "C"]
    assert list(grey["funding_line"]) == [2, 2]
    assert list(grey["contested_places"]) == [1, 1]
    a = lottery(grey, seed=3)
    b = lottery(grey, seed=3)
    pd.testing.assert_frame_equal(a, b)
    assert a["wins"].sum() == 1
    assert sorted(a["draw_order"]) == [1, 2]
    assert (a["seed"] == 3).all()
    seen = {tuple(lottery(grey, seed=s)["proposal_id"]) for s in range(20)}
    assert len(seen) == 2  # both orders occur


# --------------------------------------------------------------------------- input errors


def test_input_errors_name_the_ids() -> None:
    props = frame([{"proposal_id": "A", "direction_code": "1002", "merit": 90}])
    with pytest.raises(SelectionInputError) as e:
        select(props.assign(direction_code="9999"), DIRS, SelectionRules())
    assert str(e.value) == (
        "proposals name directions missing from the directions frame: A (9999); "
        "add the directions or fix the codes"
    )
    with pytest.raises(SelectionInputError) as e:
        select(pd.concat([props, props]), DIRS, SelectionRules())
    assert str(e.value) == "duplicate proposal ids: A"
    with pytest.raises(SelectionInputError) as e:
        select(props.assign(merit=np.nan), DIRS, SelectionRules())
    assert str(e.value) == "merit must be a finite number; check A"
    with pytest.raises(SelectionInputError) as e:
        SelectionRules(min_per_direction=3)
    assert str(e.value) == (
        "min_per_direction=3 exceeds max_per_direction=2; lower the minimum or raise the maximum"
    )
    with pytest.raises(SelectionInputError) as e:
        select(props, DIRS, SelectionRules(programme_budgets_wan={"氢能": 100}))
    assert str(e.value) == (
        "programme_budgets_wan names 氢能, which is not a programme of the directions frame; "
        "known programmes: 6G技术, 新能源"
    )


# --------------------------------------------------------------------------- DP vs CP-SAT


def _with_cpsat(monkeypatch: pytest.MonkeyPatch, fn):
    with monkeypatch.context() as mp:
        mp.setattr(sel_mod, "_DP_ENABLED", False)
        return fn()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(1, 9),
    prog=st.sampled_from(
        [None, {"新能源": 1500}, {"新能源": 1800, "6G技术": 900}, {"新能源": 700, "6G技术": 500}]
    ),
    budget=st.one_of(st.none(), st.integers(500, 4000)),
    share=st.sampled_from([1.0, 0.7]),
    minimum=st.sampled_from([0, 1]),
)
def test_dp_matches_cpsat_and_brute_force(seed, n, prog, budget, share, minimum) -> None:
    props = random_instance(np.random.default_rng(seed), n)
    if prog is not None and budget is not None:
        budget = None  # overlapping budgets go to CP-SAT anyway
    rules = SelectionRules(
        programme_budgets_wan=prog,
        budget_wan=budget,
        min_grant_share=share,
        min_per_direction=minimum,
    )
    dp = select(props, DIRS, rules, explain=False, alternates=0)
    mp = pytest.MonkeyPatch()
    try:
        cp = _with_cpsat(mp, lambda: select(props, DIRS, rules, explain=False, alternates=0))
    finally:
        mp.undo()
    best = brute_force(props, DIRS, rules)
    assert dp.status == cp.status
    if best is None:
        assert dp.status == Status.INFEASIBLE
        assert dp.diagnosis == cp.diagnosis
        return
    key, s = best
    assert dp.objective_terms == cp.objective_terms == (-key[0], key[1], key[2])
    assert chosen(dp) == s
    pd.testing.assert_frame_equal(
        dp.table[["grant_wan"]], cp.table[["grant_wan"]], check_dtype=False
    )


@pytest.mark.parametrize("seed", range(4))
def test_dp_explanations_match_cpsat(monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    props = random_instance(np.random.default_rng(300 + seed), 10)
    props["pi_id"] = [f"PI-{k}" for k in range(len(props))]  # no cross-direction groups
    props["related_group"] = ""
    rules = SelectionRules(programme_budgets_wan={"新能源": 1800, "6G技术": 1200})
    dp = select(props, DIRS, rules, alternates=2)
    monkeypatch.setattr(sel_mod, "_DP_ENABLED", False)
    cp = select(props, DIRS, rules, alternates=2)
    assert dp.status == cp.status
    assert np.allclose(dp.table["merit_threshold"], cp.table["merit_threshold"], equal_nan=True)
    assert chosen(dp) == chosen(cp)


@pytest.mark.parametrize("seed", range(3))
def test_dp_probability_matches_cpsat(monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    rng = np.random.default_rng(500 + seed)
    props = random_instance(rng, 11)
    props.loc[props.index[:3], "related_group"] = "G-cross"  # may span directions
    rules = SelectionRules(programme_budgets_wan={"新能源": 1600, "6G技术": 1000})
    draws = np.round(props["merit"].to_numpy() + rng.normal(0, 6, size=(12, len(props))), 3)
    p_dp = selection_probability(props, DIRS, rules, draws, skip_infeasible=True)
    monkeypatch.setattr(sel_mod, "_DP_ENABLED", False)
    p_cp = selection_probability(props, DIRS, rules, draws, skip_infeasible=True)
    assert np.allclose(p_dp, p_cp, equal_nan=True)


def test_dp_hands_over_to_cpsat_when_states_overflow(monkeypatch: pytest.MonkeyPatch) -> None:
    props = random_instance(np.random.default_rng(11), 10)
    rules = SelectionRules(programme_budgets_wan={"新能源": 1500, "6G技术": 900})
    ref = select(props, DIRS, rules, explain=False, alternates=0)
    monkeypatch.setattr(sel_mod, "_DP_MAX_STATES", 0)
    res = select(props, DIRS, rules, explain=False, alternates=0)
    assert res.objective_terms == ref.objective_terms
    assert chosen(res) == chosen(ref)
