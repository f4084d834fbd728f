"""From scores to decisions: the ranking per direction, the selection with its reasons, the
chair's overrides, finalising, and the batch report."""

from __future__ import annotations

import threading
from typing import Any

from markupsafe import Markup
from sqlalchemy import Engine, select
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from models.db import get_batch, session
from models.i18n import using
from models.report.gather import gather
from models.report.html import Page, render
from models.schema import Override, Proposal
from web import forms
from web.render import MASK, html
from web.security import Req, page
from web.tables import batch_view, read_at_version, records

_DRAWING = threading.Lock()
"""One report is drawn at a time: the charts' settings are process-wide, and the users who ask
while it is drawn wait for that drawing instead of starting their own."""


def _report(req: Req, batch_id: str) -> Page:
    """The batch report in the request's language, drawn once per version of the data (see
    :func:`web.tables.read_at_version`)."""
    with session(req.engine) as s:
        get_batch(s, batch_id)  # a clear 404 for a batch that does not exist
    with _DRAWING:
        return read_at_version(_draw, req.engine, batch_id, req.lang)


def _draw(engine: Engine, batch_id: str, lang: str) -> Page:
    with using(lang), session(engine) as s:
        return render(gather(s, batch_id))


@page("read")
def report(req: Req) -> Response:
    """The batch report as one page (experts' names and ids replaced for viewers)."""
    body = _report(req, req.path("batch")).html
    mask = MASK.get()
    return HTMLResponse(mask.html(body) if mask is not None else body)


def _by_direction(rows: list[dict[str, Any]]) -> list[tuple[str, str, list[dict[str, Any]]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(str(r["direction"]), []).append(r)
    return [(d, str(g[0].get("direction_title") or ""), g) for d, g in groups.items()]


@page("read")
def ranking(req: Req) -> Response:
    batch_id = req.path("batch")
    ranked = batch_view(req.engine, batch_id, "rankings")
    methods = sorted(ranked["method"].unique()) if len(ranked) else []
    method = req.query("method") or ("bayes" if "bayes" in methods else next(iter(methods), ""))
    shown = ranked[ranked["method"] == method] if len(ranked) else ranked
    charts: dict[str, Markup] = {}
    if len(shown):
        drawn = _report(req, batch_id)
        if drawn.method == method:
            charts = {code: Markup(svg) for code, svg in drawn.charts.items()}
    return html(
        "ranking.html.j2",
        req=req,
        batch_id=batch_id,
        forms=forms,
        methods=methods,
        method=method,
        directions=_by_direction(records(shown, limit=100_000)),
        charts=charts,
    )


@page("read")
def selection(req: Req) -> Response:
    batch_id = req.path("batch")
    decided = batch_view(req.engine, batch_id, "decisions")
    with session(req.engine) as s:
        batch = get_batch(s, batch_id)
        overrides = list(
            s.scalars(
                select(Override)
                .join(Proposal, Proposal.proposal_id == Override.proposal_id)
                .where(Proposal.batch_id == batch_id)
                .order_by(Override.proposal_id)
            )
        )
    flash = req.request.session.pop("flash", None)
    return html(
        "selection.html.j2",
        req=req,
        batch_id=batch_id,
        batch=batch,
        forms=forms,
        directions=_by_direction(records(decided, limit=100_000)),
        funded=int(decided["selected"].fillna(False).astype(bool).sum()) if len(decided) else 0,
        overrides=overrides,
        flash=flash,
    )


ROUTES = [
    Route("/batches/{batch}/ranking", ranking),
    Route("/batches/{batch}/selection", selection),
    Route("/batches/{batch}/report", report),
]
