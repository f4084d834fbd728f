"""Checks on imported rows beyond types, enumerations and references (run inside the import).

People: a phone number and an e-mail address, where given, in a form an invitation can use.
Reviews: each criterion within its maximum on the batch's sheet, the total equal to the sum of
the criteria, the expert assigned to the proposal in the batch's latest assignment run (made by
reviewopt or imported from outside; not declined or replaced), and the pair not conflicted.

Outside assignments: each proposal belongs to the batch the row names.

Each check takes the session, the validated rows (with ``__row__``), the file name and the
header as the file writes it per canonical column.
"""

from __future__ import annotations

import re
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


# A mainland mobile (1 and 10 digits), a landline with its area code (0 and 9-11 digits), or
# an international number (+ and 7-15 digits, E.164), with spaces, hyphens, dots or brackets
# between the digits; "+86"/"0086" may lead, and an extension (转123, ext 123, -123) follow.
_NUMBER = re.compile(r"^(?:(?:\+|00)86)?(?:1[3-9]\d{9}|0\d{9,11})$|^(?:\+|00)[1-9]\d{6,14}$")
_SEPARATORS = re.compile(r"[\s()（）.\-]")
_EXTENSION = re.compile(r"\s*(?:转|ext\.?|x|#|-)\s*\d{1,6}$", re.IGNORECASE)
_EMAIL = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$"
)


def phone_ok(text: str) -> bool:
    """Whether ``text`` is one phone number an invitation can be made to (see ``_NUMBER``)."""
    text = text.strip()
    ext = _EXTENSION.search(text)
    bare = [text] if ext is None else [text, text[: ext.start()]]
    return any(_NUMBER.match(_SEPARATORS.sub("", t)) for t in bare)


def email_ok(text: str) -> bool:
    """Whether ``text`` is one e-mail address (name@domain.tld, no spaces or names around it)."""
    local = text.split("@", 1)[0]
    return bool(_EMAIL.match(text)) and not local.startswith(".") and ".." not in text


def _contact_problems(
    _session: Session, rows: list[dict[str, Any]], file: str, labels: Labels
) -> list[Problem]:
    problems = []
    for r in rows:
        phone, email = r.get("phone"), r.get("email")
        if phone is not None and not phone_ok(phone):
            problems.append(
                Problem(
                    file,
                    r["__row__"],
                    labels.get("phone", "phone"),
                    phone,
                    Msg(
                        "one phone number: a mobile (13812345678), a landline with its area code "
                        "(025-83791234, extension 转123) or +country code and number"
                    ),
                    field="phone",
                )
            )
        if email is not None and not email_ok(email):
            problems.append(
                Problem(
                    file,
                    r["__row__"],
                    labels.get("email", "email"),
                    email,
                    Msg("one e-mail address such as name@example.org"),
                    field="email",
                )
            )
    return problems


ROW_CHECKS: dict[str, Callable[[Session, list[dict[str, Any]], str, Labels], list[Problem]]] = {
    "people": _contact_problems,
    "reviews": _review_problems,
    "assignments": _assignment_problems,
}
