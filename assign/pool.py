"""Expert-pool filters: who is set aside before assignment, and why.

Standing filters: inactive, over age (超龄), an active credit penalty (失信), rated poor in both
of the two most recent ratings (连续2次较差). Per-batch filters chosen by the officer: titles,
levels, in/out of province.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

import pandas as pd

from assign.graph import Normalised, table, to_dates
from models import places
from models.i18n import N_, Msg, join_stored

HOME_PROVINCE = "江苏省"
FILTERS = ("inactive", "over_age", "credit", "poor_twice", "title", "level", "province")


class PoolFilterError(ValueError):
    """A pool filter option that cannot be used."""


def _active(v: Any) -> bool | None:
    """true/false/1/0/是/否 as bool; None when missing or unreadable."""
    if v is None or v is pd.NA or (isinstance(v, float) and v != v):
        return None
    if isinstance(v, bool):
        return v
    if isinstance(v, int | float):
        return bool(v)
    s = str(v).strip().lower()
    if s in ("true", "t", "1", "yes", "y", "是"):
        return True
    if s in ("false", "f", "0", "no", "n", "否"):
        return False
    return None


def age_on(birth: date, day: date) -> int:
    """Whole years completed on ``day``."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def pool_reasons(
    tables: Mapping[str, pd.DataFrame],
    *,
    batch_date: date,
    max_age: int | None = 70,
    titles: Iterable[str] | None = None,
    levels: Iterable[str] | None = None,
    province_scope: str | None = None,
) -> pd.DataFrame:
    """Every (expert_id, filter, reason) that sets an expert aside; filter is one of FILTERS,
    reason a :class:`Msg` (rendered in the reader's language)."""
    if province_scope not in (None, "in", "out"):
        raise PoolFilterError(f"province_scope must be 'in', 'out' or None, got {province_scope!r}")
    t = Normalised(tables)
    experts = t["experts"]
    # the experts' people rows only (a later row of the same person wins, as in a dict)
    ids = experts["expert_id"]
    ppl = t["people"]
    ppl = ppl[ppl["person_id"].isin(set(ids.dropna().tolist()))]
    people: dict[str, tuple[date | None, Any]] = {
        pid: (birth, title)
        for pid, birth, title in zip(
            ppl["person_id"].tolist(),
            to_dates(ppl["birth_date"]),
            ppl["title"].tolist(),
            strict=True,
        )
        if pid
    }
    title_set = None if titles is None else frozenset(titles)
    level_set = None if levels is None else frozenset(levels)
    pens: dict[str, list[tuple[date | None, date | None, str | None]]] = defaultdict(list)
    cp = t["credit_penalties"]
    for st, sid, s, e, why in zip(
        cp["subject_type"].tolist(),
        cp["subject_id"].tolist(),
        to_dates(cp["start_date"]),
        to_dates(cp["end_date"]),
        cp["reason"].tolist(),
        strict=True,
    ):
        if st == "person" and sid:
            pens[sid].append((s, e, why if isinstance(why, str) and why else None))
    ratings: dict[str, list[tuple[date, str, str]]] = defaultdict(list)
    rt = t["ratings"]
    for eid, bid, rating, d in zip(
        rt["expert_id"].tolist(),
        rt["batch_id"].tolist(),
        rt["rating"].tolist(),
        to_dates(rt["rated_on"]),
        strict=True,
    ):
        if eid and d is not None and d <= batch_date:
            ratings[eid].append((d, str(bid) if bid else "?", str(rating)))
    rows: list[tuple[str, str, Msg]] = []
    for eid, active, level, province in zip(
        ids.tolist(),
        [None if v is pd.NA else v for v in experts["active"].tolist()],
        experts["level"].tolist(),
        experts["province"].tolist(),
        strict=True,
    ):
        if not eid:
            continue
        birth, title = people.get(eid, (None, None))
        if _active(active) is False:
            rows.append((eid, "inactive", Msg(N_("inactive in the expert pool"))))
        if max_age is not None and birth is not None:
            age = age_on(birth, batch_date)
            if age > max_age:
                rows.append(
                    (
                        eid,
                        "over_age",
                        Msg(
                            N_("over age (超龄): {age} on {day} (born {born}), limit {limit}"),
                            age=age,
                            day=batch_date.isoformat(),
                            born=birth.isoformat(),
                            limit=max_age,
                        ),
                    )
                )
        for s, e, why in pens.get(eid, []):
            if (s is None or s <= batch_date) and (e is None or e >= batch_date):
                start = s.isoformat() if s else "?"
                end = e.isoformat() if e else Msg(N_("open"))
                penalty = (
                    Msg(N_("active credit penalty (失信) from {start} to {end}: {why}"),
                        start=start, end=end, why=why)
                    if why
                    else Msg(N_("active credit penalty (失信) from {start} to {end}"),
                             start=start, end=end)
                )  # fmt: skip
                rows.append((eid, "credit", penalty))
        hist = sorted(ratings.get(eid, []))
        if len(hist) >= 2 and hist[-1][2] == "poor" and hist[-2][2] == "poor":
            (d1, b1, _), (d2, b2, _) = hist[-2], hist[-1]
            rows.append(
                (
                    eid,
                    "poor_twice",
                    Msg(
                        N_(
                            "rated poor twice in a row (连续2次较差): {first} on {first_day} and "
                            "{second} on {second_day}"
                        ),
                        first=b1,
                        first_day=d1.isoformat(),
                        second=b2,
                        second_day=d2.isoformat(),
                    ),  # fmt: skip
                )
            )
        if title_set is not None:
            title = title if isinstance(title, str) and title else None
            if title not in title_set:
                rows.append(
                    (
                        eid,
                        "title",
                        Msg(
                            N_("title {title} is not among the titles asked for ({asked})"),
                            title=title or Msg(N_("unknown")),
                            asked=", ".join(sorted(title_set)),
                        ),
                    )
                )
        if level_set is not None:
            level = level if isinstance(level, str) and level else None
            if level not in level_set:
                rows.append(
                    (
                        eid,
                        "level",
                        Msg(
                            N_("level {level} is not among the levels asked for ({asked})"),
                            level=level or Msg(N_("unknown")),
                            asked=", ".join(sorted(level_set)),
                        ),
                    )
                )
        if province_scope is not None:
            prov = province if isinstance(province, str) and province else None
            inside = places.in_province(prov)  # 江苏省 / 江苏 / Jiangsu alike
            if province_scope == "in" and not inside:
                where = prov or Msg(N_("unknown"))
                msg = N_("from {where}; this batch uses {home} experts only")
                rows.append((eid, "province", Msg(msg, where=where, home=HOME_PROVINCE)))
            if province_scope == "out" and inside:
                rows.append(
                    (
                        eid,
                        "province",
                        Msg(
                            N_("from {where}; this batch uses experts from outside only"),
                            where=HOME_PROVINCE,
                        ),
                    )
                )
    return pd.DataFrame(
        {
            "expert_id": pd.Series([x[0] for x in rows], dtype=object),
            "filter": pd.Series([x[1] for x in rows], dtype=object),
            "reason": pd.Series([x[2] for x in rows], dtype=object),
        }
    )


