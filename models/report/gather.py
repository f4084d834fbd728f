"""What the batch report shows, read from what the runs stored, as plain data (nothing is
computed anew but sums and counts, and nothing is written).

Each section is None where its stage has not run: screening without findings stored, the
assignment without a run, the directions without a ranking, the reviewers without leniencies.
Money in 万元, scores in points (100-point scale), intervals 80 %.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from models.db import get_batch
from models.i18n import render_stored
from models.jobs import DEFAULT_METHOD
from models.schema import (
    Assignment,
    AssignmentRun,
    AuditEvent,
    Batch,
    Conflict,
    Decision,
    Finding,
    GuideDirection,
    Leniency,
    Person,
    Proposal,
    Ranking,
    Review,
    ScreeningStatus,
    SelectionRun,
    Unit,
)
from models.status import BatchStatus, batch_status
from scoring.review_batch import review_graph

Z80 = 1.2815515655446004
"""The normal quantile of 90 %: score ± Z80·se is the 80 % interval."""


@dataclass(frozen=True)
class DirectionMoney:
    code: str
    title: str
    funded: int
    granted_wan: float


@dataclass(frozen=True)
class Programme:
    """A programme's budget (None: none set) and what was granted, per direction too."""

    name: str
    budget_wan: float | None
    granted_wan: float
    funded: int
    directions: tuple[DirectionMoney, ...]


@dataclass(frozen=True)
class Overview:
    batch_id: str
    name: str
    year: int
    batch_date: dt.date
    deadline: dt.datetime
    finalized_by: str | None
    finalized_at: dt.datetime | None
    status: BatchStatus
    counts: dict[str, int]
    programmes: tuple[Programme, ...]
    total_budget_wan: float | None


@dataclass(frozen=True)
class RuleFindings:
    """One screening rule's findings: proposals (id, title) rejected, warned, waived."""

    rule: str
    severity: str
    reject: tuple[tuple[str, str], ...]
    warn: tuple[tuple[str, str], ...]
    waived: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Screening:
    statuses: dict[str, int]
    rules: tuple[RuleFindings, ...]


@dataclass(frozen=True)
class Assignments:
    """The latest assignment run: its certificate, the assigned pairs' affinity against each
    proposal's best stored candidate (invited, reserve or declined), loads, quotas, conflicts
    avoided by kind, reserves and replacements."""

    run_id: int
    mode: str
    status: str
    certified: bool | None
    objective: float | None
    bound: float | None
    gap: float | None
    k: int | None
    max_probability: float | None
    seed: int | None
    created_at: dt.datetime
    actor: str
    pair_affinity: tuple[float, ...]
    best_affinity: tuple[float, ...]
    got_best: int
    proposals: int
    loads: tuple[int, ...]
    quotas: dict[str, Any]
    conflicts_by_kind: dict[str, int]
    by_status: dict[str, int]


@dataclass(frozen=True)
class Row:
    """One eligible proposal of a direction; score None: not ranked (no reviews)."""

    proposal_id: str
    title: str
    lead_unit: str
    score: float | None
    se: float | None
    expected_rank: float | None
    rank_lo: float | None
    rank_hi: float | None
    n_reviews: int
    selected: bool | None
    grant_wan: float | None
    requested_wan: float
    alternate_rank: int | None
    p_selected: float | None
    reason_code: str | None
    explanation: str

    @property
    def interval(self) -> tuple[float, float] | None:
        if self.score is None:
            return None
        half = Z80 * (self.se or 0.0)
        return self.score - half, self.score + half

    @property
    def outcome(self) -> str:
        """funded, alternate, not_funded, or undecided (no selection yet)."""
        if self.selected is None:
            return "undecided"
        if self.selected:
            return "funded"
        return "alternate" if self.alternate_rank is not None else "not_funded"


@dataclass(frozen=True)
class Direction:
    code: str
    title: str
    programme: str
    cap_wan: float | None
    rows: tuple[Row, ...]  # highest calibrated score first, unranked last

    @property
    def funded(self) -> tuple[Row, ...]:
        return tuple(r for r in self.rows if r.selected)


@dataclass(frozen=True)
class Reviewer:
    expert_id: str
    name: str
    leniency: float
    lo: float
    hi: float
    n_reviews: int


