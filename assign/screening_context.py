"""What every screening check reads: the configuration, the batch's tables normalised and
indexed once (:class:`ScreeningContext`), the result type, and small readers of cells."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pandas as pd

from assign.conflict_policy import load_policy
from assign.graph import (
    Relatedness,
    related_unit_pairs,
    to_dates,
)
from models import places
from models.i18n import N_, Msg

DEFAULT_DEADLINE = datetime(2024, 8, 5, 17, 30)
DIRECTED = "定向委托"
OPEN_CALL = "揭榜挂帅"
COMPETITIVE = "竞争择优"
EPS = 1e-9
SEVERITIES = ("reject", "warn")
FINDING_COLUMNS = ["proposal_id", "rule", "severity", "reason", "waived"]

Finding = tuple[str, str, str, Msg]  # proposal_id, rule, severity, reason
INVERSE = {
    "subsidiary": "parent",
    "parent": "subsidiary",
    "controlled": "controller",
    "controller": "controlled",
    "sibling": "sibling",
    "shareholder": "investee",
    "investee": "shareholder",
}
#: How ``other`` relates to ``unit`` (relation codes of :data:`assign.graph.RELATIONS`).
RELATION = {
    "subsidiary": N_("{other} is a subsidiary of {unit}"),
    "controlled": N_("{other} is controlled by {unit}"),
    "investee": N_("{unit} holds {share:.0%} of {other}"),
    "parent": N_("{other} is the parent company of {unit}"),
    "controller": N_("{other} controls {unit}"),
    "shareholder": N_("{other} holds {share:.0%} of {unit}"),
    "sibling": N_("{other} and {unit} are both under {via}"),
}
UNIT_TYPE = {
    "university": N_("a university"),
    "institute": N_("a research institute"),
    "new_rnd": N_("a new R&D institution"),
}


class ScreeningConfigError(ValueError):
    """A screening configuration value that cannot be used."""


@dataclass(frozen=True)
class ScreeningConfig:
    """Screening parameters (money in 万元, shares as fractions).

    deadline: online-submission deadline; None = ``batches.deadline`` of the proposal's batch,
    else 2024-08-05 17:30. batch_date: the date credit penalties and employment are checked at;
    None = ``batches.batch_date``, else the deadline's date. similarity_threshold: TF-IDF
    char 2-3-gram cosine of title + abstract at or above which two proposals of the same or
    related lead units are near-duplicates (default 0.7). relatedness: which units are related
    (default: the conflict policy file's, :func:`assign.conflict_policy.load_policy`).
    home_province: the province applicants must be registered in (any form
    :func:`models.places.province` reads). max_recusals: recusal requests (experts or units) a
    proposal may make (practice: 3).
    """

    deadline: datetime | None = None
    batch_date: date | None = None
    young_birth_cutoff: date = date(1984, 1, 1)
    young_share: float = 0.4
    max_request_wan: float = 2000.0
    max_share: float = 0.5
    max_share_enterprise: float = 0.3
    min_years: int = 3
    max_years: int = 5
    min_joint: int = 3
    max_joint: int = 5
    similarity_threshold: float = 0.7
    relatedness: Relatedness = field(default_factory=lambda: load_policy().relatedness)
    partner_lead_types: frozenset[str] = frozenset({"university", "institute", "new_rnd"})
    home_province: str = "江苏省"
    max_recusals: int = 3

    def __post_init__(self) -> None:
        object.__setattr__(self, "partner_lead_types", frozenset(self.partner_lead_types))
        if places.province(self.home_province) is None:
            raise ScreeningConfigError(
                f"home_province {self.home_province!r} is not a province of China"
            )
        for name in ("young_share", "max_share", "max_share_enterprise"):
            v = getattr(self, name)
            if not 0 <= v <= 1:
                raise ScreeningConfigError(f"{name} must be a fraction in [0, 1], got {v!r}")
        if not 0 < self.similarity_threshold <= 1:
            raise ScreeningConfigError(
                f"similarity_threshold must be in (0, 1], got {self.similarity_threshold!r}"
            )
        if not 0 < self.min_years <= self.max_years:
            raise ScreeningConfigError(
                f"need 0 < min_years <= max_years, got {self.min_years} and {self.max_years}"
            )
        if not 0 < self.min_joint <= self.max_joint:
            raise ScreeningConfigError(
                f"need 0 < min_joint <= max_joint, got {self.min_joint} and {self.max_joint}"
            )
        if self.max_request_wan <= 0:
            raise ScreeningConfigError(f"max_request_wan must be > 0, got {self.max_request_wan}")
        if self.max_recusals < 0:
            raise ScreeningConfigError(f"max_recusals must be >= 0, got {self.max_recusals}")


@dataclass(frozen=True, eq=False)
class ScreeningContext:
    """What the checks read: normalised tables, the guide by code, names, per-proposal dates."""

    tables: Mapping[str, pd.DataFrame]
    guide: dict[str, dict[str, Any]]
    config: ScreeningConfig
    proposals: pd.DataFrame
    person_name: dict[str, str]
    unit_name: dict[str, str]
    unit: dict[str, dict[str, Any]]
    deadline: dict[str, datetime]  # proposal_id -> deadline
    batch_date: dict[str, date]  # proposal_id -> date of checks
    joint: dict[str, list[tuple[int | None, str | None]]]  # proposal_id -> [(seq, unit_id)]
    _cache: dict[str, Any] = field(default_factory=dict)

    def _employers(
        self, who: set[str]
    ) -> tuple[set[str], dict[str, set[str]], dict[str, list[tuple[str, date | None]]]]:
        """(who, person -> people.unit_id units, person -> [(unit, employment end)])."""
        cur: dict[str, set[str]] = defaultdict(set)
        people = self.tables["people"]
        people = people[people["person_id"].isin(who)]
        for p, u in row_tuples(people, ["person_id", "unit_id"]):
            if p and u:
                cur[p].add(u)
        rows: dict[str, list[tuple[str, date | None]]] = defaultdict(list)
        emp = self.tables["employment"]
        emp = emp[emp["person_id"].isin(who)]
        ends = to_dates(emp["end_date"])
        for p, u, e in zip(*row_columns(emp, ["person_id", "unit_id"]), ends, strict=True):
            if p and u:
                rows[p].append((u, e))
        return who, cur, rows

    def pn(self, pid: Any) -> str:
        return self.person_name.get(pid, str(pid))

    def un(self, uid: Any) -> str:
        return self.unit_name.get(uid, str(uid))

    def mode(self, code: Any) -> str | None:
        g = self.guide.get(code)
        return None if g is None else cell_str(g.get("mode"))

    def related(self) -> dict[str, list[tuple[str, str, str | None, float | None]]]:
        """unit_id -> [(other unit, relation of other to unit, via, share)] (same unit
        excluded)."""
        if "related" not in self._cache:
            rel = related_unit_pairs(
                self.tables["unit_relations"], relatedness=self.config.relatedness
            )
            out: dict[str, list[tuple[str, str, str | None, float | None]]] = defaultdict(list)
            cols = ["unit_id", "other_unit_id", "relation", "via", "share"]
            for u, o, r, v, sh in row_tuples(rel, cols):
                out[u].append((o, r, v, sh))
            self._cache["related"] = dict(out)
        return self._cache["related"]

    def relation(self, other: str, rel: str, unit: str, via: str | None, share: Any) -> Msg:
        """How ``other`` relates to ``unit``, by name (see :data:`RELATION`)."""
        return Msg(
            RELATION[rel],
            other=self.un(other),
            unit=self.un(unit),
            via=None if via is None else self.un(via),
            share=share,
        )

    def current_units(self, person_id: str, day: date) -> set[str]:
        """Units employing the person at ``day`` (people.unit_id and open employment rows)."""
        if "employers" not in self._cache:  # indexed for the PIs first; others on demand
            self._cache["employers"] = self._employers(set(self.proposals["pi_id"].dropna()))
        who, cur, rows = self._cache["employers"]
        if person_id not in who:
            _, cur, rows = self._employers({person_id})
        out = set(cur.get(person_id, set()))
        out |= {u for u, end in rows.get(person_id, []) if end is None or end >= day}
        return out


def row_columns(df: pd.DataFrame, cols: list[str]) -> list[list[Any]]:
    """The columns as Python lists; missing values of nullable (Int64, boolean) columns are
    None, as ``DataFrame.to_dict`` gives them."""
    out = []
    for c in cols:
        values = df[c].tolist()
        dtype = df[c].dtype
        if isinstance(dtype, pd.api.extensions.ExtensionDtype) and not isinstance(
            dtype, pd.StringDtype
        ):
            values = [None if v is pd.NA else v for v in values]
        out.append(values)
    return out


def row_tuples(df: pd.DataFrame, cols: list[str]) -> Iterator[tuple[Any, ...]]:
    """Rows of ``df[cols]`` as plain tuples (no per-row pandas objects)."""
    return zip(*row_columns(df, cols), strict=True)


def row_records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """``df.to_dict("records")`` built column-wise (the same values, much faster)."""
    cols = [str(c) for c in df.columns]
    return [dict(zip(cols, row, strict=True)) for row in row_tuples(df, cols)]


def cell_str(v: Any) -> str | None:
    if v is None or v is pd.NA or (isinstance(v, float) and v != v):
        return None
    s = str(v).strip()
    return s or None


def cell_num(v: Any) -> float | None:
    if v is None or v is pd.NA:
        return None
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return None if x != x else x


def to_timestamp(value: Any) -> datetime | None:
    """An ISO timestamp (``YYYY-MM-DD HH:MM``) as a naive datetime; None when missing/bad."""
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip())
        except ValueError:
            pass
    ts = pd.to_datetime(value, errors="coerce")
    return None if ts is None or pd.isna(ts) else ts.to_pydatetime().replace(tzinfo=None)


def wan(x: float) -> str:
    """An amount in 万元 as text: 2000万, 1234.5万."""
    text = f"{x:.2f}".rstrip("0").rstrip(".")
    return f"{text}万"


def proposal_rows(ctx: ScreeningContext) -> list[dict[str, Any]]:
    """The proposals as row dicts (built once per context; checks must not change them)."""
    if "rows" not in ctx._cache:
        ctx._cache["rows"] = row_records(ctx.proposals)
    return ctx._cache["rows"]


def applicant_units(ctx: ScreeningContext, p: dict[str, Any]) -> list[str]:
    """Lead unit, then the joint units in joint-direction order (cached; do not change it)."""
    cache = ctx._cache.setdefault("applicant_units", {})
    key = (p["proposal_id"], p["lead_unit_id"])
    if key not in cache:
        units = [p["lead_unit_id"]] if p["lead_unit_id"] else []
        for _, u in ctx.joint.get(p["proposal_id"], []):
            if u and u not in units:
                units.append(u)
        cache[key] = units
    return cache[key]
