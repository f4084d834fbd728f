"""Screening: each rule fires on a hand-built break and stays quiet on a near miss."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pytest

from assign.graph import Relatedness
from assign.screening import (
    RULES,
    ScreeningConfig,
    ScreeningConfigError,
    findings_by_direction,
    screen,
    summary_by_direction,
    summary_by_rule,
)
from assign.screening_context import row_records

RULE_IDS = [
    "units_in_jiangsu",
    "enterprise_partner",
    "related_joint_units",
    "joint_directions",
    "pi_employed",
    "pi_in_progress",
    "one_per_pi",
    "open_call_lead_in_progress",
    "competitive_lead_in_progress",
    "young_share",
    "near_duplicate",
    "deadline",
    "guide_direction",
    "funding_share",
    "funding_max",
    "direction_cap",
    "duration",
    "duration_range",
    "credit",
    "own_funds",
    "recusal_requests",
]

GUIDE = pd.DataFrame(
    [
        {"code": "3002", "cap_wan": 1500.0, "max_years": 4, "mode": "竞争择优"},
        {"code": "3001", "cap_wan": 2000.0, "max_years": 5, "mode": "揭榜挂帅"},
        {"code": "1001", "cap_wan": 2000.0, "max_years": 5, "mode": "定向委托"},
        {"code": "2003", "cap_wan": None, "max_years": None, "mode": "竞争择优"},
    ]
)


def proposal(pid: str = "P1", **kw: object) -> dict:
    row = {
        "proposal_id": pid,
        "batch_id": "B1",
        "direction_code": "3002",
        "title": f"题目{pid}",
        "abstract": f"摘要{pid}" * 3,
        "lead_unit_id": "L1",
        "pi_id": "PI",
        "department": "南京市科技局",
        "total_budget_wan": 4000.0,
        "requested_wan": 1200.0,
        "own_funds_wan": 2800.0,
        "duration_years": 3,
        "submitted_at": "2024-08-05 17:30",
    }
    row.update(kw)
    return row


def joints(pid: str = "P1", units: tuple[str, ...] = ("L1", "UNIV", "E2")) -> list[dict]:
    return [{"proposal_id": pid, "seq": i + 1, "unit_id": u} for i, u in enumerate(units)]


def base() -> dict[str, list[dict]]:
    return {
        "units": [
            {"unit_id": "L1", "name": "江苏恒远集团", "type": "enterprise", "province": "江苏"},
            {"unit_id": "UNIV", "name": "南京理工学院", "type": "university", "province": "江苏"},
            {"unit_id": "INST", "name": "江苏材料研究所", "type": "institute", "province": "江苏"},
            {"unit_id": "E2", "name": "苏州光电有限公司", "type": "enterprise", "province": "江苏"},
            {
                "unit_id": "E3",
                "name": "无锡精密机械有限公司",
                "type": "enterprise",
                "province": "江苏",
            },
            {
                "unit_id": "SH",
                "name": "上海远景科技有限公司",
                "type": "enterprise",
                "province": "上海",
            },
        ],
        "people": [
            {"person_id": "PI", "name": "李明", "unit_id": "L1", "birth_date": "1988-03-01"},
            {"person_id": "PI2", "name": "王强", "unit_id": "UNIV", "birth_date": "1970-03-01"},
            {"person_id": "PI3", "name": "赵丽", "unit_id": "E2", "birth_date": "1971-03-01"},
        ],
        "batches": [
            {
                "batch_id": "B1",
                "year": 2024,
                "batch_date": "2024-08-05",
                "deadline": "2024-08-05 17:30",
            }
        ],
        "proposals": [proposal()],
        "joint_directions": joints(),
    }


def run(rows: dict[str, list[dict]], rule: str, **cfg: object) -> pd.DataFrame:
    """The findings of ``rule``, their reasons rendered in English."""
    t = {k: pd.DataFrame(v) for k, v in rows.items()}
    res = screen(t, GUIDE, config=ScreeningConfig(**cfg))  # type: ignore[arg-type]
    f = res.findings
    f = f[f["rule"] == rule]
    return f.assign(reason=[m.render("en") for m in f["reason"]])


def reasons(rows: dict[str, list[dict]], rule: str, **cfg: object) -> list[str]:
    return list(run(rows, rule, **cfg)["reason"])


def test_registry_has_exactly_the_rule_ids() -> None:
    assert list(RULES) == RULE_IDS
    for r in RULES.values():
        assert r.check.__doc__
        assert r.severity in ("reject", "warn")


def test_base_proposal_is_eligible() -> None:
    t = {k: pd.DataFrame(v) for k, v in base().items()}
    res = screen(t, GUIDE, config=ScreeningConfig())
    assert res.findings.empty, res.findings.to_dict("records")
    assert res.status.to_dict("records") == [
        {
            "proposal_id": "P1",
            "direction_code": "3002",
            "department": "南京市科技局",
            "status": "eligible",
            "rejects": 0,
            "warnings": 0,
        }
    ]


def test_units_in_jiangsu() -> None:
    rows = base()
    rows["joint_directions"] = joints(units=("L1", "UNIV", "E2", "SH"))
    assert reasons(rows, "units_in_jiangsu") == [
        "joint unit 上海远景科技有限公司 is registered in 上海市, not in 江苏省"
    ]
    rows["joint_directions"] = joints(units=("L1", "UNIV", "E2", "ZZ"))
    assert reasons(rows, "units_in_jiangsu") == ["joint unit ZZ is not in the units table"]


def test_enterprise_partner() -> None:
    rows = base()
    rows["proposals"] = [proposal(lead_unit_id="UNIV", pi_id="PI2", requested_wan=1000.0)]
    rows["joint_directions"] = joints(units=("UNIV", "INST", "E2"))
    assert reasons(rows, "enterprise_partner") == []
    rows["joint_directions"] = joints(units=("UNIV", "INST", "L1x"))
    assert reasons(rows, "enterprise_partner") == [
        "lead unit 南京理工学院 is a university and no joint direction is carried by an enterprise"
    ]


def test_related_joint_units_and_shareholding_switch() -> None:
    rows = base()
    rows["unit_relations"] = [{"unit_id": "L1", "related_unit_id": "E2", "kind": "parent_of"}]
    assert reasons(rows, "related_joint_units") == [
        "苏州光电有限公司 (joint direction 3) and 江苏恒远集团 (the lead unit) are related units "
        "applying together: 苏州光电有限公司 is a subsidiary of 江苏恒远集团"
    ]
    stake = {"unit_id": "E2", "related_unit_id": "L1", "kind": "shareholding", "share": 0.6}
    rows["unit_relations"] = [stake]
    assert reasons(rows, "related_joint_units") == [
        "苏州光电有限公司 (joint direction 3) and 江苏恒远集团 (the lead unit) are related units "
        "applying together: 苏州光电有限公司 holds 60% of 江苏恒远集团"
    ]
    no_stakes = Relatedness(shareholding=False)
    assert reasons(rows, "related_joint_units", relatedness=no_stakes) == []
    stake["share"] = 0.1  # a minority stake is not a related enterprise
    assert reasons(rows, "related_joint_units") == []
    rows["unit_relations"] = [{"unit_id": "L1", "related_unit_id": "E3", "kind": "parent_of"}]
    assert reasons(rows, "related_joint_units") == []  # E3 does not apply


def test_related_joint_units_siblings() -> None:
    rows = base()
    rows["unit_relations"] = [
        {"unit_id": "E3", "related_unit_id": "L1", "kind": "controls"},
        {"unit_id": "E3", "related_unit_id": "E2", "kind": "controls"},
    ]
    assert len(reasons(rows, "related_joint_units")) == 1
    parents_only = Relatedness(reach=frozenset({"parent"}))
    assert reasons(rows, "related_joint_units", relatedness=parents_only) == []


@pytest.mark.parametrize(
    ("units", "expected"),
    [
        (("L1", "UNIV"), ["has 2 joint directions; 3–5 required"]),
        (("L1", "UNIV", "E2", "E3", "INST", "SH"), ["has 6 joint directions; 3–5 required"]),
        (
            ("L1", "UNIV", "UNIV"),
            [
                "南京理工学院 carries joint directions 2, 3; each must be carried by a "
                "different unit"
            ],
        ),
        (("E3", "UNIV", "E2"), ["the lead unit 江苏恒远集团 carries none of the joint directions"]),
        (("L1", "UNIV", "E2", "E3", "INST"), []),
        (("L1", "UNIV", "E2"), []),
    ],
)
def test_joint_directions(units: tuple[str, ...], expected: list[str]) -> None:
    rows = base()
    rows["joint_directions"] = joints(units=units)
    assert reasons(rows, "joint_directions") == expected


def test_pi_employed() -> None:
    rows = base()
    rows["people"][0]["unit_id"] = "E2"
    assert reasons(rows, "pi_employed") == [
        "PI 李明 works at 苏州光电有限公司, not at the lead unit 江苏恒远集团"
    ]
    rows["employment"] = [{"person_id": "PI", "unit_id": "L1", "start_date": "2020-01-01"}]
    assert reasons(rows, "pi_employed") == []  # concurrent employment at the lead unit
    rows["employment"] = [{"person_id": "PI", "unit_id": "L1", "end_date": "2024-01-01"}]
    assert len(reasons(rows, "pi_employed")) == 1  # left before the batch date


def test_pi_in_progress() -> None:
    rows = base()
    rows["in_progress_projects"] = [
        {"project_id": "BE2022001", "pi_id": "PI", "lead_unit_id": "L1", "mode": "竞争择优",
         "start_year": 2022, "end_year": 2025},
    ]  # fmt: skip
    assert reasons(rows, "pi_in_progress") == [
        "PI 李明 leads in-progress provincial project BE2022001 (2022–2025)"
    ]
    rows["in_progress_projects"][0]["end_year"] = 2023
    assert reasons(rows, "pi_in_progress") == []
    rows["in_progress_projects"][0]["end_year"] = 2025
    rows["proposals"] = [proposal(direction_code="1001")]
    assert reasons(rows, "pi_in_progress") == []  # 定向委托 excepted


def test_one_per_pi() -> None:
    rows = base()
    rows["proposals"] = [proposal("P1"), proposal("P2")]
    rows["joint_directions"] = joints("P1") + joints("P2")
    got = run(rows, "one_per_pi")
    assert list(got["proposal_id"]) == ["P1", "P2"]
    assert set(got["reason"]) == {
        "PI 李明 has 2 applications in 2024 (P1, P2); one per PI per year"
    }
    rows["proposals"] = [proposal("P1"), proposal("P2", direction_code="1001")]
    assert reasons(rows, "one_per_pi") == []


@pytest.mark.parametrize(
    ("rule", "code", "other", "exempt", "what"),
    [
        ("open_call_lead_in_progress", "3001", "3002", "竞争择优", "揭榜挂帅 project"),
        ("competitive_lead_in_progress", "3002", "3001", "定向委托", "provincial project"),
    ],
)
def test_lead_enterprise_with_an_in_progress_project(
    rule: str, code: str, other: str, exempt: str, what: str
) -> None:
    """揭榜挂帅 directions bar a lead enterprise leading an in-progress 揭榜挂帅 project; 竞争择优
    ones (3001 in 2024) any in-progress provincial project but a 定向委托 one."""
    mode = GUIDE.set_index("code").loc[code, "mode"]
    rows = base()
    rows["proposals"] = [proposal(direction_code=code)]
    rows["in_progress_projects"] = [
        {"project_id": "JB2023007", "pi_id": "OTHER", "lead_unit_id": "L1", "mode": "揭榜挂帅",
         "start_year": 2023, "end_year": 2026},
    ]  # fmt: skip
    assert reasons(rows, rule) == [
        f"lead enterprise 江苏恒远集团 leads in-progress {what} JB2023007 (2023–2026); "
        f"direction {code} is {mode}"
    ]
    project = rows["in_progress_projects"][0]
    project["mode"] = exempt
    assert reasons(rows, rule) == []
    project["mode"] = "揭榜挂帅"
    project["end_year"] = 2023  # over before the batch
    assert reasons(rows, rule) == []
    project["end_year"] = 2026
    rows["proposals"] = [proposal(direction_code=other)]  # the other rule's direction
    assert reasons(rows, rule) == []
    rows["proposals"] = [proposal(direction_code=code, lead_unit_id="UNIV")]
    project["lead_unit_id"] = "UNIV"
    assert reasons(rows, rule) == []  # not an enterprise


def test_recusal_requests_above_the_cap_are_warned() -> None:
    rows = base()
    asked = [("PI2", None), ("PI3", None), (None, "E2"), (None, "INST")]
    rows["recusals"] = [
        {"proposal_id": "P1", "person_id": who, "unit_id": unit, "reason": "竞争关系"}
        for who, unit in asked
    ]
    assert reasons(rows, "recusal_requests") == [
        "the applicants ask to avoid 4 experts or units (王强, 赵丽, 苏州光电有限公司, "
        "江苏材料研究所); at most 3 are allowed"
    ]
    assert run(rows, "recusal_requests")["severity"].tolist() == ["warn"]
    assert reasons(rows, "recusal_requests", max_recusals=4) == []
    rows["recusals"] = rows["recusals"][:3]
    assert reasons(rows, "recusal_requests") == []
    with pytest.raises(ScreeningConfigError, match="max_recusals"):
        ScreeningConfig(max_recusals=-1)


def _young_rows(n: int, young: int) -> dict[str, list[dict]]:
    rows = base()
    rows["people"] = [
        {"person_id": f"Q{i}", "name": f"人{i}", "unit_id": "L1",
         "birth_date": "1984-01-01" if i < young else "1983-12-31"}
        for i in range(n)
    ]  # fmt: skip
    rows["proposals"] = [proposal(f"P{i}", pi_id=f"Q{i}") for i in range(n)]
    rows["joint_directions"] = [j for i in range(n) for j in joints(f"P{i}")]
    return rows


def test_young_share() -> None:
    got = run(_young_rows(3, 1), "young_share")
    assert list(got["severity"]) == ["warn"] * 3
    assert got["reason"].iloc[0] == (
        "南京市科技局 recommends 3 proposals, 1 (33.3 %) with a PI or key member born on or "
        "after 1984-01-01; at least 40 % required"
    )
    assert reasons(_young_rows(5, 2), "young_share") == []  # exactly 40 %


def test_young_key_member_counts() -> None:
    rows = _young_rows(2, 0)
    assert len(reasons(rows, "young_share")) == 2
    rows["people"].append({"person_id": "Y", "name": "青年", "birth_date": "1990-01-01"})
    rows["team_members"] = [{"proposal_id": "P0", "person_id": "Y", "role": "key"}]
    assert reasons(rows, "young_share") == []
    rows["team_members"] = [{"proposal_id": "P0", "person_id": "Y", "role": "member"}]
    assert len(reasons(rows, "young_share")) == 2


def test_near_duplicate() -> None:
    rows = base()
    text = {
        "title": "高端装备视觉检测系统",
        "abstract": "面向高端装备的机器视觉缺陷检测系统研发与应用",
    }
    rows["people"][1]["unit_id"] = "L1"
    rows["proposals"] = [proposal("P1", **text), proposal("P2", pi_id="PI2", **text)]
    rows["joint_directions"] = joints("P1") + joints("P2")
    got = run(rows, "near_duplicate")
    assert list(got["proposal_id"]) == ["P1", "P2"]
    assert got["reason"].iloc[0] == (
        "title and abstract are 1.00 similar to proposal P2 (TF-IDF character n-gram cosine, "
        "threshold 0.70), also led by 江苏恒远集团"
    )
    # the same text from an unrelated lead unit is not a near-duplicate
    rows["proposals"][1]["lead_unit_id"] = "E3"
    assert reasons(rows, "near_duplicate") == []
    # ... but it is when E3 is a subsidiary of the lead
    rows["unit_relations"] = [{"unit_id": "L1", "related_unit_id": "E3", "kind": "parent_of"}]
    got = reasons(rows, "near_duplicate")
    assert got[0].endswith(
        "led by 无锡精密机械有限公司; 无锡精密机械有限公司 is a subsidiary of 江苏恒远集团"
    )
    assert got[1].endswith(
        "led by 江苏恒远集团; 江苏恒远集团 is the parent company of 无锡精密机械有限公司"
    )


@pytest.mark.parametrize(("at", "late"), [("2024-08-05 17:30", False), ("2024-08-05 17:31", True)])
def test_deadline(at: str, late: bool) -> None:
    rows = base()
    rows["proposals"] = [proposal(submitted_at=at)]
    expected = (
        ["submitted at 2024-08-05 17:31, after the deadline 2024-08-05 17:30"] if late else []
    )
    assert reasons(rows, "deadline") == expected


def test_deadline_override_and_default() -> None:
    rows = base()
    rows["proposals"] = [proposal(submitted_at="2024-08-05 17:31")]
    assert reasons(rows, "deadline", deadline=datetime(2024, 8, 6, 17, 30)) == []
    rows.pop("batches")  # no batch row: the call's deadline applies
    assert len(reasons(rows, "deadline")) == 1


@pytest.mark.parametrize(
    ("lead", "pi", "req", "expected"),
    [
        ("L1", "PI", 1200.0, []),
        (
            "L1",
            "PI",
            1201.0,
            [
                "requests 1201万 of a 4000万 total budget (30.0 %); since an enterprise leads, "
                "provincial funding after review is at most 30 % of the budget (1200万): if "
                "selected, the grant will be capped at 1200万"
            ],
        ),
        ("UNIV", "PI2", 1500.0, []),
    ],
)
def test_funding_share(lead: str, pi: str, req: float, expected: list[str]) -> None:
    rows = base()
    rows["proposals"] = [
        proposal(lead_unit_id=lead, pi_id=pi, requested_wan=req, own_funds_wan=4000 - req)
    ]
    got = run(rows, "funding_share")
    assert list(got["reason"]) == expected
    assert set(got["severity"]) <= {"warn"}  # 原则上, after review: selection caps the grant


def test_funding_share_university_cap() -> None:
    rows = base()
    rows["proposals"] = [
        proposal(lead_unit_id="UNIV", pi_id="PI2", total_budget_wan=2000.0, requested_wan=1000.5)
    ]
    assert reasons(rows, "funding_share") == [
        "requests 1000.5万 of a 2000万 total budget (50.0 %); since the lead is not an "
        "enterprise, provincial funding after review is at most 50 % of the budget (1000万): if "
        "selected, the grant will be capped at 1000万"
    ]


@pytest.mark.parametrize(("req", "fires"), [(2000.0, False), (2000.5, True)])
def test_funding_max(req: float, fires: bool) -> None:
    rows = base()
    rows["proposals"] = [
        proposal(direction_code="3001", total_budget_wan=9000.0, requested_wan=req)
    ]
    got = run(rows, "funding_max")
    expected = (
        "requests 2000.5万; provincial funding after review is at most 2000万 per project: if "
        "selected, the grant will be capped at 2000万"
    )
    assert list(got["reason"]) == ([expected] if fires else [])
    assert list(got["severity"]) == (["warn"] if fires else [])


def test_direction_cap() -> None:
    rows = base()
    rows["proposals"] = [proposal(requested_wan=1500.0, total_budget_wan=6000.0)]
    assert reasons(rows, "direction_cap") == []
    rows["proposals"] = [proposal(requested_wan=1500.01, total_budget_wan=6000.0)]
    got = run(rows, "direction_cap")
    assert list(got["reason"]) == [
        "requests 1500.01万; direction 3002 funds at most 1500万 per project in principle: if "
        "selected, the grant will be capped at 1500万"
    ]
    assert list(got["severity"]) == ["warn"]
    rows["proposals"] = [proposal(direction_code="2003")]
    got = run(rows, "direction_cap")
    assert list(got["severity"]) == ["warn"]
    rows["proposals"] = [proposal(direction_code="9999")]
    assert reasons(rows, "direction_cap") == []
    got = run(rows, "guide_direction")
    assert list(got["reason"]) == ["direction 9999 is not in the guide catalogue"]
    assert list(got["severity"]) == ["reject"]


@pytest.mark.parametrize(
    ("years", "rule", "severity", "expected"),
    [
        (4, None, None, None),
        (5, "duration", "reject", "runs 5 years; direction 3002 allows at most 4"),
        (2, "duration_range", "warn", "runs 2 years; projects generally run 3–5 years"),
    ],
)
def test_duration(years: int, rule: str | None, severity: str, expected: str) -> None:
    """Over the direction's 项目执行期不超过N年 rejects; outside the usual 一般为3-5年 warns."""
    rows = base()
    rows["proposals"] = [proposal(duration_years=years)]
    for r in ("duration", "duration_range"):
        got = run(rows, r)
        if r != rule:
            assert got.empty
        else:
            assert list(got["severity"]) == [severity]
            assert list(got["reason"]) == [expected]


