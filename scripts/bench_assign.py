"""Assignment benchmarks: the generated-batch pipeline (conflicts, affinity, solve; also draws
and panels), a size series, dense (pricing certificate), dense CSV through the file path.

Examples::

    python -m scripts.bench_assign --proposals 20000 --experts 30000 --k 5 --max-load 6
    python -m scripts.bench_assign --series                      # 1,000 → 100,000 proposals
    python -m scripts.bench_assign --series --series-up-to 20000
    python -m scripts.bench_assign --series-from runs.jsonl      # a table of earlier --json runs
    python -m scripts.bench_assign --jiangsu --experts 10000 --k 7
    python -m scripts.bench_assign --proposals 20000 --experts 30000 --k 5 --max-probability 0.5
    python -m scripts.bench_assign --jiangsu --experts 10000 --panel
    python -m scripts.bench_assign --dense --proposals 10000 --experts 15000 --k 3 --max-load 6
    python -m scripts.bench_assign --from-csv --csv-size 2000 3000 --k 3 --max-load 6
    python -m scripts.bench_assign --sparse --proposals 20000 --experts 30000 --k 5 --max-load 6

Prints a few lines for people, or one JSON line with ``--json``: wall_s, peak_rss_mb, cpu_s, status,
objective, bound, gap, certified (and mode-specific figures: the generator gives each stage's
wall and CPU seconds, CPU of this process, so Dask workers' is not in it).
"""

from __future__ import annotations

import contextlib
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import click
import numpy as np

from assign.executor import DaskExecutor, Executor
from assign.problem import AssignmentProblem
from assign.result import AssignmentResult
from assign.solver import quality_summary, solve, solve_dense


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_s() -> float:
    """User and system CPU seconds of this process and its finished children (the generation
    included): on a loaded machine, where wall time says little, this still does."""
    own, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


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
    from assign.file_solve import solve_files

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


def _number(value: object) -> float:
    """A numeric entry of ``quality_summary`` (an int or a float), typed as a float."""
    if not isinstance(value, int | float):
        raise TypeError(f"expected a number, got {value!r}")
    return value


def _or_nan(value: float | None) -> float:
    return float("nan") if value is None else value


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
        "conflicts_violated": _number(q["conflicts_violated"]),
        "one_per_unit_violated": _number(q["one_per_unit_violated"]),
    }
    return res, extra


