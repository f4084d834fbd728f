"""The README stays true: its test command is what CI runs, and its CLI reference is current."""

from __future__ import annotations

import re
from pathlib import Path

import click

from scripts.cli import cli

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_ci_runs_the_readme_test_command() -> None:
    ci_lines = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    readme_blocks = re.findall(r"```bash\n(.*?)\n```", README, flags=re.S)
    test_command = next(b for b in readme_blocks if "pytest" in b)
    assert ci_lines[-1] == test_command


def test_readme_demo_command_runs_the_demo() -> None:
    readme_blocks = re.findall(r"```bash\n(.*?)\n```", README, flags=re.S)
    assert any("reviewopt demo" in b and "pip install" in b for b in readme_blocks)


def test_every_command_and_option_has_help() -> None:
    missing = []
    for name, cmd in cli.commands.items():
        if not (cmd.help or "").strip():
            missing.append(name)
        missing += [
            f"{name} --{p.name}"
            for p in cmd.params
            if isinstance(p, click.Option) and not (p.help or "").strip()
        ]
    assert missing == []


def test_readme_cli_reference_is_current() -> None:
    block = README.split("<!-- cli-reference")[1].split("<!-- /cli-reference -->")[0]
    rows = re.findall(r"^\| `reviewopt ([a-z-]+)` \| (.+?) \|$", block, flags=re.M)
    documented = dict(rows)
    actual = {
        name: (cmd.help or "").strip().split("\n")[0].strip() for name, cmd in cli.commands.items()
    }
    assert documented == actual
