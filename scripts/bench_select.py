"""Benchmark budgeted selection on a seeded synthetic call.

    python scripts/bench_select.py --programme-budgets --proposals 600 --json
    python scripts/bench_select.py --programme-budgets --proposals 2000 --json
    python scripts/bench_select.py --overall-budget --proposals 2000 --draws 200
    python scripts/bench_select.py --coupled --proposals 1000 --policy merit-sum --draws 20
    python scripts/bench_select.py --programme-budgets --profile

Default and --coupled: about 21.7 proposals per direction (1,000 proposals = 46 directions over
9 programmes). Independent (default): unique PIs, related groups inside one direction, no
budgets, so every direction is its own component. --coupled adds programme budgets at ~75 % of
the demand of the two best projects per direction, an overall budget, min_grant_share 0.8 and
2 % of PIs leading proposals in two directions of the same programme: one component.

--programme-budgets (the demo's shape): 8-20 proposals per direction (640 proposals = 46
directions), a budget of 1,800万 per direction in each programme, no overall budget,
min_grant_share 1, PI rule and related groups on, 1 % of PIs leading proposals in two directions
of the same programme: one component per programme. --overall-budget: the same call with one
overall budget of 1,800万 per direction instead: one component.

Prints: wall_s / cpu_s of select() without explanations, wall_s_explain / cpu_s_explain with
explanations and alternates (--no-explain skips it), prob_wall_s / prob_cpu_s for
selection_probability over --draws draws (noise s.d. --noise), total_wall_s / total_cpu_s
(select with explanations plus P(selected), what `reviewopt select` computes), peak_rss_mb,
status, objective, n_funded, inversions. --policy chooses rank (default) or merit-sum;
--profile prints the top cProfile entries of each phase to stderr.
"""

from __future__ import annotations

import cProfile
import io
import json
import pstats
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

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
    *, proposals: int, coupled: bool, seed: int, mode: str | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, SelectionRules]:
    """A seeded call: (proposals frame, directions frame, rules).

    mode: None/"independent", "coupled", "programme" or "overall" (see the module docstring);
    coupled=True is mode "coupled".
    """
    mode = mode or ("coupled" if coupled else "independent")
    rng = np.random.default_rng(seed)
    demo_shape = mode in ("programme", "overall")
    n_dir = max(1, round(proposals / (14.0 if demo_shape else 21.74)))
    prog_no = np.arange(n_dir) % 9
    codes = [f"{p + 1}{k // 9 + 1:03d}" for k, p in enumerate(prog_no)]
    directions = pd.DataFrame(
        {
            "direction_code": codes,
            "programme": [PROGRAMMES[p] for p in prog_no],
            "cap_wan": rng.choice([1000.0, 1500.0, 2000.0, np.nan], size=n_dir),
        }
    )
    if demo_shape:
        sizes = rng.integers(8, 21, size=n_dir).astype(float)
        sizes = np.maximum(1, np.round(sizes * proposals / sizes.sum())).astype(int)
        sizes[-1] = max(1, proposals - int(sizes[:-1].sum()))
        d = np.repeat(np.arange(n_dir), sizes)[:proposals]
        proposals = len(d)
    else:
        d = np.sort(rng.integers(0, n_dir, size=proposals))
    pi = np.array([f"PI{i:06d}" for i in range(proposals)], dtype=object)
    related = np.where(
        rng.random(proposals) < 0.1, [f"G{codes[k]}-{rng.integers(0, 2)}" for k in d], ""
    )
    if mode != "independent":
        share = rng.random(proposals) < (0.02 if mode == "coupled" else 0.01)
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
    if mode == "independent":
        return frame, directions, SelectionRules()
    per_prog = directions.groupby("programme")["direction_code"].count()
    if mode == "programme":
        budgets = {str(p): 1800.0 * int(k) for p, k in per_prog.items()}
        return frame, directions, SelectionRules(programme_budgets_wan=budgets)
    if mode == "overall":
        return frame, directions, SelectionRules(budget_wan=1800.0 * n_dir)
    budgets = {}
    for p in set(directions["programme"]):
        n_d = int((directions["programme"] == p).sum())
        budgets[p] = float(round(0.75 * 2 * 1100 * n_d))
    total = float(round(0.95 * sum(budgets.values())))
    rules = SelectionRules(programme_budgets_wan=budgets, budget_wan=total, min_grant_share=0.8)
    return frame, directions, rules


