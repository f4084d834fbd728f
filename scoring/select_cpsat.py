"""The selection as a CP-SAT model, for either policy, proven optimal.

Used for the ``merit-sum`` policy, for rank-policy selections the dynamic programme of
:mod:`scoring.rank_solver` leaves aside (a youth share, many open groups), and as the reference
the tests hold the dynamic programme to. One Boolean x_i per candidate (qualified or forced in);
one method per family of constraints. The objective is lexicographic, solved in two stages so
that every weight stays far inside 2^53: first the fewest directions short of their minimum
(rank policy) and the largest merit sum, then, with that fixed, the smallest grant bound sum
and the smallest sum of id positions.

Rank rule, per direction in rank order, with c_t = "some proposal at or above place t is
unfunded and not blocked": c_t >= c_{t-1}, c_t >= 1 - x_t - (funded members of t's PI and
related groups), and x_{t+1} + c_t <= 1. With a youth share, a young proposal may pass a
non-young one only while the share binds (one young project fewer would break it).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from ortools.sat.python import cp_model

from assign.problem import Status
from scoring.rank_solver import Change
from scoring.select_input import SelectionData, merit_int

_STATUS = {
    cp_model.OPTIMAL: Status.OPTIMAL,
    cp_model.FEASIBLE: Status.FEASIBLE,
    cp_model.INFEASIBLE: Status.INFEASIBLE,
    cp_model.UNKNOWN: Status.UNKNOWN,
}


@dataclass(frozen=True)
class CpChoice:
    """status; x (n,) bool; levels (short, merit thousandths, bound sum, position sum);
    merit_bound: a proven upper bound on the merit sum (thousandths) at x's shortfall."""

    status: Status
    x: np.ndarray
    levels: tuple[int, int, int, int]
    merit_bound: int


