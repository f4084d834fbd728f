"""Conflicts of interest (回避) between experts and proposals, each with a readable reason chain.

Two implementations of one policy:

- :func:`conflict_chains` / :func:`find_conflicts`: the bulk pass. It never enumerates expert ×
  proposal pairs; it walks from each proposal's units and people with frame joins, one function
  per relation kind (``_employment``, ``_former_employment``, ...).
- :class:`~assign.conflict_explain.Explainer` / :func:`~assign.conflict_explain.explain`: a
  walk on the ``networkx`` graph of :mod:`assign.graph` for one (expert, proposal) pair. It
  yields the same chains (tested).

The policy is :mod:`assign.conflict_policy`, the phrasing of the chains
:mod:`assign.conflict_phrasing`, and the text similarity behind ``similar_application``
:mod:`assign.text_index`.

A chain names people and units by name, proposals by id. It is a stored message
(:class:`models.i18n.Msg` as JSON text) rendered in the reader's language: ``张某 works at
苏南智能装备有限公司, a subsidiary of 江苏恒远集团, which leads proposal P-3002-07`` in English,
``张某任职于苏南智能装备有限公司，该公司为江苏恒远集团的子公司，江苏恒远集团牵头申报P-3002-07``
in Chinese (:func:`models.i18n.render_stored`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from assign.conflict_phrasing import (
    APPLICANT,
    DIRECTION,
    EMPLOYMENT,
    FORMER,
    HEAD,
    OWN,
    PERSONAL,
    PERSONAL_CHAIN,
    RECUSAL,
    RECUSAL_UNIT,
    SIMILAR,
    TEAM,
    WHERE,
    YEAR,
    direction_key,
    members_column,
    personal_key,
    phrase_column,
    reason_key,
    text_or_none,
)
from assign.conflict_policy import KIND_ORDER, KINDS, TEAM_SCOPES, ConflictPolicy, load_policy
from assign.graph import (
    Normalised,
    name_maps,
    parse_dates,
    related_unit_pairs,
    table,
    years_before,
)
from assign.text_index import TextIndex, proposal_texts
from models.i18n import LIST, JsonColumn, msg_column

OUTPUT_COLUMNS = ["proposal_id", "expert_id", "kind", "reason"]


@dataclass(frozen=True, eq=False)
class _Batch:
    """Frames the bulk pass walks over (all ids as str)."""

    batch_date: date
    policy: ConflictPolicy
    experts: frozenset[str]
    pn: dict[str, str]
    un: dict[str, str]
    proposals: pd.DataFrame  # proposal_id, direction_code, lead_unit_id, pi_id
    applicant_units: pd.DataFrame  # proposal_id, unit_id, role (lead|joint), seq
    team: pd.DataFrame  # proposal_id, person_id, role, seq
    affiliations: pd.DataFrame  # expert_id, unit_id, status (current|former), end
    tables: Mapping[str, pd.DataFrame]  # normalised with :func:`assign.graph.table`
    _related: dict[str, pd.DataFrame] = field(default_factory=dict)

    def t(self, kind: str) -> pd.DataFrame:
        """The normalised table of this kind."""
        return self.tables[kind]

    def related(self) -> pd.DataFrame:
        """Applicant units joined with their related units (same unit included), cached.

        ``where``: the stored message "<unit, relation to the applicant unit>, which leads
        proposal P" etc."""
        if "r" not in self._related:
            au = self.applicant_units
            rel = related_unit_pairs(
                self.tables["unit_relations"],
                relatedness=self.policy.relatedness,
                include_same=True,
                units=au["unit_id"].unique(),
            )
            app = phrase_column(
                au["role"].to_numpy(dtype=object),
                APPLICANT,
                seq=au["seq"].to_numpy(dtype=object),
                proposal=au["proposal_id"].to_numpy(dtype=object),
            )
            au = au.assign(app=pd.Series(app, index=au.index, dtype=object))
            aur = au.merge(rel, on="unit_id")
            un = self.un
            where = phrase_column(
                aur["relation"].to_numpy(dtype=object),
                WHERE,
                other=_lookup(aur["other_unit_id"], un),
                unit=_lookup(aur["unit_id"], un),
                via=_lookup(aur["via"], un),
                share=aur["share"].to_numpy(dtype=object),
                app=JsonColumn(aur["app"].to_numpy(dtype=object)),
            )
            aur = aur.drop(columns=["app"]).assign(
                where=pd.Series(where, index=aur.index, dtype=object)
            )
            self._related["r"] = aur
        return self._related["r"]