@dataclass(frozen=True)
class Reviewers:
    method: str
    reviewers: tuple[Reviewer, ...]  # by leniency
    identifiable: str  # global, within_components, none
    components: int
    single_review: int

    @property
    def outliers(self) -> tuple[Reviewer, ...]:
        """Experts whose whole 80 % interval lies on one side of 0, most extreme first."""
        out = [r for r in self.reviewers if r.lo > 0 or r.hi < 0]
        return tuple(sorted(out, key=lambda r: (-abs(r.leniency), r.expert_id)))


@dataclass(frozen=True)
class Run:
    """One audit event behind the report."""

    id: int
    at: dt.datetime
    actor: str
    command: str
    seed: int | None
    input_digest: str | None
    result_digest: str | None
    message: str


@dataclass(frozen=True)
class ReportData:
    overview: Overview
    screening: Screening | None
    assignment: Assignments | None
    method: str | None
    directions: tuple[Direction, ...]
    reviewers: Reviewers | None
    runs: tuple[Run, ...]
    decided: bool = False
    generated_at: dt.datetime = field(
        default_factory=lambda: dt.datetime.now().replace(microsecond=0)
    )


def _f(v: Any) -> float | None:
    return None if v is None or pd.isna(v) else float(v)


def gather(s: Session, batch_id: str | None) -> ReportData:
    """Everything the report shows for the batch (the only one when ``batch_id`` is None); a
    clear error (LookupError) when the batch does not exist."""
    batch = get_batch(s, batch_id)
    props = pd.DataFrame(
        s.execute(
            select(
                Proposal.proposal_id,
                Proposal.title,
                Proposal.direction_code,
                Proposal.requested_wan,
                Unit.name,
            )
            .join(Unit, Unit.unit_id == Proposal.lead_unit_id)
            .where(Proposal.batch_id == batch.batch_id)
            .order_by(Proposal.proposal_id)
        ).all(),
        columns=["proposal_id", "title", "direction", "requested_wan", "lead_unit"],
    )
    listed = props["proposal_id"].tolist()
    title = dict(zip(listed, props["title"], strict=True))
    # the batch's proposals as a subquery: no list of ids is sent, whatever the batch's size
    ids = select(Proposal.proposal_id).where(Proposal.batch_id == batch.batch_id)
    status = dict(
        s.execute(
            select(ScreeningStatus.proposal_id, ScreeningStatus.status).where(
                ScreeningStatus.proposal_id.in_(ids)
            )
        ).all()
    )
    decisions = {
        d.proposal_id: d for d in s.scalars(select(Decision).where(Decision.proposal_id.in_(ids)))
    }
    run = s.scalars(
        select(SelectionRun)
        .where(SelectionRun.batch_id == batch.batch_id)
        .order_by(SelectionRun.run_id.desc())
    ).first()
    options = run.options if run is not None else {}
    methods = set(s.scalars(select(Ranking.method).where(Ranking.proposal_id.in_(ids)).distinct()))
    method = options.get("method") or (DEFAULT_METHOD if DEFAULT_METHOD in methods else None)
    if method not in methods:
        method = min(methods) if methods else None
    guide = {
        g.code: g
        for g in s.scalars(
            select(GuideDirection).where(GuideDirection.code.in_(set(props["direction"])))
        )
    }
    reviews = pd.DataFrame(
        s.execute(
            select(Review.proposal_id, Review.expert_id, Review.total).where(
                Review.proposal_id.in_(ids)
            )
        ).all(),
        columns=["proposal_id", "expert_id", "total"],
    )
    assignment = _assignment(s, batch, ids)
    overview = _overview(s, batch, props, status, decisions, guide, options, assignment, reviews)
    return ReportData(
        overview=overview,
        screening=_screening(s, ids, title, status),
        assignment=assignment,
        method=method,
        directions=_directions(s, ids, props, status, decisions, guide, method) if method else (),
        reviewers=_reviewers(s, ids, method, reviews, props) if method else None,
        runs=_runs(s, batch, set(listed)),
        decided=bool(decisions),
    )


