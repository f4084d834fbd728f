"""What every command shares: the context (database, actor), domain errors mapped to exit
codes, and the common options.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click
from sqlalchemy import Engine

from models import assign_jobs, select_jobs
from models.db import BatchLocked, SchemaOutOfDate, database_url, make_engine
from models.problems import InvalidInput
from scripts.output import EXIT_INFEASIBLE, EXIT_INVALID_INPUT, EXIT_LOCKED, CliError


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


def domain_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the library's domain exceptions into CLI errors with documented exit codes."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except InvalidInput as exc:
            raise CliError(str(exc), EXIT_INVALID_INPUT) from None
        except select_jobs.BatchFinalized as exc:
            raise CliError(str(exc)) from None
        except assign_jobs.Infeasible as exc:
            raise CliError(str(exc), EXIT_INFEASIBLE) from None
        except BatchLocked as exc:
            raise CliError(str(exc), EXIT_LOCKED) from None
        except (SchemaOutOfDate, LookupError) as exc:
            raise CliError(str(exc)) from None
        except ValueError as exc:
            raise CliError(str(exc), EXIT_INVALID_INPUT) from None

    return wrapper


pass_ctx = click.make_pass_decorator(Ctx)


def batch_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--batch", "batch_id", metavar="ID", help="Batch id (default: the only batch)."
    )(fn)


def frame_rows(frame: Any, limit: int | None = None) -> list[list[Any]]:
    rows = frame.head(limit) if limit else frame
    return [list(r) for r in rows.itertuples(index=False)]
