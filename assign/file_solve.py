"""Solving inputs read from plain files: exact, fair or a capped random draw.

Each solver sees the problem with the must-assign pairs taken out (``assign.pinned``) and its
result gets them back, so figures and checks are always those of the whole problem
(``FileInputs.full``). Dense inputs (``allow_missing``, or at least half of all pairs scored)
go to the exact solver as a (P, E) matrix, certified by pricing over every pair.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from assign.draw import DrawResult, draw_assignment
from assign.fair import FairResult, solve_fair
from assign.files import FileInputs, read_inputs
from assign.pinned import unpin
from assign.problem import AssignmentProblem
from assign.result import AssignmentResult
from assign.solver import solve, solve_dense_problem

Progress = Callable[[str, float], None] | None


def solve_exact(
    inputs: FileInputs, *, progress: Progress = None
) -> tuple[AssignmentProblem, AssignmentResult]:
    """The plain optimum (largest total affinity) of the inputs: (inputs.full, result)."""
    return inputs.full, unpin(inputs.pinned, _plain(inputs, progress))


def _plain(inputs: FileInputs, progress: Progress = None) -> AssignmentResult:
    """The plain optimum of the problem without the must-assign pairs."""
    pr = inputs.pinned.problem
    n_p, n_e = pr.n_proposals, pr.n_experts
    if not (inputs.allow_missing or pr.cand_p.size * 2 >= n_p * n_e):
        return solve(pr, progress=progress)
    mat = np.full((n_p, n_e), np.nan)
    mat[pr.cand_p, pr.cand_e] = pr.cand_w
    return solve_dense_problem(
        mat, k=pr.k, min_load=pr.min_load, max_load=pr.max_load,
        conflicts=(pr.conflict_p, pr.conflict_e), floor=pr.affinity_floor,
        min_industry=pr.min_industry, min_outside=pr.min_outside,
        min_senior=pr.min_senior, proposal_ids=pr.proposal_ids, expert_ids=pr.expert_ids,
        expert_unit=pr.expert_unit, is_industry=pr.is_industry, is_outside=pr.is_outside,
        is_senior=pr.is_senior, progress=progress,
    )[1]  # fmt: skip


def solve_fair_inputs(inputs: FileInputs, *, time_limit_s: float) -> FairResult:
    """The max-min fair assignment of the inputs (must-assign pairs count in the sums)."""
    pin = inputs.pinned
    fr = solve_fair(
        pin.problem, time_limit_s=time_limit_s, plain=_plain(inputs), offset=pin.offset,
        active=inputs.full.k > 0,
    )  # fmt: skip
    plain = None if fr.plain is None else unpin(pin, fr.plain)
    extra = float(pin.w.sum())
    return dataclasses.replace(
        fr,
        assignment=unpin(pin, fr.assignment),
        plain=plain,
        total=fr.total + extra,
        plain_total=fr.plain_total + extra,
    )


def draw_inputs(inputs: FileInputs, *, q: float, seed: int) -> tuple[DrawResult, pd.DataFrame]:
    """One seeded draw with no pair above probability q, and every pair's probability
    (columns proposal, expert, score, probability; pairs of probability 0 left out; the
    must-assign pairs at 1)."""
    pin = inputs.pinned
    draw = draw_assignment(pin.problem, q=q, seed=seed)
    extra = float(pin.w.sum())
    draw = dataclasses.replace(
        draw,
        assignment=unpin(pin, draw.assignment),
        expected_objective=draw.expected_objective + extra,
        realised_objective=draw.realised_objective + extra,
    )
    pr = pin.problem
    m = draw.marginals
    on = m > 0
    p = np.concatenate([pr.cand_p[on], pin.p])
    e = np.concatenate([pr.cand_e[on], pin.e])
    order = np.lexsort((e, p))
    pid = np.asarray(pr.proposal_ids, dtype=object)
    eid = np.asarray(pr.expert_ids, dtype=object)
    frame = pd.DataFrame(
        {
            "proposal": pid[p[order]],
            "expert": eid[e[order]],
            "score": np.concatenate([pr.cand_w[on], pin.w])[order],
            "probability": np.concatenate([m[on], np.ones(pin.p.size)])[order],
        }
    )
    return draw, frame


def solve_files(
    scores: Path | Sequence[Path], **options: Any
) -> tuple[AssignmentProblem, AssignmentResult]:
    """Read the files (options as in ``read_inputs``, plus ``progress``) and solve exactly;
    raise ``InvalidInput`` listing every input problem."""
    progress = options.pop("progress", None)
    paths = [Path(scores)] if isinstance(scores, str | Path) else [Path(s) for s in scores]
    return solve_exact(read_inputs(paths, **options), progress=progress)
