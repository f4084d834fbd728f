"""Calibration and aggregation of review totals, with uncertainty.

Input: ``reviews`` (R rows: proposal_id, expert_id, total in points) and ``proposals``
(P rows: proposal_id, direction_code). Every method returns a :class:`CalibrationResult`:

- ``proposals``: one row per input proposal, input order: proposal_id, direction_code, score
  (points, 100-point scale), se (points), expected_rank, rank_lo, rank_hi (80 % interval of the
  rank within the direction, 1 = best), n_reviews, component (review-graph component, -1 when
  unreviewed);
- ``experts``: one row per expert seen in the reviews, sorted by id: expert_id, n_reviews,
  component, leniency, leniency_lo, leniency_hi (points; NaN where the method does not
  estimate leniency);
- ``draws``: (n_draws, P) merit draws (posterior draws or bootstrap replicates), columns in
  the order of ``proposals``; used for ranks and selection probabilities;
- ``diagnostics``: review-graph components, experts with a single review, unreviewed
  proposals, whether leniency is identifiable (``global``: one component; ``within_components``:
  several; ``none``: no expert reviewed two proposals, so leniency and merit cannot be told
  apart), whether the method estimated it, estimated parameters and notes.

Proposals without reviews keep their row with NaN score, se, ranks and draws. Ties in a rank
go to the proposal with the smaller id, so that the order never depends on input order.

Where leniency is not identifiable (``none``), zscore refuses (:class:`NotIdentifiable`),
additive and bayes report no leniencies and say so; bayes then shrinks each proposal's mean
towards its direction's (per-proposal shrinkage). ``weight_confidence`` weights each review by
the expert's stated confidence (熟悉程度, a ``confidence`` column; weight = confidence / mean
confidence, missing = 1) in raw_mean, zscore, additive and bayes.

Methods without a posterior (raw_mean, trimmed_mean, median, zscore, additive) get their draws
from a seeded bootstrap over reviews: each proposal's reviews are resampled with replacement.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from models.i18n import Msg, _

IDENTIFIABILITY = ("global", "within_components", "none")
WEIGHTED_METHODS = ("raw_mean", "zscore", "additive", "bayes")
RANK_INTERVAL = (0.1, 0.9)  # 80 % interval of the rank
_Z90 = 1.2815515655446004  # standard normal 0.9 quantile
_DRAW_CHUNK = 50  # draws processed together (bounds memory at R x 50 floats per array)


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


# ----------------------------------------------------------------------------------------------
# input: one place that maps ids to indices
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Batch:
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
            f"{name} lacks column(s) {', '.join(missing)}; expected columns {', '.join(cols)}"
        )


def _confidence_weights(reviews: pd.DataFrame) -> np.ndarray:
    """(R,) weights proportional to the stated confidence, mean 1; missing confidence = 1."""
    _require_columns(reviews, ("confidence",), "reviews (to weight by confidence)")
    c = pd.to_numeric(reviews["confidence"], errors="coerce").to_numpy(dtype=float)
    given = np.isfinite(c)
    if (c[given] <= 0).any():
        raise CalibrationInputError(
            "confidence must be above 0 to weight reviews by it; fix or drop those values"
        )
    if not given.any():
        return np.ones(len(c))
    w = np.where(given, c / c[given].mean(), 1.0)
    return w


def _prepare(
    reviews: pd.DataFrame, proposals: pd.DataFrame, *, weight_confidence: bool = False
) -> _Batch:
    _require_columns(reviews, ("proposal_id", "expert_id", "total"), "reviews")
    _require_columns(proposals, ("proposal_id", "direction_code"), "proposals")
    pids = proposals["proposal_id"].astype(str).to_numpy(dtype=object)
    dup = pd.Index(pids)[pd.Index(pids).duplicated()].unique()
    if len(dup):
        raise CalibrationInputError(
            f"proposals lists proposal(s) {', '.join(map(str, dup[:5]))} more than once; "
            "give each proposal one row"
        )
    dirs = proposals["direction_code"].astype(str).to_numpy(dtype=object)
    rp = reviews["proposal_id"].astype(str).to_numpy(dtype=object)
    re_ = reviews["expert_id"].astype(str).to_numpy(dtype=object)
    y = pd.to_numeric(reviews["total"], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(y)
    if bad.any():
        rows = np.flatnonzero(bad)[:5]
        desc = ", ".join(f"row {i} ({rp[i]}/{re_[i]})" for i in rows)
        raise CalibrationInputError(
            f"reviews have missing or non-numeric totals at {desc}; "
            "fill in the totals or drop those reviews"
        )
    p_index = pd.Index(pids)
    p = p_index.get_indexer(rp)
    if (p < 0).any():
        unknown = sorted(set(rp[p < 0]))
        raise CalibrationInputError(
            f"reviews name proposal(s) {', '.join(unknown[:5])} that are not in proposals; "
            "add them to proposals or drop their reviews"
        )
    pairs = pd.DataFrame({"p": rp, "e": re_})
    dpairs = pairs[pairs.duplicated()]
    if len(dpairs):
        desc = ", ".join(f"{a}/{b}" for a, b in dpairs.head(5).itertuples(index=False))
        raise CalibrationInputError(
            f"expert reviewed the same proposal more than once: {desc}; keep one review per pair"
        )
    e_codes, e_uniques = pd.factorize(pd.Series(re_, dtype=object), sort=True)
    e = np.asarray(e_codes, dtype=np.int64)
    eids = np.asarray(e_uniques, dtype=object)
    d_codes, _ = pd.factorize(pd.Series(dirs, dtype=object), sort=True)
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
    _, labels = connected_components(adj, directed=False)
    # renumber components that hold reviews as 0..C-1, by size (reviews) descending
    rev_lab = labels[p] if len(p) else np.zeros(0, np.int64)
    uniq, counts = np.unique(rev_lab, return_counts=True)
    rank = np.argsort(-counts, kind="stable")
    remap = np.full(labels.max() + 1 if len(labels) else 1, -1, dtype=np.int64)
    remap[uniq[rank]] = np.arange(len(uniq))
    comp_p = np.where(n_p > 0, remap[labels[:n_props]], -1)
    comp_e = remap[labels[n_props:]]
    return _Batch(
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
    b: _Batch, *, estimates_leniency: bool, params: Mapping[str, float], notes: list[Msg]
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


_CG_NOTE = Msg("conjugate gradients did not reach the tolerance; results are approximate")
_NONE_NOTE = Msg(
    "leniency is not identifiable: no expert reviewed two proposals, so an expert's leniency "
    "cannot be told from the merit of the one proposal they scored; no leniencies are reported"
)


# ----------------------------------------------------------------------------------------------
# ranks and result assembly
# ----------------------------------------------------------------------------------------------


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


def _assemble(
    b: _Batch,
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


# ----------------------------------------------------------------------------------------------
# bootstrap over reviews
# ----------------------------------------------------------------------------------------------


def _check_n_draws(n_draws: int) -> None:
    if n_draws < 0:
        raise CalibrationInputError(f"n_draws must be >= 0, got {n_draws}")


def _boot_index_chunks(b: _Batch, n_draws: int, seed: int) -> list[np.ndarray]:
    """Bootstrap replicates as row indices (d, R) per chunk, each proposal resampled within its
    own reviews; indices are sorted along axis 1, so within a proposal the values are sorted."""
    rng = np.random.default_rng(seed)
    start_r = b.start[b.p]
    n_r = b.n_p[b.p]
    chunks = []
    for lo in range(0, n_draws, _DRAW_CHUNK):
        d = min(_DRAW_CHUNK, n_draws - lo)
        u = rng.random((d, len(b.p)))
        idx = start_r[None, :] + (u * n_r[None, :]).astype(np.int64)
        idx.sort(axis=1)
        chunks.append(idx)
    return chunks


def _group_stat(
    b: _Batch, vals: np.ndarray, stat: str, weights: np.ndarray | None = None
) -> np.ndarray:
    """Per-proposal statistic of vals (d, R), columns grouped by proposal and sorted within
    each group; ``weights`` (d, R) make the mean a weighted mean. Returns (d, P), NaN for
    proposals without reviews."""
    out = np.full((vals.shape[0], b.n_props), np.nan)
    rv = b.reviewed
    st, n = b.start[rv], b.n_p[rv]
    if not rv.any():
        return out
    if stat == "median":
        out[:, rv] = 0.5 * (vals[:, st + (n - 1) // 2] + vals[:, st + n // 2])
        return out
    if stat == "mean" and weights is not None:
        wsum = np.add.reduceat(weights, st, axis=1)
        out[:, rv] = np.add.reduceat(vals * weights, st, axis=1) / wsum
        return out
    sums = np.add.reduceat(vals, st, axis=1)
    if stat == "mean":
        out[:, rv] = sums / n[None, :]
        return out
    if stat == "trimmed":
        trim = n >= 3
        res = sums / n[None, :]
        t_sum = sums[:, trim] - vals[:, st[trim]] - vals[:, st[trim] + n[trim] - 1]
        res[:, trim] = t_sum / (n[trim] - 2)[None, :]
        out[:, rv] = res
        return out
    raise ValueError(f"unknown statistic {stat}")


def _bootstrap_method(
    b: _Batch, vals: np.ndarray, stat: str, n_draws: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Point score (P,), bootstrap se (P,), draws (n_draws, P) of a per-proposal statistic of
    per-review values (R,) (which must be sorted within each proposal's rows); a mean is
    weighted by the reviews' weights ``b.w``."""
    w = b.w if stat == "mean" else None
    point = _group_stat(b, vals[None, :], stat, None if w is None else w[None, :])[0]
    parts = [
        _group_stat(b, vals[idx], stat, None if w is None else w[idx])
        for idx in _boot_index_chunks(b, n_draws, seed)
    ]
    draws = np.concatenate(parts, axis=0) if parts else np.zeros((0, b.n_props))
    se = draws.std(axis=0, ddof=1) if n_draws >= 2 else np.full(b.n_props, np.nan)
    return point, se, draws


