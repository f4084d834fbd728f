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
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from ortools.sat.python import cp_model
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse.csgraph import breadth_first_order, maximum_flow

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
from assign.pricing import BlockFn, CooPool, DensePool, Selection, is_member
from assign.problem import AssignmentProblem, Status, pair_key

Progress = Callable[[str, float], None] | None

QUOTA_KINDS: tuple[tuple[str, str, str], ...] = (
    ("industry", "is_industry", "min_industry"),
    ("outside-province", "is_outside", "min_outside"),
    ("senior", "is_senior", "min_senior"),
)
_MAX_NAMED = 5
_MAX_RECORDS = 50


# --------------------------------------------------------------------------- result


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


def _empty_pairs() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float64)


def _fail(
    problem: AssignmentProblem,
    records: list[DiagnosisRecord],
    t0: float,
    solver: str,
    status: Status = Status.INFEASIBLE,
    n_candidates: int = 0,
) -> AssignmentResult:
    p, e, w = _empty_pairs()
    shown = records[:_MAX_RECORDS]
    msgs = [r.message for r in shown]
    if len(records) > _MAX_RECORDS:
        msgs.append(f"... and {len(records) - _MAX_RECORDS} more")
    return AssignmentResult(
        status, float("nan"), float("nan"), float("nan"), time.perf_counter() - t0,
        p, e, w, problem.proposal_ids, problem.expert_ids, tuple(msgs), tuple(records),
        False, solver, 0, n_candidates,
    )  # fmt: skip


# --------------------------------------------------------------------------- eligibility


@dataclass(frozen=True, eq=False)
class _Eligibility:
    """Per-candidate masks and per-proposal counts used by the checks."""

    ok: np.ndarray  # (C,) eligible candidate
    conflicted: np.ndarray  # (C,) candidate that is conflicted
    n_conflicted: np.ndarray  # (P,) conflicted experts
    n_below: np.ndarray  # (P,) non-conflicted candidates below the floor
    n_not_cand: np.ndarray  # (P,) experts neither candidates nor conflicted
    n_eligible: np.ndarray  # (P,)
    n_slots: np.ndarray  # (P,) eligible experts counting one per unit
    n_eligible_e: np.ndarray  # (E,) eligible proposals per expert
    group_slots: dict[str, np.ndarray] = field(default_factory=dict)  # kind -> (P,)


