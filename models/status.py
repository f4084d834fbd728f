"""Where a batch stands: each stage of the pipeline, done or not, its counts, what is missing,
and the command to run next.

The stages, in order: ``imported``, ``screened``, ``pool``, ``conflicts``, ``assigned``,
``declines`` (places left open by declines), ``reviews`` (in / expected per proposal),
``ranked``, ``selected``, ``finalised``. A stage is done when its result is stored for every
proposal it concerns and no input it reads changed after it ran (told by the order of the
audit events: a file imported after screening leaves the screening out of date). Everything is
read from the database; nothing is written.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Select, func, select
from sqlalchemy.orm import Session

from models.db import check_schema, get_batch, session
from models.i18n import N_, Msg
from models.schema import (
    Assignment,
    AssignmentRun,
    AuditEvent,
    Batch,
    Conflict,
    Decision,
    Expert,
    PanelMember,
    PanelProposal,
    PoolExclusion,
    Proposal,
    Ranking,
    Review,
    ScreeningStatus,
    Unit,
)

STAGES = (
    "imported",
    "screened",
    "pool",
    "conflicts",
    "assigned",
    "declines",
    "reviews",
    "ranked",
    "selected",
    "finalised",
)

#: Each stage as people read it (the terminal table, the report).
STAGE_NAMES = {
    "imported": N_("Data imported"),
    "screened": N_("Screening (形式审查)"),
    "pool": N_("Expert pool"),
    "conflicts": N_("Conflicts of interest (回避)"),
    "assigned": N_("Experts assigned"),
    "declines": N_("Declines replaced"),
    "reviews": N_("Reviews returned"),
    "ranked": N_("Calibrated ranking"),
    "selected": N_("Selection"),
    "finalised": N_("Finalised"),
}


#: Import kinds each stage reads (a later import of one of them leaves the stage out of date).
POOL_INPUTS = frozenset({"experts", "people", "credit_penalties", "ratings"})
CURRENT = ("invited", "accepted")
SHOWN = 5  # proposals named in a "missing" message


@dataclass(frozen=True)
class Stage:
    """One stage: done, its counts, what is missing (messages for people), the next command."""

    name: str
    done: bool
    counts: dict[str, int]
    next: str | None = None
    missing: tuple[Msg, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The stage for ``--json``: exactly name, done, counts and next (null when done)."""
        return {
            "name": self.name,
            "done": self.done,
            "counts": self.counts,
            "next": None if self.done else self.next,
        }


@dataclass(frozen=True)
class BatchStatus:
    """Every stage of one batch (``batch`` None: the database holds no batch yet)."""

    batch: str | None
    name: str | None
    stages: tuple[Stage, ...]
    finalized_by: str | None = None
    finalized_at: str | None = None

    @property
    def next(self) -> str | None:
        """The command of the first stage not done that names one (None when all are done)."""
        return next((s.next for s in self.stages if not s.done and s.next), None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "batch": self.batch,
            "name": self.name,
            "finalized_by": self.finalized_by,
            "finalized_at": self.finalized_at,
            "next": self.next,
            "stages": [s.as_dict() for s in self.stages],
        }


@dataclass
class _Events:
    """The audit events that matter to one batch, as ids (ids grow with time)."""

    last: dict[str, int] = field(default_factory=dict)  # command → id of its latest event
    imports: list[tuple[int, frozenset[str]]] = field(default_factory=list)  # id, kinds

    def imported_after(self, command: str, kinds: Callable[[str], bool]) -> bool:
        """Whether a file of a kind ``kinds`` accepts was imported after ``command`` last ran."""
        at = self.last.get(command, 0)
        return any(i > at and any(map(kinds, ks)) for i, ks in self.imports)

    def ran_after(self, command: str, others: Iterable[str]) -> str | None:
        """The first of ``others`` that ran after ``command`` last did."""
        at = self.last.get(command, 0)
        return next((o for o in others if self.last.get(o, 0) > at), None)


def _import_kinds(event: AuditEvent) -> frozenset[str]:
    if event.command == "import":
        return frozenset({str(event.params.get("kind"))})
    return frozenset(Path(str(f)).stem for f in event.params.get("files", []))


def _events(s: Session, batch: Batch, proposals: set[str]) -> _Events:
    out = _Events()
    for ev in s.scalars(select(AuditEvent).order_by(AuditEvent.id)):
        params = ev.params or {}
        if ev.command in ("import", "import all"):
            out.imports.append((ev.id, _import_kinds(ev)))
        elif params.get("batch") == batch.batch_id or params.get("proposal") in proposals:
            out.last[ev.command] = ev.id
    return out


def _not_reviews(kind: str) -> bool:
    return kind != "reviews"


def _count(s: Session, query: Any) -> int:
    return int(s.scalar(query) or 0)


