"""Pairs that must be assigned (+1 constraints): taken out of the problem, then put back.

A pinned pair (p, e) is assigned whatever the solver does. The rest is solved as a smaller
problem: proposal p needs k_p - (its pinned experts), expert e has max_load and min_load
lowered by its pinned proposals, quotas are lowered by the pinned experts of the group, and
p's candidates lose the pinned experts and every other expert of their units (one expert per
unit). Any assignment of the smaller problem plus the pinned pairs keeps every rule of the
original one, and every assignment of the original one that holds the pinned pairs arises
this way, so the optimum of the smaller problem plus the pins is the optimum with the pins.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from assign.problem import QUOTA_KINDS, AssignmentProblem
from assign.result import AssignmentResult


@dataclass(frozen=True, eq=False)
class Pinned:
    """The reduced problem, the pinned pairs (p, e, affinity w) and their affinity per
    proposal (``offset``, (P,))."""

    problem: AssignmentProblem
    p: np.ndarray
    e: np.ndarray
    w: np.ndarray

    @property
    def offset(self) -> np.ndarray:
        return np.bincount(self.p, weights=self.w, minlength=self.problem.n_proposals)


def pin(problem: AssignmentProblem, p: np.ndarray, e: np.ndarray, w: np.ndarray) -> Pinned:
    """Take the pinned pairs (p, e) of affinity w out of ``problem``. The caller has checked
    that they fit (no more than k_p per proposal or max_load per expert, one per unit)."""
    p, e = np.asarray(p, np.int64), np.asarray(e, np.int64)
    if p.size == 0:
        return Pinned(problem, p, e, np.zeros(0))
    n_p, n_e = problem.n_proposals, problem.n_experts
    per_p = np.bincount(p, minlength=n_p)
    per_e = np.bincount(e, minlength=n_e)
    quotas = {
        quota: np.maximum(
            getattr(problem, quota) - np.bincount(p[getattr(problem, flag)[e]], minlength=n_p), 0
        )
        for _, flag, quota in QUOTA_KINDS
    }
    # candidates (p, e') leave when e' is pinned to p or shares a unit with one pinned to p
    unit = problem.expert_unit
    n_u = int(unit.max(initial=-1)) + 1
    gone_e = set((p * np.int64(n_e) + e).tolist())
    gone_u = {(a, b) for a, b in zip(p.tolist(), unit[e].tolist(), strict=True) if b >= 0}
    cp, ce = problem.cand_p, problem.cand_e
    drop = np.isin(cp * np.int64(n_e) + ce, np.fromiter(gone_e, np.int64, len(gone_e)))
    if gone_u and n_u:
        keys = np.fromiter((a * n_u + b for a, b in gone_u), np.int64, len(gone_u))
        cu = unit[ce]
        drop |= (cu >= 0) & np.isin(cp * np.int64(n_u) + cu, keys)
    reduced = dataclasses.replace(
        problem,
        cand_p=cp[~drop],
        cand_e=ce[~drop],
        cand_w=problem.cand_w[~drop],
        k=problem.k - per_p,
        max_load=problem.max_load - per_e,
        min_load=np.maximum(problem.min_load - per_e, 0),
        **quotas,
    )
    return Pinned(reduced, p, e, np.asarray(w, np.float64))


def unpin(pinned: Pinned, result: AssignmentResult) -> AssignmentResult:
    """``result`` of the reduced problem with the pinned pairs added back (objective and bound
    raised by their affinity)."""
    if pinned.p.size == 0 or result.pair_p.size == 0 and not np.isfinite(result.objective):
        return result
    pp = np.concatenate([result.pair_p, pinned.p])
    pe = np.concatenate([result.pair_e, pinned.e])
    pw = np.concatenate([result.pair_w, pinned.w])
    order = np.lexsort((pe, pp))
    extra = float(pinned.w.sum())
    return dataclasses.replace(
        result,
        objective=result.objective + extra,
        bound=result.bound + extra,
        pair_p=pp[order],
        pair_e=pe[order],
        pair_w=pw[order],
    )
