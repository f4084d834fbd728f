"""Panel review (会评) formation: one panel of experts per group of proposals, by CP-SAT.

A group is the set of proposals one panel hears: one guide direction by default, a programme
(first digit of the direction code) or groups given by the officer (see ``group_proposals``).
For each group ``g`` the solver picks a panel of odd size ``n[g]`` such that

- each expert sits on at most one panel;
- every proposal of the group keeps at least ``n_min[g]`` members who are not conflicted with
  it (a conflicted member recuses for that proposal only);
- at most one expert per unit sits on a panel;
- at least ``min_industry[g]`` industry (产业) and ``min_finance[g]`` finance (财务/经济)
  experts sit on it.

Objective (maximised): the panels' total affinity, i.e. the sum over groups, over the members
of the group's panel, of the member's affinity to each proposal of the group that the member
is not conflicted with (a sum, not a mean: a member counts once per proposal heard).

Only experts with a non-conflicted candidate pair to a group are candidates for it, and of those
only the ``top_n`` best by aggregated affinity (plus a reserve of the best industry / finance
experts where a quota asks for them), so that the model keeps ``x[g, e]`` booleans for a few
dozen experts per group however large the pool is. With ``top_n=None`` every candidate is kept
and the optimum is exact for the whole pool; otherwise it is exact for the pruned lists.

The leader (组长) of each panel is chosen after the solve, deterministically: senior (正高) first,
then level A > B > C > unknown, then higher aggregated affinity to the group, then expert id.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Literal

import networkx as nx
import numpy as np
from ortools.sat.python import cp_model

from assign.problem import Status, pair_key, split_key

__all__ = [
    "ExpertKind",
    "PanelInputError",
    "PanelProblem",
    "PanelResult",
    "group_proposals",
    "solve_panels",
]

_SCALE = 10_000  # affinity units per objective unit in the integer model
_LEVEL_RANK = {"A": 0, "B": 1, "C": 2, "": 3}


class ExpertKind(StrEnum):
    """What an expert brings to a panel."""

    ACADEMIC = "academic"  # 科技
    INDUSTRY = "industry"  # 产业
    FINANCE = "finance"  # 财务/经济


class PanelInputError(ValueError):
    """The panel problem's input is inconsistent; the message names the ids and the fix."""


def _frozen(value: object, dtype: type | str, n: int, name: str) -> np.ndarray:
    arr = np.asarray(value, dtype=dtype)
    if arr.ndim == 0:
        item = arr.item()
        arr = np.full(n, item) if dtype is str else np.full(n, item, dtype=dtype)
    if arr.shape != (n,):
        raise PanelInputError(f"{name} must have length {n}, got shape {arr.shape}")
    arr = arr.copy()
    arr.setflags(write=False)
    return arr


def _scalar(value: object) -> np.ndarray:
    """A 0-d array: the default of a per-expert or per-group field, broadcast on validation."""
    return np.asarray(value)


def _first_duplicate(ids: Sequence[str]) -> str | None:
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            return i
        seen.add(i)
    return None


def group_proposals(
    directions: Sequence[str],
    *,
    by: Literal["direction", "programme"] = "direction",
) -> tuple[tuple[str, ...], np.ndarray]:
    """Group proposals by guide direction (4-digit code) or by programme (its first digit).

    directions: (P,) direction code of each proposal, e.g. "3001".
    Returns (group_ids, proposal_group): the sorted distinct group ids and a (P,) int array
    giving each proposal's group index. Officer-made groups are passed to ``PanelProblem``
    directly.
    """
    if by not in ("direction", "programme"):
        raise PanelInputError(f"by must be 'direction' or 'programme', got {by!r}")
    keys: list[str] = []
    for i, d in enumerate(directions):
        code = str(d).strip()
        if not code:
            raise PanelInputError(
                f"proposal at position {i} has an empty direction code; give its 4-digit code"
            )
        keys.append(code if by == "direction" else code[0])
    group_ids = tuple(sorted(set(keys)))
    index = {g: i for i, g in enumerate(group_ids)}
    return group_ids, np.array([index[k] for k in keys], dtype=np.int64)


