"""Exact correspondence-review assignment: min-cost flow, pricing certificate, CP-SAT for quotas.

``solve(problem)`` maximises total affinity subject to: exactly k_p experts per proposal, expert
loads within [min_load, max_load], no conflicted pair, affinity >= floor, at most one expert per
unit on a proposal, and per-proposal minimum counts of industry / outside-province / senior
experts. With at most one quota kind (and units that do not mix members and non-members of that
group) the problem is a network flow, solved exactly with OR-Tools min-cost flow; otherwise an
integer program solves it (HiGHS by default, CP-SAT on request), reporting the solver's bound
and the gap when it stops on the time limit.

Large candidate sets are pruned to the best pairs per proposal and per expert; every pruned pair
is then priced against the optimal flow's node potentials and added back while any prices in.
When none does the solution is optimal for the whole candidate set (``certified``). Affinities
enter the flow as integers at a resolution of 1e-6 (``assign.flow.SCALE``), so "optimal" means
optimal for the rounded affinities: within 0.5e-6 per assigned pair of the float optimum.
``solve_dense`` does the same over a dense (P, E) matrix or a row-block callable.

Beside it: :mod:`assign.result` (what a solve returns), :mod:`assign.diagnosis` (why a problem
has no solution) and :mod:`assign.ip_solvers` (the integer programs)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from assign.diagnosis import Eligibility, diagnose, eligibility, joint_record, precheck
from assign.flow import (
    SCALE,
    FlowSolution,
    Network,
    build_network,
    potentials,
    scaled_cost,
    solve_network,
    unique_sorted,
)
from assign.ip_solvers import solve_cpsat, solve_highs
from assign.pricing import BlockFn, CooPool, DensePool, Selection, is_member
from assign.problem import QUOTA_KINDS, AssignmentProblem, Status, active_quotas, pair_key
from assign.result import AssignmentResult, DiagnosisRecord, Progress, failed_result


def _units_split_group(problem: AssignmentProblem, in_group: np.ndarray) -> bool:
    """True if some unit has both members and non-members of the quota group."""
    has = problem.expert_unit >= 0
    if not has.any():
        return False
    u = problem.expert_unit[has]
    n_u = int(u.max()) + 1
    members = np.bincount(u, weights=in_group[has], minlength=n_u)
    sizes = np.bincount(u, minlength=n_u)
    return bool(np.any((members > 0) & (members < sizes)))


@dataclass(frozen=True, eq=False)
class FlowSpec:
    k: np.ndarray
    max_load: np.ndarray
    min_load: np.ndarray
    unit: np.ndarray
    in_group: np.ndarray | None
    quota: np.ndarray | None


def flow_spec(problem: AssignmentProblem) -> FlowSpec | None:
    """The flow form of ``problem``, or None when its rules leave the flow form."""
    kinds = active_quotas(problem)
    if len(kinds) > 1:
        return None
    in_group = quota = None
    if kinds:
        in_group = getattr(problem, kinds[0][1])
        quota = getattr(problem, kinds[0][2])
        if _units_split_group(problem, in_group):
            return None
    return FlowSpec(
        problem.k, problem.max_load, problem.min_load, problem.expert_unit, in_group, quota
    )


def _solve_selection(
    spec: FlowSpec, sel: Selection
) -> tuple[bool, np.ndarray, int, Network, FlowSolution]:
    net = build_network(
        cand_p=sel.p,
        cand_e=sel.e,
        cand_cost=scaled_cost(sel.w),
        k=spec.k,
        max_load=spec.max_load,
        min_load=spec.min_load,
        unit=spec.unit,
        in_group=spec.in_group,
        quota=spec.quota,
    )
    sol = solve_network(net)
    return sol.feasible, sol.flow[: net.n_pairs] > 0, sol.cost, net, sol


def set_group(pool: CooPool | DensePool, spec: FlowSpec) -> None:
    """Let the first selection include the best quota-group experts of each proposal."""
    if spec.in_group is not None and spec.quota is not None:
        pool.group = spec.in_group
        pool.per_group = max(2 * int(spec.quota.max(initial=0)), int(spec.k.max(initial=0)))


def _flow_with_pricing(
    problem: AssignmentProblem,
    spec: FlowSpec,
    pool: CooPool | DensePool,
    *,
    prune: bool,
    per_proposal: int,
    per_expert: int,
    max_rounds: int,
    max_pairs: int,
    progress: Progress,
    t0: float,
    first: Selection | None = None,
) -> tuple[AssignmentProblem, AssignmentResult]:
    """Solve on a pruned selection, price out the rest, repeat; or solve on all pairs."""
    name = "min-cost-flow+pricing" if prune else "min-cost-flow"

    def stage(s: str) -> Callable[[float], None] | None:
        return None if progress is None else (lambda f: progress(s, f))

    set_group(pool, spec)
    if first is not None:
        sel = first
    elif prune:
        sel = pool.initial(per_proposal, per_expert, stage("candidates"))
    else:
        sel = pool.everything()
    rounds, neg_total, certified = 0, 0, not prune
    while True:
        if progress is not None:
            progress("flow", 0.0)
        ok, used, cost, net, sol = _solve_selection(spec, sel)
        if progress is not None:
            progress("flow", 1.0)
        if not ok:
            if prune and rounds == 0:
                # pruning may have removed pairs that feasibility needs: widen and retry
                per_proposal, per_expert = per_proposal * 4, per_expert * 4
                pool.per_group *= 4
                if per_proposal >= problem.n_experts or per_proposal * problem.n_proposals >= (
                    pool.size
                ):
                    if pool.size <= max_pairs:
                        sel, prune, certified = pool.everything(), False, True
                        continue
                if per_proposal * problem.n_proposals > max_pairs:
                    rec = DiagnosisRecord(
                        "pruned",
                        "The best candidate pairs kept for the solve admit no assignment and "
                        f"widening them would exceed {max_pairs} pairs; raise "
                        "candidates_per_proposal or check k, loads and quotas.",
                    )
                    res = failed_result(problem, [rec], t0, name, Status.UNKNOWN, sel.p.size)
                    return problem, res
                sel = pool.initial(per_proposal, per_expert, stage("candidates"))
                continue
            sub = replace(problem, cand_p=sel.p, cand_e=sel.e, cand_w=sel.w)
            recs = diagnose(sub) or [joint_record(problem)]
            return sub, failed_result(problem, recs, t0, name, Status.INFEASIBLE, sel.p.size)
        if not prune:
            break
        d = potentials(net, sol.flow)
        added, neg_total = pool.price(net, d, spec.unit, spec.in_group, stage("pricing"))
        rounds += 1
        if progress is not None:
            progress("pricing", 1.0)
        if added == 0:
            certified = True
            break
        if rounds >= max_rounds:
            break
        sel = pool.selection()
    pp, pe, pw = sel.p[used], sel.e[used], sel.w[used]
    obj = float(pw.sum())
    if certified:
        bound, status = obj, Status.OPTIMAL
    else:
        # Lagrangian bound: the flow cost plus the pairs' (negative) reduced costs
        bound, status = (-(cost + neg_total)) / SCALE, Status.FEASIBLE
    gap = max(0.0, (bound - obj) / max(abs(bound), 1e-9))
    order = np.lexsort((pe, pp))
    sub = replace(problem, cand_p=sel.p, cand_e=sel.e, cand_w=sel.w)
    res = AssignmentResult(
        status, obj, bound, gap, time.perf_counter() - t0, pp[order], pe[order], pw[order],
        problem.proposal_ids, problem.expert_ids, (), (), certified, name, rounds, sel.p.size,
    )  # fmt: skip
    return sub, res


def solve(
    problem: AssignmentProblem,
    *,
    time_limit_s: float = 60.0,
    workers: int = 2,
    prune: bool | None = None,
    candidates_per_proposal: int | None = None,
    candidates_per_expert: int | None = None,
    max_rounds: int = 50,
    mip_solver: str = "highs",
    progress: Progress = None,
) -> AssignmentResult:
    """Maximise total affinity over ``problem``'s eligible candidate pairs.

    Flow form (at most one quota kind; units not mixing group members and non-members):
    OR-Tools min-cost flow, exact. ``prune`` (default: when candidates average more than
    8 x max(k) per proposal) solves on the best ``candidates_per_proposal`` (default 5 x max(k))
    pairs per proposal and ``candidates_per_expert`` (default max(2, 2 x max min_load)) per
    expert, then prices out the rest. Otherwise an integer program: ``mip_solver`` "highs"
    (default; HiGHS via SciPy, LP-based, far faster here as the LP relaxation is nearly
    integral) or "cp-sat" (``workers``), both stopped at ``time_limit_s`` with bound and gap.
    ``progress(stage, fraction)`` is called as the solve goes on.
    """
    t0 = time.perf_counter()
    el = eligibility(problem)
    recs = precheck(problem, el)
    if recs:
        return failed_result(problem, recs, t0, "precheck", Status.INFEASIBLE, int(el.ok.sum()))
    spec = flow_spec(problem)
    if spec is None:
        if mip_solver == "cp-sat":
            return solve_cpsat(
                problem, el, time_limit_s=time_limit_s, workers=workers, progress=progress, t0=t0
            )
        if mip_solver != "highs":
            raise ValueError(f"mip_solver must be 'highs' or 'cp-sat', got {mip_solver!r}")
        return solve_highs(problem, el, time_limit_s=time_limit_s, progress=progress, t0=t0)
    k_max = int(problem.k.max()) if problem.k.size else 0
    n_ok = int(el.ok.sum())
    if prune is None:
        prune = n_ok > 8 * max(k_max, 1) * max(problem.n_proposals, 1)
    pool = CooPool(problem.cand_p[el.ok], problem.cand_e[el.ok], problem.cand_w[el.ok])
    _, res = _flow_with_pricing(
        problem,
        spec,
        pool,
        prune=prune,
        per_proposal=candidates_per_proposal or max(5 * k_max, 1),
        per_expert=candidates_per_expert or max(2, 2 * int(problem.min_load.max(initial=0))),
        max_rounds=max_rounds,
        max_pairs=max(n_ok, 1),
        progress=progress,
        t0=t0,
    )
    return res


def solve_dense(affinity: np.ndarray | BlockFn, **options: Any) -> AssignmentResult:
    """Solve over every pair of a dense affinity matrix and certify it by pricing; the options
    are those of :func:`solve_dense_problem` (which also returns the pairs kept).

    affinity: (P, E) array (any float dtype; NaN = not a candidate) or a callable taking a
    row slice and returning that (rows, E) block (then ``n_proposals`` is required).
    conflicts: (proposal indices, expert indices). Other options as in ``AssignmentProblem``.
    Returns a result whose ``certified`` says every pair was priced out. When the rules leave
    the flow form, the integer program (``mip_solver``) gets every eligible pair if there are
    at most ``mip_max_pairs``, else only the best ones (then not certified).
    """
    return solve_dense_problem(affinity, **options)[1]


def solve_dense_problem(
    affinity: np.ndarray | BlockFn,
    *,
    k: np.ndarray | int,
    max_load: np.ndarray | int,
    min_load: np.ndarray | int = 0,
    n_proposals: int | None = None,
    conflicts: tuple[np.ndarray, np.ndarray] | None = None,
    floor: float = 0.0,
    expert_unit: np.ndarray | None = None,
    is_industry: np.ndarray | None = None,
    is_outside: np.ndarray | None = None,
    is_senior: np.ndarray | None = None,
    min_industry: np.ndarray | int = 0,
    min_outside: np.ndarray | int = 0,
    min_senior: np.ndarray | int = 0,
    proposal_ids: tuple[str, ...] | None = None,
    expert_ids: tuple[str, ...] | None = None,
    candidates_per_proposal: int | None = None,
    candidates_per_expert: int | None = None,
    block_rows: int | None = None,
    max_rounds: int = 50,
    max_pairs: int = 30_000_000,
    mip_max_pairs: int = 2_000_000,
    mip_solver: str = "highs",
    time_limit_s: float = 60.0,
    workers: int = 2,
    progress: Progress = None,
) -> tuple[AssignmentProblem, AssignmentResult]:
    """As ``solve_dense``; also returns the problem over the pairs finally kept (pruned plus
    priced in), which the result's pairs index into."""
    t0 = time.perf_counter()
    if callable(affinity):
        if n_proposals is None:
            raise ValueError("n_proposals is required when affinity is a callable of row slices")
        n_e = int(np.asarray(affinity(slice(0, min(1, n_proposals)))).shape[1])
        n_p = n_proposals
    else:
        if np.ndim(affinity) != 2:
            raise ValueError(f"affinity must be a (P, E) matrix, got shape {np.shape(affinity)}")
        n_p, n_e = np.shape(affinity)
    cp_, ce_ = (
        (np.zeros(0, np.int64), np.zeros(0, np.int64))
        if conflicts is None
        else (np.asarray(conflicts[0], np.int64), np.asarray(conflicts[1], np.int64))
    )
    template = AssignmentProblem(
        proposal_ids=proposal_ids or tuple(str(i) for i in range(n_p)),
        expert_ids=expert_ids or tuple(str(i) for i in range(n_e)),
        cand_p=np.zeros(0, np.int64), cand_e=np.zeros(0, np.int64), cand_w=np.zeros(0),
        k=k, max_load=max_load, min_load=min_load, expert_unit=expert_unit,
        is_industry=is_industry, is_outside=is_outside, is_senior=is_senior,
        min_industry=min_industry, min_outside=min_outside, min_senior=min_senior,
        conflict_p=cp_, conflict_e=ce_, affinity_floor=floor,
    )  # fmt: skip
    if cp_.size and (cp_.min() < 0 or cp_.max() >= n_p or ce_.min() < 0 or ce_.max() >= n_e):
        raise ValueError("conflicts hold an index outside the affinity matrix")
    pool = DensePool(
        affinity, n_proposals=n_p, n_experts=n_e, floor=floor,
        conflict_p=cp_, conflict_e=ce_, block_rows=block_rows,
    )  # fmt: skip
    for name, flag, _ in active_quotas(template):
        pool.group_masks[name] = getattr(template, flag)
    k_max = int(template.k.max()) if n_p else 0
    per_p = candidates_per_proposal or max(5 * k_max, 1)
    per_e = candidates_per_expert or max(2, 2 * int(template.min_load.max(initial=0)))
    spec = flow_spec(template)
    if spec is not None:
        set_group(pool, spec)
    stage = None if progress is None else (lambda f: progress("candidates", f))
    sel = pool.initial(per_p, per_e, stage)
    # counting checks on the whole matrix (units are not counted here)
    n_conf = np.bincount(unique_sorted(pair_key(cp_, ce_, n_e))[0] // max(n_e, 1), minlength=n_p)
    el = Eligibility(
        ok=np.zeros(0, bool), conflicted=np.zeros(0, bool), n_conflicted=n_conf,
        n_below=pool.below_floor, n_not_cand=pool.not_candidate,
        n_eligible=pool.eligible_per_proposal, n_slots=pool.eligible_per_proposal,
        n_eligible_e=pool.eligible_per_expert, group_slots=dict(pool.eligible_in_group),
    )  # fmt: skip
    recs = precheck(template, el)
    if recs:
        return template, failed_result(
            template, recs, t0, "precheck", Status.INFEASIBLE, sel.p.size
        )
    if spec is None:
        whole = pool.size <= mip_max_pairs
        if whole:
            sel = pool.everything()
        sub = replace(template, cand_p=sel.p, cand_e=sel.e, cand_w=sel.w)
        res = solve(
            sub, time_limit_s=time_limit_s, workers=workers, prune=False,
            mip_solver=mip_solver, progress=progress,
        )  # fmt: skip
        if whole:
            return sub, replace(res, wall_s=time.perf_counter() - t0)
        note = DiagnosisRecord(
            "pruned",
            f"Solved as an integer program on the best {per_p} pairs per proposal only "
            f"(more than {mip_max_pairs} eligible pairs); not certified for the whole matrix.",
        )
        res = replace(
            res,
            certified=False,
            status=Status.FEASIBLE if res.status == Status.OPTIMAL else res.status,
            diagnosis=res.diagnosis + (note.message,),
            records=res.records + (note,),
            wall_s=time.perf_counter() - t0,
        )
        return sub, res

    return _flow_with_pricing(
        template, spec, pool, first=sel,
        prune=True, per_proposal=per_p, per_expert=per_e, max_rounds=max_rounds,
        max_pairs=max_pairs, progress=progress, t0=t0,
    )  # fmt: skip


def quality_summary(problem: AssignmentProblem, result: AssignmentResult) -> dict[str, object]:
    """Summary of an assignment: affinity totals, loads, quotas and rule violations (all 0)."""
    n_p, n_e = problem.n_proposals, problem.n_experts
    p, e, w = result.pair_p, result.pair_e, result.pair_w
    per_p = np.bincount(p, weights=w, minlength=n_p)
    count_p = np.bincount(p, minlength=n_p)
    load = np.bincount(e, minlength=n_e)
    hist_v, hist_c = np.unique(load, return_counts=True)
    ckey = unique_sorted(pair_key(problem.conflict_p, problem.conflict_e, n_e))[0]
    conflicts = int(np.count_nonzero(is_member(pair_key(p, e, n_e), ckey)))
    u = problem.expert_unit[e]
    has = u >= 0
    n_u = int(problem.expert_unit.max(initial=-1)) + 1
    _, ucount = unique_sorted(p[has] * max(n_u, 1) + u[has], counts=True)
    quotas = {}
    for name, flag, quota in QUOTA_KINDS:
        m = getattr(problem, quota)
        if np.any(m > 0):
            got = np.bincount(p[getattr(problem, flag)[e]], minlength=n_p)
            asked = m > 0
            quotas[name] = {"met": int(np.sum(got[asked] >= m[asked])), "total": int(asked.sum())}
    ok = result.status in (Status.OPTIMAL, Status.FEASIBLE)
    return {
        "status": str(result.status),
        "total_affinity": float(w.sum()),
        "mean_proposal_affinity": float(per_p.mean()) if n_p and ok else float("nan"),
        "min_proposal_affinity": float(per_p.min()) if n_p and ok else float("nan"),
        "load_histogram": {int(a): int(b) for a, b in zip(hist_v, hist_c, strict=True)},
        "quota_satisfaction": quotas,
        "conflicts_violated": conflicts,
        "one_per_unit_violated": int(np.sum(ucount > 1)),
        "k_violated": int(np.sum(count_p != problem.k)) if ok else 0,
        "load_violated": int(np.sum((load > problem.max_load) | (load < problem.min_load)))
        if ok
        else 0,
        "gap": result.gap,
        "certified": result.certified,
    }
