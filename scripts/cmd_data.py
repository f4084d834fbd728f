"""Commands for the data itself: the schema, imports, formats, exports and the audit log."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from models import io, jobs
from models.figures import word
from models.i18n import LANGUAGES, N_, _, _n
from models.problems import InvalidInput
from models.sheets import write_export
from models.titles import TITLES
from scripts.context import Ctx, domain_errors, pass_ctx
from scripts.help_text import command
from scripts.output import (
    EXIT_USAGE,
    CliError,
    Report,
    TableOut,
    output_options,
)


@command(help=N_("Create the database, or upgrade it to the newest schema."))
@output_options
@pass_ctx
@domain_errors
def init(ctx: Ctx) -> Report:
    rev = jobs.init_db(ctx.engine)
    url = ctx.engine.url.render_as_string(hide_password=True)
    return Report(
        {"database": url, "revision": rev},
        lines=[_("{url}: schema at revision {rev}", url=url, rev=rev)],
    )


def _counts_table(results: list[io.ImportCounts]) -> TableOut:
    return TableOut(
        _("Imported"),
        [
            _("kind"),
            _("file"),
            _("created"),
            _("updated"),
            _("cleared cells"),
            _("unchanged"),
            _("ignored columns"),
        ],
        [
            [
                r.kind,
                r.file,
                r.created,
                r.updated,
                r.cleared,
                r.unchanged,
                ", ".join(r.ignored_columns),
            ]
            for r in results
        ],
    )


def _findings_table(results: list[io.ImportCounts]) -> TableOut:
    rows = [[f["proposal_id"], f["expert_id"], f["kind"], f["reason"]] for r in results
            for f in r.findings]  # fmt: skip
    return TableOut(
        _n(
            "Finding: {n} imported pair is conflicted",
            "Findings: {n} imported pairs are conflicted",
            len(rows),
        ),
        [_("proposal"), _("expert"), _("conflict"), _("reason")],
        rows,
    )


@command(
    "import",
    help=N_(
        "Import a CSV/XLSX file of KIND, or `all` <kind>.csv / <kind>.xlsx files of a folder.\n\n"
        "All-or-nothing: any problem lists file, row, column, value and what was expected, exits "
        "3 and writes nothing. Re-importing updates by id and never erases: columns the file "
        "lacks keep their values, an empty cell clears an optional one. KIND: all, guide, "
        "batches, units, unit_relations, people, employment, experts, publications, "
        "direction_experts, credit_penalties, ratings, proposals, joint_directions, team_members, "
        "person_relations, recusals, in_progress_projects, assignments, reviews, truth_proposals, "
        "truth_experts, planted. See `reviewopt formats KIND` for the columns."
    ),
)
@click.argument("kind", type=click.Choice(["all", *io.kinds()]), metavar="KIND")
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--errors-out",
    type=click.Path(dir_okay=False, path_type=Path),
    help=N_("On problems, also write every one of them (one row each) to this CSV file."),
)
@click.option(
    "--max-wan",
    type=float,
    default=io.Limits().max_wan,
    show_default=True,
    help=N_("Largest amount of money (万元) any money column may hold."),
)
@output_options
@pass_ctx
@domain_errors
def import_(ctx: Ctx, kind: str, path: Path, errors_out: Path | None, max_wan: float) -> Report:
    limits = io.Limits(max_wan=max_wan)
    try:
        if kind == "all":
            results = jobs.import_all(ctx.engine, path, actor=ctx.actor, limits=limits)
        else:
            results = [jobs.import_kind(ctx.engine, kind, path, actor=ctx.actor, limits=limits)]
    except InvalidInput as exc:
        if errors_out is not None:
            errors_out.write_bytes(exc.csv_bytes())
        raise
    report = Report({"imported": jobs.counts_summary(results)}, tables=[_counts_table(results)])
    for r in results:
        report.lines += [_("{file}: {warning}", file=r.file, warning=str(w)) for w in r.warnings]
    if any(r.findings for r in results):
        report.tables.append(_findings_table(results))
    if any(r.kind == "reviews" for r in results):
        short = jobs.reviews_short(ctx.engine)
        report.data["proposals_short_of_reviews"] = short["proposal"].tolist()
        shown = ", ".join(short["proposal"].head(20)) + (" …" if len(short) > 20 else "")
        report.lines.append(
            _("Every proposal has all its reviews.")
            if short.empty
            else _n(
                "{n} proposal still short of reviews: {ids} (`reviewopt export review_status`)",
                "{n} proposals still short of reviews: {ids} (`reviewopt export review_status`)",
                len(short),
                ids=shown,
            )
        )
    return report


@command(
    help=N_(
        "Show the input format (columns, Chinese aliases, types) of KIND, or list the kinds.\n\n"
        "Enumerations list each code with the Chinese value a "
        "file may write instead (科技, 推荐, …)."
    )
)
@click.argument("kind", required=False)
@output_options
def formats(kind: str | None) -> Report:
    if kind is None:
        rows = [[k, ", ".join(r["column"] for r in io.format_rows(k))] for k in io.kinds()]
        return Report(
            {"kinds": io.kinds()},
            tables=[TableOut(_("Kinds"), [_("kind"), _("columns")], rows)],
        )
    if kind not in io.kinds():
        raise CliError(
            _("unknown kind {kind}; expected one of: {kinds}", kind=repr(kind),
              kinds=", ".join(io.kinds())),
            2,
        )  # fmt: skip
    columns = io.format_rows(kind)
    headers = [_("column"), _("Chinese header"), _("type"), _("required"), _("values"),
               _("plausible range")]  # fmt: skip
    rows = [
        [
            r["column"],
            r["zh"],
            word(r["type"]),
            _("required") if r["required"] == "required" else _("optional"),
            _("an id in {name} ({kind})", name=_(TITLES[r["ref"]]), kind=r["ref"])
            if r["ref"]
            else r["values"],
            _(r["range"]) if r["range"] else "",
        ]
        for r in columns
    ]
    return Report({"kind": kind, "columns": columns}, tables=[TableOut(kind, headers, rows)])


@command(
    help=N_(
        "Export KIND (an import kind or a result view such as decisions) as CSV or XLSX.\n\n"
        "Deliverables: invitations (专家邀请名单, with phone and "
        "e-mail), assignments (项目评审专家表), "
        "panels (会评分组). Cells a spreadsheet would run as formulas are escaped with a leading "
        "quote."
    )
)
@click.argument("kind", metavar="KIND")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "xlsx"]),
    default="csv",
    show_default=True,
    help=N_("File format (CSV goes to stdout unless --out is given)."),
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help=N_("Output file."))
@click.option(
    "--headers",
    type=click.Choice(LANGUAGES),
    help=N_("Language of the header row (default: English column names in CSV, --lang in XLSX)."),
)
@click.option(
    "--by-expert",
    is_flag=True,
    help=N_("invitations, XLSX: after the whole list, one printable sheet per expert."),
)
@click.option(
    "--with-contacts",
    is_flag=True,
    help=N_("people: include phone and e-mail (left out of every export but invitations)."),
)
@pass_ctx
@domain_errors
def export(
    ctx: Ctx,
    kind: str,
    fmt: str,
    out: Path | None,
    headers: str | None,
    by_expert: bool,
    with_contacts: bool,
) -> None:
    if kind not in jobs.export_kinds():
        raise CliError(
            _("unknown kind {kind}; expected one of: {kinds}", kind=repr(kind),
              kinds=", ".join(jobs.export_kinds())),
            2,
        )  # fmt: skip
    if fmt == "xlsx" and out is None:
        raise CliError(_("--format xlsx needs --out FILE.xlsx"), EXIT_USAGE)
    if by_expert and (kind != "invitations" or fmt != "xlsx"):
        raise CliError(_("--by-expert is for `export invitations --format xlsx`"), EXIT_USAGE)
    if with_contacts and kind != "people":
        raise CliError(
            _("--with-contacts is for `export people` (invitations always carry contacts)"),
            EXIT_USAGE,
        )
    try:
        rows, data = write_export(
            ctx.engine, kind, out, fmt, headers=headers, by_expert=by_expert, contacts=with_contacts
        )
    except OSError as exc:
        if exc.filename is None and exc.errno is not None and out is not None:
            exc.filename = str(out)  # name the file a failed write was for
        raise
    if data is not None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    click.echo(_n("wrote {n} row to {out}", "wrote {n} rows to {out}", rows, out=out), err=True)


@command(
    "audit",
    help=N_("Show the latest audit events: who ran what, when, with which seed and digests."),
)
@click.option(
    "--last", type=click.IntRange(1), default=20, show_default=True, help=N_("How many events.")
)
@output_options
@pass_ctx
@domain_errors
def audit_cmd(ctx: Ctx, last: int) -> Report:
    frame = jobs.export_kind(ctx.engine, "audit").tail(last)
    rows = [
        [e.id, e.at, e.actor, e.command, e.seed, (e.message or "")[:80]] for e in frame.itertuples()
    ]
    return Report(
        {"events": frame.astype(object).where(frame.notna(), None).to_dict("records")},
        tables=[
            TableOut(
                _("Audit log (records as written, in English)"),
                [_("event"), _("time"), _("by"), _("command"), _("seed"), _("message")],
                rows,
            )
        ],
    )
