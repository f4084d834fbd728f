"""The batches and where each stands, runs (jobs) and their results, downloads, and the
audit log."""

from __future__ import annotations

import io
import re

import click
from sqlalchemy import func, select
from starlette.responses import Response
from starlette.routing import Route

from models import queue
from models.db import session
from models.i18n import N_, _
from models.schema import AuditEvent, Batch
from models.server_tables import Job
from models.sheets import write_export
from scripts.cmd_status import status_report
from scripts.invoke import check, invoke
from scripts.output import CliError
from scripts.worker import report_result
from web import forms
from web.render import html
from web.roles import CHAIR_ACTIONS, OFFICER_RUNS
from web.security import ROLE_REFUSED, Req, local_path, page, redirect, refuse
from web.tables import batch_stages

STAGE_PAGES = {
    "imported": "upload",
    "screened": "screening",
    "pool": "pool",
    "conflicts": "conflicts",
    "assigned": "assign",
    "declines": "declines",
    "reviews": "reviews",
    "ranked": "ranking",
    "selected": "selection",
    "finalised": "selection",
}
"""The page where the work of each stage of ``reviewopt status`` is done."""

STAGE_WORDS = {
    "affinity": N_("specialty match"),
    "pass": N_("candidates"),
    "flow": N_("min-cost flow"),
    "pricing": N_("pricing out the other pairs"),
    "read": N_("reading"),
}
AUDIT_PAGE = 100
EXPORTS = {
    "assignments": "export",
    "invitations": "invitations",
    "panels": "export",
    "decisions": "export",
    "findings": "export",
    "conflicts": "export",
    "rankings": "export",
    "review_status": "export",
    "pool": "export",
}


def stage_page(batch_id: str, stage: str) -> str:
    where = STAGE_PAGES[stage]
    return "/upload" if where == "upload" else f"/batches/{batch_id}/{where}"


@page("read")
def index(req: Req) -> Response:
    with session(req.engine) as s:
        found = list(s.scalars(select(Batch).order_by(Batch.batch_id)))
    rows = [(b, batch_stages(req.engine, b.batch_id)) for b in found]
    jobs = queue.recent_jobs(req.engine, limit=10)
    return html("index.html.j2", req=req, rows=rows, jobs=jobs, stage_page=stage_page)


@page("read")
def batch(req: Req) -> Response:
    batch_id = req.path("batch")
    status = batch_stages(req.engine, batch_id)
    nxt = next((s for s in status.stages if not s.done), None)
    return html(
        "batch.html.j2",
        req=req,
        batch_id=batch_id,
        status=status,
        report=report_result(status_report(status)),
        next_stage=nxt,
        next_page=None if nxt is None else stage_page(batch_id, nxt.name),
        jobs=queue.recent_jobs(req.engine, batch_id=batch_id, limit=10),
    )


@page("read")
def jobs(req: Req) -> Response:
    return html("jobs.html.j2", req=req, jobs=queue.recent_jobs(req.engine, limit=100))


def _job(req: Req) -> Job:
    try:
        job = queue.get_job(req.engine, int(req.path("job")))
    except ValueError:
        job = None
    if job is None:
        raise LookupError(_("no job {job}", job=req.path("job")))
    return job


@page("read")
def job(req: Req) -> Response:
    return html("job.html.j2", req=req, job=_job(req), words=STAGE_WORDS)


@page("read")
def job_state(req: Req) -> Response:
    return html("job_state.html.j2", req=req, job=_job(req), words=STAGE_WORDS)


@page("read")
def run(req: Req) -> Response:
    """Start a run of a batch: an officer's run is queued as a job; a chair's action (an
    override, finalising, unlocking) is done at once."""
    batch_id, name = req.path("batch"), req.path("command")
    back = local_path(req.field("back") or f"/batches/{batch_id}")
    if name not in OFFICER_RUNS + CHAIR_ACTIONS or name in ("import", "reviews"):
        return refuse(404, _("no such run"), req)
    if not req.may(name):
        return refuse(403, _(ROLE_REFUSED), req)
    args = forms.arguments(name, req.form, batch_id=batch_id)
    try:
        check(name, args)
        if name in CHAIR_ACTIONS:
            report = invoke(name, args, engine=req.engine, actor=req.actor, lang=req.lang)
            req.request.session["flash"] = report_result(report)["lines"]
            return redirect(back)
        job_id = queue.enqueue(
            req.engine,
            name,
            params={"args": args, "lang": req.lang},
            actor=req.actor,
            batch_id=batch_id,
        )
    except click.ClickException as exc:
        return refuse(400 if not isinstance(exc, CliError) else 409, exc.format_message(), req)
    except queue.BatchBusy as exc:
        return html("busy.html.j2", http_status=409, req=req, message=str(exc), job_id=exc.job_id)
    return redirect(f"/jobs/{job_id}")


@page("read")
def audit_log(req: Req) -> Response:
    try:
        number = max(int(req.query("page", "1")), 1)
    except ValueError:
        number = 1
    with session(req.engine) as s:
        total = int(s.scalar(select(func.count()).select_from(AuditEvent)) or 0)
        events = list(
            s.scalars(
                select(AuditEvent)
                .order_by(AuditEvent.id.desc())
                .offset((number - 1) * AUDIT_PAGE)
                .limit(AUDIT_PAGE)
            )
        )
    pages = max((total + AUDIT_PAGE - 1) // AUDIT_PAGE, 1)
    return html("audit.html.j2", req=req, events=events, page=number, pages=pages, total=total)


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)[:60] or "batch"


@page("read")
def export(req: Req) -> Response:
    """A result view as XLSX (headers in the page's language) or CSV, as the CLI writes it."""
    view, fmt = req.path("view"), req.path("fmt")
    if view not in EXPORTS or fmt not in ("csv", "xlsx"):
        return refuse(404, _("no such download"), req)
    if not req.may(EXPORTS[view]):
        return refuse(403, _(ROLE_REFUSED), req)
    if fmt == "csv":
        _rows, data = write_export(req.engine, view, None, "csv")
        media = "text/csv; charset=utf-8"
    else:
        from models.sheets import workbook_sheets
        from models.workbook import write_workbook

        buffer = io.BytesIO()
        write_workbook(
            buffer,
            workbook_sheets(req.engine, view, headers=req.lang, by_expert=view == "invitations"),
        )
        data = buffer.getvalue()
        media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    filename = f"{_safe(view)}-{_safe(req.path('batch'))}.{fmt}"
    return Response(
        data,
        media_type=media,
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )


ROUTES = [
    Route("/", index),
    Route("/batches/{batch}", batch),
    Route("/batches/{batch}/run/{command}", run, methods=["POST"]),
    Route("/batches/{batch}/export/{view}.{fmt}", export),
    Route("/jobs", jobs),
    Route("/jobs/{job}", job),
    Route("/jobs/{job}/state", job_state),
    Route("/audit", audit_log),
]
