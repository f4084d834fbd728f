"""Run a ``reviewopt`` command in this process and get its :class:`~scripts.output.Report`
instead of printing it.

The web workbench runs every batch operation this way (in a background job, or in the request
for a chair's override): the same option parsing and checks, the same job function, the same
audit event and the same tables and figures as the command typed in a terminal.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import click
from sqlalchemy import Engine

from models.db import LOCK_WAIT_S
from models.i18n import using
from scripts.context import Ctx
from scripts.output import Report


def command(name: str) -> click.Command:
    """The ``reviewopt`` command called ``name``."""
    from scripts.cli import cli

    found = cli.commands.get(name)
    if found is None:
        raise LookupError(f"no command {name!r}")
    return found


def _unprinted(cmd: click.Command) -> Callable[..., Report]:
    """The command's function under the ``output_options`` decorator, which returns the
    report rather than printing it."""
    fn = getattr(cmd.callback, "__wrapped__", None)
    if fn is None:
        raise LookupError(f"command {cmd.name!r} does not return a report")
    return fn  # type: ignore[no-any-return]


def invoke(
    name: str,
    args: Sequence[str],
    *,
    engine: Engine,
    actor: str,
    lang: str,
    wait_s: float = 0.0,
) -> Report:
    """``reviewopt --actor ACTOR --lang LANG --wait WAIT_S NAME ARGS...`` on ``engine``.

    Raises what the command raises: ``click.UsageError`` (bad options) or
    :class:`~scripts.output.CliError` (with the command's exit code)."""
    from scripts.cli import cli

    cmd = command(name)
    obj = Ctx(engine.url.render_as_string(hide_password=False), actor, engine=engine)
    token = LOCK_WAIT_S.set(wait_s)
    try:
        with using(lang), click.Context(cli, info_name="reviewopt", obj=obj) as root:
            with cmd.make_context(name, list(args), parent=root) as sub:
                params: dict[str, Any] = {k: v for k, v in sub.params.items() if k != "as_json"}
                return sub.invoke(_unprinted(cmd), **params)
    finally:
        LOCK_WAIT_S.reset(token)
        obj.close()


def check(name: str, args: Sequence[str]) -> None:
    """Parse ``args`` as command ``name``'s would be (raises ``click.UsageError``), without
    running it: a form's mistakes are told before its job is queued."""
    cmd = command(name)
    with cmd.make_context(name, list(args)):
        pass
