"""Jobs before assignment: eligibility screening (形式审查), waivers, the expert-pool filters,
and the conflict-of-interest pairs. Each loads the batch, calls the pure core in ``assign``,
and writes its result in one transaction with an audit event.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.orm import Session

from assign.affinity import fit_affinity
from assign.affinity_explain import Explanation
from assign.affinity_explain import explain as explain_affinity
from assign.conflict_explain import explain
from assign.conflict_policy import ConflictPolicy, load_policy
from assign.conflicts import find_conflicts
from assign.pipeline import expert_frame, proposal_frame
from assign.pool import filter_pool
from assign.screening import ScreeningConfig, ScreeningResult, screen
from models.db import audit, batch_lock, check_schema, digest, get_batch, session
from models.finalisation import ensure_open
from models.i18n import _, join_stored
from models.jobs import load_tables
from models.schema import (
    Batch,
    Conflict,
    Finding,
    PoolExclusion,
    Proposal,
    ScreeningStatus,
)


def batch_tables(session: Session, batch: Batch) -> dict[str, pd.DataFrame]:
    """The tables with only this batch's proposals (and their joint directions, team, recusals)."""
    tables = load_tables(session)
    props = tables["proposals"]
    tables["proposals"] = props[props["batch_id"] == batch.batch_id].reset_index(drop=True)
    keep = set(tables["proposals"]["proposal_id"])
    for kind in ("joint_directions", "team_members", "recusals"):
        t = tables[kind]
        tables[kind] = t[t["proposal_id"].isin(keep)].reset_index(drop=True)
    return tables


def _batch_proposals(session: Session, batch: Batch) -> list[str]:
    return list(
        session.scalars(select(Proposal.proposal_id).where(Proposal.batch_id == batch.batch_id))
    )


# --- screening --------------------------------------------------------------------------------


def screen_job(
    engine: Engine,
    batch_id: str | None,
    *,
    actor: str,
    similarity_threshold: float | None = None,
    policy_file: Path | None = None,
) -> ScreeningResult:
    """Screen every proposal of the batch; store findings (keeping waivers) and statuses.

    Related units are those of the conflict policy (``policy_file`` over the defaults), the
    definition the conflicts stage reads."""
    check_schema(engine)
    relatedness = load_policy(policy_file).relatedness
    with session(engine) as s:
        batch = get_batch(s, batch_id)
    with batch_lock(engine, batch.batch_id), session(engine) as s, s.begin():
        tables = batch_tables(s, batch)
        ids = list(tables["proposals"]["proposal_id"])
        waived = {
            (f.proposal_id, f.rule): (f.waived_reason, f.waived_by)
            for f in s.scalars(
                select(Finding).where(Finding.proposal_id.in_(ids), Finding.waived_by.is_not(None))
            )
        }
        config = ScreeningConfig(
            deadline=batch.deadline, batch_date=batch.batch_date, relatedness=relatedness
        )
        if similarity_threshold is not None:
            config = replace(config, similarity_threshold=similarity_threshold)
        result = screen(tables, tables["guide"], config=config, waivers=waived)
        ensure_open(s, batch.batch_id)
        _store_screening(s, ids, result, waived)
        audit(
            s,
            actor=actor,
            command="screen",
            params={"batch": batch.batch_id, "config": _config_params(config)},
            input_digest=digest({k: len(v) for k, v in tables.items()}),
            result_digest=digest(result.findings[["proposal_id", "rule"]].to_dict("split")),
            message=_status_counts(result),
        )
    return result


def _config_params(config: ScreeningConfig) -> dict[str, Any]:
    return {**_params(vars(config)), "relatedness": _params(vars(config.relatedness))}


def _params(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (sorted(v) if isinstance(v, frozenset) else v) for k, v in values.items()}


def _status_counts(result: ScreeningResult) -> str:
    counts = result.status["status"].value_counts()
    return ", ".join(f"{k}: {int(v)}" for k, v in sorted(counts.items()))


def _store_screening(
    s: Session,
    ids: list[str],
    result: ScreeningResult,
    waived: dict[tuple[str, str], tuple[str | None, str | None]],
) -> None:
    s.execute(delete(Finding).where(Finding.proposal_id.in_(ids)))
    s.execute(delete(ScreeningStatus).where(ScreeningStatus.proposal_id.in_(ids)))
    found = result.findings.assign(reason=[m.to_json() for m in result.findings["reason"]])
    merged = (
        found.groupby(["proposal_id", "rule"], sort=False)
        .agg(severity=("severity", _worst), reason=("reason", lambda r: join_stored(list(r))))
        .reset_index()
    )
    rows = [
        {
            "proposal_id": r.proposal_id,
            "rule": r.rule,
            "severity": r.severity,
            "reason": r.reason,
            "waived_reason": waived.get((r.proposal_id, r.rule), (None, None))[0],
            "waived_by": waived.get((r.proposal_id, r.rule), (None, None))[1],
        }
        for r in merged.itertuples()
    ]
    if rows:
        s.execute(insert(Finding), rows)
    s.execute(
        insert(ScreeningStatus),
        [
            {"proposal_id": p, "status": st}
            for p, st in zip(result.status["proposal_id"], result.status["status"], strict=True)
        ],
    )


