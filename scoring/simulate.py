"""Seeded simulation of review scores with a known truth, for testing calibration methods.

The generative model is additive on the 100-point scale: an expert's observed total for a
proposal is ``quality + leniency + noise``, clipped to [0, 100]. Each expert has their own
leniency (points added to all their scores) and their own noise sd.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

#: Review sheet criteria: (name, Chinese label, maximum points). The total is their plain sum
#: (100 points); a criterion's weight is its maximum.
DEFAULT_CRITERIA: tuple[tuple[str, str, float], ...] = (
    ("innovation", "创新性", 25.0),
    ("feasibility", "技术路线与可行性", 25.0),
    ("team", "团队与基础", 20.0),
    ("prospects", "预期成果与产业化前景", 20.0),
    ("targets", "绩效目标", 10.0),
)

#: Verdict thresholds on the total: >= RECOMMEND_AT recommend, < REJECT_BELOW reject.
RECOMMEND_AT = 75.0
REJECT_BELOW = 60.0
#: Between the thresholds an expert abstains with this probability, otherwise leans by the
#: midpoint (recommend at or above it, reject below).
ABSTAIN_PROB = 0.25
LEAN_MIDPOINT = 67.5


class SimulationInputError(ValueError):
    """Bad input to a simulation function."""


def _check_ids(ids: Sequence[str], what: str) -> list[str]:
    out = [str(i) for i in ids]
    seen: set[str] = set()
    dup = sorted({i for i in out if i in seen or seen.add(i)})  # type: ignore[func-returns-value]
    if dup:
        raise SimulationInputError(
            f"duplicate {what} ids: {', '.join(dup[:5])}; pass each {what} id once"
        )
    return out


def draw_truth(
    proposal_ids: Sequence[str],
    expert_ids: Sequence[str],
    *,
    quality_mean: float = 70.0,
    quality_sd: float = 8.0,
    leniency_sd: float = 5.0,
    noise_sd: float = 6.0,
    noise_sd_spread: float = 0.3,
    seed: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Draw the latent truth.

    Returns ``truth_proposals`` (P rows: proposal_id, quality in points, N(quality_mean,
    quality_sd²) clipped to [0, 100]) and ``truth_experts`` (E rows: expert_id, leniency in
    points ~ N(0, leniency_sd²), noise_sd in points = noise_sd · exp(noise_sd_spread · z),
    z ~ N(0, 1), i.e. log-normal around noise_sd).
    """
    pids = _check_ids(proposal_ids, "proposal")
    eids = _check_ids(expert_ids, "expert")
    for name, value in (
        ("quality_sd", quality_sd),
        ("leniency_sd", leniency_sd),
        ("noise_sd", noise_sd),
        ("noise_sd_spread", noise_sd_spread),
    ):
        if not np.isfinite(value) or value < 0:
            raise SimulationInputError(f"{name} must be a finite number >= 0, got {value}")
    rng = np.random.default_rng(seed)
    quality = np.clip(rng.normal(quality_mean, quality_sd, len(pids)), 0.0, 100.0)
    leniency = rng.normal(0.0, leniency_sd, len(eids))
    sds = noise_sd * np.exp(noise_sd_spread * rng.standard_normal(len(eids)))
    truth_p = pd.DataFrame({"proposal_id": pids, "quality": quality})
    truth_e = pd.DataFrame({"expert_id": eids, "leniency": leniency, "noise_sd": sds})
    return truth_p, truth_e