_BOOT_NOTE = Msg(
    "draws are a bootstrap over each proposal's reviews; a proposal with one review has no "
    "bootstrap spread (se 0)"
)


def _unweighted(method: str, weight_confidence: bool) -> None:
    if weight_confidence:
        raise CalibrationInputError(
            _(
                "{method} cannot weight reviews by confidence; use one of {methods}, or leave "
                "out --weight-confidence",
                method=method,
                methods=", ".join(WEIGHTED_METHODS),
            )
        )


def raw_mean(
    reviews: pd.DataFrame,
    proposals: pd.DataFrame,
    *,
    n_draws: int = 200,
    seed: int = 0,
    weight_confidence: bool = False,
) -> CalibrationResult:
    """Plain mean of each proposal's totals (weighted by confidence where asked).

    Assumes all experts are equally lenient and equally precise; se and rank intervals from
    the bootstrap over reviews.
    """
    _check_n_draws(n_draws)
    b = _prepare(reviews, proposals, weight_confidence=weight_confidence)
    score, se, draws = _bootstrap_method(b, b.y, "mean", n_draws, seed)
    return _assemble(b, "raw_mean", seed, score=score, se=se, draws=draws, notes=[_BOOT_NOTE])


def trimmed_mean(
    reviews: pd.DataFrame,
    proposals: pd.DataFrame,
    *,
    n_draws: int = 200,
    seed: int = 0,
    weight_confidence: bool = False,
) -> CalibrationResult:
    """Mean after dropping the single highest and lowest total (when a proposal has >= 3
    reviews; plain mean otherwise) — the common practice and the baseline.

    Assumes experts are equally lenient; trimming guards against one extreme reviewer.
    """
    _unweighted("trimmed_mean", weight_confidence)
    _check_n_draws(n_draws)
    b = _prepare(reviews, proposals)
    score, se, draws = _bootstrap_method(b, b.y, "trimmed", n_draws, seed)
    return _assemble(b, "trimmed_mean", seed, score=score, se=se, draws=draws, notes=[_BOOT_NOTE])


