"""Pages from Jinja2 templates: autoescaping on for every value, text for people from the
message catalogue in the request's language, and experts' identities replaced for viewers.

Every ``{{ value }}`` passes :func:`_finalize` before it is escaped: for a viewer's request
it replaces expert ids and names (see :mod:`web.pseudonyms`), so no template can forget to.
Control characters are shown as visible escapes, never sent raw.
"""

from __future__ import annotations

import contextvars
import functools
import json
import re
from typing import Any

import jinja2
from markupsafe import Markup
from starlette.responses import HTMLResponse

from models.figures import score, word
from models.i18n import _, _n, language, render_stored
from scripts.output import cell_text
from web.pseudonyms import Pseudonyms

MASK: contextvars.ContextVar[Pseudonyms | None] = contextvars.ContextVar("mask", default=None)
"""The pseudonyms of the current request when a viewer makes it."""

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def visible(text: str) -> str:
    """Control characters (other than tab and line breaks) as ``\\xNN``."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}", text)


def _finalize(value: Any) -> Any:
    if value is None:
        return ""
    mask = MASK.get()
    if isinstance(value, Markup):
        return Markup(mask.html(str(value))) if mask is not None else value
    if isinstance(value, str):
        text = visible(value)
        return mask.text(text) if mask is not None else text
    return value


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("web", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_finalize,
    )
    env.globals.update(
        _=_, _n=_n, cell=cell_text, stored=render_stored, language=language, word=word,
        score=lambda v: score(v) or "—",
    )  # fmt: skip
    env.filters["json"] = _json
    return env


def html(template: str, http_status: int = 200, **context: Any) -> HTMLResponse:
    """The page ``template`` rendered with ``context`` in the current language."""
    body = environment().get_template(template).render(lang=language(), **context)
    return HTMLResponse(body, status_code=http_status)
