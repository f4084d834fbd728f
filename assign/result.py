"""What an assignment solve returns: the assigned pairs with their affinities, the objective, the
bound and the gap, whether optimality is certified, and the diagnosis records of a problem
that has no solution."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from assign.flow import (
    SCALE,
)
from assign.problem import AssignmentProblem, Status

Progress = Callable[[str, float], None] | None


MAX_RECORDS = 50


@dataclass(frozen=True)
class DiagnosisRecord:
    """One structured finding: ``kind`` (proposal_short, quota_short, quota_exceeds_k,
    capacity, group_capacity, min_load_total, expert_min_load, hall, quota_hall, min_load_hall,
    joint, pruned), the ids involved, what is needed and what is available."""

    kind: str
    message: str
    proposal_ids: tuple[str, ...] = ()
    expert_ids: tuple[str, ...] = ()
    needed: int = 0
    available: int = 0
    counts: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, eq=False)
class AssignmentResult:
    """Outcome of an assignment solve.

    objective: total affinity of the assigned pairs; bound: an upper bound on it (NaN if none);
    gap: (bound - objective) / max(|bound|, 1e-9). pair_p, pair_e: (n,) assigned indices,
    pair_w: (n,) their affinities. certified: optimality is proven for the whole candidate set
    (solved in full, or every pruned pair priced out, or CP-SAT proved it).
    """

    status: Status
    objective: float
    bound: float
    gap: float
    wall_s: float
    pair_p: np.ndarray
    pair_e: np.ndarray
    pair_w: np.ndarray
    proposal_ids: tuple[str, ...]
    expert_ids: tuple[str, ...]
    diagnosis: tuple[str, ...] = ()
    records: tuple[DiagnosisRecord, ...] = ()
    certified: bool = False
    solver: str = ""
    pricing_rounds: int = 0
    n_candidates: int = 0
    resolution: float = 1.0 / SCALE

    @property
    def pairs(self) -> np.ndarray:
        """(n, 2) int array of assigned (proposal index, expert index)."""
        return np.column_stack([self.pair_p, self.pair_e]).astype(np.int64)

    def to_frame(self) -> pd.DataFrame:
        """Assigned pairs as columns proposal_id, expert_id, affinity (sorted)."""
        pid = np.asarray(self.proposal_ids, dtype=object)
        eid = np.asarray(self.expert_ids, dtype=object)
        df = pd.DataFrame(
            {
                "proposal_id": pid[self.pair_p] if self.pair_p.size else [],
                "expert_id": eid[self.pair_e] if self.pair_e.size else [],
                "affinity": self.pair_w.astype(np.float64),
            }
        )
        return df.sort_values(["proposal_id", "expert_id"], ignore_index=True)


def empty_pairs() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float64)


def failed_result(
    problem: AssignmentProblem,
    records: list[DiagnosisRecord],
    t0: float,
    solver: str,
    status: Status = Status.INFEASIBLE,
    n_candidates: int = 0,
) -> AssignmentResult:
    p, e, w = empty_pairs()
    shown = records[:MAX_RECORDS]
    msgs = [r.message for r in shown]
    if len(records) > MAX_RECORDS:
        msgs.append(f"... and {len(records) - MAX_RECORDS} more")
    return AssignmentResult(
        status, float("nan"), float("nan"), float("nan"), time.perf_counter() - t0,
        p, e, w, problem.proposal_ids, problem.expert_ids, tuple(msgs), tuple(records),
        False, solver, 0, n_candidates,
    )  # fmt: skip
