"""The web workbench: ``serve``, its users (``user add``, ``user list``) and ``worker``."""

from __future__ import annotations

import sys

import click

from models.i18n import N_, _
from models.server_tables import ROLES
from models.users import add_user, list_users
from scripts.context import Ctx, domain_errors, pass_ctx
from scripts.help_text import command, group
from scripts.output import EXIT_USAGE, CliError, Report, TableOut, output_options


@command(help=N_("Serve the web workbench for officers, chairs and viewers over the database."))
@click.option("--host", default="127.0.0.1", show_default=True, help=N_("Address to listen on."))
@click.option(
    "--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help=N_("Port.")
)
@click.option(
    "--worker/--no-worker",
    default=True,
    show_default=True,
    help=N_("Run queued jobs in this server (else only `reviewopt worker` processes run them)."),
)
@click.option(
    "--max-upload-mb",
    type=click.IntRange(1, 1024),
    default=64,
    show_default=True,
    help=N_("Largest upload (one request, all its files)."),
)
@click.option(
    "--https-only",
    is_flag=True,
    help=N_("Send the session cookie over HTTPS only (behind a TLS proxy)."),
)
@pass_ctx
@domain_errors
def serve(
    ctx: Ctx, host: str, port: int, worker: bool, max_upload_mb: int, https_only: bool
) -> None:
    import uvicorn

    from models.db import check_schema
    from web.app import create_app

    check_schema(ctx.engine)
    app = create_app(
        ctx.engine.url.render_as_string(hide_password=False),
        worker=worker,
        max_upload_mb=max_upload_mb,
        https_only=https_only,
    )
    click.echo(_("Serving {db} at http://{host}:{port}/", db=_shown_url(ctx), host=host, port=port))
    uvicorn.run(app, host=host, port=port, log_level="info", server_header=False)


def _shown_url(ctx: Ctx) -> str:
    return ctx.engine.url.render_as_string(hide_password=True)


@command(help=N_("Run queued jobs of the workbench (on any machine that reaches the database)."))
@click.option(
    "--poll",
    type=click.FloatRange(0.1),
    default=1.0,
    show_default=True,
    help=N_("Seconds between looks."),
)
@pass_ctx
@domain_errors
def worker(ctx: Ctx, poll: float) -> None:
    from models.db import check_schema
    from scripts.worker import Worker

    check_schema(ctx.engine)
    runner = Worker(ctx.engine.url.render_as_string(hide_password=False), poll_s=poll)
    click.echo(_("Running jobs from {db}; stop with Ctrl-C.", db=_shown_url(ctx)))
    try:
        runner.run()
    except KeyboardInterrupt:
        runner.stop()


@group(help=N_("Add and list the users of the web workbench."))
def user() -> None:
    """The group of the ``user`` commands; its help is above."""


@user.command(
    "add", help=N_("Add user NAME with a role, or give an existing user a new role and password.")
)
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True, help=N_("What the user may do."))
@click.option(
    "--password-stdin",
    is_flag=True,
    help=N_("Read the password from standard input (first line)."),
)
@output_options
@pass_ctx
@domain_errors
def user_add(ctx: Ctx, name: str, role: str, password_stdin: bool) -> Report:
    if not password_stdin:
        raise CliError(_("give the password on standard input with --password-stdin"), EXIT_USAGE)
    password = sys.stdin.readline().rstrip("\r\n")
    created = add_user(ctx.engine, name, role=role, password=password, actor=ctx.actor)
    line = (
        _("added {name} as {role}", name=name, role=role)
        if created
        else _("updated {name}: role {role}, new password", name=name, role=role)
    )
    return Report({"user": name, "role": role, "created": created}, lines=[line])


@user.command("list", help=N_("List the users of the web workbench and their roles."))
@output_options
@pass_ctx
@domain_errors
def user_list(ctx: Ctx) -> Report:
    users = list_users(ctx.engine)
    return Report(
        {"users": [u.as_dict() for u in users]},
        tables=[
            TableOut(
                _("Users"),
                [_("name"), _("role"), _("active"), _("added"), _("by")],
                [[u.name, u.role, u.active, u.created_at, u.created_by] for u in users],
            )
        ],
    )
