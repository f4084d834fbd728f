"""The workbench in a real browser: Debian's Chromium, headless, driven by Playwright over
``reviewopt serve``'s application on loopback (no browser is downloaded; without Chromium
these tests are skipped with the reason).

An officer uploads a small generated batch, screens, filters the pool, finds conflicts,
assigns and downloads the invitations; reviews come in, ranking and selection run; a chair
overrides a proposal and finalises; a viewer sees no expert name and is refused a POST; a
request without its CSRF token is refused; a ``<script>`` name is shown as text. Screenshots
of the main pages are kept in the test's folder (printed at the end).
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from sqlalchemy import select

from models.db import make_engine, session, upgrade
from models.report.browser import FLAGS, chromium
from models.schema import Assignment, Expert
from models.users import add_user

CHROMIUM = chromium()
PASSWORD = "correct horse battery"
HOSTILE = "<script>alert(1)</script>"
CODES = ("3001", "3002", "6001")

pytestmark = [
    pytest.mark.skipif(
        CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)"
    ),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Site:
    """The server on a loopback port, its database and the batch files."""

    def __init__(self, root: Path) -> None:
        from data.build_guide import load_guide
        from data.generate import generate_batch, write_batch

        self.root = root
        self.url = f"sqlite:///{root / 'web.db'}"
        self.engine = make_engine(self.url)
        upgrade(self.engine)
        for role in ("officer", "chair", "viewer"):
            add_user(self.engine, role, role=role, password=PASSWORD, actor="test")
        guide = load_guide()
        self.tables = generate_batch(
            guide[guide["code"].isin(CODES)], n_experts=120, proposals_per_direction=(5, 6), seed=5
        )
        self.batch_dir = root / "batch"
        write_batch(self.tables, self.batch_dir)
        self.shots = root / "screenshots"
        self.shots.mkdir()
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"

    @contextlib.contextmanager
    def serve(self) -> Iterator[None]:
        import uvicorn

        from web.app import create_app

        config = uvicorn.Config(
            create_app(self.url), host="127.0.0.1", port=self.port, log_level="warning",
            ws="none", lifespan="on",
        )  # fmt: skip
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 60
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.1)
        try:
            yield
        finally:
            server.should_exit = True
            thread.join(timeout=60)
            self.engine.dispose()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    s = Site(tmp_path_factory.mktemp("browser"))
    with s.serve():
        yield s
    print(f"\nscreenshots of the workbench: {s.shots}")


@pytest.fixture(scope="module")
def browser(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=list(FLAGS),
            accept_downloads=True, viewport={"width": 1280, "height": 900},
        )  # fmt: skip
        yield context
        context.close()


def _login(context, site: Site, name: str):  # type: ignore[no-untyped-def]
    context.clear_cookies()
    page = context.new_page()
    page.on("dialog", lambda d: (_ for _ in ()).throw(AssertionError(f"a dialog: {d.message}")))
    page.goto(f"{site.base}/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("form[action='/login'] button")
    page.wait_for_url(f"{site.base}/")
    return page


def _wait_job(page) -> str:  # type: ignore[no-untyped-def]
    page.wait_for_url(re.compile(r".*/jobs/\d+$"))
    page.wait_for_selector(
        "#job-state[data-state=done], #job-state[data-state=failed]", timeout=240_000
    )
    return str(page.get_attribute("#job-state", "data-state"))


def _run(page, site: Site, stage: str, command: str, fill: dict[str, str] | None = None) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{site.base}/batches/2024/{stage}")
    form = page.locator(f"form[action='/batches/2024/run/{command}']")
    for name, value in (fill or {}).items():
        form.locator(f"[name={name}]").fill(value)
    form.locator("button").last.click()
    assert _wait_job(page) == "done", page.inner_text("#job-state")


def _shot(page, site: Site, name: str) -> None:  # type: ignore[no-untyped-def]
    page.screenshot(path=str(site.shots / f"{name}.png"), full_page=False)


def test_an_officer_uploads_screens_assigns_and_downloads_invitations(site: Site, browser) -> None:  # type: ignore[no-untyped-def]
    page = _login(browser, site, "officer")
    page.goto(f"{site.base}/upload")
    page.set_input_files("input[name=files]", sorted(str(p) for p in site.batch_dir.glob("*.csv")))
    page.click("form[action='/upload'] button")
    assert _wait_job(page) == "done", page.inner_text("#job-state")
    _shot(page, site, "1-upload-done")
    _run(page, site, "screening", "screen")
    _shot(page, site, "2-screening-run")
    _run(page, site, "pool", "pool")
    _run(page, site, "conflicts", "conflicts")
    _run(page, site, "assign", "assign", {"k": "3", "reserve_ratio": "1"})
    with session(site.engine) as s:  # an invited expert is renamed by a people file
        expert = s.scalar(select(Assignment.expert_id).where(Assignment.status == "invited"))
    renamed = site.root / "people.csv"
    pd.DataFrame({"person_id": [expert], "name": [HOSTILE]}).to_csv(renamed, index=False)
    page.goto(f"{site.base}/upload")
    page.set_input_files("input[name=files]", str(renamed))
    page.click("form[action='/upload'] button")
    assert _wait_job(page) == "done", page.inner_text("#job-state")
    page.goto(f"{site.base}/batches/2024/assign?view=experts")
    assert HOSTILE in page.inner_text("main")  # shown as text, and no dialog opened
    _shot(page, site, "3-assignment-per-expert")
    with page.expect_download() as got:
        page.click("a[href='/batches/2024/export/invitations.xlsx']")
    path = site.root / "invitations.xlsx"
    got.value.save_as(path)
    sheet = openpyxl.load_workbook(path).worksheets[0]
    assert sheet.max_row > 10
    page.goto(f"{site.base}/batches/2024")
    _shot(page, site, "4-batch")


def _assigned(site: Site) -> None:
    """The batch imported and assigned, as the officer's test leaves it; through the CLI when
    this worker has not run that test (the tests of a module may run on different workers)."""
    from click.testing import CliRunner

    from scripts.cli import cli

    with session(site.engine) as s:
        if s.scalar(select(Assignment.id).limit(1)) is not None:
            return
    steps = [["import", "all", str(site.batch_dir)], ["screen"], ["pool"], ["conflicts"]]
    steps.append(["assign", "--k", "3", "--reserve-ratio", "1"])
    for args in steps:
        done = CliRunner().invoke(cli, ["--db", site.url, "--actor", "officer", *args])
        assert done.exit_code == 0, (args, done.output)


def _reviews_file(site: Site) -> Path:
    from scoring.simulate import simulate_reviews

    with session(site.engine) as s:
        pairs = pd.DataFrame(
            s.execute(
                select(Assignment.proposal_id, Assignment.expert_id).where(
                    Assignment.status == "invited"
                )
            ).all(),
            columns=["proposal_id", "expert_id"],
        )
    reviews = simulate_reviews(
        pairs, site.tables["truth_proposals"], site.tables["truth_experts"], seed=1
    )
    path = site.root / "reviews.csv"
    reviews.to_csv(path, index=False)
    return path


def test_a_chair_overrides_a_proposal_and_finalises(site: Site, browser) -> None:  # type: ignore[no-untyped-def]
    _assigned(site)
    page = _login(browser, site, "officer")
    page.goto(f"{site.base}/batches/2024/reviews")
    page.set_input_files("input[name=files]", str(_reviews_file(site)))
    page.locator("form[action='/upload'] button").click()
    assert _wait_job(page) == "done", page.inner_text("#job-state")
    _run(page, site, "ranking", "rank", {"draws": "20"})
    page.goto(f"{site.base}/batches/2024/ranking")
    _shot(page, site, "5-ranking")
    _run(page, site, "selection", "select", {"draws": "10"})

    page = _login(browser, site, "chair")
    page.goto(f"{site.base}/batches/2024/selection")
    form = page.locator("form[action='/batches/2024/run/override']").first
    proposal = form.locator("input[name=proposal]").get_attribute("value")
    form.locator("select[name=action]").select_option("force_out")
    form.locator("input[name=reason]").fill("评审组决定：<b>重复申报</b>")
    form.locator("button").click()
    page.wait_for_url(f"{site.base}/batches/2024/selection")
    assert proposal in page.inner_text("main")
    assert "<b>重复申报</b>" in page.inner_text("main")  # the reason is text, not markup
    page.click("form.finalize button")
    page.wait_for_url(f"{site.base}/batches/2024/selection")
    assert page.locator("form[action='/batches/2024/run/unlock']").count() == 1
    _shot(page, site, "6-selection-finalised")
    page.goto(f"{site.base}/audit")
    text = page.inner_text("main")
    assert "override" in text and "finalize" in text and "chair" in text
    _shot(page, site, "7-audit")


def test_a_viewer_sees_no_expert_name_and_is_refused_a_post(site: Site, browser) -> None:  # type: ignore[no-untyped-def]
    _assigned(site)
    with session(site.engine) as s:
        experts = list(s.scalars(select(Expert.expert_id)))
    names = dict(
        zip(site.tables["people"]["person_id"], site.tables["people"]["name"], strict=True)
    )
    page = _login(browser, site, "viewer")
    seen = ""
    for path in ("declines", "pool", "assign?view=experts", "assign"):
        page.goto(f"{site.base}/batches/2024/{path}")
        html = page.content()
        assert not [e for e in experts if e in html]
        assert not [names[e] for e in experts if len(str(names[e])) > 1 and str(names[e]) in html]
        seen += page.inner_text("main")
    assert re.search(r"专家[A-Z]+", seen)
    _shot(page, site, "8-viewer-declines")
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    r = page.request.post(f"{site.base}/batches/2024/run/screen", form={"csrf_token": token})
    assert r.status == 403
    r = page.request.post(f"{site.base}/batches/2024/run/screen", form={})
    assert r.status == 403


def test_a_request_without_the_csrf_token_is_refused(site: Site, browser) -> None:  # type: ignore[no-untyped-def]
    page = _login(browser, site, "officer")
    r = page.request.post(f"{site.base}/batches/2024/run/pool", form={"max_age": "70"})
    assert r.status == 403
    r = page.request.post(f"{site.base}/logout", form={})
    assert r.status == 403
