"""Max-min fair assignment: the worst-off proposal's total affinity first, then the total.

Stage 1 ("min") maximises t = the smallest affinity sum of a proposal (those with k_p > 0, plus
any fixed ``offset``); stage 2 ("total") maximises the total among assignments whose minimum
reaches the stage-1 value. Affinities are integers at 1e-6 resolution (``assign.flow.SCALE``).

**Upper bound on the minimum (proven over every eligible pair of the problem).** Sort each
proposal's eligible affinities w_1 >= w_2 >= ... If k_p experts sum to >= t, then for every
n and every i such that, for all j < n, (w_1 + .. + w_j) + (w_{i+1} + .. + w_{i+k_p-j}) < t,
at least n of them are among the proposal's top i: with j < n of them there, the sum cannot
reach t. The smallest such i for n = 1..k_p gives nested rules "at least n of the top i_n".
Nested rules per proposal and the experts' loads form a max flow (one slot per rule, slot n
fed by the top i_n); when it cannot fill every slot, no assignment reaches t. Units, quotas,
minimum loads and the exact k are left out, so this is a relaxation: bisection over integer t
(first probing one step above the plain optimum's minimum) gives ``min_bound``, the largest t
it cannot rule out, and t* <= min_bound. Rules are looked for among each proposal's top
``RULE_DEPTH_PER_K x max k`` experts only; a deeper rule left out makes the bound less tight,
never wrong.

**Assignment.** An integer program (HiGHS) over a candidate set of pairs, with every rule of
the exact solver, "sum >= t" for each proposal, the nested rules above as cuts, and the total
as objective. The candidates are each proposal's pairs down to its deepest rule (at least
``30 x k_p``), each expert's best proposals and the plain optimum; where they admit no
solution they are widened, and t is lowered by bisection towards the best minimum found.
The first t tried is ``min_bound`` itself, so the gap is zero whenever the bound is reached.

HiGHS runs on one thread and every step is a fixed sequence, so the same input gives the same
answer; only a time limit reached mid-way can cut the search short (the stage's status then
says ``time_limit``). Neither stage builds a model over every pair of a dense matrix: the
bound's flow holds each proposal's pairs down to its deepest rule, and the program the
candidates.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse.csgraph import maximum_flow

from assign.diagnosis import eligibility, precheck
from assign.flow import SCALE, scaled_cost
from assign.ip_solvers import mip_matrices
from assign.problem import AssignmentProblem, Status
from assign.result import AssignmentResult, failed_result
from assign.solver import solve

DEPTH_PER_K = 30
"""Each proposal's candidates reach at least this many times k_p down its ranking."""
RULE_DEPTH_PER_K = 60
"""Rules are looked for among each proposal's top 60 x max(k) experts (deeper rules, left
out, would only tighten the bound)."""
MAX_DEPTH_PER_K = 480
"""Candidates are widened (x4) up to this depth before a target is given up on."""


@dataclass(frozen=True)
class Stage:
    """One stage of the lexicographic solve: its status (optimal | feasible | time_limit),
    the value reached, a proven upper bound on it, and the relative gap between them."""

    name: str
    status: str
    value: float
    bound: float
    wall_s: float

    @property
    def gap(self) -> float:
        return max(0.0, (self.bound - self.value) / max(abs(self.bound), 1e-9))

    def to_dict(self) -> dict[str, object]:
        return {
            "stage": self.name, "status": self.status, "objective": self.value,
            "bound": self.bound, "gap": self.gap, "wall_s": self.wall_s,
        }  # fmt: skip


