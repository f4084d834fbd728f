"""Reviews as arrays for the calibration methods: one place that maps ids to indices, finds
the review graph's components and what it lets a method identify, ranks within directions and
assembles a :class:`CalibrationResult` (columns in ``scoring/calibrate.py``'s docstring)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from models.i18n import Msg, _

IDENTIFIABILITY = ("global", "within_components", "none")
WEIGHTED_METHODS = ("raw_mean", "zscore", "additive", "bayes")
RANK_INTERVAL = (0.1, 0.9)  # 80 % interval of the rank
Z90 = 1.2815515655446004  # standard normal 0.9 quantile
DRAW_CHUNK = 50  # draws processed together (bounds memory at R x 50 floats per array)


class CalibrationInputError(ValueError):
    """Reviews or proposals are malformed; the message names the ids and the fix."""


class NotIdentifiable(CalibrationInputError):
    """The method needs leniency, and no expert reviewed two proposals."""


@dataclass(frozen=True, eq=False)
class Diagnostics:
    """What the data allow a method to say.

    n_components: connected components of the bipartite review graph (proposals with reviews
    and experts). component_sizes: (proposals, experts) per component, largest first.
    leniency_identifiable: what the reviews allow, whatever the method: 'global' (one
    component), 'within_components' (several: leniencies and scores are comparable across
    components only under the assumption that every component's mean leniency is 0), or
    'none' (no expert has two reviews: leniency cannot be told from merit).
    leniency_estimated: whether the method reports leniencies.
    params: estimated parameters (variance components in points², penalty, CG iterations).
    notes: messages for people (rendered in the reader's language).
    """

    n_components: int
    component_sizes: tuple[tuple[int, int], ...]
    single_review_experts: tuple[str, ...]
    unreviewed_proposals: tuple[str, ...]
    leniency_identifiable: str
    leniency_estimated: bool = False
    params: Mapping[str, float] = field(default_factory=dict)
    notes: tuple[Msg, ...] = ()

    def __post_init__(self) -> None:
        if self.leniency_identifiable not in IDENTIFIABILITY:
            raise ValueError(
                f"leniency_identifiable must be one of {IDENTIFIABILITY}, "
                f"got {self.leniency_identifiable}"
            )
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))


@dataclass(frozen=True, eq=False)
class CalibrationResult:
    """Calibrated scores with uncertainty; see the module docstring for the columns."""

    method: str
    proposals: pd.DataFrame
    experts: pd.DataFrame
    draws: np.ndarray
    diagnostics: Diagnostics
    seed: int

    def __post_init__(self) -> None:
        n_p = len(self.proposals)
        if self.draws.ndim != 2 or self.draws.shape[1] != n_p:
            raise ValueError(
                f"draws must have shape (n_draws, {n_p}) for method {self.method}, "
                f"got {self.draws.shape}"
            )
        draws = np.array(self.draws, dtype=float)
        draws.setflags(write=False)
        object.__setattr__(self, "draws", draws)


@dataclass(frozen=True, eq=False)
class ReviewBatch:
    """Reviews as arrays, sorted by (proposal index, total)."""

    proposal_ids: np.ndarray  # (P,) str
    direction: np.ndarray  # (P,) str
    dir_idx: np.ndarray  # (P,) int
    n_dirs: int
    expert_ids: np.ndarray  # (E,) str
    p: np.ndarray  # (R,) int proposal index
    e: np.ndarray  # (R,) int expert index
    y: np.ndarray  # (R,) float total
    w: np.ndarray  # (R,) review weight (1 unless weighted by confidence)
    n_p: np.ndarray  # (P,) reviews per proposal
    n_e: np.ndarray  # (E,) reviews per expert
    start: np.ndarray  # (P,) first row of each proposal's reviews
    comp_p: np.ndarray  # (P,) component, -1 unreviewed
    comp_e: np.ndarray  # (E,) component
    n_comp: int
    id_order: np.ndarray  # (P,) proposal indices sorted by proposal id (tie order)

    @property
    def identifiability(self) -> str:
        """'global', 'within_components' or 'none' (see :class:`Diagnostics`)."""
        if not (self.n_e >= 2).any():
            return "none"
        return "global" if self.n_comp <= 1 else "within_components"

    @property
    def n_props(self) -> int:
        return len(self.proposal_ids)

    @property
    def n_experts(self) -> int:
        return len(self.expert_ids)

    @property
    def reviewed(self) -> np.ndarray:
        return self.n_p > 0


def _require_columns(frame: pd.DataFrame, cols: tuple[str, ...], name: str) -> None:
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise CalibrationInputError(
            _(
                "{name} lacks column(s) {missing}; expected columns {cols}",
                name=name,
                missing=", ".join(missing),
                cols=", ".join(cols),
            )
        )


def _confidence_weights(reviews: pd.DataFrame) -> np.ndarray:
    """(R,) weights proportional to the stated confidence, mean 1; missing confidence = 1."""
    _require_columns(reviews, ("confidence",), "reviews (to weight by confidence)")
    c = pd.to_numeric(reviews["confidence"], errors="coerce").to_numpy(dtype=float)
    given = np.isfinite(c)
    if (c[given] <= 0).any():
        raise CalibrationInputError(
            _("confidence must be above 0 to weight reviews by it; fix or drop those values")
        )
    if not given.any():
        return np.ones(len(c))
    w = np.where(given, c / c[given].mean(), 1.0)
    return w


def prepare_reviews(
    reviews: pd.DataFrame, proposals: pd.DataFrame, *, weight_confidence: bool = False
) -> ReviewBatch:
    _require_columns(reviews, ("proposal_id", "expert_id", "total"), "reviews")
    _require_columns(proposals, ("proposal_id", "direction_code"), "proposals")
    pids = proposals["proposal_id"].astype(str).to_numpy(dtype=object)
    dup = pd.Index(pids)[pd.Index(pids).duplicated()].unique()
    if len(dup):
        raise CalibrationInputError(
            _(
                "proposals lists proposal(s) {ids} more than once; give each proposal one row",
                ids=", ".join(map(str, dup[:5])),
            )
        )
    dirs = proposals["direction_code"].astype(str).to_numpy(dtype=object)
    rp = reviews["proposal_id"].astype(str).to_numpy(dtype=object)
    re_ = reviews["expert_id"].astype(str).to_numpy(dtype=object)
    y = pd.to_numeric(reviews["total"], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(y)
    if bad.any():
        rows = np.flatnonzero(bad)[:5]
        desc = ", ".join(_("row {i} ({p}/{e})", i=i, p=rp[i], e=re_[i]) for i in rows)
        raise CalibrationInputError(
            _(
                "reviews have missing or non-numeric totals at {rows}; fill in the "
                "totals or drop those reviews",
                rows=desc,
            )
        )
    p_index = pd.Index(pids)
    p = p_index.get_indexer(rp)
    if (p < 0).any():
        unknown = sorted(set(rp[p < 0]))
        raise CalibrationInputError(
            _(
                "reviews name proposal(s) {ids} that are not in proposals; add them to "
                "proposals or drop their reviews",
                ids=", ".join(unknown[:5]),
            )
        )
    pairs = pd.DataFrame({"p": rp, "e": re_})
    dpairs = pairs[pairs.duplicated()]
    if len(dpairs):
        desc = ", ".join(f"{a}/{b}" for a, b in dpairs.head(5).itertuples(index=False))
        raise CalibrationInputError(
            _(
                "expert reviewed the same proposal more than once: {pairs}; keep one review per "
                "pair",
                pairs=desc,
            )
        )
    e_codes, e_uniques = pd.factorize(pd.Series(re_, dtype=object), sort=True)
    e = np.asarray(e_codes, dtype=np.int64)
    eids = np.asarray(e_uniques, dtype=object)
    d_codes, _dir_names = pd.factorize(pd.Series(dirs, dtype=object), sort=True)
    dir_idx = np.asarray(d_codes, dtype=np.int64)
    w = _confidence_weights(reviews) if weight_confidence else np.ones(len(y))
    order = np.lexsort((e, y, p))
    p, e, y, w = p[order], e[order], y[order], w[order]
    n_props, n_exp = len(pids), len(eids)
    n_p = np.bincount(p, minlength=n_props)
    n_e = np.bincount(e, minlength=n_exp)
    start = np.concatenate(([0], np.cumsum(n_p)[:-1])) if n_props else np.zeros(0, np.int64)
    # components of the bipartite graph: nodes 0..P-1 proposals, P..P+E-1 experts
    adj = sp.coo_matrix(
        (np.ones(len(p)), (p, n_props + e)), shape=(n_props + n_exp, n_props + n_exp)
    )
    _n_labels, labels = connected_components(adj, directed=False)
    # renumber components that hold reviews as 0..C-1, by size (reviews) descending
    rev_lab = labels[p] if len(p) else np.zeros(0, np.int64)
    uniq, counts = np.unique(rev_lab, return_counts=True)
    rank = np.argsort(-counts, kind="stable")
    remap = np.full(labels.max() + 1 if len(labels) else 1, -1, dtype=np.int64)
    remap[uniq[rank]] = np.arange(len(uniq))
    comp_p = np.where(n_p > 0, remap[labels[:n_props]], -1)
    comp_e = remap[labels[n_props:]]
    return ReviewBatch(
        proposal_ids=pids,
        direction=dirs,
        dir_idx=dir_idx,
        n_dirs=int(dir_idx.max() + 1) if len(dir_idx) else 0,
        expert_ids=eids,
        p=p,
        e=e,
        y=y,
        w=w,
        n_p=n_p,
        n_e=n_e,
        start=start,
        comp_p=comp_p,
        comp_e=comp_e,
        n_comp=len(uniq),
        id_order=np.argsort(pids.astype(str), kind="stable"),
    )


def _diagnostics(
    b: ReviewBatch, *, estimates_leniency: bool, params: Mapping[str, float], notes: list[Msg]
) -> Diagnostics:
    sizes = tuple((int((b.comp_p == c).sum()), int((b.comp_e == c).sum())) for c in range(b.n_comp))
    single = tuple(str(x) for x in b.expert_ids[b.n_e == 1])
    unreviewed = tuple(str(x) for x in b.proposal_ids[b.n_p == 0])
    notes = list(notes)
    ident = b.identifiability
    if ident == "within_components" and estimates_leniency:
        notes.append(
            Msg(
                "the review graph has {n} components; leniency is identifiable only within a "
                "component. Each component's mean leniency is anchored at 0, so scores in "
                "different components are comparable only if their expert groups are equally "
                "lenient on average",
                n=b.n_comp,
            )
        )
    if estimates_leniency and single:
        notes.append(
            Msg(
                "{n} expert(s) gave a single review; their leniency is estimated from that one "
                "review and is shrunk strongly towards 0",
                n=len(single),
            )
        )
    if unreviewed:
        notes.append(
            Msg("{n} proposal(s) have no reviews; their scores are NaN", n=len(unreviewed))
        )
    if float(b.w.min(initial=1.0)) != 1.0 or float(b.w.max(initial=1.0)) != 1.0:
        notes.append(Msg("reviews are weighted by the expert's confidence (weight ∝ confidence)"))
    return Diagnostics(
        n_components=b.n_comp,
        component_sizes=sizes,
        single_review_experts=single,
        unreviewed_proposals=unreviewed,
        leniency_identifiable=ident,
        leniency_estimated=estimates_leniency,
        params=params,
        notes=tuple(notes),
    )


CG_NOTE = Msg("conjugate gradients did not reach the tolerance; results are approximate")
NOT_IDENTIFIABLE_NOTE = Msg(
    "leniency is not identifiable: no expert reviewed two proposals, so an expert's leniency "
    "cannot be told from the merit of the one proposal they scored; no leniencies are reported"
)


def review_graph(reviews: pd.DataFrame, proposals: pd.DataFrame) -> Diagnostics:
    """What the review graph alone allows (components, single-review experts, whether leniency
    is identifiable), without calibrating: for readers of stored rankings."""
    return _diagnostics(
        prepare_reviews(reviews, proposals), estimates_leniency=False, params={}, notes=[]
    )


def _ranks(values: np.ndarray, dir_idx: np.ndarray, id_order: np.ndarray) -> np.ndarray:
    """Ranks within direction, 1 = highest value. values: (D, P); NaN values get NaN ranks;
    ties go to the proposal that comes first in ``id_order`` (proposal ids sorted)."""
    n_d, n_p = values.shape
    out = np.full((n_d, n_p), np.nan)
    if n_p == 0:
        return out
    dir_start = np.searchsorted(np.sort(dir_idx), np.arange(dir_idx.max() + 1))
    nan = np.isnan(values)
    if nan.all():
        return out
    lo, hi = np.nanmin(values), np.nanmax(values)
    # composite key: direction index plus the value mapped into [0, 0.5], higher value first;
    # NaN sorts last within its direction. One vectorised argsort over all draws.
    unit = np.where(nan, 0.9, 0.5 * (hi - values) / max(hi - lo, 1e-300))
    key = (dir_idx[None, :] + unit)[:, id_order]
    order = id_order[np.argsort(key, axis=1, kind="stable")]
    pos = np.empty_like(order)
    np.put_along_axis(pos, order, np.arange(n_p)[None, :], axis=1)
    out = (pos - dir_start[dir_idx][None, :] + 1).astype(float)
    out[nan] = np.nan
    return out


def assemble_result(
    b: ReviewBatch,
    method: str,
    seed: int,
    *,
    score: np.ndarray,
    se: np.ndarray,
    draws: np.ndarray,
    leniency: np.ndarray | None = None,
    leniency_lo: np.ndarray | None = None,
    leniency_hi: np.ndarray | None = None,
    params: Mapping[str, float] | None = None,
    notes: list[Msg] | None = None,
) -> CalibrationResult:
    reviewed = b.reviewed
    score = np.where(reviewed, score, np.nan)
    se = np.where(reviewed, se, np.nan)
    draws = np.where(reviewed[None, :], draws, np.nan)
    point_rank = _ranks(score[None, :], b.dir_idx, b.id_order)[0]
    exp_rank = point_rank.copy()
    lo = point_rank.copy()
    hi = point_rank.copy()
    if draws.shape[0] > 0 and reviewed.any():
        r = _ranks(draws, b.dir_idx, b.id_order)[:, reviewed]
        exp_rank[reviewed] = r.mean(axis=0)
        lo[reviewed] = np.quantile(r, RANK_INTERVAL[0], axis=0, method="inverted_cdf")
        hi[reviewed] = np.quantile(r, RANK_INTERVAL[1], axis=0, method="inverted_cdf")
    props = pd.DataFrame(
        {
            "proposal_id": pd.array(b.proposal_ids, dtype="str"),
            "direction_code": pd.array(b.direction, dtype="str"),
            "score": score,
            "se": se,
            "expected_rank": exp_rank,
            "rank_lo": lo,
            "rank_hi": hi,
            "n_reviews": b.n_p.astype(np.int64),
            "component": b.comp_p.astype(np.int64),
        }
    )
    nan_e = np.full(b.n_experts, np.nan)
    experts = pd.DataFrame(
        {
            "expert_id": pd.array(b.expert_ids, dtype="str"),
            "n_reviews": b.n_e.astype(np.int64),
            "component": b.comp_e.astype(np.int64),
            "leniency": nan_e if leniency is None else leniency,
            "leniency_lo": nan_e if leniency_lo is None else leniency_lo,
            "leniency_hi": nan_e if leniency_hi is None else leniency_hi,
        }
    )
    diag = _diagnostics(
        b, estimates_leniency=leniency is not None, params=params or {}, notes=notes or []
    )
    return CalibrationResult(
        method=method,
        proposals=props,
        experts=experts,
        draws=draws,
        diagnostics=diag,
        seed=seed,
    )


def check_n_draws(n_draws: int) -> None:
    if n_draws < 0:
        raise CalibrationInputError(f"n_draws must be >= 0, got {n_draws}")


def reorder_reviews(b: ReviewBatch, order: np.ndarray) -> ReviewBatch:
    """The same batch with review rows permuted (groups must stay contiguous)."""
    return ReviewBatch(
        proposal_ids=b.proposal_ids,
        direction=b.direction,
        dir_idx=b.dir_idx,
        n_dirs=b.n_dirs,
        expert_ids=b.expert_ids,
        p=b.p[order],
        e=b.e[order],
        y=b.y[order],
        w=b.w[order],
        n_p=b.n_p,
        n_e=b.n_e,
        start=b.start,
        comp_p=b.comp_p,
        comp_e=b.comp_e,
        n_comp=b.n_comp,
        id_order=b.id_order,
    )
