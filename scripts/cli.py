"""The ``reviewopt`` command line: parse options, call one job, render the result.

Exit codes: 0 success, 1 error, 2 usage, 3 invalid input (nothing written), 4 infeasible
(with a diagnosis), 5 batch locked by another run.
"""

from __future__ import annotations

import functools
import getpass
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from sqlalchemy import Engine

from models import io, jobs
from models.db import BatchLocked, SchemaOutOfDate, database_url, make_engine
from scripts.output import (
    EXIT_INVALID_INPUT,
    EXIT_LOCKED,
    CliError,
    Report,
    TableOut,
    output_options,
    write_table_option,
)


class Ctx:
    """Options shared by every command; the engine is made on first use."""

    def __init__(self, db: str | None, actor: str) -> None:
        self.url = database_url(db)
        self.actor = actor
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.url)
        return self._engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


def domain_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the library's domain exceptions into CLI errors with documented exit codes."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except io.InvalidInput as exc:
            raise CliError(str(exc), EXIT_INVALID_INPUT) from None
        except BatchLocked as exc:
            raise CliError(str(exc), EXIT_LOCKED) from None
        except (SchemaOutOfDate, LookupError) as exc:
            raise CliError(str(exc)) from None
        except ValueError as exc:
            raise CliError(str(exc), EXIT_INVALID_INPUT) from None

    return wrapper


pass_ctx = click.make_pass_decorator(Ctx)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--db",
    metavar="URL",
    help="Database URL (default: $REVIEWOPT_DB or sqlite:///reviewopt.db in this folder).",
)
@click.option(
    "--actor",
    default=lambda: getpass.getuser(),
    show_default="your user name",
    help="Who runs the command (recorded in the audit log).",
)
@click.version_option(package_name="reviewopt")
@click.pass_context
def cli(ctx: click.Context, db: str | None, actor: str) -> None:
    """reviewopt: screen proposals, assign expert reviewers, calibrate scores, select projects."""
    ctx.obj = Ctx(db, actor)
    ctx.call_on_close(ctx.obj.close)


@cli.command()
@output_options
@pass_ctx
@domain_errors
def init(ctx: Ctx) -> Report:
    """Create the database, or upgrade it to the newest schema."""
    rev = jobs.init_db(ctx.engine)
    url = ctx.engine.url.render_as_string(hide_password=True)
    return Report({"database": url, "revision": rev}, lines=[f"{url}: schema at revision {rev}"])


def _counts_table(results: list[io.ImportCounts]) -> TableOut:
    return TableOut(
        "Imported",
        ["kind", "file", "created", "updated", "unchanged", "ignored columns"],
        [
            [r.kind, r.file, r.created, r.updated, r.unchanged, ", ".join(r.ignored_columns)]
            for r in results
        ],
    )


@cli.command(
    "import",
    help="Import a CSV/XLSX file of KIND, or `all` <kind>.csv files of a folder.\n\n"
    "All-or-nothing: any problem lists file, row, column, value and what was expected, exits 3 "
    "and writes nothing. Re-importing the same rows changes nothing. KIND: all, "
    + ", ".join(io.IMPORT_KINDS)
    + ". See `reviewopt formats KIND` for the columns.",
)
@click.argument("kind", type=click.Choice(["all", *io.IMPORT_KINDS]), metavar="KIND")
@click.argument("path", type=click.Path(path_type=Path))
@output_options
@pass_ctx
@domain_errors
def import_(ctx: Ctx, kind: str, path: Path) -> Report:
    if kind == "all":
        results = jobs.import_all(ctx.engine, path, actor=ctx.actor)
    else:
        results = [jobs.import_kind(ctx.engine, kind, path, actor=ctx.actor)]
    return Report({"imported": jobs.counts_summary(results)}, tables=[_counts_table(results)])


@cli.command()
@click.argument("kind", required=False)
@output_options
def formats(kind: str | None) -> Report:
    """Show the input format (columns, Chinese aliases, types) of KIND, or list the kinds."""
    if kind is None:
        rows = [[k, ", ".join(r["column"] for r in io.format_rows(k))] for k in io.IMPORT_KINDS]
        return Report(
            {"kinds": list(io.IMPORT_KINDS)}, tables=[TableOut("Kinds", ["kind", "columns"], rows)]
        )
    if kind not in io.IMPORT_KINDS:
        raise CliError(f"unknown kind {kind!r}; expected one of: {', '.join(io.IMPORT_KINDS)}", 2)
    rows = io.format_rows(kind)
    return Report(
        {"kind": kind, "columns": rows},
        tables=[TableOut(kind, list(rows[0]), [list(r.values()) for r in rows])],
    )


@cli.command()
@click.argument("kind", metavar="KIND")
@write_table_option
@pass_ctx
@domain_errors
def export(ctx: Ctx, kind: str) -> Any:
    """Export KIND (an import kind or a result view such as decisions) as CSV or XLSX.

    Cells a spreadsheet would run as formulas are escaped with a leading quote.
    """
    if kind not in jobs.export_kinds():
        raise CliError(
            f"unknown kind {kind!r}; expected one of: {', '.join(jobs.export_kinds())}", 2
        )
    return jobs.export_kind(ctx.engine, kind)


def main() -> None:
    """Console entry point."""
    cli(prog_name="reviewopt")


if __name__ == "__main__":
    sys.exit(main())