def _seq(v: Any) -> int | None:
    if v is None or v is pd.NA or (isinstance(v, float) and v != v):
        return None
    try:
        return int(float(v))
    except (TypeError, ValueError):
        return None


def _years(s: pd.Series) -> np.ndarray:
    """(n,) float: each value as whole years like :func:`_seq` (truncated), NaN when missing."""
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        x = s.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        x = np.array(
            [np.nan if (v := _seq(y)) is None else v for y in s.tolist()], dtype=np.float64
        )
    return np.trunc(x)


def _objects(s: pd.Series, fn: Any) -> pd.Series:
    """``fn`` applied to each value, kept as Python objects (None stays None, not NaN)."""
    return pd.Series([fn(v) for v in s.tolist()], index=s.index, dtype=object)


def _lookup(ids: Any, mapping: Mapping[Any, str]) -> np.ndarray:
    """(n,) object array: ``mapping[id]``, or the id itself when it has no entry.

    One dictionary look-up per distinct id (hash factorisation does the rest)."""
    codes, uniq = pd.factorize(np.asarray(ids, dtype=object), use_na_sentinel=False)
    return np.array([mapping.get(u, u) for u in uniq], dtype=object)[codes]


def _expert_set(
    tables: Mapping[str, pd.DataFrame], experts: Sequence[str] | None
) -> frozenset[str]:
    if experts is not None:
        return frozenset(str(e) for e in experts)
    ex = table(tables, "experts")
    return frozenset(e for e in ex["expert_id"].tolist() if e is not None)


def _affiliations(
    tables: Mapping[str, pd.DataFrame], who: frozenset[str] | None, batch_date: date, years: int
) -> pd.DataFrame:
    """Current and former (within ``years``) employers: expert_id, unit_id, status, end.

    Current: ``people.unit_id`` or an employment row with no end date or ending on/after the
    batch date. Former: ended before the batch date and after ``batch_date - years``; a unit
    that is current is never also former; of several former rows the latest end is kept.
    """
    people = table(tables, "people")
    cur = people[["person_id", "unit_id"]].dropna()
    emp = table(tables, "employment")
    emp = emp[emp["person_id"].notna() & emp["unit_id"].notna()]
    if who is not None:  # only the experts' rows matter (each person is handled on their own)
        cur = cur[cur["person_id"].isin(who)]
        emp = emp[emp["person_id"].isin(who)]
    emp = emp.copy()
    end = parse_dates(emp["end_date"])
    bd = pd.Timestamp(batch_date)
    cutoff = pd.Timestamp(years_before(batch_date, years))
    is_cur = end.isna() | (end >= bd)
    is_former = ~is_cur & (end > cutoff)
    a = pd.concat(
        [cur, emp.loc[is_cur, ["person_id", "unit_id"]]], ignore_index=True
    ).drop_duplicates()
    a["status"] = "current"
    a["end"] = None
    f = emp.loc[is_former, ["person_id", "unit_id"]].copy()
    f["end"] = end[is_former].dt.date.astype(object)
    f = f.sort_values("end").drop_duplicates(["person_id", "unit_id"], keep="last")
    f["status"] = "former"
    f = f.merge(a[["person_id", "unit_id"]], how="left", indicator=True)
    f = f[f["_merge"] == "left_only"].drop(columns="_merge")
    out = pd.concat([a, f[["person_id", "unit_id", "status", "end"]]], ignore_index=True)
    out = out.rename(columns={"person_id": "expert_id"})
    if who is not None:
        out = out[out["expert_id"].isin(who)]
    return out.reset_index(drop=True)


