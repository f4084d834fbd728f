"""Uploading data files (any import kind, validated all-or-nothing by an import job) and the
input formats."""

from __future__ import annotations

from starlette.datastructures import UploadFile
from starlette.responses import Response
from starlette.routing import Route

from models import queue
from models.i18n import _
from models.io import kinds
from scripts.invoke import invoke
from scripts.worker import report_result
from web.render import html
from web.security import ROLE_REFUSED, Req, page, redirect, refuse
from web.uploads import Given, Refused, accept


def _files(req: Req) -> list[Given]:
    out = []
    for item in req.form.getlist("files") if req.form is not None else []:
        if isinstance(item, UploadFile) and item.filename:
            out.append(Given(item.filename, item.file.read()))
    return out


@page("read")
def upload(req: Req) -> Response:
    kind = req.query("kind", "auto")
    if req.request.method == "GET":
        return html("upload.html.j2", req=req, kinds=kinds(), kind=kind, back=req.query("back"))
    kind = req.field("kind") or "auto"
    if not req.may("reviews" if kind == "reviews" else "import"):
        return refuse(403, _(ROLE_REFUSED), req)
    try:
        uploads = accept(_files(req), kind, limit=req.bench.max_upload_bytes)
    except Refused as exc:
        return html(
            "upload.html.j2", http_status=400, req=req, kinds=kinds(), kind=kind,
            back=req.field("back"), error=str(exc),
        )  # fmt: skip
    job_id = queue.enqueue(
        req.engine, "import", params={"lang": req.lang}, actor=req.actor, uploads=uploads
    )
    return redirect(f"/jobs/{job_id}")


@page("read")
def formats(req: Req) -> Response:
    kind = req.path("kind")
    if kind not in kinds():
        return refuse(404, _("no such kind"), req)
    report = invoke("formats", [kind], engine=req.engine, actor=req.actor, lang=req.lang)
    return html("formats.html.j2", req=req, kind=kind, report=report_result(report))


ROUTES = [
    Route("/upload", upload, methods=["GET", "POST"]),
    Route("/formats/{kind}", formats),
]