def _worst(severities: pd.Series) -> str:
    """The severity of several findings of one rule: reject if any rejects."""
    return "reject" if (severities == "reject").any() else "warn"


def waive_job(
    engine: Engine, proposal_id: str, rule: str, *, reason: str, actor: str
) -> ScreeningResult:
    """Mark a finding as waived (with the reason, audited) and re-screen the batch."""
    check_schema(engine)
    if not reason.strip():
        raise ValueError("a waiver needs a reason (--reason TEXT)")
    with session(engine) as s, s.begin():
        finding = s.scalars(
            select(Finding).where(Finding.proposal_id == proposal_id, Finding.rule == rule)
        ).first()
        if finding is None:
            raise LookupError(
                _(
                    "proposal {proposal} has no finding for rule {rule}; see `reviewopt export "
                    "findings`",
                    proposal=proposal_id,
                    rule=rule,
                )
            )
        batch_id = s.get(Proposal, proposal_id).batch_id  # type: ignore[union-attr]
        ensure_open(s, batch_id)
        s.execute(
            update(Finding)
            .where(Finding.id == finding.id)
            .values(waived_reason=reason, waived_by=actor)
        )
        audit(
            s,
            actor=actor,
            command="waive",
            params={"proposal": proposal_id, "rule": rule, "reason": reason},
            message=f"waived {rule} for {proposal_id}: {reason}",
        )
    return screen_job(engine, batch_id, actor=actor)


def screening_statuses(session: Session, batch: Batch) -> dict[str, str]:
    """proposal_id → status; a clear error when the batch was not screened yet."""
    ids = _batch_proposals(session, batch)
    rows = dict(
        session.execute(
            select(ScreeningStatus.proposal_id, ScreeningStatus.status).where(
                ScreeningStatus.proposal_id.in_(ids)
            )
        ).all()
    )
    if len(rows) < len(ids):
        raise LookupError(
            _(
                "{n} proposals of batch {batch} are not screened; run `reviewopt screen` first",
                n=len(ids) - len(rows),
                batch=batch.batch_id,
            )
        )
    return rows


# --- expert pool ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PoolFilters:
    """Per-batch filters on top of the standing ones (inactive, 超龄, 失信, 连续2次较差)."""

    max_age: int | None = 70
    titles: tuple[str, ...] | None = None
    levels: tuple[str, ...] | None = None
    province_scope: str | None = None


def pool_job(
    engine: Engine, batch_id: str | None, *, filters: PoolFilters, actor: str
) -> pd.DataFrame:
    """Set experts aside with reasons; returns expert_id, reason."""
    check_schema(engine)
    with session(engine) as s:
        batch = get_batch(s, batch_id)
    with batch_lock(engine, batch.batch_id), session(engine) as s, s.begin():
        tables = load_tables(s, ["experts", "people", "credit_penalties", "ratings"])
        aside = filter_pool(
            tables,
            batch_date=batch.batch_date,
            max_age=filters.max_age,
            titles=filters.titles,
            levels=filters.levels,
            province_scope=filters.province_scope,
        )
        ensure_open(s, batch.batch_id)
        s.execute(delete(PoolExclusion).where(PoolExclusion.batch_id == batch.batch_id))
        if len(aside):
            s.execute(
                insert(PoolExclusion),
                [
                    {"batch_id": batch.batch_id, "expert_id": e, "reason": r}
                    for e, r in zip(aside["expert_id"], aside["reason"], strict=True)
                ],
            )
        audit(
            s,
            actor=actor,
            command="pool",
            params={"batch": batch.batch_id, **vars(filters)},
            result_digest=digest(aside.to_dict("split")),
            message=f"{len(aside)} of {len(tables['experts'])} experts set aside",
        )
    return aside


def pool_experts(session: Session, batch: Batch) -> list[str]:
    """Active pool after the recorded filters; a clear error when the pool was not filtered."""
    from models.schema import Expert

    if not _audits(session, batch, "pool"):
        raise LookupError(
            _(
                "the expert pool of batch {batch} is not filtered yet; run `reviewopt pool`",
                batch=batch.batch_id,
            )
        )
    aside = set(
        session.scalars(
            select(PoolExclusion.expert_id).where(PoolExclusion.batch_id == batch.batch_id)
        )
    )
    return [
        e
        for e in session.scalars(select(Expert.expert_id).order_by(Expert.expert_id))
        if e not in aside
    ]


