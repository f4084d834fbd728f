"""Why each proposal is funded or not, in one plain sentence on the sheet's scale, with a
machine-readable reason code.

Reason codes (the ``reason_code`` column): ``funded``; not funded because ``withdrawn``,
``ineligible`` (rejected in screening, not reviewed, or no fundable amount), ``override``
(forced out, or the direction's places went to forced-in proposals), ``quality_floor``,
``one_per_pi`` / ``related_group`` (the PI or a related lead unit already has a funded project),
``young_share``, ``direction_cap`` (the direction funds its maximum, all ranked above),
``rank`` (a proposal ranked above it is not funded either, and the direction's funding stops
there) or ``budget`` (next in line, but a budget is spent).

Merit thresholds ("would be funded if its merit rose above t") come from re-solves with the
proposal moved to each place of its direction's ranking it could take (see
:func:`merit_threshold`); one is printed only inside the sheet's range, otherwise the sentence
says that merit alone cannot change the decision.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from models.i18n import Msg
from scoring.rank_solver import Change
from scoring.select_input import MERIT_SCALE, SelectionData

REASON_CODES = (
    "funded",
    "rank",
    "budget",
    "direction_cap",
    "quality_floor",
    "one_per_pi",
    "related_group",
    "young_share",
    "override",
    "ineligible",
    "withdrawn",
)
RULE_REASONS = frozenset(
    {"one_per_pi", "related_group", "young_share", "override", "ineligible", "withdrawn"}
)
"""Reasons that may pass a proposal over for a lower-ranked one (none of them is cost)."""

Levels = tuple[int, int, int, int]
Solve = Callable[[Change], Levels | None]
"""A re-solve with one change: the levels of the optimum (None when infeasible), and whether
the changed proposal is funded is known from the change (require / forbid)."""


@dataclass(frozen=True)
class Ranking:
    """Each proposal's place in its direction's ranking (eligible, reviewed, not withdrawn; by
    merit, then id): rank (0 = unranked) and the direction's count."""

    rank: np.ndarray
    size: np.ndarray

    @classmethod
    def of(cls, data: SelectionData) -> Ranking:
        rank = np.zeros(data.n, np.int64)
        size = np.zeros(data.n, np.int64)
        ranked = np.flatnonzero(data.ranked())
        order = ranked[np.lexsort((data.pos[ranked], -data.merit[ranked], data.dir_idx[ranked]))]
        di = data.dir_idx[order]
        start = np.searchsorted(di, di)
        rank[order] = np.arange(len(order)) - start + 1
        counts = np.bincount(di, minlength=len(data.dir_codes))
        size[order] = counts[di]
        return cls(rank, size)


def _blocker(data: SelectionData, i: int, sel: np.ndarray) -> tuple[str, int] | None:
    """('one_per_pi' | 'related_group', the funded proposal) blocking proposal i, if any."""
    rules = data.rules
    others = np.flatnonzero(sel)
    others = others[others != i]
    if rules.one_per_pi:
        same = others[data.pi[others] == data.pi[i]]
        if len(same):
            return "one_per_pi", int(same[0])
    if rules.related_exclusive and data.related[i]:
        same = others[data.related[others] == data.related[i]]
        if len(same):
            return "related_group", int(same[0])
    return None


def _grant_msg(data: SelectionData, i: int, grant: int, cut_by: dict[int, int]) -> Msg:
    if i in cut_by:
        return Msg(
            "grant {grant}万, cut from {bound}万 to fit {budget} (核减)",
            grant=grant,
            bound=int(data.ub[i]),
            budget=data.scopes[cut_by[i]].label,
        )
    kind = data.bound_kind[i]
    if kind == "direction_cap":
        return Msg(
            "grant {grant}万, capped at the direction's limit of {limit:g}万",
            grant=grant,
            limit=float(data.cap[i]),
        )
    if kind == "share":
        share = data.rules.max_share_enterprise if data.enterprise_led[i] else data.rules.max_share
        return Msg(
            "grant {grant}万, capped at {share}% of the project's total budget {total:g}万",
            grant=grant,
            share=round(100 * share),
            total=float(data.total_budget[i]),
        )
    if kind == "max_grant":
        return Msg(
            "grant {grant}万, capped at the {limit:g}万 per-project maximum",
            grant=grant,
            limit=float(data.rules.max_grant_wan),
        )
    return Msg("grant {grant}万 (the amount requested)", grant=grant)


def budget_shortfalls(data: SelectionData, i: int, sel: np.ndarray) -> list[tuple[int, int]]:
    """(scope index, 万元 more needed) for each budget that funding proposal i on top of the
    funded set ``sel`` would overspend (grant floors)."""
    out = []
    for k, scope in enumerate(data.scopes):
        if scope.mask[i]:
            used = int(data.lb[sel & scope.mask].sum())
            need = used + int(data.lb[i]) - scope.cap
            if need > 0:
                out.append((k, need))
    return out


