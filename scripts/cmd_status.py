"""Where a batch stands: its stages, counts, what is missing and the next command."""

from __future__ import annotations

from models.figures import label, value_text
from models.i18n import N_, _
from models.status import STAGE_NAMES, BatchStatus, Stage, status_job
from scripts.context import Ctx, batch_option, domain_errors, pass_ctx
from scripts.help_text import command
from scripts.output import Report, TableOut, output_options


def _counts(stage: Stage) -> str:
    return _("; ").join(
        _("{name} {value}", name=label(k), value=value_text(k, v)) for k, v in stage.counts.items()
    )


def _row(stage: Stage) -> list[str]:
    mark = "✓" if stage.done else "✗"
    notes = [m.render() for m in stage.missing]
    if not stage.done and stage.next:
        notes.append(_("run: {command}", command=stage.next))
    return [_(STAGE_NAMES[stage.name]), mark, _counts(stage), "\n".join(notes)]


def status_report(status: BatchStatus) -> Report:
    if status.batch is None:
        title = _("No batch yet")
    else:
        title = _("Batch {batch} ({name})", batch=status.batch, name=status.name)
    lines = []
    if status.finalized_by:
        lines.append(
            _("Finalised by {actor} at {at}.", actor=status.finalized_by, at=status.finalized_at)
        )
    if status.next:
        lines.append(_("Next: {command}", command=status.next))
    elif status.finalized_by is None:
        lines.append(_("Nothing can run until what is missing above is mended."))
    else:
        lines.append(_("Nothing left to do; `reviewopt export decisions` gives the result."))
    table = TableOut(
        title,
        [_("stage"), _("done"), _("counts"), _("missing / next")],
        [_row(s) for s in status.stages],
    )
    return Report(status.as_dict(), tables=[table], lines=lines)


@command(
    help=N_(
        "Show where the batch stands: each stage, its counts, what is missing, what to run next."
    )
)
@batch_option
@output_options
@pass_ctx
@domain_errors
def status(ctx: Ctx, batch_id: str | None) -> Report:
    return status_report(status_job(ctx.engine, batch_id))
