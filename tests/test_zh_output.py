"""Under ``--lang zh`` the commands print Chinese: no English word but ids, codes, option names,
names of products and the words of the data itself (the call's direction titles)."""

from __future__ import annotations

import re
import shutil
from functools import cache
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from scripts.cli import cli

#: Names that stay as they are in Chinese text.
ALLOWED = {"reviewopt", "Kendall", "CP-SAT", "OR-Tools", "SQLite", "PostgreSQL", "XLSX", "CSV"}
ALLOWED |= {"TEXT", "FILE", "ID", "KIND", "URL", "SECONDS"}  # placeholders of options

_PATH = re.compile(r"\S*[/\\]\S*")  # file paths, URLs, database URLs
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_\-]*")


def _cli_words(command: click.Command) -> set[str]:
    """Command names, option names and choice values of ``command`` and its subcommands."""
    out = {command.name or ""}
    for param in command.params:
        out.update(w for opt in param.opts + param.secondary_opts for w in _WORD.findall(opt))
        if isinstance(param.type, click.Choice):
            out.update(str(c) for c in param.type.choices)
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            out |= _cli_words(sub)
    return out


@cache
def allowed_words() -> frozenset[str]:
    """Every word the scan lets through: codes of the registries, the CLI's own names, the
    words of the call's catalogue and :data:`ALLOWED`."""
    from assign.conflicts import KINDS
    from assign.screening import RULES
    from data.build_guide import load_guide
    from models import io, jobs

    words = set(ALLOWED) | _cli_words(cli) | set(RULES) | set(KINDS) | set(jobs.export_kinds())
    for kind in io.kinds():
        for spec in io.column_specs(kind):
            words.add(spec.name)
            words.update(spec.enum or ())  # the codes a file may write (beside their Chinese)
    guide = load_guide()
    for column in ("title", "programme"):
        for text in guide[column].astype(str):
            words.update(_WORD.findall(text))
    return frozenset(words)


def english_words(text: str) -> set[str]:
    """The English words of ``text`` that are neither ids (they have digits) nor allowed."""
    found = set(_WORD.findall(_PATH.sub(" ", text)))
    return {w for w in found if not any(c.isdigit() for c in w) and w not in allowed_words()}


def test_the_scan_finds_english_and_lets_ids_and_options_through() -> None:
    text = "项目 P-1001-08 已资助（--policy rank）；见 /tmp/x.csv 与 `reviewopt export decisions`"
    assert english_words(text) == set()
    assert english_words("求解状态 optimal; budget_wan 7.92e+04") == {"optimal", "budget_wan"}


def _zh(*args: str) -> str:
    result = CliRunner().invoke(cli, ["--lang", "zh", "--actor", "张科长", *args])
    assert result.exit_code == 0, (args, result.output)
    return result.output


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A demo run at its default size under ``--lang zh``: (its output, its database URL)."""
    workdir = tmp_path_factory.mktemp("zh_demo")
    out = _zh("demo", "--workdir", str(workdir))
    return out, f"sqlite:///{workdir / 'reviewopt.db'}"


def test_demo_prints_chinese(demo_db: tuple[str, str]) -> None:
    out, _url = demo_db
    assert english_words(out) == set()
    assert "最优" in out and "73,904" in out  # the status word, 万元 with separators
    assert "[" not in out  # the funded list is a table, not a Python list


@pytest.mark.parametrize(
    "args",
    [
        ("status",),
        ("screen",),
        ("pool",),
        ("conflicts",),
        ("rank", "--draws", "20"),
        ("select", "--draws", "10"),
        ("explain", "R0000009", "P-1001-08"),
        ("formats", "experts"),
        ("finalize",),
    ],
    ids=lambda a: a[0],
)
def test_commands_print_chinese(
    demo_db: tuple[str, str], tmp_path: Path, args: tuple[str, ...]
) -> None:
    _out, url = demo_db
    db = tmp_path / "copy.db"
    shutil.copy(url.removeprefix("sqlite:///"), db)
    assert english_words(_zh("--db", f"sqlite:///{db}", *args)) == set()
