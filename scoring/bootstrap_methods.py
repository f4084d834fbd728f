"""Calibration methods whose uncertainty is a seeded bootstrap over each proposal's reviews:
raw_mean, trimmed_mean, median and zscore."""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.i18n import Msg, _
from scoring.review_batch import (
    DRAW_CHUNK,
    WEIGHTED_METHODS,
    CalibrationInputError,
    CalibrationResult,
    NotIdentifiable,
    ReviewBatch,
    assemble_result,
    check_n_draws,
    prepare_reviews,
    reorder_reviews,
)


def boot_index_chunks(b: ReviewBatch, n_draws: int, seed: int) -> list[np.ndarray]:
    """Bootstrap replicates as row indices (d, R) per chunk, each proposal resampled within its
    own reviews; indices are sorted along axis 1, so within a proposal the values are sorted."""
    rng = np.random.default_rng(seed)
    start_r = b.start[b.p]
    n_r = b.n_p[b.p]
    chunks = []
    for lo in range(0, n_draws, DRAW_CHUNK):
        d = min(DRAW_CHUNK, n_draws - lo)
        u = rng.random((d, len(b.p)))
        idx = start_r[None, :] + (u * n_r[None, :]).astype(np.int64)
        idx.sort(axis=1)
        chunks.append(idx)
    return chunks


def _group_stat(
    b: ReviewBatch, vals: np.ndarray, stat: str, weights: np.ndarray | None = None
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
    b: ReviewBatch, vals: np.ndarray, stat: str, n_draws: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Point score (P,), bootstrap se (P,), draws (n_draws, P) of a per-proposal statistic of
    per-review values (R,) (which must be sorted within each proposal's rows); a mean is
    weighted by the reviews' weights ``b.w``."""
    w = b.w if stat == "mean" else None
    point = _group_stat(b, vals[None, :], stat, None if w is None else w[None, :])[0]
    parts = [
        _group_stat(b, vals[idx], stat, None if w is None else w[idx])
        for idx in boot_index_chunks(b, n_draws, seed)
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
    check_n_draws(n_draws)
    b = prepare_reviews(reviews, proposals, weight_confidence=weight_confidence)
    score, se, draws = _bootstrap_method(b, b.y, "mean", n_draws, seed)
    return assemble_result(b, "raw_mean", seed, score=score, se=se, draws=draws, notes=[_BOOT_NOTE])


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
    check_n_draws(n_draws)
    b = prepare_reviews(reviews, proposals)
    score, se, draws = _bootstrap_method(b, b.y, "trimmed", n_draws, seed)
    return assemble_result(
        b, "trimmed_mean", seed, score=score, se=se, draws=draws, notes=[_BOOT_NOTE]
    )


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
    check_n_draws(n_draws)
    b = prepare_reviews(reviews, proposals)
    score, se, draws = _bootstrap_method(b, b.y, "median", n_draws, seed)
    return assemble_result(b, "median", seed, score=score, se=se, draws=draws, notes=[_BOOT_NOTE])


def _zscores(b: ReviewBatch) -> tuple[np.ndarray, float]:
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
    check_n_draws(n_draws)
    b = prepare_reviews(reviews, proposals, weight_confidence=weight_confidence)
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
    zb = reorder_reviews(b, order)
    zs = z[order]
    score, se, draws = _bootstrap_method(zb, zs, "mean", n_draws, seed)
    return assemble_result(
        b,
        "zscore",
        seed,
        score=m + s * score,
        se=s * se,
        draws=m + s * draws,
        params={"scale_mean": m, "scale_sd": s, "pooled_expert_sd": pooled},
        notes=[_BOOT_NOTE],
    )
