"""One solve of the selection for given merits: the rank policy's dynamic programme where it
applies (:mod:`scoring.rank_solver`), CP-SAT otherwise (:mod:`scoring.select_cpsat`); both
exact, so the choice is only a matter of speed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from assign.problem import Status
from scoring.rank_solver import Change, RankSolver
from scoring.select_cpsat import solve_cpsat
from scoring.select_input import SelectionData


@dataclass(frozen=True)
class Solution:
    """status; x (n,) bool; levels (directions short of their minimum, merit in thousandths,
    grant bound sum, id position sum); merit_bound: proven upper bound on the merit sum."""

    status: Status
    x: np.ndarray
    levels: tuple[int, int, int, int]
    merit_bound: int


class Solver:
    """Solves for one set of merits, with re-solves that change one proposal or budget."""

    def __init__(
        self,
        data: SelectionData,
        merit: np.ndarray,
        *,
        time_limit_s: float = 60.0,
        workers: int = 1,
    ) -> None:
        self.data, self.merit = data, np.asarray(merit, dtype=float)
        self.dp = RankSolver(data, self.merit) if data.rules.policy == "rank" else None
        self.time_limit_s, self.workers = time_limit_s, workers

    def solve(self, change: Change | None = None) -> Solution:
        if self.dp is not None:
            got = self.dp.solve(change)
            if got is not None:
                status = Status.OPTIMAL if got.feasible else Status.INFEASIBLE
                return Solution(status, got.x, got.levels, got.levels[1])
        cp = solve_cpsat(
            self.data, self.merit, change, time_limit_s=self.time_limit_s, workers=self.workers
        )
        return Solution(cp.status, cp.x, cp.levels, cp.merit_bound)

    def levels(self, change: Change) -> tuple[int, int, int, int] | None:
        """The optimum's levels with ``change`` applied (None when infeasible)."""
        if self.dp is not None:
            got = self.dp.solve(change, levels_only=True)
            if got is not None:
                return got.levels if got.feasible else None
        sol = self.solve(change)
        return sol.levels if sol.status in (Status.OPTIMAL, Status.FEASIBLE) else None
