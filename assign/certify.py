"""Assignment certified optimal for a whole affinity model, starting from pruned candidates.

``solve_certified(problem, model)`` solves ``problem`` (built by ``assign.pipeline.build_problem``:
its candidates are each proposal's top-N of the model) and proves the result optimal for every
pair of the model's full (P, E) matrix, conflicted pairs and pairs below the floor excluded
(a pair is eligible when its affinity is >= the floor, as in ``AssignmentProblem``):

1. One pass over the matrix in row blocks (on an ``assign.executor``: threads here, or the
   worker processes of a Dask cluster; the flows stay in this process). Per proposal it
   keeps the ``keep_per_row`` best pairs that are not candidates and ``resid``, the next
   value: an exact upper bound on every other such pair of the row. The kept pairs join the
   candidates in the pool of known pairs. Pairs are keyed in int64
   (``assign.problem.pair_key``): P x E passes 2^31 at national scale.
2. Where the selected pairs admit no flow, the flow carries slack arcs of prohibitive cost
   (``assign.flow.with_slack``), so it is feasible even where pruning left proposals short;
   pricing brings in the pairs that remove the slack (this is the widening). Where they
   admit one, the network goes without (the slack's huge costs make the solve ~1.7x slower).
3. After each optimal flow the experts' potentials are lowered as far as the flow allows, then
   every known pair is priced exactly, and a proposal's unknown pairs only when ``resid``
   leaves room above its lowest entry potential; such rows are recomputed (the source's
   ``dense_block``, on the executor) and keep deeper lists. Pairs that price in are added (at
   most ``4 x k`` unknown ones per row and round), and known pairs that come within ``_MARGIN``
   of pricing in join them; repeat. The next flow starts from the last one:
   when the new pairs upset it by a few units only, ``assign.flow.repair`` restores it in a
   few shortest-path phases instead of a solve from scratch.
4. When no pair prices in, the flow is optimal over every eligible pair: with no slack in use
   the assignment is optimal for the whole matrix (``certified``); with slack in use no
   assignment exists at all.

Memory model (nothing holds P x E entries; X conflicted pairs, C candidates, B =
``assign.scan.BLOCK_ENTRIES`` = 4M matrix entries per row block):

- with P: the bound ``resid_w`` and a few per-proposal arrays (tens of bytes a proposal);
- with E: expert potentials and loads; a block holds B / E rows;
- with the candidates: the pool of known pairs, C plus ``keep_per_row`` x P from the pass plus
  ``4 x keep_per_row`` per rescanned row (about 34 bytes a pair: indices, affinity, cost,
  flags), and the network over the selected pairs, a fraction of the pool (about 32 bytes an
  arc here, OR-Tools' copy besides); the conflicts as sorted int64 keys (8 bytes a pair);
- with the block size: each worker holds one block, 4 bytes an entry, and the rescans a
  float64 copy and masks besides (about 16 bytes an entry, so 64 MB a worker at B = 4M).

The affinity model itself (the source) grows with P and E times the terms kept per text.

Quotas, loads and one expert per unit are kept exactly as ``assign.solver.solve`` keeps them.
Rules outside the flow form (two quota kinds, or units mixing members and non-members of the
quota group) are solved by ``solve`` on the candidates alone and are not certified.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from assign.diagnosis import bipartite_cut, diagnose, eligibility, joint_record
from assign.executor import Executor, configured_executor
from assign.flow import (
    SCALE,
    FlowSolution,
    Network,
    build_network,
    excess,
    lowered_potentials,
    potentials,
    reduced_cost,
    repair,
    scaled_cost,
    solve_network,
    unique_sorted,
    with_slack,
)
from assign.pricing import CooPool, Selection, is_member, top_per_group
from assign.problem import AssignmentProblem, Status, pair_key, split_key
from assign.result import AssignmentResult, DiagnosisRecord, failed_result
from assign.scan import (
    BLOCK_ENTRIES,
    MaskedMatrix,
    MatrixSource,
    best_outside,
    float32_floor,
    row_blocks,
    row_top,
)
from assign.solver import FlowSpec, flow_spec, set_group, solve

Progress = Callable[[str, float], None] | None

# Known pairs within this reduced cost of pricing in join the network too: the potentials of
# the next flow shift by about that much, so they would mostly price in one round later (at
# 20,000 proposals this saves a whole round, a min-cost flow solved anew).
_MARGIN = SCALE // 1000
# After a small update (at most _SMALL_UPDATE new pairs per assigned pair) the potentials are
# close to final: the selected pairs more than _DROP_LIMIT from pricing in leave the network
# (not the pool, which prices them every round). At 20,000 proposals the last network shrinks
# from 2.5M pairs to under 1M.
_SMALL_UPDATE = 0.05
_DROP_LIMIT = SCALE // 200
_MISMATCH_TOL = 1e-6  # candidate affinity vs model: more than this is a different matrix


class CertifyInputError(ValueError):
    """A problem and an affinity model that do not describe the same matrix."""


# --------------------------------------------------------------------------- the matrix


def _model_index(
    problem: AssignmentProblem, model: MatrixSource
) -> tuple[np.ndarray, np.ndarray | None]:
    """(P,) model row of each problem proposal; (E,) model column of each problem expert, or
    None when the model has the problem's experts in the problem's order."""

    def lookup(ids: tuple[str, ...], model_ids: tuple[str, ...], kind: str) -> np.ndarray:
        index = {x: i for i, x in enumerate(model_ids)}
        missing = [x for x in ids if x not in index]
        if missing:
            shown = ", ".join(missing[:5]) + (
                f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            )
            raise CertifyInputError(
                f"{kind} {shown} of the problem are not in the affinity model; fit the model on "
                "the same batch (build_problem returns the problem and its model together)"
            )
        return np.fromiter((index[x] for x in ids), dtype=np.int64, count=len(ids))

    if model.proposal_ids == problem.proposal_ids:
        rows = np.arange(problem.n_proposals, dtype=np.int64)
    else:
        rows = lookup(problem.proposal_ids, model.proposal_ids, "proposals")
    cols = None
    if model.expert_ids != problem.expert_ids:
        cols = lookup(problem.expert_ids, model.expert_ids, "experts")
    return rows, cols


@dataclass(frozen=True, eq=False)
class _Pass:
    """The one pass over the matrix: per row block, the best non-candidate pairs and ``resid``;
    also checks the candidates' affinities against the source."""

    matrix: MaskedMatrix
    cand_key: np.ndarray  # sorted pair keys of every candidate of the problem
    cand_w32: np.ndarray  # their affinities (float32), aligned with cand_key
    keep: int

    def mismatch(
        self, prow: np.ndarray, value: Callable[[np.ndarray, np.ndarray], np.ndarray]
    ) -> tuple[float, int, int, float]:
        """Worst candidate of the rows ``prow`` (a contiguous range): (|difference|, p, e,
        source value), from ``value(local rows, columns)``; (0, -1, -1, 0) when all agree."""
        n_e = self.matrix.n_e
        a, b = np.searchsorted(self.cand_key, pair_key([prow[0], prow[-1]], [0, n_e], n_e))
        if b <= a:
            return (0.0, -1, -1, 0.0)
        p, e = split_key(self.cand_key[a:b], n_e)
        got = value(p - prow[0], e)
        diff = np.abs(got.astype(np.float64) - self.cand_w32[a:b].astype(np.float64))
        diff[np.isnan(diff)] = np.inf
        j = int(np.argmax(diff))
        if diff[j] <= _MISMATCH_TOL:
            return (0.0, -1, -1, 0.0)
        return (float(diff[j]), int(p[j]), int(e[j]), float(got[j]))


