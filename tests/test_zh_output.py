"""Under ``--lang zh`` the commands print Chinese: no English word but ids, codes, option names,
names of products and the words of the data itself (the call's direction titles)."""

from __future__ import annotations

import io
import re
import shutil
from functools import cache
from pathlib import Path

import click
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import BatchRun

from scripts.cli import cli
from scripts.help_text import Command

#: Names that stay as they are in Chinese text.
ALLOWED = {"reviewopt", "Kendall", "CP-SAT", "OR-Tools", "SQLite", "PostgreSQL", "XLSX", "CSV"}
ALLOWED |= {"TEXT", "FILE", "ID", "KIND", "URL", "SECONDS", "N"}  # placeholders of options
ALLOWED |= {"JSON", "HTML", "TOML", "Parquet", "TF-IDF", "HTTPS", "TLS", "Cookie", "README"}
ALLOWED |= {"sentence-transformers", "REVIEWOPT_DB", "REVIEWOPT_LANG"}

_PATH = re.compile(r"\S*[/\\]\S*")  # file paths, URLs, database URLs
_COMMAND = re.compile(r"`[^`]*`|reviewopt(?: [-\w.:=]+)*")  # commands to run, as they are typed
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]*")


def _options(command: click.Command) -> set[str]:
    """Option names and choice values of ``command`` and its subcommands."""
    out = set()
    for param in command.params:
        out.update(w for opt in param.opts + param.secondary_opts for w in _WORD.findall(opt))
        if isinstance(param.type, click.Choice):
            out.update(str(c) for c in param.type.choices)
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            out |= _options(sub)
    return out


@cache
def allowed_words() -> frozenset[str]:
    """Every word the scan lets through: options, the codes of screening rules and conflict
    kinds (shown beside their words), the words of the call's catalogue and :data:`ALLOWED`."""
    from assign.conflicts import KINDS
    from assign.screening import RULES
    from data.build_guide import load_guide

    words = set(ALLOWED) | _options(cli) | set(RULES) | set(KINDS)
    guide = load_guide()
    for column in ("title", "programme"):
        for text in guide[column].astype(str):
            words.update(_WORD.findall(text))
    return frozenset(words)


@cache
def format_codes() -> frozenset[str]:
    """Column names and enumeration codes of the input formats (what ``formats`` lists)."""
    from models import io

    words = set(io.kinds())
    for kind in io.kinds():
        for spec in io.column_specs(kind):
            words.add(spec.name)
            words.update(spec.enum or ())  # the codes a file may write (beside their Chinese)
    return frozenset(words)


def english_words(text: str, also: frozenset[str] = frozenset()) -> set[str]:
    """The English words of ``text`` that are neither ids (they have digits), nor in commands
    to run, nor allowed (or in ``also``)."""
    found = set(_WORD.findall(_PATH.sub(" ", _COMMAND.sub(" ", text))))
    return {
        w
        for w in found
        if not any(c.isdigit() for c in w)
        and w.isascii()
        and w not in allowed_words()
        and w not in also
    }


def test_the_scan_finds_english_and_lets_ids_and_options_through() -> None:
    text = "项目 P-1001-08 已资助（--policy rank）；见 /tmp/x.csv 与 `reviewopt export decisions`"
    assert english_words(text) == set()
    assert english_words("下一步：reviewopt finalize") == set()
    assert english_words("资助项数 79；status 1") == {"status"}
    assert english_words("expert_id 专家编号", also=format_codes()) == set()
    assert english_words("求解状态 optimal; funded_list 7.92e+04") == {"optimal", "funded_list"}


def _zh(*args: str, ok: tuple[int, ...] = (0,)) -> str:
    """stdout and stderr of a command under ``--lang zh`` (its exit code one of ``ok``)."""
    result = CliRunner().invoke(
        cli, ["--lang", "zh", "--actor", "张科长", *args], prog_name="reviewopt"
    )
    assert result.exit_code in ok, (args, result.output)
    return result.output


@pytest.fixture(scope="module")
def demo_output(tmp_path_factory: pytest.TempPathFactory) -> str:
    """What a demo run at its default size prints under ``--lang zh``."""
    return _zh("demo", "--workdir", str(tmp_path_factory.mktemp("zh_demo")))


def test_demo_prints_chinese(demo_output: str) -> None:
    assert english_words(demo_output) == set()
    assert "最优" in demo_output  # the solver's status in words
    assert "[" not in demo_output  # the funded list is a table, not a Python list
    assert not re.search(r"\de[+-]\d", demo_output)  # no scientific notation
    assert re.search(r"预算（万元） +│ \d{2},\d{3} ", demo_output)  # 万元 whole, separated