def reasons(
    data: SelectionData,
    sel: np.ndarray,
    qual: np.ndarray,
    ranking: Ranking,
) -> tuple[list[str], list[int | None]]:
    """Each proposal's reason code, and for budget and rank reasons the proposal whose place
    matters (the first unfunded one above it for ``rank``)."""
    rules = data.rules
    codes: list[str] = []
    ref: list[int | None] = []
    blocked = np.zeros(data.n, bool)
    for k in np.flatnonzero(qual & ~sel):
        blocked[k] = _blocker(data, int(k), sel) is not None
    for i in range(data.n):
        d = data.dir_idx[i]
        same = np.flatnonzero((data.dir_idx == d) & sel)
        if sel[i]:
            codes.append("override" if data.forced_in[i] else "funded")
            ref.append(None)
            continue
        if data.withdrawn[i]:
            codes.append("withdrawn")
        elif not data.eligible[i] or not data.reviewed[i] or data.ub[i] <= 0:
            codes.append("ineligible")
        elif data.forced_out[i]:
            codes.append("override")
        elif data.merit[i] < rules.quality_floor:
            codes.append("quality_floor")
        elif blocked[i]:
            codes.append(_blocker(data, i, sel)[0])  # type: ignore[index]
        elif (
            rules.youth_min_share
            and not data.young[i]
            and any(
                ranking.rank[j] > ranking.rank[i] and data.young[j] and not data.forced_in[j]
                for j in same
            )
        ):
            codes.append("young_share")
        elif rules.policy == "merit-sum" and any(
            ranking.rank[j] > ranking.rank[i] and not data.forced_in[j] for j in same
        ):
            codes.append("budget")  # passed over for cheaper, lower-ranked proposals
        elif len(same) >= rules.max_per_direction:
            below = [j for j in same if ranking.rank[j] > ranking.rank[i] or data.forced_in[j]]
            forced = [j for j in same if data.forced_in[j]]
            codes.append("override" if forced and below else "direction_cap")
        else:
            above = np.flatnonzero(
                (data.dir_idx == d) & qual & ~sel & ~blocked & (ranking.rank < ranking.rank[i])
            )
            if len(above):
                codes.append("rank")
                ref.append(int(above[np.argmin(ranking.rank[above])]))
                continue
            codes.append("budget")
        ref.append(None)
    return codes, ref


def explain(
    data: SelectionData,
    sel: np.ndarray,
    grant: np.ndarray,
    cut_by: dict[int, int],
    qual: np.ndarray,
    ranking: Ranking,
    threshold: np.ndarray,
    budget_rise: dict[int, tuple[int, int]],
) -> tuple[list[str], list[Msg]]:
    """Reason code and explanation (a stored, translatable message) per proposal.

    threshold: (n,) merit at which the decision would flip (NaN = not computed; +inf: no
    merit funds it; -inf: funded at any qualifying merit);
    budget_rise: proposal -> (scope, 万元) by which raising that budget would fund it.
    """
    rules = data.rules
    lo, hi = rules.merit_range
    codes, ref = reasons(data, sel, qual, ranking)
    out: list[Msg] = []
    for i, code in enumerate(codes):
        d = data.dir_codes[data.dir_idx[i]]
        rank, size = int(ranking.rank[i]), int(ranking.size[i])
        o = data.override.get(i)
        parts: list[Msg] = []
        if sel[i]:
            if data.forced_in[i] and o is not None:
                parts.append(
                    Msg("funded: forced in by {actor}: {reason}", actor=o.actor, reason=o.reason)
                )
            else:
                parts.append(
                    Msg("funded: rank {rank} of {n} in {direction}", rank=rank, n=size, direction=d)
                )
            parts.append(_grant_msg(data, i, int(grant[i]), cut_by))
            t = threshold[i]
            if not data.forced_in[i] and not np.isnan(t):
                if np.isfinite(t) and lo <= t <= hi:
                    parts.append(
                        Msg("would lose its place if its merit fell below {t:.1f}", t=float(t))
                    )
                else:
                    parts.append(Msg("keeps its place at any merit above the quality floor"))
            out.append(_join(parts))
            continue
        if code == "withdrawn":
            parts.append(Msg("not funded: withdrawn by the applicant"))
        elif code == "ineligible":
            if not data.eligible[i]:
                parts.append(Msg("not funded: rejected in screening (形式审查)"))
            elif not data.reviewed[i]:
                parts.append(Msg("not funded: no reviews, so no calibrated score"))
            else:
                parts.append(Msg("not funded: no fundable amount (its grant bound is 0万)"))
        elif code == "override" and data.forced_out[i] and o is not None:
            parts.append(
                Msg("not funded: forced out by {actor}: {reason}", actor=o.actor, reason=o.reason)
            )
        elif code == "override":
            same = np.flatnonzero((data.dir_idx == data.dir_idx[i]) & sel & data.forced_in)
            parts.append(
                Msg(
                    "not funded: rank {rank}; the direction funds {k}, including {ids} forced in",
                    rank=rank,
                    k=int(((data.dir_idx == data.dir_idx[i]) & sel).sum()),
                    ids=", ".join(str(data.ids[j]) for j in same),
                )
            )
        elif code == "quality_floor":
            parts.append(
                Msg(
                    "not funded: merit {merit:.1f} is below the quality floor {floor:g}",
                    merit=float(data.merit[i]),
                    floor=float(rules.quality_floor),
                )
            )
        elif code in ("one_per_pi", "related_group"):
            other = _blocker(data, i, sel)[1]  # type: ignore[index]
            text = (
                "not funded: same PI as {other}, funded"
                if code == "one_per_pi"
                else "not funded: its lead unit is related to that of {other}, funded"
            )
            parts.append(Msg(text, other=str(data.ids[other])))
        elif code == "direction_cap":
            k = int(((data.dir_idx == data.dir_idx[i]) & sel).sum())
            parts.append(Msg("not funded: rank {rank}; the direction funds {k}", rank=rank, k=k))
        elif code == "rank":
            j = ref[i]
            assert j is not None
            parts.append(
                Msg(
                    "not funded: rank {rank}; {above}, ranked {line}, is not funded either",
                    rank=rank,
                    above=str(data.ids[j]),
                    line=int(ranking.rank[j]),
                )
            )
        elif code == "young_share":
            parts.append(
                Msg("not funded: the young-talent share needs a young-led project in its place")
            )
        else:
            parts.extend(_budget_msgs(data, i, sel, rank))
        if (
            code in ("budget", "direction_cap", "rank", "young_share", "override")
            and not (data.forced_out[i])
        ):
            t = threshold[i]
            if np.isfinite(t) and lo <= t <= hi:
                parts.append(Msg("would be funded if its merit rose above {t:.1f}", t=float(t)))
            elif not np.isnan(t):
                parts.append(Msg("merit alone, on the sheet's scale, cannot change this"))
            if i in budget_rise:
                k, need = budget_rise[i]
                parts.append(
                    Msg(
                        "would be funded if {budget} rose by {need}万",
                        budget=data.scopes[k].label,
                        need=need,
                    )
                )
        out.append(_join(parts))
    return codes, out


