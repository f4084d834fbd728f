"""The worker that runs queued jobs: a thread inside ``reviewopt serve`` (the default), or
``reviewopt worker`` on its own, on this machine or on others that share the PostgreSQL
database.

The worker loop claims one job at a time (:func:`models.queue.claim`) and runs it in a child
process forked from a small pre-loaded server process (multiprocessing's ``forkserver``): a
solve then has a core of its own instead of sharing the web server's interpreter lock, a crash
or an out-of-memory kill fails that job only, and its memory is returned when it ends. The
child records progress, heartbeat and the result in the ``jobs`` row itself.

A job is either an ``import`` of uploaded files (read from the ``uploads`` table) or a
``reviewopt`` command with its arguments, run in-process by :func:`scripts.invoke.invoke`:
the same options, checks, job function, audit event and figures as in a terminal.
"""

from __future__ import annotations

import functools
import json
import logging
import multiprocessing
import threading
import time
from dataclasses import asdict
from typing import Any

import click
from sqlalchemy import Engine

from models import queue
from models.db import make_engine
from models.i18n import _, using
from models.problems import InvalidInput
from scripts.output import PROGRESS_SINK, Report, cell_text, to_json

log = logging.getLogger("reviewopt.worker")

POLL_S = 1.0
"""How often an idle worker looks for a job."""
LOCK_WAIT_S = 600.0
"""How long a job waits for a batch that a run from the command line holds."""
PROGRESS_EVERY_S = 0.5


def report_result(report: Report) -> dict[str, Any]:
    """A command's report as stored with its job: the ``--json`` data, and the tables and
    lines a terminal shows (cells as text, in the language the job ran in)."""
    return {
        "data": json.loads(to_json(report.data)),
        "tables": [
            {
                "title": t.title,
                "columns": [str(c) for c in t.columns],
                "rows": [[cell_text(v) for v in r] for r in t.rows],
            }
            for t in report.tables
        ],
        "lines": [str(line) for line in report.lines],
        "exit_code": report.exit_code,
    }


class _Heartbeat(threading.Thread):
    def __init__(self, engine: Engine, job_id: int) -> None:
        super().__init__(name=f"reviewopt-job-{job_id}-heartbeat", daemon=True)
        self.engine, self.job_id, self.stopped = engine, job_id, threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(queue.HEARTBEAT_S):
            try:
                queue.heartbeat(self.engine, self.job_id)
            except Exception:  # noqa: BLE001 - a missed beat is retried at the next one
                log.warning("job %s: heartbeat failed", self.job_id, exc_info=True)


class _Progress:
    """The progress callback of a running job: writes at most every PROGRESS_EVERY_S."""

    def __init__(self, engine: Engine, job_id: int) -> None:
        self.engine, self.job_id, self.last = engine, job_id, 0.0

    def __call__(self, stage: str, fraction: float) -> None:
        t = time.monotonic()
        if t - self.last >= PROGRESS_EVERY_S or fraction >= 1.0:
            self.last = t
            queue.progress(self.engine, self.job_id, fraction, stage)


def _run(engine: Engine, job: Any, lang: str) -> dict[str, Any]:
    from models import io, jobs
    from scripts.invoke import invoke

    if job.kind == "import":
        files = [(u.kind, io.FileData(u.name, u.data)) for u in queue.uploads_of(engine, job.id)]
        results = jobs.import_uploads(engine, files, actor=job.created_by)
        return {
            "data": {"imported": jobs.counts_summary(results)},
            "tables": [
                {
                    "title": _("Imported"),
                    "columns": [_("kind"), _("file"), _("created"), _("updated"), _("unchanged")],
                    "rows": [
                        [r.kind, r.file, str(r.created), str(r.updated), str(r.unchanged)]
                        for r in results
                    ],
                }
            ],
            "lines": [],
            "exit_code": 0,
        }
    report = invoke(
        job.kind,
        job.params.get("args", []),
        engine=engine,
        actor=job.created_by,
        lang=lang,
        wait_s=LOCK_WAIT_S,
    )
    return report_result(report)


