"""The ``reviewopt`` command line: parse options, call one job, render the result.

The commands live in ``scripts/cmd_*.py`` by stage; this module holds the group, its global
options and the order in which ``--help`` lists them.

Exit codes: 0 success, 1 error, 2 usage, 3 invalid input (nothing written), 4 infeasible
(with a diagnosis), 5 batch locked by another run, 130/143 stopped by Ctrl-C/SIGTERM.
"""

from __future__ import annotations

import getpass

import click

from models.db import LOCK_WAIT_S, RUN_ACTOR, RUN_COMMAND
from models.i18n import LANGUAGES, N_, default_language, set_language
from scripts import (
    cmd_affinity,
    cmd_assign,
    cmd_data,
    cmd_decide,
    cmd_demo,
    cmd_report,
    cmd_screen,
    cmd_serve,
    cmd_status,
)
from scripts.context import Ctx, stop_cleanly_on_sigterm
from scripts.help_text import Group


class _InOrder(Group):
    """Lists the commands in the order the pipeline runs them, not alphabetically."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)


def _use_language(_ctx: click.Context, _param: click.Parameter, lang: str | None) -> str | None:
    set_language(lang or default_language())
    return lang


@click.group(
    cls=_InOrder,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    help=N_(
        "reviewopt: screen proposals, assign expert reviewers, calibrate scores, select projects."
    ),
)
@click.option(
    "--db",
    metavar="URL",
    help=N_("Database URL (default: $REVIEWOPT_DB or sqlite:///reviewopt.db in this folder)."),
)
@click.option(
    "--actor",
    default=lambda: getpass.getuser(),
    show_default=N_("your user name"),
    help=N_("Who runs the command (recorded in the audit log)."),
)
@click.option(
    "--wait",
    type=click.FloatRange(0),
    default=0.0,
    show_default=True,
    metavar="SECONDS",
    help=N_("How long to wait for a batch another run holds (then exit 5)."),
)
@click.option(
    "--lang",
    type=click.Choice(LANGUAGES),
    envvar="REVIEWOPT_LANG",
    is_eager=True,  # before an eager --help, so that the help is in this language
    callback=_use_language,
    help=N_(
        "Language of text for people (default: $REVIEWOPT_LANG, else zh under a zh_* locale, "
        "else en). --json, CSV columns and exit codes never change with it."
    ),
)
@click.version_option(package_name="reviewopt")
@click.pass_context
def cli(ctx: click.Context, db: str | None, actor: str, wait: float, lang: str | None) -> None:
    LOCK_WAIT_S.set(wait)
    actor_token = RUN_ACTOR.set(actor)
    command_token = RUN_COMMAND.set(ctx.invoked_subcommand or "")
    ctx.obj = Ctx(db, actor)
    ctx.call_on_close(ctx.obj.close)
    ctx.call_on_close(lambda: RUN_ACTOR.reset(actor_token))
    ctx.call_on_close(lambda: RUN_COMMAND.reset(command_token))
    ctx.with_resource(stop_cleanly_on_sigterm())


for _command in (
    cmd_data.init,
    cmd_data.import_,
    cmd_data.formats,
    cmd_data.export,
    cmd_status.status,
    cmd_screen.screen,
    cmd_screen.waive,
    cmd_screen.pool,
    cmd_screen.conflicts,
    cmd_screen.explain,
    cmd_affinity.affinity,
    cmd_assign.assign,
    cmd_assign.replace,
    cmd_assign.solve,
    cmd_decide.rank,
    cmd_decide.select_cmd,
    cmd_decide.override,
    cmd_decide.finalize,
    cmd_decide.unlock,
    cmd_report.report,
    cmd_data.audit_cmd,
    cmd_demo.generate,
    cmd_demo.demo,
    cmd_serve.user,
    cmd_serve.serve,
    cmd_serve.worker,
):
    cli.add_command(_command)


def main() -> None:
    """Console entry point."""
    cli(prog_name="reviewopt")


if __name__ == "__main__":
    main()
