"""The graph of people, units, proposals and guide directions built from the batch tables.

Nodes are tuples ``(type, id)`` with type in ``person | unit | proposal | direction`` and a
``name`` attribute (the Chinese name where the tables have one, else the id). Edges of the
``networkx.MultiDiGraph`` carry a ``kind``:

- ``employs`` unit → person (``start``, ``end``: ``date | None``; ``current``: from
  ``people.unit_id`` or an employment row with no end date);
- ``parent_of`` / ``controls`` / ``shareholding`` unit → unit (``share`` for shareholding);
- ``coauthor`` / ``coapplicant`` / ``advisor_of`` / ``relative_of`` person → person (``year``);
- ``team_member`` person → proposal (``role``: pi | key | member | joint_leader, ``seq``);
- ``lead_unit`` / ``joint_unit`` unit → proposal (``seq`` for joint units);
- ``recusal`` proposal → person or unit (``reason``);
- ``head_of`` person → unit; ``direction_role`` person → direction (``role``: drafter | advisor);
- ``in_direction`` proposal → direction.

The same module holds the one definition of *related units* (关联单位), :class:`Relatedness`,
read from the conflict policy file and used by the conflict rules, the screening rules on related
enterprises and near-duplicates, and selection's related groups: :func:`related_unit_pairs`
(vectorised, over the ``unit_relations`` frame, the reference) and :func:`related_units_in_graph`
(a walk on the graph) give the same answer and are tested against each other.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from models.vocab import (
    DIRECTION_ROLE,
    EXPERT_KIND,
    FORMATS,
    MODE,
    RATING,
    RELATION_KIND,
    TEAM_ROLE,
    TITLE,
    UNIT_RELATION_KIND,
    UNIT_TYPE,
)

COLUMNS: dict[str, tuple[str, ...]] = {
    kind: FORMATS[kind]
    for kind in (
        "guide",
        "units",
        "unit_relations",
        "people",
        "employment",
        "experts",
        "direction_experts",
        "credit_penalties",
        "ratings",
        "proposals",
        "joint_directions",
        "team_members",
        "person_relations",
        "recusals",
        "in_progress_projects",
        "batches",
    )
}

_NORMALISED = "reviewopt_normalised"
_ID_COLUMNS = {
    "code", "unit_id", "related_unit_id", "head_id", "person_id", "expert_id", "direction_code",
    "subject_id", "batch_id", "proposal_id", "lead_unit_id", "pi_id", "leader_id",
    "other_person_id", "project_id",
}  # fmt: skip

# Chinese labels accepted for enum columns (the importers translate them too; cores are lenient).
_ENUM_ALIASES: dict[str, str] = {
    label: code
    for vocabulary in (
        UNIT_TYPE, UNIT_RELATION_KIND, TITLE, EXPERT_KIND, DIRECTION_ROLE, RATING, TEAM_ROLE,
        RELATION_KIND,
    )
    for code, label in vocabulary.items()
}  # fmt: skip
_ENUM_COLUMNS: dict[str, frozenset[str]] = {
    "units": frozenset({"type"}),
    "unit_relations": frozenset({"kind"}),
    "people": frozenset({"title"}),
    "experts": frozenset({"kind"}),
    "direction_experts": frozenset({"role"}),
    "credit_penalties": frozenset({"subject_type"}),
    "ratings": frozenset({"rating"}),
    "team_members": frozenset({"role"}),
    "person_relations": frozenset({"kind"}),
}
_MODE_ALIASES = {english: chinese for chinese, english in MODE.items()}

#: Reach of "related units": which neighbours of a unit count as related to it.
REACH_CHOICES = frozenset({"parent", "subsidiary", "sibling"})
#: Default reach (same unit always counts).
DEFAULT_REACH = frozenset({"parent", "subsidiary", "sibling"})
_CONTROL_KINDS = ("parent_of", "controls")


def _clean_id(v: Any) -> str | None:
    if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and v != v):
        return None
    return str(v).strip() or None


def _clean_ids(s: pd.Series) -> pd.Series:
    """Ids as strings (numbers written without a trailing .0); missing stays missing."""
    if pd.api.types.is_float_dtype(s) or pd.api.types.is_integer_dtype(s):
        s = s.astype("Int64")
    # clean each distinct value once (hash factorisation); missing values get code -1
    codes, uniq = pd.factorize(s)
    clean = [(v.strip() or None) if type(v) is str else _clean_id(v) for v in uniq.tolist()]
    out = np.array([*clean, None], dtype=object)[codes]
    return pd.Series(out, index=s.index, dtype=object)


def _map_aliases(s: pd.Series, aliases: Mapping[str, str]) -> pd.Series:
    """Text values mapped through ``aliases`` (others kept), exactly as ``Series.map`` would.

    A text column with no value to translate is returned as it is (the common case)."""
    if (
        isinstance(s.dtype, pd.StringDtype)
        and s.dtype.na_value is np.nan
        and (len(s) == 0 or s.notna().any())
        and not any(v in aliases for v in s.unique().tolist() if isinstance(v, str))
    ):
        return s
    return s.map(lambda v: aliases.get(v, v) if isinstance(v, str) else v)


def table(tables: Mapping[str, pd.DataFrame], kind: str) -> pd.DataFrame:
    """A copy of ``tables[kind]`` with every documented column (missing kinds give empty frames).

    Id columns become Python strings (``None`` when missing); enum columns are mapped from their
    Chinese labels to the English codes; the caller's frame is not changed.
    """
    cols = COLUMNS[kind]
    src = tables.get(kind)
    if src is not None and src.attrs.get(_NORMALISED) == kind and set(cols) <= set(src.columns):
        return src.copy(deep=False)  # already normalised (copy-on-write keeps the source safe)
    df = pd.DataFrame(columns=list(cols)) if src is None else src.copy()
    for c in cols:
        if c not in df.columns:
            df[c] = None
    df = df.reset_index(drop=True)
    for c in df.columns:
        if c in _ID_COLUMNS:
            df[c] = _clean_ids(df[c])
        elif c in _ENUM_COLUMNS.get(kind, frozenset()):
            df[c] = _map_aliases(df[c], _ENUM_ALIASES)
        elif c == "mode":
            df[c] = _map_aliases(df[c], _MODE_ALIASES)
    df.attrs[_NORMALISED] = kind
    return df


def normalise(tables: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Every documented kind through :func:`table` once (later ``table`` calls are cheap)."""
    return {kind: table(tables, kind) for kind in COLUMNS}