def filter_pool(
    tables: Mapping[str, pd.DataFrame],
    *,
    batch_date: date,
    max_age: int | None = 70,
    titles: Iterable[str] | None = None,
    levels: Iterable[str] | None = None,
    province_scope: str | None = None,
) -> pd.DataFrame:
    """Experts set aside: columns expert_id, reason (one row per expert; the reason a stored
    message, :func:`models.i18n.render_stored` gives its text, several joined "; ").

    max_age: oldest age (whole years on ``batch_date``) still allowed, None = no limit.
    titles / levels: allowed people.title / experts.level codes (None = any).
    province_scope: "in" (江苏 only), "out" (outside 江苏 only) or None.
    """
    long = pool_reasons(
        tables,
        batch_date=batch_date,
        max_age=max_age,
        titles=titles,
        levels=levels,
        province_scope=province_scope,
    )
    order: dict[str, list[str]] = {}
    for eid, reason in zip(long["expert_id"].tolist(), long["reason"].tolist(), strict=True):
        order.setdefault(eid, []).append(reason.to_json())
    return pd.DataFrame(
        {
            "expert_id": pd.Series(list(order), dtype=object),
            "reason": pd.Series([join_stored(v) for v in order.values()], dtype=object),
        }
    )


def eligible_experts(tables: Mapping[str, pd.DataFrame], set_aside: pd.DataFrame) -> list[str]:
    """Expert ids of the pool minus those in ``set_aside`` (in table order)."""
    out = set(set_aside["expert_id"])
    ex = table(tables, "experts")
    return [e for e in ex["expert_id"].tolist() if e and e not in out]