def _budget_msgs(data: SelectionData, i: int, sel: np.ndarray, rank: int) -> list[Msg]:
    short = budget_shortfalls(data, i, sel)
    same = np.flatnonzero((data.dir_idx == data.dir_idx[i]) & sel & ~data.forced_in)
    lower = [j for j in same if data.merit[j] < data.merit[i]]
    if data.rules.policy == "merit-sum" and lower:
        return [
            Msg(
                "not funded: rank {rank}; lower-ranked {ids} funded instead, to fit the budget "
                "(merit-sum policy)",
                rank=rank,
                ids=", ".join(str(data.ids[j]) for j in lower),
            )
        ]
    if short:
        return [
            Msg(
                "not funded: {budget} is spent; funding it needs {need}万 more",
                budget=data.scopes[k].label,
                need=need,
            )
            for k, need in short
        ]
    return [Msg("not funded: funding it would lower the merit of the selection as a whole")]


def _join(parts: list[Msg]) -> Msg:
    if len(parts) == 1:
        return parts[0]
    return Msg("{first}; {rest}", first=parts[0], rest=_join(parts[1:]))


def merit_threshold(
    data: SelectionData, i: int, order: list[int], slots: int, blockable: set[int], solve: Solve
) -> float:
    """The merit above which proposal i is funded under the rank policy: +inf when no merit
    funds it, -inf when it is funded at any merit that qualifies.

    ``order``: its direction's ranking (qualified, not forced in), ``slots`` its places,
    ``blockable``: proposals a funded one elsewhere may block. For each place p it could be
    funded at (fewer than ``slots`` unblockable proposals above), merits between those of the
    p-th and (p-1)-th others put it there; two re-solves (it funded, it not funded) give the
    merit above which funding it wins within that interval. Funding is monotone in its own
    merit, so the lowest interval where it can win holds the threshold.
    """
    floor = data.rules.quality_floor
    others = [j for j in order if j != i]
    solid = np.cumsum([0] + [j not in blockable for j in others])  # unblockable above place p
    for p in range(len(others) + 1, 0, -1):
        if solid[p - 1] >= slots:
            continue
        low = max(data.merit[others[p - 1]] if p - 1 < len(others) else -np.inf, floor)
        high = data.merit[others[p - 2]] if p >= 2 else np.inf
        if low >= high:
            continue
        probe = (low + high) / 2 if np.isfinite(high) else low + 1.0
        inside = solve(Change(index=i, merit=probe, require=True))
        if inside is None:
            continue
        outside = solve(Change(index=i, merit=probe, forbid=True))
        if outside is None or inside[0] < outside[0]:
            t = low
        elif inside[0] > outside[0]:
            continue
        else:
            t = (outside[1] - inside[1]) / MERIT_SCALE + probe
            if t >= high:
                continue
        t = max(t, low)
        return -np.inf if t <= floor else float(t)
    return np.inf