def _batch_proposals(batch: Batch) -> Select[Any]:
    """The batch's proposal ids as a subquery (so that no statement carries a list of ids)."""
    return select(Proposal.proposal_id).where(Proposal.batch_id == batch.batch_id)


def _first(ids: list[str]) -> list[str]:
    """The first few of ``ids`` for a message (a list renders with the reader's separator)."""
    return ids[:SHOWN] + (["…"] if len(ids) > SHOWN else [])


def _without_experts(eligible: set[str], covered: set[str]) -> list[Msg]:
    """What is missing when eligible proposals got no experts in the run."""
    left = sorted(eligible - covered)
    if not left:
        return []
    return [Msg("{n} eligible proposals without experts: {ids}", n=len(left), ids=_first(left))]


def _short_list(items: list[tuple[str, int, int]]) -> list[str]:
    return _first([f"{p} {got}/{want}" for p, got, want in items])


def status_job(engine: Engine, batch_id: str | None) -> BatchStatus:
    """Where the batch stands, read in a session of its own."""
    check_schema(engine)
    with session(engine) as s:
        return batch_status(s, batch_id)


def batch_status(s: Session, batch_id: str | None) -> BatchStatus:
    """Where the batch stands (the only batch when ``batch_id`` is None)."""
    if batch_id is None and _count(s, select(func.count()).select_from(Batch)) == 0:
        return _empty_database(s)
    batch = get_batch(s, batch_id)
    several = _count(s, select(func.count()).select_from(Batch)) > 1
    opt = f" --batch {batch.batch_id}" if several else ""
    ids = set(s.scalars(select(Proposal.proposal_id).where(Proposal.batch_id == batch.batch_id)))
    ev = _events(s, batch, ids)
    stages: list[Stage] = []

    # --- imported
    n_experts = _count(s, select(func.count()).select_from(Expert))
    imported = {
        "proposals": len(ids),
        "directions": _count(
            s,
            select(func.count(func.distinct(Proposal.direction_code))).where(
                Proposal.batch_id == batch.batch_id
            ),
        ),
        "experts": n_experts,
        "units": _count(s, select(func.count()).select_from(Unit)),
    }
    missing: list[Msg] = []
    if not ids:
        missing.append(Msg("batch {batch} has no proposals yet", batch=batch.batch_id))
    if not n_experts:
        missing.append(Msg("no experts yet"))
    stages.append(
        Stage("imported", not missing, imported, "reviewopt import all DIR", tuple(missing))
    )

    # --- screened
    status = Counter(
        s.scalars(
            select(ScreeningStatus.status).where(
                ScreeningStatus.proposal_id.in_(_batch_proposals(batch))
            )
        )
    )
    screened = sum(status.values())
    stale = ev.imported_after("screen", _not_reviews) and "screen" in ev.last
    missing = []
    if screened < len(ids):
        missing.append(Msg("{n} proposals not screened", n=len(ids) - screened))
    if stale:
        missing.append(Msg("data imported after the last screening"))
    stages.append(
        Stage(
            "screened",
            bool(ids) and not missing,
            {
                "screened": screened,
                "eligible": status.get("eligible", 0),
                "warnings": status.get("warnings", 0),
                "rejected": status.get("rejected", 0),
            },
            f"reviewopt screen{opt}",
            tuple(missing),
        )
    )
    eligible = {
        p
        for p, st in s.execute(
            select(ScreeningStatus.proposal_id, ScreeningStatus.status).where(
                ScreeningStatus.proposal_id.in_(_batch_proposals(batch))
            )
        )
        if st != "rejected"
    }

    # --- pool
    aside = _count(
        s,
        select(func.count(func.distinct(PoolExclusion.expert_id))).where(
            PoolExclusion.batch_id == batch.batch_id
        ),
    )
    missing = []
    if "pool" not in ev.last:
        missing.append(Msg("the expert pool is not filtered yet"))
    elif ev.imported_after("pool", POOL_INPUTS.__contains__):
        missing.append(Msg("experts or their records imported after the pool was filtered"))
    stages.append(
        Stage(
            "pool",
            not missing,
            {"experts": n_experts, "set_aside": aside, "available": n_experts - aside},
            f"reviewopt pool{opt}",
            tuple(missing),
        )
    )

    # --- conflicts
    pairs = _count(
        s,
        select(func.count()).select_from(
            select(Conflict.proposal_id, Conflict.expert_id)
            .where(Conflict.proposal_id.in_(_batch_proposals(batch)))
            .distinct()
            .subquery()
        ),
    )
    missing = []
    if "conflicts" not in ev.last:
        missing.append(Msg("conflicts of interest are not computed yet"))
    elif ev.imported_after("conflicts", _not_reviews):
        missing.append(Msg("data imported after the conflicts were computed"))
    stages.append(
        Stage(
            "conflicts",
            not missing,
            {"pairs": pairs},
            f"reviewopt conflicts{opt}",
            tuple(missing),
        )
    )

    stages += _assignment_stages(s, batch, eligible, ev, opt)
    stages += _decision_stages(s, batch, ev, opt)
    return BatchStatus(
        batch.batch_id,
        batch.name,
        tuple(stages),
        batch.finalized_by,
        None if batch.finalized_at is None else f"{batch.finalized_at:%Y-%m-%d %H:%M:%S}",
    )


