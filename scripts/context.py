"""What every command shares: the context (database, actor), errors mapped to one line with a
documented exit code, and the common options.

No traceback reaches a user: domain errors keep their message; errors of the environment (a
database that cannot be reached or is not one, a full disk, a folder given as a file, a file
that cannot be written) are said in one line with the fix; anything else is an internal error,
one line too, and ``REVIEWOPT_DEBUG=1`` shows the traceback.
"""

from __future__ import annotations

import errno
import functools
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import click
from sqlalchemy import Engine

from models.db import (
    BatchLocked,
    SchemaOutOfDate,
    database_problem,
    database_url,
    make_engine,
)
from models.finalisation import BatchFinalized
from models.i18n import N_, _
from models.problems import Infeasible, InvalidInput
from scripts.output import (
    EXIT_ERROR,
    EXIT_INFEASIBLE,
    EXIT_INVALID_INPUT,
    EXIT_LOCKED,
    CliError,
    show_cause,
)

EXIT_TERMINATED = 128 + signal.SIGTERM
EXIT_INTERRUPTED = 128 + signal.SIGINT


class Ctx:
    """Options shared by every command; the engine is made on first use."""

    def __init__(self, db: str | None, actor: str, engine: Engine | None = None) -> None:
        self.url = database_url(db)
        self.actor = actor
        self._engine: Engine | None = engine
        self._own_engine = engine is None  # a server's engine is the server's to close

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.url)
        return self._engine

    def close(self) -> None:
        if self._engine is not None and self._own_engine:
            self._engine.dispose()


class Terminated(BaseException):
    """The process was asked to stop (SIGTERM): unwinds like Ctrl-C, so that the run's
    transaction rolls back and its batch lock is released."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise Terminated(signum)


@contextmanager
def stop_cleanly_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM into :class:`Terminated` inside the block (main thread only)."""
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _os_message(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        if exc.filename is None:
            return _("no space left on the disk; free some space and run it again")
        return _(
            "no space left on the disk while writing {file}; free some space and run it again",
            file=exc.filename,
        )
    if exc.filename is None:
        return str(exc.strerror or exc)
    name = exc.filename
    if isinstance(exc, IsADirectoryError):
        return _("{file} is a folder; give a file", file=name)
    if isinstance(exc, NotADirectoryError):
        return _("{file}: a part of this path is a file, not a folder", file=name)
    if isinstance(exc, FileNotFoundError):
        return _("{file}: no such file or folder", file=name)
    if isinstance(exc, PermissionError):
        return _("{file}: permission denied", file=name)
    return _("{file}: {error}", file=name, error=exc.strerror or str(exc))


def _url() -> str:
    ctx = click.get_current_context(silent=True)
    obj = ctx.find_object(Ctx) if ctx is not None else None
    return obj.url if obj is not None else database_url()


def cli_error(exc: BaseException) -> CliError:
    """The one-line error (and exit code) for an exception a command raised."""
    if isinstance(exc, CliError):
        return exc
    if isinstance(exc, InvalidInput):
        return CliError(lambda: str(exc), EXIT_INVALID_INPUT, problems=exc.records)
    if isinstance(exc, Terminated):
        return CliError(
            lambda: _("stopped by SIGTERM; nothing of this run was written"), EXIT_TERMINATED
        )
    if isinstance(exc, KeyboardInterrupt):
        return CliError(lambda: _("interrupted; nothing of this run was written"), EXIT_INTERRUPTED)
    if isinstance(exc, Infeasible):
        return CliError(lambda: str(exc), EXIT_INFEASIBLE)
    if isinstance(exc, BatchLocked | BatchFinalized):
        return CliError(lambda: str(exc), EXIT_LOCKED)
    if isinstance(exc, SchemaOutOfDate | LookupError):
        return CliError(lambda: str(exc))
    url = _url()
    db = database_problem(exc, url)
    if db is not None:
        return CliError(lambda: database_problem(exc, url) or "", EXIT_ERROR)
    if isinstance(exc, OSError):
        return CliError(lambda: _os_message(exc))
    if isinstance(exc, UnicodeError):
        return CliError(
            lambda: _("text that is not in the expected encoding: {error}", error=str(exc)),
            EXIT_INVALID_INPUT,
        )
    if isinstance(exc, ValueError):
        return CliError(lambda: str(exc), EXIT_INVALID_INPUT)
    if isinstance(exc, MemoryError):
        return CliError(lambda: _("out of memory; try a smaller batch or a larger machine"))
    return CliError(
        lambda: _(
            "internal error ({kind}: {error}); please report it with the command you ran "
            "(REVIEWOPT_DEBUG=1 shows the traceback)",
            kind=type(exc).__name__,
            error=str(exc),
        )
    )


@contextmanager
def one_line_errors(as_json: bool = False) -> Iterator[None]:
    """Every error of the block as one line on stderr (or, with ``as_json``, one JSON object on
    stdout) with its exit code; click's usage errors and exits pass as they are."""
    try:
        yield
    except (click.exceptions.Exit, click.exceptions.Abort):
        raise
    except click.ClickException as exc:
        if as_json and isinstance(exc, CliError):
            _json_exit(exc)
        raise
    except (Exception, KeyboardInterrupt, Terminated) as exc:  # noqa: BLE001 - all become one line
        err = cli_error(exc)
        err.__cause__ = exc
        if as_json:
            _json_exit(err)
        raise err from exc


def _json_exit(err: CliError) -> None:
    show_cause(err)
    click.echo(err.as_json())
    sys.exit(err.exit_code)


def domain_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn whatever a command raises into a one-line CLI error with its exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with one_line_errors():
            return fn(*args, **kwargs)

    return wrapper


pass_ctx = click.make_pass_decorator(Ctx)


def batch_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--batch", "batch_id", metavar="ID", help=N_("Batch id (default: the only batch).")
    )(fn)


def frame_rows(frame: Any, limit: int | None = None) -> list[list[Any]]:
    rows = frame.head(limit) if limit else frame
    return [list(r) for r in rows.itertuples(index=False)]