@dataclass(frozen=True, eq=False)
class PanelProblem:
    """Panel formation input as plain arrays.

    group_ids: (G,) external ids of the groups (one panel each).
    proposal_ids: (P,) external ids; proposal_group: (P,) int group index of each proposal.
    expert_ids: (E,) external ids.
    cand_p, cand_e: (C,) int indices of (proposal, expert) affinity pairs; cand_w: (C,) affinity
        >= 0 (typically in [0, 1]). An expert is a candidate for a group only through these.
    expert_unit: (E,) int unit index, -1 where unknown (an unknown unit never clashes).
    expert_kind: (E,) "academic" / "industry" / "finance" (default all academic).
    is_senior: (E,) bool, title 正高. expert_level: (E,) "A" / "B" / "C" / "" (unknown).
    conflict_p, conflict_e: (X,) conflicted (proposal, expert) pairs: the expert recuses for it.
    n: (G,) odd panel size; n_min: (G,) non-conflicted members each proposal keeps;
    min_industry, min_finance: (G,) make-up quotas.
    Every array field also takes a sequence, or a scalar / 0-d array that is broadcast to all
    experts or groups; the stored arrays are read-only copies.
    """

    group_ids: tuple[str, ...]
    proposal_ids: tuple[str, ...]
    proposal_group: np.ndarray
    expert_ids: tuple[str, ...]
    cand_p: np.ndarray
    cand_e: np.ndarray
    cand_w: np.ndarray
    expert_unit: np.ndarray = field(default_factory=lambda: _scalar(-1))
    expert_kind: np.ndarray = field(default_factory=lambda: _scalar(ExpertKind.ACADEMIC.value))
    is_senior: np.ndarray = field(default_factory=lambda: _scalar(False))
    expert_level: np.ndarray = field(default_factory=lambda: _scalar(""))
    conflict_p: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    conflict_e: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    n: np.ndarray = field(default_factory=lambda: _scalar(7))
    n_min: np.ndarray = field(default_factory=lambda: _scalar(5))
    min_industry: np.ndarray = field(default_factory=lambda: _scalar(0))
    min_finance: np.ndarray = field(default_factory=lambda: _scalar(0))

    def __post_init__(self) -> None:
        s = object.__setattr__
        for name, what in (
            ("group_ids", "group"),
            ("proposal_ids", "proposal"),
            ("expert_ids", "expert"),
        ):
            ids = tuple(str(i) for i in getattr(self, name))
            dup = _first_duplicate(ids)
            if dup is not None:
                raise PanelInputError(
                    f"{what} id {dup} is listed more than once; ids must be unique"
                )
            s(self, name, ids)
        n_g, n_p, n_e = len(self.group_ids), len(self.proposal_ids), len(self.expert_ids)

        s(self, "proposal_group", _frozen(self.proposal_group, np.int64, n_p, "proposal_group"))
        bad = np.flatnonzero((self.proposal_group < 0) | (self.proposal_group >= n_g))
        if bad.size:
            p = int(bad[0])
            raise PanelInputError(
                f"proposal {self.proposal_ids[p]} has group index {self.proposal_group[p]}, "
                f"outside 0..{n_g - 1}; give a valid group"
            )
        empty = np.flatnonzero(np.bincount(self.proposal_group, minlength=n_g) == 0)
        if empty.size:
            names = ", ".join(self.group_ids[int(g)] for g in empty[:5])
            raise PanelInputError(f"group(s) {names} have no proposals; drop them or add proposals")

        cand_p = np.asarray(self.cand_p, dtype=np.int64).ravel()
        c = cand_p.shape[0]
        s(self, "cand_p", _frozen(cand_p, np.int64, c, "cand_p"))
        s(self, "cand_e", _frozen(self.cand_e, np.int64, c, "cand_e"))
        s(self, "cand_w", _frozen(self.cand_w, np.float64, c, "cand_w"))
        self._check_pairs(self.cand_p, self.cand_e, "cand")
        bad = np.flatnonzero(~np.isfinite(self.cand_w) | (self.cand_w < 0))
        if bad.size:
            i = int(bad[0])
            raise PanelInputError(
                f"affinity of pair ({self.proposal_ids[self.cand_p[i]]}, "
                f"{self.expert_ids[self.cand_e[i]]}) is {self.cand_w[i]}; "
                "give a finite number >= 0"
            )
        if c:
            uniq, counts = np.unique(pair_key(self.cand_p, self.cand_e, n_e), return_counts=True)
            if np.any(counts > 1):
                d = int(uniq[counts > 1][0])
                raise PanelInputError(
                    f"affinity pair ({self.proposal_ids[d // n_e]}, {self.expert_ids[d % n_e]}) "
                    "is listed more than once; give each pair once"
                )
        xp = np.asarray(self.conflict_p, dtype=np.int64).ravel()
        s(self, "conflict_p", _frozen(xp, np.int64, xp.shape[0], "conflict_p"))
        s(self, "conflict_e", _frozen(self.conflict_e, np.int64, xp.shape[0], "conflict_e"))
        self._check_pairs(self.conflict_p, self.conflict_e, "conflict")

        s(self, "expert_unit", _frozen(self.expert_unit, np.int64, n_e, "expert_unit"))
        s(self, "expert_kind", _frozen(self.expert_kind, str, n_e, "expert_kind"))
        kinds = {k.value for k in ExpertKind}
        bad = np.flatnonzero(~np.isin(self.expert_kind, list(kinds)))
        if bad.size:
            e = int(bad[0])
            raise PanelInputError(
                f"expert {self.expert_ids[e]} has kind {str(self.expert_kind[e])!r}; "
                "use academic, industry or finance"
            )
        s(self, "is_senior", _frozen(self.is_senior, bool, n_e, "is_senior"))
        s(self, "expert_level", _frozen(self.expert_level, str, n_e, "expert_level"))
        bad = np.flatnonzero(~np.isin(self.expert_level, list(_LEVEL_RANK)))
        if bad.size:
            e = int(bad[0])
            raise PanelInputError(
                f"expert {self.expert_ids[e]} has level {str(self.expert_level[e])!r}; "
                "use A, B, C or '' (unknown)"
            )

        for name in ("n", "n_min", "min_industry", "min_finance"):
            s(self, name, _frozen(getattr(self, name), np.int64, n_g, name))
        for g in range(n_g):
            n, n_min = int(self.n[g]), int(self.n_min[g])
            gid = self.group_ids[g]
            if n < 1 or n % 2 == 0:
                raise PanelInputError(f"group {gid}: panel size n = {n}; use an odd n >= 1")
            if not 0 <= n_min <= n:
                raise PanelInputError(f"group {gid}: n_min = {n_min}; use 0 <= n_min <= n = {n}")
            mi, mf = int(self.min_industry[g]), int(self.min_finance[g])
            if mi < 0 or mf < 0 or mi + mf > n:
                raise PanelInputError(
                    f"group {gid}: min_industry = {mi} and min_finance = {mf}; "
                    f"use quotas >= 0 that sum to at most n = {n}"
                )

    def _check_pairs(self, p: np.ndarray, e: np.ndarray, what: str) -> None:
        n_p, n_e = len(self.proposal_ids), len(self.expert_ids)
        if p.size and (p.min() < 0 or p.max() >= n_p):
            raise PanelInputError(f"{what}_p holds an index outside 0..{n_p - 1}")
        if e.size and (e.min() < 0 or e.max() >= n_e):
            raise PanelInputError(f"{what}_e holds an index outside 0..{n_e - 1}")

    @property
    def n_groups(self) -> int:
        return len(self.group_ids)

    @property
    def n_proposals(self) -> int:
        return len(self.proposal_ids)

    @property
    def n_experts(self) -> int:
        return len(self.expert_ids)


