"""Who is asking and what they may do: the signed session cookie, the CSRF token of every
form that changes state, the role check, the limit on request bodies, and headers that keep
pages from being framed, sniffed or cached.

Every page function is wrapped by :func:`page`, which reads the form (for a POST), refuses a
POST whose ``csrf_token`` is not the session's (403), sends an anonymous reader to the login
page, refuses a role outside the page's permission (403), and then runs the page in a worker
thread with the request's language and, for a viewer, the experts' pseudonyms in force.
"""

from __future__ import annotations

import functools
import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from models.i18n import LANGUAGES, N_, _, using
from models.users import UserInfo, session_user
from web.pseudonyms import PseudonymCache
from web.render import MASK, html
from web.roles import allowed

log = logging.getLogger("reviewopt.web")

SESSION_COOKIE = "reviewopt_session"
SESSION_HOURS = 8
MAX_FILES = 40
MAX_FIELDS = 5000
CSRF_REFUSED = N_(
    "the form's security token is missing or out of date; reload the page and send it again"
)
ROLE_REFUSED = N_("your role may not do this")


@dataclass
class Workbench:
    """What every request shares: the database, the signing key, the viewers' pseudonyms."""

    engine: Engine
    secret: str
    pseudonyms: PseudonymCache
    max_upload_bytes: int


@dataclass
class Req:
    """One request as a page function sees it."""

    request: Request
    bench: Workbench
    user: UserInfo | None
    form: FormData | None
    lang: str

    @property
    def engine(self) -> Engine:
        return self.bench.engine

    @property
    def csrf(self) -> str:
        return csrf_token(self.request)

    def path(self, name: str) -> str:
        return str(self.request.path_params[name])

    def query(self, name: str, default: str = "") -> str:
        return self.request.query_params.get(name, default)

    def field(self, name: str) -> str:
        return str(self.form.get(name, "") if self.form is not None else "").strip()

    def may(self, action: str) -> bool:
        return self.user is not None and allowed(self.user.role, action)

    @property
    def actor(self) -> str:
        assert self.user is not None
        return self.user.name


def csrf_token(request: Request) -> str:
    """The session's CSRF token (made on first use)."""
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return str(token)


def _csrf_ok(request: Request, form: FormData) -> bool:
    sent = str(form.get("csrf_token", ""))
    kept = str(request.session.get("csrf", ""))
    return bool(kept) and hmac.compare_digest(sent.encode(), kept.encode())


def request_language(request: Request) -> str:
    """``?lang=`` (remembered in the session), else the session's, else Chinese."""
    if "session" not in request.scope:
        return "zh"
    asked = request.query_params.get("lang")
    if asked in LANGUAGES:
        request.session["lang"] = asked
        return asked
    kept = request.session.get("lang")
    return kept if kept in LANGUAGES else "zh"


def refuse(status: int, message: str, req: Req | None = None) -> Response:
    """An error page (no stack trace ever)."""
    return html("error.html.j2", http_status=status, req=req, status_code=status, message=message)


def _run(fn: Callable[[Req], Response], req: Req) -> Response:
    with using(req.lang):
        viewer = req.user is not None and req.user.role == "viewer"
        token = MASK.set(req.bench.pseudonyms.get() if viewer else None)
        try:
            return fn(req)
        except LookupError as exc:
            return refuse(404, str(exc), req)
        finally:
            MASK.reset(token)


def _refused(lang: str, status: int, message: str) -> Response:
    with using(lang):
        return refuse(status, _(message))


def page(
    permission: str | None,
) -> Callable[[Callable[[Req], Response]], Callable[[Request], Awaitable[Response]]]:
    """Wrap a page function: login, CSRF and role checks, then the page in a thread."""

    def wrap(fn: Callable[[Req], Response]) -> Callable[[Request], Awaitable[Response]]:
        @functools.wraps(fn)
        async def endpoint(request: Request) -> Response:
            bench: Workbench = request.app.state.bench
            lang = request_language(request)
            form = None
            if request.method == "POST":
                try:
                    form = await request.form(
                        max_files=MAX_FILES,
                        max_fields=MAX_FIELDS,
                        max_part_size=bench.max_upload_bytes,
                    )
                except MultiPartException:
                    return _refused(lang, 400, N_("the form could not be read"))
            try:
                return await _checked(request, bench, fn, permission, form, lang)
            finally:
                if form is not None:
                    await form.close()

        return endpoint

    return wrap


async def _checked(
    request: Request,
    bench: Workbench,
    fn: Callable[[Req], Response],
    permission: str | None,
    form: FormData | None,
    lang: str,
) -> Response:
    if form is not None and not _csrf_ok(request, form):
        return _refused(lang, 403, CSRF_REFUSED)
    name = request.session.get("user")
    user = None
    if name:
        user = await run_in_threadpool(
            session_user, bench.engine, str(name), str(request.session.get("pw", ""))
        )
        if user is None:
            request.session.pop("user", None)
    if permission is not None:
        if user is None:
            if request.method == "GET":
                return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
            return _refused(lang, 403, N_("log in first"))
        if not allowed(user.role, permission):
            return _refused(lang, 403, ROLE_REFUSED)
    return await run_in_threadpool(_run, fn, Req(request, bench, user, form, lang))


def redirect(url: str) -> RedirectResponse:
    """After a POST: go and look (303 See Other)."""
    return RedirectResponse(url, status_code=303)


def local_path(target: str) -> str:
    """``target`` if it is a path of this site, else ``/`` (no open redirects)."""
    ok = target.startswith("/") and not target.startswith("//") and "\\" not in target
    return target if ok else "/"


class SecurityHeaders:
    """Headers on every response: no framing, no MIME sniffing, no caching of pages, scripts
    and styles from this site only (the report's inline styles and charts are allowed)."""

    HEADERS = (
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"same-origin"),
        (
            b"content-security-policy",
            b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            b"img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; "
            b"base-uri 'none'",
        ),
    )

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _v in headers}
                headers += [(k, v) for k, v in self.HEADERS if k not in names]
                if b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimit:
    """Refuses (413) a request body larger than ``max_bytes``, counted as it arrives."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _too_large(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise HTTPException(413)
            return message

        await self.app(scope, counted, send)


async def _too_large(scope: Scope, receive: Receive, send: Send) -> None:
    response = Response("Request body too large", status_code=413, media_type="text/plain")
    await response(scope, receive, send)


def any_error(request: Request, exc: Exception) -> Response:
    """The page for an error nobody expected: logged with its trace, shown without it."""
    log.error("error on %s %s", request.method, request.url.path, exc_info=exc)
    with using(request_language(request)):
        return refuse(500, _("something went wrong on the server; the log has the details"))


def http_error(request: Request, exc: Any) -> Response:
    with using(request_language(request)):
        message = {404: _("no such page"), 413: _("the upload is too large")}.get(
            exc.status_code, _("the request was refused")
        )
        return refuse(exc.status_code, message)
