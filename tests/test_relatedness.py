"""One definition of related units (关联单位): screening's rule on related enterprises and the
conflict rules read it from the same policy and agree on every drawn unit graph."""

from __future__ import annotations

import itertools
from datetime import date

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assign.conflict_policy import ConflictPolicy, load_policy
from assign.conflicts import find_conflicts
from assign.graph import Relatedness, related_unit_pairs
from assign.screening import ScreeningConfig, screen

BD = date(2024, 8, 5)
SHARES = [None, 0.05, 0.1, 0.2, 0.25, 0.3, 0.5, 0.6, 1.0]


@st.composite
def unit_graphs(draw: st.DrawFn) -> tuple[list[str], list[dict], ConflictPolicy]:
    n = draw(st.integers(2, 6))
    units = [f"U{i}" for i in range(n)]
    edges = draw(
        st.lists(
            st.tuples(
                st.sampled_from(units),
                st.sampled_from(units),
                st.sampled_from(["parent_of", "controls", "shareholding"]),
                st.sampled_from(SHARES),
            ),
            max_size=8,
            unique_by=lambda e: (e[0], e[1], e[2]),
        )
    )
    relations = [
        {"unit_id": a, "related_unit_id": b, "kind": k, "share": s} for a, b, k, s in edges
    ]
    reach = draw(st.sets(st.sampled_from(["parent", "subsidiary", "sibling"])))
    policy = ConflictPolicy(
        kinds=frozenset({"employment"}),
        unit_reach=frozenset(reach),
        shareholding=draw(st.booleans()),
        shareholding_threshold=draw(st.sampled_from([0.1, 0.25, 0.5, 0.51])),
    )
    return units, relations, policy


def _tables(units: list[str], relations: list[dict]) -> dict[str, pd.DataFrame]:
    """Per unordered pair {x, y}: proposal J-x-y led by x with joint units x and y. Per unit x:
    proposal S-x led by x alone, and expert E-x employed at x."""
    joint = list(itertools.combinations(units, 2))
    proposals = [{"proposal_id": f"J-{x}-{y}", "lead_unit_id": x} for x, y in joint]
    proposals += [{"proposal_id": f"S-{x}", "lead_unit_id": x} for x in units]
    jd = [
        {"proposal_id": f"J-{x}-{y}", "seq": i + 1, "unit_id": u}
        for x, y in joint
        for i, u in enumerate((x, y))
    ]
    return {
        "units": pd.DataFrame({"unit_id": units, "name": [f"单位{u}" for u in units]}),
        "unit_relations": pd.DataFrame(
            relations, columns=["unit_id", "related_unit_id", "kind", "share"]
        ),
        "proposals": pd.DataFrame(proposals).assign(direction_code="3002"),
        "joint_directions": pd.DataFrame(jd),
        "people": pd.DataFrame({"person_id": [f"E-{u}" for u in units], "unit_id": units}),
        "experts": pd.DataFrame({"expert_id": [f"E-{u}" for u in units]}),
    }


@settings(max_examples=30, deadline=None)
@given(unit_graphs())
def test_screening_and_conflicts_agree_on_related_units(drawn) -> None:  # type: ignore[no-untyped-def]
    units, relations, policy = drawn
    t = _tables(units, relations)
    found = screen(
        t,
        pd.DataFrame([{"code": "3002"}]),
        config=ScreeningConfig(relatedness=policy.relatedness),
        rules=["related_joint_units"],
    ).findings
    flagged = {tuple(p.split("-")[1:]) for p in found["proposal_id"]}
    conflicts = find_conflicts(t, batch_date=BD, policy=policy)
    conflicted = {
        (e.removeprefix("E-"), p.removeprefix("S-"))
        for p, e in zip(conflicts["proposal_id"], conflicts["expert_id"], strict=True)
        if p.startswith("S-")
    }
    # an expert at y may not review what x leads exactly when y is related to x (the policy's
    # reach may be one-sided); screening flags x and y applying together when either is
    pairs = related_unit_pairs(t["unit_relations"], relatedness=policy.relatedness)
    directed = {
        (o, u) for u, o in zip(pairs["unit_id"], pairs["other_unit_id"], strict=True) if u != o
    }
    assert {(e, p) for e, p in conflicted if e != p} == directed
    either = {tuple(sorted(p)) for p in directed}
    assert flagged == either


@pytest.mark.parametrize(("share", "related"), [(0.1, False), (0.6, True)])
def test_a_minority_stake_is_not_related_and_a_controlling_one_is(
    share: float, related: bool
) -> None:
    """The default policy: shareholding relates units from 25 %, the tax rules' threshold."""
    relations = [{"unit_id": "U0", "related_unit_id": "U1", "kind": "shareholding", "share": share}]
    t = _tables(["U0", "U1"], relations)
    found = screen(
        t, pd.DataFrame([{"code": "3002"}]), config=ScreeningConfig(), rules=["related_joint_units"]
    ).findings
    assert (len(found) == 1) == related
    conflicts = find_conflicts(t, batch_date=BD, policy=load_policy())
    pairs = set(zip(conflicts["proposal_id"], conflicts["expert_id"], strict=True))
    assert (("S-U0", "E-U1") in pairs) == related
    assert ScreeningConfig().relatedness == load_policy().relatedness == Relatedness()
