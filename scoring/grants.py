"""Grants of a funded set: each at its bound, cut pro rata where a budget would be overspent.

A funded set fits its budgets when the grant floors fit (the solvers see to it). Every grant
then equals its bound unless a budget would be overspent, which is only possible when
``min_grant_share`` < 1 (核减): the grants inside the overspent budget are cut to the same share
of their bounds (whole 万元, never below the floor), the share as large as the budgets allow,
programme budgets first, then the overall budget.
"""

from __future__ import annotations

import numpy as np

from scoring.select_input import SelectionData


def cut_grants(data: SelectionData, sel: np.ndarray) -> tuple[np.ndarray, dict[int, int]]:
    """Grants (n,) int for the funded set ``sel`` (n,) bool, and for each cut grant the index
    (into ``data.scopes``) of the budget it was cut to fit."""
    share = np.ones(len(sel))
    cut_by: dict[int, int] = {}

    def grants(t: np.ndarray) -> np.ndarray:
        g = np.floor(t * data.ub + 1e-9).astype(np.int64)
        return np.where(sel, np.maximum(np.minimum(g, data.ub), data.lb), 0)

    order = sorted(range(len(data.scopes)), key=lambda k: data.scopes[k].kind != "programme")
    for k in order:
        scope = data.scopes[k]
        members = sel & scope.mask
        if grants(share)[members].sum() <= scope.cap:
            continue
        lo_t, hi_t = 0.0, 1.0
        for _ in range(60):
            mid = (lo_t + hi_t) / 2
            t = np.where(members, np.minimum(share, mid), share)
            if grants(t)[members].sum() <= scope.cap:
                lo_t = mid
            else:
                hi_t = mid
        share = np.where(members, np.minimum(share, lo_t), share)
        for i in np.flatnonzero(members):
            cut_by[int(i)] = k
    grant = grants(share)
    return grant, {i: k for i, k in cut_by.items() if grant[i] < data.ub[i]}