def _latest_run(s: Session, batch: Batch, mode: str) -> AssignmentRun | None:
    return s.scalars(
        select(AssignmentRun)
        .where(AssignmentRun.batch_id == batch.batch_id, AssignmentRun.mode == mode)
        .order_by(AssignmentRun.run_id.desc())
        .limit(1)
    ).first()


def _k_of(run: AssignmentRun, direction: dict[str, str]) -> Callable[[str], int]:
    """Experts each proposal needs in ``run`` (k, over it the direction's, over that its own)."""
    options = run.params.get("options", {})
    k, by_dir = int(options.get("k", 0)), options.get("k_by_direction") or {}
    by_prop = options.get("k_by_proposal") or {}
    return lambda p: int(by_prop.get(p, by_dir.get(direction.get(p, ""), k)))


def _assignment_stages(
    s: Session, batch: Batch, eligible: set[str], ev: _Events, opt: str
) -> list[Stage]:
    """assigned, declines and reviews: from the latest review run, else the latest panel run."""
    review, panel = _latest_run(s, batch, "review"), _latest_run(s, batch, "panel")
    run = review or panel
    upstream = ev.ran_after("assign", ("screen", "pool", "conflicts"))
    if run is None:
        return [
            Stage(
                "assigned",
                False,
                {"proposals_to_assign": len(eligible), "proposals_assigned": 0},
                f"reviewopt assign{opt}",
                (Msg("no assignment run yet"),),
            ),
            Stage("declines", False, {"declined": 0, "open": 0}),
            Stage(
                "reviews",
                False,
                {"reviews_in": 0, "reviews_expected": 0},
                "reviewopt import reviews FILE",
            ),
        ]
    stale: list[Msg] = []
    if upstream is not None:
        stale.append(Msg("`reviewopt {stage}` ran again after the last assignment", stage=upstream))
    if review is None:
        assert panel is not None
        return _panel_stages(s, panel, eligible, stale, opt)

    rows = s.execute(
        select(Assignment.proposal_id, Assignment.expert_id, Assignment.status).where(
            Assignment.run_id == review.run_id
        )
    ).all()
    current = [(p, e) for p, e, st in rows if st in CURRENT]
    have = Counter(p for p, _e in current)
    missing = [*stale, *_without_experts(eligible, set(have))]
    assigned = Stage(
        "assigned",
        not missing,
        {
            "run_id": review.run_id,
            "proposals_to_assign": len(eligible),
            "proposals_assigned": len(have),
            "invitations": len(current),
            "reserves": sum(1 for *_pe, st in rows if st == "reserve"),
        },
        f"reviewopt assign{opt}",
        tuple(missing),
    )

    direction = dict(
        s.execute(
            select(Proposal.proposal_id, Proposal.direction_code).where(
                Proposal.proposal_id.in_(
                    select(Assignment.proposal_id).where(Assignment.run_id == review.run_id)
                )
            )
        ).all()
    )
    k_of = _k_of(review, direction)
    short = sorted(
        (p, have.get(p, 0), k_of(p)) for p in {p for p, _e, _s in rows} if have.get(p, 0) < k_of(p)
    )
    open_places = sum(want - got for _p, got, want in short)
    declines = Stage(
        "declines",
        open_places == 0,
        {"declined": sum(1 for *_pe, st in rows if st == "declined"), "open": open_places},
        None,
        ()
        if not short
        else (
            Msg(
                "{n} places left open after declines ({ids}): neither the reserves nor a "
                "re-solve found an expert; widen the pool and assign again, or accept fewer "
                "reviews for them",
                n=open_places,
                ids=_short_list(short),
            ),
        ),
    )

    reviewed = set(
        s.execute(
            select(Review.proposal_id, Review.expert_id).where(
                Review.proposal_id.in_(
                    select(Assignment.proposal_id).where(Assignment.run_id == review.run_id)
                )
            )
        ).all()
    )
    got = Counter(p for p, e in current if (p, e) in reviewed)
    waiting = sorted((p, got.get(p, 0), n) for p, n in have.items() if got.get(p, 0) < n)
    reviews_in = sum(got.values())
    reviews = Stage(
        "reviews",
        bool(current) and not waiting,
        {
            "reviews_in": reviews_in,
            "reviews_expected": len(current),
            "proposals_complete": len(have) - len(waiting),
            "proposals_short": len(waiting),
        },
        "reviewopt import reviews FILE",
        ()
        if not waiting
        else (
            Msg(
                "{n} proposals still short of reviews (in/expected): {ids}",
                n=len(waiting),
                ids=_short_list(waiting),
            ),
        ),
    )
    return [assigned, declines, reviews]


