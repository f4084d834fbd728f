"""Budgeted selection of projects to fund, by integer programming (CP-SAT).

Per guide direction (4-digit code, first digit = programme) choose 0..max_per_direction projects
and each funded project's provincial grant (万元, whole numbers).

Objective, lexicographic over the funded set S (each level only breaks ties of the one before):

1. maximise  sum_{i in S} round(1000 * merit_i)        (merit sum, scaled to integers);
2. minimise  sum_{i in S} grant_bound_i                (spend less; with min_grant_share = 1 this
   is the total grant, since every grant equals its bound);
3. minimise  sum_{i in S} pos_i, pos_i = position of the proposal id in sorted id order
   (prefers earlier ids; a tie left after all three levels is broken by the solver, single
   worker and fixed seed, so runs are reproducible).

When the three weights fit in 53 bits they are folded into one weighted objective, otherwise the
levels are solved in turn, each fixed at its optimum before the next (levels 2 and 3 share one
weighted solve when they fit). Budgets: a funded set fits when the sum of its grant floors
ceil(min_grant_share * bound) within each budget scope is at most the budget. Grants: every
funded grant equals its bound unless a budget would be overspent (only possible when
min_grant_share < 1); then the grants inside the overspent budget are cut pro rata, to the same
share of their bounds (whole 万元, never below the floor), the share as large as the budgets
allow (programme budgets first, then the overall budget).

Coupling: budgets, one-PI, related-group and youth-share constraints tie directions together.
Directions with no such link are solved as independent components;
``SelectionResult.n_components`` says how many there were.

Solvers: a component without a youth share whose budgets do not overlap (programme budgets, or
one overall budget) is solved exactly by dynamic programming over the directions (the choices
per direction are its allowed subsets of 0..max_per_direction proposals; states are budget use
plus the PI / related groups spanning directions; undominated states only, pruned by a
Lagrangian bound against a heuristic selection's merit), for all merit draws at once in
:func:`selection_probability` and for the explanation re-solves in batches. Other components,
and any solve whose states outgrow a fixed limit, go to CP-SAT (one model per component, built
once). Explanations of components with groups spanning directions use CP-SAT re-solves.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import pandas as pd
from ortools.sat.python import cp_model

from assign.problem import Status

MERIT_SCALE = 1000
_INT_MIN = -(2**63)
_INT_MAX = 2**63 - 1
_FIT = 2**53

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
DIRECTION_COLUMNS = ("direction_code", "programme", "cap_wan")


class SelectionInputError(ValueError):
    """Bad input to the selection: names the offending ids and says what is expected."""


class SelectionInfeasibleError(ValueError):
    """Raised by :func:`selection_probability` when the rules admit no selection at all."""


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class Override:
    """A chair's decision: force a proposal in or out of the funded set, with a reason."""

    proposal_id: str
    action: Literal["force_in", "force_out"]
    reason: str
    actor: str

    def __post_init__(self) -> None:
        if self.action not in ("force_in", "force_out"):
            raise SelectionInputError(
                f"override for {self.proposal_id}: action must be 'force_in' or 'force_out', "
                f"got {self.action!r}"
            )
        if not str(self.reason).strip() or not str(self.actor).strip():
            raise SelectionInputError(
                f"override for {self.proposal_id}: give both a reason and an actor "
                "(who decided it and why)"
            )


@dataclass(frozen=True)
class SelectionRules:
    """Funding rules. Money in 万元; shares in (0, 1].

    min_per_direction: each direction funds at least min(this, its number of qualified
    proposals) (qualified: eligible, not forced out, merit >= quality_floor, bound > 0).
    programme_budgets_wan: programme name -> budget; budget_wan: overall budget (None = none).
    min_grant_share: a grant may be cut to no less than this share of its bound (1.0 = no cuts).
    youth_min_share: minimum share of funded projects that are young (None = no rule).
    """

    max_per_direction: int = 2
    min_per_direction: int = 1
    quality_floor: float = 60.0
    max_share: float = 0.5
    max_share_enterprise: float = 0.3
    max_grant_wan: float = 2000.0
    budget_wan: float | None = None
    programme_budgets_wan: Mapping[str, float] | None = None
    min_grant_share: float = 1.0
    one_per_pi: bool = True
    related_exclusive: bool = True
    youth_min_share: float | None = None
    overrides: tuple[Override, ...] = ()

    def __post_init__(self) -> None:
        s = object.__setattr__
        if self.max_per_direction < 0 or self.min_per_direction < 0:
            raise SelectionInputError("max_per_direction and min_per_direction must be >= 0")
        if self.min_per_direction > self.max_per_direction:
            raise SelectionInputError(
                f"min_per_direction={self.min_per_direction} exceeds max_per_direction="
                f"{self.max_per_direction}; lower the minimum or raise the maximum"
            )
        for name in ("max_share", "max_share_enterprise", "min_grant_share"):
            v = getattr(self, name)
            if not 0 < v <= 1:
                raise SelectionInputError(f"{name} must be in (0, 1], got {v}")
        if self.youth_min_share is not None and not 0 <= self.youth_min_share <= 1:
            raise SelectionInputError(
                f"youth_min_share must be in [0, 1], got {self.youth_min_share}"
            )
        if not self.max_grant_wan > 0:
            raise SelectionInputError(f"max_grant_wan must be > 0, got {self.max_grant_wan}")
        if self.budget_wan is not None and not self.budget_wan >= 0:
            raise SelectionInputError(f"budget_wan must be >= 0, got {self.budget_wan}")
        budgets = dict(self.programme_budgets_wan or {})
        bad = [p for p, b in budgets.items() if not (b is not None and b >= 0)]
        if bad:
            raise SelectionInputError(f"programme budgets must be >= 0; check {', '.join(bad)}")
        s(self, "programme_budgets_wan", MappingProxyType(budgets))
        overrides = tuple(self.overrides)
        if not all(isinstance(o, Override) for o in overrides):
            raise SelectionInputError("overrides must be Override objects")
        s(self, "overrides", overrides)


# --------------------------------------------------------------------------- result


@dataclass(frozen=True, eq=False)
class SelectionResult:
    """Outcome of :func:`select`.

    table: one row per input proposal, input order, columns proposal_id, direction_code,
    programme, merit, qualified (eligible, not forced out, merit >= floor), selected,
    grant_wan (int), grant_bound_wan (int), grant_floor_wan (int), alternate_rank (float, NaN
    unless an alternate), merit_threshold (merit above which an unfunded proposal would be
    funded / below which a funded one would drop; NaN where not computed), explanation (str).
    objective: merit sum of the funded set (unscaled); bound: proven upper bound on it.
    objective_terms: (scaled merit sum, total grant bound, id-position sum) of the funded set.
    programme_use: programme, n_funded, grants_wan, budget_wan (NaN = no programme budget).
    diagnosis: why the settings are infeasible (empty unless status is INFEASIBLE).
    """

    status: Status
    objective: float
    bound: float
    gap: float
    wall_s: float
    table: pd.DataFrame
    grants_total_wan: int
    budget_wan: float | None
    programme_use: pd.DataFrame
    objective_terms: tuple[int, int, int]
    n_components: int
    diagnosis: tuple[str, ...] = ()

    @property
    def selected_ids(self) -> tuple[str, ...]:
        """Funded proposal ids, in input order."""
        t = self.table
        return tuple(t.loc[t["selected"], "proposal_id"].astype(str))

    def explanation(self, proposal_id: str) -> str:
        """The explanation sentence for one proposal."""
        row = self.table.loc[self.table["proposal_id"] == proposal_id, "explanation"]
        if row.empty:
            raise SelectionInputError(f"unknown proposal id {proposal_id}")
        return str(row.iloc[0])


# --------------------------------------------------------------------------- input


@dataclass
class _Data:
    """Validated input as arrays (index i = input row)."""

    ids: np.ndarray  # (n,) str
    pos: np.ndarray  # (n,) int position in sorted id order
    direction: np.ndarray  # (n,) str
    programme: np.ndarray  # (n,) str
    merit: np.ndarray  # (n,) float
    pi: np.ndarray  # (n,) str
    related: np.ndarray  # (n,) str, "" = none
    eligible: np.ndarray  # (n,) bool
    young: np.ndarray  # (n,) bool
    ub: np.ndarray  # (n,) int grant bound
    lb: np.ndarray  # (n,) int grant floor when funded
    bound_why: list[str]
    forced_in: np.ndarray  # (n,) bool
    forced_out: np.ndarray  # (n,) bool
    override: dict[int, Override]
    candidate: np.ndarray  # (n,) bool: may be funded for some merit
    id_index: dict[str, int]
    scopes: list[tuple[str, str, float, np.ndarray]] = field(default_factory=list)
    # scope: (label, kind "programme"/"overall", budget, member mask)


def _prepare(proposals: pd.DataFrame, directions: pd.DataFrame, rules: SelectionRules) -> _Data:
    missing = [c for c in PROPOSAL_COLUMNS if c not in proposals.columns]
    if missing:
        raise SelectionInputError(
            f"proposals frame lacks columns {', '.join(missing)}; expected {PROPOSAL_COLUMNS}"
        )
    missing = [c for c in DIRECTION_COLUMNS if c not in directions.columns]
    if missing:
        raise SelectionInputError(
            f"directions frame lacks columns {', '.join(missing)}; expected {DIRECTION_COLUMNS}"
        )
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
    for name in ("enterprise_led", "eligible", "young"):
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

    # grant bounds
    caps = np.array([dcap[d] for d in direction], dtype=float)
    share = np.where(flags["enterprise_led"], rules.max_share_enterprise, rules.max_share)
    terms = {
        "the request": num["requested_wan"],
        "the direction cap": np.where(np.isnan(caps), np.inf, caps),
        "share": share * num["total_budget_wan"],
        "the 2000万 per-project maximum": np.full(n, float(rules.max_grant_wan)),
    }
    stack = np.vstack(list(terms.values()))
    ubf = stack.min(axis=0)
    ub = np.floor(ubf + 1e-9).astype(np.int64)
    arg = stack.argmin(axis=0)
    names = list(terms)
    bound_why = []
    for i in range(n):
        nm = names[arg[i]]
        if nm == "share":
            pct = round(100 * share[i])
            who = " (enterprise-led)" if flags["enterprise_led"][i] else ""
            nm = f"{pct}% of the total budget{who}"
        elif nm.startswith("the 2000"):
            nm = f"the {rules.max_grant_wan:g}万 per-project maximum"
        bound_why.append(nm)
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
    candidate = (forced_in | (flags["eligible"] & ~forced_out)) & (ub > 0)
    data = _Data(
        ids=ids,
        pos=pos,
        direction=direction,
        programme=programme,
        merit=num["merit"],
        pi=pi,
        related=related,
        eligible=flags["eligible"],
        young=flags["young"],
        ub=ub,
        lb=lb,
        bound_why=bound_why,
        forced_in=forced_in,
        forced_out=forced_out,
        override=override,
        candidate=candidate,
        id_index=id_index,
    )
    for p, b in (rules.programme_budgets_wan or {}).items():
        data.scopes.append((f"programme budget {p}", "programme", float(b), programme == p))
    if rules.budget_wan is not None:
        data.scopes.append(("overall budget", "overall", float(rules.budget_wan), np.ones(n, bool)))
    return data