def _prepare(
    tables: Mapping[str, pd.DataFrame],
    *,
    batch_date: date,
    policy: ConflictPolicy,
    experts: Sequence[str] | None,
) -> _Batch:
    pn, un = name_maps(tables)
    props = table(tables, "proposals")
    props = props[props["proposal_id"].notna()].drop_duplicates("proposal_id")
    props = props[["proposal_id", "direction_code", "lead_unit_id", "pi_id"]].reset_index(drop=True)
    known = set(props["proposal_id"])
    lead = props[props["lead_unit_id"].notna()][["proposal_id", "lead_unit_id"]]
    lead = lead.rename(columns={"lead_unit_id": "unit_id"})
    lead = lead.assign(role="lead", seq=None)
    jd = table(tables, "joint_directions")
    jd = jd[jd["proposal_id"].isin(known)]
    ju = jd[jd["unit_id"].notna()][["proposal_id", "unit_id", "seq"]].copy()
    ju["seq"] = _objects(ju["seq"], _seq)
    ju = ju.merge(lead[["proposal_id", "unit_id"]], how="left", indicator=True)
    ju = ju[ju["_merge"] == "left_only"].drop(columns="_merge").assign(role="joint")
    au = pd.concat([lead, ju[["proposal_id", "unit_id", "role", "seq"]]], ignore_index=True)
    au = au.astype(object).drop_duplicates().reset_index(drop=True)

    pi = props[props["pi_id"].notna()][["proposal_id", "pi_id"]].rename(
        columns={"pi_id": "person_id"}
    )
    pi = pi.assign(role="pi", seq=None)
    tm = table(tables, "team_members")
    tm = tm[tm["proposal_id"].isin(known) & tm["person_id"].notna()][
        ["proposal_id", "person_id", "role"]
    ].copy()
    tm["role"] = _objects(tm["role"], lambda r: r if isinstance(r, str) and r else None)
    tm["seq"] = None
    jl = jd[jd["leader_id"].notna()][["proposal_id", "leader_id", "seq"]].rename(
        columns={"leader_id": "person_id"}
    )
    jl = jl.assign(role="joint_leader", seq=_objects(jl["seq"], _seq))
    team = pd.concat([pi, tm, jl[["proposal_id", "person_id", "role", "seq"]]], ignore_index=True)
    team = team.astype(object).drop_duplicates().reset_index(drop=True)
    ex = _expert_set(tables, experts)
    aff = _affiliations(tables, ex, batch_date, policy.former_employment_years)
    return _Batch(
        batch_date=batch_date,
        policy=policy,
        experts=ex,
        pn=pn,
        un=un,
        proposals=props,
        applicant_units=au,
        team=team,
        affiliations=aff,
        tables=tables,
    )


def _iter(df: pd.DataFrame, cols: list[str]) -> Iterator[tuple[Any, ...]]:
    """Rows of ``df[cols]`` as plain Python tuples (fast; NaN/None kept as they are)."""
    return zip(*(df[c].tolist() for c in cols), strict=True)


def _frame(p: Any, e: Any, kind: str, reasons: Any) -> pd.DataFrame:
    """A frame of chains from equal-length sequences (lists, arrays or Series)."""
    obj = np.asarray
    return pd.DataFrame(
        {
            "proposal_id": obj(p, dtype=object),
            "expert_id": obj(e, dtype=object),
            "kind": kind,
            "reason": obj(reasons, dtype=object),
        }
    )