def run_pipeline(
    *,
    proposals: int | None,
    experts: int,
    k: int,
    max_load: int,
    seed: int,
    verbose: bool,
    max_probability: float | None = None,
    panel: bool = False,
    candidates: int = 60,
    executor: Executor | None = None,
    time_limit: float = 900.0,
) -> tuple[AssignmentResult, dict[str, float]]:
    """Batch-generator mode: generate a batch (the 2024 catalogue's directions; ``proposals``
    None = 8–20 per direction), then time the pipeline: conflicted pairs (per group of experts,
    as indices), affinity + candidates, and the solve (exact, a capped random draw, or panels).
    ``wall_s`` covers these three. The conflicts, the affinity's and the certified solve's row
    blocks run on ``executor`` (default: configured_executor)."""
    from assign.conflict_index import conflict_index
    from assign.panels import solve_panels
    from assign.pipeline import AssignOptions, build_problem, draw_widening, panel_problem
    from data.build_guide import load_guide
    from data.generate import generate_batch

    t = time.perf_counter()
    tables = generate_batch(load_guide(), n_experts=experts, n_proposals=proposals, seed=seed)
    batch_date = date.fromisoformat(str(tables["batches"]["batch_date"].iloc[0]))
    gen_s = time.perf_counter() - t
    t, c = time.perf_counter(), _cpu_s()
    pids = tables["proposals"]["proposal_id"].tolist()
    eids = tables["experts"]["expert_id"].tolist()
    conflicts = conflict_index(
        tables, proposal_ids=pids, expert_ids=eids, batch_date=batch_date, executor=executor
    )
    conflicts_s, conflicts_cpu = time.perf_counter() - t, _cpu_s() - c
    conflicts_mb = _peak_rss_mb()
    t, c = time.perf_counter(), _cpu_s()
    problem, model = build_problem(
        tables,
        proposal_ids=pids,
        expert_ids=eids,
        conflicts=conflicts,
        options=AssignOptions(k=k, max_load=max_load, top_n=candidates),
        executor=executor,
        progress=_stderr_progress if verbose else None,
    )
    affinity_s, affinity_cpu = time.perf_counter() - t, _cpu_s() - c
    affinity_mb = _peak_rss_mb()
    c = _cpu_s()
    extra: dict[str, float] = {
        "proposals": problem.n_proposals,
        "experts": problem.n_experts,
        "generate_s": round(gen_s, 3),
        "conflicts_s": round(conflicts_s, 3),
        "conflicts_cpu_s": round(conflicts_cpu, 1),
        "conflicts_peak_mb": round(conflicts_mb, 1),
        "conflict_pairs": int(conflicts[0].size),
        "affinity_s": round(affinity_s, 3),
        "affinity_cpu_s": round(affinity_cpu, 1),
        "affinity_peak_mb": round(affinity_mb, 1),
        "candidates": int(problem.cand_p.size),
    }
    if panel:
        pres = solve_panels(panel_problem(problem, tables, n=7), seed=seed)
        extra.update({"panels": len(pres.panels), "min_non_conflicted": min(
            pres.members_per_proposal.values(), default=0)})  # fmt: skip
        res = AssignmentResult(
            status=pres.status, objective=_or_nan(pres.objective), bound=_or_nan(pres.bound),
            gap=_or_nan(pres.gap),
            wall_s=pres.wall_s, pair_p=np.zeros(0, np.int64), pair_e=np.zeros(0, np.int64),
            pair_w=np.zeros(0), proposal_ids=problem.proposal_ids,
            expert_ids=problem.expert_ids, diagnosis=tuple(pres.diagnosis), solver="cp-sat",
            certified=pres.status == "optimal",
        )  # fmt: skip
        return res, extra
    if max_probability is not None:
        problem, draw = draw_widening(problem, model, q=max_probability, seed=seed)
        res = draw.assignment
        extra.update({"max_probability": max_probability,
                      "expected_objective": round(draw.expected_objective, 4)})  # fmt: skip
    else:
        from assign.certify import solve_certified

        assert model is not None  # build_problem fits one when no affinity is given
        res = solve_certified(
            problem, model, executor=executor, time_limit_s=time_limit,
            progress=_stderr_progress if verbose else None,
        )  # fmt: skip
    extra["solve_cpu_s"] = round(_cpu_s() - c, 1)
    q = quality_summary(problem, res)
    extra.update(
        {
            "min_proposal_affinity": _number(q["min_proposal_affinity"]),
            "conflicts_violated": _number(q["conflicts_violated"]),
            "one_per_unit_violated": _number(q["one_per_unit_violated"]),
        }
    )
    return res, extra


SERIES = (1000, 2000, 5000, 10000, 20000, 50000, 100000)
_STAGES = (
    "wall_s", "cpu_s", "conflicts_s", "conflicts_cpu_s", "affinity_s", "affinity_cpu_s",
    "solve_s", "solve_cpu_s", "conflicts_peak_mb", "affinity_peak_mb", "peak_rss_mb",
)  # fmt: skip


def growth(rows: list[dict], key: str) -> list[float | None]:
    """Per row, the exponent a with ``value ~ proposals ** a`` between it and the row before
    (experts grow with proposals, so the matrix grows as proposals ** 2); None for the first
    row or a value of 0 or missing (a run by an earlier version of this script)."""
    out: list[float | None] = [None]
    for a, b in zip(rows[:-1], rows[1:], strict=True):
        va, vb = float(a.get(key) or 0), float(b.get(key) or 0)
        ok = va > 0 and vb > 0 and b["proposals"] != a["proposals"]
        out.append(
            round(math.log(vb / va) / math.log(b["proposals"] / a["proposals"]), 2) if ok else None
        )
    return out


