"""The assignment network for OR-Tools min-cost flow, and its node potentials.

Network (one optional quota group):

    proposal p --[lb m_p, cap k_p]--> group node g_p  (only where the quota m_p > 0)
    p or g_p  --[cap 1]-------------> unit node (p, u) (only where >= 2 candidates share unit u)
    p, g_p or (p, u) --[cap 1, cost -round(w * SCALE)]--> expert e
    expert e  --[lb min_load_e, cap max_load_e]--> sink T

Supplies: k_p at each proposal, -sum(k) at the sink. Lower bounds are removed the usual way
(capacity minus the bound, the bound moved into the node supplies). Integer costs resolve
affinities to 1 / SCALE = 1e-6.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp
from ortools.graph.python import min_cost_flow
from scipy.sparse.csgraph import dijkstra, maximum_flow

from assign.problem import pair_key

SCALE = 1_000_000
"""Affinity is scaled by this and rounded to an integer cost (resolution 1e-6 per pair)."""


def scaled_cost(w: np.ndarray) -> np.ndarray:
    """Integer arc cost of affinity ``w`` (any shape): ``-round(w * SCALE)``, int64."""
    return -np.rint(np.asarray(w, dtype=np.float64) * SCALE).astype(np.int64)


def unique_sorted(
    a: np.ndarray, *, index: bool = False, counts: bool = False, inverse: bool = False
) -> tuple[np.ndarray, ...]:
    """Sort-based ``np.unique`` for 1-D int arrays (numpy 2.4's hash-based one is far slower
    here). Returns (values, [first index], [counts], [inverse]) as asked."""
    a = np.asarray(a)
    order = np.argsort(a, kind="stable")
    s = a[order]
    start = np.flatnonzero(np.r_[True, s[1:] != s[:-1]]) if s.size else np.zeros(0, np.int64)
    out: list[np.ndarray] = [s[start]]
    if index:
        out.append(order[start])
    if counts:
        out.append(np.diff(np.r_[start, s.size]))
    if inverse:
        inv = np.empty(a.size, dtype=np.int64)
        inv[order] = np.cumsum(np.r_[True, s[1:] != s[:-1]]) - 1 if s.size else inv
        out.append(inv)
    return tuple(out)


@dataclass(frozen=True, eq=False)
class Network:
    """A built network. Pair arcs come first (arc i = candidate i), in candidate order."""

    n_nodes: int
    tail: np.ndarray
    head: np.ndarray
    cap: np.ndarray  # capacity after removing lower bounds
    cost: np.ndarray
    supply: np.ndarray
    n_pairs: int
    p_node: np.ndarray  # (P,) node of each proposal
    g_node: np.ndarray  # (P,) group node, -1 where none
    e_node: np.ndarray  # (E,) node of each expert
    sink: int
    unit_keys: np.ndarray  # sorted keys p * n_units + u of the unit nodes
    unit_nodes: np.ndarray  # node ids aligned with unit_keys
    n_units: int


def entry_nodes(
    net: Network,
    p: np.ndarray,
    e: np.ndarray,
    unit: np.ndarray,
    in_group: np.ndarray | None,
) -> np.ndarray:
    """Node from which the pair arc (p, e) leaves: the unit node if it exists, else g_p or p."""
    parent = net.p_node[p]
    if in_group is not None:
        g = net.g_node[p]
        use_g = in_group[e] & (g >= 0)
        parent = np.where(use_g, g, parent)
    if net.unit_keys.size:
        u = unit[e]
        key = pair_key(p, u, net.n_units)
        pos = np.searchsorted(net.unit_keys, key)
        pos_c = np.minimum(pos, net.unit_keys.size - 1)
        hit = (u >= 0) & (net.unit_keys[pos_c] == key)
        parent = np.where(hit, net.unit_nodes[pos_c], parent)
    return parent


def reduced_cost(
    net: Network,
    d: np.ndarray,
    p: np.ndarray,
    e: np.ndarray,
    cost: np.ndarray,
    unit: np.ndarray,
    in_group: np.ndarray | None,
) -> np.ndarray:
    """Reduced cost ``cost + d[entry] - d[expert]`` of the pair arcs (p, e) of integer cost
    ``cost`` under potentials ``d``, whether or not the pairs are in ``net``: < 0 prices in."""
    return cost + d[entry_nodes(net, p, e, unit, in_group)] - d[net.e_node[e]]


def build_network(
    *,
    cand_p: np.ndarray,
    cand_e: np.ndarray,
    cand_cost: np.ndarray,
    k: np.ndarray,
    max_load: np.ndarray,
    min_load: np.ndarray,
    unit: np.ndarray,
    in_group: np.ndarray | None,
    quota: np.ndarray | None,
) -> Network:
    """Build the network over the given (already eligible) candidate pairs.

    cand_*: (C,) pairs and integer costs; k: (P,); max_load, min_load, unit: (E,);
    in_group: (E,) bool membership of the one quota group, quota: (P,) its minimum count.
    Units must not mix group and non-group experts (the caller checks).
    """
    n_p, n_e = k.shape[0], max_load.shape[0]
    p_node = np.arange(n_p, dtype=np.int64)
    e_node = n_p + np.arange(n_e, dtype=np.int64)
    sink = n_p + n_e
    nxt = sink + 1
    g_node = np.full(n_p, -1, dtype=np.int64)
    if in_group is not None and quota is not None:
        has_q = np.flatnonzero(quota > 0)
        g_node[has_q] = nxt + np.arange(has_q.size)
        nxt += has_q.size
    n_units = int(unit.max()) + 1 if unit.size and unit.max() >= 0 else 0
    unit_keys = np.zeros(0, dtype=np.int64)
    unit_nodes = np.zeros(0, dtype=np.int64)
    if n_units:
        u = unit[cand_e]
        keys = pair_key(cand_p[u >= 0], u[u >= 0], n_units)
        uk, cnt = unique_sorted(keys, counts=True)
        unit_keys = uk[cnt >= 2]
        unit_nodes = nxt + np.arange(unit_keys.size, dtype=np.int64)
        nxt += unit_keys.size
    n_nodes = nxt
    partial = Network(
        n_nodes, np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0), 0,
        p_node, g_node, e_node, sink, unit_keys, unit_nodes, n_units,
    )  # fmt: skip
    entry = entry_nodes(partial, cand_p, cand_e, unit, in_group)
    tails = [entry]
    heads = [e_node[cand_e]]
    caps = [np.ones(cand_p.size, dtype=np.int64)]
    costs = [cand_cost.astype(np.int64)]
    lows = [np.zeros(cand_p.size, dtype=np.int64)]
    # group arcs
    if (g_node >= 0).any():
        q = np.flatnonzero(g_node >= 0)
        tails.append(p_node[q])
        heads.append(g_node[q])
        caps.append(k[q].astype(np.int64))
        costs.append(np.zeros(q.size, dtype=np.int64))
        lows.append(quota[q].astype(np.int64))  # type: ignore[index]
    # unit arcs
    if unit_keys.size:
        up = unit_keys // n_units
        uu = unit_keys % n_units
        # the unit's members are all in or all out of the group: take any member's flag
        parent = p_node[up]
        if in_group is not None:
            member = np.full(n_units, False)
            ue = np.flatnonzero(unit >= 0)
            member[unit[ue]] = in_group[ue]
            parent = np.where(member[uu] & (g_node[up] >= 0), g_node[up], parent)
        tails.append(parent)
        heads.append(unit_nodes)
        caps.append(np.ones(unit_keys.size, dtype=np.int64))
        costs.append(np.zeros(unit_keys.size, dtype=np.int64))
        lows.append(np.zeros(unit_keys.size, dtype=np.int64))
    # expert -> sink
    tails.append(e_node)
    heads.append(np.full(n_e, sink, dtype=np.int64))
    caps.append(max_load.astype(np.int64))
    costs.append(np.zeros(n_e, dtype=np.int64))
    lows.append(min_load.astype(np.int64))
    tail = np.concatenate(tails)
    head = np.concatenate(heads)
    low = np.concatenate(lows)
    cap = np.concatenate(caps) - low
    cost = np.concatenate(costs)
    supply = np.zeros(n_nodes, dtype=np.int64)
    supply[p_node] = k
    supply[sink] = -int(k.sum())
    np.subtract.at(supply, tail, low)
    np.add.at(supply, head, low)
    return Network(
        n_nodes, tail, head, cap, cost, supply, cand_p.size,
        p_node, g_node, e_node, sink, unit_keys, unit_nodes, n_units,
    )  # fmt: skip


@dataclass(frozen=True, eq=False)
class FlowSolution:
    """Outcome of one min-cost flow solve: ``flow`` per arc (lower bounds removed)."""

    feasible: bool
    cost: int
    flow: np.ndarray
    status_name: str


def solve_network(net: Network) -> FlowSolution:
    """Solve the network exactly with OR-Tools ``SimpleMinCostFlow``."""
    smcf = min_cost_flow.SimpleMinCostFlow()
    if net.tail.size:
        smcf.add_arcs_with_capacity_and_unit_cost(net.tail, net.head, net.cap, net.cost)
    # make sure every node exists even without arcs
    nodes = np.arange(net.n_nodes, dtype=np.int64)
    if net.n_nodes:
        smcf.set_nodes_supplies(nodes, net.supply)
    status = smcf.solve()
    ok = status == smcf.OPTIMAL
    name = {
        smcf.OPTIMAL: "optimal",
        smcf.INFEASIBLE: "infeasible",
        smcf.UNBALANCED: "unbalanced",
        smcf.BAD_COST_RANGE: "bad cost range",
        smcf.BAD_CAPACITY_RANGE: "bad capacity range",
    }.get(status, str(status))
    if not ok:
        return FlowSolution(False, 0, np.zeros(net.tail.size, dtype=np.int64), name)
    flow = smcf.flows(np.arange(net.tail.size, dtype=np.int64)).astype(np.int64)
    return FlowSolution(True, int(smcf.optimal_cost()), flow, name)


def _expand(indptr: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """Indices of the CSR entries of ``nodes`` (concatenated row ranges)."""
    starts = indptr[nodes]
    lens = indptr[nodes + 1] - starts
    total = int(lens.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offs = np.repeat(starts - (np.cumsum(lens) - lens), lens)
    return offs + np.arange(total)


def shortest_distances(n: int, tail: np.ndarray, head: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """Distances (n,) from a virtual root joined to every node at cost 0, for integer arc costs
    that may be negative (no negative cycle). Bellman-Ford relaxing, round by round, only the
    arcs leaving nodes whose distance changed in the previous round."""
    order = np.argsort(tail, kind="stable")
    t, h, c = tail[order], head[order], cost[order]
    indptr = np.searchsorted(t, np.arange(n + 1))
    d = np.zeros(n, dtype=np.int64)
    frontier = unique_sorted(t[c < 0])[0]
    rounds = 0
    while frontier.size:
        rounds += 1
        if rounds > n + 1:
            raise RuntimeError("negative cycle in the residual graph: the flow is not optimal")
        arcs = _expand(indptr, frontier)
        cand = d[t[arcs]] + c[arcs]
        better = cand < d[h[arcs]]
        if not better.any():
            break
        hb, cb = h[arcs][better], cand[better]
        np.minimum.at(d, hb, cb)
        frontier = unique_sorted(hb)[0]
    return d


def potentials(net: Network, flow: np.ndarray) -> np.ndarray:
    """Node potentials ``d`` (n_nodes,) with reduced cost ``c + d[tail] - d[head] >= 0`` on
    every residual arc of an optimal ``flow``: shortest-path distances in the residual graph
    from a virtual root joined to every node at cost 0."""
    fwd = flow < net.cap
    bwd = flow > 0
    t = np.concatenate([net.tail[fwd], net.head[bwd]])
    h = np.concatenate([net.head[fwd], net.tail[bwd]])
    c = np.concatenate([net.cost[fwd], -net.cost[bwd]])
    return shortest_distances(net.n_nodes, t, h, c)


def with_slack(net: Network, big: int) -> Network:
    """``net`` plus slack arcs of cost ``big`` that make it feasible whatever the pairs: one from
    every node with supply to the sink and one from the sink to every other node with demand
    (capacity: that supply or demand). Slack arcs come after ``net``'s own arcs, so the pair
    arcs keep their positions. With ``big`` above ``SCALE * sum(k)`` a min-cost flow uses as
    little slack as the pairs allow, and uses none exactly when the pairs admit a solution."""
    src = np.flatnonzero(net.supply > 0)
    dst = np.flatnonzero(net.supply < 0)
    dst = dst[dst != net.sink]
    tail = np.concatenate([net.tail, src, np.full(dst.size, net.sink, dtype=np.int64)])
    head = np.concatenate([net.head, np.full(src.size, net.sink, dtype=np.int64), dst])
    cap = np.concatenate([net.cap, net.supply[src], -net.supply[dst]])
    cost = np.concatenate([net.cost, np.full(src.size + dst.size, big, dtype=np.int64)])
    return replace(net, tail=tail, head=head, cap=cap.astype(np.int64), cost=cost)


def lowered_potentials(
    net: Network, flow: np.ndarray, d: np.ndarray, nodes: np.ndarray
) -> np.ndarray:
    """Potentials (n_nodes,) equal to ``d`` except on ``nodes``, each lowered to the least value
    the residual arcs leaving it allow (``d[v] >= d[head] - cost``); still valid for ``flow``.

    ``d`` must be valid potentials of ``flow`` and ``nodes`` pairwise non-adjacent (e.g. the
    experts). Lower expert potentials make the pricing of pruned pairs
    (``c + d[entry] - d[expert]``) as tight as these potentials allow. A node with no residual
    arc leaving it gets ``min(d) - SCALE - 1``, low enough that no pair into it prices in."""
    fwd = flow < net.cap
    bwd = flow > 0
    t = np.concatenate([net.tail[fwd], net.head[bwd]])
    h = np.concatenate([net.head[fwd], net.tail[bwd]])
    c = np.concatenate([net.cost[fwd], -net.cost[bwd]])
    floor = int(d.min(initial=0)) - SCALE - 1
    low = np.full(net.n_nodes, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(low, t, d[h] - c)
    out = d.copy()
    v = low[nodes]
    out[nodes] = np.where(v == np.iinfo(np.int64).min, floor, v)
    return out


def excess(net: Network, flow: np.ndarray) -> np.ndarray:
    """(n_nodes,) supply plus inflow minus outflow: > 0 where a node holds flow it must send on,
    < 0 where it is owed flow; all zero exactly when ``flow`` is balanced."""
    out = np.bincount(net.tail, weights=flow, minlength=net.n_nodes)
    inn = np.bincount(net.head, weights=flow, minlength=net.n_nodes)
    return net.supply + np.rint(inn - out).astype(np.int64)


def repair(
    net: Network, flow: np.ndarray, d: np.ndarray, *, max_phases: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """Turn a pseudoflow into an optimal flow by the primal-dual method.

    ``flow`` must keep every arc within [0, cap] and ``d`` must give it reduced cost
    ``c + d[tail] - d[head]`` >= 0 on every residual arc (as after adding arcs to an optimal flow
    and saturating those of negative reduced cost); conservation may fail (``excess``). Each
    phase runs one multi-source Dijkstra (SciPy) from the nodes with excess over the reduced
    costs, raises the potentials by the distances capped at the nearest node owed flow, and
    sends a maximum flow (SciPy) from excess to deficit along the arcs of reduced cost 0. Both
    invariants hold throughout, so the balanced result is optimal and ``d`` proves it.

    Returns (flow, d), or None when ``max_phases`` phases leave excess (the caller then solves
    from scratch) or no path carries the excess (the network has no feasible flow).
    """
    f = flow.astype(np.int64, copy=True)
    d = d.astype(np.int64, copy=True)
    n, m = net.n_nodes, net.tail.size
    # both residual directions of every arc in one CSR structure, built once: entry j < m is
    # arc j forward (tail -> head), entry m + j its reverse; entries with no residual
    # capacity weigh +inf. Per entry: the arc, its direction, its ends, cost and residual cap.
    order = np.argsort(np.concatenate([net.tail, net.head]), kind="stable")
    arc, fwd = order % m, order < m
    a_from = np.where(fwd, net.tail[arc], net.head[arc])
    a_to = np.where(fwd, net.head[arc], net.tail[arc])
    indptr = np.searchsorted(a_from, np.arange(n + 1))
    rcap = np.where(fwd, net.cap[arc] - f[arc], f[arc])
    w = np.where(fwd, net.cost[arc], -net.cost[arc]) + d[a_from] - d[a_to]  # reduced costs
    where = np.empty(2 * m, dtype=np.int64)  # entry of arc j forward (j) and reverse (m + j)
    where[order] = np.arange(2 * m)
    ex = excess(net, f)
    for phase in range(max_phases + 1):
        src, dst = np.flatnonzero(ex > 0), np.flatnonzero(ex < 0)
        if src.size == 0:
            return f, d
        if phase == max_phases:
            break
        graph = sp.csr_matrix(
            (np.where(rcap > 0, w, np.inf), a_to, indptr), shape=(n, n), copy=False
        )
        dist = dijkstra(graph, indices=src, min_only=True)
        reach = dist[dst].min()
        if not np.isfinite(reach):
            return None
        step = np.minimum(dist, reach).astype(np.int64)
        d += step
        w += step[a_from] - step[a_to]
        adm = np.flatnonzero((w == 0) & (rcap > 0))
        pushed = _push(n, a_from[adm], a_to[adm], rcap[adm], src, ex[src], dst, -ex[dst])
        moved = adm[pushed > 0]
        x = np.where(fwd[moved], pushed[pushed > 0], -pushed[pushed > 0])  # change of flow
        j = arc[moved]
        np.add.at(f, j, x)
        np.add.at(rcap, where[j], -x)
        np.add.at(rcap, where[m + j], x)
        np.add.at(ex, net.tail[j], -x)
        np.add.at(ex, net.head[j], x)
    return None


def _push(
    n: int,
    u: np.ndarray,
    v: np.ndarray,
    cap: np.ndarray,
    src: np.ndarray,
    supply: np.ndarray,
    dst: np.ndarray,
    demand: np.ndarray,
) -> np.ndarray:
    """Maximum flow from the nodes ``src`` (up to ``supply`` each) to the nodes ``dst`` (up to
    ``demand`` each) over the arcs ``u -> v`` with capacities ``cap``; returns the flow on each
    arc. Parallel arcs share their pair's flow in order."""
    s, t = n, n + 1
    key = np.concatenate([pair_key(u, v, n + 2), pair_key(s, src, n + 2), pair_key(dst, t, n + 2)])
    caps = np.concatenate([cap, supply, demand])
    uniq, inv = unique_sorted(key, inverse=True)
    total = np.bincount(inv, weights=caps).astype(np.int32)
    graph = sp.csr_matrix((total, (uniq // (n + 2), uniq % (n + 2))), shape=(n + 2, n + 2))
    net_flow = maximum_flow(graph, s, t).flow.tocsr()
    on_pair = np.asarray(net_flow[uniq // (n + 2), uniq % (n + 2)]).ravel().astype(np.int64)
    on_pair = np.maximum(on_pair, 0)[inv[: u.size]]
    # split each pair's flow over its parallel arcs: arc i gets what is left after those before
    order = np.argsort(inv[: u.size], kind="stable")
    c = cap[order].astype(np.int64)
    grp = inv[: u.size][order]
    before = np.cumsum(c) - c
    first = np.searchsorted(grp, grp)
    before -= before[first]
    out = np.empty(u.size, dtype=np.int64)
    out[order] = np.clip(on_pair[order] - before, 0, c)
    return out
