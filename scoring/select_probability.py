"""P(selected): the share of merit draws (from the calibration's posterior or bootstrap) under
which each proposal is funded, each draw pushed through the same selection as the point
estimate (the quality floor applies to the drawn merit)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from assign.problem import Status
from scoring.select_diagnosis import override_conflicts
from scoring.select_input import prepare
from scoring.select_rules import SelectionInfeasibleError, SelectionInputError, SelectionRules
from scoring.select_solve import Solver


def selection_probability(
    proposals: pd.DataFrame,
    directions: pd.DataFrame,
    rules: SelectionRules,
    draws: np.ndarray,
    *,
    time_limit_s: float = 60.0,
    num_workers: int = 1,
    skip_infeasible: bool = False,
    progress: Callable[[str, float], None] | None = None,
) -> np.ndarray:
    """P(selected) (n_proposals,) float in [0, 1].

    draws: (n_draws, n_proposals) merit draws, columns in the proposals frame's row order.
    Raises SelectionInfeasibleError when the overrides make selection impossible, or when a
    draw admits no selection unless skip_infeasible, which leaves such draws out of the
    denominator. Under the rank policy each draw is one pass of the dynamic programme
    (milliseconds); under merit-sum one CP-SAT solve (a tenth of a second or more).
    """
    data = prepare(proposals, directions, rules)
    draws = np.asarray(draws, dtype=float)
    if draws.ndim != 2 or draws.shape[1] != data.n:
        raise SelectionInputError(
            f"draws must have shape (n_draws, {data.n}) matching the proposals rows, "
            f"got {draws.shape}"
        )
    if not np.all(np.isfinite(draws)):
        raise SelectionInputError("draws hold non-finite merits; replace NaN/inf before calling")
    conflicts = override_conflicts(data)
    if conflicts:
        raise SelectionInfeasibleError("; ".join(m.render("en") for m in conflicts))
    count = np.zeros(data.n, dtype=np.int64)
    used = 0
    for t, merit in enumerate(draws):
        if progress is not None and t % 10 == 0:
            progress("P(selected)", t / len(draws))
        sol = Solver(data, merit, time_limit_s=time_limit_s, workers=num_workers).solve()
        if sol.status not in (Status.OPTIMAL, Status.FEASIBLE):
            if skip_infeasible:
                continue
            raise SelectionInfeasibleError(
                f"draw {t}: no selection ({sol.status}); call select() with these merits for "
                "the diagnosis"
            )
        count += sol.x
        used += 1
    if progress is not None:
        progress("P(selected)", 1.0)
    return count / used if used else np.full(data.n, np.nan)
