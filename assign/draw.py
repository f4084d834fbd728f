"""Randomised assignment with a cap q on every pair's probability, and dependent rounding.

Two steps:

1. ``fractional_assignment``: maximise expected affinity sum(w * x) subject to
   sum_e x_pe = k_p, min_load_e <= sum_p x_pe <= max_load_e, 0 <= x_pe <= q, at most one
   expected expert per unit on a proposal, and the quota (if any) as a lower bound on the
   expected group count. This is the exact solver's network (``assign.flow.build_network``)
   with pair arcs of capacity q: for q = a/b every capacity and supply is multiplied by b and
   the integer min-cost flow is solved exactly; x = flow / b.
2. ``draw_assignment``: dependent rounding of that flow. Repeatedly find a cycle of arcs with
   fractional flow (one always exists, as every node's balance is an integer) and push flow
   round it one way or the other, with the probabilities that keep every arc's expected flow.
   Each push makes at least one arc integral and integral arcs never change again. So every
   pair's probability equals its marginal x_pe <= q exactly, every proposal gets exactly k_p,
   every expert's load is the floor or the ceiling of its expected load (never above max_load,
   never below min_load), one-per-unit holds, and the quota holds in every draw.

Quotas: randomised mode takes the flow form only: at most one quota kind (industry, outside or
senior) and units that do not mix members and non-members of that group. That one quota then
holds in every draw (the group arc has lower bound m_p and rounding keeps integral bounds).
Other combinations raise ``DrawInputError``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from fractions import Fraction

import numpy as np

from assign.diagnosis import (
    Eligibility,
    diagnose,
    eligibility,
    hall_record,
    joint_record,
    named_ids,
    precheck,
)
from assign.flow import Network, build_network, scaled_cost, solve_network, unique_sorted
from assign.problem import QUOTA_KINDS, AssignmentProblem, Status
from assign.result import AssignmentResult, DiagnosisRecord
from assign.solver import FlowSpec, flow_spec

MAX_DENOMINATOR = 1000
"""q is used as the nearest fraction a/b with b <= this."""


class DrawInputError(ValueError):
    """Options the randomised draw cannot take (bad q, rules outside the flow form)."""


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, eq=False)
class FractionalResult:
    """Optimal fractional assignment under the probability cap.

    marginals: (C,) probability of each candidate pair of the problem (0 for ineligible pairs);
    objective: expected total affinity sum(w * marginals); q = q_num / q_den, the cap used.
    network / scaled_flow: the flow network and its optimal integer flow (scaled by q_den),
    the input to the rounding.
    """

    status: Status
    objective: float
    q_num: int
    q_den: int
    marginals: np.ndarray
    wall_s: float
    diagnosis: tuple[str, ...] = ()
    records: tuple[DiagnosisRecord, ...] = ()
    network: Network | None = None
    scaled_flow: np.ndarray | None = None
    pair_index: np.ndarray | None = None  # (n_pairs,) candidate index of each pair arc

    @property
    def q(self) -> float:
        return self.q_num / self.q_den

    @property
    def expected_loads(self) -> np.ndarray | None:
        """(E,) expected load per expert, or None when infeasible."""
        if self.network is None or self.scaled_flow is None:
            return None
        return self._node_sum(self.network.e_node)

    def _node_sum(self, nodes: np.ndarray) -> np.ndarray:
        net, f = self.network, self.scaled_flow
        assert net is not None and f is not None
        n = net.n_pairs
        inflow = np.bincount(net.head[:n], weights=f[:n], minlength=net.n_nodes)
        return inflow[nodes] / self.q_den


@dataclass(frozen=True, eq=False)
class DrawResult:
    """One seeded draw.

    assignment: the drawn pairs (``AssignmentResult``; objective = realised affinity, bound =
    NaN as a draw proves nothing); fractional: the marginals it was drawn from; seed: the seed
    used; expected_objective / realised_objective: sum(w * x) and the drawn total;
    loads, expected_loads: (E,) drawn and expected loads.
    """

    status: Status
    assignment: AssignmentResult
    fractional: FractionalResult
    seed: int
    expected_objective: float
    realised_objective: float
    loads: np.ndarray
    expected_loads: np.ndarray
    wall_s: float
    diagnosis: tuple[str, ...] = ()

    @property
    def q(self) -> float:
        return self.fractional.q

    @property
    def marginals(self) -> np.ndarray:
        return self.fractional.marginals


# --------------------------------------------------------------------------- fractional


def as_fraction(q: float | Fraction) -> Fraction:
    """The cap q as a fraction a/b (b <= ``MAX_DENOMINATOR``), checked to be in (0, 1]."""
    try:
        fq = Fraction(q).limit_denominator(MAX_DENOMINATOR)
    except (TypeError, ValueError) as exc:
        raise DrawInputError(f"max probability q must be a number in (0, 1], got {q!r}") from exc
    if not 0 < fq <= 1:
        raise DrawInputError(
            f"max probability q must be in (0, 1], got {q}; use e.g. --max-probability 0.5"
        )
    return fq


def _spec_or_raise(problem: AssignmentProblem) -> FlowSpec:
    spec = flow_spec(problem)
    if spec is None:
        raise DrawInputError(
            "The randomised draw takes at most one quota kind (industry, outside-province or "
            "senior), and units must not mix members and non-members of that group; drop the "
            "other quotas or use the exact solver."
        )
    return spec


def _check_under_cap(
    problem: AssignmentProblem, el: Eligibility, spec: FlowSpec, q: Fraction
) -> list[DiagnosisRecord]:
    """Proposals (and quota groups) that cannot reach their demand when no pair exceeds q."""
    out: list[DiagnosisRecord] = []
    p, e = problem.cand_p[el.ok], problem.cand_e[el.ok]
    n_p, n_e = problem.n_proposals, problem.n_experts

    def reach(mask: np.ndarray) -> np.ndarray:
        """Per proposal, max expected count over the pairs in ``mask``: units give min(1, q n)."""
        pp, uu = p[mask], spec.unit[e[mask]]
        free = np.bincount(pp[uu < 0], minlength=n_p) * q.numerator
        n_u = int(spec.unit.max(initial=-1)) + 1
        if n_u:
            key, cnt = np.unique(pp[uu >= 0] * n_u + uu[uu >= 0], return_counts=True)
            per = np.minimum(cnt * q.numerator, q.denominator)
            free = free + np.bincount(key // n_u, weights=per, minlength=n_p).astype(np.int64)
        return free  # scaled by q.denominator

    got = reach(np.ones(p.size, bool))
    short = np.flatnonzero(got < problem.k * q.denominator)
    for i in short:
        pid, k = problem.proposal_ids[i], int(problem.k[i])
        can = got[i] / q.denominator
        msg = (
            f"Proposal {pid} needs k={k} experts but with no pair above probability {float(q):g} "
            f"its eligible experts can give at most {can:g} in expectation (at most one per "
            "unit); raise the max probability q, lower k or add eligible experts."
        )
        out.append(DiagnosisRecord("proposal_short_q", msg, (pid,), (), k, int(can)))
    if spec.in_group is not None and spec.quota is not None:
        got_g = reach(spec.in_group[e])
        for i in np.flatnonzero(got_g < spec.quota * q.denominator):
            pid, m = problem.proposal_ids[i], int(spec.quota[i])
            can = got_g[i] / q.denominator
            msg = (
                f"Proposal {pid} needs at least {m} quota-group experts but with no pair above "
                f"probability {float(q):g} they can give at most {can:g} in expectation; raise q, "
                "lower the quota or add eligible experts of that group."
            )
            out.append(DiagnosisRecord("quota_short_q", msg, (pid,), (), m, int(can)))
    cap_e = np.minimum(
        problem.max_load * q.denominator, np.bincount(e, minlength=n_e) * q.numerator
    )
    need = int(problem.k.sum()) * q.denominator
    if int(cap_e.sum()) < need:
        msg = (
            f"The proposals need {int(problem.k.sum())} reviews but with no pair above "
            f"probability {float(q):g} the experts can give at most "
            f"{cap_e.sum() / q.denominator:g} in expectation; raise q or max_load, or add experts."
        )
        out.append(DiagnosisRecord("capacity_q", msg, (), (), int(problem.k.sum())))
    return out


def fractional_assignment(problem: AssignmentProblem, *, q: float | Fraction) -> FractionalResult:
    """Maximise expected affinity with every pair's probability at most ``q`` (exact).

    q is taken as a fraction a/b (b <= 1000). Infeasible inputs give status INFEASIBLE and a
    diagnosis naming the proposals. Raises ``DrawInputError`` for q outside (0, 1] or rules
    outside the flow form.
    """
    t0 = time.perf_counter()
    fq = as_fraction(q)
    a, b = fq.numerator, fq.denominator
    spec = _spec_or_raise(problem)
    el = eligibility(problem)
    zero = np.zeros(problem.cand_p.size, np.float64)

    def fail(recs: list[DiagnosisRecord]) -> FractionalResult:
        return FractionalResult(
            Status.INFEASIBLE, float("nan"), a, b, zero, time.perf_counter() - t0,
            tuple(r.message for r in recs), tuple(recs),
        )  # fmt: skip

    recs = precheck(problem, el) or _check_under_cap(problem, el, spec, fq)
    if recs:
        return fail(recs)
    idx = np.flatnonzero(el.ok)
    net = build_network(
        cand_p=problem.cand_p[idx],
        cand_e=problem.cand_e[idx],
        cand_cost=scaled_cost(problem.cand_w[idx]),
        k=spec.k,
        max_load=spec.max_load,
        min_load=spec.min_load,
        unit=spec.unit,
        in_group=spec.in_group,
        quota=spec.quota,
    )
    cap = net.cap * b
    cap[: net.n_pairs] = a
    scaled = replace(net, cap=cap, supply=net.supply * b)
    sol = solve_network(scaled)
    if not sol.feasible:
        recs = diagnose(problem) or [_hall_under_cap(problem, el, fq)]
        return fail(recs)
    marg = zero.copy()
    marg[idx] = sol.flow[: net.n_pairs] / b
    obj = float(np.dot(problem.cand_w[idx], sol.flow[: net.n_pairs]) / b)
    return FractionalResult(
        Status.OPTIMAL, obj, a, b, marg, time.perf_counter() - t0, (), (), scaled, sol.flow, idx
    )


def _hall_under_cap(problem: AssignmentProblem, el: Eligibility, q: Fraction) -> DiagnosisRecord:
    """The proposals whose eligible experts cannot give them k reviews when no pair carries
    more than q (max flow with pair capacity q); where that finds none, the rules' joint
    effect (one expert per unit, quotas)."""
    hall = hall_record(problem, problem.cand_p[el.ok], problem.cand_e[el.ok], q)
    if hall is not None:
        return hall
    rec = joint_record(problem)
    msg = rec.message.replace(
        "rules together (", f"rules together with no pair above probability {float(q):g} ("
    )
    return replace(rec, kind="joint_q", message=msg + " Raising q also helps.")


# --------------------------------------------------------------------------- rounding


def round_flow(
    tail: np.ndarray,
    head: np.ndarray,
    flow: np.ndarray,
    scale: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Dependent rounding of an integer flow measured in units of 1/scale.

    tail, head, flow: (A,) arcs and their flows (int); every node's net flow must be a multiple
    of ``scale``. Returns (A,) int flows in units of 1 with E[result] = flow / scale exactly,
    each in {floor, ceil} of flow / scale and node balances kept. Walks the support of the
    fractional arcs until it closes a cycle, then pushes round that cycle; O(A + total cycle
    length) steps.
    """
    flow = np.asarray(flow, dtype=np.int64)
    out = flow // scale
    frac = np.flatnonzero(flow % scale != 0)
    if frac.size == 0:
        return out
    m = frac.size
    nodes, inv = unique_sorted(np.concatenate([tail[frac], head[frac]]), inverse=True)
    n = nodes.size
    ends = inv
    arc_of = np.concatenate([np.arange(m), np.arange(m)])
    order = np.argsort(ends, kind="stable")
    indptr = np.searchsorted(ends[order], np.arange(n + 1)).tolist()
    adj = arc_of[order].tolist()
    tl = inv[:m].tolist()
    hd = inv[m:].tolist()
    f = flow[frac].tolist()
    b = int(scale)
    ptr = indptr[:-1]
    pos = [-1] * n
    coins = rng.random(m).tolist()  # at most m pushes: each makes >= 1 arc integral
    n_coin = 0
    for s in range(n):
        path_nodes = [s]
        path_arcs: list[int] = []
        pos[s] = 0
        while path_nodes:
            v = path_nodes[-1]
            inc = path_arcs[-1] if path_arcs else -1
            i, end = ptr[v], indptr[v + 1]
            while i < end and f[adj[i]] % b == 0:
                i += 1
            ptr[v] = i
            a = -1
            if end - i <= 64:
                # small degree: close a cycle at once if a neighbour is on the walk
                for c in adj[i:end]:
                    if c != inc and f[c] % b:
                        if a < 0:
                            a = c
                        if pos[hd[c] if tl[c] == v else tl[c]] >= 0:
                            a = c
                            break
            else:
                while i < end:
                    c = adj[i]
                    if c != inc and f[c] % b:
                        a = c
                        break
                    i += 1
            if a < 0:
                # only the start of a path can run out of fractional arcs
                pos[v] = -1
                path_nodes.pop()
                if path_arcs:
                    raise AssertionError("node balance is not a multiple of the scale")
                continue
            u = hd[a] if tl[a] == v else tl[a]
            j = pos[u]
            if j < 0:
                pos[u] = len(path_nodes)
                path_nodes.append(u)
                path_arcs.append(a)
                continue
            cyc = path_arcs[j:]
            cyc.append(a)
            up = down = b
            fwd = []
            for x, c in enumerate(cyc):
                r = f[c] % b
                is_f = tl[c] == path_nodes[j + x]
                fwd.append(is_f)
                if is_f:
                    up, down = min(up, b - r), min(down, r)
                else:
                    up, down = min(up, r), min(down, b - r)
            delta = up if coins[n_coin] * (up + down) < down else -down
            n_coin += 1
            cut = -1
            for x, c in enumerate(cyc):
                f[c] += delta if fwd[x] else -delta
                if cut < 0 and f[c] % b == 0:
                    cut = x
            # keep the walk up to the first arc that became integral
            keep = j + cut
            for node in path_nodes[keep + 1 :]:
                pos[node] = -1
            del path_nodes[keep + 1 :]
            del path_arcs[keep:]
    res = np.asarray(f, dtype=np.int64)
    if np.any(res % b):
        raise AssertionError("rounding left a fractional arc")
    out[frac] = res // b
    return out