@dataclass(frozen=True, eq=False)
class FairResult:
    """Max-min result and the plain optimum side by side.

    assignment: the fair assignment (objective = its total affinity); min_affinity / total:
    its worst proposal's affinity sum and total; plain_*: the same for the plain optimum;
    price_of_fairness = plain_total - total (>= 0); min_gain = min_affinity - plain_min (>= 0);
    min_bound: a proven upper bound on the max-min (>= min_affinity; equal when proven);
    stages: the "min" and "total" stages with status, value and bound each.
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
    stages: tuple[Stage, ...] = ()

    @property
    def price_of_fairness(self) -> float:
        return self.plain_total - self.total

    @property
    def min_gain(self) -> float:
        return self.min_affinity - self.plain_min_affinity

    @property
    def min_gap(self) -> float:
        """(min_bound - min_affinity) / min_bound: 0 when the max-min is proven."""
        return max(0.0, (self.min_bound - self.min_affinity) / max(abs(self.min_bound), 1e-9))


@dataclass(frozen=True, eq=False)
class _Ranked:
    """Eligible pairs sorted by proposal, then affinity (descending), then expert.

    p, e: (C,) int64; c: (C,) integer affinity; start: (P + 1,) row offsets; rank: (C,)
    position within the row; csum: (C + 1,) running sum of c; cut: (P,) rows holding only
    their top entries (``_prefix``)."""

    p: np.ndarray
    e: np.ndarray
    c: np.ndarray
    idx: np.ndarray  # (C,) index into the problem's candidates
    start: np.ndarray
    rank: np.ndarray
    csum: np.ndarray
    cut: np.ndarray


def _ranked(problem: AssignmentProblem, ok: np.ndarray) -> _Ranked:
    idx = np.flatnonzero(ok)
    p, e = problem.cand_p[idx], problem.cand_e[idx]
    c = -scaled_cost(problem.cand_w[idx])
    span = int(c.max(initial=0)) - int(c.min(initial=0)) + 1
    if problem.n_proposals * span * problem.n_experts < 2**62:  # one int64 sort key
        key = (p * span + (int(c.max(initial=0)) - c)) * np.int64(problem.n_experts) + e
        order = np.argsort(key, kind="stable")
    else:
        order = np.lexsort((e, -c, p))
    p, e, c, idx = p[order], e[order], c[order], idx[order]
    start = np.searchsorted(p, np.arange(problem.n_proposals + 1)).astype(np.int64)
    rank = np.arange(p.size, dtype=np.int64) - start[p]
    csum = np.concatenate([[0], np.cumsum(c)]).astype(np.int64)
    return _Ranked(p, e, c, idx, start, rank, csum, np.zeros(problem.n_proposals, bool))


def _prefix(r: _Ranked, depth: int) -> _Ranked:
    """Each row's top ``depth`` entries. Rules found on them hold for the whole rows (a window
    running past a cut row's end is left undecided), so a bound from them stays proven."""
    keep = r.rank < depth
    p = r.p[keep]
    start = np.searchsorted(p, np.arange(r.start.size)).astype(np.int64)
    c = r.c[keep]
    csum = np.concatenate([[0], np.cumsum(c)]).astype(np.int64)
    cut = np.diff(r.start) > depth
    return _Ranked(p, r.e[keep], c, r.idx[keep], start, r.rank[keep], csum, cut)