class SelectionModel:
    """The CP-SAT model of one selection (merits, policy and one optional change)."""

    def __init__(self, data: SelectionData, merit: np.ndarray, change: Change | None) -> None:
        self.data = data
        self.rules = rules = data.rules
        self.merit = np.asarray(merit, dtype=float).copy()
        if change is not None and change.index is not None and change.merit is not None:
            self.merit[change.index] = change.merit
        self.m_int = merit_int(self.merit)
        qual = data.qualified(self.merit)
        self.cand = np.flatnonzero(qual | data.forced_in)
        self.caps = {k: s.cap for k, s in enumerate(data.scopes)}
        if change is not None:
            self.caps.update(dict(change.caps))
        self.model = cp_model.CpModel()
        self.x = {int(i): self.model.new_bool_var(f"x{i}") for i in self.cand}
        for i in self.cand:
            if data.forced_in[i]:
                self.model.add(self.x[int(i)] == 1)
        if change is not None and change.index is not None:
            j = change.index
            if change.require:
                self._fix(j, 1)
            if change.forbid:
                self._fix(j, 0)
        self.qual = qual
        self.short: list[cp_model.IntVar] = []
        self._add_direction_counts()
        self._add_groups()
        self._add_budgets()
        self.youth_binding = self._add_youth_share()
        if rules.policy == "rank":
            self._add_rank_rule()

    def _fix(self, j: int, value: int) -> None:
        if j in self.x:
            self.model.add(self.x[j] == value)
        elif value:  # a proposal that cannot be funded is required: no selection
            self.model.add(self.model.new_constant(0) == 1)

    # -- constraint families --------------------------------------------------------------

    def _by(self, key: np.ndarray, skip_empty: bool = False) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for i in self.cand:
            if skip_empty and not key[i]:
                continue
            out.setdefault(str(key[i]), []).append(int(i))
        return out

    def _add_direction_counts(self) -> None:
        """At most max_per_direction per direction; at least min(min_per_direction, its
        qualified or forced-in proposals): a hard rule under merit-sum, counted as a shortfall
        (the first aim) under the rank policy."""
        rules = self.rules
        for d, members in self._by(self.data.direction).items():
            count = sum(self.x[i] for i in members)
            self.model.add(count <= rules.max_per_direction)
            need = min(rules.min_per_direction, len(members))
            if not need:
                continue
            if rules.policy == "merit-sum":
                self.model.add(count >= need)
            else:
                s = self.model.new_int_var(0, need, f"short{d}")
                self.model.add(count + s >= need)
                self.short.append(s)

    def _group_keys(self) -> list[np.ndarray]:
        keys = []
        if self.rules.one_per_pi:
            keys.append(self.data.pi)
        if self.rules.related_exclusive:
            keys.append(self.data.related)
        return keys

    def _add_groups(self) -> None:
        """At most one funded project per PI and per group of related lead units."""
        for key in self._group_keys():
            for members in self._by(key, skip_empty=key is self.data.related).values():
                if len(members) > 1:
                    self.model.add(sum(self.x[i] for i in members) <= 1)

    def _add_budgets(self) -> None:
        """Grant floors within each budget: cuts (min_grant_share) make room for more."""
        for k, scope in enumerate(self.data.scopes):
            members = [i for i in self.x if scope.mask[i]]
            if members:
                self.model.add(
                    sum(int(self.data.lb[i]) * self.x[i] for i in members) <= self.caps[k]
                )

    def _add_youth_share(self) -> cp_model.IntVar | None:
        """den * young funded - num * funded >= 0 for youth_min_share = num / den; returns a
        Boolean that is true when the share binds (one young project fewer would break it)."""
        s = self.rules.youth_min_share
        if not s:
            return None
        fr = Fraction(s).limit_denominator(10_000)
        young = self.data.young
        slack = sum(
            (fr.denominator - fr.numerator if young[i] else -fr.numerator) * v
            for i, v in self.x.items()
        )
        self.model.add(slack >= 0)
        binding = self.model.new_bool_var("youth_binding")
        self.model.add(slack <= fr.denominator - 1).only_enforce_if(binding)
        self.model.add(slack >= fr.denominator).only_enforce_if(binding.Not())
        return binding

    def _add_rank_rule(self) -> None:
        """Within a direction, an unblocked unfunded proposal stops the funding below it."""
        data = self.data
        groups: dict[int, list[int]] = {}
        for key in self._group_keys():
            for members in self._by(key, skip_empty=key is data.related).values():
                for i in members:
                    groups.setdefault(i, []).extend(k for k in members if k != i)
        seq_all = np.array(
            [i for i in self.cand if self.qual[i] and not data.forced_in[i]], dtype=np.int64
        )
        for d in sorted(set(data.direction[seq_all])):
            ind = seq_all[data.direction[seq_all] == d]
            seq = ind[np.lexsort((data.pos[ind], -self.merit[ind]))]
            gap: cp_model.IntVar | None = None
            gap_young: cp_model.IntVar | None = None
            for t, i in enumerate(map(int, seq)):
                if gap is not None:
                    if self.youth_binding is not None and gap_young is not None and data.young[i]:
                        self.model.add(self.x[i] + gap <= 1 + self.youth_binding)
                        self.model.add(self.x[i] + gap_young <= 1)
                    else:
                        self.model.add(self.x[i] + gap <= 1)
                blocked = sum(self.x[k] for k in groups.get(i, []))
                here = self.model.new_bool_var(f"gap{d}_{t}")
                self.model.add(here >= 1 - self.x[i] - blocked)
                if gap is not None:
                    self.model.add(here >= gap)
                if self.youth_binding is not None:
                    here_y = self.model.new_bool_var(f"gapy{d}_{t}")
                    if data.young[i]:
                        self.model.add(here_y >= 1 - self.x[i] - blocked)
                    if gap_young is not None:
                        self.model.add(here_y >= gap_young)
                    gap_young = here_y
                gap = here

    # -- solve ----------------------------------------------------------------------------

    def solve(self, *, time_limit_s: float, workers: int) -> CpChoice:
        data = self.data
        idx = list(self.x)
        xs = [self.x[i] for i in idx]
        m = self.m_int[idx]
        big = int(np.abs(m).sum()) + 1
        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = time_limit_s
        solver.parameters.num_workers = workers
        solver.parameters.random_seed = 0
        first = big * sum(self.short) - sum(int(c) * v for c, v in zip(m, xs, strict=True))
        self.model.minimize(first)
        st = _STATUS[solver.solve(self.model)]
        if st not in (Status.OPTIMAL, Status.FEASIBLE):
            return CpChoice(st, np.zeros(data.n, bool), (0, 0, 0, 0), 0)
        bound = int(round(solver.best_objective_bound))
        value = int(round(solver.objective_value))
        hint = [solver.value(v) for v in xs]
        if st == Status.OPTIMAL:
            self.model.add(first == value)
            pos_w = int(data.pos[idx].sum()) + 1
            self.model.minimize(
                sum(
                    (int(data.ub[i]) * pos_w + int(data.pos[i])) * v
                    for i, v in zip(idx, xs, strict=True)
                )
            )
            self.model.clear_hints()
            for v, h in zip(xs, hint, strict=True):
                self.model.add_hint(v, h)
            st2 = _STATUS[solver.solve(self.model)]
            if st2 in (Status.OPTIMAL, Status.FEASIBLE):
                hint = [solver.value(v) for v in xs]
            if st2 != Status.OPTIMAL:
                st = Status.FEASIBLE
        x = np.zeros(data.n, bool)
        x[[i for i, h in zip(idx, hint, strict=True) if h]] = True
        levels = _levels(data, self.m_int, x, self._short_of(x))
        return CpChoice(st, x, levels, big * levels[0] - bound)

    def _short_of(self, x: np.ndarray) -> int:
        if self.rules.policy != "rank":
            return 0
        data = self.data
        total = 0
        for members in self._by(data.direction).values():
            need = min(self.rules.min_per_direction, len(members))
            total += max(need - int(x[members].sum()), 0)
        return total


def _levels(
    data: SelectionData, m_int: np.ndarray, x: np.ndarray, short: int
) -> tuple[int, int, int, int]:
    return (short, int(m_int[x].sum()), int(data.ub[x].sum()), int(data.pos[x].sum()))


def solve_cpsat(
    data: SelectionData,
    merit: np.ndarray,
    change: Change | None = None,
    *,
    time_limit_s: float = 60.0,
    workers: int = 1,
) -> CpChoice:
    """The optimal selection for ``merit`` (n,) under ``data.rules`` (either policy)."""
    return SelectionModel(data, merit, change).solve(time_limit_s=time_limit_s, workers=workers)
