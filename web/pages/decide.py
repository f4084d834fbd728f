"""From scores to decisions: the ranking per direction, the selection with its reasons, the
chair's overrides, finalising, and the batch report."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.responses import Response
from starlette.routing import Route

from models.db import get_batch, session
from models.schema import Override, Proposal
from web import forms
from web.render import html
from web.security import Req, page
from web.tables import batch_view, records


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
    return html(
        "ranking.html.j2",
        req=req,
        batch_id=batch_id,
        forms=forms,
        methods=methods,
        method=method,
        directions=_by_direction(records(shown, limit=100_000)),
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
]
