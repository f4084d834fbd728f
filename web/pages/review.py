"""The stages before the scores: screening (with waivers), the expert pool, conflicts (search
and explain), the assignment (run form, results per proposal and per expert, invitation
workbooks), declines and their replacement, and the reviews coming back."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import click
from starlette.responses import Response
from starlette.routing import Route

from scripts.invoke import invoke
from scripts.worker import report_result
from web import forms
from web.render import html
from web.security import Req, page
from web.tables import batch_view, latest_run, records

SEARCH_LIMIT = 200


def _stage(req: Req, template: str, **context: Any) -> Response:
    batch_id = req.path("batch")
    return html(template, req=req, batch_id=batch_id, forms=forms, **context)


@page("read")
def screening(req: Req) -> Response:
    found = batch_view(req.engine, req.path("batch"), "findings")
    status = batch_view(req.engine, req.path("batch"), "screening")
    counts = status["status"].value_counts().to_dict() if len(status) else {}
    return _stage(req, "screening.html.j2", findings=records(found), counts=counts)


@page("read")
def pool(req: Req) -> Response:
    aside = batch_view(req.engine, req.path("batch"), "pool")
    return _stage(req, "pool.html.j2", aside=records(aside), n_aside=aside["expert"].nunique())


@page("read")
def conflicts(req: Req) -> Response:
    found = batch_view(req.engine, req.path("batch"), "conflicts")
    q = req.query("q")
    hits = found
    if q:
        hits = found[(found["proposal"] == q) | (found["expert"] == q) | found["expert_name"].eq(q)]
    by_kind = found.drop_duplicates(["proposal", "expert", "kind"])["kind"].value_counts()
    explained = None
    expert, proposal = req.query("expert"), req.query("proposal")
    if expert and proposal:
        try:
            report = invoke(
                "explain", [expert, proposal], engine=req.engine, actor=req.actor, lang=req.lang
            )
            explained = report_result(report)["lines"]
        except click.ClickException as exc:
            explained = [exc.format_message()]
    return _stage(
        req,
        "conflicts.html.j2",
        pairs=len(found[["proposal", "expert"]].drop_duplicates()) if len(found) else 0,
        by_kind=by_kind.to_dict(),
        q=q,
        hits=records(hits, SEARCH_LIMIT) if q else [],
        n_hits=len(hits) if q else 0,
        expert=expert,
        proposal=proposal,
        explained=explained,
    )


def _per_proposal(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        p = out.setdefault(
            str(r["proposal"]),
            {"proposal": r["proposal"], "title": r["title"], "direction": r["direction"],
             "lead_unit": r["lead_unit"], "experts": [], "reserves": [], "declined": []},
        )  # fmt: skip
        place = {"invited": "experts", "accepted": "experts", "reserve": "reserves"}.get(
            str(r["status"]), "declined"
        )
        p[place].append(r)
    return list(out.values())


def _per_expert(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: dict[str, dict[str, Any]] = defaultdict(dict)
    for r in rows:
        if r["status"] not in ("invited", "accepted"):
            continue
        e = out[str(r["expert"])]
        e.setdefault("expert", r["expert"])
        e.setdefault("expert_name", r["expert_name"])
        e.setdefault("expert_unit", r["expert_unit"])
        e.setdefault("proposals", []).append(r["proposal"])
    return sorted(out.values(), key=lambda e: (-len(e["proposals"]), str(e["expert"])))


@page("read")
def assign(req: Req) -> Response:
    batch_id = req.path("batch")
    run = latest_run(req.engine, batch_id)
    rows = records(batch_view(req.engine, batch_id, "assignments"), limit=100_000)
    panels = records(batch_view(req.engine, batch_id, "panels"))
    view = req.query("view", "proposals")
    return _stage(
        req,
        "assign.html.j2",
        run=run,
        view=view,
        proposals=_per_proposal(rows) if view == "proposals" else [],
        experts=_per_expert(rows) if view == "experts" else [],
        panels=panels,
    )


@page("read")
def declines(req: Req) -> Response:
    batch_id = req.path("batch")
    rows = records(batch_view(req.engine, batch_id, "assignments"), limit=100_000)
    q = req.query("q")
    current = [r for r in rows if r["status"] in ("invited", "accepted")]
    if q:
        current = [r for r in current if q in (r["proposal"], r["expert"], r["expert_name"])]
    done = [r for r in rows if r["status"] in ("declined", "replaced")]
    return _stage(req, "declines.html.j2", q=q, current=current[:SEARCH_LIMIT], done=done)


@page("read")
def reviews(req: Req) -> Response:
    status = batch_view(req.engine, req.path("batch"), "review_status")
    short = int((status["short"] > 0).sum()) if len(status) else 0
    return _stage(req, "reviews.html.j2", status=records(status), short=short)


ROUTES = [
    Route("/batches/{batch}/screening", screening),
    Route("/batches/{batch}/pool", pool),
    Route("/batches/{batch}/conflicts", conflicts),
    Route("/batches/{batch}/assign", assign),
    Route("/batches/{batch}/declines", declines),
    Route("/batches/{batch}/reviews", reviews),
]