@dataclass(frozen=True)
class PanelResult:
    """Outcome of ``solve_panels``.

    objective: total affinity of the panels (see the module docstring), None without a solution.
    bound: upper bound on the objective proven by the solver (pruned candidate lists).
    gap: (bound - objective) / bound, 0 when optimal; None without a solution.
    panels: group id -> expert ids of the panel (sorted by id). leaders: group id -> expert id.
    members_per_proposal: proposal id -> number of panel members not conflicted with it.
    diagnosis: why the panels cannot be formed (one line per finding); empty when solved.
    n_variables: number of x[g, e] booleans in the model (candidates after pruning).
    """

    status: Status
    objective: float | None
    bound: float | None
    gap: float | None
    wall_s: float
    panels: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    leaders: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    members_per_proposal: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    diagnosis: tuple[str, ...] = ()
    n_variables: int = 0

    @property
    def message(self) -> str:
        """The diagnosis as one text block (empty when solved)."""
        return "\n".join(self.diagnosis)


@dataclass(frozen=True, eq=False)
class _Candidates:
    """Per-group candidate lists, sorted by group; var v is x[var_g[v], var_e[v]].

    weight: (V,) aggregated non-conflicted affinity of expert var_e[v] to group var_g[v].
    start: (G + 1,) vars of group g are start[g]:start[g + 1].
    recusal: proposal index -> (vars of the proposal's group conflicted with it).
    """

    var_g: np.ndarray
    var_e: np.ndarray
    weight: np.ndarray
    start: np.ndarray
    recusal: dict[int, np.ndarray]


