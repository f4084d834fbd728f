"""``--help`` in the reader's language.

Click reads ``help=`` strings when the commands are defined, before ``--lang`` is parsed, so the
commands keep the English (marked ``N_``) and :class:`Command` / :class:`Group` translate it while
the help is formatted: the command's help and short help, each option's help and the words click
adds to a help page (``Usage:``, section titles, ``[default: …]``, ``[required]``). In English the
page is what click writes. Placeholders (``KIND``, ``FILE``, ``[zh|en]``) stay as they are typed.
"""

from __future__ import annotations

import inspect
import re
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


_CLOSING = "，。；：、）”！？"
_TOKEN = re.compile(f"[{_CLOSING}]+|[^\\s{_CLOSING}]")


def _wide(char: str) -> bool:
    return display_width(char) == 2


def fill(text: str, width: int) -> list[str]:
    """The lines of one paragraph ``text`` within ``width`` display columns (a CJK character
    takes two): lines break at spaces or between CJK characters, never before closing
    punctuation or after opening punctuation, and a word longer than the line stays whole."""
    words: list[tuple[bool, str]] = []  # (space before, word)
    for i, chunk in enumerate(text.split()):
        for j, piece in enumerate(_TOKEN.findall(chunk)):
            if not j:
                words.append((bool(i), piece))
            elif (
                piece[0] in _CLOSING
                or words[-1][1][-1] in "（“"
                or not (_wide(piece) or _wide(words[-1][1][-1]))
            ):
                words[-1] = (words[-1][0], words[-1][1] + piece)  # no break before it
            else:
                words.append((False, piece))  # a break may fall beside a CJK character
    lines: list[str] = []
    line = ""
    for space, word in words:
        piece = (" " if space and line else "") + word
        if line and display_width(line + piece) > width:
            lines.append(line)
            line = word
        else:
            line += piece
    return [*lines, line] if line else lines


def _kept(text: str, width: int) -> str:
    """``text`` filled to ``width`` columns, each paragraph marked (``\\b``) for click to keep."""
    if not text:
        return text
    return "\n\n".join("\b\n" + "\n".join(fill(p, width)) for p in text.split("\n\n"))


class Formatter(click.HelpFormatter):
    """click's help formatter with its usage prefix and section titles translated, and the
    text of other languages than English wrapped by display width (click counts characters, so
    a line of Chinese would run twice as wide as the page)."""

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        super().write_usage(prog, args, _("Usage: ") if prefix is None else prefix)

    def section(self, name: str) -> Any:
        return super().section(_(name))

    def write_text(self, text: str) -> None:
        if language() != "en":
            text = _kept(text, self.width - self.current_indent)
        super().write_text(text)

    def write_dl(self, rows: Any, col_max: int = 30, col_spacing: int = 2) -> None:
        rows = list(rows)
        if language() != "en" and rows:
            first_col = min(max(display_width(first) for first, _s in rows), col_max) + col_spacing
            width = max(self.width - first_col - 2, 10)  # as click lays out the second column
            rows = [(first, _kept(second, width)) for first, second in rows]
        super().write_dl(rows, col_max, col_spacing)

    def write_heading(self, heading: str) -> None:
        self.write(" " * self.current_indent + _("{heading}:", heading=heading) + "\n")


class Context(click.Context):
    formatter_class = Formatter


def _short(text: str, limit: int) -> str:
    """The first sentence of translated ``text`` within ``limit`` columns (a CJK character takes
    two); one too long is cut after its last clause that fits (else anywhere) and ends in "…"."""
    sentence = text.split("\n\n")[0].replace("\n", " ").split("。")[0]
    if display_width(sentence) <= limit:
        return sentence
    cut = sentence
    while display_width(cut) > limit - 1:
        cut = cut[:-1]
    clause = re.match(r"(.*)[，；：]", cut)
    return (clause.group(1) if clause else cut) + "…"


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
