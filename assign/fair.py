"""Max-min fair assignment: the worst-off proposal's total affinity first, then the total.

Lexicographic and exact (CP-SAT over integer affinities, 1e-6 resolution as in
``assign.flow.SCALE``):

1. maximise t subject to every rule of the exact solver and, for each proposal with k_p > 0,
   sum of its assigned affinities >= t;
2. fix t at the optimum t* and maximise the total affinity.

Shortcut, also exact: each proposal's best sum on its own (its k best experts from distinct
units) bounds the max-min; when the plain optimum's worst proposal already reaches that bound,
the plain optimum is the answer to both stages and no model is built.

Proposals with k_p = 0 have no reviewers and are left out of the minimum. The plain optimum
(``assign.solver.solve``) is solved too so that the price of fairness (total lost) and the gain
of the worst-off proposal can be reported.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

from assign.flow import SCALE
from assign.problem import AssignmentProblem, Status
from assign.solver import (
    AssignmentResult,
    DiagnosisRecord,
    _cp_demand,
    _cp_loads,
    _cp_quotas,
    _cp_units,
    _eligibility,
    _fail,
    _groups,
    _joint_record,
    _precheck,
    diagnose,
    solve,
)


@dataclass(frozen=True, eq=False)
class FairResult:
    """Max-min result and the plain optimum side by side.

    assignment: the fair assignment (objective = its total affinity); min_affinity / total:
    its worst proposal's affinity sum and total; plain_*: the same for the plain optimum;
    price_of_fairness = plain_total - total (>= 0); min_gain = min_affinity - plain_min (>= 0);
    min_bound: an upper bound on the max-min (equal to min_affinity when proven).
    """

    status: Status
    assignment: AssignmentResult
    min_affinity: float
    total: float
    plain: AssignmentResult | None
    plain_min_affinity: float
    plain_total: float
    wall_s: float
    diagnosis: tuple[str, ...] = ()
    min_bound: float = float("nan")

    @property
    def price_of_fairness(self) -> float:
        return self.plain_total - self.total

    @property
    def min_gain(self) -> float:
        return self.min_affinity - self.plain_min_affinity


def _min_per_proposal(problem: AssignmentProblem, res: AssignmentResult) -> float:
    """Smallest affinity sum over proposals with k > 0 (NaN when none or no solution)."""
    if res.status not in (Status.OPTIMAL, Status.FEASIBLE):
        return float("nan")
    per = np.bincount(res.pair_p, weights=res.pair_w, minlength=problem.n_proposals)
    active = problem.k > 0
    return float(per[active].min()) if active.any() else float("nan")


def _cp_floor(
    model: cp_model.CpModel, x: list, p: np.ndarray, coef: np.ndarray, k: np.ndarray, t: object
) -> None:
    """Every proposal with k > 0: sum of its integer affinities >= t."""
    for i, idx in _groups(p, k.size):
        if k[i] > 0:
            model.add(
                cp_model.LinearExpr.weighted_sum([x[j] for j in idx], coef[idx].tolist()) >= t
            )


def _individual_best(
    problem: AssignmentProblem, p: np.ndarray, e: np.ndarray, coef: np.ndarray
) -> np.ndarray:
    """(P,) each proposal's best integer affinity sum on its own: its k best experts from
    distinct units, loads and quotas ignored (an upper bound on the max-min)."""
    n_p = problem.n_proposals
    u = problem.expert_unit[e]
    n_u = int(problem.expert_unit.max(initial=-1)) + 1
    # one key per (proposal, unit); experts without a unit get a key of their own
    key = np.where(u >= 0, p * (n_u + e.size) + u, p * (n_u + e.size) + n_u + np.arange(e.size))
    order = np.lexsort((-coef, key))
    first = np.r_[True, key[order][1:] != key[order][:-1]] if key.size else np.zeros(0, bool)
    best_p, best_c = p[order][first], coef[order][first]
    o2 = np.lexsort((-best_c, best_p))
    bp, bc = best_p[o2], best_c[o2]
    start = np.searchsorted(bp, np.arange(n_p))
    rank = np.arange(bp.size) - start[bp]
    take = rank < problem.k[bp]
    return np.bincount(bp[take], weights=bc[take], minlength=n_p).astype(np.int64)


def solve_fair(
    problem: AssignmentProblem,
    *,
    time_limit_s: float = 60.0,
    workers: int = 2,
    plain: AssignmentResult | None = None,
) -> FairResult:
    """Maximise the minimum proposal affinity sum, then the total among those assignments.

    ``plain``: the plain optimum if already solved (else it is solved here). When the plain
    optimum's worst proposal already reaches the upper bound min_p (p's best k experts on its
    own), it is the answer for both stages and no CP-SAT model is built. Otherwise CP-SAT, hinted
    with the plain optimum, t between the plain minimum and that bound; ``time_limit_s`` per
    stage. Status OPTIMAL when both stages are proven, FEASIBLE when a stage stopped on the time
    limit (``min_bound`` then bounds the max-min), INFEASIBLE with a diagnosis otherwise.
    """
    t0 = time.perf_counter()
    el = _eligibility(problem)
    recs = _precheck(problem, el)
    if recs:
        res = _fail(problem, recs, t0, "fair-cp-sat", Status.INFEASIBLE, int(el.ok.sum()))
        return _failed(res, plain, t0)
    if plain is None:
        plain = solve(problem, time_limit_s=time_limit_s, workers=workers)
    if plain.status not in (Status.OPTIMAL, Status.FEASIBLE):
        return _failed(plain, plain, t0)
    p, e, w = problem.cand_p[el.ok], problem.cand_e[el.ok], problem.cand_w[el.ok]
    coef = np.rint(w * SCALE).astype(np.int64)
    active = problem.k > 0
    n_p = problem.n_proposals
    plain_sum = np.bincount(
        plain.pair_p, weights=np.rint(plain.pair_w * SCALE), minlength=n_p
    ).astype(np.int64)
    lo = int(plain_sum[active].min()) if active.any() else 0
    hi = int(_individual_best(problem, p, e, coef)[active].min()) if active.any() else 0
    plain_min, plain_total = _min_per_proposal(problem, plain), float(plain.objective)
    if lo >= hi and plain.status == Status.OPTIMAL:
        res = dataclasses.replace(plain, solver="fair: plain optimum meets the bound")
        return FairResult(
            Status.OPTIMAL, res, plain_min, plain_total, plain, plain_min, plain_total,
            time.perf_counter() - t0, (), hi / SCALE,
        )  # fmt: skip
    model = cp_model.CpModel()
    x = [model.new_bool_var(f"x{i}") for i in range(p.size)]
    _cp_demand(model, x, p, problem.k)
    _cp_loads(model, x, e, problem)
    _cp_units(model, x, p, e, problem.expert_unit)
    _cp_quotas(model, x, p, e, problem)
    t = model.new_int_var(lo, max(hi, lo), "t")
    _cp_floor(model, x, p, coef, problem.k, t)
    in_plain = np.isin(p * problem.n_experts + e, plain.pair_p * problem.n_experts + plain.pair_e)
    for v, h in zip(x, in_plain.tolist(), strict=True):
        model.add_hint(v, h)
    model.maximize(t)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = float(time_limit_s)
    solver.parameters.num_workers = int(workers)
    st1 = solver.solve(model)
    if st1 not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        if st1 == cp_model.INFEASIBLE:
            recs = diagnose(problem) or [_joint_record(problem)]
            status = Status.INFEASIBLE
        else:
            recs = [
                DiagnosisRecord(
                    "time_limit",
                    f"CP-SAT found no assignment within {time_limit_s:g} s; raise the time limit.",
                )
            ]
            status = Status.UNKNOWN
        res = _fail(problem, recs, t0, "fair-cp-sat", status, p.size)
        return _failed(res, plain, t0)
    t_star = int(solver.value(t))
    min_bound = t_star if st1 == cp_model.OPTIMAL else int(solver.best_objective_bound)
    proven = st1 == cp_model.OPTIMAL
    # stage 2: keep the minimum, maximise the total
    model.add(t >= t_star)
    model.clear_hints()
    for v in x:
        model.add_hint(v, solver.boolean_value(v))
    model.maximize(cp_model.LinearExpr.weighted_sum(x, coef.tolist()))
    st2 = solver.solve(model)
    if st2 not in (cp_model.OPTIMAL, cp_model.FEASIBLE):  # cannot happen: stage 1 is a solution
        raise AssertionError("stage 2 lost the stage-1 solution")
    proven = proven and st2 == cp_model.OPTIMAL
    vals = np.array([solver.boolean_value(v) for v in x], dtype=bool)
    pp, pe, pw = p[vals], e[vals], w[vals]
    order = np.lexsort((pe, pp))
    total = float(pw.sum())
    bound = total if st2 == cp_model.OPTIMAL else float(solver.best_objective_bound) / SCALE
    status = Status.OPTIMAL if proven else Status.FEASIBLE
    res = AssignmentResult(
        status, total, bound, max(0.0, (bound - total) / max(abs(bound), 1e-9)),
        time.perf_counter() - t0, pp[order], pe[order], pw[order], problem.proposal_ids,
        problem.expert_ids, (), (), proven, "fair-cp-sat", 0, int(p.size),
    )  # fmt: skip
    return FairResult(
        status, res, _min_per_proposal(problem, res), total, plain, plain_min, plain_total,
        time.perf_counter() - t0, (), min_bound / SCALE,
    )  # fmt: skip


def _failed(res: AssignmentResult, plain: AssignmentResult | None, t0: float) -> FairResult:
    nan = float("nan")
    return FairResult(
        res.status, res, nan, nan, plain, nan, nan, time.perf_counter() - t0, res.diagnosis
    )
