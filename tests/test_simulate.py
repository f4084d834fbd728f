"""Tests for scoring.simulate: truth draws and review simulation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.simulate import (
    DEFAULT_CRITERIA,
    SimulationInputError,
    draw_truth,
    simulate_reviews,
)


def _ids(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i}" for i in range(n)]


def test_default_criteria_sum_to_100() -> None:
    assert [c[0] for c in DEFAULT_CRITERIA] == [
        "innovation",
        "feasibility",
        "team",
        "prospects",
        "targets",
    ]
    assert [c[2] for c in DEFAULT_CRITERIA] == [25.0, 25.0, 20.0, 20.0, 10.0]
    assert sum(c[2] for c in DEFAULT_CRITERIA) == 100.0
    assert all(isinstance(c[1], str) and c[1] for c in DEFAULT_CRITERIA)


def test_draw_truth_shapes_and_determinism() -> None:
    tp, te = draw_truth(_ids("P", 50), _ids("E", 30), seed=3)
    tp2, te2 = draw_truth(_ids("P", 50), _ids("E", 30), seed=3)
    pd.testing.assert_frame_equal(tp, tp2)
    pd.testing.assert_frame_equal(te, te2)
    assert list(tp.columns) == ["proposal_id", "quality"]
    assert list(te.columns) == ["expert_id", "leniency", "noise_sd"]
    assert tp["quality"].between(0, 100).all()
    assert (te["noise_sd"] > 0).all()
    tp3, _ = draw_truth(_ids("P", 50), _ids("E", 30), seed=4)
    assert not np.allclose(tp["quality"], tp3["quality"])


def test_draw_truth_without_spread_or_leniency() -> None:
    _, te = draw_truth(
        _ids("P", 5), _ids("E", 20), leniency_sd=0, noise_sd=6, noise_sd_spread=0, seed=1
    )
    assert (te["leniency"] == 0).all()
    assert (te["noise_sd"] == 6).all()


def test_draw_truth_moments() -> None:
    tp, te = draw_truth(_ids("P", 20000), _ids("E", 20000), seed=0)
    assert abs(tp["quality"].mean() - 70) < 0.3
    assert abs(tp["quality"].std() - 8) < 0.3
    assert abs(te["leniency"].std() - 5) < 0.2
    assert abs(np.log(te["noise_sd"]).mean() - np.log(6)) < 0.02


def test_draw_truth_rejects_duplicates_and_negative_sd() -> None:
    with pytest.raises(SimulationInputError) as err:
        draw_truth(["P1", "P2", "P1"], ["E1"], seed=0)
    assert str(err.value) == "duplicate proposal ids: P1; pass each proposal id once"
    with pytest.raises(SimulationInputError) as err:
        draw_truth(["P1"], ["E1"], noise_sd=-1, seed=0)
    assert str(err.value) == "noise_sd must be a finite number >= 0, got -1"


def _batch(n_p: int, n_e: int, k: int, seed: int, **kw: float) -> tuple[pd.DataFrame, ...]:
    rng = np.random.default_rng(seed)
    pids, eids = _ids("P", n_p), _ids("E", n_e)
    rows = [(p, f"E{e}") for p in pids for e in rng.choice(n_e, k, replace=False)]
    assignments = pd.DataFrame(rows, columns=["proposal_id", "expert_id"])
    tp, te = draw_truth(pids, eids, seed=seed, **kw)
    return assignments, tp, te


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    quality_mean=st.floats(-20, 130),
    quality_sd=st.floats(0, 40),
    noise_sd=st.floats(0, 30),
)
def test_simulate_reviews_invariants(
    seed: int, quality_mean: float, quality_sd: float, noise_sd: float
) -> None:
    a, tp, te = _batch(
        15, 8, 3, seed, quality_mean=quality_mean, quality_sd=quality_sd, noise_sd=noise_sd
    )
    rev = simulate_reviews(a, tp, te, seed=seed)
    names = [c[0] for c in DEFAULT_CRITERIA]
    assert list(rev.columns) == ["proposal_id", "expert_id", *names, "total", "confidence"] + [
        "verdict"
    ]
    assert list(rev["proposal_id"]) == list(a["proposal_id"])
    assert list(rev["expert_id"]) == list(a["expert_id"])
    crit = rev[names].to_numpy()
    maxima = np.array([c[2] for c in DEFAULT_CRITERIA])
    assert (crit >= 0).all() and (crit <= maxima[None, :]).all()
    assert np.array_equal(crit * 2, np.round(crit * 2))  # 0.5 steps
    assert np.array_equal(crit.sum(axis=1), rev["total"].to_numpy())  # exact sum
    assert rev["total"].between(0, 100).all()
    assert rev["confidence"].between(2, 5).all()
    tot = rev["total"]
    assert (rev.loc[tot >= 75, "verdict"] == "recommend").all()
    assert (rev.loc[tot < 60, "verdict"] == "reject").all()
    assert set(rev["verdict"]) <= {"recommend", "reject", "abstain"}
    assert (rev.loc[rev["verdict"] == "abstain", "total"].between(60, 75)).all()


def test_noise_free_total_is_quality_plus_leniency() -> None:
    a, tp, te = _batch(40, 10, 4, 0, noise_sd=0)
    rev = simulate_reviews(a, tp, te, seed=0)
    q = rev["proposal_id"].map(tp.set_index("proposal_id")["quality"])
    b = rev["expert_id"].map(te.set_index("expert_id")["leniency"])
    expected = np.clip(q + b, 0, 100)
    assert np.abs(rev["total"] - expected).max() <= 0.25


def test_simulate_reviews_deterministic_and_noise_sd_per_expert() -> None:
    a, tp, te = _batch(300, 20, 5, 1, quality_sd=0.0, leniency_sd=0.0)
    r1 = simulate_reviews(a, tp, te, seed=9)
    r2 = simulate_reviews(a, tp, te, seed=9)
    pd.testing.assert_frame_equal(r1, r2)
    # with constant quality and no leniency the spread of an expert's totals is their noise sd
    sd = r1.groupby("expert_id")["total"].std()
    true = te.set_index("expert_id")["noise_sd"].reindex(sd.index)
    assert np.corrcoef(sd, true)[0, 1] > 0.8


def test_simulate_reviews_unknown_ids() -> None:
    a, tp, te = _batch(3, 4, 2, 0)
    bad = pd.concat([a, pd.DataFrame({"proposal_id": ["PX"], "expert_id": ["E0"]})])
    with pytest.raises(SimulationInputError) as err:
        simulate_reviews(bad, tp, te, seed=0)
    assert str(err.value) == (
        "assignments name ids absent from the truth: proposals ['PX'], experts []; "
        "draw the truth for them first"
    )
    with pytest.raises(SimulationInputError) as err:
        simulate_reviews(a[["proposal_id"]], tp, te, seed=0)
    assert str(err.value) == (
        "assignments lacks column(s) expert_id; pass a frame with proposal_id and expert_id"
    )


def test_custom_criteria() -> None:
    a, tp, te = _batch(20, 6, 3, 2)
    crit = (("a", "甲", 60.0), ("b", "乙", 40.0))
    rev = simulate_reviews(a, tp, te, criteria=crit, seed=0)
    assert (rev["a"] <= 60).all() and (rev["b"] <= 40).all()
    assert np.array_equal(rev["a"] + rev["b"], rev["total"])
    with pytest.raises(SimulationInputError) as err:
        simulate_reviews(a, tp, te, criteria=(("a", "甲", 0.3),), seed=0)
    assert str(err.value) == "criteria a have a maximum that is not a positive multiple of 0.5"
