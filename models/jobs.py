"""Jobs: one thin function per command that loads plain data from the database, calls a pure
core in ``assign`` or ``scoring``, and writes the result back in one transaction with an audit
event. The CLI calls these; scheduled jobs can too.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.orm import Session

from models import io
from models.db import (
    audit,
    batch_lock,
    check_schema,
    clear_stale_lock,
    digest,
    get_batch,
    session,
    upgrade,
)
from models.finalisation import ensure_open
from models.i18n import _
from models.schema import (
    IMPORT_KINDS,
    AuditEvent,
    BatchLock,
    Leniency,
    Proposal,
    Ranking,
    Review,
    TruthProposal,
    contact_columns,
)
from scoring.calibrate import CalibrationResult, calibrate
from scoring.metrics import score_metrics


def init_db(engine: Engine) -> str:
    """Create or upgrade the schema; returns the revision now in force."""
    return upgrade(engine)


def import_kind(
    engine: Engine, kind: str, path: Path, *, actor: str, limits: io.Limits | None = None
) -> io.ImportCounts:
    """Import one file of ``kind`` all-or-nothing, with an audit event (its result digest
    covers the imported values)."""
    return import_uploads(engine, [(kind, path)], actor=actor, limits=limits)[0]


def import_uploads(
    engine: Engine,
    files: Sequence[tuple[str, Path | io.FileData]],
    *,
    actor: str,
    limits: io.Limits | None = None,
) -> list[io.ImportCounts]:
    """Import ``(kind, file)`` pairs (files on disk, or uploads held as bytes) all-or-nothing
    in one transaction, referenced kinds first, with an audit event per file."""
    check_schema(engine)
    given = {(kind, f.name if isinstance(f, io.FileData) else str(f)): f for kind, f in files}
    with session(engine) as s, s.begin():
        results = io.import_files(s, files, actor=actor, limits=limits)
        for counts in results:
            audit(
                s,
                actor=actor,
                command="import",
                params={"kind": counts.kind, "file": counts.file},
                input_digest=io.file_digest(given[(counts.kind, counts.file)]),
                result_digest=counts.content_digest,
                message=_import_message(counts),
            )
    return results


def import_all(
    engine: Engine, directory: Path, *, actor: str, limits: io.Limits | None = None
) -> list[io.ImportCounts]:
    """Import every ``<kind>.csv`` / ``<kind>.xlsx`` of ``directory`` in one transaction,
    with an audit event."""
    check_schema(engine)
    with session(engine) as s, s.begin():
        results = io.import_directory(s, directory, actor=actor, limits=limits)
        audit(
            s,
            actor=actor,
            command="import all",
            params={"directory": str(directory), "files": [r.file for r in results]},
            input_digest=digest([io.file_digest(Path(r.file)) for r in results]),
            result_digest=digest([r.content_digest for r in results]),
            message="; ".join(m for m in map(_import_message, results) if m) or None,
        )
    return results


def _import_message(counts: io.ImportCounts) -> str | None:
    """Conflicted pairs of an imported assignment, for the audit log (English, as it is)."""
    if not counts.findings:
        return None
    pairs = ", ".join(f"{f['proposal_id']}/{f['expert_id']}" for f in counts.findings[:20])
    more = " …" if len(counts.findings) > 20 else ""
    return f"{counts.file}: {len(counts.findings)} conflicted pairs imported: {pairs}{more}"


def reviews_short(engine: Engine) -> pd.DataFrame:
    """Proposals of the latest assignment run with fewer reviews than invited experts."""
    from models import views

    with session(engine) as s:
        status = views.frame(s, "review_status")
    if not len(status):
        return status
    latest = status[status["run_id"] == status["run_id"].max()]
    return latest[latest["short"] > 0]


def load_tables(session: Session, kinds: list[str] | None = None) -> dict[str, pd.DataFrame]:
    """The batch tables as plain frames (column names as in the import formats)."""
    return {k: io.table_frame(session, k) for k in (kinds or list(IMPORT_KINDS))}


def export_kind(engine: Engine, kind: str, *, contacts: bool = False) -> pd.DataFrame:
    """The rows of an importable kind or of a result view, ready to write.

    Contact details (people's phone and e-mail) are left out of an import kind unless
    ``contacts``; of the views only ``invitations`` has them.
    """
    check_schema(engine)
    with session(engine) as s:
        if kind in IMPORT_KINDS:
            frame = io.table_frame(s, kind)
            return frame if contacts else frame.drop(columns=contact_columns(IMPORT_KINDS[kind]))
        from models import views

        return views.frame(s, kind)


def export_kinds() -> list[str]:
    from models import views

    return [*IMPORT_KINDS, *views.VIEWS]


def counts_summary(results: list[io.ImportCounts]) -> dict[str, Any]:
    return {r.kind: r.as_dict() for r in results}


# --- ranking ----------------------------------------------------------------------------------

DEFAULT_METHOD = "bayes"
"""The calibration method the accuracy table supports (see the README)."""


def _proposal_frame(session: Session, batch_id: str) -> pd.DataFrame:
    rows = session.execute(
        select(Proposal.proposal_id, Proposal.direction_code)
        .where(Proposal.batch_id == batch_id)
        .order_by(Proposal.proposal_id)
    ).all()
    return pd.DataFrame(rows, columns=["proposal_id", "direction_code"])


def _review_frame(session: Session, batch_id: str) -> pd.DataFrame:
    rows = session.execute(
        select(Review.proposal_id, Review.expert_id, Review.total, Review.confidence)
        .join(Proposal, Proposal.proposal_id == Review.proposal_id)
        .where(Proposal.batch_id == batch_id)
        .order_by(Review.proposal_id, Review.expert_id)
    ).all()
    return pd.DataFrame(rows, columns=["proposal_id", "expert_id", "total", "confidence"])


def _ranked_with_confidence(session: Session, batch_id: str, method: str) -> bool:
    """Whether the batch's latest ranking by ``method`` weighted reviews by confidence."""
    events = session.scalars(
        select(AuditEvent).where(AuditEvent.command == "rank").order_by(AuditEvent.id.desc())
    )
    for ev in events:
        if ev.params.get("batch") == batch_id and ev.params.get("method") == method:
            return bool(ev.params.get("weight_confidence", False))
    return False


def calibrate_batch(
    session: Session,
    batch_id: str,
    *,
    method: str,
    n_draws: int,
    seed: int,
    weight_confidence: bool | None = None,
) -> CalibrationResult:
    """Calibrate the batch's reviews (pure core over the loaded frames). ``weight_confidence``
    None: as the batch's latest ranking by ``method`` did (so that selection's draws match
    the merit it selects on)."""
    reviews = _review_frame(session, batch_id)
    if reviews.empty:
        raise LookupError(
            _(
                "batch {batch} has no reviews yet; import them with `reviewopt import reviews "
                "FILE`",
                batch=batch_id,
            )
        )
    if weight_confidence is None:
        weight_confidence = _ranked_with_confidence(session, batch_id, method)
    return calibrate(
        reviews,
        _proposal_frame(session, batch_id),
        method=method,
        n_draws=n_draws,
        seed=seed,
        weight_confidence=weight_confidence,
    )


def truth_accuracy(session: Session, result: CalibrationResult) -> dict[str, float] | None:
    """Kendall τ, best-selected share and regret against the ground truth, where there is one."""
    truth = dict(session.execute(select(TruthProposal.proposal_id, TruthProposal.quality)).all())
    props = result.proposals
    if not truth or not props["proposal_id"].isin(truth).all():
        return None
    quality = props["proposal_id"].map(truth).to_numpy(float)
    return score_metrics(props, quality, props["score"].to_numpy(float))


def rank_job(
    engine: Engine,
    batch_id: str | None,
    *,
    method: str = DEFAULT_METHOD,
    n_draws: int = 200,
    seed: int = 0,
    weight_confidence: bool = False,
    actor: str,
) -> tuple[CalibrationResult, dict[str, float] | None]:
    """Calibrate and rank; store scores, rank intervals and leniencies for ``method`` (the
    leniencies of ``method`` are replaced; none are stored where it reports none)."""
    check_schema(engine)
    with session(engine) as s:
        batch = get_batch(s, batch_id)
    with batch_lock(engine, batch.batch_id), session(engine) as s, s.begin():
        result = calibrate_batch(
            s,
            batch.batch_id,
            method=method,
            n_draws=n_draws,
            seed=seed,
            weight_confidence=weight_confidence,
        )
        ids = result.proposals["proposal_id"].tolist()
        ensure_open(s, batch.batch_id)
        s.execute(delete(Ranking).where(Ranking.method == method, Ranking.proposal_id.in_(ids)))
        s.execute(
            insert(Ranking),
            [
                {
                    "proposal_id": r.proposal_id,
                    "method": method,
                    "score": _num(r.score),
                    "se": _num(r.se),
                    "expected_rank": _num(r.expected_rank),
                    "rank_lo": _num(r.rank_lo),
                    "rank_hi": _num(r.rank_hi),
                    "n_reviews": int(r.n_reviews),
                }
                for r in result.proposals.itertuples()
                if r.n_reviews > 0
            ],
        )
        experts = result.experts
        s.execute(
            delete(Leniency).where(
                Leniency.method == method, Leniency.expert_id.in_(experts["expert_id"].tolist())
            )
        )
        rows = [
            {
                "expert_id": r.expert_id,
                "method": method,
                "leniency": _num(r.leniency),
                "lo": _num(r.leniency_lo),
                "hi": _num(r.leniency_hi),
            }
            for r in experts.itertuples()
            if pd.notna(r.leniency)
        ]
        if rows:
            s.execute(insert(Leniency), rows)
        accuracy = truth_accuracy(s, result)
        audit(
            s,
            actor=actor,
            command="rank",
            params={
                "batch": batch.batch_id,
                "method": method,
                "n_draws": n_draws,
                "weight_confidence": weight_confidence,
            },
            seed=seed,
            input_digest=digest(_review_frame(s, batch.batch_id).to_dict("split")),
            result_digest=digest(
                result.proposals[
                    ["proposal_id", "score", "se", "expected_rank", "rank_lo", "rank_hi"]
                ].to_dict("split")
            ),
            message=f"{len(ids)} proposals ranked by {method}",
        )
    return result, accuracy


def _num(v: Any) -> float | None:
    return None if v is None or pd.isna(v) else float(v)


def clear_stale_lock_job(engine: Engine, batch_id: str | None, *, actor: str) -> BatchLock:
    """Clear the batch's run lock when its holder is gone (see :func:`models.db.gone`)."""
    check_schema(engine)
    with session(engine) as s:
        batch = get_batch(s, batch_id)
    return clear_stale_lock(engine, batch.batch_id, actor=actor)
