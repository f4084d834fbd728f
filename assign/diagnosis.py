"""Why an assignment problem has no solution, said before solving where it can be: too few
eligible experts for a proposal or a quota, too little capacity, minimum loads that cannot be
met, and Hall's condition (a group of proposals whose eligible experts cannot cover them), each
as a record that names the proposals and experts."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order, maximum_flow

from assign.flow import (
    unique_sorted,
)
from assign.pricing import is_member
from assign.problem import QUOTA_KINDS, AssignmentProblem, pair_key
from assign.result import DiagnosisRecord

_MAX_NAMED = 5


@dataclass(frozen=True, eq=False)
class Eligibility:
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


def eligibility(problem: AssignmentProblem) -> Eligibility:
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
    return Eligibility(
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


def named_ids(ids: tuple[str, ...], idx: np.ndarray) -> str:
    shown = ", ".join(str(ids[i]) for i in idx[:_MAX_NAMED])
    return shown + (f" and {idx.size - _MAX_NAMED} more" if idx.size > _MAX_NAMED else "")


def _check_proposal_counts(problem: AssignmentProblem, el: Eligibility) -> list[DiagnosisRecord]:
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


def _check_quota_counts(problem: AssignmentProblem, el: Eligibility) -> list[DiagnosisRecord]:
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


def _check_capacity(problem: AssignmentProblem, el: Eligibility) -> list[DiagnosisRecord]:
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


def _check_min_loads(problem: AssignmentProblem, el: Eligibility) -> list[DiagnosisRecord]:
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


def bipartite_cut(
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
    deficit, left, _ = bipartite_cut(problem.k * b, problem.max_load * b, p, e, pair_cap=a)
    if not deficit:
        return None
    need = int(problem.k[left].sum())
    can = need - deficit / b
    nbr = np.unique(e[np.isin(p, left)])
    under = "" if q is None else f" with no pair above probability {float(q):g}"
    msg = (
        f"Proposals {named_ids(problem.proposal_ids, left)} ({left.size} proposals) need "
        f"{need} reviews together but{under} their {nbr.size} eligible experts can give them "
        f"at most {can:g}{'' if q is None else ' in expectation'} (max loads); raise "
        f"{'' if q is None else 'q or '}max_load, add experts eligible for them or lower k."
    )
    ids = tuple(problem.proposal_ids[i] for i in left)
    eids = tuple(problem.expert_ids[i] for i in nbr)
    return DiagnosisRecord("hall" if q is None else "hall_q", msg, ids, eids, need, int(can))


def _check_hall(problem: AssignmentProblem, el: Eligibility) -> list[DiagnosisRecord]:
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
        deficit, left, _ = bipartite_cut(m, problem.max_load, p[g], e[g])
        if deficit:
            need = int(m[left].sum())
            nbr = np.unique(e[g][np.isin(p[g], left)])
            msg = (
                f"Proposals {named_ids(problem.proposal_ids, left)} need {need} {name} reviews "
                f"together but their {nbr.size} eligible {name} experts can give at most "
                f"{need - deficit}; lower the {name} quotas or add {name} experts."
            )
            ids = tuple(problem.proposal_ids[i] for i in left)
            eids = tuple(problem.expert_ids[i] for i in nbr)
            out.append(DiagnosisRecord("quota_hall", msg, ids, eids, need, need - deficit))
    if np.any(problem.min_load > 0):
        deficit, left, _ = bipartite_cut(problem.min_load, problem.k, e, p)
        if deficit:
            need = int(problem.min_load[left].sum())
            nbr = np.unique(p[np.isin(e, left)])
            msg = (
                f"Experts {named_ids(problem.expert_ids, left)} need {need} reviews together to "
                f"meet their minimum loads but their {nbr.size} eligible proposals can take at "
                f"most {need - deficit} of them (k each); lower min_load or add candidate pairs."
            )
            eids = tuple(problem.expert_ids[i] for i in left)
            pids = tuple(problem.proposal_ids[i] for i in nbr)
            out.append(DiagnosisRecord("min_load_hall", msg, pids, eids, need, need - deficit))
    return out


def joint_record(problem: AssignmentProblem) -> DiagnosisRecord:
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
    el = eligibility(problem)
    recs = precheck(problem, el)
    if not recs and deep:
        recs = _check_hall(problem, el)
    return recs


def precheck(problem: AssignmentProblem, el: Eligibility) -> list[DiagnosisRecord]:
    return (
        _check_proposal_counts(problem, el)
        + _check_quota_counts(problem, el)
        + _check_capacity(problem, el)
        + _check_min_loads(problem, el)
    )
