"""Benchmark the batch report: the time to write it, its size, and the time Chromium takes to
load it, on the demo batch (~600 proposals) and on a 20,000-proposal batch run through the
same pipeline (generate → import → screen → pool → conflicts → assign → simulated reviews →
rank → select, as ``reviewopt demo`` does).

Run: ``python -m scripts.bench_report [--workdir DIR [--reuse]] [--proposals N] [--experts N]``
(``--reuse`` reads the batches an earlier run left under DIR instead of running the pipeline
again). Prints one line per batch. The load time needs Chromium and Playwright (the test
extra); without them it is left out, with the reason.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from models.db import make_engine, session
from models.demo import DB_NAME, run_demo
from models.i18n import set_language
from models.report.browser import FLAGS, chromium
from models.report.write import write_report
from models.schema import Decision, Expert, Proposal


def load_time(page: Path) -> str:
    """Seconds from navigation to the load event in headless Chromium (best of three), and
    the page's height in screens."""
    exe = chromium()
    if exe is None:
        return "load time: no Chromium"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return "load time: no Playwright (pip install -e '.[test]')"
    best, wall, screens = float("inf"), float("inf"), 0.0
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile, executable_path=exe, headless=True, args=list(FLAGS),
            viewport={"width": 1280, "height": 900},
        )  # fmt: skip
        for _i in range(3):
            tab = context.new_page()
            t0 = time.perf_counter()
            tab.goto(page.resolve().as_uri(), wait_until="load")
            wall = min(wall, time.perf_counter() - t0)
            loaded = tab.evaluate(
                "performance.getEntriesByType('navigation')[0].loadEventEnd / 1000"
            )
            best = min(best, float(loaded))
            screens = float(tab.evaluate("document.body.scrollHeight")) / 900
            tab.close()
        context.close()
    return f"load event {best:.2f} s (wall {wall:.2f} s), {screens:,.0f} screens tall"


def bench(name: str, workdir: Path, *, proposals: int | None, experts: int, reuse: bool) -> None:
    engine = make_engine(f"sqlite:///{workdir / DB_NAME}")
    if reuse:
        with session(engine) as s:
            n_proposals = int(s.scalar(select(func.count()).select_from(Proposal)) or 0)
            n_experts = int(s.scalar(select(func.count()).select_from(Expert)) or 0)
            funded = int(s.scalar(select(func.count()).where(Decision.selected)) or 0)
        pipeline = "pipeline not run (--reuse)"
    else:
        t0 = time.perf_counter()
        out = run_demo(workdir, n_experts=experts, n_proposals=proposals)
        pipeline = f"pipeline {time.perf_counter() - t0:.0f} s"
        n_proposals, n_experts = out["batch"]["proposals"], out["batch"]["experts"]
        funded = out["select"]["funded"]
    page = workdir / "report.html"
    t1 = time.perf_counter()
    written = write_report(engine, None, page)
    report_s = time.perf_counter() - t1
    engine.dispose()
    print(
        f"{name}: {n_proposals:,} proposals, {n_experts:,} experts, {funded} funded; "
        f"{pipeline}; report written in "
        f"{report_s:.1f} s, {written.bytes / 1e6:.2f} MB ({', '.join(written.sections)}); "
        f"{load_time(page)}; {page}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workdir", type=Path, default=None, help="keep the batches under DIR")
    parser.add_argument("--proposals", type=int, default=20000, help="proposals of the large batch")
    parser.add_argument("--experts", type=int, default=30000, help="experts of the large batch")
    parser.add_argument(
        "--reuse", action="store_true", help="read the batches left under --workdir"
    )
    args = parser.parse_args()
    set_language("zh")
    with tempfile.TemporaryDirectory() as tmp:
        root = args.workdir or Path(tmp)
        bench("demo", root / "demo", proposals=None, experts=3000, reuse=args.reuse)
        bench("large", root / "large", proposals=args.proposals, experts=args.experts,
              reuse=args.reuse)  # fmt: skip


if __name__ == "__main__":
    main()
