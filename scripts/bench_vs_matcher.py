"""reviewopt against openreview-matcher on the same arrays, in the same run.

Generates three instance shapes (k = 3, loads <= 6, 2 % of pairs conflicted, seeded):

- A: 600 x 900, uniform scores;
- B: 600 x 900, 20 research topics of uneven popularity (proposal topics ~ 1 / rank, expert
  topics uniform): a same-topic pair scores 0.5-1, another 0-0.4, so popular topics lack
  good experts and the worst-off proposal is what fairness is about;
- C: 2,000 x 3,000, uniform scores.

Runs reviewopt's plain (certified optimum), fair (max-min, then total) and capped draw
(``--q``), and, where openreview-matcher is installed (an optional step, never a dependency:
``pip install -e`` a checkout of it), its MinMax, FairFlow, FairSequence and RandomizedSolver,
each called as its own tests call it. Every solver runs in a fresh process of its own (this
script with ``--one``), so that its wall time covers the solve alone and its peak memory is
its own. Prints one table: wall, peak MB, total, worst-off, validity, and the ratios total /
plain optimum, worst-off / proven fair bound and wall / reviewopt's counterpart; ``--json``
prints one JSON line instead.

Example::

    python -m scripts.bench_vs_matcher --shapes A,B,C --seed 0
"""

from __future__ import annotations

import json
import logging
import resource
import subprocess
import sys
import time
from collections import namedtuple
from typing import Any

import click
import numpy as np

from scripts.output import to_json

K, MAX_LOAD, CONFLICT_RATE = 3, 6, 0.02
SHAPES = {"A": (600, 900, False), "B": (600, 900, True), "C": (2000, 3000, False)}
OURS = ("reviewopt-plain", "reviewopt-fair", "reviewopt-draw")
MATCHER = ("MinMax", "FairFlow", "FairSequence", "RandomizedSolver")
COUNTERPART = {
    "MinMax": "reviewopt-plain",
    "FairFlow": "reviewopt-fair",
    "FairSequence": "reviewopt-fair",
    "RandomizedSolver": "reviewopt-draw",
}


def generate(shape: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(scores (P, E) float64 rounded to 1e-4, conflicted (P, E) bool) of one shape."""
    n_p, n_e, topical = SHAPES[shape]
    rng = np.random.default_rng([seed, ord(shape)])
    if topical:
        pop = 1.0 / np.arange(1, 21)
        tp = rng.choice(20, n_p, p=pop / pop.sum())
        te = rng.integers(0, 20, n_e)
        same = tp[:, None] == te[None, :]
        u = rng.random((n_p, n_e))
        scores = np.where(same, 0.5 + 0.5 * u, 0.4 * u**2)
    else:
        scores = rng.random((n_p, n_e))
    return np.round(scores, 4), rng.random((n_p, n_e)) < CONFLICT_RATE


def matcher_installed() -> bool:
    try:
        import matcher.solvers  # noqa: F401
    except ImportError:
        return False
    return True


def _run_ours(
    name: str, scores: np.ndarray, conflicted: np.ndarray, q: float, limit: float
) -> dict[str, Any]:
    from assign.draw import draw_assignment, fractional_assignment
    from assign.fair import solve_fair
    from assign.problem import AssignmentProblem
    from assign.solver import solve_dense

    n_p, n_e = scores.shape
    cp, ce = np.nonzero(conflicted)
    out: dict[str, Any] = {}
    if name == "reviewopt-plain":
        res = solve_dense(scores, k=K, max_load=MAX_LOAD, conflicts=(cp, ce))
        out["certified"] = res.certified
    else:
        p, e = np.nonzero(np.ones((n_p, n_e), dtype=bool))
        problem = AssignmentProblem(
            tuple(f"P{i}" for i in range(n_p)), tuple(f"E{i}" for i in range(n_e)),
            p, e, scores.ravel(), k=K, max_load=MAX_LOAD, conflict_p=cp, conflict_e=ce,
        )  # fmt: skip
        if name == "reviewopt-fair":
            plain = solve_dense(scores, k=K, max_load=MAX_LOAD, conflicts=(cp, ce))
            fr = solve_fair(problem, time_limit_s=limit, plain=plain)
            res = fr.assignment
            out.update(
                fair_min_bound=fr.min_bound, fair_gap=fr.min_gap,
                stages=[s.to_dict() for s in fr.stages],
            )  # fmt: skip
        else:
            frac = fractional_assignment(problem, q=q)
            draw = draw_assignment(problem, q=q, seed=0, fractional=frac)
            res = draw.assignment
            out.update(expected=draw.expected_objective, max_p=float(draw.marginals.max()))
    x = np.zeros((n_p, n_e), dtype=np.int8)
    x[res.pair_p, res.pair_e] = 1
    out["x"] = x
    return out


CostEncoder = namedtuple("CostEncoder", ["cost_matrix", "constraint_matrix"])
ScoreEncoder = namedtuple("ScoreEncoder", ["aggregate_score_matrix", "constraint_matrix"])
LimitEncoder = namedtuple("LimitEncoder", ["cost_matrix", "constraint_matrix", "prob_limit_matrix"])
"""The encoders the matcher's solvers read, as its own tests build them."""
COST_SCALE = 100
"""The matcher's Encoder turns a score into the cost -100 x score; its flow solvers then take
costs as integers (so scores count to 0.01)."""


def _run_matcher(name: str, scores: np.ndarray, conflicted: np.ndarray, q: float) -> dict[str, Any]:
    from matcher import solvers

    logging.getLogger().setLevel(logging.ERROR)
    n_p, n_e = scores.shape
    constraint = np.where(conflicted, -1, 0)
    cost = -COST_SCALE * scores
    mins, maxs, demands = [0] * n_e, [MAX_LOAD] * n_e, [K] * n_p
    out: dict[str, Any] = {}
    if name == "MinMax":
        x = solvers.MinMaxSolver(mins, maxs, demands, CostEncoder(cost, constraint)).solve()
    elif name in ("FairFlow", "FairSequence"):
        cls = solvers.FairFlow if name == "FairFlow" else solvers.FairSequence
        x = cls(mins, maxs, demands, ScoreEncoder(scores, constraint)).solve()
    else:
        limit = np.full(scores.shape, q)
        enc = LimitEncoder(cost, constraint, limit)
        solver = solvers.RandomizedSolver(mins, maxs, demands, enc)
        x = solver.solve()
        frac = solver.fractional_assignment_matrix
        out.update(expected=float((frac * scores).sum()), max_p=float(frac.max()))
    out["x"] = np.asarray(x)
    return out


def run_one(name: str, shape: str, seed: int, q: float, limit: float) -> dict[str, Any]:
    """Generate the instance, run one solver on it, and measure: this process's figures."""
    scores, conflicted = generate(shape, seed)
    t0 = time.perf_counter()
    if name in OURS:
        out = _run_ours(name, scores, conflicted, q, limit)
    else:
        out = _run_matcher(name, scores, conflicted, q)
    wall = time.perf_counter() - t0
    x = out.pop("x")
    binary = bool(np.isin(x, (0, 1)).all())
    per = (x * scores).sum(axis=1)
    loads = x.sum(axis=0)
    valid = (
        binary
        and bool((x.sum(axis=1) == K).all())
        and bool((loads <= MAX_LOAD).all())
        and not bool((x.astype(bool) & conflicted).any())
    )
    return {
        "shape": shape, "solver": name, "wall_s": round(wall, 2),
        "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "total": float((x * scores).sum()), "worst_off": float(per.min()), "valid": valid, **out,
    }  # fmt: skip


def _child(
    name: str, shape: str, seed: int, q: float, limit: float, timeout: float
) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "scripts.bench_vs_matcher", "--one", name, "--shapes", shape,
           "--seed", str(seed), "--q", str(q), "--time-limit", str(limit)]  # fmt: skip
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"shape": shape, "solver": name, "error": f"no result within {timeout:g} s"}
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    if done.returncode or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"shape": shape, "solver": name, "error": tail}
    return json.loads(lines[-1])


