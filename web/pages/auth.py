"""Logging in and out."""

from __future__ import annotations

import secrets

from starlette.responses import Response
from starlette.routing import Route

from models.i18n import _
from models.users import TooManyAttempts, authenticate, password_stamp
from web.render import html
from web.security import Req, local_path, page, redirect


def _form(req: Req, status: int = 200, error: str | None = None) -> Response:
    return html(
        "login.html.j2",
        http_status=status,
        req=req,
        error=error,
        next=local_path(req.query("next") or req.field("next") or "/"),
    )


@page(None)
def login(req: Req) -> Response:
    if req.request.method == "GET":
        return _form(req)
    name, password = req.field("username"), str(req.form.get("password", "")) if req.form else ""
    address = req.request.client.host if req.request.client else "unknown"
    try:
        user = authenticate(req.engine, name, password, address=address)
    except TooManyAttempts as exc:
        return _form(req, 429, str(exc))
    if user is None:
        return _form(req, 401, _("wrong user name or password"))
    session = req.request.session
    session.clear()
    session.update(
        user=user.name,
        pw=password_stamp(req.engine, user.name),
        csrf=secrets.token_urlsafe(32),
        lang=req.lang,
    )
    return redirect(local_path(req.field("next") or "/"))


@page(None)
def logout(req: Req) -> Response:
    lang = req.lang
    req.request.session.clear()
    req.request.session["lang"] = lang
    return redirect("/login")


ROUTES = [
    Route("/login", login, methods=["GET", "POST"]),
    Route("/logout", logout, methods=["POST"]),
]
