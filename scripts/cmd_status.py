"""Where a batch stands: its stages, counts, what is missing and the next command."""

from __future__ import annotations

import click

from models.i18n import N_, _
from models.status import BatchStatus, Stage, status_job
from scripts.context import Ctx, batch_option, domain_errors, pass_ctx
from scripts.output import Report, TableOut, output_options

STAGE_NAMES = {
    "imported": N_("Data imported"),
    "screened": N_("Screening (形式审查)"),
    "pool": N_("Expert pool"),
    "conflicts": N_("Conflicts of interest (回避)"),
    "assigned": N_("Experts assigned"),
    "declines": N_("Declines replaced"),
    "reviews": N_("Reviews returned"),
    "ranked": N_("Calibrated ranking"),
    "selected": N_("Selection"),
    "finalised": N_("Finalised"),
}

COUNT_NAMES = {
    "proposals": N_("proposals"),
    "directions": N_("directions"),
    "experts": N_("experts"),
    "units": N_("units"),
    "screened": N_("screened"),
    "eligible": N_("eligible"),
    "warnings": N_("with warnings"),
    "rejected": N_("rejected"),
    "set_aside": N_("set aside"),
    "available": N_("available"),
    "pairs": N_("conflicted pairs"),
    "run_id": N_("run"),
    "proposals_to_assign": N_("proposals to assign"),
    "proposals_assigned": N_("proposals with experts"),
    "invitations": N_("invitations"),
    "reserves": N_("reserves"),
    "panels": N_("panels"),
    "panel_members": N_("panel members"),
    "declined": N_("declined"),
    "open": N_("places open"),
    "reviews_in": N_("reviews in"),
    "reviews_expected": N_("reviews expected"),
    "proposals_complete": N_("proposals complete"),
    "proposals_short": N_("proposals short"),
    "proposals_ranked": N_("proposals ranked"),
    "methods": N_("methods"),
    "funded": N_("funded"),
    "directions_funded": N_("directions funded"),
    "grants_total_wan": N_("granted (万元)"),
    "alternates": N_("alternates"),
}


def _counts(stage: Stage) -> str:
    return _("; ").join(
        _("{name} {value}", name=_(COUNT_NAMES.get(k, k)), value=f"{v:,}")
        for k, v in stage.counts.items()
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


@click.command()
@batch_option
@output_options
@pass_ctx
@domain_errors
def status(ctx: Ctx, batch_id: str | None) -> Report:
    """Show where the batch stands: each stage, its counts, what is missing, what to run next."""
    return status_report(status_job(ctx.engine, batch_id))