def _top_sum(v: np.ndarray, k: int) -> int:
    """Sum of the k largest entries of v (int)."""
    if k <= 0 or v.size == 0:
        return 0
    return int(np.sort(np.asarray(v, dtype=np.int64))[-k:].sum())


def _merit_int(merit: np.ndarray) -> np.ndarray:
    return np.rint(np.asarray(merit, dtype=float) * MERIT_SCALE).astype(np.int64)


def _qualified(data: _Data, merit: np.ndarray, rules: SelectionRules) -> np.ndarray:
    """(..., n) bool: eligible, not forced out, fundable amount, merit >= floor."""
    base = data.eligible & ~data.forced_out & (data.ub > 0)
    return base & (merit >= rules.quality_floor)


# --------------------------------------------------------------------------- components


def _components(data: _Data, rules: SelectionRules) -> list[np.ndarray]:
    """Candidate indices per independent component, each sorted by id position."""
    cand = np.flatnonzero(data.candidate)
    if cand.size == 0:
        return []
    dirs = sorted(set(data.direction[cand]))
    parent = {d: d for d in dirs}

    def find(a: str) -> str:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    def link(group: Iterable[str]) -> None:
        g = list(dict.fromkeys(group))
        for a in g[1:]:
            ra, rb = find(g[0]), find(a)
            if ra != rb:
                parent[rb] = ra

    if rules.youth_min_share:
        link(dirs)
    for _, _kind, _, mask in data.scopes:
        link(data.direction[cand[mask[cand]]])
    keys: list[np.ndarray] = []
    if rules.one_per_pi:
        keys.append(data.pi)
    if rules.related_exclusive:
        keys.append(data.related)
    for key in keys:
        groups: dict[str, list[str]] = {}
        for i in cand:
            if key is data.related and not key[i]:
                continue
            groups.setdefault(key[i], []).append(data.direction[i])
        for g in groups.values():
            if len(set(g)) > 1:
                link(g)
    comp: dict[str, list[int]] = {}
    for i in cand:
        comp.setdefault(find(data.direction[i]), []).append(int(i))
    out = []
    for root in sorted(comp):
        idx = np.array(comp[root], dtype=np.int64)
        out.append(idx[np.argsort(data.pos[idx])])
    return out


# --------------------------------------------------------------------------- the model


@dataclass
class _Sol:
    status: Status
    x: np.ndarray  # (n_c,) bool
    merit: int  # scaled merit sum
    cost: int  # sum of grant bounds
    tie: int  # sum of id positions
    bound: int  # proven bound on the scaled merit sum


_STATUS = {
    cp_model.OPTIMAL: Status.OPTIMAL,
    cp_model.FEASIBLE: Status.FEASIBLE,
    cp_model.INFEASIBLE: Status.INFEASIBLE,
    cp_model.UNKNOWN: Status.UNKNOWN,
}


class _CpModel(cp_model.CpModel):
    """CpModel without the per-instance camelCase aliases (they cost ~6 ms per model)."""

    def _add_pre_pep8_methods(self) -> None:
        return None


