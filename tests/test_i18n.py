"""Every message for people exists in Chinese and English, and the language is chosen as stated."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from models.i18n import Msg, _, _n, default_language, render_stored, stored, using
from scripts.catalogue import PACKAGES, ROOT, extract, problems, read_catalogue
from scripts.cli import cli


def test_every_marked_message_has_a_chinese_translation_with_the_same_fields() -> None:
    assert problems(read_catalogue(), extract()) == []


def test_no_message_is_built_with_an_f_string() -> None:
    # The catalogue extractor only sees literal messages; an f-string would go untranslated.
    pattern = re.compile(r"\b(?:_|_n|N_|Msg)\(\s*f[\"']")
    offenders = [
        f"{path.relative_to(ROOT)}:{i}"
        for pkg in PACKAGES
        for path in (ROOT / pkg).rglob("*.py")
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert offenders == []


def test_translation_follows_the_current_language() -> None:
    with using("zh"):
        assert _("yes") == "是"
        assert _("Error: {message}", message="x") == "错误：x"
        assert _n("wrote {n} row to {out}", "wrote {n} rows to {out}", 3, out="a.csv") == (
            "已写入 3 行到 a.csv"
        )
    with using("en"):
        assert _("yes") == "yes"
        assert _n("wrote {n} row to {out}", "wrote {n} rows to {out}", 1, out="a") == (
            "wrote 1 row to a"
        )
        assert _n("wrote {n} row to {out}", "wrote {n} rows to {out}", 2, out="a") == (
            "wrote 2 rows to a"
        )


def test_a_stored_message_renders_in_the_readers_language() -> None:
    msg = Msg("Error: {message}", message=Msg("yes"))
    text = msg.to_json()
    assert stored(text) == msg
    assert render_stored(text, "zh") == "错误：是"
    assert render_stored(text, "en") == "Error: yes"
    # plain text (a chair's own words) is shown as written
    assert render_stored("资金不足", "en") == "资金不足"
    assert render_stored(None) == ""


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"REVIEWOPT_LANG": "zh", "LANG": "en_US.UTF-8"}, "zh"),
        ({"LANG": "zh_CN.UTF-8"}, "zh"),
        ({"LC_ALL": "en_GB.UTF-8", "LANG": "zh_CN.UTF-8"}, "en"),
        ({"LANG": "C"}, "en"),
        ({}, "en"),
    ],
)
def test_default_language_follows_the_environment(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str
) -> None:
    for var in ("REVIEWOPT_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(var, raising=False)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    assert default_language() == expected


def test_cli_lang_option_and_environment(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["--db", f"sqlite:///{tmp_path / 'x.db'}", "export", "decisions", "--format", "xlsx"]
    zh = runner.invoke(cli, ["--lang", "zh", *args])
    assert zh.exit_code == 2
    assert zh.stderr.startswith("错误：--format xlsx 需要同时给出 --out")
    en = runner.invoke(cli, args, env={"REVIEWOPT_LANG": "en"})
    assert en.stderr.startswith("Error: --format xlsx needs --out FILE.xlsx")
    bad = runner.invoke(cli, args, env={"REVIEWOPT_LANG": "fr"})
    assert bad.exit_code == 2
    assert "REVIEWOPT_LANG" in bad.stderr or "--lang" in bad.stderr
