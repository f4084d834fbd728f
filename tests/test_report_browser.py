"""The batch report in a real browser: Debian's Chromium, headless, through Playwright (no
browser download; without Chromium, or without pdftotext for the PDF's text, these tests are
skipped with the reason).

The page loads from a file with no console error and no network request; every section
heading and every direction's chart is there; a screenshot is not blank; printed to A4 it
has about one page per direction; and its Chinese headings come out of the PDF as Chinese
text (no tofu boxes).
"""

from __future__ import annotations

import io
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from models.db import make_engine, session
from models.i18n import _, using
from models.report.browser import FLAGS, chromium
from models.report.html import SECTIONS
from models.schema import GuideDirection, Proposal, ScreeningStatus
from scripts.cli import cli
from tests.conftest import BatchRun

CHROMIUM = chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)"
)


@pytest.fixture(scope="module")
def page_file(sqlite_batch_run: BatchRun, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small batch's report (the page is the same on either backend: one browser run)."""
    out = tmp_path_factory.mktemp("report") / "report.html"
    args = ["--db", sqlite_batch_run.url, "report", "--lang", "zh", "--out", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def opened(page_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The page opened in Chromium: the tab, its console errors and its requests."""
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    errors: list[str] = []
    requests: list[str] = []
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=list(FLAGS),
            viewport={"width": 1280, "height": 900},
        )  # fmt: skip
        tab = context.new_page()
        tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        tab.on("pageerror", lambda e: errors.append(str(e)))
        tab.on("request", lambda r: requests.append(r.url))
        tab.goto(page_file.as_uri(), wait_until="load")
        yield {"tab": tab, "errors": errors, "requests": requests}
        context.close()


def test_the_page_loads_without_errors_or_network(opened: dict, page_file: Path) -> None:
    assert opened["errors"] == []
    assert opened["requests"] == [page_file.as_uri()]


@pytest.fixture(scope="module")
def directions(sqlite_batch_run: BatchRun) -> dict[str, str]:
    """Code → title of the directions with an eligible proposal."""
    engine = make_engine(sqlite_batch_run.url)
    with session(engine) as s:
        found = dict(
            s.execute(
                select(Proposal.direction_code, GuideDirection.title)
                .join(GuideDirection, GuideDirection.code == Proposal.direction_code)
                .join(ScreeningStatus, ScreeningStatus.proposal_id == Proposal.proposal_id)
                .where(ScreeningStatus.status != "rejected")
            ).all()
        )
    engine.dispose()
    assert found
    return found


def test_every_section_and_every_direction_chart_is_there(
    opened: dict, directions: dict[str, str]
) -> None:
    tab = opened["tab"]
    with using("zh"):
        for key, title in SECTIONS.items():
            assert tab.inner_text(f"#{key} > h2") == _(title)
    for code, title in directions.items():
        assert title in tab.inner_text(f"#d{code} h3")
        chart = tab.locator(f"#d{code} figure.direction-chart svg")
        assert chart.count() == 1
        box = chart.bounding_box()
        assert box is not None and box["width"] > 600 and box["height"] > 100


def test_a_screenshot_is_not_blank(opened: dict) -> None:
    from PIL import Image

    shot = Image.open(io.BytesIO(opened["tab"].screenshot(full_page=False))).convert("L")
    grey = shot.histogram()  # pixels per grey level, 0 black … 255 white
    assert sum(grey[:200]) > 0.01 * sum(grey)  # text and charts, not a white page


@pytest.mark.skipif(
    shutil.which("pdftotext") is None,
    reason="pdftotext is not installed (apt-get install poppler-utils)",
)
def test_printed_to_a4_one_direction_per_page_in_chinese(
    opened: dict, tmp_path: Path, directions: dict[str, str]
) -> None:
    pdf = tmp_path / "report.pdf"
    opened["tab"].pdf(path=str(pdf), format="A4", print_background=True)
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, check=True, text=True
    ).stdout
    pages = text.count("\f")
    # each direction starts a page, and so does each top section: the same order of magnitude
    assert len(directions) + 5 <= pages <= 10 * (len(directions) + 6)
    for title in directions.values():
        assert title[:8] in text
    for heading in ("概览", "形式审查", "专家分配", "分方向结果", "评审专家", "审计记录"):
        assert heading in text
    assert "拟资助" in text and "资助线" in text  # chart text set as text, in Chinese


def test_without_playwright_chromium_takes_the_screenshot_itself(
    page_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from PIL import Image

    from models.report.browser import screenshot

    monkeypatch.setitem(sys.modules, "playwright.sync_api", None)  # import fails
    png = tmp_path / "report.png"
    assert screenshot(page_file, png) is None
    grey = Image.open(png).convert("L").histogram()
    assert sum(grey[:200]) > 0.01 * sum(grey)
