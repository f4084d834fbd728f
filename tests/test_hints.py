"""Every hint names options that exist: each ``--option`` in a message for people or an error
string is an option of a ``reviewopt`` command; one quoted as `` `reviewopt COMMAND ...` `` is an
option of that command; and the selection's hints name options of ``select`` or
``override``."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import click

from scripts.catalogue import ROOT, extract
from scripts.cli import cli

OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
COMMAND = re.compile(r"`reviewopt ([a-z][a-z_-]*)([^`]*)`")
SOURCES = ("assign", "scoring", "models", "data")
"""Packages whose strings speak to people; scripts/ adds its command modules (the benchmark
scripts have command lines of their own)."""
OTHER_PROGRAMS = frozenset({"models/report/browser.py"})
"""Modules whose strings are another program's command line (Chromium's switches); their
marked messages are still checked."""


def _options(cmd: click.Command, *, deep: bool = True) -> set[str]:
    """The long options of a command, and of its subcommands where it is a group (``deep``)."""
    own = {o for p in cmd.params for o in (*p.opts, *p.secondary_opts) if o.startswith("--")}
    if deep and isinstance(cmd, click.Group):
        own = own.union(*(_options(sub) for sub in cmd.commands.values()))
    return own


def _strings(path: Path) -> list[str]:
    """Every string literal of a module (f-strings by their literal parts)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            out.append(node.value)
        elif isinstance(node, ast.JoinedStr):
            out.append(
                "".join(
                    v.value
                    for v in node.values
                    if isinstance(v, ast.Constant) and isinstance(v.value, str)
                )
            )
    return out


def _texts() -> list[tuple[str, str]]:
    """(where, text) for every marked message and every string of the people-facing code."""
    texts = [(where, msgid) for msgid, (_s, _p, where) in extract().items()]
    files = [p for pkg in SOURCES for p in (ROOT / pkg).rglob("*.py")]
    files += sorted((ROOT / "scripts").glob("cmd_*.py"))
    files += [ROOT / "scripts" / n for n in ("output.py", "context.py", "cli.py")]
    for path in files:
        rel = str(path.relative_to(ROOT))
        if rel not in OTHER_PROGRAMS:
            texts += [(rel, s) for s in _strings(path) if "--" in s]
    return texts


def test_every_hint_names_a_real_option() -> None:
    commands = dict(cli.commands)
    root = _options(cli, deep=False) | {"--help"}
    anywhere = root.union(*(_options(c) for c in commands.values()))
    select_like = _options(commands["select"]) | _options(commands["override"]) | root
    problems = []
    checked = 0
    for where, text in _texts():
        for name, rest in COMMAND.findall(text):
            if name not in commands:
                problems.append(f"{where}: `reviewopt {name}` is not a command: {text!r}")
                continue
            for opt in OPTION.findall(rest):
                checked += 1
                if opt not in _options(commands[name]) | root:
                    problems.append(f"{where}: reviewopt {name} has no {opt}: {text!r}")
        for opt in OPTION.findall(COMMAND.sub("", text)):
            checked += 1
            allowed = select_like if where.startswith("scoring/select") else anywhere
            if opt not in allowed:
                problems.append(f"{where}: no command has {opt}: {text!r}")
    assert problems == []
    assert checked > 20  # the walk saw the hints