def _overview(
    s: Session,
    batch: Batch,
    props: pd.DataFrame,
    status: dict[str, str],
    decisions: dict[str, Decision],
    guide: dict[str, GuideDirection],
    options: dict[str, Any],
    assignment: Assignments | None,
    reviews: pd.DataFrame,
) -> Overview:
    budgets: dict[str, float] = options.get("programme_budgets_wan") or {}
    direction_of = dict(zip(props["proposal_id"], props["direction"], strict=True))
    per_dir: dict[str, list[float]] = defaultdict(list)
    for p, d in decisions.items():
        if d.selected:
            per_dir[direction_of[p]].append(d.grant_wan)
    programmes: dict[str, list[DirectionMoney]] = defaultdict(list)
    for code in sorted(guide):
        g = guide[code]
        grants = per_dir.get(code, [])
        programmes[g.programme].append(
            DirectionMoney(code, g.title or "", len(grants), float(sum(grants)))
        )
    rows = tuple(
        Programme(
            name,
            _f(budgets.get(name)),
            float(sum(d.granted_wan for d in dirs)),
            sum(d.funded for d in dirs),
            tuple(dirs),
        )
        for name, dirs in sorted(programmes.items(), key=lambda kv: kv[1][0].code)
    )
    st = batch_status(s, batch.batch_id)
    counts = {
        "proposals": len(props),
        "eligible": sum(1 for p in props["proposal_id"] if status.get(p, "rejected") != "rejected")
        if status
        else 0,
        "experts": int(next(x for x in st.stages if x.name == "imported").counts["experts"]),
        "assigned": 0 if assignment is None else assignment.proposals,
        "reviews": len(reviews),
        "funded": sum(1 for d in decisions.values() if d.selected),
        "granted_wan": int(round(sum(d.grant_wan for d in decisions.values() if d.selected))),
    }
    return Overview(
        batch_id=batch.batch_id,
        name=batch.name,
        year=batch.year,
        batch_date=batch.batch_date,
        deadline=batch.deadline,
        finalized_by=batch.finalized_by,
        finalized_at=batch.finalized_at,
        status=st,
        counts=counts,
        programmes=rows if decisions else (),
        total_budget_wan=_f(options.get("budget_wan")),
    )


def _screening(
    s: Session, ids: Select, title: dict[str, str], status: dict[str, str]
) -> Screening | None:
    if not status:
        return None
    by_rule: dict[str, dict[str, list[tuple[str, str]]]] = defaultdict(
        lambda: {"reject": [], "warn": [], "waived": []}
    )
    severity: dict[str, str] = {}
    for f in s.scalars(
        select(Finding).where(Finding.proposal_id.in_(ids)).order_by(Finding.proposal_id)
    ):
        severity[f.rule] = f.severity
        key = "waived" if f.waived_by is not None else f.severity
        by_rule[f.rule][key].append((f.proposal_id, title.get(f.proposal_id, "")))
    rules = tuple(
        RuleFindings(
            r,
            severity[r],
            tuple(by_rule[r]["reject"]),
            tuple(by_rule[r]["warn"]),
            tuple(by_rule[r]["waived"]),
        )
        for r in sorted(by_rule, key=lambda r: (severity[r] != "reject", r))
    )
    return Screening(dict(Counter(status.values())), rules)


def _assignment(s: Session, batch: Batch, ids: Select) -> Assignments | None:
    run = s.scalars(
        select(AssignmentRun)
        .where(AssignmentRun.batch_id == batch.batch_id, AssignmentRun.mode == "review")
        .order_by(AssignmentRun.run_id.desc())
    ).first()
    if run is None:
        return None
    rows = s.execute(
        select(
            Assignment.proposal_id, Assignment.expert_id, Assignment.status, Assignment.affinity
        ).where(Assignment.run_id == run.run_id)
    ).all()
    current = [r for r in rows if r.status in ("invited", "accepted")]
    best: dict[str, float] = {}
    for r in rows:
        if r.affinity is not None:
            best[r.proposal_id] = max(best.get(r.proposal_id, 0.0), float(r.affinity))
    top_assigned: dict[str, float] = {}
    for r in current:
        if r.affinity is not None:
            top_assigned[r.proposal_id] = max(top_assigned.get(r.proposal_id, 0.0), r.affinity)
    got_best = sum(1 for p, a in top_assigned.items() if a >= best.get(p, 0.0) - 1e-9)
    kinds = Counter(
        dict(
            s.execute(
                select(Conflict.kind, func.count())
                .where(Conflict.proposal_id.in_(ids))
                .group_by(Conflict.kind)
            ).all()
        )
    )
    summary = run.summary or {}
    options = (run.params or {}).get("options", {})
    return Assignments(
        run_id=run.run_id,
        mode=run.mode,
        status=run.status,
        certified=summary.get("certified"),
        objective=_f(run.objective),
        bound=_f(run.bound if run.bound is not None else summary.get("bound")),
        gap=_f(run.gap),
        k=options.get("k"),
        max_probability=_f(summary.get("max_probability")),
        seed=run.seed,
        created_at=run.created_at,
        actor=run.actor,
        pair_affinity=tuple(float(r.affinity) for r in current if r.affinity is not None),
        best_affinity=tuple(best[p] for p in sorted(best)),
        got_best=got_best,
        proposals=len({r.proposal_id for r in current}),
        loads=tuple(sorted(Counter(r.expert_id for r in current).values())),
        quotas=dict(summary.get("quota_satisfaction") or {}),
        conflicts_by_kind=dict(kinds.most_common()),
        by_status=dict(Counter(r.status for r in rows)),
    )