def median(
    reviews: pd.DataFrame,
    proposals: pd.DataFrame,
    *,
    n_draws: int = 200,
    seed: int = 0,
    weight_confidence: bool = False,
) -> CalibrationResult:
    """Median of each proposal's totals (mean of the two middle ones for an even count).

    Assumes experts are equally lenient; robust to up to half the reviews being extreme.
    """
    _unweighted("median", weight_confidence)
    _check_n_draws(n_draws)
    b = _prepare(reviews, proposals)
    score, se, draws = _bootstrap_method(b, b.y, "median", n_draws, seed)
    return _assemble(b, "median", seed, score=score, se=se, draws=draws, notes=[_BOOT_NOTE])


def _zscores(b: _Batch) -> tuple[np.ndarray, float]:
    """Per-review z-score within its expert (R,) and the pooled within-expert sd."""
    n_e = b.n_e
    sum_e = np.bincount(b.e, weights=b.y, minlength=b.n_experts)
    mean_e = sum_e / np.maximum(n_e, 1)
    dev = b.y - mean_e[b.e]
    ss_e = np.bincount(b.e, weights=dev**2, minlength=b.n_experts)
    dof = float((n_e - 1).clip(min=0).sum())
    pooled = float(np.sqrt(ss_e.sum() / dof)) if dof > 0 else 0.0
    if pooled <= 0:
        pooled = 1.0
    sd_e = np.sqrt(ss_e / np.maximum(n_e - 1, 1))
    sd_e = np.where((n_e >= 2) & (sd_e > 0), sd_e, pooled)
    return dev / sd_e[b.e], pooled


def zscore(
    reviews: pd.DataFrame,
    proposals: pd.DataFrame,
    *,
    n_draws: int = 200,
    seed: int = 0,
    weight_confidence: bool = False,
) -> CalibrationResult:
    """Per-expert z-scores, averaged per proposal and mapped back to points.

    Each total becomes (total − expert's mean) / expert's sd (sample sd; the pooled
    within-expert sd where an expert has < 2 reviews or no spread; an expert with one review
    contributes z = 0). score = m + s · mean z, with m and s the mean and sd (ddof 0) of all
    totals in the batch. Assumes each expert saw a comparable mix of proposals, so that
    differences in their means and spreads are their own. Leniency is not reported. Refuses
    (:class:`NotIdentifiable`) when no expert has two reviews: every z would be 0.
    """
    _check_n_draws(n_draws)
    b = _prepare(reviews, proposals, weight_confidence=weight_confidence)
    if b.identifiability == "none":
        raise NotIdentifiable(
            _(
                "zscore needs experts with at least two reviews to measure each one's scale, "
                "and no expert here has two (leniency identifiable: none); every proposal "
                "would get the same score. Use --method trimmed_mean or raw_mean, or bayes "
                "(which then shrinks each proposal's mean towards its direction's)"
            )
        )
    z, pooled = _zscores(b)
    m = float(b.y.mean()) if len(b.y) else 0.0
    s = float(b.y.std()) if len(b.y) else 1.0
    # rows must be sorted by z within each proposal for the bootstrap statistic helpers
    order = np.lexsort((z, b.p))
    zb = _reorder(b, order)
    zs = z[order]
    score, se, draws = _bootstrap_method(zb, zs, "mean", n_draws, seed)
    return _assemble(
        b,
        "zscore",
        seed,
        score=m + s * score,
        se=s * se,
        draws=m + s * draws,
        params={"scale_mean": m, "scale_sd": s, "pooled_expert_sd": pooled},
        notes=[_BOOT_NOTE],
    )


