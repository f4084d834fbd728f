"""Tests for scripts/eval_scoring.py: metrics by hand, design invariants, determinism, CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from click.testing import CliRunner

from scoring.metrics import score_metrics
from scripts.eval_scoring import (
    evaluate,
    main,
    make_batch,
    random_design,
)

METRICS = {"kendall_tau", "best_selected_share", "regret"}


def test_score_metrics_by_hand() -> None:
    props = pd.DataFrame({"proposal_id": list("abcdefg"), "direction_code": list("XXXXYYY")})
    quality = np.array([90.0, 80.0, 70.0, 60.0, 50.0, 40.0, 30.0])
    perfect = score_metrics(props, quality, quality)
    assert perfect == {"kendall_tau": 1.0, "best_selected_share": 1.0, "regret": 0.0}
    # X: picks a and c (true top a, b): share 1/2, regret 80 − 70 = 10; τ: one discordant
    # pair (b, c) of 6 -> 4/6. Y: reversed: picks f and g, share 1/2, regret 90 − 70 = 20, τ −1
    score = np.array([9.0, 7.0, 8.0, 1.0, 1.0, 2.0, 3.0])
    m = score_metrics(props, quality, score)
    assert m["best_selected_share"] == 0.5
    assert m["regret"] == 15.0
    assert abs(m["kendall_tau"] - (4 / 6 - 1) / 2) < 1e-12


def test_random_design_invariants() -> None:
    design, n_e = random_design(97, reviewers=5, load=4, seed=3)
    assert design.shape == (97, 5)
    assert n_e == 122  # ceil(97 * 5 / 4)
    assert all(len(set(row)) == 5 for row in design)
    loads = np.bincount(design.ravel(), minlength=n_e)
    assert loads.max() <= 4
    again, _ = random_design(97, reviewers=5, load=4, seed=3)
    np.testing.assert_array_equal(design, again)


def test_make_batch_shape() -> None:
    props, truth, rev = make_batch(seed=1, reviewers=3, leniency_sd=5, noise_sd=6, n_directions=4)
    sizes = props.groupby("direction_code").size()
    assert len(sizes) == 4 and sizes.between(8, 20).all()
    assert len(rev) == 3 * len(props)
    assert list(truth["proposal_id"]) == list(props["proposal_id"])
    assert (rev.groupby("proposal_id").size() == 3).all()


def test_evaluate_is_deterministic() -> None:
    kw = dict(seeds=[0, 1], leniency_sd=5.0, noise_sd=6.0, reviewers=3, n_directions=3)
    a = evaluate(**kw)  # type: ignore[arg-type]
    b = evaluate(**kw)  # type: ignore[arg-type]
    assert a == b
    assert set(a) == {"raw_mean", "trimmed_mean", "median", "zscore", "additive", "bayes"}
    for met in a.values():
        assert set(met) == METRICS
        assert -1 <= met["kendall_tau"] <= 1
        assert 0 <= met["best_selected_share"] <= 1
        assert met["regret"] >= 0
    c = evaluate(**{**kw, "seeds": [2, 3]})  # type: ignore[arg-type]
    assert c != a


def test_cli_json_one_line_keyed_by_method() -> None:
    result = CliRunner().invoke(main, ["--json", "--seeds", "1", "--reviewers", "3"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    data = json.loads(lines[0])
    assert set(data) == {"raw_mean", "trimmed_mean", "median", "zscore", "additive", "bayes"}
    assert all(set(v) == METRICS for v in data.values())
    again = CliRunner().invoke(main, ["--json", "--seeds", "1", "--reviewers", "3"])
    assert again.output == result.output


def test_cli_table_and_help() -> None:
    result = CliRunner().invoke(
        main, ["--seeds", "1", "--leniency-sd", "5", "--noise-sd", "6", "--reviewers", "3"]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].split() == ["len_sd", "noise", "k", "method", "tau", "best", "regret"] + [
        "vs_trim"
    ]
    assert len(lines) == 2 + 6
    assert "trimmed_mean" in result.output and "1.000" in result.output
    help_out = CliRunner().invoke(main, ["--help"])
    assert help_out.exit_code == 0 and "--timing" in help_out.output
    bad = CliRunner().invoke(main, ["--seeds", "0"])
    assert bad.exit_code == 2
    assert "Invalid value for '--seeds'" in bad.output