class _Model:
    """One component's CP-SAT model over Booleans x_j (j = local index, id order).

    Built once; merit draws, floor qualification and temporary forcing only change variable
    domains, constraint bounds and objective coefficients in the proto.
    """

    def __init__(self, data: _Data, idx: np.ndarray, rules: SelectionRules) -> None:
        self.data, self.idx, self.rules = data, idx, rules
        self.n = n = len(idx)
        self.model = _CpModel()
        for _ in range(n):
            self.model.proto.variables.add().domain.extend([0, 1])
        self.ub = data.ub[idx]
        self.lb = data.lb[idx]
        self.tiepos = data.pos[idx].astype(np.int64)  # position in the global id order
        k = min(n, rules.max_per_direction * len(set(data.direction[idx])))
        self.kmax = k  # most projects the component can fund
        self.dir_rows: dict[str, tuple[int, np.ndarray]] = {}
        self.scope_rows: list[tuple[int, int, str, np.ndarray]] = []
        self._add_direction_counts()
        self._add_one_per_pi()
        self._add_related_groups()
        self._add_budgets()
        self._add_youth_share()
        self.merit_row = self._row(range(n), np.zeros(n, np.int64), _INT_MIN, _INT_MAX)
        self.cost_row = self._row(range(n), self.ub, _INT_MIN, _INT_MAX)
        obj = self.model.proto.objective
        obj.vars.extend(range(n))
        obj.coeffs.extend([0] * n)
        obj.scaling_factor = 1.0
        self.lo = np.zeros(n, np.int64)
        self.hi = np.ones(n, np.int64)
        self.forced_in = data.forced_in[idx]
        self.solver = cp_model.CpSolver()

    # -- constraint families ------------------------------------------------

    def _row(self, js: Iterable[int], coeffs: Sequence[int] | np.ndarray, lo: int, hi: int) -> int:
        js = list(js)
        c = self.model.proto.constraints.add()
        c.linear.vars.extend(js)
        c.linear.coeffs.extend(int(a) for a in coeffs)
        c.linear.domain.extend([int(lo), int(hi)])
        return len(self.model.proto.constraints) - 1

    def _groups(self, key: np.ndarray, skip_empty: bool = False) -> dict[str, list[int]]:
        groups: dict[str, list[int]] = {}
        for j, i in enumerate(self.idx):
            if skip_empty and not key[i]:
                continue
            groups.setdefault(key[i], []).append(j)
        return groups

    def _add_direction_counts(self) -> None:
        """0/min <= funded per direction <= max_per_direction (the minimum is set per draw)."""
        for d, js in self._groups(self.data.direction).items():
            r = self._row(js, [1] * len(js), 0, self.rules.max_per_direction)
            self.dir_rows[d] = (r, np.array(js))

    def _add_one_per_pi(self) -> None:
        """At most one funded project per PI."""
        if self.rules.one_per_pi:
            for js in self._groups(self.data.pi).values():
                if len(js) > 1:
                    self._row(js, [1] * len(js), 0, 1)

    def _add_related_groups(self) -> None:
        """At most one funded project per related-enterprise group."""
        if self.rules.related_exclusive:
            for js in self._groups(self.data.related, skip_empty=True).values():
                if len(js) > 1:
                    self._row(js, [1] * len(js), 0, 1)

    def _add_budgets(self) -> None:
        """Sum of grant floors within each budget scope <= budget (grants can be cut to floor)."""
        for label, _, budget, mask in self.data.scopes:
            js = [j for j, i in enumerate(self.idx) if mask[i]]
            if js:
                r = self._row(js, self.lb[js], _INT_MIN, math.floor(budget + 1e-9))
                self.scope_rows.append((r, math.floor(budget + 1e-9), label, np.array(js)))

    def _add_youth_share(self) -> None:
        """den * (#young funded) - num * (#funded) >= 0 with youth_min_share = num / den."""
        s = self.rules.youth_min_share
        if s:
            fr = Fraction(s).limit_denominator(10_000)
            young = self.data.young[self.idx]
            coeffs = np.where(young, fr.denominator - fr.numerator, -fr.numerator)
            self._row(range(self.n), coeffs, 0, _INT_MAX)

    # -- per-draw state -----------------------------------------------------

    def set_draw(self, qualified: np.ndarray) -> None:
        """qualified: (n_c,) bool for the current merits; fixes domains and direction minima."""
        self.lo = self.forced_in.astype(np.int64)
        self.hi = (qualified | self.forced_in).astype(np.int64)
        proto = self.model.proto
        for _d, (r, js) in self.dir_rows.items():
            lo = min(self.rules.min_per_direction, int(qualified[js].sum()))
            proto.constraints[r].linear.domain[0] = lo

    def _set_domains(self, lo: np.ndarray, hi: np.ndarray) -> None:
        var = self.model.proto.variables
        for j in range(self.n):
            d = var[j].domain
            d[0] = int(lo[j])
            d[1] = int(hi[j])

    def _set_objective(self, coeffs: np.ndarray) -> None:
        o = self.model.proto.objective
        o.coeffs.clear()
        o.coeffs.extend(int(c) for c in coeffs)

    def _run(
        self, time_limit_s: float, workers: int, hint: np.ndarray | None, presolve: bool = True
    ) -> Status:
        p = self.solver.parameters
        p.max_time_in_seconds = time_limit_s
        p.num_workers = workers
        p.random_seed = 0
        p.cp_model_presolve = presolve
        h = self.model.proto.solution_hint
        h.vars.clear()
        h.values.clear()
        if hint is not None:
            h.vars.extend(range(self.n))
            h.values.extend(int(v) for v in hint)
        st = self.solver.solve(self.model)
        if st == cp_model.MODEL_INVALID:  # pragma: no cover - a bug, not an input problem
            raise RuntimeError(self.model.validate())
        return _STATUS[st]

    def _x(self) -> np.ndarray:
        return np.array(list(self.solver.response_proto.solution), dtype=bool)[: self.n]

    def solve(
        self,
        m: np.ndarray,
        *,
        extra_in: Sequence[int] = (),
        extra_out: Sequence[int] = (),
        merit_only: bool = False,
        budget_bump: tuple[int, int] | None = None,
        time_limit_s: float = 60.0,
        workers: int = 1,
        hint: np.ndarray | None = None,
    ) -> _Sol:
        """m: (n_c,) scaled merits. extra_in/out: local indices forced for this solve only."""
        lo, hi = self.lo.copy(), self.hi.copy()
        lo[list(extra_in)] = 1
        hi[list(extra_out)] = 0
        hi[list(extra_in)] = 1
        if np.any(lo > hi):
            return _Sol(Status.INFEASIBLE, np.zeros(self.n, bool), 0, 0, 0, 0)
        self._set_domains(lo, hi)
        proto = self.model.proto
        if budget_bump is not None:
            r, amount = budget_bump
            old_budget = proto.constraints[r].linear.domain[1]
            proto.constraints[r].linear.domain[1] = old_budget + amount
        m = np.asarray(m, dtype=np.int64)
        try:
            return self._solve_levels(m, merit_only, time_limit_s, workers, hint)
        finally:
            if budget_bump is not None:
                proto.constraints[budget_bump[0]].linear.domain[1] = old_budget

    def _solve_levels(
        self, m: np.ndarray, merit_only: bool, tl: float, workers: int, hint: np.ndarray | None
    ) -> _Sol:
        n = self.n
        if merit_only:
            # the explanations' many re-solves of one model with a bound moved: presolving
            # each costs more than it saves (3x slower at 526 proposals)
            self._set_objective(-m)
            st = self._run(tl, workers, hint, presolve=False)
            if st in (Status.INFEASIBLE, Status.UNKNOWN):
                return _Sol(st, np.zeros(n, bool), 0, 0, 0, 0)
            x = self._x()
            return self._sol(st, x, m, -int(round(self.solver.best_objective_bound)))
        w2 = _top_sum(self.tiepos, self.kmax) + 1
        w1 = w2 * (_top_sum(self.ub, self.kmax) + 1)
        if w1 * (_top_sum(np.abs(m), self.kmax) + 1) < _FIT:
            self._set_objective(-w1 * m + w2 * self.ub + self.tiepos)
            st = self._run(tl, workers, hint)
            if st in (Status.INFEASIBLE, Status.UNKNOWN):
                return _Sol(st, np.zeros(n, bool), 0, 0, 0, 0)
            x = self._x()
            slack = -self.solver.best_objective_bound + w1 - 1
            return self._sol(st, x, m, int(slack // w1))
        # sequential levels
        proto = self.model.proto
        mr = proto.constraints[self.merit_row].linear
        mr.coeffs.clear()
        mr.coeffs.extend(int(c) for c in m)
        cr = proto.constraints[self.cost_row].linear
        try:
            self._set_objective(-m)
            st1 = self._run(tl, workers, hint)
            if st1 in (Status.INFEASIBLE, Status.UNKNOWN):
                return _Sol(st1, np.zeros(n, bool), 0, 0, 0, 0)
            x = self._x()
            bound = -int(round(self.solver.best_objective_bound))
            mr.domain[0] = int(m[x].sum())
            if w1 < _FIT:  # levels 2 and 3 fit one weighted objective
                self._set_objective(w2 * self.ub + self.tiepos)
                st2 = st3 = self._run(tl, workers, x)
                x = self._x() if st2 in (Status.OPTIMAL, Status.FEASIBLE) else x
            else:
                self._set_objective(self.ub)
                st2 = self._run(tl, workers, x)
                x = self._x() if st2 in (Status.OPTIMAL, Status.FEASIBLE) else x
                cr.domain[1] = int(self.ub[x].sum())
                self._set_objective(self.tiepos)
                st3 = self._run(tl, workers, x)
                x = self._x() if st3 in (Status.OPTIMAL, Status.FEASIBLE) else x
            ok = st1 == st2 == st3 == Status.OPTIMAL
            return self._sol(Status.OPTIMAL if ok else Status.FEASIBLE, x, m, bound)
        finally:
            mr.domain[0] = _INT_MIN
            cr.domain[1] = _INT_MAX

    def _sol(self, st: Status, x: np.ndarray, m: np.ndarray, bound: int | None) -> _Sol:
        merit = int(m[x].sum())
        return _Sol(
            st,
            x,
            merit,
            int(self.ub[x].sum()),
            int(self.tiepos[x].sum()),
            merit if bound is None or st == Status.OPTIMAL else max(bound, merit),
        )


# --------------------------------------------------------------------------- exact DP path

_DP_ENABLED = True  # the CP-SAT path alone when False (benchmarks and cross-checks)
_DP_MAX_OPTIONS = 60_000  # most subsets listed for one direction
_DP_MAX_BITS = 62  # most cross-direction PI / related groups in one component
_DP_MAX_STATES = 400_000  # most states kept at once (over all draws) before handing over
_DP_BEAM = 128  # states per draw in the heuristic pass that finds a first selection
_NEG = -(2**62)


@dataclass
class _Stage:
    """One direction's structurally allowed subsets (rows), in ascending budget weight.

    js: (n_d,) component-local indices of its candidates; member: (S, n_d) bool;
    w: (S,) budget weight (grant floors inside its budget scope); r: (S,) w2 * bounds + id
    positions (the tie-break levels, smaller is better); mask: (S,) cross-group bits used;
    release: bits whose groups have no member in later stages; scope: its budget's index.
    """

    direction: str
    js: np.ndarray
    member: np.ndarray
    w: np.ndarray
    r: np.ndarray
    mask: np.ndarray
    release: int
    scope: int


class _DpComponent:
    """Exact solver for a component whose budgets do not overlap (programme budgets, or one
    overall budget), without a youth share.

    Per direction the choices are the subsets of 0..max_per_direction candidates that respect
    the PI and related-group rules inside the direction and hold its forced-in proposals; each
    has a budget weight (sum of grant floors), a merit and the tie-break levels. PI / related
    groups spanning directions are bits of the state. Directions are added in turn, budget by
    budget, to a set of states (weight used in the current budget, bits) that keeps only
    undominated states (no other state with the same bits, no more weight and a
    lexicographically better objective) and states whose Lagrangian bound (merit + price *
    unused budget + the best of the later directions at their budget's price) reaches the merit
    of a known feasible selection. Exact for the lexicographic objective of the module
    docstring. Same interface as :class:`_Model` for :func:`_explain_component`.
    """

    def __init__(
        self,
        data: _Data,
        idx: np.ndarray,
        rules: SelectionRules,
        stages: list[_Stage],
        caps: np.ndarray,
        scope_rows: list[tuple[int, int, str, np.ndarray]],
        w1: int,
    ) -> None:
        self.data, self.idx, self.rules = data, idx, rules
        self.n = len(idx)
        self.stages, self.caps, self.w1 = stages, caps, w1
        self.ub = data.ub[idx]
        self.lb = data.lb[idx]
        self.forced_in = data.forced_in[idx]
        self.dir_rows = {s.direction: (k, s.js) for k, s in enumerate(stages)}
        self.scope_rows = scope_rows
        self.qual = np.zeros(self.n, bool)
        self.lam = np.zeros((0, len(caps)))
        self.base_lam: np.ndarray | None = None
        self.has_cross = any(bool(st.mask.any()) for st in stages)

    # -- construction -------------------------------------------------------

    @classmethod
    def build(
        cls,
        data: _Data,
        idx: np.ndarray,
        rules: SelectionRules,
        merits: np.ndarray,
        allowed: np.ndarray,
    ) -> _DpComponent | None:
        """The DP for component idx, or None where it does not apply (youth share, budgets that
        overlap inside the component, too many subsets or cross groups, keys beyond 61 bits).

        merits: (n_draws, n_c) scaled merits the component will be solved for and allowed:
        (n_draws, n_c) bool, qualified or forced in (for the check that keys fit).
        """
        if not _DP_ENABLED or rules.youth_min_share:
            return None
        scopes = [(lab, b, mask[idx]) for lab, _, b, mask in data.scopes if mask[idx].any()]
        if scopes and np.sum([s[2] for s in scopes], axis=0).max() > 1:
            return None  # overlapping budgets (programme and overall): CP-SAT
        n = len(idx)
        dirs = data.direction[idx]
        kmax = min(n, rules.max_per_direction * len(set(dirs)))
        ub = data.ub[idx].astype(np.int64)
        pos = data.pos[idx].astype(np.int64)
        w2 = _top_sum(pos, kmax) + 1
        w1 = w2 * (_top_sum(ub, kmax) + 1)
        mabs = np.abs(np.where(allowed, merits, 0)).max(axis=0, initial=0)
        if w1 * (_top_sum(mabs, kmax) + 1) >= 2**61:
            return None
        scope_of = np.full(n, len(scopes), np.int64)  # last index: outside every budget
        scope_rows = []
        caps = []
        for r, (label, budget, in_scope) in enumerate(scopes):
            scope_of[in_scope] = r
            caps.append(math.floor(budget + 1e-9))
            scope_rows.append((r, caps[-1], label, np.flatnonzero(in_scope)))
        caps.append(0)
        weight = np.where(scope_of < len(scopes), data.lb[idx], 0).astype(np.int64)
        groups: list[list[int]] = []
        for flag, key in ((rules.one_per_pi, data.pi), (rules.related_exclusive, data.related)):
            if not flag:
                continue
            by: dict[str, list[int]] = {}
            for j, i in enumerate(idx):
                if key is data.related and not key[i]:
                    continue
                by.setdefault(key[i], []).append(j)
            groups.extend(g for g in by.values() if len(g) > 1)
        cross = [g for g in groups if len(set(dirs[g])) > 1]
        if len(cross) > _DP_MAX_BITS:
            return None
        first = list(dict.fromkeys(dirs[np.argsort(pos)]))
        dscope = {d: int(scope_of[np.flatnonzero(dirs == d)[0]]) for d in first}
        order = _stage_order(first, cross, dirs, dscope)
        bits = np.zeros(n, np.int64)
        for b, g in enumerate(cross):
            bits[g] |= np.int64(1) << b
        rank = {d: k for k, d in enumerate(order)}
        last = {b: max(set(dirs[g]), key=rank.__getitem__) for b, g in enumerate(cross)}
        stages = []
        for d in order:
            js = np.flatnonzero(dirs == d)
            member = _stage(js, groups, data.forced_in[idx], rules.max_per_direction)
            if member is None:
                return None
            mi = member.astype(np.int64)
            w = mi @ weight[js]
            r_ = w2 * (mi @ ub[js]) + mi @ pos[js]
            mask = np.bitwise_or.reduce(np.where(member, bits[js], 0), axis=1)
            o = np.argsort(w, kind="stable")
            rel = sum(1 << b for b, dl in last.items() if dl == d)
            stages.append(_Stage(d, js, member[o], w[o], r_[o], mask[o], rel, dscope[d]))
        return cls(data, idx, rules, stages, np.array(caps, np.int64), scope_rows, w1)

    # -- solving --------------------------------------------------------------

    def set_draw(self, qualified: np.ndarray) -> None:
        """qualified: (n_c,) bool for the current merits (the point selection)."""
        self.qual = np.asarray(qualified, bool)

    def solve(
        self,
        m: np.ndarray,
        *,
        extra_in: Sequence[int] = (),
        extra_out: Sequence[int] = (),
        merit_only: bool = False,
        budget_bump: tuple[int, int] | None = None,
        time_limit_s: float = 60.0,
        workers: int = 1,
        hint: np.ndarray | None = None,
    ) -> _Sol:
        """One solve for merits m (n_c,) with the qualification of :meth:`set_draw`.

        extra_in/out: local indices forced for this solve only; budget_bump: (scope, amount)
        raises that budget; merit_only, time limit, workers and hint are accepted for the
        interface and not needed (the full objective is always solved exactly). Hands over to
        CP-SAT when the states grow beyond _DP_MAX_STATES.
        """
        caps = self.caps.copy()
        if budget_bump is not None:
            caps[budget_bump[0]] += budget_bump[1]
        base = not extra_in and not extra_out and budget_bump is None
        m = np.asarray(m, np.int64)
        fin = np.zeros((1, self.n), bool)
        fout = np.zeros((1, self.n), bool)
        fin[0, list(extra_in)] = True
        fout[0, list(extra_out)] = True
        x, ok = self.solve_batch(m[None, :], self.qual[None, :], fin, fout, caps[None, :])
        if base:
            self.base_lam = self.lam[0].copy() if len(self.lam) else None
        if not ok[0]:
            return _Sol(Status.INFEASIBLE, np.zeros(self.n, bool), 0, 0, 0, 0)
        xs = x[0]
        merit = int(m[xs].sum())
        pos = self.data.pos[self.idx]
        return _Sol(Status.OPTIMAL, xs, merit, int(self.ub[xs].sum()), int(pos[xs].sum()), merit)

    def solve_batch(
        self,
        m: np.ndarray,
        qual: np.ndarray,
        force_in: np.ndarray | None = None,
        force_out: np.ndarray | None = None,
        caps: np.ndarray | None = None,
        chunk: int = 64,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Optimal selections for many solves at once, in chunks; a chunk whose states outgrow
        _DP_MAX_STATES is split, and a single solve that still does is handed to CP-SAT.

        m: (D, n_c) scaled merits; qual: (D, n_c) bool; force_in/out: (D, n_c) bool forced
        for that solve only; caps: (D, n_scopes + 1) budgets. Returns x (D, n_c), ok (D,).
        """
        n_draws = m.shape[0]
        force_in = np.zeros_like(qual) if force_in is None else force_in
        force_out = np.zeros_like(qual) if force_out is None else force_out
        caps = np.broadcast_to(self.caps if caps is None else caps, (n_draws, len(self.caps)))
        x = np.zeros((n_draws, self.n), bool)
        ok = np.zeros(n_draws, bool)
        todo = [(a, min(a + chunk, n_draws)) for a in range(0, n_draws, chunk)]
        while todo:
            a, b = todo.pop()
            sl = slice(a, b)
            out = self.solve_draws(
                m[sl], qual[sl], force_in=force_in[sl], force_out=force_out[sl], caps=caps[sl]
            )
            if out is not None:
                x[sl], ok[sl] = out
            elif b - a > 1:
                todo += [(a, (a + b) // 2), ((a + b) // 2, b)]
            else:
                x[a], ok[a] = self._cp_solve(m[a], qual[a], force_in[a], force_out[a], caps[a])
        return x, ok

    def _cp_solve(
        self, m: np.ndarray, qual: np.ndarray, fin: np.ndarray, fout: np.ndarray, caps: np.ndarray
    ) -> tuple[np.ndarray, bool]:
        """One solve by CP-SAT (the states grew too many); x (n_c,) and whether feasible."""
        cp = _Model(self.data, self.idx, self.rules)
        cp.set_draw(qual)
        bump = None
        for r, row in enumerate(cp.scope_rows):
            if caps[r] != self.caps[r]:
                bump = (row[0], int(caps[r] - self.caps[r]))
        sol = cp.solve(
            m,
            extra_in=list(np.flatnonzero(fin)),
            extra_out=list(np.flatnonzero(fout)),
            budget_bump=bump,
        )
        good = sol.status in (Status.OPTIMAL, Status.FEASIBLE)
        return sol.x, good

    def solve_draws(
        self,
        m: np.ndarray,
        qual: np.ndarray,
        *,
        force_in: np.ndarray,
        force_out: np.ndarray,
        caps: np.ndarray,
        lam0: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Optimal selections for many solves at once.

        m: (D, n_c) scaled merits; qual: (D, n_c) bool; force_in/out: (D, n_c) bool;
        caps: (D, n_scopes + 1). Returns x (D, n_c) bool and ok (D,) bool (False: no
        selection satisfies the rules for that solve; its row of x is empty), or None when
        the states grow beyond _DP_MAX_STATES. lam0: (n_scopes + 1,) budget prices to try
        first (default: those of the last point solve; any price gives a valid bound).
        """
        lam0 = self.base_lam if lam0 is None else lam0
        n_draws = m.shape[0]
        allowed = (qual | self.forced_in[None, :] | force_in) & ~force_out
        m = np.where(allowed, m, 0)
        n_st = len(self.stages)
        s_max = max(len(st.w) for st in self.stages)
        wt = np.zeros((n_st, s_max), np.int64)
        mk = np.zeros((n_st, s_max), np.int64)
        val = np.zeros((n_draws, n_st, s_max), np.int64)
        feas = np.zeros((n_draws, n_st, s_max), bool)
        for k, st in enumerate(self.stages):
            s = len(st.w)
            mi = st.member.astype(np.int64)
            bad = (~allowed[:, st.js]).astype(np.int64) @ mi.T  # (D, S)
            need = np.minimum(self.rules.min_per_direction, qual[:, st.js].sum(axis=1))
            f = (bad == 0) & (st.member.sum(axis=1)[None, :] >= need[:, None])
            fi = force_in[:, st.js]
            if fi.any():
                f &= (fi.astype(np.int64) @ (~st.member).T.astype(np.int64)) == 0
            wt[k, :s] = st.w
            mk[k, :s] = st.mask
            val[:, k, :s] = m[:, st.js] @ mi.T
            feas[:, k, :s] = f
        sc = np.array([st.scope for st in self.stages])
        rel = np.array([st.release for st in self.stages], np.int64)
        lam, mu, lb, ok, best = _lagrange(sc, rel, wt, mk, val, feas, caps, lam0)
        self.lam = lam
        # a beam of the most promising states finds a good selection; its merit prunes
        beam = self._frontier(val, feas, caps, lam, mu, lb, best, ok.copy(), beam=_DP_BEAM)
        if beam is not None:
            lb = np.maximum(lb, beam[1])
        out = self._frontier(val, feas, caps, lam, mu, lb, best, ok)
        if out is None:
            return None
        picks = out[0]
        x = np.zeros((n_draws, self.n), bool)
        for k, st in enumerate(self.stages):
            rows = picks[:, k]
            good = ok & (rows >= 0)
            d, r = np.nonzero(st.member[rows[good]])
            x[np.flatnonzero(good)[d], st.js[r]] = True
        return x, ok

    def _frontier(
        self,
        val: np.ndarray,
        feas: np.ndarray,
        caps: np.ndarray,
        lam: np.ndarray,
        mu: np.ndarray,
        lb: np.ndarray,
        best: np.ndarray,
        ok: np.ndarray,
        beam: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """All draws at once: add the stages in turn to each draw's undominated states.

        val: (D, T, S) merits; feas: (D, T, S); caps, lam: (D, n_scopes + 1) budgets and
        prices; lb: (D,) a feasible merit (-inf: none known); best: (D, T) best merit - price
        * weight per stage. Returns the chosen row per draw and stage (D, T) int, -1 where
        none (and clears ok there), with the chosen merit per draw (D,) float (-inf where
        none), or None when the states outgrow _DP_MAX_STATES. beam: keep only that many
        states per draw, those of best bound (a heuristic: a good selection, not a proof).
        """
        w1 = self.w1
        n_draws, n_st, _ = val.shape
        sc = [st.scope for st in self.stages]
        # suffix[k]: bound on what stages k.. add: their best reduced merits plus the price of
        # every budget that starts at or after k
        extra = np.zeros((n_draws, n_st))
        for k in range(n_st):
            if k == 0 or sc[k] != sc[k - 1]:
                extra[:, k] = lam[:, sc[k]] * caps[:, sc[k]]
        suffix = np.concatenate(
            [np.cumsum((best + extra)[:, ::-1], axis=1)[:, ::-1], np.zeros((n_draws, 1))], axis=1
        )
        # group prices: + mu of every group with members after stage k, - mu of those a
        # state has already used (its open bits)
        g = mu.shape[1]
        alive = 0
        for k in range(n_st - 1, -1, -1):
            suffix[:, k + 1] += sum(mu[:, b] for b in range(g) if (alive >> b) & 1)
            alive |= self.stages[k].release

        sd = np.flatnonzero(ok)  # state -> draw
        sw = np.zeros(len(sd), np.int64)
        sm = np.zeros(len(sd), np.int64)
        sk = np.zeros(len(sd), np.int64)
        smask = np.zeros(len(sd), np.int64)
        smu = np.zeros(len(sd))  # prices of the groups a state has used and are still open
        back: list[tuple[np.ndarray, np.ndarray]] = []
        bounded = np.isfinite(lb)
        for k, st in enumerate(self.stages):
            if k > 0 and sc[k] != sc[k - 1]:
                sw = np.zeros_like(sw)  # a new budget: its use starts at 0
            capk = caps[:, sc[k]]
            s = len(st.w)
            v = val[:, k, :s]
            f = feas[:, k, :s]
            key = v * w1 - st.r[None, :]
            # undominated rows per draw among mask-0 rows (rows ascend in weight)
            plain = f & (st.mask == 0)[None, :]
            k0 = np.where(plain, key, _NEG)
            run = np.maximum.accumulate(k0, axis=1)
            keep = f & ~plain
            keep[:, 0] |= plain[:, 0]
            keep[:, 1:] |= plain[:, 1:] & (k0[:, 1:] > run[:, :-1])
            od, orow = np.nonzero(keep)
            counts = np.bincount(od, minlength=n_draws)
            start = np.cumsum(counts) - counts
            c = counts[sd]
            if int(c.sum()) > 8 * _DP_MAX_STATES:
                return None
            si = np.repeat(np.arange(len(sd)), c)
            within = np.arange(int(c.sum())) - np.repeat(np.cumsum(c) - c, c)
            d = sd[si]
            rows = orow[start[d] + within]
            nw = sw[si] + st.w[rows]
            nm = sm[si] + v[d, rows]
            cap = capk[d]
            good = nw <= cap
            omask = st.mask[rows]
            if smask.any() or omask.any():
                good &= (smask[si] & omask) == 0
            both = smask[si] | omask
            nmask = both & ~np.int64(st.release)
            nmu = smu[si]
            if g and st.mask.any():
                rb = ((st.mask[:, None] >> np.arange(g)) & 1).astype(float)  # (S, G)
                nmu = nmu + (mu @ rb.T)[d, rows]
            for b in range(g):
                if (st.release >> b) & 1:
                    nmu = nmu - ((both >> b) & 1) * mu[d, b]
            bound = nm + lam[d, sc[k]] * (cap - nw) + suffix[d, k + 1] - nmu
            good &= ~bounded[d] | (bound >= lb[d] - 0.5)
            si, d, rows, nw, nm, cap = si[good], d[good], rows[good], nw[good], nm[good], cap[good]
            nk = sk[si] + key[d, rows]
            nmask, nmu, bound = nmask[good], nmu[good], bound[good]
            kept = _undominated(nw, nk, nmask, d)
            if beam is not None and len(kept) > beam:
                bk = bound[kept]
                o = np.lexsort((-bk, d[kept]))
                dd = d[kept][o]
                grp = np.flatnonzero(np.r_[True, dd[1:] != dd[:-1]])
                place = np.arange(len(o)) - np.repeat(grp, np.diff(np.r_[grp, len(o)]))
                kept = kept[o[place < beam]]
            if len(kept) > _DP_MAX_STATES:
                return None
            sd, sw, sm, sk, smask = d[kept], nw[kept], nm[kept], nk[kept], nmask[kept]
            smu = nmu[kept]
            back.append((si[kept], rows[kept]))
        picks = np.full((n_draws, n_st), -1, np.int64)
        order = np.lexsort((-sk, sd))
        first = np.ones(len(order), bool)
        first[1:] = sd[order][1:] != sd[order][:-1]
        s_idx = order[first]
        draws = sd[s_idx]
        ok &= np.isin(np.arange(n_draws), draws)
        merit = np.full(n_draws, -np.inf)
        merit[draws] = sm[s_idx]
        for k in range(n_st - 1, -1, -1):
            parent, row = back[k]
            picks[draws, k] = row[s_idx]
            s_idx = parent[s_idx]
        return picks, merit


def _stage_order(
    dirs: list[str], cross: list[list[int]], local_dirs: np.ndarray, scope: dict[str, int]
) -> list[str]:
    """Directions budget by budget; inside a budget in id order, those linked by cross groups
    next to each other."""
    parent = {d: d for d in dirs}

    def find(a: str) -> str:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for g in cross:
        ds = [d for d in dict.fromkeys(local_dirs[g])]
        for d in ds[1:]:
            if scope[d] == scope[ds[0]]:
                ra, rb = find(ds[0]), find(d)
                if ra != rb:
                    parent[rb] = ra
    first: dict[str, int] = {}
    for k, d in enumerate(dirs):
        first.setdefault(find(d), k)
    where = {d: k for k, d in enumerate(dirs)}
    return sorted(dirs, key=lambda d: (scope[d], first[find(d)], where[d]))


def _stage(
    js: np.ndarray, groups: list[list[int]], forced_in: np.ndarray, kmax: int
) -> np.ndarray | None:
    """(S, n_d) bool: subsets of js (size <= kmax) with every forced-in member and at most one
    member of each exclusive group; None when there are too many to list."""
    n_d = len(js)
    k = min(kmax, n_d)
    if sum(math.comb(n_d, r) for r in range(k + 1)) > _DP_MAX_OPTIONS:
        return None
    subs = [c for r in range(k + 1) for c in itertools.combinations(range(n_d), r)]
    member = np.zeros((len(subs), n_d), dtype=bool)
    for s, c in enumerate(subs):
        member[s, list(c)] = True
    ok = (member | ~forced_in[js]).all(axis=1)
    pos_of = {int(j): p for p, j in enumerate(js)}
    for g in groups:
        inside = [pos_of[j] for j in g if j in pos_of]
        if len(inside) > 1:
            ok &= member[:, inside].sum(axis=1) <= 1
    return member[ok]


def _undominated(w: np.ndarray, key: np.ndarray, mask: np.ndarray, seg: np.ndarray) -> np.ndarray:
    """Indices of the entries that no other entry of the same (seg, mask) beats (weight <=
    and key >=; one of equal entries is kept). All arrays (n,) int64."""
    n = len(w)
    if n <= 1:
        return np.arange(n)
    order = np.lexsort((-key, w, mask, seg))
    rank = np.empty(n, np.int64)
    rank[np.argsort(key, kind="stable")] = np.arange(n)
    so, mo = seg[order], mask[order]
    new = np.empty(n, bool)
    new[0] = False
    new[1:] = (so[1:] != so[:-1]) | (mo[1:] != mo[:-1])
    val = np.cumsum(new) * n + rank[order]
    prev = np.maximum.accumulate(val)
    keep = np.empty(n, bool)
    keep[0] = True
    keep[1:] = val[1:] > prev[:-1]
    return order[keep]


def _bits(mk: np.ndarray) -> np.ndarray:
    """(..., G) float 0/1: the cross-group bits of mk (G = highest bit used + 1)."""
    top = int(np.bitwise_or.reduce(mk.ravel())) if mk.size else 0
    g = max(top.bit_length(), 0)
    return ((mk[..., None] >> np.arange(g)) & 1).astype(float)


def _reduced_merits(
    sc: np.ndarray,
    wt: np.ndarray,
    mk: np.ndarray,
    valf: np.ndarray,
    lam: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merits reduced by the budget prices lam (D, B); the group prices mu (D, G) are zero.

    Returns (lam, mu, reduced merits (D, T, S)).
    """
    n = valf.shape[0]
    mu = np.zeros((n, _bits(mk).shape[2]))
    return lam, mu, valf - lam[:, sc][:, :, None] * wt.astype(float)[None, :, :]


def _lagrange(
    sc: np.ndarray,
    rel: np.ndarray,
    wt: np.ndarray,
    mk: np.ndarray,
    val: np.ndarray,
    feas: np.ndarray,
    caps: np.ndarray,
    lam0: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Budget prices per draw by bisection (one per budget), refined with prices on the
    cross-direction groups by subgradient steps; the merit of a feasible selection near those
    prices, whether any selection fits, and the best merit - prices * (weight, groups) per
    stage.

    sc: (T,) budget index per stage; rel: (T,) bits released after each stage; wt, mk: (T, S)
    weights and cross-group bits; val, feas: (D, T, S); caps: (D, B). Returns lam (D, B),
    mu (D, G), lb (D,) (-inf where no feasible selection was found), ok (D,), best (D, T).
    """
    n, n_st, _ = val.shape
    n_b = caps.shape[1]
    onehot = np.zeros((n_st, n_b))
    onehot[np.arange(n_st), sc] = 1.0
    valf = np.where(feas, val.astype(float), -np.inf)
    wtf = wt.astype(float)[None, :, :]
    wt_b = np.broadcast_to(wt, val.shape)
    any_f = np.asarray(np.asarray(feas.any(axis=2)).all(axis=1), bool)

    def use(lam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        o = np.argmax(valf - lam[:, sc][:, :, None] * wtf, axis=2)  # ties: the lighter row
        w = np.take_along_axis(wt_b, o[:, :, None], 2)[:, :, 0]
        return o, w.astype(float) @ onehot  # (D, T), (D, B)

    lam = np.zeros((n, n_b))
    _, w0 = use(lam)
    fits = w0 <= caps
    if lam0 is not None and not fits.all():
        trial = np.where(fits, 0.0, lam0[None, :])
        _, wl = use(trial)
        better = ~fits & (wl <= caps)
        lam = np.where(better, trial, lam)
        fits |= better
    spread = (np.where(feas, val, 0).max(axis=2) - np.where(feas, val, 0).min(axis=2)) @ onehot
    hi = np.where(fits, lam, spread + 1.0)
    _, wh = use(hi)
    ok = any_f & (wh <= caps).all(axis=1)
    lo = np.where(fits, hi, 0.0)
    active = ok[:, None] & ~fits
    for _ in range(30):
        if not active.any():
            break
        mid = np.where(active, (lo + hi) / 2, hi)
        _, wm = use(mid)
        fm = wm <= caps
        hi = np.where(active & fm, mid, hi)
        lo = np.where(active & ~fm, mid, lo)
        active &= (hi - lo) > 1e-4 * np.maximum(hi, 1.0)
    lam, mu, red = _reduced_merits(sc, wt, mk, valf, hi)
    best = np.where(ok[:, None], red.max(axis=2), 0.0)
    # a feasible selection: the price's best row per stage among those that keep the cross
    # groups exclusive; its merit bounds the optimum from below when it fits every budget
    used = np.zeros(n, np.int64)
    tot_w = np.zeros((n, n_b))
    lb = np.zeros(n)
    rows = np.arange(n)
    for k in range(n_st):
        clash = (used[:, None] & mk[k][None, :]) != 0
        o = np.argmax(np.where(clash, -np.inf, red[:, k, :]), axis=1)
        okk = feas[rows, k, o] & ~clash[rows, o]
        lb = np.where(okk, lb + val[rows, k, o], -np.inf)
        tot_w[:, sc[k]] += wt[k, o]
        used = (used | mk[k, o]) & ~rel[k]
    lb = np.where(ok & (tot_w <= caps).all(axis=1), lb, -np.inf)
    return lam, mu, lb, ok, best


# --------------------------------------------------------------------------- pre-checks


def _fmt(v: float) -> str:
    return f"{v:.3f}".rstrip("0").rstrip(".")


def _override_conflicts(data: _Data, rules: SelectionRules) -> list[str]:
    """Contradictory or impossible overrides, each named (empty when none)."""
    out: list[str] = []
    by_id: dict[str, list[Override]] = {}
    for o in rules.overrides:
        by_id.setdefault(o.proposal_id, []).append(o)
    for pid, os_ in by_id.items():
        acts = {o.action for o in os_}
        if len(acts) > 1:
            fi = next(o for o in os_ if o.action == "force_in")
            fo = next(o for o in os_ if o.action == "force_out")
            out.append(
                f"proposal {pid} is forced in by {fi.actor} and forced out by {fo.actor}; "
                "keep one of the two overrides"
            )
    fin = np.flatnonzero(data.forced_in & ~data.forced_out)
    for i in fin:
        o = data.override[int(i)]
        if not data.eligible[i]:
            out.append(
                f"proposal {data.ids[i]} is forced in by {o.actor} but was rejected in "
                "screening; drop the override or revisit the screening decision"
            )
        elif data.ub[i] <= 0:
            out.append(
                f"proposal {data.ids[i]} is forced in by {o.actor} but its grant bound is 0万 "
                f"(limited by {data.bound_why[i]}); drop the override or fix its budget figures"
            )
    for flag, key, what in (
        (rules.one_per_pi, data.pi, "PI"),
        (rules.related_exclusive, data.related, "related group"),
    ):
        if not flag:
            continue
        groups: dict[str, list[int]] = {}
        for i in fin:
            if what == "PI" or key[i]:
                groups.setdefault(key[i], []).append(int(i))
        for k, members in groups.items():
            if len(members) > 1:
                names = " and ".join(data.ids[j] for j in members)
                out.append(
                    f"proposals {names} are all forced in but share {what} {k}, which may "
                    "have only one funded project; drop all but one of these overrides"
                )
    counts: dict[str, list[int]] = {}
    for i in fin:
        counts.setdefault(data.direction[i], []).append(int(i))
    for d, members in counts.items():
        if len(members) > rules.max_per_direction:
            out.append(
                f"direction {d} has {len(members)} forced-in proposals "
                f"({', '.join(data.ids[j] for j in members)}) but funds at most "
                f"{rules.max_per_direction}; drop overrides or raise max_per_direction"
            )
    for label, _, budget, mask in data.scopes:
        members = [int(i) for i in fin if mask[i]]
        need = int(data.lb[members].sum()) if members else 0
        if need > budget + 1e-9:
            parts = ", ".join(f"{data.ids[j]} ({data.lb[j]}万)" for j in members)
            out.append(
                f"{label} is {budget:g}万 but the forced-in proposals {parts} need at least "
                f"{need}万; raise the budget by {need - math.floor(budget + 1e-9)}万 or drop "
                "an override"
            )
    return out


def _elastic_diagnosis(model: _Model, qualified: np.ndarray) -> list[str]:
    """Relax direction minima, budgets and the youth share with slack; name what had to give."""
    data, rules, idx = model.data, model.rules, model.idx
    m = cp_model.CpModel()
    x = [m.new_bool_var(f"x{j}") for j in range(model.n)]
    for j in range(model.n):
        if model.forced_in[j]:
            m.add(x[j] == 1)
        if not (qualified[j] or model.forced_in[j]):
            m.add(x[j] == 0)
    terms = []
    dir_slack: dict[str, cp_model.IntVar] = {}
    for d, (_, js) in model.dir_rows.items():
        cnt = sum(x[j] for j in js)
        m.add(cnt <= rules.max_per_direction)
        need = min(rules.min_per_direction, int(qualified[js].sum()))
        if need:
            s = m.new_int_var(0, need, f"sd{d}")
            m.add(cnt + s >= need)
            dir_slack[d] = s
            terms.append(1_000_000 * s)
    for flag, key in ((rules.one_per_pi, data.pi), (rules.related_exclusive, data.related)):
        if flag:
            for grp in model._groups(key, skip_empty=key is data.related).values():
                if len(grp) > 1:
                    m.add(sum(x[j] for j in grp) <= 1)
    budget_slack = []
    for _, cap, label, js in model.scope_rows:
        s = m.new_int_var(0, int(model.lb.sum()), f"sb{label}")
        m.add(sum(int(model.lb[j]) * x[j] for j in js) <= cap + s)
        budget_slack.append((label, cap, s))
        terms.append(s)
    young_slack = None
    if rules.youth_min_share:
        fr = Fraction(rules.youth_min_share).limit_denominator(10_000)
        young = data.young[idx]
        young_slack = m.new_int_var(0, model.n, "sy")
        m.add(
            fr.denominator * (sum(x[j] for j in range(model.n) if young[j]) + young_slack)
            >= fr.numerator * sum(x)
        )
        terms.append(1_000_000 * young_slack)
    m.minimize(sum(terms) if terms else 0)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_time_in_seconds = 30.0
    st = solver.solve(m)
    out: list[str] = []
    if st not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return [
            "the forced-in proposals alone break the PI, related-group or per-direction "
            "rules; revise the overrides"
        ]
    fin = [int(idx[j]) for j in range(model.n) if solver.value(x[j])]  # relaxed selection
    for d, s in dir_slack.items():
        if solver.value(s) > 0:
            js = model.dir_rows[d][1]
            names = []
            for j in js:
                if not qualified[j]:
                    continue
                i = int(idx[j])
                why = _blockers_vs(data, rules, i, fin, model)
                names.append(f"{data.ids[i]}{' (' + why + ')' if why else ''}")
            out.append(
                f"direction {d} cannot fund its minimum of {rules.min_per_direction}: "
                f"qualified {', '.join(names)}; lower min_per_direction, raise the budget "
                "or revise the overrides"
            )
    for label, cap, s in budget_slack:
        v = solver.value(s)
        if v > 0:
            out.append(
                f"{label} ({cap}万) is {v}万 short of the cheapest selection that meets the "
                "minimum per direction and the overrides; raise it by at least "
                f"{v}万 or lower min_per_direction"
            )
    if young_slack is not None and solver.value(young_slack) > 0:
        out.append(
            f"youth share {rules.youth_min_share:.0%} cannot be met: "
            f"{solver.value(young_slack)} more young project(s) would be needed than the rules "
            "allow; lower youth_min_share or revise the overrides"
        )
    return out or ["the rules admit no selection; relax min_per_direction or the budgets"]


def _blockers_vs(
    data: _Data, rules: SelectionRules, i: int, fixed: list[int], model: _Model
) -> str:
    """Why proposal i cannot join the proposals `fixed` (structural check, '' when none)."""
    why = []
    for j in fixed:
        if j == i:
            continue
        if rules.one_per_pi and data.pi[j] == data.pi[i]:
            why.append(f"PI {data.pi[i]} already funded for {data.ids[j]}")
        if rules.related_exclusive and data.related[i] and data.related[j] == data.related[i]:
            why.append(f"related group {data.related[i]} already funded via {data.ids[j]}")
    for label, _, budget, mask in data.scopes:
        if mask[i]:
            used = sum(int(data.lb[j]) for j in fixed if mask[j] and j != i)
            need = used + int(data.lb[i]) - math.floor(budget + 1e-9)
            if need > 0:
                why.append(f"{label} exhausted: funding it would need {need}万 more")
    return "; ".join(why)


# --------------------------------------------------------------------------- grants


def _cut_grants(data: _Data, sel: np.ndarray) -> tuple[np.ndarray, dict[int, str]]:
    """Grants (n,) int for the funded set: bound, cut pro rata where a budget is overspent."""
    grant = np.where(sel, data.ub, 0).astype(np.int64)
    share = np.ones(len(sel))
    why: dict[int, str] = {}

    def grants(t: np.ndarray) -> np.ndarray:
        g = np.floor(t * data.ub + 1e-9).astype(np.int64)
        return np.where(sel, np.maximum(np.minimum(g, data.ub), data.lb), 0)

    order = sorted(data.scopes, key=lambda s: s[1] != "programme")
    for label, _, budget, mask in order:
        members = sel & mask
        if grants(share)[members].sum() <= budget + 1e-9:
            continue
        lo_t, hi_t = 0.0, 1.0
        for _ in range(60):
            mid = (lo_t + hi_t) / 2
            t = np.where(members, np.minimum(share, mid), share)
            if grants(t)[members].sum() <= budget + 1e-9:
                lo_t = mid
            else:
                hi_t = mid
        share = np.where(members, np.minimum(share, lo_t), share)
        for i in np.flatnonzero(members):
            why[int(i)] = label
    grant = grants(share)
    return grant, why


# --------------------------------------------------------------------------- select


def select(
    proposals: pd.DataFrame,
    directions: pd.DataFrame,
    rules: SelectionRules,
    *,
    explain: bool = True,
    explain_depth: int = 3,
    alternates: int = 2,
    time_limit_s: float = 60.0,
    num_workers: int = 1,
) -> SelectionResult:
    """Choose projects and grants per direction (objective in the module docstring).

    proposals: one row per proposal (columns PROPOSAL_COLUMNS); directions: direction_code,
    programme, cap_wan (NaN = no direction cap). Money in 万元.
    Only qualified proposals are funded (eligible, not forced out, merit >= quality_floor,
    grant bound > 0), forced-in ones excepted; each direction funds at least
    min(min_per_direction, its number of qualified proposals).
    explain: re-solve the component (merit level) with each funded proposal forced out and
    with each of the `explain_depth` best unfunded qualified proposals per direction forced
    in; the merit lost gives merit_threshold ("would be funded if its merit rose above t":
    t = merit + loss), and the constraints that adding it to the funded set would break give
    the reason. Budget-blocked ones are re-solved with the budget raised by the shortfall.
    Others get the reasons and their rank only.
    alternates: length of each direction's alternate queue: withdraw the direction's
    lowest-merit funded project, re-solve (merit level), rank the newcomers of the direction
    by merit, withdraw them too, repeat.
    time_limit_s: per CP-SAT call. Infeasible settings give status INFEASIBLE with a
    diagnosis naming the culprits; no exception.
    """
    t0 = time.perf_counter()
    data = _prepare(proposals, directions, rules)
    n = len(data.ids)
    m_all = _merit_int(data.merit)
    qual = _qualified(data, data.merit, rules)
    comps = _components(data, rules)
    conflicts = _override_conflicts(data, rules)
    sel = np.zeros(n, bool)
    threshold = np.full(n, np.nan)
    alt_rank = np.full(n, np.nan)
    notes: dict[int, str] = {}
    status = Status.OPTIMAL
    diagnosis: list[str] = list(conflicts)
    merit_sum = cost_sum = tie_sum = bound_sum = 0
    if not conflicts:
        for idx in comps:
            m = m_all[idx]
            allowed = (qual | data.forced_in)[idx]
            model: _Model | _DpComponent | None
            model = _DpComponent.build(data, idx, rules, m[None, :], allowed[None, :])
            if model is None:
                model = _Model(data, idx, rules)
            model.set_draw(qual[idx])
            sol = model.solve(m, time_limit_s=time_limit_s, workers=num_workers)
            if sol.status == Status.INFEASIBLE:
                cp = model if isinstance(model, _Model) else _Model(data, idx, rules)
                cp.set_draw(qual[idx])
                diagnosis.extend(_elastic_diagnosis(cp, qual[idx]))
                status = Status.INFEASIBLE
                continue
            if sol.status == Status.UNKNOWN:
                status = Status.UNKNOWN if status != Status.INFEASIBLE else status
                diagnosis.append(
                    f"no solution found within {time_limit_s:g} s for directions "
                    f"{', '.join(sorted(set(data.direction[idx])))}; raise time_limit_s"
                )
                continue
            if sol.status == Status.FEASIBLE and status == Status.OPTIMAL:
                status = Status.FEASIBLE
            sel[idx[sol.x]] = True
            merit_sum += sol.merit
            cost_sum += sol.cost
            tie_sum += sol.tie
            bound_sum += sol.bound
            if isinstance(model, _DpComponent) and model.has_cross and (explain or alternates):
                # groups across directions multiply the DP's states on forced re-solves:
                # CP-SAT answers those faster (measured on the demo batch)
                model = _Model(data, idx, rules)
                model.set_draw(qual[idx])
            if (explain or alternates) and isinstance(model, _DpComponent):
                _explain_dp(
                    model,
                    sol,
                    m,
                    qual,
                    threshold,
                    alt_rank,
                    notes,
                    explain=explain,
                    depth=explain_depth,
                    alternates=alternates,
                )
            elif explain or alternates:
                _explain_component(
                    model,
                    sol,
                    m,
                    qual,
                    threshold,
                    alt_rank,
                    notes,
                    explain=explain,
                    depth=explain_depth,
                    alternates=alternates,
                    time_limit_s=time_limit_s,
                    workers=num_workers,
                )
    else:
        status = Status.INFEASIBLE
    if status == Status.INFEASIBLE:
        sel[:] = False
        threshold[:] = np.nan
        alt_rank[:] = np.nan
        notes = {}
    grant, cut_by = _cut_grants(data, sel)
    expl = _explanations(data, rules, sel, grant, cut_by, qual, threshold, notes, status)
    table = pd.DataFrame(
        {
            "proposal_id": data.ids.astype(str),
            "direction_code": data.direction.astype(str),
            "programme": data.programme.astype(str),
            "merit": data.merit,
            "qualified": qual,
            "selected": sel,
            "grant_wan": grant,
            "grant_bound_wan": data.ub,
            "grant_floor_wan": data.lb,
            "alternate_rank": alt_rank,
            "merit_threshold": threshold,
            "explanation": expl,
        }
    )
    progs = sorted(set(data.programme))
    budgets = rules.programme_budgets_wan or {}
    use = pd.DataFrame(
        {
            "programme": progs,
            "n_funded": [int(sel[data.programme == p].sum()) for p in progs],
            "grants_wan": [int(grant[data.programme == p].sum()) for p in progs],
            "budget_wan": [float(budgets.get(p, np.nan)) for p in progs],
        }
    )
    feasible = status in (Status.OPTIMAL, Status.FEASIBLE)
    obj = float(merit_sum) / MERIT_SCALE if feasible else math.nan
    bnd = float(bound_sum) / MERIT_SCALE if feasible else math.nan
    gap = 0.0 if status == Status.OPTIMAL else (abs(bnd - obj) / max(abs(bnd), 1e-9))
    return SelectionResult(
        status=status,
        objective=obj,
        bound=bnd,
        gap=gap if feasible else math.nan,
        wall_s=time.perf_counter() - t0,
        table=table,
        grants_total_wan=int(grant.sum()),
        budget_wan=rules.budget_wan,
        programme_use=use,
        objective_terms=(int(merit_sum), int(cost_sum), int(tie_sum)) if feasible else (0, 0, 0),
        n_components=len(comps),
        diagnosis=tuple(diagnosis),
    )


def _flip(x: np.ndarray, j: int, value: bool) -> np.ndarray:
    """Copy of the solution x with x[j] set to value (a hint for a re-solve)."""
    y = x.copy()
    y[j] = value
    return y


def _explain_component(
    model: _Model | _DpComponent,
    sol: _Sol,
    m: np.ndarray,
    qual: np.ndarray,
    threshold: np.ndarray,
    alt_rank: np.ndarray,
    notes: dict[int, str],
    *,
    explain: bool,
    depth: int,
    alternates: int,
    time_limit_s: float,
    workers: int,
) -> None:
    """Re-solve with single proposals forced in/out to get merit thresholds and alternates."""
    data, idx = model.data, model.idx
    kw: dict[str, Any] = {"time_limit_s": time_limit_s, "workers": workers}
    x = sol.x
    lq = qual[idx]
    scope_sets = {r: set(sjs.tolist()) for r, _, _, sjs in model.scope_rows}
    if explain:
        for j in map(int, np.flatnonzero(x)):
            i = int(idx[j])
            if model.forced_in[j]:
                continue
            alt = model.solve(m, extra_out=[j], merit_only=True, hint=_flip(x, j, False), **kw)
            if alt.status == Status.INFEASIBLE:
                notes[i] = "no other qualified proposal could take its place"
            elif alt.status == Status.OPTIMAL:
                threshold[i] = data.merit[i] - (sol.merit - alt.merit) / MERIT_SCALE
        for _d, (_, js) in model.dir_rows.items():
            out = [j for j in js if not x[j] and lq[j]]
            out.sort(key=lambda j: (-m[j], data.pos[idx[j]]))
            for j in out[:depth]:
                i = int(idx[j])
                alt = model.solve(
                    m, extra_in=[int(j)], merit_only=True, hint=_flip(x, j, True), **kw
                )
                if alt.status == Status.INFEASIBLE:
                    notes[i] = "no rule-abiding selection includes it (forcing it in is infeasible)"
                    continue
                if alt.status != Status.OPTIMAL:
                    continue
                loss = sol.merit - alt.merit
                threshold[i] = data.merit[i] + loss / MERIT_SCALE
                if loss == 0:
                    notes[i] = (
                        "tied on merit with the funded set; lost the tie-break on total grant "
                        "or id order"
                    )
                for r, cap, label, sjs in model.scope_rows:
                    if j not in scope_sets[r]:
                        continue
                    need = int(model.lb[sjs[x[sjs]]].sum()) + int(model.lb[j]) - cap
                    if need > 0:
                        bumped = model.solve(
                            m, budget_bump=(r, need), merit_only=True, hint=_flip(x, j, True), **kw
                        )
                        if bumped.status == Status.OPTIMAL and bumped.x[j]:
                            extra = f"would also be funded if the {label} rose by {need}万"
                            notes[i] = f"{notes[i]}; {extra}" if i in notes else extra
    if alternates:
        for _d, (_, js) in model.dir_rows.items():
            funded = [j for j in js if x[j] and not model.forced_in[j]]
            if not funded:
                continue
            out = [min(funded, key=lambda j: (m[j], -data.pos[idx[j]]))]
            rank = 0
            for _ in range(alternates):
                alt = model.solve(m, extra_out=out, merit_only=True, hint=x, **kw)
                if alt.status not in (Status.OPTIMAL, Status.FEASIBLE):
                    break
                new = [j for j in js if alt.x[j] and not x[j] and j not in out]
                if not new:
                    break
                new.sort(key=lambda j: (-m[j], data.pos[idx[j]]))
                for j in new:
                    rank += 1
                    alt_rank[idx[j]] = rank
                out.extend(new)
                if rank >= alternates:
                    break


def _explain_dp(
    dp: _DpComponent,
    sol: _Sol,
    m: np.ndarray,
    qual: np.ndarray,
    threshold: np.ndarray,
    alt_rank: np.ndarray,
    notes: dict[int, str],
    *,
    explain: bool,
    depth: int,
    alternates: int,
) -> None:
    """:func:`_explain_component` for the DP: the same re-solves, batched (one DP pass per
    kind of question: forced out, forced in, budget raised, each step of the alternates)."""
    data, idx, n = dp.data, dp.idx, dp.n
    x = sol.x
    lq = qual[idx]
    mi = np.asarray(m, np.int64)

    def batch(
        fin: list[list[int]], fout: list[list[int]], bumps: list[tuple[int, int] | None]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        k = len(fin)
        a_in = np.zeros((k, n), bool)
        a_out = np.zeros((k, n), bool)
        caps = np.tile(dp.caps, (k, 1))
        for q in range(k):
            a_in[q, fin[q]] = True
            a_out[q, fout[q]] = True
            bump = bumps[q]
            if bump is not None:
                caps[q, bump[0]] += bump[1]
        xs, ok = dp.solve_batch(np.tile(mi, (k, 1)), np.tile(dp.qual, (k, 1)), a_in, a_out, caps)
        return xs, ok, xs.astype(np.int64) @ mi

    if explain:
        outs = [int(j) for j in np.flatnonzero(x) if not dp.forced_in[j]]
        if outs:
            _, ok, merit = batch([[] for _ in outs], [[j] for j in outs], [None] * len(outs))
            for j, good, mer in zip(outs, ok, merit, strict=True):
                i = int(idx[j])
                if not good:
                    notes[i] = "no other qualified proposal could take its place"
                else:
                    threshold[i] = data.merit[i] - (sol.merit - int(mer)) / MERIT_SCALE
        ins: list[int] = []
        for _d, (_, js) in dp.dir_rows.items():
            out = [int(j) for j in js if not x[j] and lq[j]]
            out.sort(key=lambda j: (-m[j], data.pos[idx[j]]))
            ins.extend(out[:depth])
        bumps: list[tuple[int, int, str, int]] = []  # (j, scope, label, need)
        if ins:
            _, ok, merit = batch([[j] for j in ins], [[] for _ in ins], [None] * len(ins))
            for j, good, mer in zip(ins, ok, merit, strict=True):
                i = int(idx[j])
                if not good:
                    notes[i] = "no rule-abiding selection includes it (forcing it in is infeasible)"
                    continue
                loss = sol.merit - int(mer)
                threshold[i] = data.merit[i] + loss / MERIT_SCALE
                if loss == 0:
                    notes[i] = (
                        "tied on merit with the funded set; lost the tie-break on total grant "
                        "or id order"
                    )
                for r, cap, label, sjs in dp.scope_rows:
                    if j not in set(sjs.tolist()):
                        continue
                    need = int(dp.lb[sjs[x[sjs]]].sum()) + int(dp.lb[j]) - cap
                    if need > 0:
                        bumps.append((j, r, label, need))
        if bumps:
            xs, ok, _ = batch(
                [[] for _ in bumps], [[] for _ in bumps], [(r, nd) for _, r, _, nd in bumps]
            )
            for (j, _r, label, need), xb, good in zip(bumps, xs, ok, strict=True):
                if good and xb[j]:
                    i = int(idx[j])
                    extra = f"would also be funded if the {label} rose by {need}万"
                    notes[i] = f"{notes[i]}; {extra}" if i in notes else extra
    if alternates:
        chains: list[tuple[np.ndarray, list[int]]] = []  # (direction's js, withdrawn)
        ranks: list[int] = []
        for _d, (_, js) in dp.dir_rows.items():
            funded = [int(j) for j in js if x[j] and not dp.forced_in[j]]
            if funded:
                first = min(funded, key=lambda j: (m[j], -data.pos[idx[j]]))
                chains.append((js, [first]))
                ranks.append(0)
        live = list(range(len(chains)))
        for _ in range(alternates):
            if not live:
                break
            xs, ok, _ = batch(
                [[] for _ in live], [list(chains[c][1]) for c in live], [None] * len(live)
            )
            nxt = []
            for c, xa, good in zip(live, xs, ok, strict=True):
                js, out = chains[c]
                if not good:
                    continue
                new = [int(j) for j in js if xa[j] and not x[j] and j not in out]
                if not new:
                    continue
                new.sort(key=lambda j: (-m[j], data.pos[idx[j]]))
                for j in new:
                    ranks[c] += 1
                    alt_rank[idx[j]] = ranks[c]
                out.extend(new)
                if ranks[c] < alternates:
                    nxt.append(c)
            live = nxt


def _explanations(
    data: _Data,
    rules: SelectionRules,
    sel: np.ndarray,
    grant: np.ndarray,
    cut_by: dict[int, str],
    qual: np.ndarray,
    threshold: np.ndarray,
    notes: dict[int, str],
    status: Status,
) -> list[str]:
    """One plain sentence per proposal: why in or out, and what would change it."""
    n = len(data.ids)
    out: list[str] = []
    funded = _Funded.of(data, sel)
    ranks: dict[int, tuple[int, int]] = {}
    by_dir: dict[str, list[int]] = {}
    for k in map(int, np.flatnonzero(qual)):
        by_dir.setdefault(data.direction[k], []).append(k)
    for members in by_dir.values():
        members.sort(key=lambda k: (-data.merit[k], data.pos[k]))
        for r, k in enumerate(members, 1):
            ranks[k] = (r, len(members))
    for i in range(n):
        o = data.override.get(i)
        if status == Status.INFEASIBLE:
            out.append("not decided: the settings are infeasible (see the diagnosis)")
            continue
        if sel[i]:
            if data.forced_in[i] and o is not None:
                head = f"funded: forced in by {o.actor}: {o.reason}"
            else:
                r, k = ranks.get(i, (0, 0))
                head = (
                    f"funded: rank {r} of {k} qualified in direction {data.direction[i]} "
                    f"(merit {_fmt(data.merit[i])})"
                )
            g = f"grant {grant[i]}万"
            if grant[i] < data.ub[i]:
                g += f", cut from its bound {data.ub[i]}万 to fit the {cut_by.get(i, 'budget')}"
            else:
                g += f" (limited by {data.bound_why[i]})"
            tail = ""
            if not np.isnan(threshold[i]):
                tail = f"; would lose its place if its merit fell below {_fmt(threshold[i])}"
            elif i in notes:
                tail = f"; {notes[i]}"
            out.append(f"{head}; {g}{tail}")
            continue
        if data.forced_out[i] and o is not None:
            out.append(f"forced out by {o.actor}: {o.reason}")
            continue
        if not data.eligible[i]:
            out.append("rejected in screening")
            continue
        if data.ub[i] <= 0:
            out.append(
                f"no fundable amount: its grant bound is 0万 (limited by {data.bound_why[i]})"
            )
            continue
        if data.merit[i] < rules.quality_floor:
            out.append(
                f"below quality floor {rules.quality_floor:.1f} (merit {_fmt(data.merit[i])}); "
                f"would qualify if its merit reached {rules.quality_floor:.1f}"
            )
            continue
        reasons = _reasons_out(data, rules, i, funded)
        msg = "; ".join(reasons) if reasons else "not part of the best-merit selection"
        extra = []
        if not np.isnan(threshold[i]):
            extra.append(f"would be funded if its merit rose above {_fmt(threshold[i])}")
        if i in notes:
            extra.append(notes[i])
        if not extra and i in ranks:
            r, k = ranks[i]
            extra.append(f"ranked {r} of {k} qualified in its direction")
        out.append(f"{msg}; {'; '.join(extra)}" if extra else msg)
    return out


@dataclass
class _Funded:
    """The funded set indexed for quick look-ups (lists of row indices)."""

    by_dir: dict[str, list[int]]
    by_pi: dict[str, list[int]]
    by_rel: dict[str, list[int]]
    scope_used: list[int]  # grant floors used per budget scope (data.scopes order)
    n: int
    n_young: int

    @classmethod
    def of(cls, data: _Data, sel: np.ndarray) -> _Funded:
        by_dir: dict[str, list[int]] = {}
        by_pi: dict[str, list[int]] = {}
        by_rel: dict[str, list[int]] = {}
        for j in map(int, np.flatnonzero(sel)):
            by_dir.setdefault(data.direction[j], []).append(j)
            by_pi.setdefault(data.pi[j], []).append(j)
            if data.related[j]:
                by_rel.setdefault(data.related[j], []).append(j)
        used = [int(data.lb[sel & mask].sum()) for _, _, _, mask in data.scopes]
        return cls(by_dir, by_pi, by_rel, used, int(sel.sum()), int((sel & data.young).sum()))


def _reasons_out(data: _Data, rules: SelectionRules, i: int, f: _Funded) -> list[str]:
    """Constraints that adding proposal i on top of the funded set would break."""
    reasons = []
    d = data.direction[i]
    in_d = f.by_dir.get(d, [])
    if len(in_d) >= rules.max_per_direction:
        higher = all(data.merit[j] > data.merit[i] for j in in_d)
        kind = "higher-merit " if higher else ""
        noun = "project" if len(in_d) == 1 else "projects"
        reasons.append(
            f"direction {d} already funds {len(in_d)} {kind}{noun} "
            f"({', '.join(str(data.ids[j]) for j in in_d)})"
        )
    if rules.one_per_pi:
        for j in f.by_pi.get(data.pi[i], []):
            reasons.append(f"PI {data.pi[i]} already funded for {data.ids[j]}")
    if rules.related_exclusive and data.related[i]:
        for j in f.by_rel.get(data.related[i], []):
            reasons.append(f"related group {data.related[i]} already funded via {data.ids[j]}")
    for (label, _, budget, mask), used in zip(data.scopes, f.scope_used, strict=True):
        if mask[i]:
            need = used + int(data.lb[i]) - math.floor(budget + 1e-9)
            if need > 0:
                reasons.append(f"{label} exhausted: funding it would need {need}万 more")
    s = rules.youth_min_share
    if s and not data.young[i]:
        k = f.n + 1
        if f.n_young < s * k - 1e-9:
            reasons.append(
                f"youth share {s:.0%} would not be met ({f.n_young} of {k} funded projects young)"
            )
    return reasons


# --------------------------------------------------------------------------- uncertainty


def selection_probability(
    proposals: pd.DataFrame,
    directions: pd.DataFrame,
    rules: SelectionRules,
    draws: np.ndarray,
    *,
    time_limit_s: float = 60.0,
    num_workers: int = 1,
    skip_infeasible: bool = False,
) -> np.ndarray:
    """P(selected): share of merit draws under which each proposal is funded.

    draws: (n_draws, n_proposals) merit draws, columns in the proposals frame's row order.
    Returns (n_proposals,) float in [0, 1]. Each draw runs the same selection as :func:`select`
    (the floor applies to the drawn merit). Independent components (no budget, PI, related or
    youth link between their directions) are solved separately: by the exact dynamic
    programme (module docstring), all draws at once, where it applies; otherwise by one CP-SAT
    model per component, built once, with only the objective and domains changed per draw.
    (A draw tied on all three objective levels may be broken differently by the two paths;
    with merits to 3 decimals this needs equal merit, grant and id-position sums.)
    Raises SelectionInfeasibleError when the overrides already make selection impossible,
    or when a draw admits no selection (e.g. the minimum per direction over budget once other
    proposals pass the floor) unless skip_infeasible, which leaves such draws out of the
    denominator of the component concerned. Call :func:`select` for the full diagnosis.
    """
    data = _prepare(proposals, directions, rules)
    n = len(data.ids)
    draws = np.asarray(draws, dtype=float)
    if draws.ndim != 2 or draws.shape[1] != n:
        raise SelectionInputError(
            f"draws must have shape (n_draws, {n}) matching the proposals rows, got {draws.shape}"
        )
    if not np.all(np.isfinite(draws)):
        raise SelectionInputError("draws hold non-finite merits; replace NaN/inf before calling")
    conflicts = _override_conflicts(data, rules)
    if conflicts:
        raise SelectionInfeasibleError("; ".join(conflicts))
    n_draws = draws.shape[0]
    qual = _qualified(data, draws, rules)  # (D, n)
    m_all = _merit_int(draws)
    count = np.zeros(n, dtype=np.int64)
    denom = np.full(n, n_draws, dtype=np.int64)
    for idx in _components(data, rules):
        allowed = qual[:, idx] | data.forced_in[idx][None, :]
        dp = _DpComponent.build(data, idx, rules, m_all[:, idx], allowed)
        if dp is not None:
            chosen, ok = dp.solve_batch(m_all[:, idx], qual[:, idx])
            if not ok.all() and not skip_infeasible:
                t = int(np.flatnonzero(~ok)[0])
                raise SelectionInfeasibleError(
                    f"draw {t}: no selection for directions "
                    f"{', '.join(sorted(set(data.direction[idx])))} ({Status.INFEASIBLE}); "
                    "call select() with these merits for the diagnosis"
                )
            denom[idx] -= int((~ok).sum())
            count[idx] += chosen.sum(axis=0)
            continue
        model = _Model(data, idx, rules)
        chosen = np.zeros((n_draws, len(idx)), dtype=bool)
        hint = None
        for t in range(n_draws):
            model.set_draw(qual[t, idx])
            sol = model.solve(
                m_all[t, idx], time_limit_s=time_limit_s, workers=num_workers, hint=hint
            )
            if sol.status not in (Status.OPTIMAL, Status.FEASIBLE) and skip_infeasible:
                denom[idx] -= 1
                continue
            if sol.status not in (Status.OPTIMAL, Status.FEASIBLE):
                raise SelectionInfeasibleError(
                    f"draw {t}: no selection for directions "
                    f"{', '.join(sorted(set(data.direction[idx])))} ({sol.status}); "
                    "call select() with these merits for the diagnosis"
                )
            chosen[t] = sol.x
            hint = sol.x
        count[idx] += chosen.sum(axis=0)
    return np.divide(count, denom, out=np.full(n, np.nan), where=denom > 0)


def grey_zone(proposals: pd.DataFrame, result: SelectionResult) -> pd.DataFrame:
    """Proposals whose rank interval straddles their direction's funding line.

    proposals: proposal_id, direction_code, rank_lo, rank_hi (rank within the direction,
    1 = best; lo = best plausible rank, hi = worst). The funding line of a direction is the
    number of projects `result` funds there; a proposal is grey when
    rank_lo <= line < rank_hi. Returns proposal_id, direction_code, rank_lo, rank_hi,
    funding_line, selected, contested_places (line minus the funded-or-not proposals whose
    whole interval lies inside the line), one row per grey proposal, sorted by direction, id.
    """
    need = ("proposal_id", "direction_code", "rank_lo", "rank_hi")
    missing = [c for c in need if c not in proposals.columns]
    if missing:
        raise SelectionInputError(f"grey_zone needs columns {', '.join(missing)}")
    t = result.table[["proposal_id", "selected"]]
    df = proposals[list(need)].copy()
    df["proposal_id"] = df["proposal_id"].astype(str)
    df["direction_code"] = df["direction_code"].astype(str)
    df = df.merge(t, on="proposal_id", how="left", validate="one_to_one")
    if df["selected"].isna().any():
        bad = df.loc[df["selected"].isna(), "proposal_id"].head(5)
        raise SelectionInputError(
            f"proposals {', '.join(bad)} are not in the selection result; pass the same batch"
        )
    df["selected"] = df["selected"].astype(bool)
    line = df.groupby("direction_code")["selected"].transform("sum").astype(int)
    df["funding_line"] = line
    safe = df["rank_hi"] <= df["funding_line"]
    n_safe = safe.groupby(df["direction_code"]).transform("sum").astype(int)
    df["contested_places"] = (df["funding_line"] - n_safe).clip(lower=0)
    grey = (df["rank_lo"] <= df["funding_line"]) & (df["funding_line"] < df["rank_hi"])
    out = df.loc[grey].sort_values(["direction_code", "proposal_id"]).reset_index(drop=True)
    return out


def lottery(grey: pd.DataFrame, *, seed: int) -> pd.DataFrame:
    """Draw, per direction, who takes the contested places among its grey-zone proposals.

    grey: output of :func:`grey_zone`. Returns the grey rows with draw_order (1 = drawn first,
    uniform random order within a direction), wins (drawn within the contested places) and seed,
    for the audit record. Same seed, same draw.
    """
    rng = np.random.default_rng(seed)
    parts = []
    for _d, g in grey.sort_values(["direction_code", "proposal_id"]).groupby(
        "direction_code", sort=True
    ):
        g = g.copy()
        order = rng.permutation(len(g))
        g["draw_order"] = order + 1
        places = int(g["contested_places"].iloc[0])
        g["wins"] = g["draw_order"] <= places
        parts.append(g)
    if not parts:
        out = grey.copy()
        out["draw_order"] = pd.Series(dtype="int64")
        out["wins"] = pd.Series(dtype=bool)
    else:
        out = pd.concat(parts, ignore_index=True)
    out["seed"] = seed
    return out.sort_values(["direction_code", "draw_order"]).reset_index(drop=True)