def _ratios(rows: list[dict[str, Any]]) -> None:
    """total / plain optimum, worst-off / proven fair bound, wall / counterpart, per shape."""
    by = {(r["shape"], r["solver"]): r for r in rows if "error" not in r}
    for r in rows:
        if "error" in r:
            continue
        plain = by.get((r["shape"], "reviewopt-plain"))
        fair = by.get((r["shape"], "reviewopt-fair"))
        mate = by.get((r["shape"], COUNTERPART.get(r["solver"], "")))
        if plain:
            r["total_ratio"] = r["total"] / plain["total"]
        if fair and fair.get("fair_min_bound"):
            r["worst_ratio"] = r["worst_off"] / fair["fair_min_bound"]
        if mate and mate["wall_s"] > 0:
            r["wall_vs_reviewopt"] = r["wall_s"] / mate["wall_s"]


RATIOS = ("total_ratio", "worst_ratio", "wall_vs_reviewopt", "max_p")


def _table(rows: list[dict[str, Any]]) -> str:
    cols = [
        "shape", "solver", "wall_s", "peak_mb", "total", "worst_off", "valid", "total_ratio",
        "worst_ratio", "wall_vs_reviewopt", "expected", "max_p", "fair_gap",
    ]  # fmt: skip
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['shape']} | {r['solver']} | error: {r['error']} |")
            continue
        cells = []
        for c in cols:
            v = r.get(c, "")
            digits = 2 if c == "wall_s" else 3 if c in RATIOS else 4
            cells.append(f"{v:.{digits}f}" if isinstance(v, float) else str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


@click.command()
@click.option("--shapes", default="A,B,C", show_default=True, help="Shapes to run (A, B, C).")
@click.option("--seed", type=int, default=0, show_default=True, help="Instance seed.")
@click.option("--q", type=float, default=0.5, show_default=True, help="Probability cap of draws.")
@click.option(
    "--time-limit", type=float, default=60.0, show_default=True, help="Fair search limit."
)
@click.option(
    "--timeout", type=float, default=1800.0, show_default=True, help="Per-solver timeout."
)
@click.option("--no-matcher", is_flag=True, help="Run reviewopt only.")
@click.option("--one", help="Run this one solver and print its figures (used internally).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON line.")
def main(
    shapes: str, seed: int, q: float, time_limit: float, timeout: float, no_matcher: bool,
    one: str | None, as_json: bool,
) -> None:  # fmt: skip
    """Run the comparison and print the table."""
    if one is not None:
        click.echo(to_json(run_one(one, shapes, seed, q, time_limit)))
        return
    names = list(OURS) + ([] if no_matcher or not matcher_installed() else list(MATCHER))
    rows = [_child(n, s, seed, q, time_limit, timeout) for s in shapes.split(",") for n in names]
    _ratios(rows)
    meta = {"seed": seed, "q": q, "k": K, "max_load": MAX_LOAD, "matcher": matcher_installed()}
    if as_json:
        click.echo(to_json({**meta, "rows": rows}))
    else:
        click.echo(to_json(meta))
        click.echo(_table(rows))


if __name__ == "__main__":
    main()
