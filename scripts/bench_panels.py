"""Benchmark panel formation (会评) on a seeded synthetic instance at Jiangsu scale.

    python scripts/bench_panels.py --groups 46 --experts 10000 --n 7 --seed 0 --json

Prints the figures: wall_s (solve_panels, seconds), peak_rss_mb, status, objective, bound, gap.
"""

from __future__ import annotations

import json
import resource
import sys
import time

import click
import numpy as np

from assign.panels import PanelProblem, group_proposals, solve_panels


def synthetic_panel_problem(
    *,
    groups: int,
    experts: int,
    proposals_per_group: int = 15,
    n: int = 7,
    n_min: int = 5,
    min_industry: int = 0,
    min_finance: int = 0,
    seed: int = 0,
) -> PanelProblem:
    """A seeded instance: directions spread over 9 programmes, experts with a home direction.

    Each expert has a home direction and, half the time, a second one in the same programme
    (so that neighbouring groups contend for experts). Affinity pairs link an expert to about
    half the proposals of each of their directions, weight in (0, 1]. About 5 experts share a
    unit; an expert is conflicted with proposals led by their own unit and with 1 % of the rest.
    """
    rng = np.random.default_rng(seed)
    prog = np.arange(groups) % 9 + 1
    codes = [f"{p}{i // 9 + 1:03d}" for i, p in enumerate(prog)]
    sizes = rng.integers(max(proposals_per_group - 3, 1), proposals_per_group + 4, size=groups)
    directions = [codes[g] for g in range(groups) for _ in range(int(sizes[g]))]
    group_ids, proposal_group = group_proposals(directions)
    n_p = len(directions)
    proposal_ids = tuple(f"P-{d}-{i:03d}" for i, d in enumerate(directions))
    n_units = max(experts // 5, 1)
    lead_unit = rng.integers(0, n_units, size=n_p)

    expert_ids = tuple(f"E{e:05d}" for e in range(experts))
    home = rng.integers(0, groups, size=experts)
    second = np.where(
        rng.random(experts) < 0.5,
        (home + 9 * rng.integers(1, max(groups // 9, 2), size=experts)) % groups,
        -1,
    )
    unit = rng.integers(0, n_units, size=experts)
    kind = rng.choice(["academic", "industry", "finance"], size=experts, p=[0.65, 0.25, 0.10])
    senior = rng.random(experts) < 0.45
    level = rng.choice(["A", "B", "C"], size=experts, p=[0.2, 0.4, 0.4])

    props_of = [np.flatnonzero(proposal_group == g) for g in range(groups)]
    cp: list[np.ndarray] = []
    ce: list[np.ndarray] = []
    cw: list[np.ndarray] = []
    for dirs, scale in ((home, 1.0), (second, 0.6)):
        for e in np.flatnonzero(dirs >= 0):
            ps = props_of[int(dirs[e])]
            ps = ps[rng.random(ps.size) < 0.5]
            cp.append(ps)
            ce.append(np.full(ps.size, e))
            cw.append(scale * rng.beta(2.0, 3.0, size=ps.size))
    cand_p, cand_e, cand_w = np.concatenate(cp), np.concatenate(ce), np.concatenate(cw)
    key = cand_p * experts + cand_e
    _, first = np.unique(key, return_index=True)
    cand_p, cand_e, cand_w = cand_p[first], cand_e[first], cand_w[first]

    conflicted = (unit[cand_e] == lead_unit[cand_p]) | (rng.random(cand_p.size) < 0.01)
    return PanelProblem(
        group_ids=group_ids,
        proposal_ids=proposal_ids,
        proposal_group=proposal_group,
        expert_ids=expert_ids,
        cand_p=cand_p,
        cand_e=cand_e,
        cand_w=np.round(cand_w, 4),
        expert_unit=unit,
        expert_kind=kind,
        is_senior=senior,
        expert_level=level,
        conflict_p=cand_p[conflicted],
        conflict_e=cand_e[conflicted],
        n=np.asarray(n),
        n_min=np.asarray(n_min),
        min_industry=np.asarray(min_industry),
        min_finance=np.asarray(min_finance),
    )


@click.command()
@click.option("--groups", type=int, default=46, show_default=True, help="Number of groups.")
@click.option("--experts", type=int, default=10_000, show_default=True, help="Pool size.")
@click.option("--proposals", type=int, default=15, show_default=True, help="Per group, mean.")
@click.option("--n", "n", type=int, default=7, show_default=True, help="Panel size (odd).")
@click.option("--n-min", type=int, default=5, show_default=True, help="Non-conflicted floor.")
@click.option("--min-industry", type=int, default=2, show_default=True, help="Industry quota.")
@click.option("--min-finance", type=int, default=1, show_default=True, help="Finance quota.")
@click.option("--top-n", type=int, default=60, show_default=True, help="Candidates per group.")
@click.option("--time-limit", type=float, default=30.0, show_default=True, help="Seconds.")
@click.option("--seed", type=int, default=0, show_default=True, help="Instance and solver seed.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON line.")
def main(
    groups: int,
    experts: int,
    proposals: int,
    n: int,
    n_min: int,
    min_industry: int,
    min_finance: int,
    top_n: int,
    time_limit: float,
    seed: int,
    as_json: bool,
) -> None:
    """Build a synthetic instance, form the panels and print the figures."""
    t0 = time.perf_counter()
    problem = synthetic_panel_problem(
        groups=groups,
        experts=experts,
        proposals_per_group=proposals,
        n=n,
        n_min=n_min,
        min_industry=min_industry,
        min_finance=min_finance,
        seed=seed,
    )
    build_s = time.perf_counter() - t0
    result = solve_panels(problem, top_n=top_n, time_limit_s=time_limit, seed=seed)
    figures = {
        "groups": groups,
        "proposals": problem.n_proposals,
        "experts": experts,
        "pairs": int(problem.cand_p.size),
        "n": n,
        "variables": result.n_variables,
        "build_s": round(build_s, 3),
        "wall_s": round(result.wall_s, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "status": result.status.value,
        "objective": None if result.objective is None else round(result.objective, 4),
        "bound": None if result.bound is None else round(result.bound, 4),
        "gap": result.gap,
        "seed": seed,
    }
    if as_json:
        click.echo(json.dumps(figures))
    else:
        for k, v in figures.items():
            click.echo(f"{k:>12}: {v}")
        for line in result.diagnosis:
            click.echo(line)
    if result.objective is None:
        sys.exit(4)


if __name__ == "__main__":
    main()
