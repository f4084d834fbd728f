"""A screenshot of the report in headless Chromium, where one is installed.

Playwright (a test extra) drives the browser when it is importable; otherwise Chromium's own
``--screenshot`` switch does. Either way the browser starts with a fresh profile and no
background networking, and a machine without Chromium gets a one-line reason instead of a
picture: the report itself never needs a browser.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from models.i18n import _

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
WIDTH, HEIGHT = 1280, 1800


def chromium() -> str | None:
    """The Chromium executable on the PATH, if any."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def screenshot(page: Path, png: Path) -> str | None:
    """Write the top of ``page`` (WIDTH × HEIGHT pixels) to ``png``; None when written, else
    why not (one line)."""
    exe = chromium()
    if exe is None:
        return _("no screenshot of the report: Chromium is not installed")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return _cli_screenshot(exe, page, png)
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile, executable_path=exe, headless=True, args=list(FLAGS),
            viewport={"width": WIDTH, "height": HEIGHT},
        )  # fmt: skip
        try:
            tab = context.new_page()
            tab.goto(page.resolve().as_uri(), wait_until="load")
            tab.screenshot(path=str(png))
        finally:
            context.close()
    return None


def _cli_screenshot(exe: str, page: Path, png: Path) -> str | None:
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [
                exe,
                *FLAGS,
                f"--user-data-dir={profile}",
                f"--window-size={WIDTH},{HEIGHT}",
                "--hide-scrollbars",
                f"--screenshot={png.resolve()}",
                page.resolve().as_uri(),
            ],
            capture_output=True,
            timeout=120,
            check=False,
        )
    if done.returncode != 0 or not png.exists():
        return _(
            "no screenshot of the report: Chromium exited with code {code}", code=done.returncode
        )
    return None
