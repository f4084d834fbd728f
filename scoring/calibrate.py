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

from collections.abc import Callable
from typing import Any

import pandas as pd

from scoring.bootstrap_methods import median, raw_mean, trimmed_mean, zscore
from scoring.leniency_models import additive, bayes
from scoring.review_batch import (
    IDENTIFIABILITY,
    WEIGHTED_METHODS,
    CalibrationInputError,
    CalibrationResult,
    Diagnostics,
    NotIdentifiable,
)
from scoring.review_linear import variance_components

__all__ = [
    "IDENTIFIABILITY",
    "METHODS",
    "WEIGHTED_METHODS",
    "CalibrationInputError",
    "CalibrationResult",
    "Diagnostics",
    "NotIdentifiable",
    "calibrate",
    "variance_components",
]


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
