"""Candidate pairs with their affinity, in the COO form ``AssignmentProblem`` takes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["SparseAffinity", "affinity_frame"]


def _frozen(arr: np.ndarray) -> np.ndarray:
    arr = arr.copy()
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class SparseAffinity:
    """Candidate pairs with their affinity, in the COO form ``AssignmentProblem`` takes.

    proposal_ids: (P,) external ids; expert_ids: (E,) external ids.
    cand_p, cand_e: (C,) int64 indices into them; cand_w: (C,) float64 affinity in [0, 1].
    Pairs are unique and sorted by (cand_p, cand_e).
    """

    proposal_ids: tuple[str, ...]
    expert_ids: tuple[str, ...]
    cand_p: np.ndarray
    cand_e: np.ndarray
    cand_w: np.ndarray

    def __post_init__(self) -> None:
        s = object.__setattr__
        s(self, "proposal_ids", tuple(self.proposal_ids))
        s(self, "expert_ids", tuple(self.expert_ids))
        p = np.asarray(self.cand_p, dtype=np.int64).ravel()
        e = np.asarray(self.cand_e, dtype=np.int64).ravel()
        w = np.asarray(self.cand_w, dtype=np.float64).ravel()
        if not (p.shape == e.shape == w.shape):
            raise ValueError(
                f"cand_p, cand_e and cand_w must have one length, got {p.size}, {e.size}, {w.size}"
            )
        n_p, n_e = len(self.proposal_ids), len(self.expert_ids)
        if p.size and (p.min() < 0 or p.max() >= n_p):
            raise ValueError(f"cand_p holds an index outside 0..{n_p - 1}")
        if e.size and (e.min() < 0 or e.max() >= n_e):
            raise ValueError(f"cand_e holds an index outside 0..{n_e - 1}")
        bad = np.flatnonzero(~(np.isfinite(w) & (w >= 0.0) & (w <= 1.0)))
        if bad.size:
            i = int(bad[0])
            raise ValueError(
                f"affinity of pair ({self.proposal_ids[p[i]]}, {self.expert_ids[e[i]]}) is "
                f"{w[i]}; expected a number in [0, 1]"
            )
        order = np.lexsort((e, p))
        p, e, w = p[order], e[order], w[order]
        if p.size > 1:
            dup = np.flatnonzero((p[1:] == p[:-1]) & (e[1:] == e[:-1]))
            if dup.size:
                i = int(dup[0])
                raise ValueError(
                    f"candidate pair ({self.proposal_ids[p[i]]}, {self.expert_ids[e[i]]}) "
                    "is listed more than once"
                )
        s(self, "cand_p", _frozen(p))
        s(self, "cand_e", _frozen(e))
        s(self, "cand_w", _frozen(w))

    @property
    def nnz(self) -> int:
        return int(self.cand_p.size)

    def to_frame(self) -> pd.DataFrame:
        """The pairs as a frame with columns proposal_id, expert_id, score."""
        return affinity_frame(self)


def affinity_frame(aff: SparseAffinity) -> pd.DataFrame:
    """(C, 3) frame: proposal_id, expert_id (str), score (float64 in [0, 1])."""
    pid = np.asarray(aff.proposal_ids, dtype=object)
    eid = np.asarray(aff.expert_ids, dtype=object)
    return pd.DataFrame(
        {
            "proposal_id": pd.Series(pid[aff.cand_p] if aff.nnz else [], dtype="str"),
            "expert_id": pd.Series(eid[aff.cand_e] if aff.nnz else [], dtype="str"),
            "score": pd.Series(aff.cand_w, dtype=np.float64),
        }
    )
