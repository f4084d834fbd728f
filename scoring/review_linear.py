"""The linear model y = q_p + b_e + noise over the review graph, solved by eliminating q
exactly and running block Jacobi-preconditioned CG on the experts' system; and the moment
estimates of its variance components."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from scoring.review_batch import ReviewBatch, prepare_reviews


@dataclass(frozen=True, eq=False)
class Incidence:
    """Sparse incidence of reviews: mp (P, R) and me (E, R), 1 where a review belongs."""

    mp: sp.csr_matrix
    me: sp.csr_matrix


def incidence(b: ReviewBatch) -> Incidence:
    r = np.arange(len(b.p))
    ones = np.ones(len(b.p))
    mp = sp.csr_matrix((ones, (b.p, r)), shape=(b.n_props, len(b.p)))
    me = sp.csr_matrix((ones, (b.e, r)), shape=(b.n_experts, len(b.p)))
    return Incidence(mp, me)


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


def solve_linear(
    b: ReviewBatch,
    lin: Incidence,
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


def center_components(b: ReviewBatch, q: np.ndarray, lev: np.ndarray) -> tuple[np.ndarray, ...]:
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
    return batch_variance_components(prepare_reviews(reviews, proposals))


def batch_variance_components(b: ReviewBatch) -> dict[str, float]:
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
