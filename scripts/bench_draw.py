"""Benchmark of the randomised draw (probability cap q, dependent rounding) on sparse candidates.

Example::

    python -m scripts.bench_draw --proposals 20000 --experts 30000 --k 5 --max-load 6 --q 0.5

Prints one JSON line: wall_s (fractional solve + one draw), fractional_s, round_s, peak_rss_mb,
expected_objective, realised_objective, status, violations (rule checks on the draw, 0 expected);
with ``--declines f`` also the times of 1:1 reserves and of replacing a fraction f of the pairs.
"""

from __future__ import annotations

import json
import resource
import time

import click
import numpy as np

from assign.draw import check_draw, draw_assignment, fractional_assignment
from assign.problem import AssignmentProblem
from assign.reserves import draw_reserves, replace
from assign.result import AssignmentResult


def synthetic_problem(
    *,
    proposals: int,
    experts: int,
    k: int,
    max_load: int,
    min_cand: int,
    max_cand: int,
    units: int,
    seed: int,
) -> AssignmentProblem:
    """Sparse random candidates: each proposal gets min_cand..max_cand distinct experts with
    uniform affinities; experts spread over ``units`` units (0 = no units). Seeded."""
    rng = np.random.default_rng(seed)
    per = rng.integers(min_cand, max_cand + 1, size=proposals)
    p = np.repeat(np.arange(proposals, dtype=np.int64), per)
    e = rng.integers(0, experts, size=p.size, dtype=np.int64)
    key = np.unique(p * experts + e)
    p, e = key // experts, key % experts
    w = np.round(rng.random(p.size), 6)
    unit = rng.integers(0, units, size=experts) if units else None
    return AssignmentProblem(
        proposal_ids=tuple(f"P{i:05d}" for i in range(proposals)),
        expert_ids=tuple(f"E{i:05d}" for i in range(experts)),
        cand_p=p,
        cand_e=e,
        cand_w=w,
        k=k,
        max_load=max_load,
        expert_unit=unit,
    )


def _replacement(
    problem: AssignmentProblem, current: AssignmentResult, *, declines: float, seed: int
) -> dict[str, object]:
    """Reserves at ratio 1, then replace a random ``declines`` fraction of the pairs."""
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    res = draw_reserves(problem, current, ratio=1.0)
    t1 = time.perf_counter()
    pairs = current.pairs
    dec = pairs[rng.random(len(pairs)) < declines]
    out = replace(problem, current, dec, res, seed=seed)
    t2 = time.perf_counter()
    return {
        "reserves_s": round(t1 - t0, 2),
        "replace_s": round(t2 - t1, 2),
        "declined": int(len(dec)),
        "from_reserve": int(len(out.from_reserve)),
        "from_resolve": int(len(out.from_resolve)),
        "unfilled": len(out.unfilled),
        "replace_status": str(out.status),
    }


@click.command()
@click.option("--proposals", default=20_000, show_default=True)
@click.option("--experts", default=30_000, show_default=True)
@click.option("--k", default=5, show_default=True)
@click.option("--max-load", default=6, show_default=True)
@click.option("--q", default=0.5, show_default=True, help="Max probability of any pair.")
@click.option("--min-cand", default=60, show_default=True)
@click.option("--max-cand", default=100, show_default=True)
@click.option("--units", default=8_000, show_default=True, help="Number of units (0 = none).")
@click.option("--seed", default=1, show_default=True)
@click.option(
    "--declines",
    default=0.0,
    show_default=True,
    help="Also draw 1:1 reserves and replace this fraction of the drawn pairs (declined).",
)
def main(
    proposals: int,
    experts: int,
    k: int,
    max_load: int,
    q: float,
    min_cand: int,
    max_cand: int,
    units: int,
    seed: int,
    declines: float,
) -> None:
    """Solve the capped fractional assignment, draw once, print one JSON line."""
    problem = synthetic_problem(
        proposals=proposals, experts=experts, k=k, max_load=max_load,
        min_cand=min_cand, max_cand=max_cand, units=units, seed=seed,
    )  # fmt: skip
    t0 = time.perf_counter()
    fr = fractional_assignment(problem, q=q)
    t1 = time.perf_counter()
    draw = draw_assignment(problem, q=q, seed=seed, fractional=fr)
    t2 = time.perf_counter()
    out = {
        "proposals": proposals,
        "experts": experts,
        "candidates": int(problem.cand_p.size),
        "k": k,
        "max_load": max_load,
        "q": q,
        "wall_s": round(t2 - t0, 2),
        "fractional_s": round(t1 - t0, 2),
        "round_s": round(t2 - t1, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "expected_objective": round(draw.expected_objective, 4),
        "realised_objective": round(draw.realised_objective, 4),
        "status": str(draw.status),
        "violations": len(check_draw(problem, draw)) if fr.status == "optimal" else None,
        "diagnosis": list(draw.diagnosis[:3]),
    }
    if declines > 0 and fr.status == "optimal":
        out.update(_replacement(problem, draw.assignment, declines=declines, seed=seed))
    click.echo(json.dumps(out))


if __name__ == "__main__":
    main()