def test_credit() -> None:
    rows = base()
    rows["credit_penalties"] = [
        {"subject_type": "unit", "subject_id": "E2", "start_date": "2024-01-01", "reason": "虚报"},
        {"subject_type": "unit", "subject_id": "L1", "start_date": "2020-01-01",
         "end_date": "2024-08-04"},
        {"subject_type": "person", "subject_id": "PI", "start_date": "2023-05-01",
         "end_date": "2024-08-05"},
    ]  # fmt: skip
    assert reasons(rows, "credit") == [
        "joint unit 苏州光电有限公司 has an active credit penalty (失信) since 2024-01-01: 虚报",
        "PI 李明 has an active credit penalty (失信) from 2023-05-01 to 2024-08-05",
    ]


def test_own_funds() -> None:
    rows = base()
    rows["proposals"] = [proposal(own_funds_wan=2700.0)]
    got = run(rows, "own_funds")
    assert list(got["severity"]) == ["warn"]
    assert list(got["reason"]) == [
        "own funds 2700万 + provincial 1200万 = 3900万 do not cover the total budget 4000万"
    ]


def test_status_waivers_and_summaries() -> None:
    rows = base()
    rows["proposals"] = [
        proposal("P1", submitted_at="2024-08-05 18:00"),
        proposal("P2", pi_id="PI3", lead_unit_id="E2", own_funds_wan=100.0),
        proposal("P3", pi_id="PI2", lead_unit_id="UNIV", direction_code="3001"),
    ]
    rows["joint_directions"] = (
        joints("P1") + joints("P2", ("E2", "UNIV", "E3")) + joints("P3", ("UNIV", "E2", "E3"))
    )
    for person in rows["people"]:
        person["birth_date"] = "1990-01-01"  # every PI young: no young_share warning
    t = {k: pd.DataFrame(v) for k, v in rows.items()}
    res = screen(t, GUIDE, config=ScreeningConfig())
    assert dict(zip(res.status["proposal_id"], res.status["status"], strict=True)) == {
        "P1": "rejected",
        "P2": "warnings",
        "P3": "eligible",
    }
    res2 = screen(t, GUIDE, config=ScreeningConfig(), waivers={("P1", "deadline")})
    assert dict(zip(res2.status["proposal_id"], res2.status["status"], strict=True))["P1"] == (
        "eligible"
    )
    assert res2.findings["waived"].tolist() == [True, False]
    by_rule = summary_by_rule(res2).set_index("rule")
    assert by_rule.loc["deadline", "findings"] == 1
    assert by_rule.loc["deadline", "waived"] == 1
    assert by_rule.loc["own_funds", "proposals"] == 1
    assert list(by_rule.index) == RULE_IDS
    assert findings_by_direction(res).to_dict("records") == [
        {"direction_code": "3002", "rule": "deadline", "findings": 1},
        {"direction_code": "3002", "rule": "own_funds", "findings": 1},
    ]
    by_dir = summary_by_direction(res)
    assert by_dir.to_dict("records") == [
        {"direction_code": "3001", "proposals": 1, "eligible": 1, "warnings": 0, "rejected": 0},
        {"direction_code": "3002", "proposals": 2, "eligible": 0, "warnings": 1, "rejected": 1},
    ]


