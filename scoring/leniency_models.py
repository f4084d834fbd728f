"""Calibration methods that estimate each expert's leniency: additive (ridge least squares,
bootstrap uncertainty) and bayes (hierarchical Gaussian model, exact posterior draws)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.i18n import Msg
from scoring.bootstrap_methods import boot_index_chunks
from scoring.review_batch import (
    CG_NOTE,
    DRAW_CHUNK,
    NOT_IDENTIFIABLE_NOTE,
    RANK_INTERVAL,
    Z90,
    CalibrationInputError,
    CalibrationResult,
    assemble_result,
    check_n_draws,
    prepare_reviews,
)
from scoring.review_linear import (
    batch_variance_components,
    center_components,
    incidence,
    solve_linear,
)


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
    check_n_draws(n_draws)
    b = prepare_reviews(reviews, proposals, weight_confidence=weight_confidence)
    vc = batch_variance_components(b)
    if penalty is None:
        lam = float(min(vc["sigma2"] / vc["sigma_b2"], 1e6))
    else:
        if not np.isfinite(penalty) or penalty <= 0:
            raise CalibrationInputError(
                f"penalty must be a finite number > 0, got {penalty}; use e.g. 1.0"
            )
        lam = float(penalty)
    lin = incidence(b)
    n_r = len(b.y)
    alpha = np.zeros(b.n_props)
    zero_p = np.zeros((b.n_props, 1))
    zero_e = np.zeros((b.n_experts, 1))
    q, lev, its, ok = solve_linear(
        b, lin, y=b.y[:, None], w=b.w[:, None], alpha=alpha, m=zero_p, beta=lam,
        c=zero_e, b0=zero_e.copy(),
    )  # fmt: skip
    q, lev = center_components(b, q, lev)
    notes: list[Msg] = []
    conv = ok
    q_draws, b_draws = [], []
    for idx in boot_index_chunks(b, n_draws, seed):
        wts = _weights_from_indices(idx, n_r) * b.w[:, None]
        d = wts.shape[1]  # bootstrap weights differ per column: the general (gather) matvec
        qd, bd, _, okd = solve_linear(
            b, lin, y=np.broadcast_to(b.y[:, None], (n_r, d)), w=wts, alpha=alpha, m=zero_p,
            beta=lam, c=zero_e, b0=np.repeat(lev, d, axis=1), rtol=1e-5,
        )  # fmt: skip
        qd, bd = center_components(b, qd, bd)
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
        notes.append(CG_NOTE)
    notes.append(
        Msg("draws are a bootstrap over each proposal's reviews, refitting the model per replicate")
    )
    params = {**vc, "penalty": lam, "cg_iterations": float(its)}
    if b.identifiability == "none":
        notes.append(NOT_IDENTIFIABLE_NOTE)
        return assemble_result(
            b, "additive", seed, score=q[:, 0], se=se, draws=draws, params=params, notes=notes
        )
    return assemble_result(
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
    check_n_draws(n_draws)
    if not np.isfinite(noise_prior_dof) or noise_prior_dof <= 0:
        raise CalibrationInputError(
            f"noise_prior_dof must be a finite number > 0, got {noise_prior_dof}; use e.g. 4"
        )
    b = prepare_reviews(reviews, proposals, weight_confidence=weight_confidence)
    vc = batch_variance_components(b)
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
    lin = incidence(b)
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
            q, lev, its, ok = solve_linear(
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
    q, lev, its, ok = solve_linear(
        b, lin, y=b.y[:, None], w=w[:, None], alpha=alpha, m=m, beta=beta, c=zero_e, b0=lev,
        rtol=1e-10,
    )  # fmt: skip
    conv = conv and ok
    denom = lin.mp @ w + alpha  # (P,) conditional precision of q given b, times σ²
    g0 = (lin.mp @ (w * b.y) + alpha * m[:, 0]) / denom  # E[q | b] = g0 − Σ w b / denom
    cond_var = s2 / denom
    anchor = b.n_comp > 1  # one component: the prior b ~ N(0, σ_b²) anchors; keep it exact
    if anchor:
        q, lev = center_components(b, q, lev)
    rng = np.random.default_rng(seed)
    q_draws, b_draws, cm_draws = [], [], []
    noise_sd_r = np.sqrt(s2 / w)[:, None]
    for lo_i in range(0, n_draws, DRAW_CHUNK):
        d = min(DRAW_CHUNK, n_draws - lo_i)
        y_star = b.y[:, None] + noise_sd_r * rng.standard_normal((n_r, d))
        m_star = m + np.sqrt(t2) * rng.standard_normal((b.n_props, d))
        c_star = np.sqrt(sb2) * rng.standard_normal((b.n_experts, d))
        qd, bd, _, okd = solve_linear(
            b, lin, y=y_star, w=w[:, None], alpha=alpha, m=m_star, beta=beta, c=c_star,
            b0=np.repeat(lev, d, axis=1), rtol=1e-6,
        )  # fmt: skip
        conv = conv and okd
        if anchor:
            qd, bd = center_components(b, qd, bd)
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
        lo, hi = lev[:, 0] - Z90 * b_sd, lev[:, 0] + Z90 * b_sd
        se = np.sqrt(cond_var + (lin.mp @ (w**2 * b_sd[b.e] ** 2)) / denom**2)
    notes = [
        Msg(
            "draws are exact posterior draws given the estimated variance components, expert "
            "noise variances and direction means (perturbation trick)"
        )
    ]
    if not conv:
        notes.append(CG_NOTE)
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
            NOT_IDENTIFIABLE_NOTE,
            Msg(
                "bayes fell back to per-proposal shrinkage: each proposal's mean review is "
                "pulled towards its direction's mean, the more the fewer reviews it has"
            ),
        ]
        return assemble_result(
            b, "bayes", seed, score=q[:, 0], se=se, draws=draws, params=params, notes=notes
        )
    return assemble_result(
        b, "bayes", seed, score=q[:, 0], se=se, draws=draws, leniency=lev[:, 0],
        leniency_lo=lo, leniency_hi=hi, params=params, notes=notes,
    )  # fmt: skip
