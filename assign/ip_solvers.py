"""The assignment as an integer program, for what a flow cannot hold (several quota kinds, units
that split a quota group): CP-SAT on request, HiGHS by default, each reporting its bound and
gap when it stops on the time limit."""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp
from ortools.sat.python import cp_model
from scipy.optimize import Bounds, LinearConstraint, milp

from assign.diagnosis import Eligibility, diagnose, joint_record
from assign.flow import (
    SCALE,
    scaled_cost,
    unique_sorted,
)
from assign.problem import AssignmentProblem, Status, active_quotas
from assign.result import AssignmentResult, DiagnosisRecord, Progress, failed_result


def _cp_demand(model: cp_model.CpModel, x: list, p: np.ndarray, k: np.ndarray) -> None:
    """Exactly k_p experts per proposal."""
    for i, idx in _groups(p, k.size):
        model.add(sum(x[j] for j in idx) == int(k[i]))


def _cp_loads(model: cp_model.CpModel, x: list, e: np.ndarray, pr: AssignmentProblem) -> None:
    """Expert loads within [min_load, max_load]."""
    for i, idx in _groups(e, pr.n_experts):
        lo, hi = int(pr.min_load[i]), int(pr.max_load[i])
        if idx.size > hi or lo > 0:
            model.add_linear_constraint(sum(x[j] for j in idx), lo, hi)


def _cp_units(
    model: cp_model.CpModel, x: list, p: np.ndarray, e: np.ndarray, unit: np.ndarray
) -> None:
    """At most one expert per unit on a proposal."""
    u = unit[e]
    has = np.flatnonzero(u >= 0)
    if has.size == 0:
        return
    key = p[has] * (int(unit.max()) + 1) + u[has]
    for _, idx in _groups(key, None):
        if idx.size > 1:
            model.add_at_most_one(x[has[j]] for j in idx)


def _cp_quotas(
    model: cp_model.CpModel, x: list, p: np.ndarray, e: np.ndarray, pr: AssignmentProblem
) -> None:
    """Per quota kind: at least m_p group experts on proposal p."""
    for _, flag, quota in active_quotas(pr):
        m, g = getattr(pr, quota), getattr(pr, flag)
        gi = np.flatnonzero(g[e])
        for i, idx in _groups(p[gi], pr.n_proposals):
            if m[i] > 0:
                model.add(sum(x[gi[j]] for j in idx) >= int(m[i]))


def _groups(key: np.ndarray, n: int | None) -> list[tuple[int, np.ndarray]]:
    """(value, positions) for each distinct value of ``key``; all 0..n-1 when n is given."""
    order = np.argsort(key, kind="stable")
    vals, starts = unique_sorted(key[order], index=True)
    bounds = np.r_[starts, key.size]
    found = {int(v): order[bounds[i] : bounds[i + 1]] for i, v in enumerate(vals)}
    if n is None:
        return list(found.items())
    empty = np.zeros(0, np.int64)
    return [(i, found.get(i, empty)) for i in range(n)]


def solve_cpsat(
    problem: AssignmentProblem,
    el: Eligibility,
    *,
    time_limit_s: float,
    workers: int,
    progress: Progress,
    t0: float,
) -> AssignmentResult:
    p, e, w = problem.cand_p[el.ok], problem.cand_e[el.ok], problem.cand_w[el.ok]
    model = cp_model.CpModel()
    x = [model.new_bool_var(f"x{i}") for i in range(p.size)]
    _cp_demand(model, x, p, problem.k)
    _cp_loads(model, x, e, problem)
    _cp_units(model, x, p, e, problem.expert_unit)
    _cp_quotas(model, x, p, e, problem)
    coef = (-scaled_cost(w)).tolist()
    model.maximize(cp_model.LinearExpr.weighted_sum(x, coef))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = float(time_limit_s)
    solver.parameters.num_workers = int(workers)
    if progress is not None:
        progress("cp-sat", 0.0)
    st = solver.solve(model)
    if progress is not None:
        progress("cp-sat", 1.0)
    if st == cp_model.INFEASIBLE:
        recs = diagnose(problem) or [joint_record(problem)]
        return failed_result(problem, recs, t0, "cp-sat", Status.INFEASIBLE, p.size)
    if st not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        rec = DiagnosisRecord(
            "time_limit",
            f"CP-SAT found no assignment within {time_limit_s:g} s; raise the time limit.",
        )
        return failed_result(problem, [rec], t0, "cp-sat", Status.UNKNOWN, p.size)
    vals = np.array([solver.boolean_value(v) for v in x], dtype=bool)
    pp, pe, pw = p[vals], e[vals], w[vals]
    obj = float(pw.sum())
    optimal = st == cp_model.OPTIMAL
    bound = obj if optimal else solver.best_objective_bound / SCALE
    gap = max(0.0, (bound - obj) / max(abs(bound), 1e-9))
    order = np.lexsort((pe, pp))
    return AssignmentResult(
        Status.OPTIMAL if optimal else Status.FEASIBLE, obj, bound, gap,
        time.perf_counter() - t0, pp[order], pe[order], pw[order], problem.proposal_ids,
        problem.expert_ids, (), (), optimal, "cp-sat", 0, p.size,
    )  # fmt: skip


