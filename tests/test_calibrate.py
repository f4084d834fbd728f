"""Tests for scoring.calibrate: hand-computed cases, brute force, recovery, diagnostics."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.calibrate import (
    METHODS,
    CalibrationInputError,
    CalibrationResult,
    NotIdentifiable,
    calibrate,
    variance_components,
)
from scoring.simulate import draw_truth, simulate_reviews
from scripts.eval_scoring import random_design


def _frame(rows: Sequence[tuple[str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["proposal_id", "expert_id", "total"])


def _props(pairs: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame(pairs, columns=["proposal_id", "direction_code"])


# A: 4 reviews, B: 2, C: 3 (C in its own direction)
HAND = _frame(
    [
        ("A", "e1", 80),
        ("A", "e2", 70),
        ("A", "e3", 60),
        ("A", "e4", 95),
        ("B", "e1", 60),
        ("B", "e2", 66),
        ("C", "e3", 50),
        ("C", "e4", 85),
        ("C", "e1", 71),
    ]
)
HAND_PROPS = _props([("A", "D1"), ("B", "D1"), ("C", "D2")])


def _scores(res: CalibrationResult) -> np.ndarray:
    return res.proposals["score"].to_numpy()


def test_raw_trimmed_median_by_hand() -> None:
    raw = calibrate(HAND, HAND_PROPS, method="raw_mean", n_draws=0)
    np.testing.assert_allclose(_scores(raw), [305 / 4, 63.0, 206 / 3])
    # A drops 95 and 60 -> (80 + 70) / 2; B has 2 reviews -> plain mean; C drops 85 and 50
    trim = calibrate(HAND, HAND_PROPS, method="trimmed_mean", n_draws=0)
    np.testing.assert_allclose(_scores(trim), [75.0, 63.0, 71.0])
    med = calibrate(HAND, HAND_PROPS, method="median", n_draws=0)
    np.testing.assert_allclose(_scores(med), [75.0, 63.0, 71.0])
    assert raw.proposals["n_reviews"].tolist() == [4, 2, 3]
    # ranks within direction: A beats B in D1, C alone in D2
    assert raw.proposals["expected_rank"].tolist() == [1.0, 2.0, 1.0]
    assert raw.experts["leniency"].isna().all()
    assert raw.diagnostics.leniency_identifiable == "global"
    assert not raw.diagnostics.leniency_estimated


def test_zscore_by_hand() -> None:
    # expert means: e1 (80, 60, 71) 211/3; e2 (70, 66) 68; e3 (60, 50) 55; e4 (95, 85) 90
    sd1 = math.sqrt(((80 - 211 / 3) ** 2 + (60 - 211 / 3) ** 2 + (71 - 211 / 3) ** 2) / 2)
    sd2, sd34 = math.sqrt(8), math.sqrt(50)
    z_a = [(80 - 211 / 3) / sd1, 2 / sd2, 5 / sd34, 5 / sd34]
    z_b = [(60 - 211 / 3) / sd1, -2 / sd2]
    z_c = [-5 / sd34, -5 / sd34, (71 - 211 / 3) / sd1]
    y = HAND["total"].to_numpy(float)
    m, s = y.mean(), y.std()
    expected = [m + s * np.mean(z) for z in (z_a, z_b, z_c)]
    res = calibrate(HAND, HAND_PROPS, method="zscore", n_draws=0)
    np.testing.assert_allclose(_scores(res), expected)


# e1 is lenient: A (e1 only) 80, B (both) 75 / 65, C (e2 only) 60. With ridge penalty λ the
# optimum has b1 = −b2 = δ/2, δ = 10 / (1 + λ); q_A = 80 − b1, q_B = 70, q_C = 60 − b2.
CHAIN = _frame([("A", "e1", 80), ("B", "e1", 75), ("B", "e2", 65), ("C", "e2", 60)])
CHAIN_PROPS = _props([("A", "D"), ("B", "D"), ("C", "D")])


@pytest.mark.parametrize("lam", [1.0, 3.0])
def test_additive_by_hand(lam: float) -> None:
    res = calibrate(CHAIN, CHAIN_PROPS, method="additive", penalty=lam, n_draws=0)
    half = 5 / (1 + lam)
    np.testing.assert_allclose(_scores(res), [80 - half, 70, 60 + half], atol=1e-6)
    np.testing.assert_allclose(res.experts["leniency"], [half, -half], atol=1e-6)
    assert res.diagnostics.params["penalty"] == lam
    assert res.diagnostics.leniency_identifiable == "global"
    assert res.diagnostics.leniency_estimated


def test_bayes_by_hand() -> None:
    # τ² → ∞ makes the quality prior flat: the additive solution with λ = σ²/σ_b² = 1
    res = calibrate(
        CHAIN, CHAIN_PROPS, method="bayes", sigma2=1.0, sigma_b2=1.0, tau2=1e12,
        expert_noise=False, n_draws=0,
    )  # fmt: skip
    np.testing.assert_allclose(_scores(res), [77.5, 70.0, 62.5], atol=1e-5)
    # no leniency (σ_b² → 0), σ² = τ² = 1: q_A = (150 + μ)/3, q_B = (60 + μ)/2 and μ = mean q
    # give μ = 480/7; posterior sd sqrt(1/3) and sqrt(1/2)
    rev = _frame([("A", "e1", 80), ("A", "e2", 70), ("B", "e3", 60)])
    res = calibrate(
        rev, _props([("A", "D"), ("B", "D")]), method="bayes", sigma2=1.0, sigma_b2=1e-12,
        tau2=1.0, expert_noise=False, n_draws=50,
    )  # fmt: skip
    mu = 480 / 7
    np.testing.assert_allclose(_scores(res), [(150 + mu) / 3, (60 + mu) / 2], atol=1e-5)
    np.testing.assert_allclose(res.proposals["se"], [math.sqrt(1 / 3), math.sqrt(1 / 2)], 1e-4)


def test_bayes_matches_dense_posterior() -> None:
    """Brute force: dense posterior mean (μ fitted jointly) and sd for a connected instance."""
    rows = [
        ("P0", "e0", 72), ("P0", "e1", 80), ("P1", "e1", 64), ("P1", "e2", 58),
        ("P1", "e3", 61), ("P2", "e2", 77), ("P2", "e0", 70), ("P3", "e3", 55),
        ("P3", "e1", 69), ("P4", "e0", 81), ("P4", "e3", 74), ("P5", "e2", 66),
    ]  # fmt: skip
    rev = _frame(rows)
    props = _props([(f"P{i}", "D1" if i < 3 else "D2") for i in range(6)])
    s2, sb2, t2 = 20.0, 9.0, 40.0
    res = calibrate(
        rev, props, method="bayes", sigma2=s2, sigma_b2=sb2, tau2=t2, expert_noise=False,
        n_draws=4000, seed=1,
    )  # fmt: skip
    n_p, n_e, n_d = 6, 4, 2
    dir_of = [0, 0, 0, 1, 1, 1]
    a_rows, rhs = [], []
    for pid, eid, y in rows:
        r = np.zeros(n_p + n_e + n_d)
        r[int(pid[1])] = r[n_p + int(eid[1])] = 1 / math.sqrt(s2)
        a_rows.append(r)
        rhs.append(y / math.sqrt(s2))
    for i in range(n_p):
        r = np.zeros(n_p + n_e + n_d)
        r[i], r[n_p + n_e + dir_of[i]] = 1 / math.sqrt(t2), -1 / math.sqrt(t2)
        a_rows.append(r)
        rhs.append(0.0)
    for j in range(n_e):
        r = np.zeros(n_p + n_e + n_d)
        r[n_p + j] = 1 / math.sqrt(sb2)
        a_rows.append(r)
        rhs.append(0.0)
    a = np.array(a_rows)
    theta = np.linalg.lstsq(a, np.array(rhs), rcond=None)[0]
    np.testing.assert_allclose(_scores(res), theta[:n_p], atol=1e-4)
    np.testing.assert_allclose(res.experts["leniency"], theta[n_p : n_p + n_e], atol=1e-4)
    qb = a[:, : n_p + n_e]
    cov = np.linalg.inv(qb.T @ qb)
    np.testing.assert_allclose(res.proposals["se"], np.sqrt(np.diag(cov))[:n_p], rtol=0.03)
    np.testing.assert_allclose(res.draws.mean(axis=0), theta[:n_p], atol=0.3)


def _simulated(load: int, noise_sd: float, seed: int, n_p: int = 400, k: int = 5):
    design, n_e = random_design(n_p, reviewers=k, load=load, seed=seed)
    pids = [f"P{i:03d}" for i in range(n_p)]
    eids = [f"E{i:03d}" for i in range(n_e)]
    a = pd.DataFrame(
        {"proposal_id": np.repeat(pids, k), "expert_id": np.asarray(eids)[design.ravel()]}
    )
    tp, te = draw_truth(pids, eids, noise_sd=noise_sd, seed=seed)
    rev = simulate_reviews(a, tp, te, seed=seed + 1)
    props = _props([(p, f"D{i % 20:02d}") for i, p in enumerate(pids)])
    return rev, props, tp, te


@pytest.fixture(scope="module")
def sim_load12() -> tuple[pd.DataFrame, ...]:
    return _simulated(load=12, noise_sd=3.0, seed=5)


@pytest.mark.parametrize("method", ["additive", "bayes"])
def test_leniency_recovery(method: str, sim_load12: tuple[pd.DataFrame, ...]) -> None:
    """Loads 12, noise sd 3, leniency sd 5: leniency RMSE < 1.5 points."""
    rev, props, tp, te = sim_load12
    res = calibrate(rev, props, method=method, n_draws=100, seed=0)
    est = res.experts.set_index("expert_id")
    true = te.set_index("expert_id")["leniency"].reindex(est.index)
    true = true - true.mean()  # one component: leniency is known up to the anchor
    rmse = float(np.sqrt(((est["leniency"] - true) ** 2).mean()))
    assert rmse < 1.5
    inside = ((true >= est["leniency_lo"]) & (true <= est["leniency_hi"])).mean()
    assert inside > (0.7 if method == "bayes" else 0.55)
    q_err = res.proposals["score"].to_numpy() - tp["quality"].to_numpy()
    assert np.std(q_err) < 2.5  # noise sd 3 over 5 reviews, leniency removed


def test_variance_components_recovered() -> None:
    rev, props, _, te = _simulated(load=8, noise_sd=6.0, seed=2, n_p=1500)
    vc = variance_components(rev, props)
    assert abs(vc["sigma_b2"] - te["leniency"].var()) < 8
    assert abs(vc["sigma2"] - (te["noise_sd"] ** 2).mean()) < 8
    assert abs(vc["tau2"] - 64) < 12


def test_calibrated_beats_plain_means_on_lenient_experts() -> None:
    rev, props, tp, _ = _simulated(load=5, noise_sd=4.0, seed=3, n_p=600)
    q = tp["quality"].to_numpy()
    # error variance around the truth (levels may differ by the leniency anchor)
    centred = {
        m: float(np.var(_scores(calibrate(rev, props, method=m, n_draws=0)) - q)) for m in METHODS
    }
    assert centred["additive"] < 0.8 * centred["trimmed_mean"]
    assert centred["bayes"] < 0.8 * centred["trimmed_mean"]


def test_disconnected_graph_diagnostics() -> None:
    rows = [
        ("A", "e1", 80), ("A", "e2", 70), ("B", "e1", 72), ("B", "e2", 60),
        ("C", "e3", 50), ("C", "e4", 64), ("D", "e3", 58), ("D", "e4", 66), ("E", "e5", 77),
    ]  # fmt: skip
    props = _props([("A", "X"), ("B", "X"), ("C", "X"), ("D", "X"), ("E", "Y"), ("F", "Y")])
    for method in ("additive", "bayes"):
        res = calibrate(_frame(rows), props, method=method, n_draws=20)
        d = res.diagnostics
        assert d.n_components == 3
        assert d.component_sizes == ((2, 2), (2, 2), (1, 1))
        assert d.leniency_identifiable == "within_components"
        assert d.single_review_experts == ("e5",)
        assert d.unreviewed_proposals == ("F",)
        assert any("identifiable only within a component" in n.render("en") for n in d.notes)
        ex = res.experts
        for c in range(3):
            assert abs(ex.loc[ex["component"] == c, "leniency"].mean()) < 1e-8
        assert res.proposals["component"].tolist() == [0, 0, 1, 1, 2, -1]
        f = res.proposals.iloc[5]
        assert math.isnan(f["score"]) and math.isnan(f["expected_rank"])
        assert np.isnan(res.draws[:, 5]).all()
        assert np.isfinite(res.draws[:, :5]).all()
    raw = calibrate(_frame(rows), props, method="raw_mean", n_draws=0)
    assert raw.diagnostics.leniency_identifiable == "within_components"
    assert not raw.diagnostics.leniency_estimated
    assert raw.diagnostics.n_components == 3


@pytest.mark.parametrize("method", list(METHODS))
def test_draws_ranks_and_determinism(method: str) -> None:
    rev, props, _, _ = _simulated(load=5, noise_sd=6.0, seed=7, n_p=120)
    r1 = calibrate(rev, props, method=method, n_draws=60, seed=3)
    r2 = calibrate(rev, props, method=method, n_draws=60, seed=3)
    r3 = calibrate(rev, props, method=method, n_draws=60, seed=4)
    assert r1.method == method and r1.seed == 3
    assert r1.draws.shape == (60, 120)
    np.testing.assert_array_equal(r1.draws, r2.draws)
    pd.testing.assert_frame_equal(r1.proposals, r2.proposals)
    assert not np.array_equal(r1.draws, r3.draws)
    p = r1.proposals
    size = p.groupby("direction_code")["proposal_id"].transform("size")
    assert (p["rank_lo"] >= 1).all() and (p["rank_hi"] <= size).all()
    assert (p["rank_lo"] <= p["rank_hi"]).all()
    assert p["expected_rank"].between(1, size).all()
    # the expected ranks of a direction add up to 1 + 2 + ... + size
    sums = p.groupby("direction_code")["expected_rank"].sum()
    n = p.groupby("direction_code").size()
    np.testing.assert_allclose(sums, n * (n + 1) / 2)
    assert (p["se"] > 0).all()
    with pytest.raises(AttributeError):
        r1.method = "x"  # type: ignore[misc]
    with pytest.raises(ValueError):
        r1.draws[0, 0] = 1.0


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 1000),
    shift=st.floats(-20, 20),
    method=st.sampled_from(sorted(METHODS)),
)
def test_shift_equivariance_and_row_order(seed: int, shift: float, method: str) -> None:
    """Adding a constant to every total shifts every score by it; row order is irrelevant."""
    rev, props, _, _ = _simulated(load=4, noise_sd=6.0, seed=seed, n_p=30, k=3)
    base = _scores(calibrate(rev, props, method=method, n_draws=0))
    moved = _scores(
        calibrate(rev.assign(total=rev["total"] + shift), props, method=method, n_draws=0)
    )
    np.testing.assert_allclose(moved, base + shift, atol=1e-5)
    shuffled = rev.sample(frac=1.0, random_state=seed)
    again = _scores(calibrate(shuffled, props, method=method, n_draws=0))
    np.testing.assert_allclose(again, base, atol=1e-6)


def test_inputs_not_mutated() -> None:
    rev, props = HAND.copy(), HAND_PROPS.copy()
    for m in METHODS:
        calibrate(rev, props, method=m, n_draws=5)
    pd.testing.assert_frame_equal(rev, HAND)
    pd.testing.assert_frame_equal(props, HAND_PROPS)


def test_input_errors() -> None:
    with pytest.raises(CalibrationInputError) as err:
        calibrate(HAND, HAND_PROPS.iloc[:2], method="raw_mean")
    assert str(err.value) == (
        "reviews name proposal(s) C that are not in proposals; "
        "add them to proposals or drop their reviews"
    )
    dup = pd.concat([HAND, HAND.iloc[[0]]])
    with pytest.raises(CalibrationInputError) as err:
        calibrate(dup, HAND_PROPS, method="raw_mean")
    assert str(err.value) == (
        "expert reviewed the same proposal more than once: A/e1; keep one review per pair"
    )
    with pytest.raises(CalibrationInputError) as err:
        calibrate(HAND.drop(columns="total"), HAND_PROPS, method="raw_mean")
    assert str(err.value) == (
        "reviews lacks column(s) total; expected columns proposal_id, expert_id, total"
    )
    nan = HAND.assign(total=HAND["total"].astype(float))
    nan.loc[2, "total"] = np.nan
    with pytest.raises(CalibrationInputError) as err:
        calibrate(nan, HAND_PROPS, method="raw_mean")
    assert str(err.value) == (
        "reviews have missing or non-numeric totals at row 2 (A/e3); "
        "fill in the totals or drop those reviews"
    )
    with pytest.raises(CalibrationInputError) as err:
        calibrate(HAND, pd.concat([HAND_PROPS, HAND_PROPS.iloc[[1]]]), method="raw_mean")
    assert str(err.value) == (
        "proposals lists proposal(s) B more than once; give each proposal one row"
    )
    with pytest.raises(CalibrationInputError) as err:
        calibrate(HAND, HAND_PROPS, method="mean")
    assert str(err.value) == (
        "unknown calibration method 'mean'; choose one of raw_mean, trimmed_mean, median, "
        "zscore, additive, bayes"
    )
    with pytest.raises(CalibrationInputError) as err:
        calibrate(HAND, HAND_PROPS, method="additive", penalty=0.0)
    assert str(err.value) == "penalty must be a finite number > 0, got 0.0; use e.g. 1.0"
    with pytest.raises(CalibrationInputError) as err:
        calibrate(HAND, HAND_PROPS, method="raw_mean", n_draws=-1)
    assert str(err.value) == "n_draws must be >= 0, got -1"


# --- thin review graphs, ties, confidence weights -------------------------------------------------

# one review per expert: leniency cannot be told from merit
THIN = _frame(
    [("A", "e1", 80), ("A", "e2", 70), ("A", "e3", 75), ("B", "e4", 60), ("B", "e5", 66),
     ("C", "e6", 90), ("D", "e7", 72)]
)  # fmt: skip
THIN_PROPS = _props([("A", "X"), ("B", "X"), ("C", "Y"), ("D", "Y")])


def test_identifiability_has_three_states() -> None:
    assert (
        calibrate(THIN, THIN_PROPS, method="raw_mean", n_draws=0).diagnostics.leniency_identifiable
        == "none"
    )  # noqa: E501
    assert (
        calibrate(
            CHAIN, CHAIN_PROPS, method="raw_mean", n_draws=0
        ).diagnostics.leniency_identifiable
        == "global"
    )  # noqa: E501
    two = pd.concat([CHAIN, CHAIN.assign(expert_id=CHAIN["expert_id"] + "x",
                                         proposal_id=CHAIN["proposal_id"] + "x")])  # fmt: skip
    props = pd.concat(
        [CHAIN_PROPS, CHAIN_PROPS.assign(proposal_id=CHAIN_PROPS["proposal_id"] + "x")]
    )
    res = calibrate(two, props, method="raw_mean", n_draws=0)
    assert res.diagnostics.leniency_identifiable == "within_components"


def test_zscore_refuses_when_no_expert_has_two_reviews() -> None:
    with pytest.raises(NotIdentifiable, match="zscore needs experts with at least two reviews"):
        calibrate(THIN, THIN_PROPS, method="zscore", n_draws=0)


@pytest.mark.parametrize("method", ["bayes", "additive"])
def test_leniency_methods_report_none_when_it_is_not_identifiable(method: str) -> None:
    res = calibrate(THIN, THIN_PROPS, method=method, n_draws=40, seed=1)
    d = res.diagnostics
    assert d.leniency_identifiable == "none" and not d.leniency_estimated
    assert res.experts["leniency"].isna().all()
    assert any("leniency is not identifiable" in n.render("en") for n in d.notes)
    scores = res.proposals.set_index("proposal_id")["score"]
    raw = THIN.groupby("proposal_id")["total"].mean()
    if method == "bayes":
        assert any("per-proposal shrinkage" in n.render("en") for n in d.notes)
        # each mean is pulled towards its direction's mean, never past it, order kept
        for p, d_mean in (("A", 66.2), ("B", 66.2), ("C", 81.0), ("D", 81.0)):
            lo, hi = sorted((raw[p], d_mean))
            assert lo - 1e-6 <= scores[p] <= hi + 1e-6
        assert scores["A"] > scores["B"] and scores["C"] > scores["D"]
    else:
        np.testing.assert_allclose(
            scores.to_numpy(), raw.reindex(scores.index).to_numpy(), atol=1e-6
        )


def test_ties_go_to_the_smaller_proposal_id_whatever_the_input_order() -> None:
    rows = [
        ("P2", "e1", 80),
        ("P2", "e2", 70),
        ("P1", "e1", 80),
        ("P1", "e2", 70),
        ("P3", "e1", 60),
    ]
    props = _props([("P3", "D"), ("P2", "D"), ("P1", "D")])
    for method in ("raw_mean", "bayes"):
        res = calibrate(_frame(rows), props, method=method, n_draws=0)
        ranks = dict(zip(res.proposals["proposal_id"], res.proposals["expected_rank"], strict=True))
        assert ranks == {"P1": 1.0, "P2": 2.0, "P3": 3.0}


@settings(max_examples=15, deadline=None)
@given(st.randoms(use_true_random=False))
def test_results_do_not_depend_on_row_order(rnd: object) -> None:
    """Reviews in any order give the same result, draws included; proposals in any order the
    same scores and ranks (the draws follow the proposals' order, as the seed's stream does)."""
    rev, props, _, _ = _simulated(load=4, noise_sd=6.0, seed=2, n_p=40)
    rev = rev.copy()
    rev["total"] = rev["total"].round(0)  # many ties
    shuffled = rev.sample(frac=1.0, random_state=rnd.randint(0, 10**6))  # type: ignore[attr-defined]
    sprops = props.sample(frac=1.0, random_state=rnd.randint(0, 10**6))  # type: ignore[attr-defined]
    for method in ("raw_mean", "trimmed_mean", "zscore", "bayes"):
        a = calibrate(rev, props, method=method, n_draws=20, seed=3)
        b = calibrate(shuffled, props, method=method, n_draws=20, seed=3)
        pd.testing.assert_frame_equal(a.proposals, b.proposals, atol=1e-6)
        a0 = calibrate(rev, props, method=method, n_draws=0).proposals
        c0 = calibrate(shuffled, sprops, method=method, n_draws=0).proposals
        a0, c0 = (x.set_index("proposal_id").sort_index() for x in (a0, c0))
        np.testing.assert_allclose(a0["score"], c0["score"], atol=1e-6)
        np.testing.assert_array_equal(a0["expected_rank"], c0["expected_rank"])


def test_confidence_weights_by_hand() -> None:
    rev = _frame([("A", "e1", 80), ("A", "e2", 60), ("B", "e1", 70)]).assign(
        confidence=[4, 1, None]
    )
    props = _props([("A", "D"), ("B", "D")])
    res = calibrate(rev, props, method="raw_mean", n_draws=0, weight_confidence=True)
    # weights 4/2.5 and 1/2.5 (mean of the given confidences 2.5); missing = 1
    np.testing.assert_allclose(_scores(res), [(80 * 1.6 + 60 * 0.4) / 2.0, 70.0])
    assert any(
        "weighted by the expert's confidence" in n.render("en") for n in res.diagnostics.notes
    )
    plain = calibrate(rev, props, method="raw_mean", n_draws=0)
    np.testing.assert_allclose(_scores(plain), [70.0, 70.0])
    with pytest.raises(CalibrationInputError, match="trimmed_mean cannot weight reviews"):
        calibrate(rev, props, method="trimmed_mean", n_draws=0, weight_confidence=True)


@pytest.mark.parametrize("method", ["additive", "bayes"])
def test_equal_confidence_changes_nothing(method: str) -> None:
    rev, props, _, _ = _simulated(load=5, noise_sd=6.0, seed=4, n_p=60)
    same = rev.assign(confidence=3)
    a = calibrate(rev, props, method=method, n_draws=0)
    b = calibrate(same, props, method=method, n_draws=0, weight_confidence=True)
    np.testing.assert_allclose(_scores(a), _scores(b), atol=1e-6)
