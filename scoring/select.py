"""Budgeted selection of projects to fund: who is funded, with what grant, and why.

Per guide direction (4-digit code, first digit = programme) choose up to max_per_direction
projects and each funded project's provincial grant (万元, whole numbers), under the rules and
the policy of :class:`scoring.select_rules.SelectionRules` (``rank`` by default: never passing
a proposal over for a lower-ranked one because it costs more).

The pieces, one idea each:

- :mod:`scoring.select_rules`: the rules, overrides, policies and errors;
- :mod:`scoring.select_input`: input frames to arrays, grant bounds and floors, budgets;
- :mod:`scoring.rank_solver`: the rank policy's exact dynamic programme;
- :mod:`scoring.select_cpsat`: the CP-SAT model (merit-sum, youth shares, the reference);
- :mod:`scoring.select_solve`: one solve, by whichever of the two applies;
- :mod:`scoring.grants`: grants at their bound, cut pro rata where a budget needs it;
- :mod:`scoring.select_explain`: reason codes and plain, on-scale explanations;
- :mod:`scoring.select_diagnosis`: why no selection exists;
- :mod:`scoring.select_probability`: P(selected) over merit draws;
- :mod:`scoring.lottery`: the grey zone and its seeded lottery.

Objective, lexicographic over the funded set: (rank policy) the fewest directions short of
min_per_direction; the largest merit sum; the smallest total grant bound; the smallest sum of
id positions.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from assign.problem import Status
from models.i18n import Msg
from scoring.grants import cut_grants
from scoring.lottery import grey_zone, lottery
from scoring.rank_solver import Change
from scoring.select_diagnosis import elastic_diagnosis, override_conflicts
from scoring.select_explain import (
    REASON_CODES,
    RULE_REASONS,
    Ranking,
    budget_shortfalls,
    explain,
    merit_threshold,
)
from scoring.select_input import (
    DIRECTION_COLUMNS,
    MERIT_SCALE,
    PROPOSAL_COLUMNS,
    SelectionData,
    prepare,
)
from scoring.select_probability import selection_probability
from scoring.select_rules import (
    POLICIES,
    Override,
    SelectionInfeasibleError,
    SelectionInputError,
    SelectionRules,
)
from scoring.select_solve import Solver

__all__ = [
    "DIRECTION_COLUMNS",
    "POLICIES",
    "PROPOSAL_COLUMNS",
    "REASON_CODES",
    "Override",
    "SelectionInfeasibleError",
    "SelectionInputError",
    "SelectionResult",
    "SelectionRules",
    "grey_zone",
    "inversions",
    "lottery",
    "select",
    "selection_probability",
]


@dataclass(frozen=True, eq=False)
class SelectionResult:
    """Outcome of :func:`select`.

    table: one row per input proposal, input order: proposal_id, direction_code, programme,
    merit, rank (place in its direction's ranking, 0 = unranked), qualified, selected,
    grant_wan, grant_bound_wan, grant_floor_wan (int), alternate_rank (float, NaN unless an
    alternate), merit_threshold (merit at which the decision would flip; NaN where not
    computed, +/-inf where no merit would flip it), reason_code (one of REASON_CODES),
    explanation (a :class:`models.i18n.Msg`).
    objective: merit sum of the funded set; bound: proven upper bound on it.
    objective_terms: (directions short of their minimum, scaled merit sum, total grant bound,
    id-position sum).
    programme_use: programme, n_funded, grants_wan, budget_wan (NaN = no programme budget).
    diagnosis: why the settings are infeasible (empty unless status is INFEASIBLE).
    """

    status: Status
    policy: str
    objective: float
    bound: float
    gap: float
    wall_s: float
    table: pd.DataFrame
    grants_total_wan: int
    budget_wan: float | None
    programme_use: pd.DataFrame
    objective_terms: tuple[int, int, int, int]
    inversions: int
    diagnosis: tuple[Msg, ...] = ()

    @property
    def selected_ids(self) -> tuple[str, ...]:
        """Funded proposal ids, in input order."""
        t = self.table
        return tuple(t.loc[t["selected"], "proposal_id"].astype(str))

    def explanation(self, proposal_id: str) -> str:
        """The explanation sentence for one proposal, in the current language."""
        row = self.table.loc[self.table["proposal_id"] == proposal_id, "explanation"]
        if row.empty:
            raise SelectionInputError(f"unknown proposal id {proposal_id}")
        return str(row.iloc[0])


def inversions(table: pd.DataFrame) -> int:
    """Pairs in one direction where a proposal is unfunded while a lower-ranked one is funded,
    and the reason it is unfunded is not a rule (RULE_REASONS) but cost or the objective.

    table: columns direction_code, rank, selected, reason_code (as in SelectionResult.table).
    """
    count = 0
    for _d, g in table[table["rank"] > 0].groupby("direction_code"):
        funded = g.loc[g["selected"] & (g["reason_code"] == "funded"), "rank"].to_numpy()
        out = g.loc[~g["selected"] & ~g["reason_code"].isin(RULE_REASONS), "rank"].to_numpy()
        count += int((out[:, None] < funded[None, :]).sum())
    return count


def select(
    proposals: pd.DataFrame,
    directions: pd.DataFrame,
    rules: SelectionRules,
    *,
    explain_depth: int = 3,
    alternates: int = 2,
    time_limit_s: float = 60.0,
    num_workers: int = 1,
    progress: Callable[[str, float], None] | None = None,
) -> SelectionResult:
    """Choose projects and grants per direction (objective in the module docstring).

    proposals: one row per proposal (columns PROPOSAL_COLUMNS, optionally withdrawn and
    reviewed); directions: direction_code, programme, cap_wan (NaN = no cap). Money in 万元.
    explain_depth: under the rank policy, merit thresholds for every funded proposal and the
    first ``explain_depth`` unfunded ones below each direction's line (re-solves with the
    proposal moved in the ranking), and for those stopped by a budget whether raising it by
    the shortfall would fund them. alternates: each direction's next ``alternates`` proposals
    in rank order that are not funded and not blocked (备选). Infeasible settings give status
    INFEASIBLE with a diagnosis naming the culprits; no exception.
    """
    t0 = time.perf_counter()
    tick = progress or (lambda stage, fraction: None)
    data = prepare(proposals, directions, rules)
    n = data.n
    qual = data.qualified(data.merit)
    ranking = Ranking.of(data)
    diagnosis = override_conflicts(data)
    sel = np.zeros(n, bool)
    threshold = np.full(n, np.nan)
    budget_rise: dict[int, tuple[int, int]] = {}
    status = Status.INFEASIBLE
    levels = (0, 0, 0, 0)
    bound = 0
    tick("select", 0.0)
    if not diagnosis:
        solver = Solver(data, data.merit, time_limit_s=time_limit_s, workers=num_workers)
        sol = solver.solve()
        status, levels, bound = sol.status, sol.levels, sol.merit_bound
        if status == Status.INFEASIBLE:
            diagnosis = elastic_diagnosis(data, data.merit)
        elif status == Status.UNKNOWN:
            diagnosis = [
                Msg(
                    "no selection found within the time limit of {s:g} s; try again on a "
                    "quieter machine",
                    s=float(time_limit_s),
                )
            ]
        else:
            sel = sol.x
            if solver.dp is not None and explain_depth and not rules.youth_min_share:
                threshold, budget_rise = _thresholds(data, solver, sel, explain_depth, tick)
    tick("select", 1.0)
    grant, cut_by = cut_grants(data, sel)
    alt_rank = _alternates(data, sel, qual, ranking, alternates)
    feasible = status in (Status.OPTIMAL, Status.FEASIBLE)
    if feasible:
        codes, expl = explain(data, sel, grant, cut_by, qual, ranking, threshold, budget_rise)
    else:
        codes = ["ineligible" if not data.open_to_funding()[i] else "budget" for i in range(n)]
        expl = [Msg("not decided: the settings admit no selection (see the diagnosis)")] * n
    table = pd.DataFrame(
        {
            "proposal_id": data.ids.astype(str),
            "direction_code": data.direction.astype(str),
            "programme": data.programme.astype(str),
            "merit": data.merit,
            "rank": ranking.rank,
            "qualified": qual,
            "selected": sel,
            "grant_wan": grant,
            "grant_bound_wan": data.ub,
            "grant_floor_wan": data.lb,
            "alternate_rank": alt_rank,
            "merit_threshold": threshold,
            "reason_code": codes,
            "explanation": expl,
        }
    )
    progs = sorted(set(data.programme))
    budgets = rules.programme_budgets_wan or {}
    use = pd.DataFrame(
        {
            "programme": progs,
            "n_funded": [int(sel[data.programme == p].sum()) for p in progs],
            "grants_wan": [int(grant[data.programme == p].sum()) for p in progs],
            "budget_wan": [float(budgets.get(p, np.nan)) for p in progs],
        }
    )
    obj = levels[1] / MERIT_SCALE if feasible else math.nan
    bnd = bound / MERIT_SCALE if feasible else math.nan
    gap = 0.0 if status == Status.OPTIMAL else abs(bnd - obj) / max(abs(bnd), 1e-9)
    return SelectionResult(
        status=status,
        policy=rules.policy,
        objective=obj,
        bound=bnd,
        gap=gap if feasible else math.nan,
        wall_s=time.perf_counter() - t0,
        table=table,
        grants_total_wan=int(grant.sum()),
        budget_wan=rules.budget_wan,
        programme_use=use,
        objective_terms=levels if feasible else (0, 0, 0, 0),
        inversions=inversions(table) if feasible else 0,
        diagnosis=tuple(diagnosis),
    )


def _thresholds(
    data: SelectionData,
    solver: Solver,
    sel: np.ndarray,
    depth: int,
    tick: Callable[[str, float], None],
) -> tuple[np.ndarray, dict[int, tuple[int, int]]]:
    """Merit thresholds (rank policy) and the budget rises that would fund a proposal."""
    dp = solver.dp
    assert dp is not None
    threshold = np.full(data.n, np.nan)
    rise: dict[int, tuple[int, int]] = {}
    blocked = _blocked(data, sel)
    todo: list[tuple[int, int]] = []
    for d in dp.dirs:
        shown = 0
        for i in dp.seq[d]:
            if sel[i]:
                todo.append((d, i))
            elif shown < depth and not blocked[i]:
                todo.append((d, i))
                shown += 1
    for k, (d, i) in enumerate(todo):
        if k % 20 == 0:
            tick("select", 0.1 + 0.9 * k / max(len(todo), 1))
        threshold[i] = merit_threshold(
            data, i, dp.seq[d], int(dp.slots[d]), dp.in_group | dp.excluded, solver.levels
        )
        if sel[i]:
            continue
        for scope, need in budget_shortfalls(data, i, sel):
            raised = solver.solve(Change(caps=((scope, data.scopes[scope].cap + need),)))
            if raised.status == Status.OPTIMAL and raised.x[i]:
                rise[i] = (scope, need)
                break
    return threshold, rise


def _blocked(data: SelectionData, sel: np.ndarray) -> np.ndarray:
    """(n,) bool: unfunded proposals whose PI or related group has a funded project."""
    funded = np.flatnonzero(sel)
    out = np.zeros(data.n, bool)
    if data.rules.one_per_pi:
        out |= np.isin(data.pi, data.pi[funded])
    if data.rules.related_exclusive:
        out |= np.isin(data.related, data.related[funded]) & (data.related != "")
    return out & ~sel


def _alternates(
    data: SelectionData, sel: np.ndarray, qual: np.ndarray, ranking: Ranking, k: int
) -> np.ndarray:
    """alternate_rank (n,) float: 1..k for each direction's next unfunded, unblocked,
    qualified proposals in rank order (备选); NaN elsewhere."""
    alt = np.full(data.n, np.nan)
    if not k:
        return alt
    free = qual & ~sel & ~_blocked(data, sel)
    for d in range(len(data.dir_codes)):
        ind = np.flatnonzero(free & (data.dir_idx == d))
        ind = ind[np.argsort(ranking.rank[ind], kind="stable")][:k]
        alt[ind] = np.arange(1, len(ind) + 1)
    return alt