def draw_assignment(
    problem: AssignmentProblem,
    *,
    q: float | Fraction,
    seed: int,
    fractional: FractionalResult | None = None,
) -> DrawResult:
    """Draw one assignment whose pair probabilities are the optimal marginals (each <= q).

    Pass ``fractional`` (from ``fractional_assignment(problem, q=q)``) to draw many times
    without re-solving. Same ``seed`` and inputs give the same draw.
    """
    t0 = time.perf_counter()
    fr = fractional_assignment(problem, q=q) if fractional is None else fractional
    fq = as_fraction(q)
    if (fr.q_num, fr.q_den) != (fq.numerator, fq.denominator):
        raise DrawInputError(
            f"the fractional result was solved for q={fr.q:g}, not q={float(fq):g}; "
            "solve it again with the same q"
        )
    n_e = problem.n_experts
    if fr.status != Status.OPTIMAL or fr.network is None or fr.scaled_flow is None:
        empty = np.zeros(0, np.int64)
        res = AssignmentResult(
            fr.status, float("nan"), float("nan"), float("nan"), time.perf_counter() - t0,
            empty, empty, np.zeros(0), problem.proposal_ids, problem.expert_ids,
            fr.diagnosis, fr.records, False, "randomised-draw",
        )  # fmt: skip
        z = np.zeros(n_e)
        return DrawResult(
            fr.status, res, fr, seed, float("nan"), float("nan"), z.astype(np.int64), z,
            time.perf_counter() - t0, fr.diagnosis,
        )  # fmt: skip
    net = fr.network
    rng = np.random.default_rng(seed)
    rounded = round_flow(net.tail, net.head, fr.scaled_flow, fr.q_den, rng)
    assert fr.pair_index is not None
    chosen = fr.pair_index[rounded[: net.n_pairs] == 1]
    pp, pe, pw = problem.cand_p[chosen], problem.cand_e[chosen], problem.cand_w[chosen]
    order = np.lexsort((pe, pp))
    obj = float(pw.sum())
    res = AssignmentResult(
        Status.FEASIBLE, obj, float("nan"), float("nan"), time.perf_counter() - t0,
        pp[order], pe[order], pw[order], problem.proposal_ids, problem.expert_ids,
        (), (), False, "randomised-draw", 0, int(fr.pair_index.size),
    )  # fmt: skip
    exp_loads = fr.expected_loads
    assert exp_loads is not None
    return DrawResult(
        Status.FEASIBLE, res, fr, seed, fr.objective, obj, np.bincount(pe, minlength=n_e),
        exp_loads, time.perf_counter() - t0,
    )  # fmt: skip


