"""Names beside ids: wherever a person reads an expert id, a unit id or a direction code, the
name (or the direction's title) stands next to it.

:func:`beside_ids` adds the missing name columns to a result view (``expert`` →
``expert_name``, ``direction`` → ``direction_title``); :func:`lookup` gives the terminal
tables the same names for the ids they show.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from models.db import session as open_session
from models.schema import GuideDirection, Person, Unit


@dataclass(frozen=True)
class Names:
    """id → name of people, units and directions (only those asked for are loaded)."""

    people: dict[str, str] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    directions: dict[str, str] = field(default_factory=dict)

    def person(self, person_id: object) -> str:
        return self.people.get(str(person_id), "")

    def unit(self, unit_id: object) -> str:
        return self.units.get(str(unit_id), "")

    def direction(self, code: object) -> str:
        return self.directions.get(str(code), "")

    def direction_label(self, code: object) -> str:
        """The code and title of a direction, as a person reads it: "3001 垂直领域大模型…"."""
        title = self.direction(code)
        return f"{code} {title}" if title else str(code)


def _ids(values: Iterable[object] | None) -> list[str]:
    if values is None:
        return []
    return sorted({str(v) for v in values if v is not None and not pd.isna(v)})


def load(
    s: Session,
    *,
    people: Iterable[object] | None = None,
    units: Iterable[object] | None = None,
    directions: Iterable[object] | None = None,
) -> Names:
    """The names of the given ids (in chunks, so that long lists stay within SQL limits)."""

    def fetch(key, name, ids: list[str]) -> dict[str, str]:  # type: ignore[no-untyped-def]
        out: dict[str, str] = {}
        for i in range(0, len(ids), 5000):
            chunk = ids[i : i + 5000]
            out.update({k: v or "" for k, v in s.execute(select(key, name).where(key.in_(chunk)))})
        return out

    return Names(
        people=fetch(Person.person_id, Person.name, _ids(people)),
        units=fetch(Unit.unit_id, Unit.name, _ids(units)),
        directions=fetch(GuideDirection.code, GuideDirection.title, _ids(directions)),
    )


def lookup(
    engine: Engine,
    *,
    people: Iterable[object] | None = None,
    units: Iterable[object] | None = None,
    directions: Iterable[object] | None = None,
) -> Names:
    """:func:`load` in a session of its own (for the terminal tables of a command)."""
    with open_session(engine) as s:
        return load(s, people=people, units=units, directions=directions)


BESIDE = {"expert": "expert_name", "direction": "direction_title"}
"""The id columns of the result views and the name column that goes right after each."""


def beside_ids(s: Session, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with a name column after each id column of :data:`BESIDE` that lacks one."""
    wanted = [c for c in BESIDE if c in frame.columns and BESIDE[c] not in frame.columns]
    if not wanted:
        return frame
    names = load(
        s,
        people=frame["expert"] if "expert" in wanted else None,
        directions=frame["direction"] if "direction" in wanted else None,
    )
    out = frame.copy()
    for c in wanted:
        find = names.person if c == "expert" else names.direction
        out.insert(out.columns.get_loc(c) + 1, BESIDE[c], [find(v) for v in out[c]])
    return out
