"""Text for people, in Chinese and English, from one gettext message catalogue.

Code writes person-facing text in English and marks it, so that the catalogue can find it:

- ``_("{n} proposals screened", n=n)`` translates now, into the current language;
- ``_n("{n} row", "{n} rows", n)`` the same, with the English plural;
- ``Msg("{expert} works at {unit}", expert=..., unit=...)`` keeps the message and its values, for
  text that is stored (findings, conflict chains, explanations) and shown later in whatever
  language the reader chose. ``Msg.to_json`` / :func:`render_stored` carry it through a text
  column; values may be strings, numbers, other ``Msg`` or lists of them;
- ``N_("...")`` marks a constant for the catalogue without translating it yet.

Placeholders are ``str.format`` fields with names (``{score:.1f}`` works); never build the
message itself with an f-string, or the catalogue cannot see it.

The Chinese lives in ``models/locale/zh/LC_MESSAGES/reviewopt.po`` and is read with Babel, the
gettext tool of the Python ecosystem: a ``.po`` file is what translators' tools edit,
``python -m scripts.catalogue`` keeps it in step with the code through Babel's extractor, and
``tests/test_i18n.py`` fails when a marked message has no Chinese. English is the message itself.

The language is ``--lang`` on the command line, else ``REVIEWOPT_LANG``, else the locale
(``zh_*`` gives Chinese), else English. It is a context variable, so that a server can set it
per request. Machine-facing output (``--json``, CSV column names, exit codes, audit records)
never depends on it.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from json.encoder import encode_basestring_ascii
from typing import Any

LANGUAGES = ("zh", "en")
DOMAIN = "reviewopt"

_LANG: contextvars.ContextVar[str | None] = contextvars.ContextVar("reviewopt_lang", default=None)


def default_language() -> str:
    """``REVIEWOPT_LANG`` if set, else Chinese under a ``zh`` locale, else English."""
    env = os.environ.get("REVIEWOPT_LANG", "").strip().lower()
    if env:
        return check_language(env)
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var, "")
        if value:
            return "zh" if value.lower().startswith("zh") else "en"
    return "en"


def check_language(lang: str) -> str:
    """``lang`` if it is one of :data:`LANGUAGES`; a clear error otherwise."""
    if lang not in LANGUAGES:
        raise ValueError(f"language {lang!r} is not supported; expected one of: zh, en")
    return lang


def language() -> str:
    """The language person-facing text is rendered in now."""
    return _LANG.get() or default_language()


def set_language(lang: str) -> contextvars.Token[str | None]:
    """Render in ``lang`` from now on, in this context."""
    return _LANG.set(check_language(lang))


@contextlib.contextmanager
def using(lang: str) -> Iterator[None]:
    """Render in ``lang`` inside the block."""
    token = set_language(lang)
    try:
        yield
    finally:
        _LANG.reset(token)


def catalogue_path(lang: str = "zh") -> Any:
    """The ``.po`` file of ``lang`` (a Traversable inside the installed package)."""
    return resources.files("models") / "locale" / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def _catalogue(lang: str) -> dict[str, str]:
    """msgid -> translation for ``lang`` (empty for English, whose text is the msgid)."""
    if lang == "en":
        return {}
    from babel.messages.pofile import read_po

    with catalogue_path(lang).open("rb") as fh:
        catalog = read_po(fh)
    out: dict[str, str] = {}
    for message in catalog:
        if not message.id:
            continue
        msgid = message.id[0] if isinstance(message.id, tuple | list) else message.id
        text = message.string[0] if isinstance(message.string, tuple | list) else message.string
        if text:
            out[msgid] = text
    return out


def _translate(msgid: str, lang: str) -> str:
    return _catalogue(lang).get(msgid, msgid)


def _fill(template: str, params: Mapping[str, Any], lang: str) -> str:
    if not params:
        return template
    return template.format(**{k: _value(v, lang) for k, v in params.items()})


def _value(v: Any, lang: str) -> Any:
    if isinstance(v, Msg):
        return v.render(lang)
    if isinstance(v, list | tuple):
        return _translate("; ", lang).join(str(_value(x, lang)) for x in v)
    return v


def _(msgid: str, /, **params: Any) -> str:
    """``msgid`` in the current language, its ``{fields}`` filled from ``params``."""
    lang = language()
    return _fill(_translate(msgid, lang), params, lang)


def _n(singular: str, plural: str, n: int, /, **params: Any) -> str:
    """The singular or plural message for count ``n`` (``{n}`` is filled too)."""
    lang = language()
    chosen = singular if n == 1 else plural
    text = _catalogue(lang).get(singular) if lang != "en" else None
    return _fill(text or chosen, {"n": n, **params}, lang)


def N_(msgid: str, /) -> str:
    """Mark ``msgid`` for the catalogue; it is translated where it is shown."""
    return msgid


@dataclass(frozen=True)
class Msg:
    """A message kept with its values, rendered later in the reader's language."""

    id: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def __init__(self, msgid: str, /, **params: Any) -> None:
        object.__setattr__(self, "id", msgid)
        object.__setattr__(self, "params", params)

    def render(self, lang: str | None = None) -> str:
        """The text in ``lang`` (default: the current language)."""
        lang = lang or language()
        return _fill(_translate(self.id, lang), self.params, lang)

    def __str__(self) -> str:
        return self.render()

    def as_dict(self) -> dict[str, Any]:
        return {"msg": self.id, "args": {k: _plain(v) for k, v in self.params.items()}}

    def to_json(self) -> str:
        """The form stored in a text column (read back by :func:`render_stored`). ASCII JSON
        (Chinese escaped): a column of a million conflict chains takes half the memory of the
        same text with Chinese in it, which Python keeps two bytes a character."""
        return json.dumps(self.as_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Msg:
        return cls(d["msg"], **{k: _revive(v) for k, v in d.get("args", {}).items()})


def _plain(v: Any) -> Any:
    if isinstance(v, Msg):
        return v.as_dict()
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    if hasattr(v, "item"):  # NumPy scalars
        return v.item()
    return v


def _revive(v: Any) -> Any:
    if isinstance(v, dict) and "msg" in v:
        return Msg.from_dict(v)
    if isinstance(v, list):
        return [_revive(x) for x in v]
    return v


#: The message that joins several stored messages (rendered "; "-separated in the language).
LIST = N_("{items}")


def join_stored(texts: Sequence[str]) -> str:
    """One stored text for several stored texts (each from :meth:`Msg.to_json`): the text
    itself when there is one, else a :data:`LIST` message of them."""
    if len(texts) == 1:
        return texts[0]
    return Msg(LIST, items=[Msg.from_dict(json.loads(t)) for t in texts]).to_json()


@dataclass(frozen=True)
class JsonColumn:
    """A column of JSON texts to place as they are in :func:`msg_column` (e.g. stored messages
    from another ``msg_column`` call, or JSON lists of them)."""

    values: Any  # (n,) object array of str


def _json_fragments(values: Any) -> Any:
    """(n,) object array: ``json.dumps`` of each value, computed once per distinct value."""
    import numpy as np
    import pandas as pd

    arr = np.asarray(values, dtype=object)
    codes, uniq = pd.factorize(arr, use_na_sentinel=False)
    dumped = [
        encode_basestring_ascii(v)  # what json.dumps(v) gives, without its set-up
        if type(v) is str
        else json.dumps(_plain(v), sort_keys=True)
        for v in uniq.tolist()
    ]
    return np.array(dumped, dtype=object)[codes]


def msg_column(msgid: str, /, **columns: Any) -> Any:
    """(n,) object array: ``Msg(msgid, **row).to_json()`` for every row of the columns, built
    column-wise (one ``json.dumps`` per distinct value, one string per row). Each column is a
    sequence of plain values (str, int, float) or a :class:`JsonColumn` of stored texts."""
    import itertools

    import numpy as np

    sizes = {len(getattr(c, "values", c)) for c in columns.values()}
    if len(sizes) > 1:
        raise ValueError(f"msg_column: columns of different lengths {sorted(sizes)}")
    size = sizes.pop() if sizes else 0
    pieces: list[Any] = []
    head = '{"args": {'
    for i, name in enumerate(sorted(columns)):
        col = columns[name]
        part = (
            np.asarray(col.values, dtype=object)
            if isinstance(col, JsonColumn)
            else _json_fragments(col)
        )
        key = head + (", " if i else "") + json.dumps(name) + ": "
        pieces += [itertools.repeat(key), part.tolist()]
        head = ""
    tail = head + '}, "msg": ' + json.dumps(msgid) + "}"
    out = np.empty(size, dtype=object)
    if size:
        out[:] = ["".join(row) for row in zip(*pieces, itertools.repeat(tail))]
    return out


def stored(text: str | None) -> Msg | None:
    """The :class:`Msg` a text column holds, or None when it holds plain text."""
    if not text or not text.startswith('{"'):
        return None
    try:
        d = json.loads(text)
    except ValueError:
        return None
    return Msg.from_dict(d) if isinstance(d, dict) and "msg" in d else None


def render_stored(text: str | None, lang: str | None = None) -> str:
    """A text column's value for people: a stored :class:`Msg` rendered, plain text as it is."""
    msg = stored(text)
    if msg is None:
        return text or ""
    return msg.render(lang)
