"""The specialty match from plain files, no database: ``reviewopt affinity``."""

from __future__ import annotations

import time
from pathlib import Path

import click

from models.i18n import N_, _
from scripts.context import domain_errors
from scripts.help_text import command
from scripts.output import EXIT_USAGE, CliError, Report, output_options


@command(
    help=N_("Score the specialty match of proposals and experts from plain files (no database).")
)
@click.option(
    "--proposals",
    "proposals_file",
    type=click.Path(path_type=Path),
    required=True,
    help=N_("proposal_id,title,abstract[,keywords,disciplines] CSV."),
)
@click.option(
    "--experts",
    "experts_file",
    type=click.Path(path_type=Path),
    required=True,
    help=N_("expert_id[,keywords,profile,disciplines] CSV."),
)
@click.option(
    "--publications",
    "publications_file",
    type=click.Path(path_type=Path),
    help=N_("expert_id,title[,abstract,keywords,year] CSV: the experts' works, several rows each."),
)
@click.option("--all-pairs", is_flag=True, help=N_("Write every (proposal, expert) pair."))
@click.option("--top", type=click.IntRange(1), help=N_("Write each proposal's N best experts."))
@click.option(
    "--embedding-model",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help=N_(
        "A sentence-transformers model folder on disk; its similarities join the lexical ones "
        "(needs reviewopt[embeddings])."
    ),
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help=N_("proposal,expert,score CSV to write (what reviewopt solve --scores reads)."),
)
@output_options
@domain_errors
def affinity(
    proposals_file: Path,
    experts_file: Path,
    publications_file: Path | None,
    all_pairs: bool,
    top: int | None,
    embedding_model: Path | None,
    out: Path,
) -> Report:
    from assign.match_files import match_pairs, read_match_files, write_pairs

    if all_pairs == (top is not None):
        raise CliError(_("give exactly one of --all-pairs and --top N"), EXIT_USAGE)
    t0 = time.perf_counter()
    inp = read_match_files(proposals_file, experts_file, publications_file)
    pairs = write_pairs(match_pairs(inp, top=top, embedding_model=embedding_model), out)
    data = {
        "proposals": len(inp.proposals),
        "experts": len(inp.experts),
        "pairs": pairs,
        "wall_s": round(time.perf_counter() - t0, 3),
    }
    return Report(
        data,
        lines=[
            _(
                "{pairs} pairs of {proposals} proposals and {experts} experts written to {out}",
                pairs=pairs,
                proposals=data["proposals"],
                experts=data["experts"],
                out=str(out),
            )
        ],
    )