def test_unknown_rule_and_bad_config() -> None:
    t = {k: pd.DataFrame(v) for k, v in base().items()}
    with pytest.raises(ScreeningConfigError) as exc:
        screen(t, GUIDE, rules=["deadline", "color"])
    assert str(exc.value).startswith(
        "unknown screening rule(s) color; known rules: units_in_jiangsu"
    )
    with pytest.raises(ScreeningConfigError) as exc:
        ScreeningConfig(young_share=40)
    assert str(exc.value) == "young_share must be a fraction in [0, 1], got 40"


def test_inputs_not_mutated() -> None:
    t = {k: pd.DataFrame(v) for k, v in base().items()}
    before = {k: v.copy() for k, v in t.items()}
    screen(t, GUIDE)
    for k in t:
        pd.testing.assert_frame_equal(t[k], before[k])


def test_records_equal_to_dict_records() -> None:
    df = pd.DataFrame(
        {
            "a": pd.Series(["x", None, "z"], dtype="str"),
            "b": pd.Series([1, None, 3], dtype="Int64"),
            "c": pd.Series([True, None, False], dtype="boolean"),
            "d": [1.5, float("nan"), 2.0],
            "e": pd.Series([None, "q", 3], dtype=object),
        }
    )
    got, want = row_records(df), df.to_dict("records")
    assert [list(r) for r in got] == [list(r) for r in want]
    for g, w in zip(got, want, strict=True):
        for k in w:
            assert type(g[k]) is type(w[k]) and (g[k] == w[k] or g[k] != g[k] and w[k] != w[k])
