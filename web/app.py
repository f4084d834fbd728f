"""The Starlette application of ``reviewopt serve``: routes, middleware, and the embedded
worker that runs queued jobs while the server runs."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import AsyncIterator

from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartParser
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from models.db import check_schema, make_engine, session
from models.server_tables import ServerSetting
from web.pages import auth, batches, data, decide, review, users
from web.pseudonyms import PseudonymCache
from web.security import (
    SESSION_COOKIE,
    SESSION_HOURS,
    BodyLimit,
    SecurityHeaders,
    Workbench,
    any_error,
    http_error,
)

MAX_UPLOAD_MB = 64


def session_secret(engine: Engine) -> str:
    """The key that signs session cookies: ``REVIEWOPT_SECRET``, else one made on first start
    and kept in the database, so that every server process on it (and a restart) accepts
    the same sessions."""
    given = os.environ.get("REVIEWOPT_SECRET")
    if given:
        return given
    with session(engine) as s, s.begin():
        kept = s.get(ServerSetting, "session_key")
        if kept is None:
            kept = ServerSetting(name="session_key", value=secrets.token_urlsafe(48))
            s.add(kept)
        return kept.value


async def healthz(_request: object) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def routes() -> list[Route | Mount]:
    return [
        Route("/healthz", healthz),
        *auth.ROUTES,
        *batches.ROUTES,
        *data.ROUTES,
        *review.ROUTES,
        *decide.ROUTES,
        *users.ROUTES,
        Mount("/static", StaticFiles(packages=[("web", "static")]), name="static"),
    ]


def create_app(
    url: str,
    *,
    worker: bool = True,
    max_upload_mb: int = MAX_UPLOAD_MB,
    https_only: bool = False,
) -> Starlette:
    """The workbench over the database at ``url`` (its schema must be current); with
    ``worker``, a thread of the server runs the queued jobs."""
    engine = make_engine(url)
    check_schema(engine)
    secret = session_secret(engine)
    limit = max_upload_mb * 2**20
    # uploads stay in memory up to the limit (the default spools large ones to a temporary
    # file); they are only ever kept in the database
    MultiPartParser.spool_max_size = limit
    bench = Workbench(engine, secret, PseudonymCache(engine, secret.encode()), limit)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        running = None
        if worker:
            from scripts.worker import start_embedded

            running = start_embedded(url)
        try:
            yield
        finally:
            if running is not None:
                running[0].stop()
                running[1].join(timeout=30)
            engine.dispose()

    app = Starlette(
        routes=routes(),
        middleware=[
            Middleware(SecurityHeaders),
            Middleware(BodyLimit, max_bytes=limit + 2**20),
            Middleware(
                SessionMiddleware,
                secret_key=secret,
                session_cookie=SESSION_COOKIE,
                max_age=SESSION_HOURS * 3600,
                same_site="lax",
                https_only=https_only,
            ),
        ],
        exception_handlers={HTTPException: http_error, Exception: any_error},
        lifespan=lifespan,
    )
    app.state.bench = bench
    return app