def _candidates(problem: PanelProblem, top_n: int | None) -> _Candidates:
    """Aggregate pair affinity per (group, expert) and keep the best ``top_n`` per group."""
    n_e, n_g = problem.n_experts, problem.n_groups
    cand_g = problem.proposal_group[problem.cand_p]
    conflict_key = pair_key(problem.conflict_p, problem.conflict_e, n_e)
    ok = ~np.isin(pair_key(problem.cand_p, problem.cand_e, n_e), conflict_key)
    key = pair_key(cand_g[ok], problem.cand_e[ok], n_e)
    uniq, inv = np.unique(key, return_inverse=True)
    weight = np.bincount(inv, weights=problem.cand_w[ok], minlength=uniq.size)
    var_g, var_e = split_key(uniq, n_e)
    if top_n is not None:
        order = np.lexsort((var_e, -weight, var_g))  # by group, best first, then id index
        var_g, var_e, weight = var_g[order], var_e[order], weight[order]
        start = np.searchsorted(var_g, np.arange(n_g + 1))
        rank = np.arange(var_g.size) - start[var_g]
        keep = rank < top_n
        for kind, quota in (
            (ExpertKind.INDUSTRY, problem.min_industry),
            (ExpertKind.FINANCE, problem.min_finance),
        ):
            is_kind = problem.expert_kind[var_e] == kind.value
            kind_rank = np.zeros(var_g.size, dtype=np.int64)
            idx = np.flatnonzero(is_kind)
            if idx.size:
                kg = var_g[idx]
                first = np.searchsorted(kg, kg)  # position of the group's first kind member
                kind_rank[idx] = np.arange(idx.size) - first
            keep |= is_kind & (quota[var_g] > 0) & (kind_rank < max(top_n // 2, 1))
        var_g, var_e, weight = var_g[keep], var_e[keep], weight[keep]
        order = np.lexsort((var_e, var_g))
        var_g, var_e, weight = var_g[order], var_e[order], weight[order]
    start = np.searchsorted(var_g, np.arange(n_g + 1))
    var_key = pair_key(var_g, var_e, n_e)
    conf_key = pair_key(problem.proposal_group[problem.conflict_p], problem.conflict_e, n_e)
    pos = np.searchsorted(var_key, conf_key)
    pos_c = np.minimum(pos, max(var_key.size - 1, 0))
    hit = (pos < var_key.size) & (var_key[pos_c] == conf_key)
    recusal: dict[int, list[int]] = {}
    for p, v in zip(problem.conflict_p[hit].tolist(), pos[hit].tolist(), strict=True):
        recusal.setdefault(p, []).append(v)
    return _Candidates(
        var_g=var_g,
        var_e=var_e,
        weight=weight,
        start=start,
        recusal={p: np.unique(np.array(v, dtype=np.int64)) for p, v in recusal.items()},
    )


# --- constraint families ------------------------------------------------------------------


def _group_vars(cands: _Candidates, g: int) -> range:
    return range(int(cands.start[g]), int(cands.start[g + 1]))


def _add_panel_size(
    model: cp_model.CpModel,
    x: list[cp_model.IntVar],
    cands: _Candidates,
    problem: PanelProblem,
    enforce: list[cp_model.IntVar] | None,
) -> None:
    """Each panel has exactly n[g] members."""
    for g in range(problem.n_groups):
        ct = model.add(sum(x[v] for v in _group_vars(cands, g)) == int(problem.n[g]))
        if enforce is not None:
            ct.only_enforce_if(enforce[g])


def _add_one_panel_per_expert(
    model: cp_model.CpModel,
    x: list[cp_model.IntVar],
    cands: _Candidates,
    problem: PanelProblem,
    enforce: list[cp_model.IntVar] | None,
) -> None:
    """Each expert sits on at most one panel."""
    order = np.argsort(cands.var_e, kind="stable")
    e_sorted = cands.var_e[order]
    cuts = np.flatnonzero(np.diff(e_sorted)) + 1
    for block in np.split(order, cuts):
        if block.size > 1:
            model.add_at_most_one(x[int(v)] for v in block)


def _add_recusal(
    model: cp_model.CpModel,
    x: list[cp_model.IntVar],
    cands: _Candidates,
    problem: PanelProblem,
    enforce: list[cp_model.IntVar] | None,
) -> None:
    """Each proposal keeps >= n_min non-conflicted members: conflicted members <= n - n_min."""
    for p, vars_ in cands.recusal.items():
        g = int(problem.proposal_group[p])
        slack = int(problem.n[g] - problem.n_min[g])
        if vars_.size <= slack:
            continue
        ct = model.add(sum(x[int(v)] for v in vars_) <= slack)
        if enforce is not None:
            ct.only_enforce_if(enforce[g])


def _add_one_per_unit(
    model: cp_model.CpModel,
    x: list[cp_model.IntVar],
    cands: _Candidates,
    problem: PanelProblem,
    enforce: list[cp_model.IntVar] | None,
) -> None:
    """At most one expert per (known) unit on each panel."""
    for g in range(problem.n_groups):
        by_unit: dict[int, list[int]] = {}
        for v in _group_vars(cands, g):
            u = int(problem.expert_unit[cands.var_e[v]])
            if u >= 0:
                by_unit.setdefault(u, []).append(v)
        for vars_ in by_unit.values():
            if len(vars_) > 1:
                ct = model.add(sum(x[v] for v in vars_) <= 1)
                if enforce is not None:
                    ct.only_enforce_if(enforce[g])


def _add_quotas(
    model: cp_model.CpModel,
    x: list[cp_model.IntVar],
    cands: _Candidates,
    problem: PanelProblem,
    enforce: list[cp_model.IntVar] | None,
) -> None:
    """At least min_industry industry and min_finance finance members per panel."""
    for kind, quota in (
        (ExpertKind.INDUSTRY, problem.min_industry),
        (ExpertKind.FINANCE, problem.min_finance),
    ):
        for g in range(problem.n_groups):
            if quota[g] <= 0:
                continue
            vars_ = [
                v
                for v in _group_vars(cands, g)
                if problem.expert_kind[cands.var_e[v]] == kind.value
            ]
            ct = model.add(sum(x[v] for v in vars_) >= int(quota[g]))
            if enforce is not None:
                ct.only_enforce_if(enforce[g])


_FAMILIES = (
    _add_panel_size,
    _add_one_panel_per_expert,
    _add_recusal,
    _add_one_per_unit,
    _add_quotas,
)


def _build(
    problem: PanelProblem, cands: _Candidates, *, with_assumptions: bool
) -> tuple[cp_model.CpModel, list[cp_model.IntVar], list[cp_model.IntVar] | None]:
    model = cp_model.CpModel()
    x = [model.new_bool_var(f"x{v}") for v in range(cands.var_g.size)]
    enforce = None
    if with_assumptions:
        enforce = [model.new_bool_var(f"staff_{g}") for g in range(problem.n_groups)]
        model.add_assumptions(enforce)
    for family in _FAMILIES:
        family(model, x, cands, problem, enforce)
    coef = np.rint(cands.weight * _SCALE).astype(np.int64)
    model.maximize(cp_model.LinearExpr.weighted_sum(x, coef.tolist()))
    return model, x, enforce


def _solver(
    *, time_limit_s: float, seed: int, workers: int, deterministic: bool
) -> cp_model.CpSolver:
    solver = cp_model.CpSolver()
    prm = solver.parameters
    prm.max_time_in_seconds = float(time_limit_s)
    prm.random_seed = int(seed)
    prm.num_workers = int(workers)
    prm.interleave_search = bool(deterministic)
    if deterministic:
        prm.interleave_batch_size = 1
    return solver


# --- diagnosis ----------------------------------------------------------------------------


def _distinct_units(problem: PanelProblem, experts: np.ndarray) -> int:
    units = problem.expert_unit[experts]
    return int(np.unique(units[units >= 0]).size + np.count_nonzero(units < 0))


def _prune_note(full: int, pruned: int, top_n: int | None) -> str:
    if top_n is not None and full > pruned:
        return f" among its top_n = {top_n} candidates ({full} in the whole pool; raise top_n)"
    return ""


def _group_findings(
    problem: PanelProblem, cands: _Candidates, full: _Candidates, top_n: int | None
) -> list[str]:
    """Per-group shortages that make a panel impossible on its own (sufficient conditions)."""
    out: list[str] = []
    members_of = [np.flatnonzero(problem.proposal_group == g) for g in range(problem.n_groups)]
    for g, gid in enumerate(problem.group_ids):
        n = int(problem.n[g])
        ex = cands.var_e[_group_vars(cands, g)]
        fx = full.var_e[_group_vars(full, g)]
        if ex.size < n:
            out.append(
                f"group {gid}: too few candidate experts — only {ex.size} have affinity to its "
                f"proposals{_prune_note(fx.size, ex.size, top_n)} but the panel needs n = {n}; "
                "add experts in this field to the pool or lower n"
            )
            continue
        units = _distinct_units(problem, ex)
        if units < n:
            out.append(
                f"group {gid}: its {ex.size} candidate experts come from only {units} distinct "
                f"units{_prune_note(_distinct_units(problem, fx), units, top_n)} and at most one "
                f"expert per unit may sit on a panel, but n = {n}; add experts from other units "
                "or lower n"
            )
        for kind, quota, what in (
            (ExpertKind.INDUSTRY, problem.min_industry, "industry"),
            (ExpertKind.FINANCE, problem.min_finance, "finance"),
        ):
            q = int(quota[g])
            have = int(np.count_nonzero(problem.expert_kind[ex] == kind.value))
            if have < q:
                have_full = int(np.count_nonzero(problem.expert_kind[fx] == kind.value))
                out.append(
                    f"group {gid}: not enough {what} candidates — {have}"
                    f"{_prune_note(have_full, have, top_n)} but min_{what} = {q}; add {what} "
                    f"experts with affinity to the group or lower min_{what}"
                )
        n_min = int(problem.n_min[g])
        for p in members_of[g].tolist():
            rec = cands.recusal.get(p, np.zeros(0, dtype=np.int64))
            free = ex.size - rec.size
            if free < n_min:
                rec_full = full.recusal.get(p, np.zeros(0, dtype=np.int64))
                out.append(
                    f"group {gid}: too many conflicted experts for proposal "
                    f"{problem.proposal_ids[p]} — only {free} non-conflicted candidates"
                    f"{_prune_note(fx.size - rec_full.size, free, top_n)} but n_min = {n_min} "
                    f"({rec.size} of {ex.size} candidates are conflicted); lower n_min, or move "
                    "the proposal to another group, or add non-conflicted experts"
                )
    return out


def _contention_findings(problem: PanelProblem, cands: _Candidates) -> list[str]:
    """Hall-type check: can all panels be filled when each expert sits on one panel only?

    Max flow source -> group (n[g]) -> (group, unit) (1) -> expert (1) -> sink; if it falls
    short of the total demand, the min cut's source side names the groups that contend.
    """
    graph = nx.DiGraph()
    demand = {g: int(problem.n[g]) for g in range(problem.n_groups)}
    for g in range(problem.n_groups):
        graph.add_edge("s", ("g", g), capacity=demand[g])
        for v in _group_vars(cands, g):
            e = int(cands.var_e[v])
            u = int(problem.expert_unit[e])
            mid = ("u", g, u) if u >= 0 else ("x", g, e)
            graph.add_edge(("g", g), mid, capacity=1)
            graph.add_edge(mid, ("e", e), capacity=1)
            graph.add_edge(("e", e), "t", capacity=1)
    total = sum(demand.values())
    flow, flows = nx.maximum_flow(graph, "s", "t")
    if flow >= total:
        return []
    # groups reachable from the source in the residual graph: the smallest deficient set
    reached: set[object] = {"s"}
    stack: list[object] = ["s"]
    while stack:
        node = stack.pop()
        nxt = [v for v in graph.successors(node) if flows[node][v] < graph[node][v]["capacity"]]
        nxt += [v for v in graph.predecessors(node) if flows[v][node] > 0]
        for v in nxt:
            if v not in reached:
                reached.add(v)
                stack.append(v)
    groups: list[int] = sorted(
        int(node[1]) for node in reached if isinstance(node, tuple) and node[0] == "g"
    )
    need = sum(demand[g] for g in groups)
    pool = np.unique(np.concatenate([cands.var_e[_group_vars(cands, g)] for g in groups]))
    sub = graph.subgraph(
        {"s", "t"}
        | {n for n in graph if isinstance(n, tuple) and n[0] != "g"}
        | {("g", g) for g in groups}
    )
    fill = nx.maximum_flow_value(sub, "s", "t")
    names = ", ".join(problem.group_ids[g] for g in groups)
    return [
        f"groups {names} contend for the same experts: together they need {need} panel members "
        f"(n per panel) but have only {pool.size} distinct candidates between them, and at most "
        f"{fill} seats can be filled with each expert on one panel and one expert per unit per "
        "panel; add experts in these fields, merge groups or lower n"
    ]


def _core_findings(
    problem: PanelProblem,
    cands: _Candidates,
    *,
    time_limit_s: float,
    seed: int,
) -> list[str]:
    """Groups whose constraints cannot hold together, from CP-SAT's infeasibility core."""
    model, _, enforce = _build(problem, cands, with_assumptions=True)
    assert enforce is not None
    solver = _solver(time_limit_s=time_limit_s, seed=seed, workers=1, deterministic=True)
    status = solver.solve(model)
    if status != cp_model.INFEASIBLE:
        return []
    lit_to_g = {enforce[g].index: g for g in range(problem.n_groups)}
    core = sorted(lit_to_g[i] for i in solver.sufficient_assumptions_for_infeasibility())
    if 1 < len(core) <= 12:  # shrink the core: drop each group whose removal keeps it infeasible
        for g in list(core):
            trial = [h for h in core if h != g]
            model.clear_assumptions()
            model.add_assumptions([enforce[h] for h in trial])
            if solver.solve(model) == cp_model.INFEASIBLE:
                core = trial
    rule = (
        "one expert per unit, n_min non-conflicted members for every proposal and the "
        "industry/finance quotas"
    )
    if len(core) == 1:
        g = core[0]
        return [
            f"group {problem.group_ids[g]}: no panel of n = {int(problem.n[g])} among its "
            f"{cands.start[g + 1] - cands.start[g]} candidates meets {rule} at once; lower "
            "n_min or the quotas, or add experts"
        ]
    names = ", ".join(problem.group_ids[g] for g in core)
    return [
        f"groups {names} cannot all be staffed at once: each expert sits on one panel and "
        f"{rule} leave too few experts to share among them; add experts in these fields, "
        "merge groups or lower n"
    ]


def _diagnose_joint(
    problem: PanelProblem, cands: _Candidates, *, time_limit_s: float, seed: int
) -> list[str]:
    """Why a model whose groups pass the per-group checks is infeasible: contention first."""
    found = _contention_findings(problem, cands)
    if found:
        return found
    found = _core_findings(problem, cands, time_limit_s=time_limit_s, seed=seed)
    if found:
        return found
    return [
        "the panels cannot be formed but no single cause was isolated within time_limit_s = "
        f"{time_limit_s}; raise time_limit_s to get a diagnosis"
    ]


# --- solve --------------------------------------------------------------------------------


def _leader(problem: PanelProblem, members: list[tuple[int, float]]) -> int:
    """Senior first, then level A > B > C > unknown, then affinity, then expert id."""
    return min(
        members,
        key=lambda m: (
            not bool(problem.is_senior[m[0]]),
            _LEVEL_RANK[str(problem.expert_level[m[0]])],
            -m[1],
            problem.expert_ids[m[0]],
        ),
    )[0]


def solve_panels(
    problem: PanelProblem,
    *,
    top_n: int | None = 60,
    time_limit_s: float = 30.0,
    seed: int = 0,
    workers: int = 2,
    deterministic: bool = True,
) -> PanelResult:
    """Form one panel per group by CP-SAT and pick each panel's leader.

    top_n: candidates kept per group (best aggregated affinity), None = all; where a group
        has an industry / finance quota, the best top_n // 2 of that kind are kept as well.
    time_limit_s: wall-clock limit of each CP-SAT solve, in seconds.
    seed: CP-SAT random_seed. workers: CP-SAT threads.
    deterministic: run CP-SAT's subsolvers interleaved, one task at a time, so that a seed
        gives the same panels run to run (unless the time limit is reached); False lets the
        workers race, which may pick another of several tied optima.
    Returns a PanelResult; infeasible input gives status INFEASIBLE and a diagnosis.
    """
    if top_n is not None and top_n < 1:
        raise PanelInputError(f"top_n = {top_n}; use a positive number or None for all")
    if time_limit_s <= 0:
        raise PanelInputError(f"time_limit_s = {time_limit_s}; use a positive number of seconds")
    t0 = time.perf_counter()
    cands = _candidates(problem, top_n)
    n_vars = int(cands.var_g.size)

    def infeasible(lines: list[str], status: Status = Status.INFEASIBLE) -> PanelResult:
        return PanelResult(
            status=status,
            objective=None,
            bound=None,
            gap=None,
            wall_s=time.perf_counter() - t0,
            diagnosis=tuple(lines),
            n_variables=n_vars,
        )

    full = cands if top_n is None else _candidates(problem, None)
    found = _group_findings(problem, cands, full, top_n)
    if found:
        return infeasible(found)
    model, x, _ = _build(problem, cands, with_assumptions=False)
    solver = _solver(
        time_limit_s=time_limit_s, seed=seed, workers=workers, deterministic=deterministic
    )
    code = solver.solve(model)
    if code == cp_model.INFEASIBLE:
        return infeasible(_diagnose_joint(problem, cands, time_limit_s=time_limit_s, seed=seed))
    if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return infeasible(
            [
                f"no set of panels was found within time_limit_s = {time_limit_s} "
                f"(solver status {solver.status_name(code)}); raise time_limit_s or lower top_n"
            ],
            Status.UNKNOWN,
        )

    chosen = np.array([solver.boolean_value(xv) for xv in x], dtype=bool)
    panels: dict[str, tuple[str, ...]] = {}
    leaders: dict[str, str] = {}
    for g, gid in enumerate(problem.group_ids):
        vs = [v for v in _group_vars(cands, g) if chosen[v]]
        members = [(int(cands.var_e[v]), float(cands.weight[v])) for v in vs]
        panels[gid] = tuple(sorted(problem.expert_ids[e] for e, _ in members))
        leaders[gid] = problem.expert_ids[_leader(problem, members)]
    counts: dict[str, int] = {}
    for p, pid in enumerate(problem.proposal_ids):
        g = int(problem.proposal_group[p])
        rec = cands.recusal.get(p)
        recused = int(chosen[rec].sum()) if rec is not None else 0
        counts[pid] = int(problem.n[g]) - recused
    objective = float(cands.weight[chosen].sum())
    if code == cp_model.OPTIMAL:
        status, bound, gap = Status.OPTIMAL, objective, 0.0
    else:
        status = Status.FEASIBLE
        bound = max(float(solver.best_objective_bound) / _SCALE, objective)
        gap = (bound - objective) / bound if bound > 0 else 0.0
    return PanelResult(
        status=status,
        objective=objective,
        bound=bound,
        gap=gap,
        wall_s=time.perf_counter() - t0,
        panels=MappingProxyType(panels),
        leaders=MappingProxyType(leaders),
        members_per_proposal=MappingProxyType(counts),
        n_variables=n_vars,
    )
