"""An assignment made outside reviewopt (an office's own platform), imported as a run.

The ``assignments`` import kind has one row per (proposal, expert): batch, proposal, expert,
status (invited / accepted / declined / replaced / reserve, or their Chinese labels) and an
optional run label. Rows of one batch and label form one run of mode ``external``; importing
the same label again updates that run's pairs (a status that changed, pairs added) and never
removes a pair the file leaves out. Reviews then import against the run like against one
reviewopt made, and ranking and selection work as usual.

The run is not trusted blindly: every imported pair is checked against the batch's conflicts
of interest (those stored by `reviewopt conflicts`, else the default policy's), and each
conflicted pair is reported as a finding with its reason chain and kept in the run's summary.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from models.db import now
from models.schema import Assignment, AssignmentRun, Batch, Conflict

if TYPE_CHECKING:
    from models.io import ImportCounts, Validated

DEFAULT_LABEL = "external"
MODE = "external"


def _run(session: Session, batch_id: str, label: str, actor: str, file: str) -> AssignmentRun:
    runs = session.scalars(
        select(AssignmentRun)
        .where(AssignmentRun.batch_id == batch_id, AssignmentRun.mode == MODE)
        .order_by(AssignmentRun.run_id.desc())
    )
    for run in runs:
        if run.params.get("label") == label:
            return run
    run = AssignmentRun(
        batch_id=batch_id,
        mode=MODE,
        params={"label": label, "file": file},
        seed=None,
        status="imported",
        objective=None,
        bound=None,
        gap=None,
        summary={},
        created_at=now(),
        actor=actor,
    )
    session.add(run)
    session.flush()
    return run


def _conflicts(session: Session, batch: Batch, experts: list[str]) -> pd.DataFrame:
    """Conflicted pairs (proposal_id, expert_id, kind, reason) of the batch: the stored ones
    when `reviewopt conflicts` ran, else those of the default policy for ``experts``."""
    from assign.conflict_policy import load_policy
    from assign.conflicts import find_conflicts
    from models.screen_jobs import batch_tables, stored_conflicts

    try:
        stored_conflicts(session, batch)
    except LookupError:
        tables = batch_tables(session, batch)
        return find_conflicts(
            tables, batch_date=batch.batch_date, policy=load_policy(None), experts=experts
        )
    ids = select(Conflict.proposal_id, Conflict.expert_id, Conflict.kind, Conflict.reason)
    rows = session.execute(ids.where(Conflict.expert_id.in_(experts))).all()
    return pd.DataFrame(rows, columns=["proposal_id", "expert_id", "kind", "reason"])


def store_external_run(session: Session, v: Validated, counts: ImportCounts, *, actor: str) -> None:
    """Write validated ``assignments`` rows as runs (one per batch and label); count pairs
    created, updated (status changed) and unchanged; report conflicted pairs as findings."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for rec in v.rows:
        groups[(rec["batch_id"], rec.get("run_label") or DEFAULT_LABEL)].append(rec)
    for (batch_id, label), recs in groups.items():
        batch = session.get(Batch, batch_id)
        assert batch is not None  # references were checked
        run = _run(session, batch_id, label, actor, counts.file)
        stored = {
            (a.proposal_id, a.expert_id): a.status
            for a in session.scalars(select(Assignment).where(Assignment.run_id == run.run_id))
        }
        new, changed = [], []
        for rec in recs:
            pair = (rec["proposal_id"], rec["expert_id"])
            old = stored.get(pair)
            if old is None:
                new.append({"run_id": run.run_id, "proposal_id": pair[0], "expert_id": pair[1],
                            "affinity": None, "status": rec["status"]})  # fmt: skip
            elif old != rec["status"]:
                changed.append((pair, rec["status"]))
            else:
                counts.unchanged += 1
            stored[pair] = rec["status"]
        if new:
            session.execute(insert(Assignment), new)
        for (p, e), status in changed:
            session.execute(
                update(Assignment)
                .where(
                    Assignment.run_id == run.run_id,
                    Assignment.proposal_id == p,
                    Assignment.expert_id == e,
                )
                .values(status=status)
            )
        counts.created += len(new)
        counts.updated += len(changed)
        experts = sorted({e for _p, e in stored})
        found = _conflicts(session, batch, experts)
        hit = found[
            pd.Series(
                list(zip(found["proposal_id"], found["expert_id"], strict=True)), dtype=object
            )
            .isin(set(stored))
            .to_numpy()
        ].sort_values(["proposal_id", "expert_id", "kind"])
        findings = [
            {"batch": batch_id, "run_id": run.run_id, "proposal_id": r.proposal_id,
             "expert_id": r.expert_id, "kind": r.kind, "reason": r.reason}
            for r in hit.itertuples()
        ]  # fmt: skip
        counts.findings += findings
        statuses = pd.Series(list(stored.values()), dtype=object).value_counts()
        run.summary = {
            "label": label,
            "pairs": len(stored),
            "statuses": {str(k): int(n) for k, n in statuses.items()},
            "conflicted": [[f["proposal_id"], f["expert_id"], f["kind"]] for f in findings],
        }
