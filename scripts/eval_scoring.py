"""Accuracy of the calibration methods on simulated review batches, and their wall time.

A batch: 46 guide directions with 8–20 proposals each, every proposal reviewed by k experts
drawn by a seeded random design in which each expert reviews about ``load`` proposals (across
the whole batch); truth from ``draw_truth``, reviews from ``simulate_reviews``. Per method and
batch: Kendall τ-b between score and true quality within each direction (mean over
directions); the share of each direction's true top 2 that the method's top 2 selects; and
regret = mean over directions of (true quality of the true top 2 − true quality of the
selected 2), in points. Figures are means over seeds.

With ``--weight-confidence``: each method that can weight reviews by the experts' stated
confidence, weighted against unweighted, on batches where confidence says nothing about a
review's noise (``confidence_effect`` 0) and where a review's precision is proportional to it
(1; see :func:`scoring.simulate.simulate_reviews`), at the default setting.

    python scripts/eval_scoring.py [--seeds N] [--seed S] [--json]
        [--leniency-sd X ...] [--noise-sd X ...] [--reviewers K ...] [--timing]
        [--weight-confidence]
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from itertools import product

import click
import numpy as np
import pandas as pd

from scoring.calibrate import METHODS, WEIGHTED_METHODS, calibrate
from scoring.metrics import score_metrics
from scoring.simulate import draw_truth, simulate_reviews

DEFAULT_SETTING = {"leniency_sd": 5.0, "noise_sd": 6.0, "reviewers": 5}
GRID_LENIENCY = (0.0, 5.0, 10.0)
GRID_NOISE = (3.0, 6.0)
GRID_REVIEWERS = (3, 5, 7)


def random_design(
    n_proposals: int, *, reviewers: int, load: int, seed: int
) -> tuple[np.ndarray, int]:
    """Seeded random design: (n_proposals, reviewers) expert indices, distinct within a row,
    each expert used at most ``load`` times; returns it and the number of experts."""
    if reviewers < 1 or load < 1:
        raise ValueError(f"reviewers and load must be >= 1, got {reviewers} and {load}")
    rng = np.random.default_rng(seed)
    n_experts = max(-(-n_proposals * reviewers // load), reviewers)
    slots = rng.permutation(np.repeat(np.arange(n_experts), load))[: n_proposals * reviewers]
    grid = slots.reshape(n_proposals, reviewers).copy()
    for _ in range(1000):
        srt = np.sort(grid, axis=1)
        bad_rows = np.flatnonzero((srt[:, 1:] == srt[:, :-1]).any(axis=1))
        if len(bad_rows) == 0:
            return grid, n_experts
        for i in bad_rows:
            _, first = np.unique(grid[i], return_index=True)
            dup_cols = np.setdiff1d(np.arange(reviewers), first)
            for j in dup_cols:
                # swap with a random slot elsewhere that creates no duplicate on either side
                for _try in range(50):
                    i2, j2 = int(rng.integers(n_proposals)), int(rng.integers(reviewers))
                    a, c = grid[i, j], grid[i2, j2]
                    if i2 != i and c not in grid[i] and a not in grid[i2]:
                        grid[i, j], grid[i2, j2] = c, a
                        break
    raise RuntimeError("could not build a duplicate-free design; raise load or lower reviewers")


def make_batch(
    *,
    seed: int,
    reviewers: int,
    leniency_sd: float,
    noise_sd: float,
    load: int = 5,
    n_directions: int = 46,
    size_range: tuple[int, int] = (8, 20),
    confidence_effect: float = 0.0,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """One simulated batch: proposals (proposal_id, direction_code), truth (proposal_id,
    quality) and reviews (simulate_reviews output)."""
    rng = np.random.default_rng(seed)
    s_design, s_truth, s_rev = (int(x) for x in rng.integers(0, 2**31 - 1, 3))
    sizes = rng.integers(size_range[0], size_range[1] + 1, n_directions)
    dirs = np.repeat([f"D{d:02d}" for d in range(n_directions)], sizes)
    pids = [f"P{i:05d}" for i in range(len(dirs))]
    proposals = pd.DataFrame({"proposal_id": pids, "direction_code": dirs})
    design, n_exp = random_design(len(pids), reviewers=reviewers, load=load, seed=s_design)
    eids = [f"E{i:05d}" for i in range(n_exp)]
    assignments = pd.DataFrame(
        {
            "proposal_id": np.repeat(pids, reviewers),
            "expert_id": np.asarray(eids, dtype=object)[design.ravel()],
        }
    )
    truth_p, truth_e = draw_truth(
        pids, eids, leniency_sd=leniency_sd, noise_sd=noise_sd, seed=s_truth
    )
    reviews = simulate_reviews(
        assignments, truth_p, truth_e, confidence_effect=confidence_effect, seed=s_rev
    )
    return proposals, truth_p, reviews


def evaluate(
    *,
    seeds: Sequence[int],
    leniency_sd: float,
    noise_sd: float,
    reviewers: int,
    load: int = 5,
    n_directions: int = 46,
    methods: Sequence[str] = tuple(METHODS),
    confidence_effect: float = 0.0,
    weight_confidence: bool = False,
) -> dict[str, dict[str, float]]:
    """Mean metrics over seeds, keyed by method: kendall_tau, best_selected_share, regret."""
    sums: dict[str, dict[str, float]] = {m: {} for m in methods}
    for s in seeds:
        proposals, truth_p, reviews = make_batch(
            seed=int(s), reviewers=reviewers, leniency_sd=leniency_sd, noise_sd=noise_sd,
            load=load, n_directions=n_directions, confidence_effect=confidence_effect,
        )  # fmt: skip
        quality = truth_p["quality"].to_numpy(float)
        for m in methods:
            res = calibrate(
                reviews, proposals, method=m, n_draws=0, seed=int(s),
                weight_confidence=weight_confidence,
            )  # fmt: skip
            met = score_metrics(proposals, quality, res.proposals["score"].to_numpy(float))
            for key, val in met.items():
                sums[m][key] = sums[m].get(key, 0.0) + val
    n = max(len(seeds), 1)
    return {m: {key: val / n for key, val in d.items()} for m, d in sums.items()}


def evaluate_grid(
    *,
    seeds: Sequence[int],
    leniency_sds: Sequence[float] = GRID_LENIENCY,
    noise_sds: Sequence[float] = GRID_NOISE,
    reviewers: Sequence[int] = GRID_REVIEWERS,
) -> pd.DataFrame:
    """One row per (leniency_sd, noise_sd, reviewers, method) with the mean metrics and the
    regret relative to trimmed_mean's."""
    rows = []
    for lsd, nsd, k in product(leniency_sds, noise_sds, reviewers):
        res = evaluate(seeds=seeds, leniency_sd=lsd, noise_sd=nsd, reviewers=k)
        base = res["trimmed_mean"]["regret"]
        for m, met in res.items():
            rel = met["regret"] / base if base > 0 else float("nan")
            rows.append(
                {"leniency_sd": lsd, "noise_sd": nsd, "reviewers": k, "method": m, **met,
                 "regret_vs_trimmed": rel}
            )  # fmt: skip
    return pd.DataFrame(rows)