def _timed(label: str, profile: bool, fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """Run fn; return (its value, wall s, CPU s of this process); profile to stderr if asked."""
    prof = cProfile.Profile() if profile else None
    w0, c0 = time.perf_counter(), time.process_time()
    if prof is not None:
        prof.enable()
    out = fn()
    if prof is not None:
        prof.disable()
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    if prof is not None:
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(18)
        click.echo(f"--- profile: {label} ---\n{buf.getvalue()}", err=True)
    return out, wall, cpu


@click.command()
@click.option("--proposals", type=int, default=1000, show_default=True, help="Proposals.")
@click.option("--draws", type=int, default=200, show_default=True, help="Merit draws for P.")
@click.option("--coupled", is_flag=True, help="Programme and overall budgets, shared PIs.")
@click.option(
    "--programme-budgets", "programme", is_flag=True, help="Demo shape: 1,800万 per direction."
)
@click.option("--overall-budget", "overall", is_flag=True, help="Demo shape, one overall budget.")
@click.option("--noise", type=float, default=4.0, show_default=True, help="Merit draw s.d.")
@click.option(
    "--explain/--no-explain", default=True, show_default=True, help="Also time explanations."
)
@click.option(
    "--policy",
    type=click.Choice(["rank", "merit-sum"]),
    default="rank",
    show_default=True,
    help="Selection policy.",
)
@click.option("--profile", is_flag=True, help="cProfile each phase (to stderr).")
@click.option("--time-limit", type=float, default=60.0, show_default=True, help="Per solve, s.")
@click.option("--seed", type=int, default=0, show_default=True, help="Instance seed.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON line.")
def main(
    proposals: int,
    draws: int,
    coupled: bool,
    programme: bool,
    overall: bool,
    noise: float,
    explain: bool,
    policy: str,
    profile: bool,
    time_limit: float,
    seed: int,
    as_json: bool,
) -> None:
    """Build a synthetic call, select, compute P(selected) and print the figures."""
    if sum((coupled, programme, overall)) > 1:
        raise click.UsageError("choose one of --coupled, --programme-budgets, --overall-budget")
    mode = "programme" if programme else "overall" if overall else None
    props, dirs, rules = synthetic_call(proposals=proposals, coupled=coupled, seed=seed, mode=mode)
    rules = replace(rules, policy=policy)  # type: ignore[arg-type]
    fast, w_fast, c_fast = _timed(
        "select",
        profile,
        lambda: select(props, dirs, rules, explain_depth=0, alternates=0, time_limit_s=time_limit),
    )
    full, w_full, c_full = fast, None, None
    if explain:
        full, w_full, c_full = _timed(
            "select with explanations",
            profile,
            lambda: select(props, dirs, rules, time_limit_s=time_limit),
        )
    rng = np.random.default_rng(seed + 1)
    merit_draws = props["merit"].to_numpy() + rng.normal(0, noise, size=(draws, len(props)))
    p, w_prob, c_prob = _timed(
        "selection_probability",
        profile,
        lambda: selection_probability(
            props, dirs, rules, merit_draws, time_limit_s=time_limit, skip_infeasible=True
        ),
    )
    figures = {
        "mode": mode or ("coupled" if coupled else "independent"),
        "policy": policy,
        "proposals": len(props),
        "eligible": int(props["eligible"].sum()),
        "directions": len(dirs),
        "wall_s": round(w_fast, 3),
        "cpu_s": round(c_fast, 3),
        "wall_s_explain": round(w_full, 3) if w_full is not None else None,
        "cpu_s_explain": round(c_full, 3) if c_full is not None else None,
        "draws": draws,
        "prob_wall_s": round(w_prob, 3),
        "prob_cpu_s": round(c_prob, 3),
        "total_wall_s": round((w_full if w_full is not None else w_fast) + w_prob, 3),
        "total_cpu_s": round((c_full if c_full is not None else c_fast) + c_prob, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "status": full.status.value,
        "objective": full.objective,
        "objective_terms": list(full.objective_terms),
        "n_funded": len(full.selected_ids),
        "grants_total_wan": full.grants_total_wan,
        "inversions": full.inversions,
        "prob_grey": int(((p > 0.05) & (p < 0.95)).sum()),
    }
    if as_json:
        click.echo(json.dumps(figures, ensure_ascii=False))
    else:
        for k, v in figures.items():
            click.echo(f"{k:>18}: {v}")
        for line in full.diagnosis:
            click.echo(str(line))
    if full.status not in (Status.OPTIMAL, Status.FEASIBLE):
        sys.exit(4)


if __name__ == "__main__":
    main()
