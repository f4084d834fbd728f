"""Benchmark eligibility screening where one unit leads many proposals.

    python scripts/bench_screen.py --same-unit 4000 --seed 0 --json

Generates a seeded synthetic batch of ``--same-unit`` proposals (the 2024 catalogue, the
generator's units, people and texts) and gives every proposal the same lead unit, as a
university leading hundreds of proposals of one call does; one proposal in
``--duplicate-every`` is rewritten as a near copy of the one before it (a few characters of
its abstract changed), so that the near-duplicate rule has pairs to find. Then times
:func:`assign.screening.screen` (every rule) on it.

Prints one JSON line (``--json``) or a short summary: wall_s (the screen only), cpu_s (its
process CPU time), gen_s, peak_rss_mb (whole process, generation included), proposals,
pairs_checked (pairs whose similarity the near-duplicate search computed; every pair of the
unit would be n(n−1)/2), near_duplicate_pairs (pairs found), planted (near copies made),
findings, rejected.
"""

from __future__ import annotations

import json
import resource
import time

import click
import pandas as pd

from assign.screening import ScreeningConfig, build_context, near_duplicates, screen
from data.build_guide import load_guide
from data.generate import generate_batch


def same_unit_batch(n: int, *, duplicate_every: int, seed: int) -> dict[str, pd.DataFrame]:
    """A generated batch of ``n`` proposals, all led by one unit, with near copies planted."""
    tables = generate_batch(load_guide(), n_experts=200, n_proposals=n, seed=seed)
    props = tables["proposals"].copy()
    props["lead_unit_id"] = props["lead_unit_id"].iloc[0]
    if duplicate_every > 0:
        for i in range(duplicate_every, len(props), duplicate_every):
            text = str(props.at[i - 1, "abstract"])
            props.at[i, "title"] = props.at[i - 1, "title"]
            props.at[i, "abstract"] = text[:-12] + "并形成示范应用。"
    tables["proposals"] = props
    return tables


@click.command(help=__doc__)
@click.option(
    "--same-unit",
    "n",
    type=click.IntRange(2),
    default=4000,
    show_default=True,
    help="Proposals, all led by one unit.",
)
@click.option(
    "--duplicate-every",
    type=click.IntRange(0),
    default=100,
    show_default=True,
    help="Make every N-th proposal a near copy of the one before (0: none).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Generator seed.")
@click.option("--json", "as_json", is_flag=True, help="One JSON line.")
def main(n: int, duplicate_every: int, seed: int, as_json: bool) -> None:
    t0 = time.perf_counter()
    tables = same_unit_batch(n, duplicate_every=duplicate_every, seed=seed)
    gen_s = time.perf_counter() - t0
    guide = tables["guide"]
    config = ScreeningConfig()
    t0, c0 = time.perf_counter(), time.process_time()
    result = screen(tables, guide, config=config)
    wall_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    dup = near_duplicates(build_context(tables, guide, config=config))
    found = result.findings
    out = {
        "proposals": n,
        "wall_s": round(wall_s, 3),
        "cpu_s": round(cpu_s, 3),
        "gen_s": round(gen_s, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "pairs_checked": dup.pairs_checked,
        "all_pairs": n * (n - 1) // 2,
        "near_duplicate_pairs": len(dup.pairs),
        "planted": len(range(duplicate_every, n, duplicate_every)) if duplicate_every else 0,
        "findings": len(found),
        "rejected": int((result.status["status"] == "rejected").sum()),
    }
    if as_json:
        click.echo(json.dumps(out))
    else:
        for k, v in out.items():
            click.echo(f"{k:>22}: {v}")


if __name__ == "__main__":
    main()