def evaluate_confidence(
    *, seeds: Sequence[int], effects: Sequence[float] = (0.0, 1.0)
) -> pd.DataFrame:
    """Confidence weighting against none, per confidence effect and weighting-capable method,
    at the default setting. Columns: confidence_effect, method, tau_unweighted, tau_weighted,
    regret_unweighted, regret_weighted, regret_ratio (weighted / unweighted)."""
    rows = []
    setting = {
        "leniency_sd": DEFAULT_SETTING["leniency_sd"],
        "noise_sd": DEFAULT_SETTING["noise_sd"],
        "reviewers": int(DEFAULT_SETTING["reviewers"]),
    }
    for effect in effects:
        plain, weighted = (
            evaluate(seeds=seeds, **setting, methods=WEIGHTED_METHODS,  # type: ignore[arg-type]
                     confidence_effect=effect, weight_confidence=w)
            for w in (False, True)
        )  # fmt: skip
        for m in WEIGHTED_METHODS:
            ratio = (
                weighted[m]["regret"] / plain[m]["regret"]
                if plain[m]["regret"] > 0
                else float("nan")
            )
            rows.append(
                {"confidence_effect": effect, "method": m,
                 "tau_unweighted": plain[m]["kendall_tau"],
                 "tau_weighted": weighted[m]["kendall_tau"],
                 "regret_unweighted": plain[m]["regret"],
                 "regret_weighted": weighted[m]["regret"], "regret_ratio": ratio}
            )  # fmt: skip
    return pd.DataFrame(rows)


