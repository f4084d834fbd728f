"""Load on the web workbench: concurrent users reading the batch, ranking, selection and report
pages of a demo-scale batch on PostgreSQL, for a bounded time, with one assignment job running.

    python scripts/bench_serve.py --db postgresql+psycopg://postgres@127.0.0.1:5432/bench \\
        [--users 20] [--seconds 30] [--think 0] [--json]

The database is filled once with a generated batch (the demo's scale: 3,000 experts, about
600 proposals) taken to its selection through the CLI; later runs reuse it. The server runs
as ``reviewopt serve`` in its own process on a loopback port (with its embedded worker); the
users are threads of this process, each logged in with its own session. Traffic goes to
127.0.0.1 only, and every loop stops at the deadline. ``--think 0`` (the default) sends each
user's next request as soon as the last one answers (a stress test); ``--think 1`` lets each
user read a page for a seeded exponential time of mean 1 s first, as people do. Prints
requests, errors, latency percentiles (ms, also p95 per page) and the assignment job's wall
time.
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx2 as httpx
import numpy as np

PAGES = (
    "/batches/2024",
    "/batches/2024/ranking",
    "/batches/2024/selection",
    "/batches/2024/report",
)
PASSWORD = "bench password"


def _cli(url: str, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "scripts.cli", "--db", url, "--actor", "bench", *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def prepare(url: str, seed: int) -> None:
    """A demo-scale batch through to its selection (skipped when the database has one)."""
    import pandas as pd

    _cli(url, "init")
    if json.loads(_cli(url, "status", "--json")).get("batch"):
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "batch"
        _cli(url, "generate", "--out", str(folder), "--seed", str(seed))
        _cli(url, "import", "all", str(folder))
        for step in ("screen", "pool", "conflicts"):
            _cli(url, step)
        _cli(url, "assign", "--k", "5", "--reserve-ratio", "1")
        from io import StringIO

        from scoring.simulate import simulate_reviews

        pairs = pd.read_csv(StringIO(_cli(url, "export", "assignments")), dtype=str)
        pairs = pairs.loc[pairs["status"] == "invited", ["proposal", "expert"]]
        reviews = simulate_reviews(
            pairs.set_axis(["proposal_id", "expert_id"], axis=1),
            pd.read_csv(folder / "truth_proposals.csv", dtype={"proposal_id": str}),
            pd.read_csv(folder / "truth_experts.csv", dtype={"expert_id": str}),
            seed=seed,
        )
        reviews.to_csv(Path(tmp) / "reviews.csv", index=False)
        _cli(url, "import", "reviews", str(Path(tmp) / "reviews.csv"))
        _cli(url, "rank")
        _cli(url, "select")
    for name, role in (("bench", "viewer"), ("bench-officer", "officer")):
        _cli(url, "user", "add", name, "--role", role, "--password-stdin", stdin=PASSWORD + "\n")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _login(base: str, name: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=base, timeout=60, follow_redirects=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token
    r = client.post(
        "/login", data={"username": name, "password": PASSWORD, "csrf_token": token.group(1)}
    )
    r.raise_for_status()
    again = re.search(r'name="csrf_token" value="([^"]+)"', r.text)
    return client, again.group(1) if again else ""


def run(
    url: str, *, users: int, seconds: float, assign: bool, think: float, seed: int
) -> dict[str, object]:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "scripts.cli", "--db", url, "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        readers = [_login(base, "bench")[0] for _i in range(users)]
        for c in readers:  # warm every page once
            for p in PAGES:
                c.get(p)
        job_s: float | None = None
        job_thread = None
        if assign:
            officer, token = _login(base, "bench-officer")
            r = officer.post("/batches/2024/run/assign", data={"csrf_token": token, "k": "5"})
            job = r.url.path.rsplit("/", 1)[1]
            started = time.monotonic()

            def watch() -> None:
                nonlocal job_s
                while time.monotonic() - started < seconds + 600:
                    state = re.search(r'data-state="(\w+)"', officer.get(f"/jobs/{job}/state").text)
                    if state and state.group(1) in ("done", "failed"):
                        job_s = time.monotonic() - started if state.group(1) == "done" else -1.0
                        return
                    time.sleep(1)

            job_thread = threading.Thread(target=watch)
            job_thread.start()
        latencies: list[float] = []
        per_page: dict[str, list[float]] = {p: [] for p in PAGES}
        errors: list[str] = []
        lock = threading.Lock()
        stop_at = time.monotonic() + seconds

        def user(client: httpx.Client, k: int) -> None:
            rng = np.random.default_rng([seed, k])
            i = k
            while time.monotonic() < stop_at:
                page = path = PAGES[i % len(PAGES)]
                i += 1
                t = time.perf_counter()
                try:
                    status = client.get(path).status_code
                except httpx.HTTPError as exc:
                    status, path = 0, f"{path}: {exc.__class__.__name__}"
                took = time.perf_counter() - t
                with lock:
                    latencies.append(took)
                    per_page[page].append(took)
                    if status != 200:
                        errors.append(f"{status} {path}")
                if think > 0:  # the user reads the page before the next click
                    time.sleep(min(rng.exponential(think), max(stop_at - time.monotonic(), 0)))

        threads = [threading.Thread(target=user, args=(c, k)) for k, c in enumerate(readers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if job_thread is not None:
            job_thread.join()
        ms = np.array(latencies) * 1000
        return {
            "users": users,
            "seconds": seconds,
            "think_s": think,
            "requests": len(latencies),
            "errors": len(errors),
            "error_examples": errors[:5],
            "rps": round(len(latencies) / seconds, 1),
            "p50_ms": round(float(np.percentile(ms, 50)), 1),
            "p95_ms": round(float(np.percentile(ms, 95)), 1),
            "max_ms": round(float(ms.max()), 1),
            "p95_ms_by_page": {
                p: round(float(np.percentile(np.array(v) * 1000, 95)), 1) if v else None
                for p, v in per_page.items()
            },
            "assign_job_s": None if job_s is None else round(job_s, 1),
        }
    finally:
        server.terminate()
        server.wait(timeout=60)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--db", required=True, help="PostgreSQL URL (filled on first use)")
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--think",
        type=float,
        default=0.0,
        help="Mean seconds a user reads a page before the next (exponential, seeded); 0: none.",
    )
    ap.add_argument("--no-assign", action="store_true", help="Only readers, no assignment job.")
    ap.add_argument("--json", action="store_true", help="One JSON line.")
    args = ap.parse_args()
    prepare(args.db, args.seed)
    out = run(
        args.db,
        users=args.users,
        seconds=args.seconds,
        assign=not args.no_assign,
        think=args.think,
        seed=args.seed,
    )
    if args.json:
        print(json.dumps(out))
    else:
        for k, v in out.items():
            print(f"{k:>14}: {v}")


if __name__ == "__main__":
    main()