def check_draw(problem: AssignmentProblem, draw: DrawResult) -> list[str]:
    """Rule violations of a draw (empty list: none): k per proposal, loads within [min, max]
    and within floor/ceil of the expected load, conflicts, floor, one-per-unit, quotas,
    and pairs drawn that had marginal 0."""
    out: list[str] = []
    n_p, n_e = problem.n_proposals, problem.n_experts
    p, e = draw.assignment.pair_p, draw.assignment.pair_e
    cnt = np.bincount(p, minlength=n_p)
    bad = np.flatnonzero(cnt != problem.k)
    if bad.size:
        out.append(f"proposals {named_ids(problem.proposal_ids, bad)} do not get exactly k experts")
    load = np.bincount(e, minlength=n_e)
    el = draw.expected_loads
    bad = np.flatnonzero(
        (load > problem.max_load)
        | (load < problem.min_load)
        | (load < np.floor(el + 1e-9))
        | (load > np.ceil(el - 1e-9))
    )
    if bad.size:
        out.append(f"experts {named_ids(problem.expert_ids, bad)} have a load outside the bounds")
    key = p * n_e + e
    if np.isin(key, problem.conflict_p * n_e + problem.conflict_e).any():
        out.append("a conflicted pair is assigned")
    ck = problem.cand_p * n_e + problem.cand_e
    order = np.argsort(ck)
    at = np.searchsorted(ck[order], key)
    at = np.minimum(at, max(ck.size - 1, 0))
    found = ck.size > 0 and bool(np.all(ck[order][at] == key))
    if not found and key.size:
        out.append("a pair that is not a candidate is assigned")
    elif key.size:
        ci = order[at]
        if np.any(problem.cand_w[ci] < problem.affinity_floor):
            out.append("a pair below the affinity floor is assigned")
        if np.any(draw.marginals[ci] <= 0):
            out.append("a pair with marginal 0 is assigned")
    u = problem.expert_unit[e]
    has = u >= 0
    n_u = int(problem.expert_unit.max(initial=-1)) + 1
    if has.any():
        _, uc = np.unique(p[has] * n_u + u[has], return_counts=True)
        if np.any(uc > 1):
            out.append("two experts of one unit are assigned to a proposal")
    for name, flag, quota in QUOTA_KINDS:
        g = getattr(problem, flag)[e]
        got = np.bincount(p[g], minlength=n_p)
        bad = np.flatnonzero(got < getattr(problem, quota))
        if bad.size:
            out.append(f"proposals {named_ids(problem.proposal_ids, bad)} miss the {name} quota")
    return out


def draw_summary(draw: DrawResult) -> dict[str, object]:
    """The figures of a capped draw for reports and ``--json``: the cap, the expected total
    of the optimal marginals and its ``bound`` (the LP optimum, which the exact flow reaches:
    no randomised assignment under the cap expects more), the drawn total and the largest
    pair probability used."""
    on = draw.marginals[draw.marginals > 0]
    return {
        "max_probability": draw.q,
        "expected_objective": draw.expected_objective,
        "bound": draw.expected_objective,
        "realised_objective": draw.realised_objective,
        "max_pair_probability": float(on.max()) if on.size else 0.0,
        "seed": draw.seed,
    }
