"""The assignment problem as plain arrays: the one place the solvers read their input from.

Proposals and experts are indexed 0..P-1 and 0..E-1; ``proposal_ids`` / ``expert_ids`` map the
indices back to external ids. Candidate pairs are given sparsely (COO): only these pairs may be
assigned. Conflicted pairs are listed separately so that a diagnosis can say why a proposal is
short of experts; a conflicted pair is never assigned even when it is also a candidate.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt


class Status(StrEnum):
    """Outcome of a solve."""

    OPTIMAL = "optimal"
    FEASIBLE = "feasible"  # a solution, not proven optimal (time limit); see gap
    INFEASIBLE = "infeasible"  # no solution exists; see the diagnosis
    UNKNOWN = "unknown"  # the time limit passed before any solution was found


def pair_key(p: npt.ArrayLike, e: npt.ArrayLike, n: int) -> np.ndarray:
    """int64 keys ``p * n + e`` of index pairs (``n`` above every ``e``; 0 is taken as 1).

    Whatever the index dtypes: under NumPy's promotion rules (NEP 50) int32 indices times a
    Python int stay int32 and wrap past 2^31, as SciPy's graph routines return them."""
    return np.asarray(p, dtype=np.int64) * np.int64(max(n, 1)) + np.asarray(e, dtype=np.int64)