class Normalised(Mapping[str, pd.DataFrame]):
    """Like :func:`normalise`, but each kind goes through :func:`table` on first use only, so
    a pass that reads a few kinds does not pay for the others. Read-only; ``tables`` is kept
    by reference and not changed."""

    def __init__(self, tables: Mapping[str, pd.DataFrame]) -> None:
        self._source = tables
        self._done: dict[str, pd.DataFrame] = {}

    def __getitem__(self, kind: str) -> pd.DataFrame:
        if kind not in self._done:
            if kind not in COLUMNS:
                raise KeyError(kind)
            self._done[kind] = table(self._source, kind)
        return self._done[kind]

    def __iter__(self) -> Iterator[str]:
        return iter(COLUMNS)

    def __len__(self) -> int:
        return len(COLUMNS)


def to_date(value: Any) -> date | None:
    """An ISO date / timestamp / date-like value as ``datetime.date`` (``None`` when missing)."""
    if value is None:
        return None
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:  # the common case, ISO text, without pandas' per-call format inference
            return datetime.fromisoformat(value.strip()).date()
        except ValueError:
            pass
    ts = pd.to_datetime(value, errors="coerce")
    if ts is None or pd.isna(ts):
        return None
    return ts.date()


def parse_dates(values: pd.Series) -> pd.Series:
    """A column of dates/timestamps as ``datetime64`` (NaT when missing or unreadable).

    ISO text (the import formats) is parsed in one vectorised pass with an explicit format;
    only values that fail it go through pandas' general parser, one at a time."""
    text = isinstance(values.dtype, pd.StringDtype) or (
        values.dtype == object and all(isinstance(v, str) for v in values.dropna().tolist())
    )
    if not text:  # dates, timestamps, numbers: pandas' own conversion
        return pd.to_datetime(values, errors="coerce")
    out = pd.to_datetime(values, format="ISO8601", errors="coerce")
    bad = out.isna() & values.notna()
    if bad.any():
        out = out.copy()
        out[bad] = [pd.to_datetime(v, errors="coerce") for v in values[bad].tolist()]
    return out


