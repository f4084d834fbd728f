"""The one place the selection's input frames become arrays (index i = input row).

Validates the proposals and directions frames against the rules, works out each proposal's
grant bound (the smallest of its request, its direction's cap, the share of its total budget
and the per-project maximum, whole 万元) and floor (the least it may be cut to), the budget
scopes and the chair's overrides. The solvers and the explanations read only
:class:`SelectionData`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.i18n import Msg
from scoring.select_rules import Override, SelectionInputError, SelectionRules

MERIT_SCALE = 1000
"""Merits enter the objective as whole thousandths."""

PROPOSAL_COLUMNS = (
    "proposal_id",
    "direction_code",
    "programme",
    "merit",
    "requested_wan",
    "total_budget_wan",
    "enterprise_led",
    "pi_id",
    "eligible",
    "young",
    "related_group",
)
OPTIONAL_COLUMNS = {"withdrawn": False, "reviewed": True}
"""Optional proposal columns and their default: withdrawn by the applicant; has reviews."""
DIRECTION_COLUMNS = ("direction_code", "programme", "cap_wan")

BOUND_KINDS = ("request", "direction_cap", "share", "max_grant")
"""What limits a grant bound: the request, the direction's cap, the share of the total budget
(50 %, or 30 % when an enterprise leads), the per-project maximum."""


@dataclass(frozen=True)
class Scope:
    """A budget: its label for people, its cap (whole 万元) and its members (n,) bool."""

    label: Msg
    kind: str  # "programme" or "overall"
    cap: int
    mask: np.ndarray


@dataclass(frozen=True, eq=False)
class SelectionData:
    """Validated input as arrays (index i = input row)."""

    ids: np.ndarray  # (n,) str
    pos: np.ndarray  # (n,) int: position in sorted id order (the last tie-break)
    direction: np.ndarray  # (n,) str
    programme: np.ndarray  # (n,) str
    merit: np.ndarray  # (n,) float
    pi: np.ndarray  # (n,) str
    related: np.ndarray  # (n,) str, "" = none
    eligible: np.ndarray  # (n,) bool
    reviewed: np.ndarray  # (n,) bool
    withdrawn: np.ndarray  # (n,) bool
    young: np.ndarray  # (n,) bool
    enterprise_led: np.ndarray  # (n,) bool
    total_budget: np.ndarray  # (n,) float 万元
    ub: np.ndarray  # (n,) int grant bound
    lb: np.ndarray  # (n,) int grant floor when funded
    bound_kind: np.ndarray  # (n,) str, one of BOUND_KINDS
    cap: np.ndarray  # (n,) float, the direction's cap (NaN = none)
    forced_in: np.ndarray  # (n,) bool
    forced_out: np.ndarray  # (n,) bool
    override: dict[int, Override]
    scopes: tuple[Scope, ...]
    rules: SelectionRules
    dir_idx: np.ndarray  # (n,) int: index into dir_codes
    dir_codes: tuple[str, ...]  # sorted direction codes with proposals
    dir_programme: tuple[str, ...]  # programme of each of dir_codes
    groups: tuple[np.ndarray, ...]  # PI and related groups (per the rules) of 2+ proposals

    @property
    def n(self) -> int:
        return len(self.ids)

    def open_to_funding(self) -> np.ndarray:
        """(n,) bool: may be funded at some merit (eligible, reviewed, not withdrawn or forced
        out, a grant bound above 0)."""
        return self.eligible & self.reviewed & ~self.withdrawn & ~self.forced_out & (self.ub > 0)

    def qualified(self, merit: np.ndarray) -> np.ndarray:
        """(..., n) bool: open to funding and merit >= the quality floor."""
        return self.open_to_funding() & (merit >= self.rules.quality_floor)

    def ranked(self) -> np.ndarray:
        """(n,) bool: the proposals a direction's ranking lists (eligible, reviewed, not
        withdrawn)."""
        return self.eligible & self.reviewed & ~self.withdrawn


def merit_int(merit: np.ndarray) -> np.ndarray:
    """Merits in whole thousandths (int64), the objective's unit."""
    return np.rint(np.asarray(merit, dtype=float) * MERIT_SCALE).astype(np.int64)


