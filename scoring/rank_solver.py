"""Rank-respecting selection, solved exactly by dynamic programming over the budgets.

Under the ``rank`` policy a direction funds, besides its forced-in proposals, a *prefix* of its
ranking (qualified proposals by merit, then id): a proposal may be passed over only when it is
blocked, i.e. its PI or its group of related lead units already has a funded project. So a
direction's choices are few (fund its first 0, 1, ... places), and the selection is a
multiple-choice knapsack over the budgets, solved exactly:

1. *Contention.* A proposal below ``slots`` unblockable proposals of its direction can never be
   funded, nor matter as the place where funding stops; it leaves its PI and related groups.
   Repeated until nothing changes. What is left of a group with two or more members is *open*.
2. *Open groups* are decided by enumeration: each funds one of its members or none. A member
   is then funded, blocked (its group funds another) or a barrier (unfunded and unblocked: the
   direction's funding stops above it).
3. Given those decisions, each direction's options are its prefixes, and each programme budget
   is a dynamic programme over its directions keeping the undominated (grant floors,
   objective) states; the overall budget, when there is one, is a dynamic programme over the
   programmes' states and the directions outside any programme budget.

The objective, lexicographic: the fewest directions below their minimum (min_per_direction;
the rank policy's first aim), the largest merit sum, the smallest total grant bound, the
smallest sum of id positions. :class:`RankSolver` keeps per-direction options and per-budget
states between solves that differ in one proposal (the explanations' re-solves), so those cost
little. Youth shares, and more open-group decisions than :data:`MAX_DECISIONS`, are left to
CP-SAT (``solve`` returns None).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np

from scoring.select_input import SelectionData, merit_int

MAX_DECISIONS = 4096
"""Most consistent joint decisions of one part of the open groups a solve enumerates before
handing over to CP-SAT (and at most 50 times as many combinations looked at)."""

_SHORT = 1 << 44  # weight of a direction short of its minimum, above any merit sum
_BOUND = 1 << 22  # weight of the grant bound sum, above any sum of id positions

Key = tuple[int, int]  # (-short * _SHORT + merit, -(bounds * _BOUND + positions)): larger wins


@dataclass(frozen=True)
class Choice:
    """A solve's answer: x (n,) bool and the objective levels (directions short of their
    minimum, merit in thousandths, grant bound sum, id position sum); not feasible when the
    rules admit no selection."""

    x: np.ndarray
    levels: tuple[int, int, int, int]
    feasible: bool = True


@dataclass(frozen=True)
class Change:
    """One proposal changed for a re-solve: its merit (None = as is), and whether it must be
    funded (require) or must not be (forbid: it still counts in the ranking, as a place where
    the direction's funding stops). caps: budgets changed, scope index -> cap."""

    index: int | None = None
    merit: float | None = None
    require: bool = False
    forbid: bool = False
    caps: tuple[tuple[int, int], ...] = ()


class _Frontier:
    """Undominated states of a budget's dynamic programme: weight (grant floors), key, and
    back-pointers to the option chosen at each stage."""

    def __init__(self) -> None:
        self.w = np.zeros(1, np.int64)
        self.k1 = np.zeros(1, np.int64)
        self.k2 = np.zeros(1, np.int64)
        self.back: list[tuple[np.ndarray, np.ndarray]] = []
        self._best: int | None = None

    def add(
        self,
        w: np.ndarray,
        k1: np.ndarray,
        k2: np.ndarray,
        cap: int | None,
        bound: tuple[float, float, float] | None = None,
    ) -> bool:
        """Add a stage with options (w, k1, k2); False when no state fits the cap.

        bound: (price, later, floor): drop states whose k1 plus ``later`` (the best the later
        stages can add at that budget price) plus the price of their unused budget stays below
        ``floor`` (a feasible selection's k1): they cannot be optimal.
        """
        n_opt = len(w)
        nw = (self.w[:, None] + w[None, :]).ravel()
        n1 = (self.k1[:, None] + k1[None, :]).ravel()
        n2 = (self.k2[:, None] + k2[None, :]).ravel()
        if cap is None:
            keep = np.array([_best(nw, n1, n2)])
        else:
            fits = nw <= cap
            if bound is not None:
                price, later, floor = bound
                fits &= n1 + later + price * (cap - nw) >= floor
            fits = np.flatnonzero(fits)
            if not len(fits):
                return False
            keep = fits[_undominated(nw[fits], n1[fits], n2[fits])]
        self.w, self.k1, self.k2 = nw[keep], n1[keep], n2[keep]
        self.back.append((keep // n_opt, keep % n_opt))
        self._best = None
        return True

    def best(self) -> int:
        """Index of the state with the largest key (the lightest among equals)."""
        if self._best is None:
            self._best = _best(self.w, self.k1, self.k2)
        return self._best

    def key(self, state: int) -> Key:
        return int(self.k1[state]), int(self.k2[state])

    def trace(self, state: int) -> list[int]:
        """The option chosen at each stage for ``state``."""
        out = []
        for parent, option in reversed(self.back):
            out.append(int(option[state]))
            state = int(parent[state])
        return out[::-1]


def _knapsack(
    stages: list[tuple[np.ndarray, np.ndarray, np.ndarray]], cap: int | None
) -> _Frontier | None:
    """The dynamic programme over ``stages`` (each: options' w, k1, k2) within ``cap``, with
    states pruned by a Lagrangian bound: for a budget price p, no completion of a state beats
    its k1 + the later stages' best (k1 - p * w) + p * (its unused budget); p is the least
    price at which choosing each stage's best (k1 - p * w) fits the budget, and that choice is
    the feasible selection the bound must reach."""
    frontier = _Frontier()
    bounds: list[tuple[float, float, float] | None] = [None] * len(stages)
    if cap is not None and len(stages) > 8:  # small programmes are cheaper without
        width = max(len(w) for w, _, _ in stages)
        ws = np.zeros((len(stages), width))
        ks = np.full((len(stages), width), -np.inf)
        for t, (w, k1, _k2) in enumerate(stages):
            ws[t, : len(w)] = w
            ks[t, : len(w)] = k1
        rows = np.arange(len(stages))

        def pick(p: float) -> np.ndarray:
            return np.argmax(ks - p * ws - 1e-9 * ws, axis=1)

        lo, hi = 0.0, float(np.nanmax(np.abs(ks[np.isfinite(ks)]))) + 1.0
        if ws[rows, pick(hi)].sum() <= cap:
            if ws[rows, pick(lo)].sum() <= cap:
                hi = lo
            for _ in range(30):
                mid = (lo + hi) / 2
                if ws[rows, pick(mid)].sum() <= cap:
                    hi = mid
                else:
                    lo = mid
            chosen = pick(hi)
            floor = float(ks[rows, chosen].sum())
            margin = 16.0 + 1e-9 * abs(floor)
            gain = (ks - hi * ws).max(axis=1)
            later = np.concatenate([np.cumsum(gain[::-1])[::-1][1:], [0.0]])
            bounds = [(hi, float(later[t]), floor - margin) for t in range(len(stages))]
    for (w, k1, k2), bound in zip(stages, bounds, strict=True):
        if not frontier.add(w, k1, k2, cap, bound):
            return None
    return frontier


def _best(w: np.ndarray, k1: np.ndarray, k2: np.ndarray) -> int:
    top = np.flatnonzero(k1 == k1.max())
    top = top[k2[top] == k2[top].max()]
    return int(top[np.argmin(w[top])])


def _undominated(w: np.ndarray, k1: np.ndarray, k2: np.ndarray) -> np.ndarray:
    """Indices of the entries no other beats (weight <= and key >=; one of equals kept)."""
    if len(w) <= 1:
        return np.arange(len(w))
    by_key = np.lexsort((k2, k1))
    s1, s2 = k1[by_key], k2[by_key]
    dense = np.empty(len(w), np.int64)
    dense[by_key] = np.concatenate([[0], np.cumsum((s1[1:] != s1[:-1]) | (s2[1:] != s2[:-1]))])
    order = np.lexsort((-dense, w))
    r = dense[order]
    keep = np.empty(len(r), bool)
    keep[0] = True
    keep[1:] = r[1:] > np.maximum.accumulate(r)[:-1]
    return order[keep]


@dataclass(frozen=True)
class _Options:
    """A direction's prefixes: members (list of index lists) and (w, k1, k2) arrays."""

    members: list[list[int]]
    w: np.ndarray
    k1: np.ndarray
    k2: np.ndarray


_Status = dict[int, str]  # open member -> F (funded), B (blocked), X (barrier)


@dataclass(frozen=True)
class _Case:
    """One decision of the open groups within a solve: the rankings, the members' status,
    the budgets and the change (with the direction it touches)."""

    seq: dict[int, list[int]]
    status: _Status
    caps: dict[int, int]
    change: Change | None
    changed_dir: int | None

    def change_of(self, d: int) -> Change | None:
        return self.change if d == self.changed_dir else None


class RankSolver:
    """Exact rank-policy solves for one set of merits (module docstring)."""

    def __init__(self, data: SelectionData, merit: np.ndarray) -> None:
        rules = data.rules
        self.data = data
        self.merit = np.asarray(merit, dtype=float)
        self.m_int = merit_int(self.merit)
        self.qual = data.qualified(self.merit)
        self.cand = self.qual | data.forced_in
        self.caps = {k: s.cap for k, s in enumerate(data.scopes)}
        n_dirs = len(data.dir_codes)
        fin = data.forced_in & self.cand
        n_cand = np.bincount(data.dir_idx[self.cand], minlength=n_dirs)
        n_fin = np.bincount(data.dir_idx[fin], minlength=n_dirs)
        self.slots = rules.max_per_direction - n_fin
        self.need = np.minimum(rules.min_per_direction, n_cand)
        self.fixed = np.stack(
            [
                np.bincount(data.dir_idx[fin], weights=v[fin], minlength=n_dirs).astype(np.int64)
                for v in (data.lb, self.m_int, data.ub, data.pos)
            ],
            axis=1,
        )
        self.dirs = [int(k) for k in np.flatnonzero(n_cand)]
        self.seq = self._sequences(self.merit)
        self.excluded: set[int] = set()
        self.groups: list[list[int]] = []
        for g in data.groups:
            members = g[self.cand[g]]
            if len(members) < 2:
                continue
            forced = members[data.forced_in[members]]
            if len(forced):
                self.excluded.update(int(i) for i in members if not data.forced_in[i])
            else:
                self.groups.append([int(i) for i in members])
        self.in_group = {i for g in self.groups for i in g}
        prog_scope = {
            str(s.label.params["programme"]): k
            for k, s in enumerate(data.scopes)
            if s.kind == "programme"
        }
        self.overall = next((k for k, s in enumerate(data.scopes) if s.kind == "overall"), None)
        by_prog: dict[str, list[int]] = {}
        for d in self.dirs:
            by_prog.setdefault(data.dir_programme[d], []).append(d)
        self.blocks = [(prog_scope[p], ds) for p, ds in sorted(by_prog.items()) if p in prog_scope]
        self.loose = [d for p, ds in sorted(by_prog.items()) if p not in prog_scope for d in ds]
        self.dir_members = {d: [i for i in self.seq[d] if i in self.in_group] for d in self.dirs}
        self.dirs_excluded = {int(data.dir_idx[i]) for i in self.excluded}
        self.n_fin = n_fin
        flat = np.array([i for d in self.dirs for i in self.seq[d]], dtype=np.int64)
        lens = np.array([len(self.seq.get(d, [])) for d in range(n_dirs)], dtype=np.int64)
        self.plain_cut = np.concatenate([[0], np.cumsum(lens)])
        vals = np.stack([data.lb[flat], self.m_int[flat], data.ub[flat], data.pos[flat]], 1)
        csum = np.cumsum(vals, axis=0)
        start = np.repeat(self.plain_cut[:-1], lens)
        base = np.vstack([np.zeros((1, 4), np.int64), csum])[start]
        self.plain_sums = csum - base
        self.block_members = [
            [i for d in ds for i in self.seq[d] if i in self.in_group] for _, ds in self.blocks
        ]
        self._options: dict[tuple, _Options | None] = {}
        self._frontiers: dict[tuple, _Frontier | None] = {}

    # -- structure ------------------------------------------------------------------------

    def _sequences(self, merit: np.ndarray) -> dict[int, list[int]]:
        """Each direction's qualified, not forced-in proposals in rank order."""
        data = self.data
        ind = np.flatnonzero(self.qual & ~data.forced_in)
        order = ind[np.lexsort((data.pos[ind], -merit[ind], data.dir_idx[ind]))]
        di = data.dir_idx[order]
        cuts = np.searchsorted(di, np.arange(len(data.dir_codes) + 1))
        return {d: order[cuts[d] : cuts[d + 1]].tolist() for d in self.dirs}

    def _moved_sequence(self, d: int, index: int, merit: float) -> list[int]:
        """Direction d's ranking with proposal ``index`` at ``merit``."""
        data = self.data
        rest = [i for i in self.seq[d] if i != index]
        if merit < data.rules.quality_floor or not data.open_to_funding()[index]:
            return rest
        key = (-merit, data.pos[index])
        at = next((t for t, i in enumerate(rest) if (-self.merit[i], data.pos[i]) > key), len(rest))
        return [*rest[:at], index, *rest[at:]]

    def _open_groups(self, seq: dict[int, list[int]]) -> list[list[int]]:
        """Groups whose members can still be funded, two or more of them (contention)."""
        live = [set(g) for g in self.groups]
        dirs = sorted({int(self.data.dir_idx[i]) for g in self.groups for i in g})
        while True:
            member = set().union(*live) if live else set()
            reach: set[int] = set()
            for d in dirs:
                solid = 0
                for i in seq[d]:
                    if solid >= self.slots[d]:
                        break
                    if i in self.excluded:
                        continue
                    if i in member:
                        reach.add(i)
                    else:
                        solid += 1
            new = [g & reach for g in live]
            new = [g if len(g) > 1 else set() for g in new]
            if new == live:
                break
            live = new
        return [sorted(g) for g in live if g]

    # -- options and budgets --------------------------------------------------------------

    def _direction_options(
        self, d: int, order: list[int], status: _Status, change: Change | None
    ) -> _Options | None:
        """Prefixes of d's ranking given the open members' status; None when no prefix is
        consistent."""
        data = self.data
        req = forb = -1
        merit = self.m_int
        if change is not None and change.index is not None:
            req = change.index if change.require else -1
            forb = change.index if change.forbid else -1
            if change.merit is not None:
                merit = merit.copy()
                merit[change.index] = merit_int(np.array([change.merit]))[0]
        if req in self.excluded or status.get(req) == "B":
            return None
        avail = [i for i in order if i not in self.excluded and status.get(i) != "B"]
        must = [t for t, i in enumerate(avail) if status.get(i) == "F" or i == req]
        stop = next(
            (t for t, i in enumerate(avail) if status.get(i) == "X" or i == forb), len(avail)
        )
        lo = must[-1] + 1 if must else 0
        hi = min(int(self.slots[d]), stop)
        if lo > hi:
            return None
        ar = np.array(avail[:hi], dtype=np.int64)
        sums = [np.concatenate([[0], np.cumsum(v[ar])])[lo:] for v in (data.lb, merit, data.ub)]
        pos = np.concatenate([[0], np.cumsum(data.pos[ar])])[lo:]
        fw, fm, fu, fp = (int(v) for v in self.fixed[d])
        count = np.arange(lo, hi + 1) + (data.rules.max_per_direction - int(self.slots[d]))
        short = np.maximum(int(self.need[d]) - count, 0)
        return _Options(
            members=[avail[:k] for k in range(lo, hi + 1)],
            w=(sums[0] + fw).astype(np.int64),
            k1=(-short * _SHORT + sums[1] + fm).astype(np.int64),
            k2=(-((sums[2] + fu) * _BOUND + pos + fp)).astype(np.int64),
        )

    def _options_of(self, d: int, case: _Case) -> _Options | None:
        change = case.change_of(d)
        if change is not None:
            return self._direction_options(d, case.seq[d], case.status, change)
        key = (d, tuple(case.status.get(i, "S") for i in self.dir_members[d]))
        if key not in self._options:
            plain = not key[1] and d not in self.dirs_excluded
            self._options[key] = (
                self._plain_options(d)
                if plain
                else self._direction_options(d, case.seq[d], case.status, None)
            )
        return self._options[key]

    def _plain_options(self, d: int) -> _Options:
        """Options of a direction without group members: its first 0..slots places."""
        a, b = self.plain_cut[d], self.plain_cut[d + 1]
        fw, fm, fu, fp = (int(v) for v in self.fixed[d])
        k = min(int(self.slots[d]), b - a)
        cs = self.plain_sums[a : a + k]
        short = np.maximum(int(self.need[d]) - np.arange(k + 1) - int(self.n_fin[d]), 0)
        w = np.concatenate([[0], cs[:, 0]]) + fw
        m = np.concatenate([[0], cs[:, 1]]) + fm
        u = np.concatenate([[0], cs[:, 2]]) + fu
        ps = np.concatenate([[0], cs[:, 3]]) + fp
        order = self.seq[d]
        return _Options(
            members=[order[:j] for j in range(k + 1)],
            w=w.astype(np.int64),
            k1=(-short * _SHORT + m).astype(np.int64),
            k2=(-(u * _BOUND + ps)).astype(np.int64),
        )

    def _block(self, b: int, cap: int, case: _Case) -> _Frontier | None:
        """Programme budget b's dynamic programme within ``cap``, kept for later solves (and,
        when it holds the changed direction, for the other decisions of this solve)."""
        dirs = self.blocks[b][1]
        change = case.change if case.changed_dir in dirs else None
        key = (b, cap, tuple(case.status.get(i, "S") for i in self.block_members[b]), change)
        if key not in self._frontiers:
            opts = [self._options_of(d, case) for d in dirs]
            self._frontiers[key] = (
                None
                if any(o is None for o in opts)
                else _knapsack([(o.w, o.k1, o.k2) for o in opts if o is not None], cap)
            )
        return self._frontiers[key]

    # -- solve ----------------------------------------------------------------------------

    def solve(self, change: Change | None = None, *, levels_only: bool = False) -> Choice | None:
        """The optimal rank-respecting selection (with ``change`` applied; ``feasible`` False
        when the rules admit none), or None when the solve is left to CP-SAT (a youth share,
        too many open-group decisions, a changed proposal outside the candidates).
        levels_only: the optimum's levels without the selection itself (x is empty)."""
        data = self.data
        if data.rules.youth_min_share:
            return None
        seq = self.seq
        changed_dir = None
        if change is not None and change.index is not None:
            if not self.cand[change.index]:
                return None
            changed_dir = int(data.dir_idx[change.index])
            if change.merit is not None:
                seq = dict(seq)
                seq[changed_dir] = self._moved_sequence(changed_dir, change.index, change.merit)
        caps = dict(self.caps)
        if change is not None:
            caps.update(dict(change.caps))
        parts = self._independent(self._open_groups(seq))
        if any(
            np.prod([len(g) + 1 for g in part], dtype=float) > 50 * MAX_DECISIONS for part in parts
        ):
            return None
        if any(
            len(list(itertools.islice(self._decisions(part, change), MAX_DECISIONS + 1)))
            > MAX_DECISIONS
            for part in parts
        ):
            return None
        decide = self._decide_apart if self.overall is None else self._decide_together
        status = decide(parts, _Case(seq, {}, caps, change, changed_dir))
        key = None if status is None else self._value(_Case(seq, status, caps, change, changed_dir))
        if status is None or key is None:
            return Choice(np.zeros(data.n, bool), (0, 0, 0, 0), feasible=False)
        best = (key, status)
        if levels_only:
            k1, k2 = best[0]
            short = -round(k1 / _SHORT)
            return Choice(
                np.zeros(0, bool), (short, k1 + short * _SHORT, -k2 // _BOUND, -k2 % _BOUND)
            )
        x = self._selection(_Case(seq, best[1], caps, change, changed_dir))
        return Choice(x, self._levels(x, change))

    def _decide_apart(self, parts: list[list[list[int]]], base: _Case) -> _Status | None:
        """Without an overall budget: each part's best decision on its own budgets."""
        status: _Status = {}
        for part in parts:
            units = self._units(part)
            chosen: tuple[Key, _Status] | None = None
            for local in self._decisions(part, base.change):
                key = self._value(replace(base, status=local), units)
                if key is not None and (chosen is None or key > chosen[0]):
                    chosen = (key, local)
            if chosen is None:
                return None
            status.update(chosen[1])
        return status

    def _decide_together(self, parts: list[list[list[int]]], base: _Case) -> _Status | None:
        """Under an overall budget: each part becomes one stage of the overall dynamic
        programme, its options the undominated states of its budgets over all its decisions;
        the budgets no part touches are stages of their own."""
        assert self.overall is not None
        root_cap = base.caps[self.overall]
        stages: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        tags: list[tuple[list[_Status], np.ndarray]] = []
        touched_b: set[int] = set()
        touched_d: set[int] = set()
        for part in parts:
            blocks, loose = self._units(part)
            touched_b |= blocks
            touched_d |= loose
            decisions = list(self._decisions(part, base.change))
            found: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
            for q, local in enumerate(decisions):
                opts = self._unit_options(blocks, loose, replace(base, status=local), root_cap)
                f = None if opts is None else _knapsack(opts, root_cap)
                if f is not None:
                    found.append((f.w, f.k1, f.k2, np.full(len(f.w), q)))
            if not found:
                return None
            w, k1, k2, owner = (np.concatenate(v) for v in zip(*found, strict=True))
            keep = _undominated(w, k1, k2)
            stages.append((w[keep], k1[keep], k2[keep]))
            tags.append((decisions, owner[keep]))
        rest = self._unit_options(
            set(range(len(self.blocks))) - touched_b, set(self.loose) - touched_d, base, root_cap
        )
        if rest is None:
            return None
        root = _knapsack(stages + rest, root_cap)
        if root is None:
            return None
        status: _Status = {}
        for (decisions, owner), pick in zip(tags, root.trace(root.best()), strict=False):
            status.update(decisions[int(owner[pick])])
        return status

    def _unit_options(
        self, blocks: set[int], loose: set[int], case: _Case, root_cap: int
    ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]] | None:
        """Stage options of these programme budgets (their states) and loose directions."""
        out = []
        for b in sorted(blocks):
            k = self.blocks[b][0]
            frontier = self._block(b, min(case.caps[k], root_cap), case)
            if frontier is None:
                return None
            out.append((frontier.w, frontier.k1, frontier.k2))
        for d in sorted(loose):
            o = self._options_of(d, case)
            if o is None:
                return None
            out.append((o.w, o.k1, o.k2))
        return out

    def _units(self, groups: list[list[int]]) -> tuple[set[int], set[int]]:
        """The programme budgets and loose directions the groups' members sit in."""
        dirs = {int(self.data.dir_idx[i]) for g in groups for i in g}
        blocks = {b for b, (_k, ds) in enumerate(self.blocks) if dirs & set(ds)}
        return blocks, dirs & set(self.loose)

    def _independent(self, groups: list[list[int]]) -> list[list[list[int]]]:
        """The open groups in parts that share no member and no programme budget: each
        budget's states depend only on the status of its own members."""
        if len(groups) < 2:
            return [groups] if groups else []
        parent = list(range(len(groups)))

        def find(a: int) -> int:
            while parent[a] != a:
                parent[a] = parent[parent[a]]
                a = parent[a]
            return a

        owner: dict[object, int] = {}
        for g, members in enumerate(groups):
            blocks, loose = self._units([members])
            for key in [*members, *(("b", b) for b in blocks), *(("d", d) for d in loose)]:
                if key in owner:
                    parent[find(g)] = find(owner[key])
                else:
                    owner[key] = g
        parts: dict[int, list[list[int]]] = {}
        for g, members in enumerate(groups):
            parts.setdefault(find(g), []).append(members)
        return list(parts.values())

    def _decisions(self, groups: list[list[int]], change: Change | None) -> Iterator[_Status]:
        """Every consistent decision of the open groups, as member -> status."""
        req = change.index if change is not None and change.require else None
        forb = change.index if change is not None and change.forbid else None
        members = sorted({i for g in groups for i in g})
        mine = {i: [k for k, g in enumerate(groups) if i in g] for i in members}
        for pick in itertools.product(*[[None, *g] for g in groups]):
            chosen = {i for i in pick if i is not None}
            if forb in chosen or (req is not None and req in mine and req not in chosen):
                continue
            if any(any(pick[k] != i for k in mine[i]) for i in chosen):
                continue  # a funded member uses every group it belongs to
            status = {}
            for i in members:
                if i in chosen:
                    status[i] = "F"
                elif any(pick[k] is not None for k in mine[i]):
                    status[i] = "B"
                else:
                    status[i] = "X"
            yield status

    def _stages(
        self, case: _Case
    ) -> tuple[_Frontier, list[tuple[_Frontier | None, _Options | None, bool]]] | None:
        """The overall dynamic programme: one stage per programme budget (all its states under
        an overall budget, else only its best) and per direction outside them."""
        root_cap = None if self.overall is None else case.caps[self.overall]
        options: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        stages: list[tuple[_Frontier | None, _Options | None, bool]] = []
        for b, (k, _dirs) in enumerate(self.blocks):
            cap = case.caps[k] if root_cap is None else min(case.caps[k], root_cap)
            frontier = self._block(b, cap, case)
            if frontier is None:
                return None
            s = [frontier.best()] if root_cap is None else slice(None)
            options.append((frontier.w[s], frontier.k1[s], frontier.k2[s]))
            stages.append((frontier, None, root_cap is None))
        for d in self.loose:
            o = self._options_of(d, case)
            if o is None:
                return None
            options.append((o.w, o.k1, o.k2))
            stages.append((None, o, False))
        root = _knapsack(options, root_cap)
        return None if root is None else (root, stages)

    def _value(self, case: _Case, units: tuple[set[int], set[int]] | None = None) -> Key | None:
        """The best key of a case (without an overall budget, the sum of each budget's and
        each loose direction's best, with no overall dynamic programme); ``units`` (programme
        budgets, loose directions) restricts the sum to those an independent part touches."""
        if self.overall is not None:
            got = self._stages(case)
            return None if got is None else got[0].key(got[0].best())
        k1 = k2 = 0
        for b, (k, _dirs) in enumerate(self.blocks):
            if units is not None and b not in units[0]:
                continue
            frontier = self._block(b, case.caps[k], case)
            if frontier is None:
                return None
            s = frontier.best()
            k1, k2 = k1 + int(frontier.k1[s]), k2 + int(frontier.k2[s])
        for d in self.loose:
            if units is not None and d not in units[1]:
                continue
            o = self._options_of(d, case)
            if o is None:
                return None
            s = _best(o.w, o.k1, o.k2)
            k1, k2 = k1 + int(o.k1[s]), k2 + int(o.k2[s])
        return k1, k2

    def _selection(self, case: _Case) -> np.ndarray:
        got = self._stages(case)
        assert got is not None
        root, stages = got
        data = self.data
        x = np.zeros(data.n, bool)
        x[data.forced_in & self.cand] = True
        for b, ((frontier, opts, best_only), pick) in enumerate(
            zip(stages, root.trace(root.best()), strict=True)
        ):
            if frontier is None:
                assert opts is not None
                x[opts.members[pick]] = True
                continue
            state = frontier.best() if best_only else pick
            for d, choice in zip(self.blocks[b][1], frontier.trace(state), strict=True):
                o = self._options_of(d, case)
                assert o is not None
                x[o.members[choice]] = True
        return x

    def _levels(self, x: np.ndarray, change: Change | None) -> tuple[int, int, int, int]:
        data = self.data
        merit = self.m_int
        if change is not None and change.index is not None and change.merit is not None:
            merit = merit.copy()
            merit[change.index] = merit_int(np.array([change.merit]))[0]
        count = np.bincount(data.dir_idx[x], minlength=len(data.dir_codes))
        short = int(np.maximum(self.need - count, 0).sum())
        return (short, int(merit[x].sum()), int(data.ub[x].sum()), int(data.pos[x].sum()))
