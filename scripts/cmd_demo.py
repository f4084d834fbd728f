"""Synthetic data and the end-to-end demo."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from models.i18n import _
from scripts.context import domain_errors
from scripts.output import (
    Report,
    TableOut,
    output_options,
    progress_bar,
)

# --- demo and synthetic data -----------------------------------------------------------------


@click.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder to write.",
)
@click.option(
    "--experts",
    type=click.IntRange(1),
    default=3000,
    show_default=True,
    help="Experts in the pool.",
)
@click.option(
    "--proposals", type=click.IntRange(1), help="Total proposals (default 8–20 per direction)."
)
@click.option(
    "--relations", type=click.IntRange(0), help="Person–person relations (default ~3 per person)."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed (recorded).")
@output_options
def generate(
    out: Path, experts: int, proposals: int | None, relations: int | None, seed: int
) -> Report:
    """Write a synthetic batch (clearly invented units, people, proposals, ground truth) as CSVs."""
    from data.build_guide import load_guide
    from data.generate import generate_batch, write_batch

    tables = generate_batch(
        load_guide(), n_experts=experts, n_proposals=proposals, n_relations=relations, seed=seed
    )
    paths = write_batch(tables, out)
    counts = {p.stem: len(tables[p.stem]) for p in paths}
    rows = [[kind, n] for kind, n in counts.items()]
    return Report(
        {"folder": str(out), "rows": counts},
        tables=[TableOut(f"Wrote {len(paths)} files to {out}", ["kind", "rows"], rows)],
        lines=[f"Load them with: reviewopt import all {out}"],
    )


@click.command()
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo-out"),
    show_default=True,
    help="Folder for the database and every output (replaced if present).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed (recorded).")
@click.option(
    "--experts",
    type=click.IntRange(1),
    default=3000,
    show_default=True,
    help="Experts in the pool.",
)
@click.option(
    "--mode",
    type=click.Choice(["review", "panel"]),
    default="review",
    show_default=True,
    help="通讯评审 (review) or 会评 (panel).",
)
@click.option(
    "--k", type=click.IntRange(1), default=5, show_default=True, help="Experts per proposal."
)
@click.option(
    "--max-probability",
    type=click.FloatRange(0, 1, min_open=True),
    default=0.5,
    show_default=True,
    help="Cap on any (expert, proposal) pair's probability in the draw.",
)
@output_options
@domain_errors
def demo(
    workdir: Path, seed: int, experts: int, mode: str, k: int, max_probability: float
) -> Report:
    """Run every stage on the 2024 catalogue and a generated batch, in a fresh SQLite database."""
    from models.demo import run_demo
    from models.report.browser import screenshot

    with progress_bar() as progress:
        out = run_demo(
            workdir, seed=seed, n_experts=experts, mode=mode, k=k,
            max_probability=max_probability, progress=progress,
        )  # fmt: skip
    png = workdir / "report.png"
    png.unlink(missing_ok=True)
    why_not = screenshot(Path(out["report"]["path"]), png)
    out["screenshot"] = None if why_not else str(png)
    tables = []
    for stage, figures in out.items():
        if isinstance(figures, dict):
            rows = [[key, _show(v)] for key, v in figures.items()]
            tables.append(TableOut(stage, ["figure", "value"], rows))
    return Report(
        out,
        tables=tables,
        lines=[
            f"Database: {out['database']} "
            f"(try `reviewopt --db {out['database']} export decisions`)",
            _("Report: {path}", path=out["report"]["path"]),
            why_not or _("Screenshot of the report: {path}", path=str(png)),
        ],
    )


def _show(v: Any) -> str:
    if isinstance(v, dict):
        return ", ".join(f"{k}: {_show(x)}" for k, x in v.items())
    if isinstance(v, list):
        return ", ".join(map(str, v))
    if isinstance(v, float):
        return f"{v:,.4g}"
    return str(v)
