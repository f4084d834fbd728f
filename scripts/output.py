"""Rendering for the CLI: readable tables for people (CJK-aware), one JSON line for jobs.

Every command returns a :class:`Report`; the shared ``output_options`` decorator adds ``--json``
and prints the report one way or the other. Errors are one line (or one list of input
problems) on stderr with documented exit codes; under ``--json`` one JSON object on stdout,
``{"error": ..., "exit_code": ..., "problems": [...]}``, in English whatever the language.
``REVIEWOPT_DEBUG=1`` adds the traceback of the error's cause on stderr.
"""

from __future__ import annotations

import contextvars
import functools
import json
import math
import os
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import click
import numpy as np
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from models.figures import word
from models.i18n import N_, _, using

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INVALID_INPUT = 3
EXIT_INFEASIBLE = 4
EXIT_LOCKED = 5

JSON_OUTPUT: contextvars.ContextVar[bool] = contextvars.ContextVar("json_output", default=False)
"""True while a command prints ``--json``: progress bars stay hidden (nothing extra)."""


def debugging() -> bool:
    """Whether ``REVIEWOPT_DEBUG`` asks for tracebacks."""
    return os.environ.get("REVIEWOPT_DEBUG", "").strip() not in ("", "0", "false", "no")


class CliError(click.ClickException):
    """An error with its exit code; the message says the cause and the fix.

    ``message`` may be a function that renders it, so that ``--json`` can give it in English;
    ``problems`` a function giving the input problems as records (``--json``)."""

    def __init__(
        self,
        message: str | Callable[[], str],
        code: int = EXIT_ERROR,
        *,
        problems: Callable[[], list[dict[str, Any]]] | None = None,
    ) -> None:
        self.render = message if callable(message) else (lambda: message)
        self.problems = problems or list
        super().__init__(self.render())
        self.exit_code = code  # type: ignore[misc]  # click reads it per instance

    def format_message(self) -> str:
        return self.render()

    def show(self, file: Any = None) -> None:
        show_cause(self)
        click.echo(_("Error: {message}", message=self.format_message()), err=True)

    def as_json(self) -> str:
        with using("en"):
            return to_json(
                {"error": self.render(), "exit_code": self.exit_code, "problems": self.problems()}
            )


def show_cause(exc: BaseException) -> None:
    """The traceback of what caused ``exc``, on stderr, when ``REVIEWOPT_DEBUG`` is set."""
    cause = exc.__cause__
    if cause is not None and debugging():
        traceback.print_exception(cause, file=sys.stderr)


@dataclass
class TableOut:
    """A titled table: column headers and rows of cells."""

    title: str
    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]


@dataclass
class Report:
    """What a command produced: ``data`` for ``--json``, tables and lines for people."""

    data: dict[str, Any]
    tables: list[TableOut] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    exit_code: int = 0


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return _jsonable(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def to_json(data: dict[str, Any]) -> str:
    """One line of JSON; NaN and infinities become null, Chinese stays readable."""
    return json.dumps(_jsonable(data), ensure_ascii=False, default=str, allow_nan=False)


def cell_text(v: Any) -> str:
    """A table cell as the terminal shows it (numbers rounded, yes/no, empty for missing)."""
    if v is None:
        return ""
    if isinstance(v, float | np.floating):
        x = float(v)
        if not math.isfinite(x):
            return ""
        return f"{x:,.3f}".rstrip("0").rstrip(".") if abs(x) < 1e6 else f"{x:,.0f}"
    if isinstance(v, bool | np.bool_):
        return _("yes") if v else _("no")
    return str(v)


def render(report: Report, console: Console) -> None:
    for t in report.tables:
        table = Table(title=t.title, title_justify="left", header_style="bold")
        for c in t.columns:
            table.add_column(c)
        for r in t.rows:
            table.add_row(*(cell_text(v) for v in r))
        console.print(table)
    for line in report.lines:
        console.print(line, highlight=False, markup=False)


def output_options(fn: Callable[..., Report]) -> Callable[..., None]:
    """Add ``--json`` and print the command's :class:`Report` as a table or as one JSON line."""

    @click.option("--json", "as_json", is_flag=True, help=N_("Print one JSON object (for jobs)."))
    @functools.wraps(fn)
    def wrapper(*args: Any, as_json: bool, **kwargs: Any) -> None:
        from scripts.context import one_line_errors

        token = JSON_OUTPUT.set(as_json)
        try:
            with one_line_errors(as_json):
                report = fn(*args, **kwargs)
        finally:
            JSON_OUTPUT.reset(token)
        if as_json:
            click.echo(to_json(report.data))
        else:
            render(report, Console(soft_wrap=False, width=max(Console().width, 120)))
        if report.exit_code:
            sys.exit(report.exit_code)

    return wrapper


PROGRESS_SINK: ContextVar[Callable[[str, float], None] | None] = ContextVar(
    "progress_sink", default=None
)
"""Where progress goes instead of the terminal (a job of the web workbench records it)."""


@contextmanager
def progress_bar(enabled: bool = True) -> Iterator[Callable[[str, float], None]]:
    """A progress callback ``(stage, fraction)`` drawing a bar on stderr with the stage in
    words (hidden when piped and under ``--json``), or handing it to :data:`PROGRESS_SINK`
    where one is set."""
    sink = PROGRESS_SINK.get()
    if sink is not None:
        yield sink
        return
    console = Console(stderr=True)
    if not enabled or not console.is_terminal or JSON_OUTPUT.get():
        yield lambda stage, fraction: None
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as prog:
        tasks: dict[str, Any] = {}

        def update(stage: str, fraction: float) -> None:
            if stage not in tasks:
                tasks[stage] = prog.add_task(word(stage), total=1.0)
            prog.update(tasks[stage], completed=min(max(fraction, 0.0), 1.0))

        yield update
