"""Candidate pools for the pricing certificate: pick a small starting set, then price the rest.

A pool holds every eligible (proposal, expert) pair, either as sparse arrays (``CooPool``) or as a
dense affinity matrix or row-block callable (``DensePool``). The solver works on a subset; after
each optimal flow it asks the pool for the pairs whose reduced cost against the flow's node
potentials is negative (``c + d[entry] - d[expert] < 0``) and adds them. When none is left the
flow is optimal for the whole pool. See ``assign.flow`` for the network and the potentials.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from assign.flow import SCALE, Network, reduced_cost, scaled_cost, unique_sorted
from assign.problem import pair_key, split_key

BlockFn = Callable[[slice], np.ndarray]


def top_per_group(group: np.ndarray, score: np.ndarray, n: int) -> np.ndarray:
    """Boolean mask of the ``n`` highest ``score`` entries within each ``group`` value."""
    if score.size == 0 or n <= 0:
        return np.zeros(score.size, dtype=bool)
    by_score = np.argsort(-score)
    order = by_score[np.argsort(group[by_score], kind="stable")]
    g = group[order]
    start = np.r_[0, np.flatnonzero(g[1:] != g[:-1]) + 1]
    run = np.repeat(start, np.diff(np.r_[start, g.size]))
    rank = np.arange(g.size) - run
    mask = np.zeros(score.size, dtype=bool)
    mask[order[rank < n]] = True
    return mask


@dataclass(frozen=True, eq=False)
class Selection:
    """Pairs currently in the network: (S,) arrays p, e, affinity w."""

    p: np.ndarray
    e: np.ndarray
    w: np.ndarray


class CooPool:
    """Eligible pairs as (C,) arrays ``p``, ``e``, ``w`` (affinity)."""

    def __init__(self, p: np.ndarray, e: np.ndarray, w: np.ndarray) -> None:
        self.p, self.e, self.w = p, e, w
        self.group: np.ndarray | None = None  # (E,) quota group, for the first selection
        self.per_group = 0
        self.cost = scaled_cost(w)
        self.chosen = np.zeros(p.size, dtype=bool)
        self.dropped = np.zeros(p.size, dtype=bool)  # left out once by ``drop_above``

    @property
    def size(self) -> int:
        return int(self.p.size)

    def initial(
        self,
        per_proposal: int,
        per_expert: int,
        progress: Callable[[float], None] | None = None,
    ) -> Selection:
        """Top ``per_proposal`` pairs of each proposal plus top ``per_expert`` of each expert,
        plus the top ``per_group`` pairs of each proposal among the quota group's experts."""
        mask = top_per_group(self.p, self.w, per_proposal)
        mask |= top_per_group(self.e, self.w, per_expert)
        if self.group is not None and self.per_group > 0:
            g = np.flatnonzero(self.group[self.e])
            mask[g[top_per_group(self.p[g], self.w[g], self.per_group)]] = True
        self.chosen = mask
        if progress is not None:
            progress(1.0)
        return self._selection()

    def everything(self) -> Selection:
        self.chosen = np.ones(self.p.size, dtype=bool)
        return self._selection()

    def extend(self, p: np.ndarray, e: np.ndarray, w: np.ndarray) -> None:
        """Add the (n,) pairs ``p``, ``e`` with affinity ``w`` (not yet chosen); the caller makes
        sure they are eligible and not in the pool already."""
        self.p = np.concatenate([self.p, np.asarray(p, dtype=np.int64)])
        self.e = np.concatenate([self.e, np.asarray(e, dtype=np.int64)])
        w64 = np.asarray(w, dtype=np.float64)
        self.w = np.concatenate([self.w, w64])
        self.cost = np.concatenate([self.cost, scaled_cost(w64)])
        self.chosen = np.concatenate([self.chosen, np.zeros(w64.size, dtype=bool)])
        self.dropped = np.concatenate([self.dropped, np.zeros(w64.size, dtype=bool)])

    def _selection(self) -> Selection:
        idx = np.flatnonzero(self.chosen)
        return Selection(self.p[idx], self.e[idx], self.w[idx])

    def price(
        self,
        net: Network,
        d: np.ndarray,
        unit: np.ndarray,
        in_group: np.ndarray | None,
        progress: Callable[[float], None] | None = None,
        *,
        margin: int = 0,
    ) -> tuple[int, int]:
        """Add every pair left out that prices in; return how many, and their total (negative)
        reduced cost (a valid bound: optimum cost >= current cost + that total).

        ``margin`` > 0 adds the pairs of reduced cost below it too (not counted): pairs that
        nearly price in, which the next potentials would likely bring in one round later."""
        out = np.flatnonzero(~self.chosen)
        if out.size == 0:
            return 0, 0
        added = 0
        total = 0
        for lo in range(0, out.size, 2_000_000):
            idx = out[lo : lo + 2_000_000]
            rc = reduced_cost(net, d, self.p[idx], self.e[idx], self.cost[idx], unit, in_group)
            self.chosen[idx[rc < max(margin, 0)]] = True
            neg = rc < 0
            added += int(np.count_nonzero(neg))
            total += int(rc[neg].sum())
            if progress is not None:
                progress(min(1.0, (lo + idx.size) / out.size))
        return added, total

    def drop_above(
        self,
        net: Network,
        d: np.ndarray,
        unit: np.ndarray,
        in_group: np.ndarray | None,
        limit: int,
    ) -> int:
        """Take out of the selection the chosen pairs of reduced cost above ``limit`` (> 0, so
        no pair carrying flow); they stay in the pool and are priced every round like the
        others. A pair is taken out once at most (one that prices in again stays), so pricing
        rounds cannot cycle. Returns how many."""
        idx = np.flatnonzero(self.chosen & ~self.dropped)
        rc = reduced_cost(net, d, self.p[idx], self.e[idx], self.cost[idx], unit, in_group)
        out = idx[rc > max(limit, 0)]
        self.chosen[out] = False
        self.dropped[out] = True
        return int(out.size)

    def selection(self) -> Selection:
        return self._selection()