def _require(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise SelectionInputError(
            f"{what} frame lacks columns {', '.join(missing)}; expected {columns}"
        )


def prepare(
    proposals: pd.DataFrame, directions: pd.DataFrame, rules: SelectionRules
) -> SelectionData:
    """Validate the frames and encode them (columns PROPOSAL_COLUMNS, optionally withdrawn and
    reviewed; DIRECTION_COLUMNS with cap_wan NaN = no cap)."""
    _require(proposals, PROPOSAL_COLUMNS, "proposals")
    _require(directions, DIRECTION_COLUMNS, "directions")
    ids = proposals["proposal_id"].astype(str).to_numpy(dtype=object)
    dup = pd.Series(ids).duplicated()
    if dup.any():
        raise SelectionInputError(
            f"duplicate proposal ids: {', '.join(pd.Series(ids)[dup].unique()[:5])}"
        )
    dcode = directions["direction_code"].astype(str)
    if dcode.duplicated().any():
        raise SelectionInputError(
            f"directions frame lists {', '.join(dcode[dcode.duplicated()].unique()[:5])} twice"
        )
    dprog = dict(zip(dcode, directions["programme"].astype(str), strict=True))
    dcap = dict(zip(dcode, pd.to_numeric(directions["cap_wan"]).astype(float), strict=True))
    direction = proposals["direction_code"].astype(str).to_numpy(dtype=object)
    programme = proposals["programme"].astype(str).to_numpy(dtype=object)
    unknown = [f"{i} ({d})" for i, d in zip(ids, direction, strict=True) if d not in dprog]
    if unknown:
        raise SelectionInputError(
            f"proposals name directions missing from the directions frame: "
            f"{', '.join(unknown[:5])}; add the directions or fix the codes"
        )
    wrong = [
        f"{i} ({p} vs {dprog[d]})"
        for i, d, p in zip(ids, direction, programme, strict=True)
        if dprog[d] != p
    ]
    if wrong:
        raise SelectionInputError(
            f"proposal programme differs from its direction's programme: {', '.join(wrong[:5])}"
        )
    num = {}
    for name in ("merit", "requested_wan", "total_budget_wan"):
        v = pd.to_numeric(proposals[name], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(v) | ((v < 0) if name != "merit" else np.zeros(len(v), bool))
        if bad.any():
            raise SelectionInputError(
                f"{name} must be a finite number{' >= 0' if name != 'merit' else ''}; "
                f"check {', '.join(ids[bad][:5])}"
            )
        num[name] = v
    flags = {}
    for name, default in {
        "enterprise_led": None,
        "eligible": None,
        "young": None,
        **OPTIONAL_COLUMNS,
    }.items():
        if name not in proposals.columns:
            flags[name] = np.full(len(ids), bool(default))
            continue
        s = proposals[name]
        if s.isna().any():
            raise SelectionInputError(f"{name} is missing for {', '.join(ids[s.isna()][:5])}")
        flags[name] = s.astype(bool).to_numpy()
    pi = proposals["pi_id"].astype(str).to_numpy(dtype=object)
    related = proposals["related_group"].fillna("").astype(str).str.strip().to_numpy(dtype=object)

    n = len(ids)
    order = np.argsort(ids.astype(str), kind="stable")
    pos = np.empty(n, dtype=np.int64)
    pos[order] = np.arange(n)

    caps = np.array([dcap[d] for d in direction], dtype=float)
    share = np.where(flags["enterprise_led"], rules.max_share_enterprise, rules.max_share)
    terms = np.vstack(
        [
            num["requested_wan"],
            np.where(np.isnan(caps), np.inf, caps),
            share * num["total_budget_wan"],
            np.full(n, float(rules.max_grant_wan)),
        ]
    )
    ub = np.floor(terms.min(axis=0) + 1e-9).astype(np.int64)
    bound_kind = np.array(BOUND_KINDS, dtype=object)[terms.argmin(axis=0)]
    lb = np.ceil(rules.min_grant_share * ub - 1e-9).astype(np.int64)
    lb = np.maximum(lb, np.minimum(ub, 1))

    id_index = {str(k): i for i, k in enumerate(ids)}
    forced_in = np.zeros(n, bool)
    forced_out = np.zeros(n, bool)
    override: dict[int, Override] = {}
    for o in rules.overrides:
        if o.proposal_id not in id_index:
            raise SelectionInputError(
                f"override by {o.actor} names proposal {o.proposal_id}, which is not in the "
                "proposals frame; fix the id or drop the override"
            )
        i = id_index[o.proposal_id]
        (forced_in if o.action == "force_in" else forced_out)[i] = True
        override.setdefault(i, o)

    known = set(dprog.values())
    unknown_p = [p for p in rules.programme_budgets_wan or {} if p not in known]
    if unknown_p:
        raise SelectionInputError(
            f"programme_budgets_wan names {', '.join(unknown_p)}, which is not a programme of "
            f"the directions frame; known programmes: {', '.join(sorted(known))}"
        )
    scopes = [
        Scope(
            Msg("the programme budget {programme}", programme=p),
            "programme",
            math.floor(float(b) + 1e-9),
            programme == p,
        )
        for p, b in sorted((rules.programme_budgets_wan or {}).items())
    ]
    if rules.budget_wan is not None:
        scopes.append(
            Scope(
                Msg("the overall budget"),
                "overall",
                math.floor(float(rules.budget_wan) + 1e-9),
                np.ones(n, bool),
            )
        )
    dir_codes, dir_idx = np.unique(direction.astype(str), return_inverse=True)
    first = np.searchsorted(np.sort(dir_idx), np.arange(len(dir_codes)))
    dir_programme = tuple(str(p) for p in programme[np.argsort(dir_idx, kind="stable")][first])
    keys = []
    if rules.one_per_pi:
        keys.append(pi)
    if rules.related_exclusive:
        keys.append(np.where(related == "", None, related))
    groups = []
    for key in keys:
        by: dict[object, list[int]] = {}
        for i, k in enumerate(key):
            if k is not None:
                by.setdefault(k, []).append(i)
        groups += [np.array(g, dtype=np.int64) for g in by.values() if len(g) > 1]
    return SelectionData(
        dir_idx=dir_idx.astype(np.int64),
        dir_codes=tuple(str(d) for d in dir_codes),
        dir_programme=dir_programme,
        groups=tuple(groups),
        ids=ids,
        pos=pos,
        direction=direction,
        programme=programme,
        merit=num["merit"],
        pi=pi,
        related=related,
        eligible=flags["eligible"],
        reviewed=flags["reviewed"],
        withdrawn=flags["withdrawn"],
        young=flags["young"],
        enterprise_led=flags["enterprise_led"],
        total_budget=num["total_budget_wan"],
        ub=ub,
        lb=lb,
        bound_kind=bound_kind,
        cap=caps,
        forced_in=forced_in,
        forced_out=forced_out,
        override=override,
        scopes=tuple(scopes),
        rules=rules,
    )