def test_commands_print_chinese(sqlite_batch_run: BatchRun, tmp_path: Path) -> None:
    """Every stage's command on a copy of the small finalised batch (reopened first)."""
    db = tmp_path / "copy.db"
    shutil.copy(sqlite_batch_run.url.removeprefix("sqlite:///"), db)
    invited = pd.read_csv(io.StringIO(sqlite_batch_run.outputs["invited"]), dtype=str).iloc[0]
    url = f"sqlite:///{db}"
    found = {}
    for args in [
        ("status",),
        ("unlock", "--reason", "复核"),
        ("screen",),
        ("waive", invited["proposal"], "duration", "--reason", "复核"),
        ("pool",),
        ("conflicts",),
        ("explain", invited["expert"], invited["proposal"]),
        ("rank", "--draws", "20"),
        ("select", "--draws", "10"),
        ("override", invited["proposal"], "force_in", "--reason", "复核"),
        ("finalize",),
        ("status",),
        ("formats",),
        ("formats", "experts"),
    ]:
        also = format_codes() if args[0] == "formats" else frozenset()
        words = english_words(_zh("--db", url, *args, ok=(0, 1, 4)), also)
        if words:
            found[" ".join(args)] = words
    assert found == {}


def _help_words(command: click.Command, name: str = "") -> set[str]:
    """What a help page shows as it is typed, for ``command`` and its subcommands: command
    names, option names (``--help`` too), placeholders (``KIND``, ``INTEGER RANGE``), the ``x``
    of ranges and the values shown as defaults."""
    ctx = click.Context(command)
    out = {"x", *_WORD.findall(name)}
    for param in command.get_params(ctx):
        out.update(w for opt in param.opts + param.secondary_opts for w in _WORD.findall(opt))
        out.update(_WORD.findall(param.make_metavar(ctx)))
        if param.default is not None and not callable(param.default):
            out.update(_WORD.findall(str(param.default)))
    if isinstance(command, click.Group):
        for sub_name, sub in command.commands.items():
            out |= _help_words(sub, sub_name)
    return out


def _commands(
    command: click.Command, path: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], click.Command]]:
    """``command`` and every command and subcommand under it, each with its path."""
    found = [(path, command)]
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            found += _commands(sub, (*path, name))
    return found


def test_help_is_chinese() -> None:
    """``--help`` of the group and of every command, subcommands included, within the page."""
    from models.titles import TITLES
    from models.workbook import display_width

    help_words = frozenset(_help_words(cli)) | format_codes() | set(TITLES)  # kinds and views
    commands = _commands(cli)
    assert all(isinstance(c, Command) for _p, c in commands)  # help through the catalogue
    found, wide = {}, {}
    for path, _command in commands:
        text = _zh(*path, "--help")
        assert text.startswith("用法：reviewopt"), (path, text)
        words = english_words(text, also=help_words)
        if words:
            found[" ".join(path)] = words
        too_wide = [  # Chinese text runs past the page (a long code alone may, as in English)
            line for line in text.splitlines() if display_width(line) > 80 and not line.isascii()
        ]
        if too_wide:
            wide[" ".join(path)] = too_wide
    assert found == {}
    assert wide == {}


def test_help_language_from_the_environment() -> None:
    result = CliRunner(env={"REVIEWOPT_LANG": "zh"}).invoke(cli, ["user", "add", "--help"])
    assert result.exit_code == 0
    assert "添加用户 NAME" in result.output and "显示本帮助并退出。" in result.output


def test_english_help_is_clicks() -> None:
    """Under ``--lang en`` the help is the English click writes, word for word."""
    top = CliRunner().invoke(cli, ["--lang", "en", "--help"], prog_name="reviewopt").output
    assert top.startswith("Usage: reviewopt [OPTIONS] COMMAND [ARGS]...\n")
    assert (
        "\nCommands:\n  init       Create the database, or upgrade it to the newest schema.\n"
        in top
    )
    assert "  assign     Assign experts to the batch's eligible proposals (exact, fair..." in top
    assert "--actor TEXT    Who runs the command (recorded in the audit log).  [default:" in top
    page = CliRunner().invoke(cli, ["--lang", "en", "assign", "--help"], prog_name="reviewopt")
    page = page.output
    assert page.startswith("Usage: reviewopt assign [OPTIONS]\n\n  Assign experts to the batch's")
    assert "\nOptions:\n  --batch ID " in page
    assert "  --k INTEGER RANGE               Experts per proposal.  [default: 5; x>=1]\n" in page
    assert re.search(r"^  (-h, )?--help +Show this message and exit\.$", page, flags=re.M)
    assert {"Assign", "Experts"} <= english_words(page)  # what the Chinese test would see