class DensePool:
    """Every pair of a (P, E) affinity matrix, or of a callable returning row blocks.

    NaN entries are not candidates; entries below ``floor`` and the conflicted pairs
    (``conflict_p``, ``conflict_e``) are not eligible.
    """

    def __init__(
        self,
        affinity: np.ndarray | BlockFn,
        *,
        n_proposals: int,
        n_experts: int,
        floor: float,
        conflict_p: np.ndarray,
        conflict_e: np.ndarray,
        block_rows: int | None = None,
    ) -> None:
        self.affinity = affinity
        self.n_p, self.n_e = n_proposals, n_experts
        self.floor = floor
        self.block_rows = block_rows or max(1, min(n_proposals, 1_000_000 // max(n_experts, 1)))
        order = np.lexsort((conflict_e, conflict_p))
        self.conf_p = conflict_p[order]
        self.conf_e = conflict_e[order]
        self.conf_ptr = np.searchsorted(self.conf_p, np.arange(n_proposals + 1))
        self.sel_p = np.zeros(0, dtype=np.int64)
        self.sel_e = np.zeros(0, dtype=np.int64)
        self.sel_w = np.zeros(0, dtype=np.float64)
        self.eligible_per_proposal = np.zeros(n_proposals, dtype=np.int64)
        self.eligible_per_expert = np.zeros(n_experts, dtype=np.int64)
        self.not_candidate = np.zeros(n_proposals, dtype=np.int64)
        self.below_floor = np.zeros(n_proposals, dtype=np.int64)
        self.group_masks: dict[str, np.ndarray] = {}
        self.group: np.ndarray | None = None  # (E,) quota group, for the first selection
        self.per_group = 0
        self.eligible_in_group: dict[str, np.ndarray] = {}

    @property
    def size(self) -> int:
        return int(self.eligible_per_proposal.sum())

    def _raw(self, r0: int, r1: int) -> np.ndarray:
        """Rows r0..r1-1 as a float64 copy (NaN = not a candidate)."""
        if callable(self.affinity):
            blk = np.array(self.affinity(slice(r0, r1)), dtype=np.float64)
        else:
            blk = np.array(self.affinity[r0:r1], dtype=np.float64)
        if blk.shape != (r1 - r0, self.n_e):
            raise ValueError(
                f"affinity rows {r0}..{r1 - 1} have shape {blk.shape}, expected "
                f"({r1 - r0}, {self.n_e}); give a (P, E) matrix or a callable returning row blocks"
            )
        return blk

    def _block(self, r0: int, r1: int, stats: bool = False) -> np.ndarray:
        """Rows r0..r1-1 as float64 with ineligible entries set to NaN.

        With ``stats``, check the values and count per proposal the non-candidates and the
        pairs below the floor (conflicted pairs excluded) into ``not_candidate`` /
        ``below_floor``."""
        blk = self._raw(r0, r1)
        a, b = self.conf_ptr[r0], self.conf_ptr[r1]
        if stats:
            if np.isinf(blk).any():
                raise ValueError(
                    f"affinity rows {r0}..{r1 - 1} hold infinite values; use NaN for non-candidates"
                )
            nan = np.isnan(blk)
            low = blk < self.floor
            if b > a:
                nan[self.conf_p[a:b] - r0, self.conf_e[a:b]] = False
                low[self.conf_p[a:b] - r0, self.conf_e[a:b]] = False
            self.not_candidate[r0:r1] = nan.sum(axis=1)
            self.below_floor[r0:r1] = low.sum(axis=1)
            blk[low] = np.nan
        else:
            blk[blk < self.floor] = np.nan
        if b > a:
            blk[self.conf_p[a:b] - r0, self.conf_e[a:b]] = np.nan
        return blk

    def _blocks(
        self, progress: Callable[[float], None] | None, stats: bool = False
    ) -> Iterator[tuple[int, int, np.ndarray]]:
        for r0 in range(0, self.n_p, self.block_rows):
            r1 = min(self.n_p, r0 + self.block_rows)
            yield r0, r1, self._block(r0, r1, stats)
            if progress is not None:
                progress(r1 / self.n_p)

    def initial(
        self,
        per_proposal: int,
        per_expert: int,
        progress: Callable[[float], None] | None = None,
    ) -> Selection:
        """One pass: the top pairs of each row, plus the top pairs of each column."""
        ps, es, ws = [], [], []
        n_top = min(per_proposal, self.n_e)
        t_col = max(0, per_expert)
        col_w = np.full((0, self.n_e), -np.inf)
        col_p = np.zeros((0, self.n_e), dtype=np.int64)
        cols = np.arange(self.n_e)
        self.eligible_per_expert[:] = 0
        for name in self.group_masks:
            self.eligible_in_group[name] = np.zeros(self.n_p, dtype=np.int64)
        for r0, r1, blk in self._blocks(progress, stats=True):
            ok = ~np.isnan(blk)
            self.eligible_per_proposal[r0:r1] = ok.sum(axis=1)
            self.eligible_per_expert += ok.sum(axis=0)
            for name, gm in self.group_masks.items():
                self.eligible_in_group[name][r0:r1] = ok[:, gm].sum(axis=1)
            filled = np.where(ok, blk, -np.inf)
            if n_top > 0:
                top = np.argpartition(filled, self.n_e - n_top, axis=1)[:, self.n_e - n_top :]
                tw = np.take_along_axis(filled, top, axis=1)
                rows = np.broadcast_to(np.arange(r0, r1)[:, None], top.shape)
                keep = np.isfinite(tw)
                ps.append(rows[keep])
                es.append(top[keep])
                ws.append(tw[keep])
            if self.group is not None and self.per_group > 0:
                gcols = np.flatnonzero(self.group)
                n_g = min(self.per_group, gcols.size)
                if n_g > 0:
                    sub = filled[:, gcols]
                    top = np.argpartition(sub, gcols.size - n_g, axis=1)[:, gcols.size - n_g :]
                    tw = np.take_along_axis(sub, top, axis=1)
                    rows = np.broadcast_to(np.arange(r0, r1)[:, None], top.shape)
                    keep = np.isfinite(tw)
                    ps.append(rows[keep])
                    es.append(gcols[top[keep]])
                    ws.append(tw[keep])
            if t_col > 0:
                bw, bp = [], []
                for _ in range(min(t_col, r1 - r0)):
                    am = filled.argmax(axis=0)
                    bw.append(filled[am, cols])
                    bp.append(am + r0)
                    filled[am, cols] = -np.inf
                stack_w = np.vstack([col_w, *bw])
                stack_p = np.vstack([col_p, *bp])
                t = min(t_col, stack_w.shape[0])
                pick = np.argpartition(-stack_w, t - 1, axis=0)[:t]
                col_w = stack_w[pick, cols]
                col_p = stack_p[pick, cols]
        if t_col > 0 and col_w.size:
            keep = np.isfinite(col_w)
            ps.append(col_p[keep])
            es.append(np.broadcast_to(cols, col_w.shape)[keep])
            ws.append(col_w[keep])
        p = np.concatenate(ps) if ps else np.zeros(0, dtype=np.int64)
        e = np.concatenate(es) if es else np.zeros(0, dtype=np.int64)
        w = np.concatenate(ws) if ws else np.zeros(0)
        key, first = unique_sorted(pair_key(p, e, self.n_e), index=True)
        (self.sel_p, self.sel_e), self.sel_w = split_key(key, self.n_e), w[first]
        return self.selection()

    def everything(self) -> Selection:
        ps, es, ws = [], [], []
        for r0 in range(0, self.n_p, self.block_rows):
            r1 = min(self.n_p, r0 + self.block_rows)
            blk = self._block(r0, r1)
            rr, cc = np.nonzero(~np.isnan(blk))
            ps.append(rr + r0)
            es.append(cc)
            ws.append(blk[rr, cc])
        self.sel_p = np.concatenate(ps).astype(np.int64)
        self.sel_e = np.concatenate(es).astype(np.int64)
        self.sel_w = np.concatenate(ws)
        return self.selection()

    def selection(self) -> Selection:
        return Selection(self.sel_p, self.sel_e, self.sel_w)

    def price(
        self,
        net: Network,
        d: np.ndarray,
        unit: np.ndarray,
        in_group: np.ndarray | None,
        progress: Callable[[float], None] | None = None,
    ) -> tuple[int, int]:
        """Scan the matrix in row blocks; add every pair that prices in; return the count and
        their total (negative) reduced cost.

        A pair prices in when ``round(w * SCALE) > d[entry] - d[expert]``. The scan compares
        ``w`` with a per-row threshold from the lowest potential of any entry node of the row
        (a superset) and then checks the few hits exactly."""
        d_e = d[net.e_node].astype(np.float64)
        low = d[net.p_node].copy()
        g = net.g_node
        has_g = g >= 0
        low[has_g] = np.minimum(low[has_g], d[g[has_g]])
        if net.unit_keys.size:
            np.minimum.at(low, net.unit_keys // net.n_units, d[net.unit_nodes])
        row_thr = (low.astype(np.float64) + 0.5) / SCALE - 1e-9
        col_thr = d_e / SCALE
        sel_key = np.sort(pair_key(self.sel_p, self.sel_e, self.n_e))
        conf_key = pair_key(self.conf_p, self.conf_e, self.n_e)  # sorted by construction
        new_p, new_e, new_w = [], [], []
        total = 0
        for r0 in range(0, self.n_p, self.block_rows):
            r1 = min(self.n_p, r0 + self.block_rows)
            blk = self._raw(r0, r1)
            rr, cc = np.nonzero(blk >= row_thr[r0:r1, None] - col_thr[None, :])
            if progress is not None:
                progress(r1 / self.n_p)
            if rr.size == 0:
                continue
            p = rr + r0
            raw = blk[rr, cc]
            ok = raw >= self.floor
            key = pair_key(p, cc, self.n_e)
            ok &= ~is_member(key, conf_key) & ~is_member(key, sel_key)
            p, e, raw = p[ok], cc[ok], raw[ok]
            rc = reduced_cost(net, d, p, e, scaled_cost(raw), unit, in_group)
            neg = rc < 0
            new_p.append(p[neg])
            new_e.append(e[neg])
            new_w.append(raw[neg])
            total += int(rc[neg].sum())
        if not new_p:
            return 0, 0
        np_, ne_, nw_ = np.concatenate(new_p), np.concatenate(new_e), np.concatenate(new_w)
        self.sel_p = np.concatenate([self.sel_p, np_.astype(np.int64)])
        self.sel_e = np.concatenate([self.sel_e, ne_.astype(np.int64)])
        self.sel_w = np.concatenate([self.sel_w, nw_])
        return int(np_.size), total


def is_member(key: np.ndarray, sorted_keys: np.ndarray) -> np.ndarray:
    """Boolean mask: which ``key`` values occur in ``sorted_keys``."""
    if sorted_keys.size == 0:
        return np.zeros(key.size, dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_keys, key), sorted_keys.size - 1)
    return sorted_keys[pos] == key
