"""Experts' identities kept from viewers: on every page a viewer opens, each expert's id and
name reads 专家A, 专家B, … (Expert A, B, … in English).

The letters follow a keyed hash of the expert id (the server's secret as the key), so that
they say nothing about the ids' order, and stay the same on every page and every visit. The
replacement runs over every value a template shows (and over the report's finished HTML), by
one regular expression built as a trie of the ids and names, which costs time in proportion
to the text, not to the number of experts. Names of one character are left alone (they would
blot out that character everywhere); their ids are still replaced.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from markupsafe import escape
from sqlalchemy import Engine, func, select

from models.db import session
from models.i18n import _
from models.schema import AuditEvent, Expert, Person


def letters(i: int) -> str:
    """0 → A, 25 → Z, 26 → AA, … (bijective base 26)."""
    out = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        out = chr(ord("A") + r) + out
    return out


def _trie(words: Iterable[str]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for w in words:
        node = root
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}
    return root


def _pattern(node: dict[str, Any]) -> str | None:
    """A regular expression matching the words of a trie node, longest first."""
    if list(node) == [""]:
        return None
    alternatives, single = [], []
    for ch in sorted(k for k in node if k):
        rest = _pattern(node[ch])
        if rest is None:
            single.append(re.escape(ch))
        else:
            alternatives.append(re.escape(ch) + rest)
    if single:
        alternatives.append(single[0] if len(single) == 1 else "[" + "".join(single) + "]")
    body = alternatives[0] if len(alternatives) == 1 else "(?:" + "|".join(alternatives) + ")"
    if "" in node:
        return f"(?:{body})?"
    return body


def _compile(words: Iterable[str]) -> re.Pattern[str] | None:
    pattern = _pattern(_trie(words))
    return None if pattern is None else re.compile(pattern)


@dataclass(frozen=True)
class Pseudonyms:
    """Each expert's id and name → their letter; :meth:`text` and :meth:`html` replace them."""

    letter: dict[str, str]  # id or name → letter; HTML-escaped names too
    plain: re.Pattern[str] | None
    escaped: re.Pattern[str] | None

    def _sub(self, pattern: re.Pattern[str] | None, text: str) -> str:
        if pattern is None:
            return text
        return pattern.sub(lambda m: _("Expert {letter}", letter=self.letter[m.group(0)]), text)

    def text(self, text: str) -> str:
        """``text`` with every expert id and name replaced."""
        return self._sub(self.plain, text)

    def html(self, html: str) -> str:
        """The same over finished HTML (names as the page escaped them)."""
        return self._sub(self.escaped, html)


def build(experts: list[tuple[str, str | None]], key: bytes) -> Pseudonyms:
    """Pseudonyms for ``(expert_id, name)`` pairs, lettered by the keyed hash of the id."""
    ranked = sorted(experts, key=lambda e: hmac.new(key, e[0].encode(), hashlib.sha256).digest())
    letter: dict[str, str] = {}
    plain: list[str] = []
    escaped: list[str] = []
    for i, (expert_id, name) in enumerate(ranked):
        mark = letters(i)
        letter[expert_id] = mark
        plain.append(expert_id)
        escaped.append(expert_id)
        if name and len(name) > 1:
            letter.setdefault(name, mark)
            html_name = str(escape(name))
            letter.setdefault(html_name, mark)
            plain.append(name)
            escaped.append(html_name)
    return Pseudonyms(letter, _compile(plain), _compile(escaped))


class PseudonymCache:
    """The pseudonyms of a database, rebuilt when experts or people are imported again."""

    def __init__(self, engine: Engine, key: bytes) -> None:
        self.engine, self.key = engine, key
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._value: Pseudonyms | None = None

    def get(self) -> Pseudonyms:
        with session(self.engine) as s:
            stamp = (
                int(s.scalar(select(func.count()).select_from(Expert)) or 0),
                int(
                    s.scalar(select(func.max(AuditEvent.id)).where(AuditEvent.command == "import"))
                    or 0
                ),
            )
            with self._lock:
                if self._value is not None and stamp == self._stamp:
                    return self._value
            rows = s.execute(
                select(Expert.expert_id, Person.name).join(
                    Person, Person.person_id == Expert.expert_id
                )
            ).all()
        value = build([(e, n) for e, n in rows], self.key)
        with self._lock:
            self._stamp, self._value = stamp, value
        return value
