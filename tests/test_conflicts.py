"""Conflicts of interest: every kind fires on a hand-built case and a near miss does not; the bulk
pass, the graph walk and an independent brute force agree on random small batches."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import cosine_similarity

from assign.conflict_explain import Explainer
from assign.conflict_explain import explain as explain_stored
from assign.conflict_policy import KINDS, ConflictPolicy, ConflictPolicyError, load_policy
from assign.conflicts import collapse_conflicts, conflict_chains, find_conflicts
from assign.graph import (
    Normalised,
    build_graph,
    normalise,
    related_unit_pairs,
    related_units_in_graph,
    to_date,
    to_dates,
)
from assign.text_index import TextIndex, char_ngram_tfidf
from models.i18n import render_stored

BD = date(2024, 8, 5)
P = "P-3002-07"


def en(text: str) -> str:
    """A stored chain in English."""
    return render_stored(text, "en")


def explain(*args: object, **kw: object) -> list[str]:
    """The chains of :func:`assign.conflict_explain.explain` in English."""
    return [en(c) for c in explain_stored(*args, **kw)]  # type: ignore[arg-type]


def frames(**kinds: list[dict]) -> dict[str, pd.DataFrame]:
    """Tables from lists of row dicts (missing columns are filled in by the cores)."""
    return {k: pd.DataFrame(rows) for k, rows in kinds.items()}


def world(**extra: list[dict]) -> dict[str, pd.DataFrame]:
    """A small batch: group U1 with subsidiaries U2, U3; U5 holds shares in U1; P leads U1."""
    base: dict[str, list[dict]] = {
        "units": [
            {"unit_id": "U1", "name": "江苏恒远集团", "type": "enterprise", "head_id": "H1"},
            {"unit_id": "U2", "name": "苏南智能装备有限公司", "type": "enterprise"},
            {"unit_id": "U3", "name": "恒远新材料有限公司", "type": "enterprise"},
            {"unit_id": "U4", "name": "南京理工学院", "type": "university", "head_id": "H4"},
            {"unit_id": "U5", "name": "无锡创投有限公司", "type": "enterprise"},
            {"unit_id": "U6", "name": "上海远景研究院", "type": "institute", "head_id": "H6"},
        ],
        "unit_relations": [
            {"unit_id": "U1", "related_unit_id": "U2", "kind": "parent_of"},
            {"unit_id": "U1", "related_unit_id": "U3", "kind": "controls"},
            {"unit_id": "U5", "related_unit_id": "U1", "kind": "shareholding", "share": 0.1},
        ],
        "people": [
            {"person_id": "L1", "name": "李明", "unit_id": "U1"},
            {"person_id": "K1", "name": "王强", "unit_id": "U4"},
            {"person_id": "M1", "name": "赵丽", "unit_id": "U1"},
            {"person_id": "J1", "name": "钱伟", "unit_id": "U4"},
        ],
        "proposals": [
            {
                "proposal_id": P,
                "direction_code": "3002",
                "lead_unit_id": "U1",
                "pi_id": "L1",
                "title": "智能装备视觉检测",
                "abstract": "面向高端装备的机器视觉缺陷检测系统研发",
            },
            {
                "proposal_id": "P-3002-08",
                "direction_code": "3002",
                "lead_unit_id": "U6",
                "pi_id": "X1",
                "title": "氢能储运材料",
                "abstract": "高压储氢瓶碳纤维缠绕工艺",
            },
            {
                "proposal_id": "P-5001-01",
                "direction_code": "5001",
                "lead_unit_id": "U6",
                "pi_id": "X2",
                "title": "生物医药抗体筛选",
                "abstract": "单克隆抗体高通量筛选平台",
            },
        ],
        "joint_directions": [
            {"proposal_id": P, "seq": 1, "unit_id": "U1", "leader_id": "L1"},
            {"proposal_id": P, "seq": 2, "unit_id": "U4", "leader_id": "J1"},
            {"proposal_id": P, "seq": 3, "unit_id": "U6", "leader_id": "X3"},
        ],
        "team_members": [
            {"proposal_id": P, "person_id": "L1", "role": "pi"},
            {"proposal_id": P, "person_id": "K1", "role": "key"},
            {"proposal_id": P, "person_id": "M1", "role": "member"},
        ],
    }
    for k, rows in extra.items():
        base[k] = base.get(k, []) + rows
    return frames(**base)


def expert(eid: str, name: str, unit: str | None = None) -> dict[str, list[dict]]:
    return {
        "people": [{"person_id": eid, "name": name, "unit_id": unit}],
        "experts": [{"expert_id": eid}],
    }


def merged(*parts: dict[str, list[dict]]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for part in parts:
        for k, rows in part.items():
            out[k] = out.get(k, []) + rows
    return out


def kinds_for(tables, eid: str, pid: str = P, policy: ConflictPolicy | None = None) -> set[str]:
    df = find_conflicts(tables, batch_date=BD, policy=policy or ConflictPolicy())
    df = df[(df["expert_id"] == eid) & (df["proposal_id"] == pid)]
    return set(df["kind"])


# ---------------------------------------------------------------------------------------------
# employment and related units


def test_subsidiary_employment_reason_text() -> None:
    t = world(**expert("E1", "张某", "U2"))
    df = find_conflicts(t, batch_date=BD, policy=ConflictPolicy())
    row = df[(df["expert_id"] == "E1") & (df["proposal_id"] == P)]
    assert list(row["kind"]) == ["employment"]
    assert en(row["reason"].iloc[0]) == (
        "张某 works at 苏南智能装备有限公司, a subsidiary of 江苏恒远集团, which leads proposal "
        "P-3002-07"
    )
    assert explain(t, "E1", P, batch_date=BD) == [en(row["reason"].iloc[0])]


def test_same_unit_and_joint_unit_reasons() -> None:
    t = world(**merged(expert("E1", "张某", "U1"), expert("E2", "孙某", "U4")))
    assert explain(t, "E1", P, batch_date=BD) == [
        "张某 works at 江苏恒远集团, which leads proposal P-3002-07"
    ]
    assert explain(t, "E2", P, batch_date=BD) == [
        "孙某 works at 南京理工学院, which carries joint direction 2 of proposal P-3002-07"
    ]


def test_sibling_under_common_control_and_reach_switch() -> None:
    # U2 and U3 are both under U1; make U3 the lead of a new proposal
    t = world(
        **merged(
            expert("E1", "张某", "U2"),
            {
                "proposals": [
                    {"proposal_id": "P-9", "direction_code": "3003", "lead_unit_id": "U3"},
                ]
            },
        )
    )
    assert explain(t, "E1", "P-9", batch_date=BD) == [
        "张某 works at 苏南智能装备有限公司, a sister unit of 恒远新材料有限公司 (both under "
        "江苏恒远集团), which leads proposal P-9"
    ]
    pol = ConflictPolicy(unit_reach=frozenset({"parent", "subsidiary"}))
    assert kinds_for(t, "E1", "P-9", pol) == set()
    assert kinds_for(t, "E1", "P-9") == {"employment"}


def test_parent_and_controller_reasons() -> None:
    t = world(
        **merged(
            expert("E1", "张某", "U1"),
            {"proposals": [{"proposal_id": "P-9", "direction_code": "3003", "lead_unit_id": "U3"}]},
        )
    )
    assert explain(t, "E1", "P-9", batch_date=BD) == [
        "张某 works at 江苏恒远集团, the controller of 恒远新材料有限公司, which leads proposal P-9"
    ]
    pol = ConflictPolicy(unit_reach=frozenset({"subsidiary", "sibling"}))
    assert kinds_for(t, "E1", "P-9", pol) == set()


def test_shareholding_relates_units_at_or_above_the_threshold() -> None:
    t = world(**expert("E1", "张某", "U5"))  # U5 holds 10 % of the lead unit U1
    assert kinds_for(t, "E1") == set()  # a minority stake is no relation
    pol = ConflictPolicy(shareholding_threshold=0.1)
    assert kinds_for(t, "E1", policy=pol) == {"employment"}
    assert explain(t, "E1", P, batch_date=BD, policy=pol) == [
        "张某 works at 无锡创投有限公司, which holds 10% of 江苏恒远集团, which leads proposal "
        "P-3002-07"
    ]
    assert kinds_for(t, "E1", policy=ConflictPolicy(shareholding=False)) == set()
    t["unit_relations"].loc[2, "share"] = 0.6
    assert kinds_for(t, "E1") == {"employment"}


def test_unrelated_unit_is_no_conflict() -> None:
    t = world(**merged(expert("E1", "张某", "U9")))
    assert kinds_for(t, "E1") == set()
    assert explain(t, "E1", P, batch_date=BD) == []


def test_concurrent_employment_counts_as_current() -> None:
    t = world(
        **merged(
            expert("E1", "张某", "U9"),
            {"employment": [{"person_id": "E1", "unit_id": "U2", "start_date": "2020-01-01"}]},
        )
    )
    assert kinds_for(t, "E1") == {"employment"}


@pytest.mark.parametrize(
    ("end", "fires"),
    [("2023-08-06", True), ("2022-08-06", True), ("2022-08-05", False), ("2021-08-05", False)],
)
def test_former_employment_window(end: str, fires: bool) -> None:
    t = world(
        **merged(
            expert("E1", "张某", "U9"),
            {
                "employment": [
                    {
                        "person_id": "E1",
                        "unit_id": "U2",
                        "start_date": "2010-01-01",
                        "end_date": end,
                    }
                ]
            },
        )
    )
    assert kinds_for(t, "E1") == ({"former_employment"} if fires else set())
    if fires:
        assert explain(t, "E1", P, batch_date=BD) == [
            f"张某 worked until {end} at 苏南智能装备有限公司, a subsidiary of 江苏恒远集团, "
            "which leads proposal P-3002-07"
        ]


def test_former_employment_window_is_a_policy_value() -> None:
    t = world(
        **merged(
            expert("E1", "张某", "U9"),
            {"employment": [{"person_id": "E1", "unit_id": "U1", "end_date": "2021-09-01"}]},
        )
    )
    assert kinds_for(t, "E1") == set()
    assert kinds_for(t, "E1", policy=ConflictPolicy(former_employment_years=5)) == {
        "former_employment"
    }


def test_unit_head() -> None:
    t = world(**merged(expert("H4", "周某", "U9"), expert("H6", "吴某", "U9")))
    t["proposals"] = t["proposals"].iloc[:1]  # only P: U6 carries a joint direction of it
    assert explain(t, "H4", P, batch_date=BD) == [
        "周某 heads 南京理工学院, which carries joint direction 2 of proposal P-3002-07"
    ]
    t2 = world(**expert("H6", "吴某", "U9"))
    t2["joint_directions"] = t2["joint_directions"].iloc[:2]  # U6 no longer an applicant unit
    assert kinds_for(t2, "H6") == set()


# ---------------------------------------------------------------------------------------------
# team and personal relations


def test_team_member_and_joint_leader() -> None:
    t = world(**merged(expert("M1", "赵丽", "U9"), expert("J1", "钱伟", "U9")))
    assert "team_member" in kinds_for(t, "M1")
    assert (
        explain(t, "J1", P, batch_date=BD)
        == [
            "钱伟 is the leader of joint direction 2 of proposal P-3002-07",
            "钱伟 works at 南京理工学院, which carries joint direction 2 of proposal P-3002-07",
        ][::-1]
    )


@pytest.mark.parametrize(("year", "fires"), [(2021, True), (2024, True), (2020, False)])
@pytest.mark.parametrize("kind", ["coauthor", "coapplicant"])
def test_recency_window(kind: str, year: int, fires: bool) -> None:
    t = world(
        **merged(
            expert("E1", "张某", "U9"),
            {
                "person_relations": [
                    {"person_id": "K1", "other_person_id": "E1", "kind": kind, "year": year}
                ]
            },
        )
    )
    assert kinds_for(t, "E1") == ({kind} if fires else set())


def test_coauthor_reason_text_and_missing_year() -> None:
    t = world(
        **merged(
            expert("E1", "张某", "U9"),
            {
                "person_relations": [
                    {"person_id": "E1", "other_person_id": "K1", "kind": "coauthor", "year": 2022},
                    {"person_id": "E1", "other_person_id": "L1", "kind": "coapplicant"},
                ]
            },
        )
    )
    assert sorted(explain(t, "E1", P, batch_date=BD)) == [
        "张某 co-applied with 李明 (year unknown), who is the PI of proposal P-3002-07",
        "张某 co-applied with 李明 (year unknown), who is the leader of joint direction 1 of "
        "proposal P-3002-07",
        "张某 co-authored with 王强 (most recently 2022), who is a key member of proposal "
        "P-3002-07",
    ]


def test_advisor_both_ways_and_relative() -> None:
    t = world(
        **merged(
            expert("E1", "张某", "U9"),
            expert("E2", "孙某", "U9"),
            expert("E3", "冯某", "U9"),
            {
                "person_relations": [
                    {"person_id": "E1", "other_person_id": "K1", "kind": "advisor_of"},
                    {"person_id": "L1", "other_person_id": "E2", "kind": "advisor_of"},
                    {"person_id": "M1", "other_person_id": "E3", "kind": "relative_of"},
                ]
            },
        )
    )
    assert explain(t, "E1", P, batch_date=BD) == [
        "张某 was the advisor of 王强, who is a key member of proposal P-3002-07"
    ]
    assert "孙某 was advised by 李明, who is the PI of proposal P-3002-07" in explain(
        t, "E2", P, batch_date=BD
    )
    assert explain(t, "E3", P, batch_date=BD) == [
        "冯某 is a relative of 赵丽, who is a member of proposal P-3002-07"
    ]
    assert kinds_for(t, "E1") == {"advisor"}
    assert kinds_for(t, "E3") == {"relative"}


def test_team_scope_switch() -> None:
    t = world(
        **merged(
            expert("E3", "冯某", "U9"),
            {
                "person_relations": [
                    {"person_id": "M1", "other_person_id": "E3", "kind": "relative_of"}
                ]
            },
        )
    )
    assert kinds_for(t, "E3", policy=ConflictPolicy(team_scope="all")) == {"relative"}
    assert kinds_for(t, "E3", policy=ConflictPolicy(team_scope="key")) == set()
    t2 = world(
        **merged(
            expert("E3", "冯某", "U9"),
            {
                "person_relations": [
                    {"person_id": "K1", "other_person_id": "E3", "kind": "relative_of"}
                ]
            },
        )
    )
    assert kinds_for(t2, "E3", policy=ConflictPolicy(team_scope="key")) == {"relative"}
    assert kinds_for(t2, "E3", policy=ConflictPolicy(team_scope="pi")) == set()


# ---------------------------------------------------------------------------------------------
# own applications, recusals, guide directions


def test_own_application_same_direction() -> None:
    t = world(**merged(expert("X1", "陈某", "U9")))  # X1 is the PI of P-3002-08
    assert explain(t, "X1", P, batch_date=BD) == [
        "陈某 is the PI of proposal P-3002-08, which is in guide direction 3002 like proposal "
        "P-3002-07"
    ]
    assert kinds_for(t, "X1", "P-5001-01") == set()  # other direction, dissimilar text
    assert kinds_for(t, "X1", policy=ConflictPolicy(direction_applicant=False)) == set()


def test_similar_application_across_directions() -> None:
    t = world(**merged(expert("X2", "韩某", "U9")))
    t["proposals"].loc[2, ["title", "abstract"]] = [
        "智能装备视觉检测",
        "面向高端装备的机器视觉缺陷检测系统研发与应用",
    ]
    df = find_conflicts(t, batch_date=BD, policy=ConflictPolicy())
    row = df[(df["expert_id"] == "X2") & (df["proposal_id"] == P)]
    assert list(row["kind"]) == ["similar_application"]
    assert en(row["reason"].iloc[0]).startswith(
        "韩某 is the PI of proposal P-5001-01, whose title and abstract are 0.9"
    )
    assert en(row["reason"].iloc[0]).endswith(
        "similar to those of proposal P-3002-07 (threshold 0.60)"
    )
    pol = ConflictPolicy(similarity_threshold=0.99)
    assert kinds_for(t, "X2", policy=pol) == set()


def test_recusals_person_and_unit() -> None:
    t = world(
        **merged(
            expert("E1", "张某", "U9"),
            expert("E2", "孙某", "U8"),
            expert("E3", "冯某", "U7"),
            {
                "units": [{"unit_id": "U8", "name": "苏州光电有限公司"}],
                "employment": [{"person_id": "E3", "unit_id": "U8", "end_date": "2024-01-01"}],
                "recusals": [
                    {"proposal_id": P, "person_id": "E1", "reason": "竞争关系"},
                    {"proposal_id": P, "unit_id": "U8"},
                ],
            },
        )
    )
    assert explain(t, "E1", P, batch_date=BD) == [
        "the applicants of proposal P-3002-07 asked that 张某 not review it "
        "(reason given: 竞争关系)"
    ]
    assert explain(t, "E2", P, batch_date=BD) == [
        "孙某 works at 苏州光电有限公司, which the applicants of proposal P-3002-07 asked to avoid"
    ]
    assert kinds_for(t, "E3") == set()  # left the recused unit: not covered by a unit recusal


def test_direction_drafter_and_advisor() -> None:
    t = world(
        **merged(
            expert("E1", "张某", "U9"),
            expert("E2", "孙某", "U9"),
            {
                "direction_experts": [
                    {"person_id": "E1", "direction_code": "3002", "role": "drafter"},
                    {"person_id": "E2", "direction_code": "5001", "role": "咨询委员会"},
                ]
            },
        )
    )
    assert explain(t, "E1", P, batch_date=BD) == [
        "张某 drafted guide direction 3002, under which proposal P-3002-07 was submitted"
    ]
    assert kinds_for(t, "E1", "P-3002-08") == {"direction_expert"}
    assert kinds_for(t, "E2") == set()
    assert explain(t, "E2", "P-5001-01", batch_date=BD) == [
        "孙某 sits on the advisory committee of guide direction 5001, under which proposal "
        "P-5001-01 was submitted"
    ]


def test_kinds_switch_and_experts_subset() -> None:
    t = world(**merged(expert("E1", "张某", "U1"), expert("E2", "孙某", "U1")))
    pol = ConflictPolicy(kinds=frozenset(KINDS) - {"employment"})
    assert kinds_for(t, "E1", policy=pol) == set()
    df = find_conflicts(t, batch_date=BD, policy=ConflictPolicy(), experts=["E2"])
    assert set(df["expert_id"]) == {"E2"}


def test_collapse_and_multiple_kinds() -> None:
    t = world(
        **merged(
            expert("E1", "张某", "U1"),
            {"recusals": [{"proposal_id": P, "person_id": "E1"}]},
        )
    )
    df = find_conflicts(t, batch_date=BD, policy=ConflictPolicy())
    one = collapse_conflicts(df)
    row = one[(one["expert_id"] == "E1") & (one["proposal_id"] == P)]
    assert row["kinds"].iloc[0] == "employment;recusal"
    assert en(row["reason"].iloc[0]) == (
        "张某 works at 江苏恒远集团, which leads proposal P-3002-07; the applicants of proposal "
        "P-3002-07 asked that 张某 not review it"
    )


def test_inputs_not_mutated() -> None:
    t = world(**merged(expert("E1", "张某", "U2")))
    before = {k: v.copy() for k, v in t.items()}
    find_conflicts(t, batch_date=BD, policy=ConflictPolicy())
    for k in t:
        pd.testing.assert_frame_equal(t[k], before[k])


# ---------------------------------------------------------------------------------------------
# policy file and overrides


def test_default_policy_file_matches_dataclass_defaults() -> None:
    assert load_policy() == ConflictPolicy()


def test_policy_file_and_overrides(tmp_path: Path) -> None:
    f = tmp_path / "p.toml"
    f.write_text('shareholding = true\ncoauthor_years = 5\nunit_reach = ["parent"]\n')
    pol = load_policy(f, coauthor_years=4, team_scope=None, shareholding_threshold=0.5)
    assert pol.shareholding is True
    assert pol.relatedness.shareholding_threshold == 0.5
    assert pol.coauthor_years == 4
    assert pol.unit_reach == frozenset({"parent"})
    assert pol.team_scope == "all"


def test_policy_errors_name_the_key(tmp_path: Path) -> None:
    f = tmp_path / "p.toml"
    f.write_text("coauthor_window = 5\n")
    with pytest.raises(ConflictPolicyError) as exc:
        load_policy(f)
    assert str(exc.value).startswith(f"{f}: unknown policy key(s) coauthor_window; known keys: ")
    with pytest.raises(ConflictPolicyError) as exc:
        load_policy(kinds=["employment", "friend"])
    assert str(exc.value) == (
        "override: unknown conflict kind(s) friend; use some of " + ", ".join(KINDS)
    )
    with pytest.raises(ConflictPolicyError) as exc:
        ConflictPolicy(similarity_threshold=1.5)
    assert str(exc.value) == "similarity_threshold must be in (0, 1], got 1.5"
    with pytest.raises(ConflictPolicyError) as exc:
        load_policy(tmp_path / "missing.toml")
    assert "does not exist; give an existing TOML file" in str(exc.value)


# ---------------------------------------------------------------------------------------------
# random batches: bulk pass == graph walk == brute force


TEXTS = [
    "智能装备视觉检测系统",
    "智能装备视觉检测系统研发",
    "氢能储运材料碳纤维",
    "抗体筛选平台",
    "",
]


def random_batch(seed: int) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    nu, npp, npr = 6, 10, 4
    units = [
        {"unit_id": f"U{i}", "name": f"单位{i}", "head_id": f"Q{rng.integers(npp)}"}
        for i in range(nu)
    ]
    rel = [
        {
            "unit_id": f"U{rng.integers(nu)}",
            "related_unit_id": f"U{rng.integers(nu)}",
            "kind": str(rng.choice(["parent_of", "controls", "shareholding"])),
            "share": [None, 0.1, 0.25, 0.6][int(rng.integers(4))],
        }
        for _ in range(rng.integers(0, 6))
    ]
    people = [
        {"person_id": f"Q{i}", "name": f"人{i}", "unit_id": f"U{rng.integers(nu)}"}
        for i in range(npp)
    ]
    experts = [{"expert_id": f"Q{i}"} for i in range(npp) if rng.random() < 0.7]
    emp = []
    for _ in range(rng.integers(0, 6)):
        end = (
            None if rng.random() < 0.3 else f"{rng.integers(2019, 2026)}-0{rng.integers(1, 10)}-05"
        )
        emp.append(
            {
                "person_id": f"Q{rng.integers(npp)}",
                "unit_id": f"U{rng.integers(nu)}",
                "end_date": end,
            }
        )
    prel = []
    for _ in range(rng.integers(0, 8)):
        kind = str(rng.choice(["coauthor", "coapplicant", "advisor_of", "relative_of"]))
        year = None if rng.random() < 0.2 else int(rng.integers(2018, 2025))
        prel.append(
            {
                "person_id": f"Q{rng.integers(npp)}",
                "other_person_id": f"Q{rng.integers(npp)}",
                "kind": kind,
                "year": year,
            }
        )
    props, jd, tm, rec = [], [], [], []
    for j in range(npr):
        pid = f"P{j}"
        props.append(
            {
                "proposal_id": pid,
                "direction_code": str(rng.choice(["3001", "3002"])),
                "lead_unit_id": f"U{rng.integers(nu)}",
                "pi_id": f"Q{rng.integers(npp)}",
                "title": str(rng.choice(TEXTS)),
                "abstract": str(rng.choice(TEXTS)),
            }
        )
        for s in range(1, int(rng.integers(0, 4)) + 1):
            jd.append(
                {
                    "proposal_id": pid,
                    "seq": s,
                    "unit_id": f"U{rng.integers(nu)}",
                    "leader_id": f"Q{rng.integers(npp)}" if rng.random() < 0.5 else None,
                }
            )
        for _ in range(rng.integers(0, 3)):
            tm.append(
                {
                    "proposal_id": pid,
                    "person_id": f"Q{rng.integers(npp)}",
                    "role": str(rng.choice(["pi", "key", "member"])),
                }
            )
        if rng.random() < 0.3:
            rec.append({"proposal_id": pid, "person_id": f"Q{rng.integers(npp)}", "reason": "x"})
        if rng.random() < 0.3:
            rec.append({"proposal_id": pid, "unit_id": f"U{rng.integers(nu)}"})
    de = [
        {
            "person_id": f"Q{rng.integers(npp)}",
            "direction_code": str(rng.choice(["3001", "3002"])),
            "role": str(rng.choice(["drafter", "advisor"])),
        }
        for _ in range(rng.integers(0, 3))
    ]
    return frames(
        units=units, unit_relations=rel, people=people, experts=experts, employment=emp,
        person_relations=prel, proposals=props, joint_directions=jd, team_members=tm,
        recusals=rec, direction_experts=de,
    )  # fmt: skip


def random_policy(seed: int) -> ConflictPolicy:
    rng = np.random.default_rng(seed + 1)
    reach = frozenset(r for r in ("parent", "subsidiary", "sibling") if rng.random() < 0.7)
    kinds = frozenset(k for k in KINDS if rng.random() < 0.85)
    return ConflictPolicy(
        kinds=kinds,
        unit_reach=reach,
        shareholding=bool(rng.random() < 0.7),
        shareholding_threshold=float(rng.choice([0.2, 0.25, 0.5])),
        former_employment_years=int(rng.integers(0, 4)),
        coauthor_years=int(rng.integers(0, 5)),
        coapplicant_years=int(rng.integers(0, 5)),
        team_scope=str(rng.choice(["pi", "key", "all"])),
        direction_applicant=bool(rng.random() < 0.7),
        similarity_threshold=float(rng.choice([0.5, 0.6, 0.9])),
    )


def rows(df: pd.DataFrame | None) -> list[dict]:
    if df is None:
        return []
    return [{k: (None if pd.isna(v) else v) for k, v in r.items()} for r in df.to_dict("records")]


def brute_force(
    t: dict[str, pd.DataFrame], bd: date, pol: ConflictPolicy
) -> set[tuple[str, str, str]]:
    """The policy checked pair by pair, written straight from its definition."""
    units = rows(t.get("units"))
    rel = rows(t.get("unit_relations"))
    people = rows(t.get("people"))
    emp = rows(t.get("employment"))
    prel = rows(t.get("person_relations"))
    props = rows(t.get("proposals"))
    jd = rows(t.get("joint_directions"))
    tm = rows(t.get("team_members"))
    rec = rows(t.get("recusals"))
    de = rows(t.get("direction_experts"))
    experts = [r["expert_id"] for r in rows(t.get("experts"))]

    def related(a: str, b: str) -> bool:  # is a the same as or related to b?
        if a == b:
            return True
        ctrl = [
            (r["unit_id"], r["related_unit_id"])
            for r in rel
            if r["unit_id"] != r["related_unit_id"]
            and (
                r["kind"] in ("parent_of", "controls")
                or pol.shareholding
                and r["kind"] == "shareholding"
                and r.get("share") is not None
                and r["share"] >= pol.shareholding_threshold
            )
        ]
        if "subsidiary" in pol.unit_reach and (b, a) in ctrl:
            return True
        if "parent" in pol.unit_reach and (a, b) in ctrl:
            return True
        if "sibling" in pol.unit_reach and any((z, a) in ctrl and (z, b) in ctrl for z, _ in ctrl):
            return True
        return False  # fmt: skip

    def cutoff() -> date:
        return date(bd.year - pol.former_employment_years, bd.month, bd.day)

    def current_units(e: str) -> set[str]:
        out = {r["unit_id"] for r in people if r["person_id"] == e and r["unit_id"]}
        for r in emp:
            if r["person_id"] == e and (
                r["end_date"] is None or date.fromisoformat(r["end_date"]) >= bd
            ):
                out.add(r["unit_id"])
        return out

    def former_units(e: str) -> set[str]:
        out = set()
        for r in emp:
            if r["person_id"] == e and r["end_date"] is not None:
                end = date.fromisoformat(r["end_date"])
                if cutoff() < end < bd:
                    out.add(r["unit_id"])
        return out - current_units(e)

    def applicant_units(p: dict) -> set[str]:
        return {p["lead_unit_id"]} | {
            r["unit_id"] for r in jd if r["proposal_id"] == p["proposal_id"]
        }

    def team(pid: str) -> set[tuple[str, str]]:
        p = next(x for x in props if x["proposal_id"] == pid)
        out = {(p["pi_id"], "pi")}
        out |= {(r["person_id"], r["role"]) for r in tm if r["proposal_id"] == pid}
        out |= {
            (r["leader_id"], "joint_leader")
            for r in jd
            if r["proposal_id"] == pid and r["leader_id"]
        }
        return out

    texts = [f"{p['title'] or ''}\n{p['abstract'] or ''}".strip() for p in props]
    try:
        m = TfidfVectorizer(analyzer="char", ngram_range=(2, 3), sublinear_tf=True).fit_transform(
            texts
        )
        sim = cosine_similarity(m)
    except ValueError:
        sim = np.zeros((len(props), len(props)))
    heads = {u["unit_id"]: u["head_id"] for u in units}
    scope = {"pi": {"pi"}, "key": {"pi", "key", "joint_leader"}}.get(pol.team_scope)
    found: set[tuple[str, str, str]] = set()
    for e in experts:
        for i, p in enumerate(props):
            pid = p["proposal_id"]
            au = applicant_units(p)
            tp = team(pid)
            hits: set[str] = set()
            if any(related(x, y) for x in current_units(e) for y in au):
                hits.add("employment")
            if any(related(x, y) for x in former_units(e) for y in au):
                hits.add("former_employment")
            if any(heads.get(y) == e for y in au):
                hits.add("unit_head")
            if any(person == e for person, _ in tp):
                hits.add("team_member")
            for r in prel:
                a, b = r["person_id"], r["other_person_id"]
                if e not in (a, b) or a == b:
                    continue
                other = b if a == e else a
                if not any(
                    person == other and (scope is None or role in scope) for person, role in tp
                ):
                    continue
                k = r["kind"]
                win = {"coauthor": pol.coauthor_years, "coapplicant": pol.coapplicant_years}.get(k)
                if win is not None and r["year"] is not None and r["year"] < bd.year - win:
                    continue
                hits.add(
                    {
                        "coauthor": "coauthor",
                        "coapplicant": "coapplicant",
                        "advisor_of": "advisor",
                        "relative_of": "relative",
                    }[k]
                )
            for j, q in enumerate(props):
                if j == i or not any(person == e for person, _ in team(q["proposal_id"])):
                    continue
                if pol.direction_applicant and q["direction_code"] == p["direction_code"]:
                    hits.add("own_application")
                if sim[i, j] >= pol.similarity_threshold:
                    hits.add("similar_application")
            for r in rec:
                if r["proposal_id"] != pid:
                    continue
                if r.get("person_id") == e:
                    hits.add("recusal")
                if r.get("unit_id") and r["unit_id"] in current_units(e):
                    hits.add("recusal_unit")
            if any(r["person_id"] == e and r["direction_code"] == p["direction_code"] for r in de):
                hits.add("direction_expert")
            found |= {(pid, e, k) for k in hits & pol.kinds}
    return found  # fmt: skip


def check_agreement(seed: int) -> None:
    t = random_batch(seed)
    pol = random_policy(seed)
    chains = conflict_chains(t, batch_date=BD, policy=pol)
    got = set(zip(chains["proposal_id"], chains["expert_id"], chains["kind"], strict=True))
    assert {(p, e, k) for p, e, k in got} == brute_force(t, BD, pol)
    ex = Explainer(t, batch_date=BD, policy=pol)
    walked = {
        (p, e, k, c)
        for e in t["experts"]["expert_id"]
        for p in t["proposals"]["proposal_id"]
        for k, c in ex.chains(e, p)
    }
    bulk = set(
        zip(
            chains["proposal_id"],
            chains["expert_id"],
            chains["kind"],
            chains["reason"],
            strict=True,
        )
    )
    assert walked == bulk


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10**6))
def test_bulk_equals_graph_walk_and_brute_force(seed: int) -> None:
    check_agreement(seed)


@pytest.mark.slow
@settings(max_examples=400, deadline=None)
@given(st.integers(0, 10**6))
def test_bulk_equals_graph_walk_and_brute_force_many(seed: int) -> None:
    check_agreement(seed)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10**6))
def test_related_units_frame_equals_graph(seed: int) -> None:
    t = random_batch(seed)
    pol = random_policy(seed)
    g = build_graph(t)
    units = [f"U{i}" for i in range(6)]
    df = related_unit_pairs(
        t["unit_relations"], relatedness=pol.relatedness, include_same=True, units=units
    )
    frame = set(df.itertuples(index=False, name=None))
    walk = {
        (u, *found)
        for u in units
        for found in related_units_in_graph(g, u, relatedness=pol.relatedness)
    }
    assert frame == walk


# ---------------------------------------------------------------------------------------------
# text similarity


def random_texts(seed: int, n: int) -> list[str]:
    rng = np.random.default_rng(seed)
    chars = list("智能装备视觉检测材料氢能储运芯片集成电路生物医药抗体AB c")
    base = ["".join(rng.choice(chars, int(rng.integers(0, 40)))) for _ in range(n)]
    for i in range(0, n, 7):  # near-duplicates
        base[i] = base[(i * 3) % n] + "".join(rng.choice(chars, 3))
    return base + ["", "A  B\n\nc", "x"]


def test_char_ngram_tfidf_matches_scikit_learn() -> None:
    texts = random_texts(5, 120)
    ref = TfidfVectorizer(analyzer="char", ngram_range=(2, 3), sublinear_tf=True)
    a = ref.fit_transform(texts)
    b = char_ngram_tfidf(texts)
    np.testing.assert_allclose((a @ a.T).toarray(), (b @ b.T).toarray(), atol=1e-12)


@pytest.mark.parametrize("threshold", [0.2, 0.5, 0.6, 0.9])
def test_neighbours_equal_all_pairs(threshold: float) -> None:
    texts = random_texts(11, 300)
    props = pd.DataFrame(
        {"proposal_id": [f"P{i}" for i in range(len(texts))], "title": texts, "abstract": ""}
    )
    index = TextIndex.from_proposals(props)
    before = index.matrix.copy()
    src = [f"P{i}" for i in range(0, len(texts), 2)]
    got = index.neighbours(src, threshold=threshold, chunk=37)
    sim = (index.matrix @ index.matrix.T).toarray()
    want = {
        (s, f"P{j}")
        for s in src
        for j in np.flatnonzero(sim[index.position[s]] >= threshold)
        if f"P{j}" != s
    }
    assert set(zip(got["source"], got["target"], strict=True)) == want
    assert (index.matrix != before).nnz == 0  # the index is not changed by the search


# ---------------------------------------------------------------------------------------------
# column helpers of the bulk pass: the same answers as their value-by-value definitions

DATE_VALUES = st.one_of(
    st.none(),
    st.just(float("nan")),
    st.sampled_from(["", " ", "x", "2024/02/03", "05/03/2024", " 2024-01-02 ", "2024-08-05 17:30"]),
    st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)).map(date.isoformat),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(DATE_VALUES, max_size=12))
def test_to_dates_equals_to_date_value_by_value(values: list) -> None:
    col = pd.Series(values, dtype=object)
    assert to_dates(col) == [to_date(v) for v in values]
    text = pd.Series([v if isinstance(v, str) else None for v in values], dtype="str")
    assert to_dates(text) == [to_date(v) for v in text.tolist()]


def test_to_dates_of_non_text_columns() -> None:
    assert to_dates(pd.Series([np.nan, np.nan])) == [None, None]
    days = pd.Series([date(2024, 1, 1), None], dtype=object)
    assert to_dates(days) == [date(2024, 1, 1), None]
    assert to_dates(pd.Series(["2024-01-05T10:00:00+08:00", "2024-01-05T10:00:00+01:00"])) == [
        date(2024, 1, 5),
        date(2024, 1, 5),
    ]


def test_lazy_normalised_tables_equal_normalise() -> None:
    t = world(**merged(expert("E1", "张某", "U2")))
    t["units"] = t["units"].assign(type="企业", unit_id=[f" {u} " for u in t["units"]["unit_id"]])
    eager = normalise(t)
    lazy = Normalised(t)
    assert list(lazy) == list(eager)
    for kind in eager:
        pd.testing.assert_frame_equal(lazy[kind], eager[kind])
    assert set(lazy["units"]["type"]) == {"enterprise"}
    assert lazy["units"]["unit_id"].tolist() == [u.strip() for u in t["units"]["unit_id"]]
    with pytest.raises(KeyError):
        lazy["nonsense"]


def test_tfidf_rows_are_canonical() -> None:
    texts = random_texts(3, 50)
    m = char_ngram_tfidf(texts)
    assert m.has_sorted_indices
    assert m.has_canonical_format
    has_gram = [len(re.sub(r"\s\s+", " ", t.lower())) >= 2 for t in texts]
    np.testing.assert_allclose(np.asarray(m.multiply(m).sum(axis=1)).ravel(), has_gram)
