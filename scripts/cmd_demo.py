"""Synthetic data and the end-to-end demo."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from models.figures import SECONDS, figure_rows, label
from models.i18n import N_, _, _n
from scripts.context import domain_errors
from scripts.help_text import command
from scripts.output import (
    Report,
    TableOut,
    output_options,
    progress_bar,
)

# --- demo and synthetic data -----------------------------------------------------------------


@command(
    help=N_(
        "Write a synthetic batch (clearly invented units, people, proposals, ground truth) as CSVs."
    )
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help=N_("Folder to write."),
)
@click.option(
    "--experts",
    type=click.IntRange(1),
    default=3000,
    show_default=True,
    help=N_("Experts in the pool."),
)
@click.option(
    "--proposals", type=click.IntRange(1), help=N_("Total proposals (default 8–20 per direction).")
)
@click.option(
    "--relations",
    type=click.IntRange(0),
    help=N_("Person–person relations (default ~3 per person)."),
)
@click.option("--seed", type=int, default=0, show_default=True, help=N_("Random seed (recorded)."))
@output_options
def generate(
    out: Path, experts: int, proposals: int | None, relations: int | None, seed: int
) -> Report:
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
        tables=[
            TableOut(
                _n("Wrote {n} file to {out}", "Wrote {n} files to {out}", len(paths), out=out),
                [_("kind"), _("rows")],
                rows,
            )
        ],
        lines=[_("Load them with: reviewopt import all {out}", out=out)],
    )


@command(
    help=N_(
        "Run every stage on the 2024 catalogue and a generated batch, in a fresh SQLite database."
    )
)
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo-out"),
    show_default=True,
    help=N_("Folder for the database and every output (replaced if present)."),
)
@click.option("--seed", type=int, default=0, show_default=True, help=N_("Random seed (recorded)."))
@click.option(
    "--experts",
    type=click.IntRange(1),
    default=3000,
    show_default=True,
    help=N_("Experts in the pool."),
)
@click.option(
    "--mode",
    type=click.Choice(["review", "panel"]),
    default="review",
    show_default=True,
    help=N_("通讯评审 (review) or 会评 (panel)."),
)
@click.option(
    "--k", type=click.IntRange(1), default=5, show_default=True, help=N_("Experts per proposal.")
)
@click.option(
    "--max-probability",
    type=click.FloatRange(0, 1, min_open=True),
    default=0.5,
    show_default=True,
    help=N_("Cap on any (expert, proposal) pair's probability in the draw."),
)
@output_options
@domain_errors
def demo(
    workdir: Path, seed: int, experts: int, mode: str, k: int, max_probability: float
) -> Report:
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
        if not isinstance(figures, dict) or stage == "report":  # the report: a line below
            continue
        shown = {k: v for k, v in figures.items() if k != "funded_list"}
        rows = figure_rows(shown, SECONDS if stage == "timings_s" else None)
        tables.append(TableOut(label(stage), [_("figure"), _("value")], rows))
        if "funded_list" in figures:
            tables.append(_funded_by_programme(figures["funded_list"]))
    return Report(
        out,
        tables=tables,
        lines=[
            _(
                "Database: {url} (try `reviewopt --db {url} export decisions`)",
                url=out["database"],
            ),
            _("Report: {path}", path=out["report"]["path"]),
            why_not or _("Screenshot of the report: {path}", path=str(png)),
        ],
    )


def _funded_by_programme(funded: list[list[Any]]) -> TableOut:
    """The funded projects ([proposal, direction, grant 万元]) counted per programme."""
    from data.build_guide import load_guide

    guide = load_guide()
    programme = dict(zip(guide["code"], guide["programme"], strict=True))
    per: dict[str, list[int]] = {}
    for _proposal, direction, grant in funded:
        n_grants = per.setdefault(programme.get(direction, direction), [0, 0])
        n_grants[0] += 1
        n_grants[1] += grant
    rows = [[p, n, f"{g:,.0f}"] for p, (n, g) in sorted(per.items())]
    return TableOut(
        _("Funded projects by programme"), [_("programme"), _("funded"), _("granted (万元)")], rows
    )