def time_methods(
    *, n_proposals: int = 20_000, reviewers: int = 5, load: int = 5,
    n_draws: Sequence[int] = (0, 200), seed: int = 0,
) -> pd.DataFrame:  # fmt: skip
    """Wall and CPU time (s) of calibrate() per method and n_draws on one simulated batch of
    about n_proposals (directions of 8–20 proposals, reviewers per proposal, expert load).
    Columns: method, n_draws, n_proposals, n_reviews, wall_s, cpu_s."""
    n_dirs = max(1, n_proposals // 14)
    proposals, _, reviews = make_batch(
        seed=seed, reviewers=reviewers, leniency_sd=5.0, noise_sd=6.0, load=load,
        n_directions=n_dirs,
    )  # fmt: skip
    rows = []
    for m in METHODS:
        for nd in n_draws:
            t0, c0 = time.perf_counter(), time.process_time()
            calibrate(reviews, proposals, method=m, n_draws=nd, seed=seed)
            rows.append(
                {"method": m, "n_draws": nd, "n_proposals": len(proposals),
                 "n_reviews": len(reviews), "wall_s": time.perf_counter() - t0,
                 "cpu_s": time.process_time() - c0}
            )  # fmt: skip
    return pd.DataFrame(rows)


def _print_table(df: pd.DataFrame) -> None:
    header = (
        f"{'len_sd':>6} {'noise':>5} {'k':>2}  {'method':<13} {'tau':>6} {'best':>6} "
        f"{'regret':>7} {'vs_trim':>7}"
    )
    click.echo(header)
    click.echo("-" * len(header))
    for r in df.itertuples(index=False):
        click.echo(
            f"{r.leniency_sd:>6.1f} {r.noise_sd:>5.1f} {r.reviewers:>2d}  {r.method:<13} "
            f"{r.kendall_tau:>6.3f} {r.best_selected_share:>6.3f} {r.regret:>7.3f} "
            f"{r.regret_vs_trimmed:>7.3f}"
        )


@click.command(help=__doc__)
@click.option(
    "--seeds",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="Number of simulated batches per setting.",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="First seed; batches use seed, seed+1, ...",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="One JSON line keyed by method, for the default setting only.",
)
@click.option(
    "--leniency-sd",
    type=float,
    multiple=True,
    help="Leniency sd values (points); repeatable. Default grid 0, 5, 10.",
)
@click.option(
    "--noise-sd",
    type=float,
    multiple=True,
    help="Noise sd values (points); repeatable. Default grid 3, 6.",
)
@click.option(
    "--reviewers",
    type=click.IntRange(min=1),
    multiple=True,
    help="Reviews per proposal; repeatable. Default grid 3, 5, 7.",
)
@click.option(
    "--timing", is_flag=True, help="Time calibrate() per method at 20,000 proposals instead."
)
@click.option(
    "--weight-confidence",
    is_flag=True,
    help="Compare confidence-weighted calibration with unweighted instead.",
)
def main(
    seeds: int,
    seed: int,
    as_json: bool,
    leniency_sd: tuple[float, ...],
    noise_sd: tuple[float, ...],
    reviewers: tuple[int, ...],
    timing: bool,
    weight_confidence: bool,
) -> None:  # fmt: skip
    seed_list = list(range(seed, seed + seeds))
    if weight_confidence:
        df = evaluate_confidence(seeds=seed_list)
        if as_json:
            click.echo(json.dumps(df.to_dict("records"), sort_keys=True))
        else:
            click.echo(df.to_string(index=False, float_format="%.3f"))
        return
    if timing:
        click.echo(time_methods(seed=seed).to_string(index=False, float_format="%.2f"))
        return
    if as_json:
        res = evaluate(
            seeds=seed_list,
            leniency_sd=leniency_sd[0] if leniency_sd else DEFAULT_SETTING["leniency_sd"],
            noise_sd=noise_sd[0] if noise_sd else DEFAULT_SETTING["noise_sd"],
            reviewers=reviewers[0] if reviewers else int(DEFAULT_SETTING["reviewers"]),
        )
        click.echo(json.dumps(res, sort_keys=True))
        return
    df = evaluate_grid(
        seeds=seed_list,
        leniency_sds=leniency_sd or GRID_LENIENCY,
        noise_sds=noise_sd or GRID_NOISE,
        reviewers=reviewers or GRID_REVIEWERS,
    )
    _print_table(df)


if __name__ == "__main__":
    main()