def mip_matrices(
    problem: AssignmentProblem, p: np.ndarray, e: np.ndarray
) -> list[LinearConstraint]:
    """The same rules as the CP-SAT model, as sparse rows for HiGHS (one block per family)."""
    n_c = p.size
    col = np.arange(n_c)
    ones = np.ones(n_c)
    n_p, n_e = problem.n_proposals, problem.n_experts
    cons = [
        LinearConstraint(sp.csr_matrix((ones, (p, col)), shape=(n_p, n_c)), problem.k, problem.k),
        LinearConstraint(
            sp.csr_matrix((ones, (e, col)), shape=(n_e, n_c)), problem.min_load, problem.max_load
        ),
    ]
    u = problem.expert_unit[e]
    has = np.flatnonzero(u >= 0)
    if has.size:
        n_u = int(problem.expert_unit.max()) + 1
        _, row = unique_sorted(p[has] * n_u + u[has], inverse=True)
        a = sp.csr_matrix((np.ones(has.size), (row, has)), shape=(int(row.max()) + 1, n_c))
        cons.append(LinearConstraint(a, 0, 1))
    for _, flag, quota in active_quotas(problem):
        g = getattr(problem, flag)[e].astype(np.float64)
        a = sp.csr_matrix((g, (p, col)), shape=(n_p, n_c))
        cons.append(LinearConstraint(a, getattr(problem, quota), np.inf))
    return cons


def solve_highs(
    problem: AssignmentProblem,
    el: Eligibility,
    *,
    time_limit_s: float,
    progress: Progress,
    t0: float,
) -> AssignmentResult:
    """Integer program with HiGHS (LP-based branch and bound; bound = its dual bound)."""
    p, e, w = problem.cand_p[el.ok], problem.cand_e[el.ok], problem.cand_w[el.ok]
    c = scaled_cost(w).astype(np.float64)  # same integer objective as the flow
    if progress is not None:
        progress("mip", 0.0)
    res = milp(
        c,
        constraints=mip_matrices(problem, p, e),
        integrality=np.ones(p.size),
        bounds=Bounds(0, 1),
        options={"time_limit": float(time_limit_s), "mip_rel_gap": 0.0},
    )
    if progress is not None:
        progress("mip", 1.0)
    if res.status == 2:
        recs = diagnose(problem) or [joint_record(problem)]
        return failed_result(problem, recs, t0, "highs-mip", Status.INFEASIBLE, p.size)
    if res.x is None:
        rec = DiagnosisRecord(
            "time_limit",
            f"HiGHS found no assignment within {time_limit_s:g} s; raise the time limit.",
        )
        return failed_result(problem, [rec], t0, "highs-mip", Status.UNKNOWN, p.size)
    vals = res.x > 0.5
    pp, pe, pw = p[vals], e[vals], w[vals]
    obj = float(pw.sum())
    optimal = res.status == 0
    dual = getattr(res, "mip_dual_bound", None)
    bound = obj if optimal or dual is None else -float(dual) / SCALE
    gap = max(0.0, (bound - obj) / max(abs(bound), 1e-9))
    order = np.lexsort((pe, pp))
    return AssignmentResult(
        Status.OPTIMAL if optimal else Status.FEASIBLE, obj, bound, gap,
        time.perf_counter() - t0, pp[order], pe[order], pw[order], problem.proposal_ids,
        problem.expert_ids, (), (), optimal, "highs-mip", 0, p.size,
    )  # fmt: skip
