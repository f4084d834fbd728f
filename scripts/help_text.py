"""``--help`` in the reader's language.

Click reads ``help=`` strings when the commands are defined, before ``--lang`` is parsed, so the
commands keep the English (marked ``N_``) and :class:`Command` / :class:`Group` translate it while
the help is formatted: the command's help and short help, each option's help and the words click
adds to a help page (``Usage:``, section titles, ``[default: …]``, ``[required]``). In English the
page is what click writes. Placeholders (``KIND``, ``FILE``, ``[zh|en]``) stay as they are typed.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import click

from models.i18n import N_, _, language
from models.workbook import display_width

#: click's own words on a help page (click words them in English; these are their msgids).
CLICK_WORDS = (
    N_("Options"),
    N_("Commands"),
    N_("Positional arguments"),
    N_("[OPTIONS]"),
    N_("COMMAND [ARGS]..."),
    N_("Show this message and exit."),
    N_("Show the version and exit."),
    N_("required"),
)


class Formatter(click.HelpFormatter):
    """click's help formatter with its usage prefix and section titles translated."""

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        super().write_usage(prog, args, _("Usage:") + " " if prefix is None else prefix)

    def section(self, name: str) -> Any:
        return super().section(_(name))


class Context(click.Context):
    formatter_class = Formatter


def _short(text: str, limit: int) -> str:
    """The first sentence of translated ``text`` that fits ``limit`` columns (a CJK character
    takes two), cut with "…" when it does not."""
    first = text.split("\n\n")[0].replace("\n", " ")
    sentence = first.split("。")[0]
    if display_width(sentence) <= limit:
        return sentence
    while display_width(sentence) > limit - 1:
        sentence = sentence[:-1]
    return sentence + "…"


def _option_row(ctx: click.Context, param: click.Option) -> tuple[str, str]:
    """The option's line in the help (as click lays it out), its words translated."""
    spec, _english = param.get_help_record(ctx) or ("", "")
    extra = param.get_help_extra(ctx)
    items = []
    if "envvars" in extra:
        items.append(_("env var: {var}", var=", ".join(extra["envvars"])))
    if "default" in extra:
        default = extra["default"]
        if isinstance(param.show_default, str):
            default = "(" + _(param.show_default) + ")"
        items.append(_("default: {default}", default=default))
    if "range" in extra:
        items.append(extra["range"])
    if "required" in extra:
        items.append(_(extra["required"]))
    text = _(param.help) if param.help else ""
    if items:
        extras = "[" + "; ".join(items) + "]"
        text = f"{text}  {extras}" if text else extras
    return spec, text


class Command(click.Command):
    """A command whose help page is in the current language."""

    context_class = Context

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        return [_(piece) for piece in super().collect_usage_pieces(ctx)]

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        text = inspect.cleandoc(_(self.help)) if self.help else ""
        if text:
            formatter.write_paragraph()
            with formatter.indentation():
                formatter.write_text(text)

    def get_short_help_str(self, limit: int = 45) -> str:
        if language() == "en":
            return super().get_short_help_str(limit)
        text = self.short_help or self.help
        return _short(inspect.cleandoc(_(text)), limit) if text else ""

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [
            _option_row(ctx, param)
            for param in self.get_params(ctx)
            if isinstance(param, click.Option) and not param.hidden
        ]
        if rows:
            with formatter.section(N_("Options")):
                formatter.write_dl(rows)


class Group(Command, click.Group):
    """A group of commands whose help pages (its own and its commands') are translated."""

    command_class = Command
    group_class = type  # subgroups are of this class too

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_options(ctx, formatter)
        self.format_commands(ctx, formatter)


def command(*args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], Command]:
    """``click.command`` making a :class:`Command`."""
    return click.command(*args, cls=Command, **kwargs)


def group(*args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], Group]:
    """``click.group`` making a :class:`Group`."""
    return click.group(*args, cls=Group, **kwargs)
