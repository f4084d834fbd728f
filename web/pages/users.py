"""Users and their roles (administrators only)."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from models.server_tables import ROLES
from models.users import add_user, change_user, list_users
from web.render import html
from web.security import Req, page, redirect


@page("users")
def users(req: Req) -> Response:
    error = None
    if req.request.method == "POST":
        password = str(req.form.get("password", "")) if req.form is not None else ""
        name, action = req.field("name"), req.field("action")
        try:
            if action == "add":
                add_user(
                    req.engine, name, role=req.field("role"), password=password, actor=req.actor
                )
            else:
                change_user(
                    req.engine,
                    name,
                    actor=req.actor,
                    role=req.field("role") or None,
                    active={"on": True, "off": False}.get(req.field("active")),
                    password=password or None,
                )
            return redirect("/users")
        except (ValueError, LookupError) as exc:
            error = str(exc)
    return html(
        "users.html.j2",
        http_status=400 if error else 200,
        req=req,
        users=list_users(req.engine),
        roles=ROLES,
        error=error,
    )


ROUTES = [Route("/users", users, methods=["GET", "POST"])]
