"""The call's funding limits are arranged after review (原则上 / 通过评审后): screening warns that
the grant will be capped, and selection caps it at exactly that amount."""

from __future__ import annotations

import pandas as pd

from assign.screening import ScreeningConfig, screen
from scoring.select import SelectionRules, select

# (proposal, lead unit type, total budget, request, direction cap, the limit it breaks, cap)
CASES = [
    ("A", "enterprise", 4000.0, 1500.0, 2000.0, "funding_share", 1200),  # 30 % when enterprise-led
    ("B", "university", 2400.0, 1500.0, 2000.0, "funding_share", 1200),  # 50 % otherwise
    ("C", "university", 10000.0, 2500.0, 3000.0, "funding_max", 2000),  # 2000万 per project
    ("D", "university", 6000.0, 1800.0, 1500.0, "direction_cap", 1500),  # the direction's cap
]


def test_each_funding_limit_warns_and_selection_caps_the_grant_at_it() -> None:
    units = [
        {"unit_id": f"L{p}", "name": f"单位{p}", "type": kind, "province": "江苏"}
        for p, kind, *_ in CASES
    ] + [{"unit_id": "E", "name": "企业", "type": "enterprise", "province": "江苏"}]
    proposals = [
        {
            "proposal_id": p,
            "direction_code": f"100{i}",
            "lead_unit_id": f"L{p}",
            "total_budget_wan": total,
            "requested_wan": req,
            "own_funds_wan": total - req,
            "duration_years": 3,
            "submitted_at": "2024-08-01 09:00",
        }
        for i, (p, _kind, total, req, *_) in enumerate(CASES)
    ]
    guide = pd.DataFrame(
        [
            {"code": f"100{i}", "cap_wan": cap, "max_years": 3, "mode": "竞争择优"}
            for i, (*_, cap, _rule, _grant) in enumerate(CASES)
        ]
    )
    tables = {"units": pd.DataFrame(units), "proposals": pd.DataFrame(proposals)}
    rules = ["funding_share", "funding_max", "direction_cap"]
    found = screen(tables, guide, config=ScreeningConfig(), rules=rules).findings
    assert set(found["severity"]) == {"warn"}
    warned = {(p, r): m.render("en") for p, r, m in found[["proposal_id", "rule", "reason"]].values}
    assert set(warned) == {(p, rule) for p, *_, rule, _grant in CASES}

    frame = pd.DataFrame(
        {
            "proposal_id": [c[0] for c in CASES],
            "direction_code": [f"100{i}" for i in range(len(CASES))],
            "programme": "新能源",
            "merit": 80.0,
            "requested_wan": [c[3] for c in CASES],
            "total_budget_wan": [c[2] for c in CASES],
            "enterprise_led": [c[1] == "enterprise" for c in CASES],
            "pi_id": [f"PI{c[0]}" for c in CASES],
            "eligible": True,  # a warning does not make a proposal ineligible
            "young": False,
            "related_group": "",
        }
    )
    directions = guide.rename(columns={"code": "direction_code"}).assign(programme="新能源")
    result = select(frame, directions[["direction_code", "programme", "cap_wan"]], SelectionRules())
    grants = dict(zip(result.table["proposal_id"], result.table["grant_wan"], strict=True))
    for p, *_, rule, grant in CASES:
        assert grants[p] == grant, p
        assert warned[(p, rule)].endswith(f"if selected, the grant will be capped at {grant}万")
