"""The batch report for chairs and directors: one self-contained HTML file."""

from __future__ import annotations

from pathlib import Path

import click

from models.i18n import LANGUAGES, N_, _, language, using
from scripts.context import Ctx, batch_option, domain_errors, pass_ctx
from scripts.help_text import command
from scripts.output import Report, output_options


@command(
    help=N_(
        "Write the batch report for chairs and directors as one self-contained HTML page.\n\n"
        "Sections, each where its stage has run: overview, screening, assignment, per "
        "direction, reviewers, audit. It reads the database only."
    )
)
@batch_option
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    metavar="FILE.html",
    help=N_("The HTML file to write (replaced if present)."),
)
@click.option(
    "--lang",
    type=click.Choice(LANGUAGES),
    help=N_("Language of the page (default: the global --lang)."),
)
@output_options
@pass_ctx
@domain_errors
def report(ctx: Ctx, batch_id: str | None, out: Path, lang: str | None) -> Report:
    from models.report.write import write_report  # matplotlib: loaded when a report is drawn

    with using(lang or language()):
        written = write_report(ctx.engine, batch_id, out)
        line = _(
            "Wrote {path} ({kb:,} KB; sections: {sections}).",
            path=str(written.path),
            kb=max(1, round(written.bytes / 1024)),
            sections=", ".join(written.sections),
        )
    return Report(written.as_dict(), lines=[line])
