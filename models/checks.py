"""Checks on imported rows that need the database beyond references (run inside the import).

Reviews: each criterion within its maximum on the batch's sheet, the total equal to the sum of
the criteria, the expert assigned to the proposal in the batch's latest assignment run (made by
reviewopt or imported from outside; not declined or replaced), and the pair not conflicted.

Outside assignments: each proposal belongs to the batch the row names.

Each check takes the session, the validated rows (with ``__row__``), the file name and the
header as the file writes it per canonical column.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.i18n import Msg
from models.problems import Problem
from models.schema import Assignment, AssignmentRun, Batch, Conflict, Proposal
from scoring.simulate import DEFAULT_CRITERIA

TOTAL_TOLERANCE = 0.01
ASSIGNMENT_MODES = ("review", "external")
"""Runs whose invitations reviews are made against (panels hear proposals together)."""


def sheet_of(batch: Batch | None) -> dict[str, float]:
    """The batch's scoring sheet {criterion: max points} (the default one unless set)."""
    sheet = {name: float(mx) for name, _label, mx in DEFAULT_CRITERIA}
    if batch is not None and batch.sheet:
        sheet.update({k: float(v) for k, v in batch.sheet.items()})
    return sheet


def latest_runs(session: Session) -> dict[str, int]:
    """batch_id → its latest correspondence-review run (made here or imported)."""
    return dict(
        session.execute(
            select(AssignmentRun.batch_id, func.max(AssignmentRun.run_id))
            .where(AssignmentRun.mode.in_(ASSIGNMENT_MODES))
            .group_by(AssignmentRun.batch_id)
        ).all()
    )


Labels = dict[str, str]


def _review_problems(
    session: Session, rows: list[dict[str, Any]], file: str, labels: Labels
) -> list[Problem]:
    problems: list[Problem] = []
    ids = {r["proposal_id"] for r in rows if r.get("proposal_id")}
    batch_of = dict(
        session.execute(
            select(Proposal.proposal_id, Proposal.batch_id).where(Proposal.proposal_id.in_(ids))
        ).all()
    )
    sheets = {b.batch_id: sheet_of(b) for b in session.scalars(select(Batch))}
    runs = latest_runs(session)
    assigned = set(
        session.execute(
            select(Assignment.run_id, Assignment.proposal_id, Assignment.expert_id).where(
                Assignment.run_id.in_(list(runs.values())),
                Assignment.status.in_(("invited", "accepted")),
            )
        ).all()
    )
    conflicted = set(session.execute(select(Conflict.proposal_id, Conflict.expert_id)).all())

    def problem(row: int, name: str, value: str, expected: Msg, note: Msg | None = None) -> Problem:
        return Problem(file, row, labels.get(name, name), value, expected, field=name, note=note)

    for r in rows:
        row = r["__row__"]
        batch = batch_of.get(str(r.get("proposal_id")), "")
        sheet = sheets.get(batch, sheet_of(None))
        scores = []
        for name, mx in sheet.items():
            v = r.get(name)
            if v is None:
                continue
            scores.append(v)
            if not 0 <= v <= mx:
                problems.append(
                    problem(row, name, str(v), Msg("a score from 0 to {max:g}", max=mx))
                )
        total = r.get("total")
        if total is not None and len(scores) == len(sheet):
            expect = sum(scores)
            if abs(total - expect) > TOTAL_TOLERANCE:
                problems.append(
                    problem(
                        row,
                        "total",
                        str(total),
                        Msg("the sum of the criteria ({sum:g})", sum=expect),
                    )
                )
        pair = (r.get("proposal_id"), r.get("expert_id"))
        if None in pair:
            continue
        note = Msg("proposal {proposal}", proposal=pair[0])
        if pair in conflicted:
            expected = Msg("an expert without a conflict of interest with the proposal")
            note = Msg("{proposal}: see `reviewopt explain`", proposal=pair[0])
        elif batch not in runs:
            expected = Msg(
                "an expert assigned to the proposal, but batch {batch} has no assignment yet: "
                "run `reviewopt assign`, or import the assignment made elsewhere with "
                "`reviewopt import assignments FILE`",
                batch=batch,
            )
        elif (runs[batch], *pair) not in assigned:
            expected = Msg(
                "an expert assigned to the proposal in the batch's latest assignment run"
            )
        else:
            continue
        problems.append(problem(row, "expert_id", str(pair[1]), expected, note))
    return problems


def _assignment_problems(
    session: Session, rows: list[dict[str, Any]], file: str, labels: Labels
) -> list[Problem]:
    ids = {r["proposal_id"] for r in rows if r.get("proposal_id")}
    batch_of = dict(
        session.execute(
            select(Proposal.proposal_id, Proposal.batch_id).where(Proposal.proposal_id.in_(ids))
        ).all()
    )
    return [
        Problem(
            file,
            r["__row__"],
            labels.get("proposal_id", "proposal_id"),
            str(r["proposal_id"]),
            Msg(
                "a proposal of batch {batch} (it belongs to batch {other})",
                batch=r["batch_id"],
                other=batch_of[r["proposal_id"]],
            ),
            field="proposal_id",
        )
        for r in rows
        if batch_of.get(str(r.get("proposal_id"))) not in (None, r.get("batch_id"))
    ]


ROW_CHECKS: dict[str, Callable[[Session, list[dict[str, Any]], str, Labels], list[Problem]]] = {
    "reviews": _review_problems,
    "assignments": _assignment_problems,
}
