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

#: Names that stay as they are in Chinese text.
ALLOWED = {"reviewopt", "Kendall", "CP-SAT", "OR-Tools", "SQLite", "PostgreSQL", "XLSX", "CSV"}
ALLOWED |= {"TEXT", "FILE", "ID", "KIND", "URL", "SECONDS"}  # placeholders of options

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
    result = CliRunner().invoke(cli, ["--lang", "zh", "--actor", "张科长", *args])
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