def _employment_rows(b: _Batch, status: str) -> pd.DataFrame:
    aur = b.related()
    aff = b.affiliations[b.affiliations["status"] == status]
    m = aur[["proposal_id", "other_unit_id", "where"]].merge(
        aff[["expert_id", "unit_id", "end"]].rename(columns={"unit_id": "other_unit_id"}),
        on="other_unit_id",
    )
    names = _lookup(m["expert_id"], b.pn)
    where = JsonColumn(m["where"].to_numpy(dtype=object))
    if status == "current":
        reasons = msg_column(EMPLOYMENT, expert=names, where=where)
    else:
        ends = _lookup(m["end"], {d: d.isoformat() for d in set(aff["end"])})
        reasons = msg_column(FORMER, expert=names, end=ends, where=where)
    kind = "employment" if status == "current" else "former_employment"
    return _frame(m["proposal_id"], m["expert_id"], kind, reasons)


def _employment(b: _Batch) -> pd.DataFrame:
    """Expert works at an applicant unit or a unit related to one."""
    return _employment_rows(b, "current")


def _former_employment(b: _Batch) -> pd.DataFrame:
    """Expert left an applicant (or related) unit within the former-employment window."""
    return _employment_rows(b, "former")


def _unit_head(b: _Batch) -> pd.DataFrame:
    """Expert heads the lead unit or a joint unit."""
    units = b.t("units")
    heads = units[units["head_id"].isin(b.experts) & units["unit_id"].notna()][
        ["unit_id", "head_id"]
    ]
    m = b.applicant_units.merge(heads, on="unit_id")
    app = phrase_column(
        m["role"].to_numpy(dtype=object),
        APPLICANT,
        seq=m["seq"].to_numpy(dtype=object),
        proposal=m["proposal_id"].to_numpy(dtype=object),
    )
    reasons = msg_column(
        HEAD,
        expert=_lookup(m["head_id"], b.pn),
        unit=_lookup(m["unit_id"], b.un),
        app=JsonColumn(app),
    )
    return _frame(m["proposal_id"], m["head_id"], "unit_head", reasons)


def _team_member(b: _Batch) -> pd.DataFrame:
    """Expert is on the proposal's team (PI, key member, member, joint-direction leader)."""
    t = b.team[b.team["person_id"].isin(b.experts)]
    reasons = msg_column(
        TEAM,
        expert=_lookup(t["person_id"], b.pn),
        member=members_column(t["role"].tolist(), t["seq"].tolist(), t["proposal_id"].tolist()),
    )
    return _frame(t["proposal_id"], t["person_id"], "team_member", reasons)


def _personal_relations(b: _Batch) -> pd.DataFrame:
    """Coauthor/coapplicant (within their windows), advisor, relative of a team member in scope."""
    pol = b.policy
    pr = b.t("person_relations")
    pr = pr[pr["person_id"].notna() & pr["other_person_id"].notna()]
    pr = pr[pr["person_id"] != pr["other_person_id"]]
    pr = pr[pr["kind"].isin([k for k, v in PERSONAL.items() if v in pol.kinds])]
    year = _years(pr["year"])  # whole years, NaN when missing or unreadable
    by = b.batch_date.year
    first = {"coauthor": by - pol.coauthor_years, "coapplicant": by - pol.coapplicant_years}
    first_year = pr["kind"].map(first).to_numpy(dtype=np.float64)  # NaN: no window
    inside = ~(year < first_year)  # comparisons with NaN are False
    pr = pr[inside]
    years = [None if y != y else int(y) for y in year[inside].tolist()]
    pr = pr.assign(year=pd.Series(years, index=pr.index, dtype=object))
    fwd = pr.rename(columns={"person_id": "expert_id", "other_person_id": "other"}).assign(
        forward=True
    )
    rev = pr.rename(columns={"other_person_id": "expert_id", "person_id": "other"}).assign(
        forward=False
    )
    both = pd.concat([fwd, rev], ignore_index=True)[
        ["expert_id", "other", "kind", "year", "forward"]
    ]
    team = b.team
    if pol.team_scope != "all":  # roles in scope (ConflictPolicy.team_roles, on the column)
        team = team[team["role"].isin(TEAM_SCOPES[pol.team_scope])]
    team = team.rename(columns={"person_id": "other"})
    both = both[both["expert_id"].isin(b.experts) & both["other"].isin(team["other"])]
    team = team[team["other"].isin(both["other"])]
    # the year once per relation row, the member once per team row; the join pairs them up
    year_keys = ["unknown" if y is None else "known" for y in both["year"].tolist()]
    both = both.assign(
        year_msg=pd.Series(
            phrase_column(year_keys, YEAR, year=both["year"].to_numpy(dtype=object)),
            index=both.index,
            dtype=object,
        ),
        chain=[personal_key(k, f) for k, f in _iter(both, ["kind", "forward"])],
    )
    member = members_column(
        team["role"].tolist(), team["seq"].tolist(), team["proposal_id"].tolist()
    )
    team = team[["other", "proposal_id"]].assign(
        member=pd.Series(member.values, index=team.index, dtype=object)
    )
    m = both.merge(team, on="other")
    reasons = phrase_column(
        m["chain"].to_numpy(dtype=object),
        PERSONAL_CHAIN,
        expert=_lookup(m["expert_id"], b.pn),
        other=_lookup(m["other"], b.pn),
        year=JsonColumn(m["year_msg"].to_numpy(dtype=object)),
        member=JsonColumn(m["member"].to_numpy(dtype=object)),
    )
    return _frame(m["proposal_id"], m["expert_id"], "", reasons).assign(
        kind=_lookup(m["kind"], PERSONAL)
    )


