"""Expert-pool filters: each filter sets aside its case and keeps its near miss."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from assign.pool import PoolFilterError, eligible_experts, filter_pool, pool_reasons
from models.i18n import render_stored, using

BD = date(2024, 8, 5)


def tables(**kinds: list[dict]) -> dict[str, pd.DataFrame]:
    return {k: pd.DataFrame(v) for k, v in kinds.items()}


def pool(*experts: dict, people: list[dict] | None = None, **more: list[dict]) -> dict:
    rows = [
        {"expert_id": "E1", "active": True, "level": "A", "province": "江苏"} | e for e in experts
    ]
    ppl = people or [
        {"person_id": r["expert_id"], "name": "某", "birth_date": "1960-01-01", "title": "senior"}
        for r in rows
    ]
    return tables(experts=rows, people=ppl, **more)


def reasons(t: dict, **kw: object) -> dict[str, str]:
    df = filter_pool(t, batch_date=BD, **kw)  # type: ignore[arg-type]
    assert list(df.columns) == ["expert_id", "reason"]
    return {e: render_stored(r, "en") for e, r in zip(df["expert_id"], df["reason"], strict=True)}


def test_nobody_set_aside_by_default() -> None:
    assert reasons(pool({})) == {}


@pytest.mark.parametrize("flag", [False, "false", "否", 0])
def test_inactive(flag: object) -> None:
    assert reasons(pool({"active": flag})) == {"E1": "inactive in the expert pool"}


def test_active_strings() -> None:
    assert reasons(pool({"active": "true"})) == {}


@pytest.mark.parametrize(
    ("birth", "set_aside"),
    [("1953-08-05", True), ("1953-08-06", False), ("1954-08-05", False), ("1940-01-01", True)],
)
def test_over_age(birth: str, set_aside: bool) -> None:
    t = pool({}, people=[{"person_id": "E1", "birth_date": birth}])
    assert ("E1" in reasons(t)) == set_aside


def test_over_age_exact_text_and_limit() -> None:
    t = pool({}, people=[{"person_id": "E1", "birth_date": "1953-08-05"}])
    assert reasons(t) == {"E1": "over age (超龄): 71 on 2024-08-05 (born 1953-08-05), limit 70"}
    assert reasons(t, max_age=75) == {}
    assert reasons(t, max_age=None) == {}
    t = pool({}, people=[{"person_id": "E1", "birth_date": "1954-08-05"}])
    assert reasons(t) == {}  # exactly 70: still allowed


def test_credit_penalty_active_and_expired() -> None:
    t = pool(
        {},
        credit_penalties=[
            {"subject_type": "person", "subject_id": "E1", "start_date": "2024-01-01",
             "reason": "评审失信"},
        ],
    )  # fmt: skip
    assert reasons(t) == {"E1": "active credit penalty (失信) from 2024-01-01 to open: 评审失信"}
    t = pool(
        {},
        credit_penalties=[
            {"subject_type": "person", "subject_id": "E1", "start_date": "2022-01-01",
             "end_date": "2024-08-04"},
            {"subject_type": "unit", "subject_id": "E1", "start_date": "2024-01-01"},
        ],
    )  # fmt: skip
    assert reasons(t) == {}


def test_poor_twice_in_a_row() -> None:
    r = [
        {"expert_id": "E1", "batch_id": "B2023", "rating": "poor", "rated_on": "2023-09-01"},
        {"expert_id": "E1", "batch_id": "B2024", "rating": "较差", "rated_on": "2024-03-01"},
        {"expert_id": "E1", "batch_id": "B2022", "rating": "good", "rated_on": "2022-09-01"},
    ]
    assert reasons(pool({}, ratings=r)) == {
        "E1": "rated poor twice in a row (连续2次较差): B2023 on 2023-09-01 and B2024 on 2024-03-01"
    }
    # poor, good, poor: the two most recent are not both poor
    r2 = r[:1] + [
        {"expert_id": "E1", "batch_id": "B2024a", "rating": "good", "rated_on": "2024-01-01"},
        {"expert_id": "E1", "batch_id": "B2024b", "rating": "poor", "rated_on": "2024-05-01"},
    ]
    assert reasons(pool({}, ratings=r2)) == {}


def test_title_level_province_filters() -> None:
    t = pool(
        {"expert_id": "E1", "level": "A", "province": "江苏"},
        {"expert_id": "E2", "level": "C", "province": "上海"},
        people=[
            {"person_id": "E1", "title": "senior", "birth_date": "1970-01-01"},
            {"person_id": "E2", "title": "intermediate", "birth_date": "1970-01-01"},
        ],
    )
    assert reasons(t, titles={"senior", "associate"}) == {
        "E2": "title intermediate is not among the titles asked for (associate, senior)"
    }
    assert reasons(t, levels={"A", "B"}) == {
        "E2": "level C is not among the levels asked for (A, B)"
    }
    assert reasons(t, province_scope="in") == {
        "E2": "from 上海; this batch uses 江苏省 experts only"
    }
    assert reasons(t, province_scope="out") == {
        "E1": "from 江苏省; this batch uses experts from outside only"
    }
    both = reasons(t, levels={"A"}, province_scope="in")
    assert both == {
        "E2": "level C is not among the levels asked for (A); from 上海; this batch uses 江苏省 "
        "experts only"
    }
    long = pool_reasons(t, batch_date=BD, levels={"A"}, province_scope="in")
    assert list(long["filter"]) == ["level", "province"]
    with using("zh"):  # the stored reasons read in the reader's language
        zh = render_stored(filter_pool(t, batch_date=BD, levels={"A"})["reason"].iloc[-1])
    assert "level" not in zh and "C" in zh
    assert eligible_experts(t, filter_pool(t, batch_date=BD, levels={"A"})) == ["E1"]


def test_bad_province_scope() -> None:
    with pytest.raises(PoolFilterError) as exc:
        filter_pool(pool({}), batch_date=BD, province_scope="inside")
    assert str(exc.value) == "province_scope must be 'in', 'out' or None, got 'inside'"