def to_dates(values: pd.Series) -> list[date | None]:
    """:func:`to_date` of every value, with the column parsed once (:func:`parse_dates`)."""
    try:
        parsed = parse_dates(values)
        return [None if x is pd.NaT else x.date() for x in parsed.tolist()]
    except (TypeError, ValueError, OverflowError):  # e.g. mixed time zones: value by value
        return [to_date(v) for v in values.tolist()]


def years_before(day: date, years: int) -> date:
    """The same calendar day ``years`` years earlier (29 February maps to 28 February)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def name_maps(tables: Mapping[str, pd.DataFrame]) -> tuple[dict[str, str], dict[str, str]]:
    """(person id → name, unit id → name); ids without a name map to themselves."""
    people = table(tables, "people")
    units = table(tables, "units")
    pn = {
        pid: (str(n) if isinstance(n, str) and n else pid)
        for pid, n in zip(people["person_id"].tolist(), people["name"].tolist(), strict=True)
        if pid is not None
    }
    un = {
        uid: (str(n) if isinstance(n, str) and n else uid)
        for uid, n in zip(units["unit_id"].tolist(), units["name"].tolist(), strict=True)
        if uid is not None
    }
    return pn, un


# ---------------------------------------------------------------------------------------------
# related units: one definition, two implementations (frame join and graph walk)

#: Relation codes of ``other`` relative to ``unit`` (see :func:`related_unit_pairs`).
RELATIONS = (
    "same", "subsidiary", "controlled", "investee", "parent", "controller", "shareholder",
    "sibling",
)  # fmt: skip


class RelatednessError(ValueError):
    """A definition of related units that cannot be used."""


@dataclass(frozen=True)
class Relatedness:
    """Which units are related (关联单位): the one definition that screening (related
    enterprises, near-duplicates), conflicts and selection read, from the conflict policy file.

    A unit is related to itself; to the units it is parent of (``parent_of``), controls
    (``controls``) or holds at least ``shareholding_threshold`` of (``shareholding`` rows with a
    ``share``); to the units that are so over it; and to the units under a common parent,
    controller or such shareholder. ``reach`` ⊆ {parent, subsidiary, sibling} keeps some of
    these directions; ``shareholding`` false ignores shareholdings altogether. A shareholding
    with no share recorded, or below the threshold (a minority stake), relates nothing.
    """

    reach: frozenset[str] = DEFAULT_REACH
    shareholding: bool = True
    shareholding_threshold: float = 0.25

    def __post_init__(self) -> None:
        object.__setattr__(self, "reach", frozenset(self.reach))
        bad = sorted(self.reach - REACH_CHOICES)
        if bad:
            raise RelatednessError(
                f"unknown unit_reach value(s) {', '.join(bad)}; use some of "
                f"{', '.join(sorted(REACH_CHOICES))}"
            )
        t = self.shareholding_threshold
        if isinstance(t, bool) or not isinstance(t, int | float) or not 0 < t <= 1:
            raise RelatednessError(
                f"shareholding_threshold must be a share in (0, 1] (0.25 = 25 %), got {t!r}"
            )
        if not isinstance(self.shareholding, bool):
            raise RelatednessError("shareholding must be true or false")

    def counts(self, kind: str, share: float | None) -> bool:
        """Whether a unit relation of ``kind`` with ``share`` relates the two units."""
        if kind in _CONTROL_KINDS:
            return True
        return (
            kind == "shareholding"
            and self.shareholding
            and share is not None
            and share == share
            and share >= self.shareholding_threshold - 1e-9
        )


_DOWN = {"parent_of": "subsidiary", "controls": "controlled", "shareholding": "investee"}
_UP = {"parent_of": "parent", "controls": "controller", "shareholding": "shareholder"}


def _links(unit_relations: pd.DataFrame, relatedness: Relatedness) -> pd.DataFrame:
    """The relations that relate units: holder (unit_id), held (related_unit_id), kind, share
    (the share for shareholdings, else None)."""
    rel = table({"unit_relations": unit_relations}, "unit_relations")
    rel = rel[rel["unit_id"].notna() & rel["related_unit_id"].notna()]
    rel = rel[rel["unit_id"] != rel["related_unit_id"]]
    share = pd.to_numeric(rel["share"], errors="coerce")
    keep = rel["kind"].isin(_CONTROL_KINDS)
    if relatedness.shareholding:
        keep |= (rel["kind"] == "shareholding") & (
            share >= relatedness.shareholding_threshold - 1e-9
        )
    out = rel.loc[keep, ["unit_id", "related_unit_id", "kind"]].copy()
    sh = share[keep].where(out["kind"] == "shareholding")
    out["share"] = pd.Series(
        [None if v != v else float(v) for v in sh.tolist()], index=out.index, dtype=object
    )
    return out.drop_duplicates().reset_index(drop=True)


def related_unit_pairs(
    unit_relations: pd.DataFrame,
    *,
    relatedness: Relatedness,
    include_same: bool = False,
    units: Iterable[str] | None = None,
) -> pd.DataFrame:
    """All (unit_id, other_unit_id) pairs where ``other`` is related to ``unit``.

    Returns columns unit_id, other_unit_id, relation (a code of :data:`RELATIONS`: ``other``
    relative to ``unit``), via (the common parent/controller/shareholder for ``sibling``, else
    None) and share (the holding for ``shareholder`` / ``investee``, else None), one row per way
    the two are related. ``include_same`` adds (u, u, "same") for every unit in ``units``;
    ``units`` keeps only the rows of those units.
    """
    reach = relatedness.reach
    links = _links(unit_relations, relatedness)
    frames: list[pd.DataFrame] = []
    if "subsidiary" in reach:  # other is held by unit
        frames.append(
            pd.DataFrame(
                {
                    "unit_id": links["unit_id"].to_numpy(),
                    "other_unit_id": links["related_unit_id"].to_numpy(),
                    "relation": links["kind"].map(_DOWN).astype(object).to_numpy(),
                    "via": None,
                    "share": links["share"].to_numpy(),
                }
            )
        )
    if "parent" in reach:  # other holds unit
        frames.append(
            pd.DataFrame(
                {
                    "unit_id": links["related_unit_id"].to_numpy(),
                    "other_unit_id": links["unit_id"].to_numpy(),
                    "relation": links["kind"].map(_UP).astype(object).to_numpy(),
                    "via": None,
                    "share": links["share"].to_numpy(),
                }
            )
        )
    if "sibling" in reach and len(links):
        kids = links[["unit_id", "related_unit_id"]].drop_duplicates()
        kids = kids.rename(columns={"unit_id": "via"})
        sib = kids.merge(kids, on="via", suffixes=("", "_o"))
        sib = sib[sib["related_unit_id"] != sib["related_unit_id_o"]]
        frames.append(
            pd.DataFrame(
                {
                    "unit_id": sib["related_unit_id"].to_numpy(),
                    "other_unit_id": sib["related_unit_id_o"].to_numpy(),
                    "relation": "sibling",
                    "via": sib["via"].to_numpy(),
                    "share": None,
                }
            )
        )
    if include_same and units is not None:
        us = pd.unique(pd.Series([u for u in units if u is not None], dtype=object))
        frames.append(
            pd.DataFrame(
                {"unit_id": us, "other_unit_id": us, "relation": "same", "via": None, "share": None}
            )
        )
    cols = ["unit_id", "other_unit_id", "relation", "via", "share"]
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    out = pd.concat(frames, ignore_index=True)[cols].astype(object)
    out = out.where(out.notna(), None)
    if units is not None:
        keep = {u for u in units if u is not None}
        out = out[out["unit_id"].isin(keep)]
    return out.drop_duplicates().reset_index(drop=True)


def related_units_in_graph(
    graph: nx.MultiDiGraph,
    unit_id: str,
    *,
    relatedness: Relatedness,
    include_same: bool = True,
) -> list[tuple[str, str, str | None, float | None]]:
    """Units related to ``unit_id`` by walking the graph: (other_unit_id, relation, via, share).

    Same definition as :func:`related_unit_pairs`; sorted, without duplicates.
    """
    reach = relatedness.reach
    node = ("unit", unit_id)
    out: set[tuple[str, str, str | None, float | None]] = set()
    if include_same:
        out.add((unit_id, "same", None, None))
    if node not in graph:
        return sorted(out, key=_rel_key)

    def link(data: Mapping[str, Any]) -> tuple[str, float | None] | None:
        kind, share = data["kind"], data.get("share")
        if kind not in _DOWN or not relatedness.counts(kind, share):
            return None
        return kind, (share if kind == "shareholding" else None)

    for _, child, data in graph.out_edges(node, data=True):
        found = link(data)
        if found is not None and child[0] == "unit" and child != node and "subsidiary" in reach:
            out.add((child[1], _DOWN[found[0]], None, found[1]))
    for par, _, data in graph.in_edges(node, data=True):
        found = link(data)
        if found is None or par[0] != "unit" or par == node:
            continue
        if "parent" in reach:
            out.add((par[1], _UP[found[0]], None, found[1]))
        if "sibling" in reach:
            for _, sib, d2 in graph.out_edges(par, data=True):
                if sib[0] == "unit" and sib not in (node, par) and link(d2) is not None:
                    out.add((sib[1], "sibling", par[1], None))
    return sorted(out, key=_rel_key)


def _rel_key(t: tuple[str, str, str | None, float | None]) -> tuple[str, str, str, float]:
    return (t[0], t[1], t[2] or "", -1.0 if t[3] is None else t[3])


# ---------------------------------------------------------------------------------------------
# the graph


def _s(v: Any) -> str | None:
    if v is None or (isinstance(v, float) and v != v) or v is pd.NA:
        return None
    text = str(v).strip()
    return text or None


def _int(v: Any) -> int | None:
    if v is None or v is pd.NA or (isinstance(v, float) and v != v):
        return None
    try:
        return int(float(v))
    except (TypeError, ValueError):
        return None


def build_graph(tables: Mapping[str, pd.DataFrame]) -> nx.MultiDiGraph:
    """The people/unit/proposal/direction graph of a batch (see the module docstring)."""
    g: nx.MultiDiGraph = nx.MultiDiGraph()
    pn, un = name_maps(tables)
    for pid, name in pn.items():
        g.add_node(("person", pid), name=name)
    units = table(tables, "units")
    for uid, name in un.items():
        g.add_node(("unit", uid), name=name)

    def person(pid: str) -> tuple[str, str]:
        node = ("person", pid)
        if node not in g:
            g.add_node(node, name=pid)
        return node

    def unit(uid: str) -> tuple[str, str]:
        node = ("unit", uid)
        if node not in g:
            g.add_node(node, name=uid)
        return node

    people = table(tables, "people")
    for pid, uid in zip(people["person_id"], people["unit_id"], strict=True):
        if pid and uid:
            g.add_edge(unit(uid), person(pid), kind="employs", start=None, end=None, current=True)
    emp = table(tables, "employment")
    for pid, uid, st, en in emp[["person_id", "unit_id", "start_date", "end_date"]].itertuples(
        index=False
    ):
        if pid and uid:
            end = to_date(en)
            g.add_edge(
                unit(uid),
                person(pid),
                kind="employs",
                start=to_date(st),
                end=end,
                current=end is None,
            )
    for uid, head in zip(units["unit_id"], units["head_id"], strict=True):
        if uid and head:
            g.add_edge(person(head), unit(uid), kind="head_of")
    rel = table(tables, "unit_relations")
    for a, b, k, share in rel[["unit_id", "related_unit_id", "kind", "share"]].itertuples(
        index=False
    ):
        if a and b and k in ("parent_of", "controls", "shareholding"):
            attrs: dict[str, Any] = {"kind": k}
            if k == "shareholding":
                attrs["share"] = None if pd.isna(share) else float(share)
            g.add_edge(unit(a), unit(b), **attrs)
    prel = table(tables, "person_relations")
    for a, b, k, yr in prel[["person_id", "other_person_id", "kind", "year"]].itertuples(
        index=False
    ):
        if a and b and k in ("coauthor", "coapplicant", "advisor_of", "relative_of"):
            g.add_edge(person(a), person(b), kind=k, year=_int(yr))
    props = table(tables, "proposals")
    for row in props[["proposal_id", "direction_code", "lead_unit_id", "pi_id"]].itertuples(
        index=False
    ):
        pid, code, lead, pi = row
        if not pid:
            continue
        pnode = ("proposal", pid)
        g.add_node(pnode, name=pid)
        if code:
            g.add_node(("direction", code), name=code)
            g.add_edge(pnode, ("direction", code), kind="in_direction")
        if lead:
            g.add_edge(unit(lead), pnode, kind="lead_unit")
        if pi:
            g.add_edge(person(pi), pnode, kind="team_member", role="pi", seq=None)
    jd = table(tables, "joint_directions")
    for pid, seq, uid, leader in jd[["proposal_id", "seq", "unit_id", "leader_id"]].itertuples(
        index=False
    ):
        if not pid:
            continue
        pnode = ("proposal", pid)
        if pnode not in g:
            g.add_node(pnode, name=pid)
        if uid:
            g.add_edge(unit(uid), pnode, kind="joint_unit", seq=_int(seq))
        if leader:
            g.add_edge(
                person(leader), pnode, kind="team_member", role="joint_leader", seq=_int(seq)
            )
    tm = table(tables, "team_members")
    for pid, person_id, role in tm[["proposal_id", "person_id", "role"]].itertuples(index=False):
        if pid and person_id:
            pnode = ("proposal", pid)
            if pnode not in g:
                g.add_node(pnode, name=pid)
            g.add_edge(person(person_id), pnode, kind="team_member", role=_s(role), seq=None)
    rec = table(tables, "recusals")
    for pid, person_id, uid, reason in rec[
        ["proposal_id", "person_id", "unit_id", "reason"]
    ].itertuples(index=False):
        if not pid:
            continue
        pnode = ("proposal", pid)
        if pnode not in g:
            g.add_node(pnode, name=pid)
        if person_id:
            g.add_edge(pnode, person(person_id), kind="recusal", reason=_s(reason))
        if uid:
            g.add_edge(pnode, unit(uid), kind="recusal", reason=_s(reason))
    de = table(tables, "direction_experts")
    for person_id, code, role in de[["person_id", "direction_code", "role"]].itertuples(
        index=False
    ):
        if person_id and code:
            dnode = ("direction", code)
            if dnode not in g:
                g.add_node(dnode, name=code)
            g.add_edge(person(person_id), dnode, kind="direction_role", role=_s(role))
    return g