def _own_team(b: _Batch) -> pd.DataFrame:
    t = b.team[b.team["person_id"].isin(b.experts)]
    return t.rename(columns={"proposal_id": "own_id", "person_id": "expert_id"})


def _own_application(b: _Batch) -> pd.DataFrame:
    """Expert applies (any team role) in the same guide direction as the proposal."""
    if not b.policy.direction_applicant:
        return _frame([], [], "own_application", [])
    own = _own_team(b).merge(
        b.proposals[["proposal_id", "direction_code"]].rename(columns={"proposal_id": "own_id"}),
        on="own_id",
    )
    own = own[own["direction_code"].notna()]
    member = members_column(own["role"].tolist(), own["seq"].tolist(), own["own_id"].tolist())
    own = own[["expert_id", "own_id", "direction_code"]].assign(
        member=pd.Series(member.values, index=own.index, dtype=object)
    )
    m = own.merge(b.proposals[["proposal_id", "direction_code"]], on="direction_code")
    m = m[m["proposal_id"] != m["own_id"]]
    reasons = msg_column(
        OWN,
        expert=_lookup(m["expert_id"], b.pn),
        member=JsonColumn(m["member"].to_numpy(dtype=object)),
        direction=m["direction_code"].to_numpy(dtype=object),
        proposal=m["proposal_id"].to_numpy(dtype=object),
    )
    return _frame(m["proposal_id"], m["expert_id"], "own_application", reasons)


def _similar_search(b: _Batch, text: TextIndex | None) -> Callable[[], pd.DataFrame] | None:
    """The text search of ``similar_application`` as a no-argument job (None: no own proposals).

    The frames are read here; the job itself runs NumPy/SciPy only (TF-IDF fit when ``text`` is
    None, then :meth:`TextIndex.neighbours`) and returns (source, target, similarity)."""
    own = _own_team(b)
    if own.empty:
        return None
    sources = own["own_id"].unique().tolist()
    thr = b.policy.similarity_threshold
    if text is not None:
        ready = text
        return lambda: ready.neighbours(sources, threshold=thr)
    ids, texts = proposal_texts(b.t("proposals"))
    return lambda: TextIndex.from_texts(ids, texts).neighbours(sources, threshold=thr)


def _similar_rows(b: _Batch, nb: pd.DataFrame) -> pd.DataFrame:
    """Chains of ``similar_application`` from the search result ``nb``."""
    own = _own_team(b)
    m = own.merge(nb.rename(columns={"source": "own_id", "target": "proposal_id"}), on="own_id")
    reasons = msg_column(
        SIMILAR,
        expert=_lookup(m["expert_id"], b.pn),
        member=members_column(m["role"].tolist(), m["seq"].tolist(), m["own_id"].tolist()),
        similarity=[float(x) for x in m["similarity"].tolist()],
        proposal=m["proposal_id"].to_numpy(dtype=object),
        threshold=[float(b.policy.similarity_threshold)] * len(m),
    )
    return _frame(m["proposal_id"], m["expert_id"], "similar_application", reasons)


