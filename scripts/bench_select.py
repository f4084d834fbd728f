"""Benchmark budgeted selection on a seeded synthetic call.

    python scripts/bench_select.py --proposals 1000 --json
    python scripts/bench_select.py --proposals 20000 --coupled --draws 200

About 21.7 proposals per direction (1,000 proposals = 46 directions over 9 programmes).
Independent (default): unique PIs, related groups inside one direction, no budgets, so every
direction is its own component. --coupled adds programme budgets at ~75 % of the demand of the
two best projects per direction, an overall budget, and 2 % of PIs leading proposals in two
directions of the same programme: the directions of a programme form one component.

Prints: wall_s of select() without explanations, wall_s_explain with explanations and
alternates (--no-explain skips it), peak_rss_mb, status, objective, n_components, and
prob_wall_s for selection_probability over --draws draws (noise s.d. --noise).
"""

from __future__ import annotations

import json
import resource
import sys
import time

import click
import numpy as np
import pandas as pd

from assign.problem import Status
from scoring.select import SelectionRules, select, selection_probability

PROGRAMMES = (
    "第三代半导体",
    "6G技术",
    "人工智能",
    "战略新材料",
    "集成电路",
    "生物医药",
    "高端装备",
    "新能源",
    "氢能与储能",
)


def synthetic_call(
    *, proposals: int, coupled: bool, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame, SelectionRules]:
    """A seeded call: (proposals frame, directions frame, rules)."""
    rng = np.random.default_rng(seed)
    n_dir = max(1, round(proposals / 21.74))
    prog_no = np.arange(n_dir) % 9
    codes = [f"{p + 1}{k // 9 + 1:03d}" for k, p in enumerate(prog_no)]
    directions = pd.DataFrame(
        {
            "direction_code": codes,
            "programme": [PROGRAMMES[p] for p in prog_no],
            "cap_wan": rng.choice([1000.0, 1500.0, 2000.0, np.nan], size=n_dir),
        }
    )
    d = np.sort(rng.integers(0, n_dir, size=proposals))
    pi = np.array([f"PI{i:06d}" for i in range(proposals)], dtype=object)
    related = np.where(
        rng.random(proposals) < 0.1, [f"G{codes[k]}-{rng.integers(0, 2)}" for k in d], ""
    )
    if coupled:
        share = rng.random(proposals) < 0.02
        for i in np.flatnonzero(share):
            same = np.flatnonzero(prog_no[d] == prog_no[d[i]])
            j = int(rng.choice(same))
            pi[i] = pi[j]
    frame = pd.DataFrame(
        {
            "proposal_id": [f"P-{codes[k]}-{i:05d}" for i, k in enumerate(d)],
            "direction_code": [codes[k] for k in d],
            "programme": [PROGRAMMES[prog_no[k]] for k in d],
            "merit": np.round(np.clip(rng.normal(72, 9, size=proposals), 0, 100), 3),
            "requested_wan": rng.integers(300, 2500, size=proposals),
            "total_budget_wan": rng.integers(1000, 8000, size=proposals),
            "enterprise_led": rng.random(proposals) < 0.4,
            "pi_id": pi,
            "eligible": rng.random(proposals) < 0.92,
            "young": rng.random(proposals) < 0.45,
            "related_group": related,
        }
    )
    if not coupled:
        return frame, directions, SelectionRules()
    budgets = {}
    for p in set(directions["programme"]):
        n_d = int((directions["programme"] == p).sum())
        budgets[p] = float(round(0.75 * 2 * 1100 * n_d))
    total = float(round(0.95 * sum(budgets.values())))
    rules = SelectionRules(programme_budgets_wan=budgets, budget_wan=total, min_grant_share=0.8)
    return frame, directions, rules


@click.command()
@click.option("--proposals", type=int, default=1000, show_default=True, help="Proposals.")
@click.option("--draws", type=int, default=200, show_default=True, help="Merit draws for P.")
@click.option("--coupled", is_flag=True, help="Programme and overall budgets, shared PIs.")
@click.option("--noise", type=float, default=4.0, show_default=True, help="Merit draw s.d.")
@click.option(
    "--explain/--no-explain", default=True, show_default=True, help="Also time explanations."
)
@click.option("--time-limit", type=float, default=60.0, show_default=True, help="Per solve, s.")
@click.option("--seed", type=int, default=0, show_default=True, help="Instance seed.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON line.")
def main(
    proposals: int,
    draws: int,
    coupled: bool,
    noise: float,
    explain: bool,
    time_limit: float,
    seed: int,
    as_json: bool,
) -> None:
    """Build a synthetic call, select, compute P(selected) and print the figures."""
    props, dirs, rules = synthetic_call(proposals=proposals, coupled=coupled, seed=seed)
    fast = select(props, dirs, rules, explain=False, alternates=0, time_limit_s=time_limit)
    full = select(props, dirs, rules, time_limit_s=time_limit) if explain else fast
    rng = np.random.default_rng(seed + 1)
    merit_draws = props["merit"].to_numpy() + rng.normal(0, noise, size=(draws, proposals))
    t0 = time.perf_counter()
    p = selection_probability(
        props, dirs, rules, merit_draws, time_limit_s=time_limit, skip_infeasible=True
    )
    prob_s = time.perf_counter() - t0
    figures = {
        "proposals": proposals,
        "directions": len(dirs),
        "coupled": coupled,
        "n_components": full.n_components,
        "wall_s": round(fast.wall_s, 3),
        "wall_s_explain": round(full.wall_s, 3) if explain else None,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "status": full.status.value,
        "objective": full.objective,
        "n_funded": len(full.selected_ids),
        "grants_total_wan": full.grants_total_wan,
        "draws": draws,
        "prob_wall_s": round(prob_s, 3),
        "prob_grey": int(((p > 0.05) & (p < 0.95)).sum()),
    }
    if as_json:
        click.echo(json.dumps(figures, ensure_ascii=False))
    else:
        for k, v in figures.items():
            click.echo(f"{k:>18}: {v}")
        for line in full.diagnosis:
            click.echo(line)
    if full.status not in (Status.OPTIMAL, Status.FEASIBLE):
        sys.exit(4)


if __name__ == "__main__":
    main()
