"""Reserve experts (the 1:N candidate ratio) and replacement of experts who decline.

Reserves: for each proposal p an ordered list of ceil(ratio * k_p) further experts. A reserve is
an eligible candidate of p (not conflicted, affinity >= floor), not assigned to p, and from a unit
none of p's assigned experts belongs to (experts without a unit always pass). Order: experts with
spare load (load < max_load in the given assignment) come first, then experts at their cap; within
each tier by affinity, highest first (ties: lower expert index), or, when a ``seed`` is given, in a
seeded random order weighted by affinity (sampling without replacement, probability of coming
next proportional to affinity; pairs with affinity 0 come last).

Replacement (``replace``): the declined pairs are removed and nothing else moves. Each open slot
is filled from its proposal's reserve list, first fitting reserve in order: not declined now or
before, not already on the proposal, load below max_load, no unit already on the proposal, not
conflicted, and the proposal's quotas still reachable with the slots left. Slots that no reserve
fits are filled by solving the residual problem exactly (only those slots; every other pair
fixed; loads reduced by the fixed pairs; quotas reduced by the experts kept), or by a capped
randomised draw when ``q`` is given. Declined experts are never invited to that proposal again.
Minimum loads are not enforced on replacements.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from assign.diagnosis import eligibility
from assign.draw import draw_assignment
from assign.problem import QUOTA_KINDS, AssignmentProblem, Status, pair_key, split_key
from assign.result import AssignmentResult, DiagnosisRecord
from assign.solver import solve


class ReserveInputError(ValueError):
    """Bad input to reserves or replacement (unknown pairs, declined pairs not assigned)."""


# --------------------------------------------------------------------------- helpers


def _pairs(value: AssignmentResult | np.ndarray | Iterable[tuple[int, int]]) -> np.ndarray:
    """(n, 2) int64 array of (proposal index, expert index)."""
    if isinstance(value, AssignmentResult):
        return value.pairs
    arr = np.asarray(list(value) if not isinstance(value, np.ndarray) else value, dtype=np.int64)
    if arr.size == 0:
        return np.zeros((0, 2), np.int64)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ReserveInputError(
            f"pairs must be an (n, 2) array of (proposal index, expert index), got {arr.shape}"
        )
    return arr


def _check_indices(problem: AssignmentProblem, pairs: np.ndarray, what: str) -> None:
    n_p, n_e = problem.n_proposals, problem.n_experts
    bad = (pairs[:, 0] < 0) | (pairs[:, 0] >= n_p) | (pairs[:, 1] < 0) | (pairs[:, 1] >= n_e)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ReserveInputError(
            f"{what} pair {tuple(int(x) for x in pairs[i])} is outside the problem "
            f"({n_p} proposals, {n_e} experts); pass proposal and expert indices"
        )


def _weights(problem: AssignmentProblem) -> dict[int, float]:
    """Affinity of each eligible pair, keyed p * E + e."""
    el = eligibility(problem)
    n_e = problem.n_experts
    keys = pair_key(problem.cand_p[el.ok], problem.cand_e[el.ok], n_e)
    return dict(zip(keys.tolist(), problem.cand_w[el.ok].tolist(), strict=True))


def _id_pairs(problem: AssignmentProblem, pairs: np.ndarray) -> str:
    shown = [f"({problem.proposal_ids[p]}, {problem.expert_ids[e]})" for p, e in pairs[:5]]
    more = f" and {len(pairs) - 5} more" if len(pairs) > 5 else ""
    return ", ".join(shown) + more


# --------------------------------------------------------------------------- reserves


@dataclass(frozen=True, eq=False)
class Reserves:
    """Ordered reserves: (R,) arrays res_p, res_e, res_w (affinity), rank (0 = first choice).

    ratio: the 1:N ratio used; seed: None when ordered by affinity; shortfall: diagnosis of
    proposals whose list is shorter than ceil(ratio * k_p).
    """

    proposal_ids: tuple[str, ...]
    expert_ids: tuple[str, ...]
    res_p: np.ndarray
    res_e: np.ndarray
    res_w: np.ndarray
    rank: np.ndarray
    ratio: float
    seed: int | None
    shortfall: tuple[str, ...] = ()

    def for_proposal(self, p: int) -> np.ndarray:
        """Reserve expert indices of proposal index ``p``, first choice first."""
        sel = np.flatnonzero(self.res_p == p)
        return self.res_e[sel[np.argsort(self.rank[sel], kind="stable")]]


def reserve_count(k: int, ratio: float) -> int:
    """ceil(ratio * k), with a tolerance of 1e-9 against float noise."""
    return max(0, math.ceil(ratio * k - 1e-9))


def draw_reserves(
    problem: AssignmentProblem,
    assignment: AssignmentResult | np.ndarray,
    *,
    ratio: float,
    seed: int | None = None,
) -> Reserves:
    """Reserve lists of ceil(ratio * k_p) experts per proposal (see the module rule).

    assignment: the assigned pairs ((n, 2) indices or a result). ``seed`` None: order by
    affinity; an int: seeded random order weighted by affinity.
    """
    if not (math.isfinite(ratio) and ratio >= 0):
        raise ReserveInputError(f"reserve ratio must be >= 0, got {ratio}; use e.g. 1 or 2")
    pairs = _pairs(assignment)
    _check_indices(problem, pairs, "assigned")
    n_p, n_e = problem.n_proposals, problem.n_experts
    el = eligibility(problem)
    p, e, w = problem.cand_p[el.ok], problem.cand_e[el.ok], problem.cand_w[el.ok]
    unit = problem.expert_unit
    load = np.bincount(pairs[:, 1], minlength=n_e)
    n_u = int(unit.max(initial=-1)) + 1
    taken = np.isin(pair_key(p, e, n_e), pair_key(pairs[:, 0], pairs[:, 1], n_e))
    au = unit[pairs[:, 1]]
    used_keys = pair_key(pairs[au >= 0, 0], au[au >= 0], n_u)
    ue = unit[e]
    same_unit = (ue >= 0) & np.isin(pair_key(p, ue, n_u), used_keys)
    keep = ~taken & ~same_unit
    p, e, w = p[keep], e[keep], w[keep]
    spare = load[e] < problem.max_load[e]
    if seed is None:
        score = w
    else:
        rng = np.random.default_rng(seed)
        u = rng.random(p.size)
        # weighted order without replacement: larger log(u) / w comes first
        with np.errstate(divide="ignore"):
            score = np.where(w > 0, np.log(u) / np.where(w > 0, w, 1.0), -np.inf)
    order = np.lexsort((e, -score, ~spare, p))
    p, e, w = p[order], e[order], w[order]
    start = np.searchsorted(p, np.arange(n_p))
    rank = np.arange(p.size) - start[p]
    need = np.array([reserve_count(int(k), ratio) for k in problem.k], dtype=np.int64)
    sel = rank < need[p]
    got = np.bincount(p[sel], minlength=n_p)
    short = []
    for i in np.flatnonzero(got < need):
        short.append(
            f"Proposal {problem.proposal_ids[i]} has only {got[i]} reserve experts of the "
            f"{need[i]} asked for (ratio {ratio:g}); lower the reserve ratio or add eligible "
            "experts from units not already on it."
        )
    return Reserves(
        problem.proposal_ids, problem.expert_ids, p[sel], e[sel], w[sel], rank[sel],
        float(ratio), seed, tuple(short),
    )  # fmt: skip


# --------------------------------------------------------------------------- replacement


@dataclass(frozen=True, eq=False)
class ReplacementResult:
    """Outcome of a replacement.

    status: FEASIBLE when every declined slot is filled, INFEASIBLE when some stay open (see
    ``unfilled`` and the diagnosis); assignment: the whole new assignment; from_reserve /
    from_resolve: (n, 2) pairs added from the reserve lists / by the residual solve;
    removed: the declined pairs; banned: every pair declined so far (pass it as ``excluded``
    next time); unfilled: (proposal id, open slots).
    """

    status: Status
    assignment: AssignmentResult
    removed: np.ndarray
    from_reserve: np.ndarray
    from_resolve: np.ndarray
    banned: np.ndarray
    unfilled: tuple[tuple[str, int], ...]
    wall_s: float
    diagnosis: tuple[str, ...] = ()
    records: tuple[DiagnosisRecord, ...] = ()

    @property
    def added(self) -> np.ndarray:
        """(n, 2) every pair added."""
        return np.concatenate([self.from_reserve, self.from_resolve]).reshape(-1, 2)


@dataclass
class _Team:
    """Mutable working state of one replacement (internal, never returned)."""

    problem: AssignmentProblem
    members: list[set[int]]
    load: np.ndarray
    banned: set[int]
    conflicts: set[int]
    weights: dict[int, float]

    def units(self, p: int) -> set[int]:
        u = self.problem.expert_unit
        return {int(u[x]) for x in self.members[p] if u[x] >= 0}

    def quota_gap(self, p: int, extra: int | None) -> int:
        """Largest shortfall over the quota kinds if ``extra`` joins proposal p."""
        gap = 0
        team = self.members[p] | ({extra} if extra is not None else set())
        for _, flag, quota in QUOTA_KINDS:
            m = int(getattr(self.problem, quota)[p])
            if m:
                g = getattr(self.problem, flag)
                gap = max(gap, m - sum(1 for x in team if g[x]))
        return gap

    def fits(self, p: int, r: int, open_after: int) -> bool:
        pr = self.problem
        key = p * pr.n_experts + r
        if key in self.banned or key in self.conflicts or key not in self.weights:
            return False
        if r in self.members[p] or self.load[r] >= pr.max_load[r]:
            return False
        u = int(pr.expert_unit[r])
        if u >= 0 and u in self.units(p):
            return False
        return self.quota_gap(p, r) <= open_after


def _residual(problem: AssignmentProblem, team: _Team, open_slots: np.ndarray) -> AssignmentProblem:
    """The problem of filling ``open_slots`` (P,) with every kept pair fixed."""
    n_e = problem.n_experts
    unit = problem.expert_unit
    p, e, w = problem.cand_p, problem.cand_e, problem.cand_w
    keep = open_slots[p] > 0
    keys = pair_key(p, e, n_e)
    keep &= ~np.isin(keys, np.fromiter(team.banned, np.int64, len(team.banned)))
    member_keys = np.array([q * n_e + x for q, s in enumerate(team.members) for x in s], np.int64)
    keep &= ~np.isin(keys, member_keys)
    n_u = max(int(unit.max(initial=-1)) + 1, 1)
    used = np.array(
        [q * n_u + u for q in range(len(team.members)) for u in team.units(q)], np.int64
    )
    ue = unit[e]
    keep &= ~((ue >= 0) & np.isin(pair_key(p, ue, n_u), used))
    quotas: dict[str, np.ndarray] = {}
    for _, flag, quota in QUOTA_KINDS:
        m = getattr(problem, quota)
        if np.any(m > 0):
            g = getattr(problem, flag)
            have = np.array([sum(1 for x in s if g[x]) for s in team.members], np.int64)
            quotas[quota] = np.where(open_slots > 0, np.maximum(m - have, 0), 0)
        else:
            quotas[quota] = m
    return dataclasses.replace(
        problem,
        cand_p=p[keep],
        cand_e=e[keep],
        cand_w=w[keep],
        k=open_slots,
        max_load=np.maximum(problem.max_load - team.load, 0),
        min_load=np.zeros(problem.n_experts, np.int64),
        min_industry=quotas["min_industry"],
        min_outside=quotas["min_outside"],
        min_senior=quotas["min_senior"],
    )


def replace(
    problem: AssignmentProblem,
    current: AssignmentResult | np.ndarray,
    declined: np.ndarray | Iterable[tuple[int, int]],
    reserves: Reserves | None,
    *,
    seed: int = 0,
    excluded: np.ndarray | Iterable[tuple[int, int]] = (),
    q: float | None = None,
    time_limit_s: float = 60.0,
) -> ReplacementResult:
    """Replace the ``declined`` pairs of ``current`` without moving any other pair.

    current, declined, excluded: (n, 2) (proposal index, expert index) pairs; excluded holds
    earlier declines (never re-invited). Reserves first, then the residual problem, solved
    exactly (or drawn with cap ``q`` and ``seed`` when q is given). Raises
    ``ReserveInputError`` when a declined pair is not in ``current``.
    """
    t0 = time.perf_counter()
    cur = _pairs(current)
    dec = _pairs(declined)
    exc = _pairs(excluded)
    for arr, what in ((cur, "assigned"), (dec, "declined"), (exc, "excluded")):
        _check_indices(problem, arr, what)
    n_p, n_e = problem.n_proposals, problem.n_experts
    cur_keys = pair_key(cur[:, 0], cur[:, 1], n_e)
    dec_keys = np.unique(pair_key(dec[:, 0], dec[:, 1], n_e))
    missing = ~np.isin(dec_keys, cur_keys)
    if missing.any():
        bad = _key_pairs(dec_keys[missing], n_e)
        raise ReserveInputError(
            f"declined pairs {_id_pairs(problem, bad)} are not in the current assignment; "
            "pass only pairs that were assigned"
        )
    kept = cur[~np.isin(cur_keys, dec_keys)]
    members: list[set[int]] = [set() for _ in range(n_p)]
    for p, e in kept.tolist():
        members[p].add(e)
    banned = set(dec_keys.tolist()) | set(pair_key(exc[:, 0], exc[:, 1], n_e).tolist())
    team = _Team(
        problem,
        members,
        np.bincount(kept[:, 1], minlength=n_e).astype(np.int64),
        banned,
        set(pair_key(problem.conflict_p, problem.conflict_e, n_e).tolist()),
        _weights(problem),
    )
    open_slots = np.maximum(problem.k - np.bincount(kept[:, 0], minlength=n_p), 0)
    from_reserve: list[tuple[int, int]] = []
    if reserves is not None:
        for p in np.flatnonzero(open_slots).tolist():
            for r in reserves.for_proposal(p).tolist():
                if open_slots[p] == 0:
                    break
                if team.fits(p, r, int(open_slots[p]) - 1):
                    members[p].add(r)
                    team.load[r] += 1
                    open_slots[p] -= 1
                    from_reserve.append((p, r))
    from_resolve: list[tuple[int, int]] = []
    records: list[DiagnosisRecord] = []
    todo = open_slots.copy()
    pos = {pid: i for i, pid in enumerate(problem.proposal_ids)}
    for _ in range(10):
        if not todo.any():
            break
        sub = _residual(problem, team, todo)
        if q is None:
            res = solve(sub, time_limit_s=time_limit_s)
        else:
            res = draw_assignment(sub, q=q, seed=seed).assignment
        if res.status in (Status.OPTIMAL, Status.FEASIBLE):
            for p, e in res.pairs.tolist():
                members[p].add(e)
                team.load[e] += 1
                from_resolve.append((p, e))
            open_slots -= todo
            todo[:] = 0
            break
        named = [pos[x] for r in res.records for x in r.proposal_ids if x in pos]
        for r in res.records:
            records.append(_slot_record(problem, r, todo))
        if not named:
            break
        todo[named] = 0  # leave those open; try the rest again
    unfilled = tuple(
        (problem.proposal_ids[p], int(open_slots[p])) for p in np.flatnonzero(open_slots)
    )
    pairs = np.array([(p, e) for p in range(n_p) for e in sorted(members[p])], np.int64)
    pairs = pairs.reshape(-1, 2)
    pw = np.array([team.weights.get(p * n_e + e, 0.0) for p, e in pairs.tolist()], np.float64)
    status = Status.FEASIBLE if not unfilled else Status.INFEASIBLE
    if unfilled and not records:
        records.append(
            DiagnosisRecord(
                "unfilled",
                "Proposals "
                + ", ".join(f"{pid} ({n} slot(s))" for pid, n in unfilled)
                + " keep open slots: no fitting reserve and the residual problem has no "
                "solution; add experts or raise max_load.",
                tuple(pid for pid, _ in unfilled),
            )
        )
    msgs = tuple(r.message for r in records)
    assignment = AssignmentResult(
        status, float(pw.sum()), float("nan"), float("nan"), time.perf_counter() - t0,
        pairs[:, 0], pairs[:, 1], pw, problem.proposal_ids, problem.expert_ids, msgs,
        tuple(records), False, "replacement",
    )  # fmt: skip
    ban = np.array(sorted(banned), np.int64)
    return ReplacementResult(
        status, assignment, _key_pairs(dec_keys, n_e),
        np.array(from_reserve, np.int64).reshape(-1, 2),
        np.array(from_resolve, np.int64).reshape(-1, 2),
        _key_pairs(ban, n_e), unfilled, time.perf_counter() - t0, msgs, tuple(records),
    )  # fmt: skip


def _key_pairs(keys: np.ndarray, n_e: int) -> np.ndarray:
    """(n, 2) pairs from keys ``pair_key(p, e, n_e)``."""
    return np.column_stack(split_key(keys, n_e)).reshape(-1, 2)


def _slot_record(
    problem: AssignmentProblem, rec: DiagnosisRecord, todo: np.ndarray
) -> DiagnosisRecord:
    """A residual-solve finding, restated as open declined slots."""
    if rec.proposal_ids:
        slots = ", ".join(
            f"{pid} ({int(todo[problem.proposal_ids.index(pid)])} open slot(s))"
            for pid in rec.proposal_ids[:5]
        )
        head = f"Declined slots of {slots} cannot be filled (no reserve fits): "
    else:
        head = "Declined slots cannot be filled (no reserve fits): "
    return dataclasses.replace(rec, message=head + rec.message)