def _recusals(b: _Batch) -> pd.DataFrame:
    """Applicants asked to avoid the expert (``recusal``) or the expert's current unit."""
    rec = b.t("recusals")
    rec = rec[rec["proposal_id"].isin(set(b.proposals["proposal_id"]))]
    frames = []
    if "recusal" in b.policy.kinds:
        r = rec[rec["person_id"].isin(b.experts)]
        why = [text_or_none(v) for v in r["reason"].tolist()]
        reasons = phrase_column(
            [reason_key(w) for w in why],
            RECUSAL,
            proposal=r["proposal_id"].to_numpy(dtype=object),
            expert=_lookup(r["person_id"], b.pn),
            reason=why,
        )
        frames.append(_frame(r["proposal_id"], r["person_id"], "recusal", reasons))
    if "recusal_unit" in b.policy.kinds:
        r = rec[rec["unit_id"].notna()][["proposal_id", "unit_id", "reason"]]
        cur = b.affiliations[b.affiliations["status"] == "current"][["expert_id", "unit_id"]]
        m = r.merge(cur, on="unit_id")
        why = [text_or_none(v) for v in m["reason"].tolist()]
        reasons = phrase_column(
            [reason_key(w) for w in why],
            RECUSAL_UNIT,
            expert=_lookup(m["expert_id"], b.pn),
            unit=_lookup(m["unit_id"], b.un),
            proposal=m["proposal_id"].to_numpy(dtype=object),
            reason=why,
        )
        frames.append(_frame(m["proposal_id"], m["expert_id"], "recusal_unit", reasons))
    return pd.concat(frames, ignore_index=True) if frames else _frame([], [], "recusal", [])


def _direction_expert(b: _Batch) -> pd.DataFrame:
    """Expert drafted the proposal's guide direction or sits on its advisory committee."""
    de = b.t("direction_experts")
    de = de[de["person_id"].isin(b.experts) & de["direction_code"].notna()]
    m = de[["person_id", "direction_code", "role"]].merge(
        b.proposals[["proposal_id", "direction_code"]], on="direction_code"
    )
    roles = [text_or_none(r) for r in m["role"].tolist()]
    reasons = phrase_column(
        [direction_key(r) for r in roles],
        DIRECTION,
        expert=_lookup(m["person_id"], b.pn),
        role=[r or "?" for r in roles],
        direction=m["direction_code"].to_numpy(dtype=object),
        proposal=m["proposal_id"].to_numpy(dtype=object),
    )
    return _frame(m["proposal_id"], m["person_id"], "direction_expert", reasons)


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in OUTPUT_COLUMNS})


def _group_starts(*keys: np.ndarray) -> np.ndarray:
    """First row of each run of equal ``keys`` (rows already sorted by them)."""
    n = len(keys[0])
    new = np.ones(n, dtype=bool)
    if n:
        diff = np.zeros(n - 1, dtype=bool)
        for key in keys:
            diff |= key[1:] != key[:-1]
        new[1:] = diff
    return np.flatnonzero(new)