def _panel_stages(
    s: Session, run: AssignmentRun, eligible: set[str], stale: list[Msg], opt: str
) -> list[Stage]:
    heard = set(
        s.scalars(select(PanelProposal.proposal_id).where(PanelProposal.run_id == run.run_id))
    )
    members = _count(
        s, select(func.count()).select_from(PanelMember).where(PanelMember.run_id == run.run_id)
    )
    panels = _count(
        s,
        select(func.count(func.distinct(PanelMember.group_id))).where(
            PanelMember.run_id == run.run_id
        ),
    )
    missing = [*stale, *_without_experts(eligible, heard)]
    reviews_in = _count(
        s,
        select(func.count())
        .select_from(Review)
        .where(
            Review.proposal_id.in_(
                select(PanelProposal.proposal_id).where(PanelProposal.run_id == run.run_id)
            )
        ),
    )
    return [
        Stage(
            "assigned",
            not missing,
            {
                "run_id": run.run_id,
                "proposals_to_assign": len(eligible),
                "proposals_assigned": len(heard),
                "panels": panels,
                "panel_members": members,
            },
            f"reviewopt assign --mode panel{opt}",
            tuple(missing),
        ),
        Stage("declines", True, {"declined": 0, "open": 0}),
        Stage(
            "reviews",
            reviews_in > 0,
            {"reviews_in": reviews_in},
            "reviewopt import reviews FILE",
            () if reviews_in else (Msg("no panel scores imported yet"),),
        ),
    ]


def _decision_stages(s: Session, batch: Batch, ev: _Events, opt: str) -> list[Stage]:
    """ranked, selected and finalised."""
    ids = _batch_proposals(batch)
    reviewed = set(s.scalars(select(Review.proposal_id).where(Review.proposal_id.in_(ids))))
    ranked = set(s.scalars(select(Ranking.proposal_id).where(Ranking.proposal_id.in_(ids))))
    methods = _count(
        s,
        select(func.count(func.distinct(Ranking.method))).where(Ranking.proposal_id.in_(ids)),
    )
    missing: list[Msg] = []
    if not ranked:
        missing.append(Msg("no ranking yet"))
    elif reviewed - ranked:
        missing.append(Msg("{n} reviewed proposals not ranked", n=len(reviewed - ranked)))
    if ranked and ev.imported_after("rank", lambda k: k == "reviews"):
        missing.append(Msg("reviews imported after the last ranking"))
    rank_stage = Stage(
        "ranked",
        not missing,
        {"proposals_ranked": len(ranked), "methods": methods},
        f"reviewopt rank{opt}",
        tuple(missing),
    )

    decisions = s.execute(
        select(
            Decision.selected, Decision.grant_wan, Decision.alternate_rank, Proposal.direction_code
        )
        .join(Proposal, Proposal.proposal_id == Decision.proposal_id)
        .where(Decision.proposal_id.in_(ids))
    ).all()
    funded = [d for d in decisions if d.selected]
    missing = []
    if not decisions:
        missing.append(Msg("no selection yet"))
    else:
        later = ev.ran_after("select", ("rank", "override"))
        if later is not None:
            missing.append(
                Msg("`reviewopt {stage}` ran again after the last selection", stage=later)
            )
    select_stage = Stage(
        "selected",
        not missing,
        {
            "funded": len(funded),
            "directions_funded": len({d.direction_code for d in funded}),
            "grants_total_wan": int(round(sum(d.grant_wan for d in funded))),
            "alternates": sum(1 for d in decisions if d.alternate_rank is not None),
        },
        f"reviewopt select{opt}",
        tuple(missing),
    )

    final = batch.finalized_at is not None
    final_stage = Stage(
        "finalised",
        final,
        {"funded": len(funded)} if final else {},
        None if final else f"reviewopt finalize{opt}",
        () if final else (Msg("the decisions are not final yet"),),
    )
    return [rank_stage, select_stage, final_stage]


def _empty_database(s: Session) -> BatchStatus:
    """No batch yet: only the import can run."""
    first = Stage(
        "imported",
        False,
        {"proposals": 0, "experts": _count(s, select(func.count()).select_from(Expert))},
        "reviewopt import all DIR",
        (Msg("the database has no batch yet"),),
    )
    rest = tuple(Stage(name, False, {}) for name in STAGES[1:])
    return BatchStatus(None, None, (first, *rest))