def _split_criteria(totals: np.ndarray, maxima: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Split totals (R,) in [0, sum(maxima)] into criterion scores (R, C) in 0.5 steps.

    Each criterion gets about the same share of its maximum as the total has of 100 points,
    with a little jitter; the scores respect each maximum and sum exactly to the total rounded
    to 0.5. Worked in half-point units as integers so that the sum is exact.
    """
    units_max = np.rint(2 * maxima).astype(np.int64)  # (C,)
    target = np.rint(2 * totals).astype(np.int64)  # (R,)
    share = totals / maxima.sum()
    ideal = np.clip(share[:, None] + rng.normal(0.0, 0.04, (len(totals), len(maxima))), 0, 1)
    ideal = ideal * units_max[None, :]
    cur = np.clip(np.rint(ideal).astype(np.int64), 0, units_max[None, :])
    resid = target - cur.sum(axis=1)
    rows = np.arange(len(totals))
    while True:
        up = resid > 0
        down = resid < 0
        if not (up.any() or down.any()):
            break
        gap = ideal - cur
        # raise the criterion furthest below its ideal among those with room
        g_up = np.where(cur < units_max[None, :], gap, -np.inf)
        j_up = np.argmax(g_up, axis=1)
        # lower the criterion furthest above its ideal among those above zero
        g_dn = np.where(cur > 0, gap, np.inf)
        j_dn = np.argmin(g_dn, axis=1)
        cur[rows[up], j_up[up]] += 1
        cur[rows[down], j_dn[down]] -= 1
        resid = target - cur.sum(axis=1)
    return cur / 2.0


def simulate_reviews(
    assignments: pd.DataFrame,
    truth_proposals: pd.DataFrame,
    truth_experts: pd.DataFrame,
    *,
    criteria: Sequence[tuple[str, str, float]] = DEFAULT_CRITERIA,
    confidence_effect: float = 0.0,
    seed: int,
) -> pd.DataFrame:
    """Simulate one review per assignment row.

    assignments: (R rows) proposal_id, expert_id. Returns R rows, in the same order:
    proposal_id, expert_id, one column per criterion (points, 0.5 steps, within its maximum),
    total (their exact sum, in [0, 100]), confidence (int 2–5, uniform, from its own seeded
    stream), verdict ('recommend' / 'reject' / 'abstain').

    The total is ``quality + leniency + noise_sd_e · (c / 3.5) ** (−confidence_effect / 2) · z``
    clipped to [0, sum of maxima] and rounded to 0.5, c the review's confidence: with
    ``confidence_effect`` 0 (default) confidence says nothing about the score, with 1 a
    review's precision is proportional to it. Verdict: total >= 75 recommend; total < 60
    reject; in between the expert abstains with probability 0.25, otherwise recommends at 67.5
    or above and rejects below.
    """
    missing_cols = [c for c in ("proposal_id", "expert_id") if c not in assignments.columns]
    if missing_cols:
        raise SimulationInputError(
            f"assignments lacks column(s) {', '.join(missing_cols)}; "
            "pass a frame with proposal_id and expert_id"
        )
    crit = tuple(criteria)
    if not crit:
        raise SimulationInputError("criteria is empty; pass at least one (name, label, max)")
    maxima = np.array([float(c[2]) for c in crit])
    if (maxima <= 0).any() or not np.allclose(2 * maxima, np.rint(2 * maxima)):
        bad = [c[0] for c in crit if c[2] <= 0 or 2 * c[2] != round(2 * c[2])]
        raise SimulationInputError(
            f"criteria {', '.join(bad)} have a maximum that is not a positive multiple of 0.5"
        )
    full = float(maxima.sum())
    pid = assignments["proposal_id"].astype(str).to_numpy()
    eid = assignments["expert_id"].astype(str).to_numpy()
    q_map = pd.Series(
        truth_proposals["quality"].to_numpy(float),
        index=truth_proposals["proposal_id"].astype(str),
    )
    e_idx = pd.Index(truth_experts["expert_id"].astype(str))
    unknown_p = sorted(set(pid) - set(q_map.index))
    unknown_e = sorted(set(eid) - set(e_idx))
    if unknown_p or unknown_e:
        raise SimulationInputError(
            "assignments name ids absent from the truth: "
            f"proposals {unknown_p[:5]}, experts {unknown_e[:5]}; draw the truth for them first"
        )
    if not np.isfinite(confidence_effect) or confidence_effect < 0:
        raise SimulationInputError(
            f"confidence_effect must be a finite number >= 0, got {confidence_effect}"
        )
    rng = np.random.default_rng(seed)
    confidence = np.random.default_rng([seed, 1]).integers(2, 6, len(pid))
    ei = e_idx.get_indexer(eid)
    quality = q_map.reindex(pid).to_numpy(float)
    leniency = truth_experts["leniency"].to_numpy(float)[ei]
    sd = truth_experts["noise_sd"].to_numpy(float)[ei] * (confidence / 3.5) ** (
        -confidence_effect / 2
    )
    raw = quality + leniency + sd * rng.standard_normal(len(pid))
    raw = np.clip(raw, 0.0, full)
    scores = _split_criteria(raw, maxima, rng)
    total = scores.sum(axis=1)
    u = rng.random(len(pid))
    verdict = np.where(
        total >= RECOMMEND_AT,
        "recommend",
        np.where(
            total < REJECT_BELOW,
            "reject",
            np.where(
                u < ABSTAIN_PROB, "abstain", np.where(total >= LEAN_MIDPOINT, "recommend", "reject")
            ),
        ),
    )
    out = pd.DataFrame({"proposal_id": pid, "expert_id": eid})
    for j, c in enumerate(crit):
        out[c[0]] = scores[:, j]
    out["total"] = total
    out["confidence"] = confidence
    out["verdict"] = verdict
    return out