def run_series(*, seed: int, as_json: bool, up_to: int, time_limit: float) -> None:
    """1,000 → 100,000 proposals (experts 1.5×, k = 5, L = 6; sizes up to ``up_to``), then the
    Jiangsu case, each in a fresh process so that its peak memory is its own; prints a table of
    each stage's time and peak memory, and a table of how they grow from one size to the next
    (or JSON lines, with the exponents under ``growth``)."""
    cases = [[f"--proposals={n}", f"--experts={n * 3 // 2}", "--k=5", "--max-load=6"]
             for n in SERIES if n <= up_to]  # fmt: skip
    cases.append(["--jiangsu", "--experts=10000", "--k=7", "--max-load=6"])
    rows = []
    for args in cases:
        cmd = [sys.executable, "-m", "scripts.bench_assign", *args, f"--seed={seed}",
               f"--time-limit={time_limit}", "--json"]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode not in (0, 4):
            raise click.ClickException(f"{' '.join(args)} failed:\n{done.stderr}")
        rows.append(json.loads(done.stdout))
        click.echo(f"{' '.join(args)}: {rows[-1]['wall_s']} s", err=True)
    print_series(rows, as_json=as_json)


def print_series(rows: list[dict], *, as_json: bool) -> None:
    """The series table of ``rows`` (JSON figures of generator runs, the Jiangsu case among
    them or not) and the growth exponents between consecutive generator sizes."""
    sizes = sorted((r for r in rows if r["mode"] == "generator"), key=lambda r: r["proposals"])
    rows = sizes + [r for r in rows if r["mode"] != "generator"]
    exps = {key: growth(sizes, key) for key in _STAGES}
    for i, r in enumerate(sizes):
        r["growth"] = {key: exps[key][i] for key in _STAGES}
    if as_json:
        for r in rows:
            click.echo(json.dumps(r))
        return
    head = ("proposals", "experts", "k", *_STAGES, "objective", "gap", "status", "certified")
    click.echo(" ".join(f"{h:>11}" for h in head))
    for r in rows:
        tail = [round(r["objective"], 3), f"{r['gap']:.1e}", r["status"], r["certified"]]
        cells = [r["proposals"], r["experts"], r["k"], *(r.get(key) for key in _STAGES), *tail]
        click.echo(" ".join(f"{c!s:>11}" for c in cells))
    click.echo("growth exponent from the size before (value ~ proposals ** a):")
    click.echo(" ".join(f"{h:>11}" for h in ("proposals", *_STAGES)))
    for r in sizes[1:]:
        cells = [r["proposals"], *(r["growth"][key] for key in _STAGES)]
        click.echo(" ".join(f"{c!s:>11}" for c in cells))