def split_key(key: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(p, e) int64 of keys made by :func:`pair_key` with the same ``n``."""
    return np.divmod(np.asarray(key, dtype=np.int64), np.int64(max(n, 1)))


def _as_array(value: npt.ArrayLike, dtype: type, n: int, name: str) -> np.ndarray:
    arr: np.ndarray = np.asarray(value, dtype=dtype)
    if arr.ndim == 0:
        arr = np.full(n, arr.item(), dtype=dtype)
    if arr.shape != (n,):
        raise ValueError(f"{name} must have length {n}, got shape {arr.shape}")
    arr = arr.copy()
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False, init=False)
class AssignmentProblem:
    """Correspondence-review assignment (通讯评审) over sparse candidates.

    proposal_ids: (P,) external ids; expert_ids: (E,) external ids.
    cand_p, cand_e: (C,) int indices of candidate pairs; cand_w: (C,) affinity in [0, 1].
    k: (P,) experts each proposal needs (a scalar is broadcast).
    max_load / min_load: (E,) load bounds per expert (scalars broadcast); min_load is hard.
    expert_unit: (E,) int unit index, -1 where unknown (at most one expert per unit per proposal).
    is_industry / is_outside / is_senior: (E,) bool: 产业 expert, from outside the province, 正高.
    min_industry / min_outside / min_senior: (P,) per-proposal quotas (0 = no quota).
    conflict_p, conflict_e: (X,) conflicted pairs (never assigned).
    affinity_floor: pairs with affinity below it are not assignable.

    The constructor takes anything array-like (scalars are broadcast, ``None`` gives the
    default: unit -1, flags False); the stored fields are always read-only arrays of the
    shapes above, so ``dataclasses.replace`` works on them.
    """

    proposal_ids: tuple[str, ...]
    expert_ids: tuple[str, ...]
    cand_p: np.ndarray
    cand_e: np.ndarray
    cand_w: np.ndarray
    k: np.ndarray
    max_load: np.ndarray
    min_load: np.ndarray
    expert_unit: np.ndarray
    is_industry: np.ndarray
    is_outside: np.ndarray
    is_senior: np.ndarray
    min_industry: np.ndarray
    min_outside: np.ndarray
    min_senior: np.ndarray
    conflict_p: np.ndarray
    conflict_e: np.ndarray
    affinity_floor: float

    def __init__(
        self,
        proposal_ids: Iterable[str],
        expert_ids: Iterable[str],
        cand_p: npt.ArrayLike,
        cand_e: npt.ArrayLike,
        cand_w: npt.ArrayLike,
        k: npt.ArrayLike = 3,
        max_load: npt.ArrayLike = 6,
        min_load: npt.ArrayLike = 0,
        expert_unit: npt.ArrayLike | None = None,
        is_industry: npt.ArrayLike | None = None,
        is_outside: npt.ArrayLike | None = None,
        is_senior: npt.ArrayLike | None = None,
        min_industry: npt.ArrayLike = 0,
        min_outside: npt.ArrayLike = 0,
        min_senior: npt.ArrayLike = 0,
        conflict_p: npt.ArrayLike = (),
        conflict_e: npt.ArrayLike = (),
        affinity_floor: float = 0.0,
    ) -> None:
        pids, eids = tuple(proposal_ids), tuple(expert_ids)
        n_p, n_e = len(pids), len(eids)
        for ids, what in ((pids, "proposal"), (eids, "expert")):
            seen: set[str] = set()
            dup: list[str] = []
            for i in ids:
                if i in seen:
                    dup.append(i)
                seen.add(i)
            if dup:
                raise ValueError(f"duplicate {what} ids: {', '.join(map(str, dup[:5]))}")
        s = object.__setattr__
        s(self, "proposal_ids", pids)
        s(self, "expert_ids", eids)
        cp = np.asarray(cand_p, dtype=np.int64)
        c = cp.shape[0] if cp.ndim == 1 else -1
        if c < 0:
            raise ValueError("cand_p must be one-dimensional")
        s(self, "cand_p", _as_array(cp, np.int64, c, "cand_p"))
        s(self, "cand_e", _as_array(cand_e, np.int64, c, "cand_e"))
        s(self, "cand_w", _as_array(cand_w, np.float64, c, "cand_w"))
        s(self, "k", _as_array(k, np.int64, n_p, "k"))
        s(self, "max_load", _as_array(max_load, np.int64, n_e, "max_load"))
        s(self, "min_load", _as_array(min_load, np.int64, n_e, "min_load"))
        unit = np.full(n_e, -1) if expert_unit is None else expert_unit
        s(self, "expert_unit", _as_array(unit, np.int64, n_e, "expert_unit"))
        flags = {"is_industry": is_industry, "is_outside": is_outside, "is_senior": is_senior}
        for name, v in flags.items():
            s(self, name, _as_array(np.zeros(n_e, bool) if v is None else v, bool, n_e, name))
        quotas = {
            "min_industry": min_industry,
            "min_outside": min_outside,
            "min_senior": min_senior,
        }
        for name, q in quotas.items():
            s(self, name, _as_array(q, np.int64, n_p, name))
        xp = np.asarray(conflict_p, dtype=np.int64)
        s(self, "conflict_p", _as_array(xp, np.int64, xp.shape[0], "conflict_p"))
        s(self, "conflict_e", _as_array(conflict_e, np.int64, xp.shape[0], "conflict_e"))
        s(self, "affinity_floor", affinity_floor)
        self._validate()

    def _validate(self) -> None:
        n_p, n_e, c = self.n_proposals, self.n_experts, self.cand_p.size
        if c and (self.cand_p.min() < 0 or self.cand_p.max() >= n_p):
            raise ValueError(f"cand_p holds an index outside 0..{n_p - 1}")
        if c and (self.cand_e.min() < 0 or self.cand_e.max() >= n_e):
            raise ValueError(f"cand_e holds an index outside 0..{n_e - 1}")
        if c and not np.all(np.isfinite(self.cand_w)):
            bad = int(np.flatnonzero(~np.isfinite(self.cand_w))[0])
            raise ValueError(
                f"affinity of pair ({self.proposal_ids[self.cand_p[bad]]}, "
                f"{self.expert_ids[self.cand_e[bad]]}) is not a finite number"
            )
        k, lo, hi = self.k, self.min_load, self.max_load
        if np.any(k < 0):
            bad_p = int(np.flatnonzero(k < 0)[0])
            raise ValueError(f"k must be >= 0; proposal {self.proposal_ids[bad_p]} has {k[bad_p]}")
        bad_e = np.flatnonzero((lo < 0) | (lo > hi))
        if bad_e.size:
            e = int(bad_e[0])
            raise ValueError(
                f"expert {self.expert_ids[e]}: need 0 <= min_load <= max_load, got "
                f"{lo[e]} and {hi[e]}"
            )
        if c:
            uniq, counts = np.unique(pair_key(self.cand_p, self.cand_e, n_e), return_counts=True)
            if np.any(counts > 1):
                d = int(uniq[counts > 1][0])
                raise ValueError(
                    f"candidate pair ({self.proposal_ids[d // n_e]}, {self.expert_ids[d % n_e]}) "
                    "is listed more than once"
                )

    @property
    def n_proposals(self) -> int:
        return len(self.proposal_ids)

    @property
    def n_experts(self) -> int:
        return len(self.expert_ids)


#: The per-proposal quotas of a problem: (name, expert flag attribute, minimum attribute).
QUOTA_KINDS: tuple[tuple[str, str, str], ...] = (
    ("industry", "is_industry", "min_industry"),
    ("outside-province", "is_outside", "min_outside"),
    ("senior", "is_senior", "min_senior"),
)


def active_quotas(problem: AssignmentProblem) -> list[tuple[str, str, str]]:
    """The quota kinds some proposal of ``problem`` asks for."""
    return [kq for kq in QUOTA_KINDS if np.any(getattr(problem, kq[2]) > 0)]