def _directions(
    s: Session,
    ids: Select,
    props: pd.DataFrame,
    status: dict[str, str],
    decisions: dict[str, Decision],
    guide: dict[str, GuideDirection],
    method: str,
) -> tuple[Direction, ...]:
    ranks = {
        r.proposal_id: r
        for r in s.scalars(
            select(Ranking).where(Ranking.method == method, Ranking.proposal_id.in_(ids))
        )
    }
    by_dir: dict[str, list[Row]] = defaultdict(list)
    for p in props.itertuples():
        if status.get(p.proposal_id, "eligible") == "rejected":
            continue
        r, d = ranks.get(p.proposal_id), decisions.get(p.proposal_id)
        by_dir[p.direction].append(
            Row(
                proposal_id=p.proposal_id,
                title=p.title,
                lead_unit=p.lead_unit,
                score=None if r is None else _f(r.score),
                se=None if r is None else _f(r.se),
                expected_rank=None if r is None else _f(r.expected_rank),
                rank_lo=None if r is None else _f(r.rank_lo),
                rank_hi=None if r is None else _f(r.rank_hi),
                n_reviews=0 if r is None else r.n_reviews,
                selected=None if d is None else bool(d.selected),
                grant_wan=None if d is None else d.grant_wan,
                requested_wan=float(p.requested_wan),
                alternate_rank=None if d is None else d.alternate_rank,
                p_selected=None if d is None else _f(d.p_selected),
                reason_code=None if d is None else d.reason_code,
                explanation="" if d is None else render_stored(d.explanation),
            )
        )
    out = []
    for code in sorted(by_dir):
        g = guide[code]
        rows = sorted(
            by_dir[code],
            key=lambda r: (r.score is None, -(r.score or 0.0), r.proposal_id),
        )
        out.append(Direction(code, g.title or "", g.programme, _f(g.cap_wan), tuple(rows)))
    return tuple(out)


def _reviewers(
    s: Session, ids: Select, method: str, reviews: pd.DataFrame, props: pd.DataFrame
) -> Reviewers | None:
    if reviews.empty:
        return None
    n = reviews["expert_id"].value_counts().to_dict()
    rows = s.execute(
        select(Leniency, Person.name)
        .join(Person, Person.person_id == Leniency.expert_id)
        .where(
            Leniency.method == method,
            Leniency.expert_id.in_(select(Review.expert_id).where(Review.proposal_id.in_(ids))),
        )
    ).all()
    graph = review_graph(
        reviews, props[["proposal_id", "direction"]].rename(columns={"direction": "direction_code"})
    )
    reviewers = sorted(
        (
            Reviewer(le.expert_id, name or "", le.leniency, le.lo, le.hi, int(n[le.expert_id]))
            for le, name in rows
        ),
        key=lambda r: (r.leniency, r.expert_id),
    )
    return Reviewers(
        method,
        tuple(reviewers),
        graph.leniency_identifiable,
        graph.n_components,
        len(graph.single_review_experts),
    )


def _runs(s: Session, batch: Batch, ids: set[str]) -> tuple[Run, ...]:
    """The batch's runs (and the imports before them) in the order they ran."""
    out = []
    for ev in s.scalars(select(AuditEvent).order_by(AuditEvent.id)):
        params = ev.params or {}
        ours = params.get("batch") == batch.batch_id or params.get("proposal") in ids
        if ours or ev.command in ("import", "import all"):
            out.append(
                Run(
                    ev.id,
                    ev.at,
                    ev.actor,
                    ev.command,
                    ev.seed,
                    ev.input_digest,
                    ev.result_digest,
                    render_stored(ev.message) if ev.message else "",
                )
            )
    return tuple(out)