_PassPart = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, tuple[float, int, int, float]]


def _pass_item(job: _Pass, rows: np.ndarray) -> _PassPart:
    """Rows ``rows`` (a contiguous range) in blocks of ``BLOCK_ENTRIES``: (p, e, w float32)
    kept pairs, (R,) resid, worst candidate mismatch (|difference|, p, e, source value)."""
    m = job.matrix
    step = max(1, BLOCK_ENTRIES // max(m.n_e, 1))
    parts, worst = [], (0.0, -1, -1, 0.0)
    for a in range(0, rows.size, step):
        prow = rows[a : a + step]
        got = m.entries(prow, job.cand_key)
        if got is None:
            blk = m.raw(prow)
            bad = job.mismatch(prow, lambda r, c: blk[r, c])  # noqa: B023
            m.mask(prow, blk, job.cand_key)
            r, c, v, resid = row_top(blk, job.keep, m.floor32)
        else:
            sub = m.source.sparse_block(m.rows[prow])  # type: ignore[attr-defined]
            bad = job.mismatch(prow, lambda r, c: np.asarray(sub[r, c]).ravel())  # noqa: B023
            r, c, v, resid = best_outside(m, prow, job.keep, job.cand_key)
        worst = max(worst, bad, key=lambda x: x[0])
        parts.append((r + prow[0], c, v, resid))
    cat = [np.concatenate([part[i] for part in parts]) for i in range(4)]
    return cat[0], cat[1], cat[2], cat[3], worst


# --------------------------------------------------------------------------- flow


@dataclass(frozen=True, eq=False)
class _Flow:
    sel: Selection  # the pairs of the network, pair arc i = pair i
    net: Network  # over the selection, without slack
    solved: Network  # net itself, or net with slack arcs where net alone has no flow
    sol: FlowSolution
    slack: int  # units of flow on slack arcs
    d: np.ndarray | None = None  # potentials proving it optimal, when the solve gave them

    @property
    def has_slack_arcs(self) -> bool:
        return self.solved is not self.net

    @property
    def used(self) -> np.ndarray:
        return self.sol.flow[: self.net.n_pairs] > 0

    @property
    def pair_cost(self) -> int:
        """Cost of the pair arcs alone (the slack excluded)."""
        return int((self.sol.flow[: self.net.n_pairs] * self.net.cost[: self.net.n_pairs]).sum())


def _network(spec: FlowSpec, sel: Selection) -> Network:
    return build_network(
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


def _solve_flow(spec: FlowSpec, sel: Selection, big: int) -> _Flow:
    """The optimal flow over ``sel``; with slack arcs of cost ``big`` where there is no other."""
    net = _network(spec, sel)
    sol = solve_network(net)  # an infeasible network is found out in a fraction of a solve
    if sol.feasible:
        return _Flow(sel, net, net, sol, 0)
    net_s = with_slack(net, big)
    sol = solve_network(net_s)
    if not sol.feasible:  # cannot happen with slack arcs; kept as a guard
        raise RuntimeError(f"min-cost flow with slack arcs returned '{sol.status_name}'")
    return _Flow(sel, net, net_s, sol, int(sol.flow[net.tail.size :].sum()))


_REPAIR_UNITS = 16  # at most this many units out of balance: repair instead of solving anew


def _next_flow(
    spec: FlowSpec, sel: Selection, big: int, prev: _Flow, d: np.ndarray, n_e: int
) -> _Flow:
    """The optimal flow over ``sel`` (``prev.sel`` plus priced-in pairs).

    ``prev``'s flow is carried over (it stays balanced) and the new pairs of negative reduced
    cost under ``d`` (valid potentials of ``prev``) are saturated; when that leaves at most
    ``_REPAIR_UNITS`` units out of balance, ``assign.flow.repair`` restores balance and
    optimality in a few shortest-path phases. Otherwise, or if the repair gives up, the
    network is solved from scratch. The flow keeps its slack arcs while it has any."""
    net = _network(spec, sel)
    solved = with_slack(net, big) if prev.has_slack_arcs else net
    old = prev.solved
    # proposals, experts, the sink and the group nodes keep their ids; unit nodes map by key.
    # A unit node left with one pair (the others left out) is gone: that pair's arc now leaves
    # from the parent, its reduced cost the sum of the two arcs' (of one sign: both carried
    # the pair's flow), so d stays valid.
    node = np.arange(old.n_nodes)
    if old.unit_keys.size:
        kept = is_member(old.unit_keys, net.unit_keys)
        node[old.unit_nodes[kept]] = net.unit_nodes[
            np.searchsorted(net.unit_keys, old.unit_keys[kept])
        ]
        node[old.unit_nodes[~kept]] = -1
    live = node >= 0
    unset = np.iinfo(np.int64).min
    d0 = np.full(solved.n_nodes, unset, dtype=np.int64)
    d0[node[live]] = d[live]
    f0 = np.zeros(solved.tail.size, dtype=np.int64)
    used = np.sort(pair_key(prev.sel.p[prev.used], prev.sel.e[prev.used], n_e))
    f0[: net.n_pairs] = is_member(pair_key(sel.p, sel.e, n_e), used)
    # the other arcs by their ends; a new one is the arc into a new unit node
    o = np.arange(old.n_pairs, old.tail.size)
    o = o[live[old.tail[o]] & live[old.head[o]]]
    n_all = solved.n_nodes
    old_key, at = unique_sorted(pair_key(node[old.tail[o]], node[old.head[o]], n_all), index=True)
    rest = np.arange(net.n_pairs, solved.tail.size)
    key = pair_key(solved.tail[rest], solved.head[rest], n_all)
    hit = is_member(key, old_key)
    f0[rest[hit]] = prev.sol.flow[o[at[np.searchsorted(old_key, key[hit])]]]
    new = rest[~hit]
    through = np.bincount(solved.tail[: net.n_pairs], weights=f0[: net.n_pairs],
                          minlength=n_all)  # fmt: skip
    f0[new] = np.rint(through[solved.head[new]]).astype(np.int64)
    d0[solved.head[new]] = d0[solved.tail[new]]
    if (d0 == unset).any() or excess(solved, f0).any():  # cannot happen; solve anew
        return _solve_flow(spec, sel, big)
    pairs = slice(0, net.n_pairs)
    rc = solved.cost[pairs] + d0[solved.tail[pairs]] - d0[solved.head[pairs]]
    f0[pairs][rc < 0] = 1
    units = int(excess(solved, f0).clip(min=0).sum())
    fixed = repair(solved, f0, d0, max_phases=3 * units) if units <= _REPAIR_UNITS else None
    if fixed is None:
        return _solve_flow(spec, sel, big)
    f, d1 = fixed
    sol = FlowSolution(True, int((f * solved.cost).sum()), f, "optimal")
    return _Flow(sel, net, solved, sol, int(f[net.tail.size :].sum()), d1)


def _row_low(net: Network, d: np.ndarray) -> np.ndarray:
    """(P,) lowest potential of any node a pair of the proposal can leave from."""
    low = d[net.p_node].copy()
    has_g = net.g_node >= 0
    low[has_g] = np.minimum(low[has_g], d[net.g_node[has_g]])
    if net.unit_keys.size:
        np.minimum.at(low, net.unit_keys // net.n_units, d[net.unit_nodes])
    return low


# --------------------------------------------------------------------------- pricing


@dataclass
class _State:
    """What is known of the matrix: the pool of known pairs and, per row, ``resid_w`` (integer
    affinity, ``round(w * SCALE)``) bounding every eligible pair outside the pool."""

    pool: CooPool
    resid_w: np.ndarray  # (P,) int64; a very low value where the row has no pair outside
    keep_deep: int
    per_row_add: int


_NONE = np.iinfo(np.int64).min // 4


def _resid_w(resid: np.ndarray) -> np.ndarray:
    out = np.full(resid.size, _NONE, dtype=np.int64)
    fin = np.isfinite(resid)
    out[fin] = -scaled_cost(resid[fin].astype(np.float64))
    return out


@dataclass(frozen=True, eq=False)
class _Deep:
    """Rows ``prow``'s ``keep_deep`` best pairs outside the pool and their new ``resid_w``."""

    prow: np.ndarray
    p: np.ndarray
    e: np.ndarray
    w: np.ndarray
    resid_w: np.ndarray


def _deepen_block(
    prow: np.ndarray, keep_deep: int, matrix: MaskedMatrix, known: np.ndarray
) -> tuple[_Deep, np.ndarray]:
    """The ``keep_deep`` best pairs outside the pool (sorted keys ``known``) of rows ``prow``,
    and the rows' (R, E) block with those, the pool's pairs and the ineligible ones at -inf."""
    blk = matrix.raw(prow)
    matrix.mask(prow, blk, known)
    r_t, c_t, v_t, resid = row_top(blk, keep_deep, matrix.floor32)
    blk[r_t, c_t] = -np.inf
    return _Deep(prow, prow[r_t], c_t, v_t, _resid_w(resid)), blk


def _merge(deep: list[_Deep], state: _State) -> None:
    """Apply the blocks' deepening at once (one extension of the pool, not one per block)."""
    if deep:
        state.resid_w[np.concatenate([x.prow for x in deep])] = np.concatenate(
            [x.resid_w for x in deep]
        )
        state.pool.extend(*(np.concatenate([getattr(x, f) for x in deep]) for f in ("p", "e", "w")))


@dataclass(frozen=True, eq=False)
class _Deepen:
    """Deepening rows: their ``keep_deep`` best pairs outside the pool (sorted keys ``known``)."""

    matrix: MaskedMatrix
    keep_deep: int
    known: np.ndarray


def _deepen_item(job: _Deepen, rows: np.ndarray) -> list[_Deep]:
    step = max(1, BLOCK_ENTRIES // max(job.matrix.n_e, 1))
    out = []
    for a in range(0, rows.size, step):
        prow = rows[a : a + step]
        r, c, v, resid = best_outside(job.matrix, prow, job.keep_deep, job.known)
        out.append(_Deep(prow, prow[r], c, v, _resid_w(resid)))
    return out


def _known(pool: CooPool, n_e: int) -> np.ndarray:
    """Sorted pair keys of the pool."""
    return np.sort(pair_key(pool.p, pool.e, n_e))


def _widen(
    problem: AssignmentProblem,
    state: _State,
    matrix: MaskedMatrix,
    executor: Executor,
    *,
    max_steps: int,
) -> None:
    """Phase one on the known pairs: while some proposals cannot get k experts within the max
    loads (a Hall deficit, by max flow), deepen those proposals' rows."""
    pool = state.pool
    for _ in range(max_steps):
        deficit, left, _ = bipartite_cut(problem.k, problem.max_load, pool.p, pool.e)
        rows = left[state.resid_w[left] > _NONE] if deficit else left[:0]
        if rows.size == 0:
            return
        job = _Deepen(matrix, state.keep_deep, _known(pool, matrix.n_e))
        items = row_blocks(rows, matrix.n_e, 1)
        _merge([x for part in executor.map(_deepen_item, job, items) for x in part], state)


def _initial(problem: AssignmentProblem, pool: CooPool, *, max_steps: int) -> Selection:
    """The first selection: the pool's best pairs per proposal and per expert. While it leaves
    proposals short (a Hall deficit, by max flow), the proposals on the short side of the cut
    take twice as many of their best known pairs (all of them once that adds none): taking
    every known pair of a large short side at once made the first flow of a 50,000-proposal
    batch run over 9.5 million pairs."""
    k_max = int(problem.k.max(initial=0))
    per_row = max(5 * k_max, 1)
    pool.initial(per_row, max(2, 2 * int(problem.min_load.max(initial=0))))
    for _ in range(max_steps):
        ch = pool.chosen
        deficit, left, _ = bipartite_cut(problem.k, problem.max_load, pool.p[ch], pool.e[ch])
        if not deficit:
            break
        short = np.flatnonzero(is_member(pool.p, left))
        per_row *= 2
        grow = short[top_per_group(pool.p[short], pool.w[short], per_row) & ~ch[short]]
        if not grow.size:
            grow = short[~ch[short]]
        if not grow.size:
            break
        pool.chosen = ch.copy()
        pool.chosen[grow] = True
    return pool.selection()


@dataclass(frozen=True, eq=False)
class _Rescan:
    """What a rescan of rows needs: the matrix, the pool's keys, and the pricing of a pair
    (the network's nodes without its arcs, the potentials ``d``, units and the quota group)."""

    matrix: MaskedMatrix
    known: np.ndarray
    keep_deep: int
    per_row_add: int
    net: Network
    d: np.ndarray
    unit: np.ndarray
    in_group: np.ndarray | None
    g_e: np.ndarray  # (E,) expert potentials shifted to the highest, in affinity units
    thr_all: np.ndarray  # (P,) each row's lowest entry potential, shifted alike

    def exact(
        self, p: np.ndarray, e: np.ndarray, w: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(p, e, reduced cost int64, affinity float64) of the pairs, priced exactly."""
        w64 = np.asarray(w, dtype=np.float64)
        rc = reduced_cost(self.net, self.d, p, e, scaled_cost(w64), self.unit, self.in_group)
        return p, e, rc, w64


_RescanPart = tuple[_Deep, np.ndarray, np.ndarray, np.ndarray, float]
_RESCAN_MARGIN = 4.0 / SCALE


def _rescan_block(job: _Rescan, prow: np.ndarray) -> _RescanPart:
    """One block of rows of :func:`_rescan`."""
    deep, blk = _deepen_block(prow, job.keep_deep, job.matrix, job.known)
    # potential-adjusted value; a pair can price in only if it exceeds the row's threshold
    adj = blk.astype(np.float64)
    adj += job.g_e[None, :]
    thr = job.thr_all[prow] - _RESCAN_MARGIN
    adj[~(adj > thr[:, None])] = -np.inf
    r_c, c_c, _v, _r = row_top(adj, job.per_row_add, thr)
    n_cand = np.count_nonzero(np.isfinite(adj), axis=1)
    p, e, rc, w = job.exact(prow[r_c], c_c, blk[r_c, c_c])
    found = np.bincount(np.searchsorted(prow, p[rc < 0]), minlength=prow.size)
    # rows where the best-ranked pairs do not price in but others might: price them all
    full = np.flatnonzero((found == 0) & (n_cand > job.per_row_add))
    checked = np.zeros(adj.shape, dtype=bool)
    checked[r_c, c_c] = True
    if full.size:
        rr, cc = np.nonzero(np.isfinite(adj[full]) & ~checked[full])
        p2, e2, rc2, w2 = job.exact(prow[full[rr]], cc, blk[full[rr], cc])
        p, e, rc, w = (np.concatenate([p, p2]), np.concatenate([e, e2]),
                       np.concatenate([rc, rc2]), np.concatenate([w, w2]))  # fmt: skip
        checked[full[rr], cc] = True
    neg = rc < 0
    # bound: exact for the pairs priced, rc >= low - (w * SCALE + d[e]) for the others
    bound = float(rc[neg].sum())
    rest = np.isfinite(adj) & ~checked
    lower = (job.thr_all[prow][:, None] - adj) * SCALE
    bound += float(np.minimum(lower[rest], 0.0).sum()) - 1.0 * np.count_nonzero(rest)
    return deep, p[neg], e[neg], w[neg], bound


def _rescan_item(job: _Rescan, rows: np.ndarray) -> list[_RescanPart]:
    step = max(1, BLOCK_ENTRIES // max(job.matrix.n_e, 1))
    return [_rescan_block(job, rows[a : a + step]) for a in range(0, rows.size, step)]


def _rescan(
    rows: np.ndarray,
    state: _State,
    matrix: MaskedMatrix,
    flow: _Flow,
    d: np.ndarray,
    spec: FlowSpec,
    executor: Executor,
) -> tuple[int, float]:
    """Recompute ``rows`` (ascending) against potentials ``d``, in row blocks on ``executor``.

    Each row's ``keep_deep`` best pairs outside the pool join it (the pool prices them) and
    its ``resid_w`` is lowered to the next value. Of the other pairs, those that may price in
    (``w * SCALE + d[e] > low[p]``, ``low`` the row's lowest entry potential) are ranked by
    ``w * SCALE + d[e]``; the best ``per_row_add`` are priced exactly and those that price in are
    added as chosen; a row where none of them does has all its candidates priced exactly.
    Returns (pairs chosen, a lower bound on the summed negative reduced costs of the pairs
    outside the pool)."""
    pool, net = state.pool, flow.net
    low = _row_low(net, d)
    d_max = float(d[net.e_node].max())
    empty = np.zeros(0, dtype=np.int64)
    job = _Rescan(
        matrix, _known(pool, matrix.n_e), state.keep_deep, state.per_row_add,
        replace(net, tail=empty, head=empty, cap=empty, cost=empty, supply=empty), d,
        spec.unit, spec.in_group, (d[net.e_node] - d_max) / SCALE, (low - d_max) / SCALE,
    )  # fmt: skip
    items = row_blocks(rows, matrix.n_e, 1)
    parts = [part for item in executor.map(_rescan_item, job, items) for part in item]
    _merge([part[0] for part in parts], state)
    n_before = pool.p.size
    pool.extend(*(np.concatenate([part[i] for part in parts]) for i in (1, 2, 3)))
    pool.chosen[n_before:] = True
    return pool.p.size - n_before, sum(part[4] for part in parts)


# --------------------------------------------------------------------------- public API


def solve_certified(
    problem: AssignmentProblem,
    model: MatrixSource,
    *,
    time_limit_s: float = 60.0,
    workers: int = 2,
    executor: Executor | None = None,
    max_rounds: int = 100,
    keep_per_row: int | None = None,
    progress: Progress = None,
) -> AssignmentResult:
    """Maximise total affinity over every eligible pair of ``model``'s full matrix, starting
    from ``problem``'s candidates, and prove it (``certified``).

    problem: as built by ``build_problem`` (candidates, conflicts, floor, k, loads, units,
    quotas); model: its ``AffinityModel`` (ids are matched, in any order; every problem id must
    be in the model), or any ``assign.scan.MatrixSource`` such as ``SparseScores``. The pass
    over the matrix and the rescans run on ``executor`` (default:
    ``configured_executor(workers)``: a Dask cluster when one is configured, else ``workers``
    threads); ``keep_per_row`` (default max(40, 8 x max k)) best non-candidate pairs per
    proposal are kept from it. Stops after ``max_rounds`` pricing rounds or ``time_limit_s``
    with a FEASIBLE result and a valid bound. ``progress(stage, fraction)``: stages "pass",
    "flow", "pricing". Raises ``CertifyInputError`` when the problem and the model disagree.
    """
    t0 = time.perf_counter()
    executor = executor or configured_executor(workers)
    rows, cols = _model_index(problem, model)
    n_e = problem.n_experts
    matrix = MaskedMatrix(
        model, rows, cols, n_e, float32_floor(problem.affinity_floor),
        unique_sorted(pair_key(problem.conflict_p, problem.conflict_e, n_e))[0],
    )  # fmt: skip
    spec = flow_spec(problem)
    if spec is None:
        return _outside_flow(problem, matrix, time_limit_s=time_limit_s, workers=workers,
                             progress=progress, t0=t0)  # fmt: skip
    k_max = int(problem.k.max(initial=0))
    keep = keep_per_row if keep_per_row is not None else max(40, 8 * k_max)
    el = eligibility(problem)
    pool = CooPool(problem.cand_p[el.ok], problem.cand_e[el.ok], problem.cand_w[el.ok])
    set_group(pool, spec)

    def stage(s: str) -> Callable[[float], None] | None:
        return None if progress is None else (lambda f: progress(s, f))

    cand_key, first = unique_sorted(pair_key(problem.cand_p, problem.cand_e, n_e), index=True)
    job = _Pass(matrix, cand_key, problem.cand_w[first].astype(np.float32), keep)
    items = row_blocks(np.arange(problem.n_proposals, dtype=np.int64), n_e, 16)
    parts = []
    for i, part in enumerate(executor.map(_pass_item, job, items)):
        parts.append(part)
        if progress is not None:
            progress("pass", (i + 1) / len(items))
    worst = max((part[4] for part in parts), key=lambda x: x[0], default=(0.0, -1, -1, 0.0))
    if worst[0] > 0:
        _, p, e, got = worst
        j = int(np.searchsorted(cand_key, pair_key(p, e, n_e)))
        raise CertifyInputError(
            f"candidate pair ({problem.proposal_ids[p]}, {problem.expert_ids[e]}) has affinity "
            f"{problem.cand_w[first[j]]:.6g} in the problem but {got:.6g} in the model; build "
            "the problem from this model (build_problem returns both)"
        )
    pool.extend(
        np.concatenate([part[0] for part in parts]),
        np.concatenate([part[1] for part in parts]),
        np.concatenate([part[2] for part in parts]),
    )
    state = _State(
        pool,
        _resid_w(np.concatenate([part[3] for part in parts])) if parts else np.zeros(0, np.int64),
        keep_deep=4 * keep,
        per_row_add=max(4 * k_max, 8),
    )

    _widen(problem, state, matrix, executor, max_steps=8)
    sel = _initial(problem, pool, max_steps=8)
    big = SCALE * (int(problem.k.sum()) + int(problem.min_load.sum()) + 1)
    if progress is not None:
        progress("flow", 0.0)
    flow = _solve_flow(spec, sel, big)
    if progress is not None:
        progress("flow", 1.0)
    rounds, certified = 0, False
    while True:
        d = flow.d if flow.d is not None else potentials(flow.solved, flow.sol.flow)
        d = lowered_potentials(flow.solved, flow.sol.flow, d, flow.net.e_node)
        # the known pairs (exact, cheap), then the rows of the matrix that may hold more
        added, neg = pool.price(flow.net, d, spec.unit, spec.in_group, stage("pricing"),
                                margin=_MARGIN)  # fmt: skip
        neg_total = float(neg)
        low = _row_low(flow.net, d)
        d_max = int(d[flow.net.e_node].max()) if n_e else 0
        flagged = np.flatnonzero(state.resid_w > low - d_max)
        if flagged.size:
            chosen, neg_scan = _rescan(flagged, state, matrix, flow, d, spec, executor)
            more, neg = pool.price(flow.net, d, spec.unit, spec.in_group, margin=_MARGIN)
            added += chosen + more
            neg_total += neg_scan + neg
        rounds += 1
        if progress is not None:
            progress("pricing", 1.0)
        if added == 0:
            certified = True
            break
        if rounds >= max_rounds or time.perf_counter() - t0 > time_limit_s:
            break
        if not flow.slack and added <= _SMALL_UPDATE * int(problem.k.sum()):
            pool.drop_above(flow.net, d, spec.unit, spec.in_group, _DROP_LIMIT)
        sel = pool.selection()
        if progress is not None:
            progress("flow", 0.0)
        flow = _next_flow(spec, sel, big, flow, d, n_e)
        if progress is not None:
            progress("flow", 1.0)
    res = _result(problem, sel, flow, certified=certified, neg_total=neg_total, rounds=rounds,
                  t0=t0, time_limit_s=time_limit_s)  # fmt: skip
    return replace(res, pricing_rounds=rounds)


def _result(
    problem: AssignmentProblem,
    sel: Selection,
    flow: _Flow,
    *,
    certified: bool,
    neg_total: float,
    rounds: int,
    t0: float,
    time_limit_s: float,
) -> AssignmentResult:
    name = "min-cost-flow+full-pricing"
    if flow.slack:
        if certified:
            sub = replace(problem, cand_p=sel.p, cand_e=sel.e, cand_w=sel.w)
            recs = diagnose(sub) or [joint_record(problem)]
            head = DiagnosisRecord(
                "full_matrix",
                "No assignment exists even over every eligible pair of the affinity matrix "
                f"(proved by pricing); the findings below count the {sel.p.size} pairs kept "
                "after pricing.",
            )
            return failed_result(problem, [head, *recs], t0, name, Status.INFEASIBLE, sel.p.size)
        rec = DiagnosisRecord(
            "time_limit",
            f"No assignment found within {time_limit_s:g} s and {rounds} pricing rounds (some "
            "proposals still short of experts); raise the time limit or max_rounds.",
        )
        return failed_result(problem, [rec], t0, name, Status.UNKNOWN, sel.p.size)
    used = flow.used
    pp, pe, pw = sel.p[used], sel.e[used], sel.w[used]
    obj = float(pw.sum())
    if certified:
        bound, status = obj, Status.OPTIMAL
    else:  # Lagrangian bound: flow cost plus every negative reduced cost
        bound, status = -(flow.pair_cost + neg_total) / SCALE, Status.FEASIBLE
    gap = max(0.0, (bound - obj) / max(abs(bound), 1e-9))
    order = np.lexsort((pe, pp))
    return AssignmentResult(
        status, obj, bound, gap, time.perf_counter() - t0, pp[order], pe[order], pw[order],
        problem.proposal_ids, problem.expert_ids, (), (), certified, name, rounds, sel.p.size,
    )  # fmt: skip


_FULL_IP_PAIRS = 100_000  # outside the flow form, matrices this small go whole to the IP


def _outside_flow(
    problem: AssignmentProblem,
    matrix: MaskedMatrix,
    *,
    time_limit_s: float,
    workers: int,
    progress: Progress,
    t0: float,
) -> AssignmentResult:
    """Rules outside the flow form: an integer program. Over every eligible pair of the matrix
    when it has at most ``_FULL_IP_PAIRS`` entries (then its optimum, or its infeasibility,
    holds for the whole matrix: certified); otherwise over the problem's candidates only, not
    certified (no bound is reported, and an infeasible IP proves nothing: status UNKNOWN)."""
    if problem.n_proposals * problem.n_experts <= _FULL_IP_PAIRS:
        prow = np.arange(problem.n_proposals, dtype=np.int64)
        blk = matrix.raw(prow)
        matrix.mask(prow, blk, np.zeros(0, dtype=np.int64))
        p, e = np.nonzero(np.isfinite(blk))
        full = replace(problem, cand_p=p, cand_e=e, cand_w=blk[p, e].astype(np.float64))
        res = solve(full, time_limit_s=time_limit_s, workers=workers, progress=progress)
        return replace(res, certified=res.status == Status.OPTIMAL, wall_s=time.perf_counter() - t0)
    res = solve(problem, time_limit_s=time_limit_s, workers=workers, progress=progress)
    infeasible = res.status == Status.INFEASIBLE
    note = DiagnosisRecord(
        "not_certified",
        "The quotas (or units mixing quota-group members and non-members) leave the flow form "
        f"and the matrix is too large ({problem.n_proposals} x {problem.n_experts}) for an "
        "integer program over every pair: solved on the problem's candidate pairs only, so "
        + ("the shortage may come from the pruning, not the batch; raise top_n (--candidates)."
           if infeasible else "the result is not certified for the whole affinity matrix; "
           "raise top_n (--candidates) to search more pairs."),
    )  # fmt: skip
    status = {Status.OPTIMAL: Status.FEASIBLE, Status.INFEASIBLE: Status.UNKNOWN}.get(
        res.status, res.status
    )
    return replace(
        res, status=status, certified=False, bound=float("nan"), gap=float("nan"),
        diagnosis=(*res.diagnosis, note.message), records=(*res.records, note),
        wall_s=time.perf_counter() - t0,
    )  # fmt: skip