@click.command()
@click.option("--dense", "mode", flag_value="dense", help="Dense uniform random matrix.")
@click.option("--from-csv", "mode", flag_value="csv", help="Dense CSV through solve_files.")
@click.option("--sparse", "mode", flag_value="sparse", help="Synthetic sparse candidates, a quota.")
@click.option("--series", "mode", flag_value="series", help="1,000 → 100,000 proposals + Jiangsu.")
@click.option(
    "--series-up-to",
    type=int,
    default=SERIES[-1],
    show_default=True,
    help="Largest size of --series (100,000 needs about 16 GB free).",
)
@click.option(
    "--series-from",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Print the series table from JSON lines of earlier --json runs (sizes run one by one).",
)
@click.option("--jiangsu", is_flag=True, help="Generator mode at the catalogue's own size.")
@click.option("--csv-size", nargs=2, type=int, default=None, help="P E for --from-csv.")
@click.option("--proposals", type=int, default=10_000, show_default=True)
@click.option("--experts", type=int, default=15_000, show_default=True)
@click.option("--k", "k", type=int, default=3, show_default=True)
@click.option("--max-load", type=int, default=6, show_default=True)
@click.option("--candidates", type=int, default=None, help="Candidates per proposal.")
@click.option("--max-probability", type=float, default=None, help="Randomised draw with this cap.")
@click.option("--panel", is_flag=True, help="Form panels (n = 7) instead of reviewer sets.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--time-limit",
    type=float,
    default=900.0,
    show_default=True,
    help="Seconds the certified solve may take before it stops with a bound.",
)
@click.option(
    "--dask",
    default=None,
    help="Run the parallel stages on Dask: a scheduler address, or local:N for a cluster of N "
    "worker processes on this machine (generator mode).",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON line on stdout.")
@click.option("--progress/--no-progress", default=False, help="Progress on stderr.")
def main(
    mode: str | None,
    series_up_to: int,
    series_from: Path | None,
    jiangsu: bool,
    csv_size: tuple[int, int] | None,
    proposals: int,
    experts: int,
    k: int,
    max_load: int,
    candidates: int | None,
    max_probability: float | None,
    panel: bool,
    seed: int,
    time_limit: float,
    dask: str | None,
    as_json: bool,
    progress: bool,
) -> None:
    """Run one assignment benchmark and print its figures (default: the generated-batch
    pipeline of conflicts, affinity and solve at --proposals × --experts)."""
    if series_from is not None:
        lines = series_from.read_text(encoding="utf-8").splitlines()
        print_series([json.loads(x) for x in lines if x.strip()], as_json=as_json)
        return
    if mode == "series":
        run_series(seed=seed, as_json=as_json, up_to=series_up_to, time_limit=time_limit)
        return
    with contextlib.ExitStack() as stack:
        executor = _dask_executor(dask, stack) if dask else None
        t = time.perf_counter()
        if mode == "dense":
            res, extra = run_dense(
                proposals=proposals, experts=experts, k=k, max_load=max_load, seed=seed,
                verbose=progress,
            )  # fmt: skip
        elif mode == "csv":
            p, e = csv_size or (proposals, experts)
            res, extra = run_from_csv(
                proposals=p, experts=e, k=k, max_load=max_load, seed=seed, verbose=progress
            )
        elif mode == "sparse":
            res, extra = run_sparse(
                proposals=proposals,
                experts=experts,
                candidates=candidates or 80,
                k=k,
                max_load=max_load,
                seed=seed,
                verbose=progress,
            )
        else:
            mode = "jiangsu" if jiangsu else "generator"
            res, extra = run_pipeline(
                proposals=None if jiangsu else proposals,
                experts=experts,
                max_probability=max_probability,
                panel=panel,
                candidates=candidates or 60,
                k=k,
                max_load=max_load,
                seed=seed,
                verbose=progress,
                executor=executor,
                time_limit=time_limit,
            )
            t += extra.pop("generate_s")  # the batch's generation is not part of the pipeline
        wall = time.perf_counter() - t
        out = {
            "mode": mode,
            "k": k,
            "wall_s": round(wall, 3),
            "solve_s": round(res.wall_s, 3),
            "peak_rss_mb": round(_peak_rss_mb(), 1),
            "cpu_s": round(_cpu_s(), 1),
            "status": str(res.status),
            "objective": res.objective,
            "bound": res.bound,
            "gap": res.gap,
            "certified": res.certified,
            "solver": res.solver,
            "pricing_rounds": res.pricing_rounds,
            "n_candidates": res.n_candidates,
            "engine": dask or "local",
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


def _dask_executor(spec: str, stack: contextlib.ExitStack) -> Executor:
    """A Dask client for ``spec`` (an address, or local:N worker processes here), closed with
    ``stack``."""
    from distributed import Client, LocalCluster

    if spec.startswith("local:"):
        cluster = stack.enter_context(
            LocalCluster(
                n_workers=int(spec.split(":", 1)[1]), threads_per_worker=1, processes=True,
                host="127.0.0.1", dashboard_address=":0",
            )
        )  # fmt: skip
        return DaskExecutor(stack.enter_context(Client(cluster)))
    return DaskExecutor(stack.enter_context(Client(spec)))


if __name__ == "__main__":
    main()
