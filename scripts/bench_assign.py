"""Assignment benchmarks: dense (pricing certificate), dense CSV through the file path, sparse.

Examples::

    python -m scripts.bench_assign --dense --proposals 10000 --experts 15000 --k 3 --max-load 6
    python -m scripts.bench_assign --from-csv --csv-size 2000 3000 --k 3 --max-load 6
    python -m scripts.bench_assign --sparse --proposals 20000 --experts 30000 --k 5 --max-load 6

Prints a few lines for people, or one JSON line with ``--json``: wall_s, peak_rss_mb, status,
objective, bound, gap, certified (and mode-specific figures).
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import click
import numpy as np

from assign.problem import AssignmentProblem
from assign.solver import AssignmentResult, quality_summary, solve, solve_dense


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _stderr_progress(stage: str, frac: float) -> None:
    click.echo(f"\r{stage:<12} {frac:6.1%}", err=True, nl=frac >= 1.0)


def run_dense(
    *, proposals: int, experts: int, k: int, max_load: int, seed: int, verbose: bool
) -> tuple[AssignmentResult, dict[str, float]]:
    """Uniform random (P, E) float32 affinities, seeded; solved with the pricing certificate."""
    rng = np.random.default_rng(seed)
    t = time.perf_counter()
    aff = rng.random((proposals, experts), dtype=np.float32)
    gen_s = time.perf_counter() - t
    res = solve_dense(aff, k=k, max_load=max_load, progress=_stderr_progress if verbose else None)
    return res, {"generate_s": round(gen_s, 3)}


def write_dense_csv(path: Path, *, proposals: int, experts: int, seed: int) -> None:
    """A dense ``proposal,expert,score`` CSV (every pair, scores with 6 decimals), seeded."""
    rng = np.random.default_rng(seed)
    eids = [f"E{i:05d}" for i in range(experts)]
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("proposal,expert,score\n")
        for p in range(proposals):
            pid = f"P{p:05d}"
            scores = np.round(rng.random(experts), 6)
            fh.write("".join(f"{pid},{e},{s:.6f}\n" for e, s in zip(eids, scores, strict=True)))


def run_from_csv(
    *, proposals: int, experts: int, k: int, max_load: int, seed: int, verbose: bool
) -> tuple[AssignmentResult, dict[str, float]]:
    """Write a dense CSV of that size to a temp dir and solve it through ``solve_files``."""
    from assign.files import solve_files

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scores.csv"
        t = time.perf_counter()
        write_dense_csv(path, proposals=proposals, experts=experts, seed=seed)
        write_s = time.perf_counter() - t
        t = time.perf_counter()
        _, res = solve_files(
            path,
            conflicts=None,
            experts=None,
            k=k,
            max_load=max_load,
            progress=_stderr_progress if verbose else None,
        )
        total_s = time.perf_counter() - t
    return res, {
        "write_csv_s": round(write_s, 3),
        "files_total_s": round(total_s, 3),
        "read_s": round(total_s - res.wall_s, 3),
    }


def sparse_problem(
    *, proposals: int, experts: int, k: int, max_load: int, seed: int, candidates: int
) -> AssignmentProblem:
    """Random sparse candidates (``candidates`` per proposal), units, an industry quota of 1
    (industry experts work at industry units), 1 % conflicts."""
    rng = np.random.default_rng(seed)
    cand_p = np.repeat(np.arange(proposals), candidates)
    cand_e = np.concatenate(
        [rng.choice(experts, size=candidates, replace=False) for _ in range(proposals)]
    )
    cand_w = rng.random(cand_p.size)
    n_units = max(1, experts // 5)
    unit = rng.integers(0, n_units, experts)
    industry_unit = rng.random(n_units) < 0.3
    n_conf = cand_p.size // 100
    pick = rng.choice(cand_p.size, size=n_conf, replace=False)
    return AssignmentProblem(
        proposal_ids=tuple(f"P{i}" for i in range(proposals)),
        expert_ids=tuple(f"E{i}" for i in range(experts)),
        cand_p=cand_p,
        cand_e=cand_e,
        cand_w=cand_w,
        k=k,
        max_load=max_load,
        expert_unit=unit,
        is_industry=industry_unit[unit],
        min_industry=1,
        conflict_p=cand_p[pick],
        conflict_e=cand_e[pick],
    )


def run_sparse(
    *,
    proposals: int,
    experts: int,
    k: int,
    max_load: int,
    seed: int,
    verbose: bool,
    candidates: int = 80,
) -> tuple[AssignmentResult, dict[str, float]]:
    t = time.perf_counter()
    prob = sparse_problem(
        proposals=proposals,
        experts=experts,
        k=k,
        max_load=max_load,
        seed=seed,
        candidates=candidates,
    )
    gen_s = time.perf_counter() - t
    res = solve(prob, progress=_stderr_progress if verbose else None)
    q = quality_summary(prob, res)
    extra = {
        "generate_s": round(gen_s, 3),
        "conflicts_violated": q["conflicts_violated"],
        "one_per_unit_violated": q["one_per_unit_violated"],
    }
    return res, extra  # type: ignore[return-value]


def run_pipeline(
    *, proposals: int, experts: int, k: int, max_load: int, seed: int, verbose: bool
) -> tuple[AssignmentResult, dict[str, float]]:
    """Batch-generator mode: generate a batch, compute affinity and conflicts, then solve."""
    raise click.UsageError("generator mode not available yet")


@click.command()
@click.option("--dense", "mode", flag_value="dense", help="Dense uniform random matrix.")
@click.option("--from-csv", "mode", flag_value="csv", help="Dense CSV through solve_files.")
@click.option("--sparse", "mode", flag_value="sparse", help="Sparse candidates with a quota.")
@click.option("--generator", "mode", flag_value="generator", help="Generated batch pipeline.")
@click.option("--csv-size", nargs=2, type=int, default=None, help="P E for --from-csv.")
@click.option("--proposals", type=int, default=10_000, show_default=True)
@click.option("--experts", type=int, default=15_000, show_default=True)
@click.option("--k", "k", type=int, default=3, show_default=True)
@click.option("--max-load", type=int, default=6, show_default=True)
@click.option("--candidates", type=int, default=80, show_default=True, help="Sparse mode.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON line on stdout.")
@click.option("--progress/--no-progress", default=False, help="Progress on stderr.")
def main(
    mode: str | None,
    csv_size: tuple[int, int] | None,
    proposals: int,
    experts: int,
    k: int,
    max_load: int,
    candidates: int,
    seed: int,
    as_json: bool,
    progress: bool,
) -> None:
    """Run one assignment benchmark and print its figures."""
    if mode is None:
        raise click.UsageError("choose one of --dense, --from-csv, --sparse, --generator")
    common = {"k": k, "max_load": max_load, "seed": seed, "verbose": progress}
    t = time.perf_counter()
    if mode == "dense":
        res, extra = run_dense(proposals=proposals, experts=experts, **common)  # type: ignore[arg-type]
    elif mode == "csv":
        p, e = csv_size or (proposals, experts)
        res, extra = run_from_csv(proposals=p, experts=e, **common)  # type: ignore[arg-type]
    elif mode == "sparse":
        res, extra = run_sparse(
            proposals=proposals,
            experts=experts,
            candidates=candidates,
            **common,  # type: ignore[arg-type]
        )
    else:
        res, extra = run_pipeline(proposals=proposals, experts=experts, **common)  # type: ignore[arg-type]
    wall = time.perf_counter() - t
    out = {
        "mode": mode,
        "wall_s": round(wall, 3),
        "solve_s": round(res.wall_s, 3),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "status": str(res.status),
        "objective": res.objective,
        "bound": res.bound,
        "gap": res.gap,
        "certified": res.certified,
        "solver": res.solver,
        "pricing_rounds": res.pricing_rounds,
        "n_candidates": res.n_candidates,
        **extra,
    }
    if as_json:
        click.echo(json.dumps(out))
    else:
        for key, val in out.items():
            click.echo(f"{key:>22}: {val}")
        for line in res.diagnosis:
            click.echo(line, err=True)
    if res.status not in ("optimal", "feasible"):
        sys.exit(4)


if __name__ == "__main__":
    main()