def _rules(r: _Ranked, k: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(P, max k) int64: i_n, the smallest top-i holding n of any k_p experts that reach the
    proposal's ``target`` (integer), or -1 where no such rule; 0 means the target is out of
    reach altogether (the proposal's k_p best sum to less)."""
    n_p = k.size
    k_max = int(k.max(initial=0))
    out = np.full((n_p, k_max), -1, dtype=np.int64)
    if r.p.size == 0 or k_max == 0:
        out[:, :] = np.where(target[:, None] > 0, 0, -1)
        return out
    row_start, row_end = r.start[r.p], r.start[r.p + 1]
    kp, tp = k[r.p], target[r.p]
    cond = np.ones(r.p.size, dtype=bool)
    for n in range(1, k_max + 1):
        j = n - 1  # add the condition for j = n - 1 to those for j < n - 1
        top_j = r.csum[np.minimum(row_start + j, row_end)] - r.csum[row_start]
        lo = row_start + r.rank
        end = lo + np.maximum(kp - j, 0)
        win = r.csum[np.minimum(end, row_end)] - r.csum[lo]
        known = (end <= row_end) | ~r.cut[r.p]
        cond &= (j > r.rank) | (known & (top_j + win < tp))
        hit = cond & (kp >= n)
        first = np.full(n_p, -1, dtype=np.int64)
        at = np.flatnonzero(hit)
        lead = at[np.r_[True, r.p[at][1:] != r.p[at][:-1]]] if at.size else at
        first[r.p[lead]] = r.rank[lead]
        out[:, n - 1] = first
    # a proposal whose eligible list runs out before any rule: out of reach if its k_p best
    # (all it has) sum below the target
    best = r.csum[np.minimum(r.start[:-1] + k, r.start[1:])] - r.csum[r.start[:-1]]
    short = (best < target) & (out[:, 0] < 0) & (k > 0)
    out[short, 0] = 0
    return out


def _relaxation_feasible(
    r: _Ranked, rules: np.ndarray, max_load: np.ndarray, active: np.ndarray
) -> bool:
    """Can the experts' loads fill every rule's slot (see the module docstring)?"""
    rules = np.where(active[:, None], rules, -1)
    if np.any(rules == 0):
        return False
    n_slots = (rules > 0).sum(axis=1)
    total = int(n_slots.sum())
    if total == 0:
        return True
    n_e = max_load.size
    deepest = np.where(n_slots > 0, rules.max(axis=1), 0)
    keep = r.rank < deepest[r.p]
    kp, ke, kr = r.p[keep], r.e[keep], r.rank[keep]
    # the slots of proposal p are nodes base[p] .. base[p] + n_slots[p] - 1, rule n at n - 1
    base = 2 + n_e + np.concatenate([[0], np.cumsum(n_slots)[:-1]])
    lvl = np.where(rules > 0, rules, np.iinfo(np.int64).max)
    band = (kr[:, None] >= lvl[kp]).sum(axis=1)  # rules it is too deep for
    src, sink = 0, 1
    slot = 2 + n_e + np.arange(total)
    slot_p = np.repeat(np.arange(rules.shape[0]), n_slots)
    chain = slot[:-1][slot_p[1:] == slot_p[:-1]]
    tails = np.concatenate([np.full(n_e, src), 2 + ke, chain, slot])
    heads = np.concatenate([2 + np.arange(n_e), base[kp] + band, chain + 1, np.full(total, sink)])
    caps = np.concatenate(
        [max_load, np.ones(kp.size), np.full(chain.size, total), np.ones(total)]
    ).astype(np.int32)
    n_nodes = 2 + n_e + total
    g = sp.csr_matrix((caps, (tails, heads)), shape=(n_nodes, n_nodes))
    return int(maximum_flow(g, src, sink).flow_value) >= total


def _bound(
    r: _Ranked,
    k: np.ndarray,
    max_load: np.ndarray,
    active: np.ndarray,
    offset: np.ndarray,
    lo: int,
) -> int:
    """Largest integer t the relaxation cannot rule out (t* <= it); ``lo`` is reachable."""
    best = r.csum[np.minimum(r.start[:-1] + k, r.start[1:])] - r.csum[r.start[:-1]] + offset
    hi = int(best[active].min()) + 1 if active.any() else lo + 1  # out of reach
    first = True
    while hi - lo > 1:
        mid = lo + 1 if first else (lo + hi) // 2  # often nothing beats the plain optimum
        first = False
        if _relaxation_feasible(r, _rules(r, k, mid - offset), max_load, active):
            lo = mid
        else:
            hi = mid
    return lo


def _candidates(
    r: _Ranked, rules: np.ndarray, k: np.ndarray, plain: np.ndarray, depth_per_k: int
) -> np.ndarray:
    """(C,) bool over ``r``: each row down to its deepest rule (at least depth_per_k x k_p),
    each expert's best 2 x depth_per_k proposals, and the plain optimum's pairs."""
    deepest = np.maximum(rules.max(axis=1, initial=0), depth_per_k * k)
    keep = r.rank < deepest[r.p]
    by_e = np.lexsort((r.p, -r.c, r.e))
    e_sorted = r.e[by_e]
    e_start = np.searchsorted(e_sorted, e_sorted, side="left")
    keep[by_e[np.arange(r.e.size) - e_start < 2 * depth_per_k]] = True
    return keep | plain


def _mip(
    problem: AssignmentProblem,
    r: _Ranked,
    sel: np.ndarray,
    rules: np.ndarray,
    target: np.ndarray,
    active: np.ndarray,
    time_limit_s: float,
) -> tuple[str, np.ndarray | None]:
    """Best total with every active proposal at >= its target, over the pairs ``sel`` of
    ``r``. Returns (status, chosen pairs as a bool mask over ``r`` or None): status optimal
    (proven over ``sel``), feasible (time limit, a solution), infeasible, time_limit (none)."""
    at = np.flatnonzero(sel)
    p, e, c = r.p[at], r.e[at], r.c[at]
    n_c, col, n_p = at.size, np.arange(at.size), problem.n_proposals
    cons = mip_matrices(problem, p, e)
    act = active & (target > 0)
    cons.append(
        LinearConstraint(
            sp.csr_matrix((c.astype(np.float64), (p, col)), shape=(n_p, n_c))[act],
            target[act].astype(np.float64),
            np.inf,
        )
    )
    rows, cols, lbs = [], [], []
    n_rows = 0
    for n in range(1, rules.shape[1] + 1):
        i_n = np.where(act, rules[:, n - 1], -1)
        has = np.flatnonzero(i_n > 0)
        row_of = np.full(n_p, -1)
        row_of[has] = n_rows + np.arange(has.size)
        inside = (i_n[p] > 0) & (r.rank[at] < i_n[p])
        rows.append(row_of[p[inside]])
        cols.append(col[inside])
        lbs.append(np.full(has.size, n, dtype=np.float64))
        n_rows += has.size
    if n_rows:
        ri = np.concatenate(rows)
        cut = sp.csr_matrix((np.ones(ri.size), (ri, np.concatenate(cols))), shape=(n_rows, n_c))
        cons.append(LinearConstraint(cut, np.concatenate(lbs), np.inf))
    res = milp(
        -c.astype(np.float64),
        constraints=cons,
        integrality=np.ones(n_c),
        bounds=Bounds(0, 1),
        options={"time_limit": max(float(time_limit_s), 0.01), "mip_rel_gap": 0.0},
    )
    if res.status == 2:
        return "infeasible", None
    if res.x is None:
        return "time_limit", None
    chosen = np.zeros(r.p.size, dtype=bool)
    chosen[at[res.x > 0.5]] = True
    return ("optimal" if res.status == 0 else "feasible"), chosen


def _sums(
    problem: AssignmentProblem, p: np.ndarray, c: np.ndarray, offset: np.ndarray
) -> np.ndarray:
    return np.bincount(p, weights=c, minlength=problem.n_proposals).astype(np.int64) + offset


def solve_fair(
    problem: AssignmentProblem,
    *,
    time_limit_s: float = 60.0,
    workers: int = 2,
    plain: AssignmentResult | None = None,
    offset: np.ndarray | None = None,
    active: np.ndarray | None = None,
    tolerance: float = 1e-4,
) -> FairResult:
    """Maximise the minimum proposal affinity sum, then the total among those assignments.

    ``plain``: the plain optimum if already solved (else it is solved here). ``offset``: (P,)
    affinity already fixed on each proposal (pairs assigned beforehand), counted in its sum;
    ``active``: (P,) bool, the proposals whose sum is the minimum (default k_p > 0).
    ``time_limit_s`` bounds the whole search (``workers`` is passed to the plain solve);
    ``tolerance``: the search for the minimum stops once a target this fraction of the bound
    above the best minimum found is given up on (0: search until proven).
    Status OPTIMAL when both stages are proven, FEASIBLE otherwise (see ``stages`` for which
    and the bounds), INFEASIBLE with a diagnosis when no assignment exists.
    """
    t0 = time.perf_counter()
    deadline = t0 + float(time_limit_s)
    off = np.rint(
        np.zeros(problem.n_proposals) if offset is None else np.asarray(offset) * SCALE
    ).astype(np.int64)
    act = problem.k > 0 if active is None else np.asarray(active, dtype=bool)
    el = eligibility(problem)
    recs = precheck(problem, el)
    if recs:
        res = failed_result(problem, recs, t0, "fair", Status.INFEASIBLE, int(el.ok.sum()))
        return _failed(res, plain, t0)
    if plain is None:
        plain = solve(problem, time_limit_s=time_limit_s, workers=workers)
    if plain.status not in (Status.OPTIMAL, Status.FEASIBLE):
        return _failed(plain, plain, t0)
    r = _ranked(problem, el.ok)
    top = _prefix(r, RULE_DEPTH_PER_K * max(int(problem.k.max(initial=0)), 1))
    key = r.p * np.int64(problem.n_experts) + r.e
    in_plain = np.isin(key, plain.pair_p * np.int64(problem.n_experts) + plain.pair_e)
    plain_sum = _sums(problem, r.p[in_plain], r.c[in_plain], off)
    lo = int(plain_sum[act].min()) if act.any() else 0
    bound = _bound(top, problem.k, problem.max_load, act, off, lo)
    best, best_min, best_mip, best_whole = in_plain, lo, "", False
    min_status = "optimal" if lo >= bound else "feasible"
    hi, target, depth = bound + 1, bound, DEPTH_PER_K  # hi: smallest target given up on
    while target > best_min and min_status == "feasible":
        left = deadline - time.perf_counter()
        if left <= 0:
            min_status = "time_limit"
            break
        rules = _rules(top, problem.k, target - off)
        sel = _candidates(r, rules, problem.k, in_plain, depth)
        st, chosen = _mip(problem, r, sel, rules, target - off, act, left)
        if st == "infeasible" and not sel.all() and depth < MAX_DEPTH_PER_K:
            depth *= 4  # the candidates may be too narrow for t: widen before giving up
            continue
        if chosen is not None:
            best, best_mip, best_whole = chosen, st, bool(sel.all())
            best_min = int(_sums(problem, r.p[chosen], r.c[chosen], off)[act].min())
        elif st == "time_limit":
            min_status = "time_limit"
        else:
            hi = target
            if sel.all():  # no assignment at all reaches the target
                bound = target - 1
        if st == "feasible":
            min_status = "time_limit"
        elif hi - best_min <= max(1, int(abs(bound) * tolerance)):
            break
        target = (best_min + hi) // 2
    if best_min >= bound:
        min_status = "optimal"
    pp, pe = r.p[best], r.e[best]
    pw = problem.cand_w[r.idx[best]]
    order = np.lexsort((pe, pp))
    total = float(pw.sum())
    total_bound = plain.bound if np.isfinite(plain.bound) else plain.objective
    from_plain = best is in_plain
    if from_plain and plain.certified:
        total_status, total_bound = "optimal", total
    elif from_plain:
        total_status = "feasible"
    elif best_mip == "optimal" and best_whole:  # proven over every eligible pair
        total_status, total_bound = "optimal", total
    else:
        total_status = "time_limit" if best_mip == "feasible" else "feasible"
    wall = time.perf_counter() - t0
    stages = (
        Stage("min", min_status, best_min / SCALE, bound / SCALE, wall),
        Stage("total", total_status, total, float(total_bound), wall),
    )
    proven = all(s.status == "optimal" for s in stages)
    status = Status.OPTIMAL if proven else Status.FEASIBLE
    res = AssignmentResult(
        status, total, float(total_bound), stages[1].gap, wall, pp[order], pe[order],
        pw[order], problem.proposal_ids, problem.expert_ids, (), (), proven,
        "fair: plain optimum meets the bound" if from_plain else "fair-mip", 0, int(r.p.size),
    )  # fmt: skip
    return FairResult(
        status, res, best_min / SCALE, total, plain, _min_of(plain, act, off, problem),
        float(plain.objective), wall, (), bound / SCALE, stages,
    )  # fmt: skip


def _min_of(
    res: AssignmentResult, act: np.ndarray, off: np.ndarray, problem: AssignmentProblem
) -> float:
    """Smallest affinity sum (offset included) over the active proposals (NaN when none)."""
    per = np.bincount(res.pair_p, weights=res.pair_w, minlength=problem.n_proposals) + off / SCALE
    return float(per[act].min()) if act.any() else float("nan")


def _failed(res: AssignmentResult, plain: AssignmentResult | None, t0: float) -> FairResult:
    nan = float("nan")
    return FairResult(
        res.status, res, nan, nan, plain, nan, nan, time.perf_counter() - t0, res.diagnosis
    )


def fair_summary(fr: FairResult) -> dict[str, object]:
    """The figures of a fair solve for reports and ``--json``: fair_min (the worst-off
    proposal's affinity), fair_min_bound (a proven upper bound on it), fair_gap, the total and
    the plain optimum's figures beside them, and each stage's status, value and bound."""
    return {
        "fair_min": fr.min_affinity,
        "fair_min_bound": fr.min_bound,
        "fair_gap": fr.min_gap,
        "fair_total": fr.total,
        "plain_min": fr.plain_min_affinity,
        "plain_total": fr.plain_total,
        "price_of_fairness": fr.price_of_fairness,
        "stages": [s.to_dict() for s in fr.stages],
    }