def _audits(session: Session, batch: Batch, command: str) -> list[Any]:
    from models.schema import AuditEvent

    events = session.scalars(select(AuditEvent).where(AuditEvent.command == command))
    return [a for a in events if a.params.get("batch") == batch.batch_id]


# --- conflicts --------------------------------------------------------------------------------


def conflicts_job(
    engine: Engine,
    batch_id: str | None,
    *,
    policy_file: Path | None = None,
    overrides: dict[str, Any] | None = None,
    actor: str,
) -> pd.DataFrame:
    """Find every conflicted (expert, proposal) pair with its reason chains and store them."""
    check_schema(engine)
    policy = load_policy(policy_file, **(overrides or {}))
    with session(engine) as s:
        batch = get_batch(s, batch_id)
    with batch_lock(engine, batch.batch_id), session(engine) as s, s.begin():
        tables = batch_tables(s, batch)
        found = find_conflicts(tables, batch_date=batch.batch_date, policy=policy)
        ids = list(tables["proposals"]["proposal_id"])
        ensure_open(s, batch.batch_id)
        s.execute(delete(Conflict).where(Conflict.proposal_id.in_(ids)))
        merged = (
            found.groupby(["proposal_id", "expert_id", "kind"], sort=False)["reason"]
            .agg(lambda r: join_stored(list(r)))
            .reset_index()
        )
        if len(merged):
            s.execute(insert(Conflict), merged.to_dict("records"))
        audit(
            s,
            actor=actor,
            command="conflicts",
            params={"batch": batch.batch_id, "policy": _policy_params(policy)},
            input_digest=digest({k: len(v) for k, v in tables.items()}),
            result_digest=digest(merged[["proposal_id", "expert_id", "kind"]].to_dict("split")),
            message=f"{merged[['proposal_id', 'expert_id']].drop_duplicates().shape[0]} pairs",
        )
    return found


def _policy_params(policy: ConflictPolicy) -> dict[str, Any]:
    return _params(vars(policy))


def stored_conflicts(session: Session, batch: Batch) -> pd.DataFrame:
    """The batch's stored conflict pairs; a clear error when conflicts were never computed."""
    ids = _batch_proposals(session, batch)
    rows = session.execute(
        select(Conflict.proposal_id, Conflict.expert_id, Conflict.kind).where(
            Conflict.proposal_id.in_(ids)
        )
    ).all()
    if not rows and not _audits(session, batch, "conflicts"):
        raise LookupError(
            _(
                "conflicts of batch {batch} are not computed yet; run `reviewopt conflicts`",
                batch=batch.batch_id,
            )
        )
    return pd.DataFrame(rows, columns=["proposal_id", "expert_id", "kind"])


def explain_job(
    engine: Engine,
    expert_id: str,
    proposal_id: str,
    *,
    policy_file: Path | None = None,
    overrides: dict[str, Any] | None = None,
) -> tuple[list[str], Explanation]:
    """The reason chains that conflict ``expert_id`` with ``proposal_id`` ([] if none), and
    the pair's specialty affinity with what it rests on (shared codes and terms)."""
    check_schema(engine)
    policy = load_policy(policy_file, **(overrides or {}))
    with session(engine) as s:
        prop = s.get(Proposal, proposal_id)
        if prop is None:
            raise LookupError(_("no proposal {id} in the database", id=repr(proposal_id)))
        batch = get_batch(s, prop.batch_id)
        tables = batch_tables(s, batch)
        try:  # the affinity is fitted on the same proposals and experts as an assignment run
            status = screening_statuses(s, batch)
            proposals = sorted({p for p, st in status.items() if st != "rejected"} | {proposal_id})
            experts = sorted(set(pool_experts(s, batch)) | {expert_id})
        except LookupError:
            proposals = sorted(tables["proposals"]["proposal_id"])
            experts = sorted(tables["experts"]["expert_id"])
    if expert_id not in set(tables["experts"]["expert_id"]):
        raise LookupError(_("no expert {id} in the database", id=repr(expert_id)))
    chains = explain(tables, expert_id, proposal_id, batch_date=batch.batch_date, policy=policy)
    model = fit_affinity(
        proposal_frame(tables, proposals),
        expert_frame(tables, experts),
        tables["guide"],
        tables.get("publications"),
    )
    return chains, explain_affinity(model, proposal_id, expert_id)
