"""From batch tables to an assignment problem: the one place that maps ids to indices.

``build_problem`` takes the batch tables (plain frames, as in the import formats), the proposals
and experts in play and the conflict pairs, fits the specialty affinity, keeps each proposal's
top candidates (conflicted pairs never take a place) and returns the arrays the solvers read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from assign.affinity import AffinityModel, fit_affinity, top_candidates
from assign.draw import DrawResult, draw_assignment
from assign.executor import Executor
from assign.flow import unique_sorted
from assign.panels import PanelProblem, group_proposals
from assign.problem import AssignmentProblem, Status, pair_key, split_key
from assign.sparse_affinity import SparseAffinity
from models import places


def _outside(provinces: pd.Series) -> np.ndarray:
    """(E,) bool: a province is given and it is not Jiangsu (江苏省 / 江苏 / Jiangsu alike)."""
    home = {v: places.in_province(v) for v in provinces.dropna().unique().tolist()}
    return np.array([v in home and not home[v] for v in provinces.tolist()], dtype=bool)


class PipelineInputError(ValueError):
    """Batch tables that cannot make an assignment problem."""


@dataclass(frozen=True)
class AssignOptions:
    """Correspondence-review rules of a batch.

    k: experts per proposal; k_by_direction: overrides per direction code; k_by_proposal:
    overrides per proposal id (over its direction's); max_load: default
    cap per expert (experts.max_load overrides it); min_load: hard minimum per expert;
    floor: lowest usable affinity; top_n: candidates kept per proposal; per_expert: each expert
    is a candidate of at least this many proposals (default 3 × max_load, so that every
    expert's capacity is reachable: pruning to each proposal's favourites alone can leave a
    direction's proposals sharing too few experts, and a capped random draw needs the spread);
    min_industry /
    min_outside / min_senior: per-proposal quotas of 产业 experts, experts from outside the
    province and 正高 experts.
    """

    k: int = 5
    k_by_direction: Mapping[str, int] = field(default_factory=dict)
    k_by_proposal: Mapping[str, int] = field(default_factory=dict)
    max_load: int = 6
    min_load: int = 0
    floor: float = 0.0
    top_n: int = 60
    per_expert: int | None = None
    min_industry: int = 0
    min_outside: int = 0
    min_senior: int = 0

    def __post_init__(self) -> None:
        if self.k < 1:
            raise PipelineInputError(f"k must be >= 1, got {self.k}")
        for what, given in (("direction", self.k_by_direction), ("proposal", self.k_by_proposal)):
            bad = {d: v for d, v in given.items() if v < 1}
            if bad:
                raise PipelineInputError(f"k per {what} must be >= 1, got {bad}")
        if not 0 <= self.min_load <= self.max_load:
            raise PipelineInputError(
                f"need 0 <= min_load <= max_load, got {self.min_load} and {self.max_load}"
            )
        if self.top_n < 1:
            raise PipelineInputError(f"top_n must be >= 1, got {self.top_n}")


def expert_frame(tables: Mapping[str, pd.DataFrame], expert_ids: Sequence[str]) -> pd.DataFrame:
    """Experts in ``expert_ids`` order with their person's unit and title joined in."""
    experts = tables["experts"].set_index("expert_id")
    missing = [e for e in expert_ids if e not in experts.index]
    if missing:
        raise PipelineInputError(f"unknown experts: {', '.join(missing[:5])}")
    people = tables["people"].set_index("person_id")[["unit_id", "title", "name"]]
    out = experts.loc[list(expert_ids)].join(people, how="left")
    return out.reset_index(names="expert_id")


def proposal_frame(tables: Mapping[str, pd.DataFrame], proposal_ids: Sequence[str]) -> pd.DataFrame:
    props = tables["proposals"].set_index("proposal_id")
    missing = [p for p in proposal_ids if p not in props.index]
    if missing:
        raise PipelineInputError(f"unknown proposals: {', '.join(missing[:5])}")
    return props.loc[list(proposal_ids)].reset_index(names="proposal_id")


def build_problem(
    tables: Mapping[str, pd.DataFrame],
    *,
    proposal_ids: Sequence[str],
    expert_ids: Sequence[str],
    conflicts: pd.DataFrame | tuple[np.ndarray, np.ndarray],
    options: AssignOptions,
    affinity: SparseAffinity | None = None,
    executor: Executor | None = None,
    progress: Callable[[str, float], None] | None = None,
) -> tuple[AssignmentProblem, AffinityModel | None]:
    """The assignment problem over ``proposal_ids`` × ``expert_ids`` and its affinity model.

    conflicts: columns proposal_id, expert_id (any extra columns are ignored), or (X,) index
    arrays into ``proposal_ids`` and ``expert_ids`` (as ``assign.conflict_index`` gives them).
    affinity: scores computed elsewhere (an officer's file, over any of the batch's proposals
    and experts); then no model is fitted, the candidates are the given pairs among
    ``proposal_ids`` × ``expert_ids`` (conflicted ones removed) and the model is None.
    executor: where the affinity's blocks of proposals run (see :func:`fit_affinity`).
    """
    if not proposal_ids:
        raise PipelineInputError("no proposals to assign (all rejected in screening?)")
    if not expert_ids:
        raise PipelineInputError("no experts in the pool (all set aside by the pool filters?)")
    props = proposal_frame(tables, proposal_ids)
    experts = expert_frame(tables, expert_ids)
    cp, ce = _conflict_indices(conflicts, proposal_ids, expert_ids)
    model: AffinityModel | None = None
    if affinity is None:
        model = fit_affinity(
            props,
            experts,
            tables.get("guide"),
            tables.get("publications"),
            executor=executor,
            progress=(lambda f: progress("affinity", f)) if progress else None,
        )
        aff = top_candidates(
            model,
            top_n=options.top_n,
            per_expert=options.per_expert or 3 * options.max_load,
            exclude_index=(cp, ce),
            floor=options.floor,
        )
    else:
        pids, eids = np.asarray(proposal_ids, dtype=object), np.asarray(expert_ids, dtype=object)
        pairs = set(zip(pids[cp].tolist(), eids[ce].tolist(), strict=True))
        aff = _reindex(affinity, proposal_ids, expert_ids, exclude=pairs)

    units, _ = pd.factorize(experts["unit_id"], use_na_sentinel=True)
    max_load = experts["max_load"].astype("Float64").fillna(options.max_load).to_numpy(np.int64)
    k = _k_per_proposal(props, options, tables.get("guide"))
    problem = AssignmentProblem(
        proposal_ids=tuple(proposal_ids),
        expert_ids=tuple(expert_ids),
        cand_p=aff.cand_p,
        cand_e=aff.cand_e,
        cand_w=aff.cand_w,
        k=k,
        max_load=max_load,
        min_load=np.minimum(options.min_load, max_load),
        expert_unit=units,
        is_industry=(experts["kind"] == "industry").to_numpy(bool),
        is_outside=_outside(experts["province"]),
        is_senior=(experts["title"] == "senior").fillna(False).to_numpy(bool),
        min_industry=options.min_industry,
        min_outside=options.min_outside,
        min_senior=options.min_senior,
        conflict_p=cp,
        conflict_e=ce,
        affinity_floor=options.floor,
    )
    return problem, model


def _conflict_indices(
    conflicts: pd.DataFrame | tuple[np.ndarray, np.ndarray],
    proposal_ids: Sequence[str],
    expert_ids: Sequence[str],
) -> tuple[np.ndarray, np.ndarray]:
    """(X,) int64 indices of the distinct conflicted pairs among proposal_ids × expert_ids."""
    if isinstance(conflicts, pd.DataFrame):
        cp = pd.Index(list(proposal_ids)).get_indexer(conflicts["proposal_id"])
        ce = pd.Index(list(expert_ids)).get_indexer(conflicts["expert_id"])
    else:
        cp, ce = (np.asarray(x, dtype=np.int64) for x in conflicts)
    keep = (cp >= 0) & (ce >= 0)
    key = unique_sorted(pair_key(cp[keep], ce[keep], len(expert_ids)))[0]
    return split_key(key, len(expert_ids))


def _k_per_proposal(
    props: pd.DataFrame, options: AssignOptions, guide: pd.DataFrame | None
) -> np.ndarray:
    """(P,) k of each proposal: its own override, else its direction's, else the batch's.
    Overrides naming no known direction, or no proposal of this assignment, are errors (a typo
    must not pass silently)."""
    codes = set(props["direction_code"].astype(str))
    if guide is not None and "code" in guide.columns:
        codes |= set(guide["code"].astype(str))
    unknown = sorted(set(options.k_by_direction) - codes)
    if unknown:
        raise PipelineInputError(f"k is set for unknown directions: {', '.join(unknown[:5])}")
    pids = props["proposal_id"].tolist()
    unknown = sorted(set(options.k_by_proposal) - set(pids))
    if unknown:
        raise PipelineInputError(
            "k is set for proposals that are not in this assignment (unknown, or rejected in "
            f"screening): {', '.join(unknown[:5])}"
        )
    by_dir, by_prop = options.k_by_direction, options.k_by_proposal
    return np.fromiter(
        (
            by_prop.get(p, by_dir.get(str(d), options.k))
            for p, d in zip(pids, props["direction_code"], strict=True)
        ),
        dtype=np.int64,
        count=len(pids),
    )


def _reindex(
    aff: SparseAffinity,
    proposal_ids: Sequence[str],
    expert_ids: Sequence[str],
    *,
    exclude: set[tuple[str, str]],
) -> SparseAffinity:
    """``aff``'s pairs among ``proposal_ids`` × ``expert_ids``, indexed by them, less
    ``exclude``."""
    p_index = {p: i for i, p in enumerate(proposal_ids)}
    e_index = {e: i for i, e in enumerate(expert_ids)}
    pid = np.asarray(aff.proposal_ids, dtype=object)[aff.cand_p]
    eid = np.asarray(aff.expert_ids, dtype=object)[aff.cand_e]
    keep = [
        i
        for i, (p, e) in enumerate(zip(pid, eid, strict=True))
        if p in p_index and e in e_index and (p, e) not in exclude
    ]
    return replace(
        aff,
        proposal_ids=tuple(proposal_ids),
        expert_ids=tuple(expert_ids),
        cand_p=np.array([p_index[pid[i]] for i in keep], dtype=np.int64),
        cand_e=np.array([e_index[eid[i]] for i in keep], dtype=np.int64),
        cand_w=aff.cand_w[keep],
    )


def panel_problem(
    problem: AssignmentProblem,
    tables: Mapping[str, pd.DataFrame],
    *,
    by: str = "direction",
    groups: Mapping[str, str] | None = None,
    n: int = 7,
    n_min: int = 5,
    min_industry: int = 0,
    min_finance: int = 0,
) -> PanelProblem:
    """The panel-formation (会评) problem over the same proposals, experts and affinities.

    Panels are per direction or per programme (``by``), or per the officer's ``groups``
    (direction code → group name; directions not named keep a panel of their own).
    """
    props = proposal_frame(tables, problem.proposal_ids)
    experts = expert_frame(tables, problem.expert_ids)
    if groups:
        named = props["direction_code"].map(lambda d: groups.get(d, d))
        codes, uniq = pd.factorize(named, sort=True)
        group_ids, proposal_group = tuple(map(str, uniq)), codes.astype(np.int64)
    else:
        group_ids, proposal_group = group_proposals(
            props["direction_code"].tolist(),
            by="programme" if by == "programme" else "direction",
        )
    return PanelProblem(
        group_ids=group_ids,
        proposal_ids=problem.proposal_ids,
        proposal_group=proposal_group,
        expert_ids=problem.expert_ids,
        cand_p=problem.cand_p,
        cand_e=problem.cand_e,
        cand_w=problem.cand_w,
        expert_unit=problem.expert_unit,
        expert_kind=experts["kind"].fillna("academic").to_numpy(object),
        is_senior=problem.is_senior,
        expert_level=experts["level"].fillna("").to_numpy(object),
        conflict_p=problem.conflict_p,
        conflict_e=problem.conflict_e,
        n=np.asarray(n),
        n_min=np.asarray(n_min),
        min_industry=np.asarray(min_industry),
        min_finance=np.asarray(min_finance),
    )


def widen(
    problem: AssignmentProblem,
    model: AffinityModel,
    proposal_ids: Sequence[str],
    *,
    extra: int,
    beyond: Sequence[str] = (),
    block_rows: int = 500,
) -> AssignmentProblem:
    """``problem`` with each named proposal's ``extra`` best further experts added as candidates
    (not conflicted, at or above the floor, not in ``beyond``), scored by ``model`` row by row.

    For when the candidates, not the batch, are too narrow: a diagnosis names the proposals
    that share too few experts (and those experts, whose loads they exhaust: ``beyond``), and
    only their rows are widened, towards experts with room.
    """
    p_index = {p: i for i, p in enumerate(problem.proposal_ids)}
    m_rows = np.array([model.proposal_index(p) for p in problem.proposal_ids], dtype=np.int64)
    m_cols = np.array([model.expert_index(e) for e in problem.expert_ids], dtype=np.int64)
    rows = np.array(sorted({p_index[p] for p in proposal_ids if p in p_index}), dtype=np.int64)
    used_p = np.concatenate([problem.cand_p, problem.conflict_p])
    used_e = np.concatenate([problem.cand_e, problem.conflict_e])
    e_index = {e: i for i, e in enumerate(problem.expert_ids)}
    full = np.array([e_index[e] for e in beyond if e in e_index], dtype=np.int64)
    add_p, add_e, add_w = [], [], []
    for start in range(0, rows.size, block_rows):
        chunk = rows[start : start + block_rows]
        block = model.dense_block(m_rows[chunk])[:, m_cols].astype(np.float64)
        local = {int(p): i for i, p in enumerate(chunk)}
        hit = np.isin(used_p, chunk)
        block[[local[int(p)] for p in used_p[hit]], used_e[hit]] = -np.inf
        block[block < problem.affinity_floor] = -np.inf
        block[:, full] = -np.inf
        n = min(extra, block.shape[1])
        best = np.argpartition(-block, n - 1, axis=1)[:, :n]
        w = np.take_along_axis(block, best, axis=1)
        ok = np.isfinite(w)
        add_p.append(np.repeat(chunk, n).reshape(-1, n)[ok])
        add_e.append(best[ok])
        add_w.append(w[ok])
    if not add_p:
        return problem
    return replace(
        problem,
        cand_p=np.concatenate([problem.cand_p, *add_p]).astype(np.int64),
        cand_e=np.concatenate([problem.cand_e, *add_e]).astype(np.int64),
        cand_w=np.concatenate([problem.cand_w, *add_w]),
    )


def draw_widening(
    problem: AssignmentProblem,
    model: AffinityModel | None,
    *,
    q: float,
    seed: int,
    extra: int = 60,
    rounds: int = 8,
) -> tuple[AssignmentProblem, DrawResult]:
    """A capped random draw; where the candidates (not the batch) are too narrow for the cap,
    the proposals the diagnosis names get ``extra`` more candidates each, among the experts it
    does not name (those are already full), and the draw is tried again, at most ``rounds``
    times. Returns the problem finally drawn on (the marginals index its candidates) and the
    draw."""
    drawn = draw_assignment(problem, q=q, seed=seed)
    for _ in range(rounds):
        if drawn.status != Status.INFEASIBLE or model is None:
            break
        named = {p for r in drawn.fractional.records for p in r.proposal_ids}
        if not named:
            break
        full = {e for r in drawn.fractional.records for e in r.expert_ids}
        wider = widen(problem, model, sorted(named), extra=extra, beyond=sorted(full))
        if wider.cand_p.size == problem.cand_p.size:
            break
        problem, drawn = wider, draw_assignment(wider, q=q, seed=seed)
    return problem, drawn
