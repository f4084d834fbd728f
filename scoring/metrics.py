"""Accuracy of a ranking against known true quality (synthetic batches with ground truth)."""

from __future__ import annotations

import numpy as np
import pandas as pd

N_SELECT = 2
"""Projects funded per direction when measuring selection accuracy (the call's 1–2)."""


def _kendall_tau_b(x: np.ndarray, y: np.ndarray) -> float:
    """Kendall τ-b of two short vectors (NaN when either is constant)."""
    sx = np.sign(x[:, None] - x[None, :])
    sy = np.sign(y[:, None] - y[None, :])
    iu = np.triu_indices(len(x), 1)
    a, b = sx[iu], sy[iu]
    den = np.sqrt(float((a != 0).sum()) * float((b != 0).sum()))
    return float((a * b).sum() / den) if den > 0 else float("nan")


def score_metrics(
    proposals: pd.DataFrame, quality: np.ndarray, score: np.ndarray
) -> dict[str, float]:
    """Kendall τ, best-selected share and regret (points) of one score vector (P,) against the
    true quality (P,), per direction and averaged over directions."""
    taus, shares, regrets = [], [], []
    for _, idx in proposals.groupby("direction_code", sort=True).indices.items():
        q, s = quality[idx], score[idx]
        taus.append(_kendall_tau_b(s, q))
        k = min(N_SELECT, len(idx))
        best = np.argsort(-q, kind="stable")[:k]
        chosen = np.argsort(-np.nan_to_num(s, nan=-np.inf), kind="stable")[:k]
        shares.append(len(np.intersect1d(best, chosen)) / k)
        regrets.append(float(q[best].sum() - q[chosen].sum()))
    return {
        "kendall_tau": float(np.nanmean(taus)),
        "best_selected_share": float(np.mean(shares)),
        "regret": float(np.mean(regrets)),
    }