def execute(url: str, job_id: int) -> None:
    """Run one claimed job to its end and record how it ended (in the worker's child)."""
    engine = make_engine(url)
    beat = _Heartbeat(engine, job_id)
    token = PROGRESS_SINK.set(_Progress(engine, job_id))
    try:
        job = queue.get_job(engine, job_id)
        if job is None or job.state != "running":
            return
        lang = str(job.params.get("lang", "zh"))
        beat.start()
        with using(lang):
            try:
                result = _run(engine, job, lang)
            except InvalidInput as exc:
                queue.finish(
                    engine,
                    job_id,
                    error=str(exc).split("\n", 1)[0],
                    problems=[{k: _text(v) for k, v in asdict(p).items()} for p in exc.problems],
                )
                return
            except click.ClickException as exc:  # CliError and usage errors: the command's say
                queue.finish(engine, job_id, error=exc.format_message())
                return
            except Exception:  # noqa: BLE001 - the trace goes to the log, never to a page
                log.exception("job %s (%s) failed", job_id, job.kind)
                queue.finish(
                    engine,
                    job_id,
                    error=_(
                        "the run stopped on an internal error; the server's log has the "
                        "details (job {job})",
                        job=job_id,
                    ),
                )
                return
            failed = result["exit_code"] != 0
            queue.finish(
                engine,
                job_id,
                result=result,
                error=(
                    ("\n".join(result["lines"]) or _("the run ended without a result"))
                    if failed
                    else None
                ),
            )
    finally:
        beat.stopped.set()
        PROGRESS_SINK.reset(token)
        engine.dispose()


def _text(v: Any) -> Any:
    return v if v is None or isinstance(v, int | float) else str(v)


@functools.cache
def _children() -> Any:
    """Child processes forked from a server that has imported this module (and so pandas,
    OR-Tools and the jobs) once."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["scripts.worker", "scripts.cli"])
    return ctx


class Worker:
    """Claims jobs from the database at ``url`` and runs each in a child process."""

    def __init__(self, url: str, *, poll_s: float = POLL_S) -> None:
        self.url, self.poll_s = url, poll_s
        self.engine = make_engine(url)
        self.stopped = threading.Event()

    def run(self) -> None:
        """Run jobs until :meth:`stop`."""
        name = queue.worker_name()
        while not self.stopped.is_set():
            try:
                queue.reap(self.engine)
                job = queue.claim(self.engine, name)
            except Exception:  # noqa: BLE001 - the database may be away for a moment
                log.warning("worker: cannot reach the queue", exc_info=True)
                job = None
            if job is None:
                self.stopped.wait(self.poll_s)
                continue
            self._run_child(job.id)
        self.engine.dispose()

    def _run_child(self, job_id: int) -> None:
        child = _children().Process(target=execute, args=(self.url, job_id), daemon=True)
        child.start()
        while child.is_alive() and not self.stopped.is_set():
            child.join(self.poll_s)
        if child.is_alive():  # the worker is stopping: the job ends with it
            child.terminate()
            child.join()
            queue.finish(
                self.engine, job_id, error=_("the run was stopped when its worker stopped")
            )
            return
        job = queue.get_job(self.engine, job_id)
        if job is not None and job.state == "running":
            queue.finish(
                self.engine,
                job_id,
                error=_(
                    "the process running the job ended unexpectedly (exit code {code}; out of "
                    "memory?)",
                    code=child.exitcode,
                ),
            )

    def stop(self) -> None:
        self.stopped.set()


def start_embedded(url: str) -> tuple[Worker, threading.Thread]:
    """A worker in a thread of this process (``reviewopt serve``'s default)."""
    worker = Worker(url)
    thread = threading.Thread(target=worker.run, name="reviewopt-worker", daemon=True)
    thread.start()
    return worker, thread