def _slots(p: np.ndarray, e: np.ndarray, unit: np.ndarray, n_p: int) -> np.ndarray:
    """Per proposal, the number of experts that can serve together (one per unit)."""
    u = unit[e]
    no_unit = np.bincount(p[u < 0], minlength=n_p)
    keys = unique_sorted(pair_key(p[u >= 0], u[u >= 0], int(unit.max()) + 1 if unit.size else 1))[0]
    if keys.size == 0:
        return no_unit
    n_units = int(unit.max()) + 1
    return no_unit + np.bincount(keys // n_units, minlength=n_p)


def _eligibility(problem: AssignmentProblem) -> _Eligibility:
    n_p, n_e = problem.n_proposals, problem.n_experts
    key = pair_key(problem.cand_p, problem.cand_e, n_e)
    ckey = unique_sorted(pair_key(problem.conflict_p, problem.conflict_e, n_e))[0]
    conflicted = is_member(key, ckey)
    below = ~conflicted & (problem.cand_w < problem.affinity_floor)
    ok = ~conflicted & ~below
    n_conf = np.bincount(ckey // max(n_e, 1), minlength=n_p) if ckey.size else np.zeros(n_p, int)
    n_below = np.bincount(problem.cand_p[below], minlength=n_p)
    n_cand_free = np.bincount(problem.cand_p[~conflicted], minlength=n_p)
    p, e = problem.cand_p[ok], problem.cand_e[ok]
    groups = {}
    for name, flag, quota in QUOTA_KINDS:
        if np.any(getattr(problem, quota) > 0):
            g = getattr(problem, flag)[e]
            groups[name] = _slots(p[g], e[g], problem.expert_unit, n_p)
    return _Eligibility(
        ok=ok,
        conflicted=conflicted,
        n_conflicted=n_conf,
        n_below=n_below,
        n_not_cand=n_e - n_conf - n_cand_free,
        n_eligible=np.bincount(p, minlength=n_p),
        n_slots=_slots(p, e, problem.expert_unit, n_p),
        n_eligible_e=np.bincount(e, minlength=n_e),
        group_slots=groups,
    )


# --------------------------------------------------------------------------- checks


def _names(ids: tuple[str, ...], idx: np.ndarray) -> str:
    shown = ", ".join(str(ids[i]) for i in idx[:_MAX_NAMED])
    return shown + (f" and {idx.size - _MAX_NAMED} more" if idx.size > _MAX_NAMED else "")


def _check_proposal_counts(problem: AssignmentProblem, el: _Eligibility) -> list[DiagnosisRecord]:
    """Proposals with fewer eligible experts (or distinct units) than k, and why."""
    out = []
    floor = problem.affinity_floor
    for p in np.flatnonzero(el.n_slots < problem.k):
        pid, k = problem.proposal_ids[p], int(problem.k[p])
        n_el, n_sl = int(el.n_eligible[p]), int(el.n_slots[p])
        counts = (
            ("eligible", n_el),
            ("conflicted", int(el.n_conflicted[p])),
            ("below_floor", int(el.n_below[p])),
            ("not_candidates", int(el.n_not_cand[p])),
            ("distinct_units", n_sl),
        )
        if n_el < k:
            why = (
                f"{el.n_conflicted[p]} conflicted, {el.n_below[p]} below the affinity floor "
                f"{floor:g}, {el.n_not_cand[p]} not candidates"
            )
            msg = (
                f"Proposal {pid} has only {n_el} eligible experts but needs k={k} ({why}); "
                "lower k, lower the affinity floor or add candidate experts."
            )
        else:
            msg = (
                f"Proposal {pid} has {n_el} eligible experts but they come from only {n_sl} "
                f"distinct units and at most one expert per unit may review it (k={k}); "
                "lower k or add experts from other units."
            )
        out.append(DiagnosisRecord("proposal_short", msg, (pid,), (), k, n_sl, counts))
    return out


def _check_quota_counts(problem: AssignmentProblem, el: _Eligibility) -> list[DiagnosisRecord]:
    """Per quota kind: proposals whose quota exceeds k or their eligible group experts."""
    out = []
    for name, flag, quota in QUOTA_KINDS:
        m = getattr(problem, quota)
        if not np.any(m > 0):
            continue
        for p in np.flatnonzero(m > problem.k):
            pid = problem.proposal_ids[p]
            msg = (
                f"Proposal {pid} asks for at least {m[p]} {name} experts but gets only "
                f"k={problem.k[p]} experts; lower the {name} quota or raise k."
            )
            out.append(
                DiagnosisRecord("quota_exceeds_k", msg, (pid,), (), int(m[p]), int(problem.k[p]))
            )
        avail = el.group_slots[name]
        n_pool = int(getattr(problem, flag).sum())
        for p in np.flatnonzero((m > avail) & (m <= problem.k)):
            pid = problem.proposal_ids[p]
            msg = (
                f"Proposal {pid} needs at least {m[p]} {name} experts but only {avail[p]} "
                f"eligible {name} expert{'s are' if avail[p] != 1 else ' is'} available "
                f"(counting one per unit; {n_pool} {name} experts in the pool); lower the "
                f"{name} quota or add eligible {name} experts."
            )
            out.append(
                DiagnosisRecord(
                    "quota_short", msg, (pid,), (), int(m[p]), int(avail[p]), (("pool", n_pool),)
                )
            )
    return out


def _check_capacity(problem: AssignmentProblem, el: _Eligibility) -> list[DiagnosisRecord]:
    """Total demand vs the loads of experts eligible somewhere, also per quota group."""
    out = []
    usable = el.n_eligible_e > 0
    need, cap = int(problem.k.sum()), int(np.minimum(problem.max_load, el.n_eligible_e).sum())
    if need > cap:
        msg = (
            f"The proposals need {need} reviews in total but the experts can give at most {cap} "
            f"({int(usable.sum())} experts with an eligible proposal, max loads and eligible "
            "pairs counted); raise max_load, add experts or lower k."
        )
        out.append(DiagnosisRecord("capacity", msg, (), (), need, cap))
    for name, flag, quota in QUOTA_KINDS:
        m = getattr(problem, quota)
        if not np.any(m > 0):
            continue
        g = getattr(problem, flag)
        need_g = int(m.sum())
        cap_g = int(np.minimum(problem.max_load, el.n_eligible_e)[g].sum())
        if need_g > cap_g:
            msg = (
                f"The {name} quotas need {need_g} {name} reviews in total but the {name} experts "
                f"can give at most {cap_g}; lower the {name} quotas, raise their max_load or add "
                f"{name} experts."
            )
            out.append(DiagnosisRecord("group_capacity", msg, (), (), need_g, cap_g))
    return out


def _check_min_loads(problem: AssignmentProblem, el: _Eligibility) -> list[DiagnosisRecord]:
    """Minimum loads: their total against the demand, and each against eligible proposals."""
    out = []
    total, need = int(problem.min_load.sum()), int(problem.k.sum())
    if total > need:
        msg = (
            f"The experts' minimum loads total {total} reviews but the proposals need only "
            f"{need} (sum of k); lower min_load or raise k."
        )
        out.append(DiagnosisRecord("min_load_total", msg, (), (), total, need))
    for e in np.flatnonzero(problem.min_load > el.n_eligible_e):
        eid = problem.expert_ids[e]
        msg = (
            f"Expert {eid} must review at least {problem.min_load[e]} proposals but is eligible "
            f"for only {el.n_eligible_e[e]}; lower its min_load or add candidate pairs."
        )
        out.append(
            DiagnosisRecord(
                "expert_min_load",
                msg,
                (),
                (eid,),
                int(problem.min_load[e]),
                int(el.n_eligible_e[e]),
            )
        )
    return out


def _bipartite_cut(
    left_cap: np.ndarray,
    right_cap: np.ndarray,
    li: np.ndarray,
    ri: np.ndarray,
    pair_cap: int = 1,
) -> tuple[int, np.ndarray, np.ndarray]:
    """Max flow source -> left (left_cap) -> right (pairs li, ri; ``pair_cap`` each) -> sink
    (right_cap).

    Returns (deficit, left side of the min cut, right side of the min cut) as index arrays.
    """
    n_l, n_r = left_cap.size, right_cap.size
    s, t = 0, n_l + n_r + 1
    rows = np.concatenate([np.zeros(n_l, np.int64), 1 + li, 1 + n_l + np.arange(n_r)])
    cols = np.concatenate([1 + np.arange(n_l), 1 + n_l + ri, np.full(n_r, t)])
    cap = np.concatenate([left_cap, np.full(li.size, pair_cap, np.int64), right_cap]).astype(
        np.int32
    )
    g = sp.csr_matrix((cap, (rows, cols)), shape=(t + 1, t + 1))
    res = maximum_flow(g, s, t)
    deficit = int(left_cap.sum()) - int(res.flow_value)
    if deficit <= 0:
        return 0, np.zeros(0, np.int64), np.zeros(0, np.int64)
    resid = (g - res.flow).tocsr()
    resid.data[resid.data < 0] = 0
    resid.eliminate_zeros()
    reach = breadth_first_order(resid, s, directed=True, return_predecessors=False)
    reach = np.asarray(reach, dtype=np.int64)  # csgraph gives int32 indices
    left = reach[(reach >= 1) & (reach <= n_l)] - 1
    right = reach[(reach > n_l) & (reach < t)] - 1 - n_l
    return deficit, np.sort(left), np.sort(right)


def hall_record(
    problem: AssignmentProblem, p: np.ndarray, e: np.ndarray, q: Fraction | None = None
) -> DiagnosisRecord | None:
    """The proposals that the eligible pairs (p, e) cannot give k experts within the max loads
    (with no pair above probability ``q`` when given), as one record, or None. Its experts are
    all those eligible for the named proposals."""
    a, b = (1, 1) if q is None else (q.numerator, q.denominator)
    deficit, left, _ = _bipartite_cut(problem.k * b, problem.max_load * b, p, e, pair_cap=a)
    if not deficit:
        return None
    need = int(problem.k[left].sum())
    can = need - deficit / b
    nbr = np.unique(e[np.isin(p, left)])
    under = "" if q is None else f" with no pair above probability {float(q):g}"
    msg = (
        f"Proposals {_names(problem.proposal_ids, left)} ({left.size} proposals) need "
        f"{need} reviews together but{under} their {nbr.size} eligible experts can give them "
        f"at most {can:g}{'' if q is None else ' in expectation'} (max loads); raise "
        f"{'' if q is None else 'q or '}max_load, add experts eligible for them or lower k."
    )
    ids = tuple(problem.proposal_ids[i] for i in left)
    eids = tuple(problem.expert_ids[i] for i in nbr)
    return DiagnosisRecord("hall" if q is None else "hall_q", msg, ids, eids, need, int(can))


def _check_hall(problem: AssignmentProblem, el: _Eligibility) -> list[DiagnosisRecord]:
    """Hall-type checks by max flow: groups of proposals whose shared experts lack capacity,
    the same for each quota group, and groups of experts whose min loads cannot be met."""
    out = []
    p, e = problem.cand_p[el.ok], problem.cand_e[el.ok]
    rec = hall_record(problem, p, e)
    if rec is not None:
        out.append(rec)
    for name, flag, quota in QUOTA_KINDS:
        m = getattr(problem, quota)
        if not np.any(m > 0):
            continue
        g = getattr(problem, flag)[e]
        deficit, left, _ = _bipartite_cut(m, problem.max_load, p[g], e[g])
        if deficit:
            need = int(m[left].sum())
            nbr = np.unique(e[g][np.isin(p[g], left)])
            msg = (
                f"Proposals {_names(problem.proposal_ids, left)} need {need} {name} reviews "
                f"together but their {nbr.size} eligible {name} experts can give at most "
                f"{need - deficit}; lower the {name} quotas or add {name} experts."
            )
            ids = tuple(problem.proposal_ids[i] for i in left)
            eids = tuple(problem.expert_ids[i] for i in nbr)
            out.append(DiagnosisRecord("quota_hall", msg, ids, eids, need, need - deficit))
    if np.any(problem.min_load > 0):
        deficit, left, _ = _bipartite_cut(problem.min_load, problem.k, e, p)
        if deficit:
            need = int(problem.min_load[left].sum())
            nbr = np.unique(p[np.isin(e, left)])
            msg = (
                f"Experts {_names(problem.expert_ids, left)} need {need} reviews together to "
                f"meet their minimum loads but their {nbr.size} eligible proposals can take at "
                f"most {need - deficit} of them (k each); lower min_load or add candidate pairs."
            )
            eids = tuple(problem.expert_ids[i] for i in left)
            pids = tuple(problem.proposal_ids[i] for i in nbr)
            out.append(DiagnosisRecord("min_load_hall", msg, pids, eids, need, need - deficit))
    return out


def _joint_record(problem: AssignmentProblem) -> DiagnosisRecord:
    rules = ["k per proposal", "max loads"]
    if np.any(problem.min_load > 0):
        rules.append("min loads")
    if np.any(problem.expert_unit >= 0):
        rules.append("one expert per unit")
    rules += [n + " quota" for n, _, q in QUOTA_KINDS if np.any(getattr(problem, q) > 0)]
    msg = (
        "No assignment satisfies all rules together (" + ", ".join(rules) + "), although each "
        "check on its own passes; relax one of them (lower k or a quota, raise max_load, lower "
        "min_load) or add experts."
    )
    return DiagnosisRecord("joint", msg)


def diagnose(problem: AssignmentProblem, *, deep: bool = True) -> list[DiagnosisRecord]:
    """Reasons why ``problem`` has no feasible assignment (empty list: none found).

    The counting checks are cheap; ``deep`` adds the Hall-type max-flow checks.
    """
    el = _eligibility(problem)
    recs = _precheck(problem, el)
    if not recs and deep:
        recs = _check_hall(problem, el)
    return recs


def _precheck(problem: AssignmentProblem, el: _Eligibility) -> list[DiagnosisRecord]:
    return (
        _check_proposal_counts(problem, el)
        + _check_quota_counts(problem, el)
        + _check_capacity(problem, el)
        + _check_min_loads(problem, el)
    )


# --------------------------------------------------------------------------- flow + pricing


def _active_quotas(problem: AssignmentProblem) -> list[tuple[str, str, str]]:
    return [kq for kq in QUOTA_KINDS if np.any(getattr(problem, kq[2]) > 0)]


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
class _FlowSpec:
    k: np.ndarray
    max_load: np.ndarray
    min_load: np.ndarray
    unit: np.ndarray
    in_group: np.ndarray | None
    quota: np.ndarray | None


def _flow_spec(problem: AssignmentProblem) -> _FlowSpec | None:
    """The flow form of ``problem``, or None when its rules leave the flow form."""
    kinds = _active_quotas(problem)
    if len(kinds) > 1:
        return None
    in_group = quota = None
    if kinds:
        in_group = getattr(problem, kinds[0][1])
        quota = getattr(problem, kinds[0][2])
        if _units_split_group(problem, in_group):
            return None
    return _FlowSpec(
        problem.k, problem.max_load, problem.min_load, problem.expert_unit, in_group, quota
    )


def _solve_selection(
    spec: _FlowSpec, sel: Selection
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


def _set_group(pool: CooPool | DensePool, spec: _FlowSpec) -> None:
    """Let the first selection include the best quota-group experts of each proposal."""
    if spec.in_group is not None and spec.quota is not None:
        pool.group = spec.in_group
        pool.per_group = max(2 * int(spec.quota.max(initial=0)), int(spec.k.max(initial=0)))


def _flow_with_pricing(
    problem: AssignmentProblem,
    spec: _FlowSpec,
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

    _set_group(pool, spec)
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
                    res = _fail(problem, [rec], t0, name, Status.UNKNOWN, sel.p.size)
                    return problem, res
                sel = pool.initial(per_proposal, per_expert, stage("candidates"))
                continue
            sub = replace(problem, cand_p=sel.p, cand_e=sel.e, cand_w=sel.w)
            recs = diagnose(sub) or [_joint_record(problem)]
            return sub, _fail(problem, recs, t0, name, Status.INFEASIBLE, sel.p.size)
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


# --------------------------------------------------------------------------- CP-SAT


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
    for _, flag, quota in _active_quotas(pr):
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


def _solve_cpsat(
    problem: AssignmentProblem,
    el: _Eligibility,
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
        recs = diagnose(problem) or [_joint_record(problem)]
        return _fail(problem, recs, t0, "cp-sat", Status.INFEASIBLE, p.size)
    if st not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        rec = DiagnosisRecord(
            "time_limit",
            f"CP-SAT found no assignment within {time_limit_s:g} s; raise the time limit.",
        )
        return _fail(problem, [rec], t0, "cp-sat", Status.UNKNOWN, p.size)
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


def _mip_matrices(
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
    for _, flag, quota in _active_quotas(problem):
        g = getattr(problem, flag)[e].astype(np.float64)
        a = sp.csr_matrix((g, (p, col)), shape=(n_p, n_c))
        cons.append(LinearConstraint(a, getattr(problem, quota), np.inf))
    return cons


def _solve_highs(
    problem: AssignmentProblem,
    el: _Eligibility,
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
        constraints=_mip_matrices(problem, p, e),
        integrality=np.ones(p.size),
        bounds=Bounds(0, 1),
        options={"time_limit": float(time_limit_s), "mip_rel_gap": 0.0},
    )
    if progress is not None:
        progress("mip", 1.0)
    if res.status == 2:
        recs = diagnose(problem) or [_joint_record(problem)]
        return _fail(problem, recs, t0, "highs-mip", Status.INFEASIBLE, p.size)
    if res.x is None:
        rec = DiagnosisRecord(
            "time_limit",
            f"HiGHS found no assignment within {time_limit_s:g} s; raise the time limit.",
        )
        return _fail(problem, [rec], t0, "highs-mip", Status.UNKNOWN, p.size)
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


# --------------------------------------------------------------------------- public API


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
    el = _eligibility(problem)
    recs = _precheck(problem, el)
    if recs:
        return _fail(problem, recs, t0, "precheck", Status.INFEASIBLE, int(el.ok.sum()))
    spec = _flow_spec(problem)
    if spec is None:
        if mip_solver == "cp-sat":
            return _solve_cpsat(
                problem, el, time_limit_s=time_limit_s, workers=workers, progress=progress, t0=t0
            )
        if mip_solver != "highs":
            raise ValueError(f"mip_solver must be 'highs' or 'cp-sat', got {mip_solver!r}")
        return _solve_highs(problem, el, time_limit_s=time_limit_s, progress=progress, t0=t0)
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
    for name, flag, _ in _active_quotas(template):
        pool.group_masks[name] = getattr(template, flag)
    k_max = int(template.k.max()) if n_p else 0
    per_p = candidates_per_proposal or max(5 * k_max, 1)
    per_e = candidates_per_expert or max(2, 2 * int(template.min_load.max(initial=0)))
    spec = _flow_spec(template)
    if spec is not None:
        _set_group(pool, spec)
    stage = None if progress is None else (lambda f: progress("candidates", f))
    sel = pool.initial(per_p, per_e, stage)
    # counting checks on the whole matrix (units are not counted here)
    n_conf = np.bincount(unique_sorted(pair_key(cp_, ce_, n_e))[0] // max(n_e, 1), minlength=n_p)
    el = _Eligibility(
        ok=np.zeros(0, bool), conflicted=np.zeros(0, bool), n_conflicted=n_conf,
        n_below=pool.below_floor, n_not_cand=pool.not_candidate,
        n_eligible=pool.eligible_per_proposal, n_slots=pool.eligible_per_proposal,
        n_eligible_e=pool.eligible_per_expert, group_slots=dict(pool.eligible_in_group),
    )  # fmt: skip
    recs = _precheck(template, el)
    if recs:
        return template, _fail(template, recs, t0, "precheck", Status.INFEASIBLE, sel.p.size)
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
