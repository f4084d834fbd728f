"""``reviewopt report``: the page's numbers are the database's, each section appears only where
its stage has run, every value is escaped, and a bad batch is a one-line error with nothing
written."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, func, select

from data.build_guide import load_guide
from data.generate import generate_batch, write_batch
from models import jobs, screen_jobs
from models.db import make_engine, session
from models.report.gather import gather
from models.report.html import SECTIONS
from models.schema import Decision, GuideDirection, Proposal, ScreeningStatus
from scripts.cli import cli
from tests.conftest import BatchRun

HOSTILE = "<script>alert(1)</script>"


def report(url: str, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--db", url, "--actor", "chair", "report", *args])


def _count(page: str, key: str) -> str:
    m = re.search(rf'data-count="{key}"><b>([^<]*)</b>', page)
    assert m is not None, key
    return m.group(1)


def test_the_numbers_on_the_page_are_the_databases(batch_run: BatchRun, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = report(batch_run.url, "--lang", "en", "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    written = json.loads(result.stdout)
    assert set(written) == {"path", "bytes", "sections"}
    assert written["bytes"] == out.stat().st_size
    assert written["sections"] == list(SECTIONS)  # every stage ran
    page = out.read_text(encoding="utf-8")

    engine = make_engine(batch_run.url)
    with session(engine) as s:
        funded = s.scalar(select(func.count()).where(Decision.selected.is_(True)))
        granted = s.scalar(select(func.sum(Decision.grant_wan)).where(Decision.selected))
        per_programme = dict(
            s.execute(
                select(GuideDirection.programme, func.sum(Decision.grant_wan))
                .join(Proposal, Proposal.proposal_id == Decision.proposal_id)
                .join(GuideDirection, GuideDirection.code == Proposal.direction_code)
                .where(Decision.selected)
                .group_by(GuideDirection.programme)
            ).all()
        )
        proposals = s.scalar(select(func.count()).select_from(Proposal))
        eligible = s.scalar(select(func.count()).where(ScreeningStatus.status != "rejected"))
        directions = set(
            s.scalars(
                select(Proposal.direction_code)
                .join(ScreeningStatus, ScreeningStatus.proposal_id == Proposal.proposal_id)
                .where(ScreeningStatus.status != "rejected")
            )
        )
    engine.dispose()
    assert funded and granted
    assert _count(page, "funded") == f"{funded:,}"
    assert _count(page, "granted_wan") == f"{round(granted):,}"
    assert _count(page, "proposals") == f"{proposals:,}"
    assert _count(page, "eligible") == f"{eligible:,}"
    rows = dict(re.findall(r'data-programme="([^"]*)" data-granted="([^"]*)"', page))
    assert {html.unescape(k): float(v) for k, v in rows.items()} == pytest.approx(
        {k: v for k, v in per_programme.items()} | {k: 0.0 for k in rows if k not in per_programme}
    )
    for code in directions:
        assert f'id="d{code}"' in page
        assert f'data-direction="{code}"' in page  # its chart
    # funded rows are marked funded, and each direction's table lists its funded proposals
    assert page.count('class="tag funded"') == funded
    i = page.find("<script")
    assert i < 0, page[i - 200 : i + 100]


@pytest.fixture
def screened_only(sqlite_engine: Engine, tmp_path: Path) -> Engine:
    """A batch only screened; its name, and a rejected proposal's title, are hostile HTML."""
    guide = load_guide()
    tables = generate_batch(
        guide[guide["code"].isin(["3001", "6001"])],
        n_experts=40,
        proposals_per_direction=(5, 6),
        seed=11,
    )
    tables["batches"].loc[:, "name"] = HOSTILE
    planted = tables["planted"]["proposal_id"].iloc[0]
    props = tables["proposals"]
    props.loc[props["proposal_id"] == planted, "title"] = HOSTILE
    write_batch(tables, tmp_path / "batch")
    jobs.import_all(sqlite_engine, tmp_path / "batch", actor="test")
    screen_jobs.screen_job(sqlite_engine, None, actor="test")
    return sqlite_engine


def test_a_batch_only_screened_gives_only_those_sections(
    screened_only: Engine, tmp_path: Path
) -> None:
    url = screened_only.url.render_as_string(hide_password=False)
    out = tmp_path / "r.html"
    result = report(url, "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["sections"] == ["overview", "screening", "audit"]
    page = out.read_text(encoding="utf-8")
    for absent in ("assignment", "directions", "reviewers"):
        assert f'id="{absent}"' not in page
    # hostile names are text: escaped wherever they appear, never markup
    assert HOSTILE not in page
    assert html.escape(HOSTILE, quote=False) in page or html.escape(HOSTILE) in page
    with session(screened_only) as s:
        data = gather(s, None)
    assert data.screening is not None and data.assignment is None and not data.directions
    named = {p for r in data.screening.rules for p, _t in r.reject + r.warn}
    for pid in named:
        assert pid in page


def test_the_report_changes_nothing(screened_only: Engine, tmp_path: Path) -> None:
    url = screened_only.url.render_as_string(hide_password=False)
    before = Path(url.removeprefix("sqlite:///")).read_bytes()
    assert report(url, "--out", str(tmp_path / "r.html")).exit_code == 0
    assert Path(url.removeprefix("sqlite:///")).read_bytes() == before


def test_a_bad_batch_is_a_clear_error_and_nothing_is_written(
    screened_only: Engine, tmp_path: Path
) -> None:
    url = screened_only.url.render_as_string(hide_password=False)
    out = tmp_path / "r.html"
    result = report(url, "--batch", "nope", "--out", str(out))
    assert result.exit_code == 1
    assert result.stderr == "Error: no batch 'nope' in the database (known: 2024)\n"
    assert not out.exists() and not list(tmp_path.glob("r.html*"))


def test_the_page_follows_the_language(screened_only: Engine, tmp_path: Path) -> None:
    url = screened_only.url.render_as_string(hide_password=False)
    zh, en = tmp_path / "zh.html", tmp_path / "en.html"
    assert report(url, "--lang", "zh", "--out", str(zh)).exit_code == 0
    assert report(url, "--lang", "en", "--out", str(en)).exit_code == 0
    assert "<h2>概览</h2>" in zh.read_text(encoding="utf-8")
    assert "<h2>Overview</h2>" in en.read_text(encoding="utf-8")


def test_the_demo_writes_the_report_and_its_screenshot(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["demo", "--workdir", str(tmp_path / "d"), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert set(out["report"]) == {"path", "bytes", "sections"}
    page = Path(out["report"]["path"])
    assert page == tmp_path / "d" / "report.html"
    assert page.stat().st_size == out["report"]["bytes"]
    if out["screenshot"] is not None:
        assert Path(out["screenshot"]).stat().st_size > 10_000


def test_without_chromium_the_screenshot_is_one_line_and_nothing_else(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from models.i18n import using
    from models.report import browser

    monkeypatch.setattr(browser.shutil, "which", lambda name: None)
    page = tmp_path / "r.html"
    page.write_text("<p>x</p>", encoding="utf-8")
    with using("en"):
        why = browser.screenshot(page, tmp_path / "r.png")
    assert why == "no screenshot of the report: Chromium is not installed"
    assert not (tmp_path / "r.png").exists()