def _sort_within(reason: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Sort ``reason`` inside each group (in place); returns a keep-mask without repeats.

    Groups of two (the common case) are compared and swapped in one vectorised step."""
    n = len(reason)
    keep = np.ones(n, dtype=bool)
    sizes = np.diff(np.append(starts, n))
    two = starts[sizes == 2]
    if two.size:
        a, b = reason[two], reason[two + 1]
        swap = (b < a).astype(bool)
        reason[two[swap]], reason[two[swap] + 1] = b[swap], a[swap]
        keep[two + 1] = (a != b).astype(bool)
    for g in np.flatnonzero(sizes > 2):
        lo, hi = starts[g], starts[g] + sizes[g]
        distinct = sorted(set(reason[lo:hi]))
        reason[lo : lo + len(distinct)] = distinct
        keep[lo + len(distinct) : hi] = False
    return keep


def _join_groups(reason: np.ndarray, starts: np.ndarray, sep: str) -> np.ndarray:
    """(G,) each group's values joined with ``sep`` (vectorised by position in the group)."""
    n = len(reason)
    sizes = np.diff(np.append(starts, n))
    out = reason[starts].copy()
    live = np.flatnonzero(sizes > 1)
    j = 1
    while live.size:
        out[live] = out[live] + sep + reason[starts[live] + j]
        j += 1
        live = live[sizes[live] > j]
    return out


def _join_stored_groups(reason: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """(G,) each group's stored messages as one (:func:`models.i18n.join_stored`, vectorised):
    a group of one keeps its message, a larger one becomes a list message."""
    sizes = np.diff(np.append(starts, len(reason)))
    out = _join_groups(reason, starts, ", ")
    many = np.flatnonzero(sizes > 1)
    if many.size:
        out[many] = msg_column(LIST, items=JsonColumn("[" + out[many] + "]"))
    return out


@dataclass(frozen=True, eq=False)
class _Sorted:
    """Distinct chains sorted by (proposal_id, expert_id, kind order, reason).

    p, e: (N,) object ids; k: (N,) kind index; reason: (N,) object; starts: (G,) first row of
    each (proposal, expert, kind) group."""

    p: np.ndarray
    e: np.ndarray
    k: np.ndarray
    reason: np.ndarray
    starts: np.ndarray

    @classmethod
    def from_frame(cls, df: pd.DataFrame) -> _Sorted:
        pc, pu = pd.factorize(df["proposal_id"].to_numpy(dtype=object), sort=True)
        ec, eu = pd.factorize(df["expert_id"].to_numpy(dtype=object), sort=True)
        kc, ku = pd.factorize(df["kind"].to_numpy(dtype=object))
        kind = np.array([KIND_ORDER[x] for x in ku], dtype=np.int64)[kc]
        order = np.lexsort((kind, ec, pc))
        pc, ec, kind = pc[order], ec[order], kind[order]
        reason = df["reason"].to_numpy(dtype=object)[order]
        keep = _sort_within(reason, _group_starts(pc, ec, kind))
        if not keep.all():
            pc, ec, kind, reason = pc[keep], ec[keep], kind[keep], reason[keep]
        starts = _group_starts(pc, ec, kind)
        p = np.asarray(pu, dtype=object)[pc]
        e = np.asarray(eu, dtype=object)[ec]
        return cls(p=p, e=e, k=kind, reason=reason, starts=starts)

    def chains(self) -> pd.DataFrame:
        kinds = np.array(KINDS, dtype=object)
        return pd.DataFrame(
            {
                "proposal_id": pd.Series(self.p, dtype=object),
                "expert_id": pd.Series(self.e, dtype=object),
                "kind": pd.Series(kinds[self.k], dtype=object),
                "reason": pd.Series(self.reason, dtype=object),
            }
        )

    def per_kind(self) -> pd.DataFrame:
        st = self.starts
        reason = _join_stored_groups(self.reason, st)
        kinds = np.array(KINDS, dtype=object)
        return pd.DataFrame(
            {
                "proposal_id": pd.Series(self.p[st], dtype=object),
                "expert_id": pd.Series(self.e[st], dtype=object),
                "kind": pd.Series(kinds[self.k[st]], dtype=object),
                "reason": pd.Series(reason, dtype=object),
            }
        )


def _sort(df: pd.DataFrame) -> pd.DataFrame:
    """Rows ordered by proposal, expert, kind order, reason; duplicates dropped."""
    return _empty() if df.empty else _Sorted.from_frame(df).chains()


def _chain_rows(
    tables: Mapping[str, pd.DataFrame],
    *,
    batch_date: date,
    policy: ConflictPolicy | None,
    experts: Sequence[str] | None,
    text: TextIndex | None,
) -> _Sorted | None:
    """Every chain of the enabled kinds, distinct and sorted (None when there are none)."""
    policy = policy or load_policy()
    b = _prepare(Normalised(tables), batch_date=batch_date, policy=policy, experts=experts)
    k = policy.kinds
    parts: list[pd.DataFrame] = []
    # the text search (NumPy/SciPy, mostly without the GIL) overlaps the frame joins below
    search = _similar_search(b, text) if "similar_application" in k else None
    with ThreadPoolExecutor(max_workers=1) as pool:
        similar = pool.submit(search) if search is not None else None
        if "employment" in k:
            parts.append(_employment(b))
        if "former_employment" in k:
            parts.append(_former_employment(b))
        if "unit_head" in k:
            parts.append(_unit_head(b))
        if "team_member" in k:
            parts.append(_team_member(b))
        if k & {"coauthor", "coapplicant", "advisor", "relative"}:
            parts.append(_personal_relations(b))
        if "own_application" in k:
            parts.append(_own_application(b))
        if k & {"recusal", "recusal_unit"}:
            parts.append(_recusals(b))
        if "direction_expert" in k:
            parts.append(_direction_expert(b))
        if similar is not None:
            parts.append(_similar_rows(b, similar.result()))
    parts = [p for p in parts if len(p)]
    if not parts:
        return None
    return _Sorted.from_frame(pd.concat(parts, ignore_index=True))


def conflict_chains(
    tables: Mapping[str, pd.DataFrame],
    *,
    batch_date: date,
    policy: ConflictPolicy | None = None,
    experts: Sequence[str] | None = None,
    text: TextIndex | None = None,
) -> pd.DataFrame:
    """Every reason chain: columns proposal_id, expert_id, kind, reason (one row per chain; the
    reason is a stored message, see the module docstring).

    experts: ids to check (default: every row of ``experts``). text: a prebuilt TextIndex
    (else fitted on the batch's proposals when ``similar_application`` is on).
    """
    rows = _chain_rows(tables, batch_date=batch_date, policy=policy, experts=experts, text=text)
    return _empty() if rows is None else rows.chains()


def find_conflicts(
    tables: Mapping[str, pd.DataFrame],
    *,
    batch_date: date,
    policy: ConflictPolicy | None = None,
    experts: Sequence[str] | None = None,
    text: TextIndex | None = None,
) -> pd.DataFrame:
    """Conflicted pairs: columns proposal_id, expert_id, kind, reason; one row per (pair, kind).

    ``reason`` holds that kind's chains (sorted) as one stored message
    (:func:`models.i18n.join_stored`). Never enumerates all pairs.
    """
    rows = _chain_rows(tables, batch_date=batch_date, policy=policy, experts=experts, text=text)
    return _empty() if rows is None else rows.per_kind()


def collapse_conflicts(conflicts: pd.DataFrame) -> pd.DataFrame:
    """One row per pair: proposal_id, expert_id, kinds (";"-joined in KINDS order), reason (the
    pair's chains as one stored message)."""
    cols = ("proposal_id", "expert_id", "kinds", "reason")
    if conflicts.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    df = _sort(conflicts)
    p = df["proposal_id"].to_numpy(dtype=object)
    e = df["expert_id"].to_numpy(dtype=object)
    kind = df["kind"].to_numpy(dtype=object)
    reason = df["reason"].to_numpy(dtype=object)
    starts = _group_starts(p, e)
    kinds = _join_groups(kind, starts, ";")
    reasons = _join_stored_groups(reason, starts)
    data = (p[starts], e[starts], kinds, reasons)
    return pd.DataFrame({c: pd.Series(v, dtype=object) for c, v in zip(cols, data, strict=True)})


def conflict_pairs(conflicts: pd.DataFrame) -> set[tuple[str, str]]:
    """The set of conflicted (proposal_id, expert_id) pairs."""
    return set(zip(conflicts["proposal_id"].tolist(), conflicts["expert_id"].tolist(), strict=True))