def _reorder(b: _Batch, order: np.ndarray) -> _Batch:
    """The same batch with review rows permuted (groups must stay contiguous)."""
    return _Batch(
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


# ----------------------------------------------------------------------------------------------
# linear model y = q_p + b_e + noise, solved by eliminating q and running block PCG on b
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Linear:
    """Sparse incidence of reviews: mp (P, R) and me (E, R), 1 where a review belongs."""

    mp: sp.csr_matrix
    me: sp.csr_matrix


def _linear(b: _Batch) -> _Linear:
    r = np.arange(len(b.p))
    ones = np.ones(len(b.p))
    mp = sp.csr_matrix((ones, (b.p, r)), shape=(b.n_props, len(b.p)))
    me = sp.csr_matrix((ones, (b.e, r)), shape=(b.n_experts, len(b.p)))
    return _Linear(mp, me)


def _block_pcg(
    matvec: Callable[[np.ndarray], np.ndarray],
    rhs: np.ndarray,
    x0: np.ndarray,
    minv: np.ndarray,
    *,
    rtol: float,
    maxiter: int,
) -> tuple[np.ndarray, int, bool]:
    """Jacobi-preconditioned CG on several right-hand sides at once (columns are independent
    systems that may have different matrices). rhs, x0, minv: (n, D). Returns x, iterations,
    converged."""
    x = x0.copy()
    r = rhs - matvec(x)
    z = minv * r
    p = z.copy()
    rz = np.einsum("ij,ij->j", r, z)
    bnorm = np.linalg.norm(rhs, axis=0)
    bnorm[bnorm == 0] = 1.0
    it = 0
    for it in range(1, maxiter + 1):  # noqa: B007
        if np.all(np.linalg.norm(r, axis=0) <= rtol * bnorm):
            return x, it - 1, True
        ap = matvec(p)
        pap = np.einsum("ij,ij->j", p, ap)
        alpha = np.divide(rz, pap, out=np.zeros_like(rz), where=pap > 0)
        x += alpha * p
        r -= alpha * ap
        z = minv * r
        rz_new = np.einsum("ij,ij->j", r, z)
        beta = np.divide(rz_new, rz, out=np.zeros_like(rz), where=rz > 0)
        p = z + beta * p
        rz = rz_new
    ok = bool(np.all(np.linalg.norm(r, axis=0) <= rtol * bnorm))
    return x, it, ok


def _solve_linear(
    b: _Batch,
    lin: _Linear,
    *,
    y: np.ndarray,
    w: np.ndarray,
    alpha: np.ndarray,
    m: np.ndarray,
    beta: float,
    c: np.ndarray,
    b0: np.ndarray,
    rtol: float = 1e-8,
    maxiter: int = 2000,
) -> tuple[np.ndarray, np.ndarray, int, bool]:
    """Minimise, per column, Σ_r w_r (y_r − q_p − b_e)² + Σ_p α_p (q_p − m_p)² + β Σ_e
    (b_e − c_e)².

    y, w: (R, D) (w may be (R, 1)); alpha: (P,); m: (P, D) or (P, 1); c: (E, D) or (E, 1);
    b0: (E, D) start. q is eliminated exactly (it is diagonal given b) and the expert system is
    solved by Jacobi-preconditioned CG. Returns q (P, D), b (E, D), iterations, converged.
    """
    wy = w * y
    n_w = lin.mp @ w  # (P, D) or (P, 1)
    denom = n_w + alpha[:, None]
    denom = np.where(denom > 0, denom, 1.0)
    g = (lin.mp @ wy + alpha[:, None] * m) / denom  # (P, D)
    d_w = lin.me @ w  # (E, D)
    diag = beta + d_w - lin.me @ (w * w / denom[b.p])
    minv = 1.0 / np.maximum(diag, 1e-12)
    rhs = beta * c + lin.me @ (wy - w * g[b.p])
    d = y.shape[1]
    rhs = np.broadcast_to(rhs, (b.n_experts, d)).copy()
    minv = np.broadcast_to(minv, (b.n_experts, d))

    if w.shape[1] == 1:
        # shared weights: A = Mp diag(w) Me' (P, E) once, then two sparse products per step
        a = sp.csr_matrix((w[:, 0], (b.p, b.e)), shape=(b.n_props, b.n_experts))
        a_t = a.T.tocsr()
        diag_part = beta + d_w

        def matvec(v: np.ndarray) -> np.ndarray:
            return diag_part * v - a_t @ ((a @ v) / denom)

    else:

        def matvec(v: np.ndarray) -> np.ndarray:
            t = w * v[b.e]
            h = (lin.mp @ t) / denom
            return (beta + d_w) * v - lin.me @ (w * h[b.p])

    bb, its, ok = _block_pcg(matvec, rhs, b0, minv, rtol=rtol, maxiter=maxiter)
    q = g - (lin.mp @ (w * bb[b.e])) / denom
    return q, bb, its, ok


def _center_components(b: _Batch, q: np.ndarray, lev: np.ndarray) -> tuple[np.ndarray, ...]:
    """Shift each component so that its experts' mean leniency is 0 (q (P, D), b (E, D))."""
    if b.n_experts == 0:
        return q, lev
    cnt = np.bincount(b.comp_e, minlength=b.n_comp).astype(float)
    shift = (
        np.stack(
            [
                np.bincount(b.comp_e, weights=lev[:, j], minlength=b.n_comp)
                for j in range(lev.shape[1])
            ],
            axis=1,
        )
        / np.maximum(cnt, 1)[:, None]
    )
    lev = lev - shift[b.comp_e]
    rv = b.comp_p >= 0
    q = q.copy()
    q[rv] = q[rv] + shift[b.comp_p[rv]]
    return q, lev


def review_graph(reviews: pd.DataFrame, proposals: pd.DataFrame) -> Diagnostics:
    """What the review graph alone allows (components, single-review experts, whether leniency
    is identifiable), without calibrating: for readers of stored rankings."""
    return _diagnostics(_prepare(reviews, proposals), estimates_leniency=False, params={}, notes=[])


def variance_components(reviews: pd.DataFrame, proposals: pd.DataFrame) -> dict[str, float]:
    """Moment estimates of the variance components (points²) of y = q + b + noise.

    With y' = total − its direction's mean total:
    W_p = pooled within-proposal variance  ≈ σ_b² + σ²  (different experts, same proposal);
    W_e = pooled within-expert variance of y' ≈ τ² + σ²  (same expert, different proposals);
    T = variance of y' ≈ τ² + σ_b² + σ².
    Hence σ² = W_p + W_e − T, σ_b² = T − W_e, τ² = T − W_p, each floored at 0.1 % of T.
    Returns keys sigma2 (noise), sigma_b2 (leniency), tau2 (quality within direction), and
    total_var (T).
    """
    return _variance_components(_prepare(reviews, proposals))


def _variance_components(b: _Batch) -> dict[str, float]:
    y = b.y
    if len(y) == 0:
        return {"sigma2": 1.0, "sigma_b2": 1.0, "tau2": 1.0, "total_var": 1.0}
    dr = b.dir_idx[b.p]
    mu_d = np.bincount(dr, weights=y, minlength=b.n_dirs) / np.maximum(
        np.bincount(dr, minlength=b.n_dirs), 1
    )
    yd = y - mu_d[dr]
    n_dir_used = int((np.bincount(dr, minlength=b.n_dirs) > 0).sum())
    total = float((yd**2).sum() / max(len(y) - n_dir_used, 1))

    def pooled(groups: np.ndarray, vals: np.ndarray, n: int) -> float | None:
        cnt = np.bincount(groups, minlength=n)
        mean = np.bincount(groups, weights=vals, minlength=n) / np.maximum(cnt, 1)
        dof = float((cnt - 1).clip(min=0).sum())
        if dof <= 0:
            return None
        return float(((vals - mean[groups]) ** 2).sum() / dof)

    w_p = pooled(b.p, y, b.n_props)
    w_e = pooled(b.e, yd, b.n_experts)
    w_p = total if w_p is None else w_p
    w_e = total if w_e is None else w_e
    floor = max(1e-3 * total, 1e-6)
    return {
        "sigma2": max(w_p + w_e - total, floor),
        "sigma_b2": max(total - w_e, floor),
        "tau2": max(total - w_p, floor),
        "total_var": total,
    }


def _weights_from_indices(idx: np.ndarray, n_rows: int) -> np.ndarray:
    """Bootstrap multiplicities (R, d) from resampled row indices (d, R)."""
    d = idx.shape[0]
    flat = (idx + np.arange(d)[:, None] * n_rows).ravel()
    counts = np.bincount(flat, minlength=n_rows * d).reshape(d, n_rows)
    return np.ascontiguousarray(counts.T, dtype=float)


def additive(
    reviews: pd.DataFrame,
    proposals: pd.DataFrame,
    *,
    n_draws: int = 200,
    seed: int = 0,
    penalty: float | None = None,
    weight_confidence: bool = False,
) -> CalibrationResult:
    """Additive reviewer-bias model by ridge-regularised least squares.

    total = quality_p + leniency_e + noise; minimise Σ (total − q − b)² + penalty · Σ_e b_e²
    over the whole batch. quality is not penalised; leniency is shrunk towards 0. The default
    penalty is σ²/σ_b² from the moment estimates of :func:`variance_components` (the ridge
    that a Gaussian prior b ~ N(0, σ_b²) implies); pass ``penalty`` (> 0, in review units) to
    fix it. Within each review-graph component the ridge makes the experts' mean leniency 0.
    Assumes leniency is a constant shift per expert and noise has equal variance (or a
    variance inversely proportional to the stated confidence, with ``weight_confidence``).
    Where no expert has two reviews, leniency is not identifiable: the scores are the
    proposals' means and no leniencies are reported.

    se, leniency intervals (10 %–90 %) and draws come from the bootstrap over reviews (each
    replicate refits the model with bootstrap multiplicities as weights). Solved by eliminating
    quality exactly and block Jacobi-preconditioned CG on the expert system (sparse; scales to
    1e5 reviews).
    """
    _check_n_draws(n_draws)
    b = _prepare(reviews, proposals, weight_confidence=weight_confidence)
    vc = _variance_components(b)
    if penalty is None:
        lam = float(min(vc["sigma2"] / vc["sigma_b2"], 1e6))
    else:
        if not np.isfinite(penalty) or penalty <= 0:
            raise CalibrationInputError(
                f"penalty must be a finite number > 0, got {penalty}; use e.g. 1.0"
            )
        lam = float(penalty)
    lin = _linear(b)
    n_r = len(b.y)
    alpha = np.zeros(b.n_props)
    zero_p = np.zeros((b.n_props, 1))
    zero_e = np.zeros((b.n_experts, 1))
    q, lev, its, ok = _solve_linear(
        b, lin, y=b.y[:, None], w=b.w[:, None], alpha=alpha, m=zero_p, beta=lam,
        c=zero_e, b0=zero_e.copy(),
    )  # fmt: skip
    q, lev = _center_components(b, q, lev)
    notes: list[Msg] = []
    conv = ok
    q_draws, b_draws = [], []
    for idx in _boot_index_chunks(b, n_draws, seed):
        wts = _weights_from_indices(idx, n_r) * b.w[:, None]
        d = wts.shape[1]  # bootstrap weights differ per column: the general (gather) matvec
        qd, bd, _, okd = _solve_linear(
            b, lin, y=np.broadcast_to(b.y[:, None], (n_r, d)), w=wts, alpha=alpha, m=zero_p,
            beta=lam, c=zero_e, b0=np.repeat(lev, d, axis=1), rtol=1e-5,
        )  # fmt: skip
        qd, bd = _center_components(b, qd, bd)
        conv = conv and okd
        q_draws.append(qd.T)
        b_draws.append(bd.T)
    draws = np.concatenate(q_draws, axis=0) if q_draws else np.zeros((0, b.n_props))
    if n_draws >= 2:
        bdr = np.concatenate(b_draws, axis=0)
        se = draws.std(axis=0, ddof=1)
        lo, hi = np.quantile(bdr, RANK_INTERVAL, axis=0)
    else:
        se = np.full(b.n_props, np.nan)
        lo = hi = np.full(b.n_experts, np.nan)
    if not conv:
        notes.append(_CG_NOTE)
    notes.append(
        Msg("draws are a bootstrap over each proposal's reviews, refitting the model per replicate")
    )
    params = {**vc, "penalty": lam, "cg_iterations": float(its)}
    if b.identifiability == "none":
        notes.append(_NONE_NOTE)
        return _assemble(
            b, "additive", seed, score=q[:, 0], se=se, draws=draws, params=params, notes=notes
        )
    return _assemble(
        b, "additive", seed, score=q[:, 0], se=se, draws=draws, leniency=lev[:, 0],
        leniency_lo=lo, leniency_hi=hi, params=params, notes=notes,
    )  # fmt: skip


def bayes(
    reviews: pd.DataFrame,
    proposals: pd.DataFrame,
    *,
    n_draws: int = 200,
    seed: int = 0,
    expert_noise: bool = True,
    noise_prior_dof: float = 4.0,
    sigma2: float | None = None,
    sigma_b2: float | None = None,
    tau2: float | None = None,
    max_mu_iter: int = 100,
    weight_confidence: bool = False,
) -> CalibrationResult:
    """Hierarchical Gaussian model with empirical-Bayes variance components.

    total = q_p + b_e + noise; q_p ~ N(mu_dir, τ²), b_e ~ N(0, σ_b²), noise ~ N(0, σ_e²),
    all independent. σ² (pooled noise), σ_b², τ² are moment estimates
    (:func:`variance_components`); mu_dir is the direction's free mean, fitted jointly with q
    and b (alternating until it moves by < 1e-6 points). With ``expert_noise`` (default) each
    expert's noise variance σ_e² is estimated from their residuals and shrunk to σ² with
    ``noise_prior_dof`` prior degrees of freedom, σ_e² = (ν0 σ² + RSS_e) / (ν0 + f · n_e),
    f = residual degrees of freedom per review; the fit is repeated twice with these weights.
    Without it σ_e² = σ² for all experts. ``sigma2``, ``sigma_b2``, ``tau2`` (points², > 0)
    fix a variance component instead of estimating it.

    Given these, the posterior of (q, b) is Gaussian and computed exactly: the posterior mean
    by eliminating q and CG on the sparse expert system; posterior draws by the perturbation
    trick (solve the same system with data and prior means perturbed by their own noise: each
    solution is an exact posterior draw). score = posterior mean, se = posterior sd
    (Rao–Blackwellised: exact conditional variance given b plus the spread of the conditional
    mean over the draws). Plug-in: uncertainty in the variance components, σ_e² and mu_dir is
    ignored. Where the review graph has several components, each component's mean leniency is
    anchored at 0 by shifting (q, b) of that component (the posterior mean and every draw);
    with one component the exact posterior is returned. Assumes leniency is a constant shift
    per expert. With ``weight_confidence`` a review's noise variance is divided by its weight.

    Where no expert has two reviews (identifiability ``none``) leniency cannot be told from
    merit: the model drops it (σ_b² → 0, no per-expert noise) and becomes per-proposal
    shrinkage of each proposal's mean towards its direction's, with a note and no leniencies.
    """
    _check_n_draws(n_draws)
    if not np.isfinite(noise_prior_dof) or noise_prior_dof <= 0:
        raise CalibrationInputError(
            f"noise_prior_dof must be a finite number > 0, got {noise_prior_dof}; use e.g. 4"
        )
    b = _prepare(reviews, proposals, weight_confidence=weight_confidence)
    vc = _variance_components(b)
    shrink_only = b.identifiability == "none"
    if shrink_only:  # leniency is part of the noise between a proposal's reviews
        vc["sigma_b2"] = 1e-9 * max(vc["total_var"], 1e-6)
        expert_noise = False
    for key, given in (("sigma2", sigma2), ("sigma_b2", sigma_b2), ("tau2", tau2)):
        if given is not None:
            if not np.isfinite(given) or given <= 0:
                raise CalibrationInputError(
                    f"{key} must be a finite variance > 0 (points²), got {given}; "
                    "or leave it None to estimate it"
                )
            vc[key] = float(given)
    s2, sb2, t2 = vc["sigma2"], vc["sigma_b2"], vc["tau2"]
    lin = _linear(b)
    n_r = len(b.y)
    alpha = np.full(b.n_props, s2 / t2)
    beta = s2 / sb2
    zero_e = np.zeros((b.n_experts, 1))
    rv = b.reviewed
    dir_cnt = np.bincount(b.dir_idx[rv], minlength=b.n_dirs)
    mu = np.bincount(b.dir_idx[b.p], weights=b.y, minlength=b.n_dirs) / np.maximum(
        np.bincount(b.dir_idx[b.p], minlength=b.n_dirs), 1
    )
    lev = zero_e.copy()
    w = b.w.copy()
    total_its = 0
    conv = True
    mu_iter = 0
    noise_var = np.full(b.n_experts, s2)
    q = np.zeros((b.n_props, 1))
    n_fits = 3 if expert_noise else 1
    dof_frac = float(np.clip((n_r - rv.sum() - b.n_experts) / max(n_r, 1), 0.05, 1.0))
    for fit in range(n_fits):
        if fit > 0:
            resid = b.y - q[b.p, 0] - lev[b.e, 0]
            rss = np.bincount(b.e, weights=b.w * resid**2, minlength=b.n_experts)
            noise_var = (noise_prior_dof * s2 + rss) / (noise_prior_dof + dof_frac * b.n_e)
            w = b.w * s2 / noise_var[b.e]
        last = fit == n_fits - 1
        for mu_iter in range(1, max_mu_iter + 1):  # noqa: B007
            q, lev, its, ok = _solve_linear(
                b, lin, y=b.y[:, None], w=w[:, None], alpha=alpha, m=mu[b.dir_idx][:, None],
                beta=beta, c=zero_e, b0=lev, rtol=1e-10 if last else 1e-7,
            )  # fmt: skip
            total_its += its
            conv = conv and ok
            new_mu = np.bincount(b.dir_idx[rv], weights=q[rv, 0], minlength=b.n_dirs) / np.maximum(
                dir_cnt, 1
            )
            step = float(np.max(np.abs(new_mu - mu))) if len(mu) else 0.0
            mu = new_mu
            if step < (1e-6 if last else 1e-3):
                break
    m = mu[b.dir_idx][:, None]
    q, lev, its, ok = _solve_linear(
        b, lin, y=b.y[:, None], w=w[:, None], alpha=alpha, m=m, beta=beta, c=zero_e, b0=lev,
        rtol=1e-10,
    )  # fmt: skip
    conv = conv and ok
    denom = lin.mp @ w + alpha  # (P,) conditional precision of q given b, times σ²
    g0 = (lin.mp @ (w * b.y) + alpha * m[:, 0]) / denom  # E[q | b] = g0 − Σ w b / denom
    cond_var = s2 / denom
    anchor = b.n_comp > 1  # one component: the prior b ~ N(0, σ_b²) anchors; keep it exact
    if anchor:
        q, lev = _center_components(b, q, lev)
    rng = np.random.default_rng(seed)
    q_draws, b_draws, cm_draws = [], [], []
    noise_sd_r = np.sqrt(s2 / w)[:, None]
    for lo_i in range(0, n_draws, _DRAW_CHUNK):
        d = min(_DRAW_CHUNK, n_draws - lo_i)
        y_star = b.y[:, None] + noise_sd_r * rng.standard_normal((n_r, d))
        m_star = m + np.sqrt(t2) * rng.standard_normal((b.n_props, d))
        c_star = np.sqrt(sb2) * rng.standard_normal((b.n_experts, d))
        qd, bd, _, okd = _solve_linear(
            b, lin, y=y_star, w=w[:, None], alpha=alpha, m=m_star, beta=beta, c=c_star,
            b0=np.repeat(lev, d, axis=1), rtol=1e-6,
        )  # fmt: skip
        conv = conv and okd
        if anchor:
            qd, bd = _center_components(b, qd, bd)
        cm = g0[:, None] - (lin.mp @ (w[:, None] * bd[b.e])) / denom[:, None]
        q_draws.append(qd.T)
        b_draws.append(bd.T)
        cm_draws.append(cm.T)
    draws = np.concatenate(q_draws, axis=0) if q_draws else np.zeros((0, b.n_props))
    # leniency posterior sd: from draws, or the diagonal approximation without draws
    if n_draws >= 2:
        bdr = np.concatenate(b_draws, axis=0)
        lo, hi = np.quantile(bdr, RANK_INTERVAL, axis=0)
        se = np.sqrt(cond_var + np.concatenate(cm_draws, axis=0).var(axis=0, ddof=1))
    else:
        diag = beta + lin.me @ w - lin.me @ (w * w / denom[b.p])
        b_sd = np.sqrt(s2 / np.maximum(diag, 1e-12))
        lo, hi = lev[:, 0] - _Z90 * b_sd, lev[:, 0] + _Z90 * b_sd
        se = np.sqrt(cond_var + (lin.mp @ (w**2 * b_sd[b.e] ** 2)) / denom**2)
    notes = [
        Msg(
            "draws are exact posterior draws given the estimated variance components, expert "
            "noise variances and direction means (perturbation trick)"
        )
    ]
    if not conv:
        notes.append(_CG_NOTE)
    params = {
        **vc,
        "leniency_penalty": beta,
        "quality_penalty": float(s2 / t2),
        "mu_iterations": float(mu_iter),
        "cg_iterations": float(total_its),
        "expert_noise_sd_min": float(np.sqrt(noise_var.min())) if b.n_experts else np.nan,
        "expert_noise_sd_max": float(np.sqrt(noise_var.max())) if b.n_experts else np.nan,
    }
    if shrink_only:
        notes += [
            _NONE_NOTE,
            Msg(
                "bayes fell back to per-proposal shrinkage: each proposal's mean review is "
                "pulled towards its direction's mean, the more the fewer reviews it has"
            ),
        ]
        return _assemble(
            b, "bayes", seed, score=q[:, 0], se=se, draws=draws, params=params, notes=notes
        )
    return _assemble(
        b, "bayes", seed, score=q[:, 0], se=se, draws=draws, leniency=lev[:, 0],
        leniency_lo=lo, leniency_hi=hi, params=params, notes=notes,
    )  # fmt: skip


# ----------------------------------------------------------------------------------------------
# registry
# ----------------------------------------------------------------------------------------------

Method = Callable[..., CalibrationResult]

METHODS: dict[str, Method] = {
    "raw_mean": raw_mean,
    "trimmed_mean": trimmed_mean,
    "median": median,
    "zscore": zscore,
    "additive": additive,
    "bayes": bayes,
}


def calibrate(
    reviews: pd.DataFrame,
    proposals: pd.DataFrame,
    *,
    method: str,
    n_draws: int = 200,
    seed: int = 0,
    **options: Any,
) -> CalibrationResult:
    """Run one calibration method by name (see METHODS); options go to the method
    (``weight_confidence`` to every one; see the module docstring)."""
    if method not in METHODS:
        raise CalibrationInputError(
            f"unknown calibration method {method!r}; choose one of {', '.join(METHODS)}"
        )
    return METHODS[method](reviews, proposals, n_draws=n_draws, seed=seed, **options)
