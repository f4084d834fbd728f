"""Assignment jobs: correspondence review (exact, fair or a capped random draw, with reserves),
panel formation, and replacement of experts who decline. The problem is rebuilt from the
database the same way every time (affinity is deterministic, conflicts and the pool are stored),
so a replacement works on exactly the problem the run solved.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, insert, select, update
from sqlalchemy.orm import Session

from assign.affinity import AffinityModel
from assign.affinity_file import load_affinity_file
from assign.certify import solve_certified
from assign.draw import draw_summary
from assign.fair import fair_summary, solve_fair
from assign.panels import PanelResult, solve_panels
from assign.pipeline import AssignOptions, build_problem, draw_widening, panel_problem
from assign.problem import AssignmentProblem, Status
from assign.reserves import Reserves, draw_reserves
from assign.reserves import replace as replace_declined
from assign.result import AssignmentResult
from assign.solver import quality_summary, solve
from models.db import audit, batch_lock, check_schema, digest, get_batch, now, session
from models.finalisation import ensure_open
from models.i18n import _
from models.io import read_panel_groups
from models.problems import Infeasible
from models.schema import (
    Assignment,
    AssignmentRun,
    Batch,
    GuideDirection,
    PanelMember,
    PanelProposal,
)
from models.screen_jobs import batch_tables, pool_experts, screening_statuses, stored_conflicts


@dataclass(frozen=True)
class RunSpec:
    """Everything that defines an assignment run (stored with it, so it can be rebuilt)."""

    mode: str = "review"  # review | panel
    options: AssignOptions = field(default_factory=AssignOptions)
    max_probability: float | None = None  # randomised draw with this cap on any pair
    fair: bool = False
    time_limit_s: float = 60.0  # the fair search's time limit
    reserve_ratio: float = 0.0
    seed: int = 0
    panel_by: str = "direction"
    panel_groups: dict[str, str] = field(default_factory=dict)  # direction code → group
    affinity_file: str | None = None  # proposal,expert,score computed elsewhere
    panel_size: int = 7
    panel_min: int = 5
    panel_industry: int = 0
    panel_finance: int = 0

    def params(self) -> dict[str, Any]:
        d = asdict(self)
        d["options"]["k_by_direction"] = dict(self.options.k_by_direction)
        d["options"]["k_by_proposal"] = dict(self.options.k_by_proposal)
        return d

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> RunSpec:
        p = dict(params)
        p["options"] = AssignOptions(**p["options"])
        return cls(**p)


@dataclass(frozen=True)
class AssignOutcome:
    run_id: int
    spec: RunSpec
    problem: AssignmentProblem
    result: AssignmentResult | None
    summary: dict[str, Any]
    panels: PanelResult | None = None


def _problem(
    s: Session,
    batch: Batch,
    spec: RunSpec,
    progress: Callable[[str, float], None] | None,
) -> tuple[AssignmentProblem, AffinityModel | None, dict[str, pd.DataFrame]]:
    status = screening_statuses(s, batch)
    proposals = sorted(p for p, st in status.items() if st != "rejected")
    experts = pool_experts(s, batch)
    conflicts = stored_conflicts(s, batch)
    tables = batch_tables(s, batch)
    given = (
        None
        if spec.affinity_file is None
        else load_affinity_file(
            spec.affinity_file,
            proposal_ids=sorted(status),
            expert_ids=tables["experts"]["expert_id"].tolist(),
        )
    )
    problem, model = build_problem(
        tables,
        proposal_ids=proposals,
        expert_ids=experts,
        conflicts=conflicts,
        options=spec.options,
        affinity=given,
        progress=progress,
    )
    return problem, model, tables


def _solve_review(
    problem: AssignmentProblem,
    model: AffinityModel | None,
    spec: RunSpec,
    progress: Callable[[str, float], None] | None,
) -> tuple[AssignmentProblem, AssignmentResult, np.ndarray | None, dict[str, Any]]:
    """The problem solved (a draw may widen the candidates), the assignment, the pair
    marginals (randomised mode) and mode-specific figures.

    The exact mode is certified against every (expert, proposal) pair of the affinity model,
    not only the candidates (with an officer's affinity file, the file's pairs are the
    candidates); the draw and the fair mode work on the candidates."""
    extra: dict[str, Any] = {}
    if spec.max_probability is not None:
        problem, draw = draw_widening(problem, model, q=spec.max_probability, seed=spec.seed)
        extra = draw_summary(draw)
        return problem, draw.assignment, draw.marginals, extra
    if spec.fair:
        fair = solve_fair(problem, time_limit_s=spec.time_limit_s)
        extra = fair_summary(fair)
        return problem, fair.assignment, None, extra
    if model is None:
        return problem, solve(problem, progress=progress), None, extra
    return problem, solve_certified(problem, model, progress=progress), None, extra


def assign_job(
    engine: Engine,
    batch_id: str | None,
    *,
    spec: RunSpec,
    actor: str,
    panel_groups_file: Path | None = None,
    progress: Callable[[str, float], None] | None = None,
) -> AssignOutcome:
    """Solve an assignment run for the batch and store it (invitations, reserves, panels).

    panel_groups_file: an officer's ``direction_code,group`` CSV for panel mode (stored in the
    run's parameters as a mapping).
    """
    check_schema(engine)
    with session(engine) as s:
        batch = get_batch(s, batch_id)
        if panel_groups_file is not None:
            codes = set(s.scalars(select(GuideDirection.code)))
            spec = replace(spec, panel_groups=read_panel_groups(panel_groups_file, codes))
    with batch_lock(engine, batch.batch_id), session(engine) as s, s.begin():
        problem, model, tables = _problem(s, batch, spec, progress)
        if spec.mode == "panel":
            return _panel_run(s, batch, spec, problem, tables, actor, progress)
        problem, result, marginals, extra = _solve_review(problem, model, spec, progress)
        if result.status in (Status.INFEASIBLE, Status.UNKNOWN):
            raise Infeasible(
                f"no assignment for batch {batch.batch_id} ({result.status}):\n"
                + "\n".join(f"  - {d}" for d in result.diagnosis)
            )
        summary = {**quality_summary(problem, result), **extra, "wall_s": result.wall_s}
        reserves = (
            draw_reserves(
                problem,
                result,
                ratio=spec.reserve_ratio,
                seed=spec.seed if spec.max_probability is not None else None,
            )
            if spec.reserve_ratio > 0
            else None
        )
        if reserves is not None:
            summary["reserves"] = int(len(reserves.res_p))
            summary["reserve_shortfall"] = list(reserves.shortfall)
        run = _new_run(s, batch, spec, result.status, result, summary, actor)
        _store_pairs(s, run.run_id, problem, result, marginals, reserves)
        _audit_run(s, run, problem, actor)
    return AssignOutcome(run.run_id, spec, problem, result, summary)


def _new_run(
    s: Session,
    batch: Batch,
    spec: RunSpec,
    status: Status,
    result: AssignmentResult | None,
    summary: dict[str, Any],
    actor: str,
) -> AssignmentRun:
    ensure_open(s, batch.batch_id)
    run = AssignmentRun(
        batch_id=batch.batch_id,
        mode=spec.mode,
        params=spec.params(),
        seed=spec.seed,
        status=str(status),
        objective=result.objective if result else summary.get("objective"),
        bound=_finite(result.bound) if result else summary.get("bound"),
        gap=_finite(result.gap) if result else summary.get("gap"),
        summary=_plain(summary),
        created_at=now(),
        actor=actor,
    )
    s.add(run)
    s.flush()
    return run


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def _plain(obj: Any) -> Any:
    """JSON-able copy (numpy scalars to Python, NaN to None)."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


def _store_pairs(
    s: Session,
    run_id: int,
    problem: AssignmentProblem,
    result: AssignmentResult,
    marginals: np.ndarray | None,
    reserves: Reserves | None,
) -> None:
    pid, eid = problem.proposal_ids, problem.expert_ids
    prob: dict[tuple[int, int], float] = {}
    if marginals is not None:
        prob = {
            (int(p), int(e)): float(m)
            for p, e, m in zip(problem.cand_p, problem.cand_e, marginals, strict=True)
            if m > 0
        }
    rows = [
        {
            "run_id": run_id,
            "proposal_id": pid[p],
            "expert_id": eid[e],
            "affinity": float(w),
            "status": "invited",
            "reserve_rank": None,
            "probability": prob.get((int(p), int(e))),
        }
        for p, e, w in zip(result.pair_p, result.pair_e, result.pair_w, strict=True)
    ]
    if reserves is not None:
        rows += [
            {
                "run_id": run_id,
                "proposal_id": pid[p],
                "expert_id": eid[e],
                "affinity": float(w),
                "status": "reserve",
                "reserve_rank": int(r) + 1,
                "probability": prob.get((int(p), int(e))),
            }
            for p, e, w, r in zip(
                reserves.res_p, reserves.res_e, reserves.res_w, reserves.rank, strict=True
            )
        ]
    if rows:
        s.execute(insert(Assignment), rows)


def _audit_run(s: Session, run: AssignmentRun, problem: AssignmentProblem, actor: str) -> None:
    audit(
        s,
        actor=actor,
        command="assign",
        params={"batch": run.batch_id, "run_id": run.run_id, **run.params},
        seed=run.seed,
        input_digest=digest(
            {
                "proposals": problem.proposal_ids,
                "experts": problem.expert_ids,
                "candidates": [problem.cand_p.tolist(), problem.cand_e.tolist()],
                "weights": np.round(problem.cand_w, 9).tolist(),
            }
        ),
        result_digest=run_digest(s, run.run_id),
        message=f"run {run.run_id}: {run.mode}, {run.status}, objective {run.objective}",
    )


def run_digest(s: Session, run_id: int) -> str:
    """Digest of what a run stored: its pairs with their roles (status, reserve rank) and its
    panels with their leaders; never timings, so identical seeded runs digest alike."""
    pairs = s.execute(
        select(
            Assignment.proposal_id, Assignment.expert_id, Assignment.status, Assignment.reserve_rank
        )
        .where(Assignment.run_id == run_id)
        .order_by(Assignment.proposal_id, Assignment.expert_id)
    ).all()
    panels = s.execute(
        select(PanelMember.group_id, PanelMember.expert_id, PanelMember.leader)
        .where(PanelMember.run_id == run_id)
        .order_by(PanelMember.group_id, PanelMember.expert_id)
    ).all()
    return digest({"pairs": [list(r) for r in pairs], "panels": [list(r) for r in panels]})


def _panel_run(
    s: Session,
    batch: Batch,
    spec: RunSpec,
    problem: AssignmentProblem,
    tables: dict[str, pd.DataFrame],
    actor: str,
    progress: Callable[[str, float], None] | None = None,
) -> AssignOutcome:
    tick = progress or (lambda stage, fraction: None)
    tick("panels", 0.1)
    pp = panel_problem(
        problem,
        tables,
        by=spec.panel_by,
        groups=spec.panel_groups,
        n=spec.panel_size,
        n_min=spec.panel_min,
        min_industry=spec.panel_industry,
        min_finance=spec.panel_finance,
    )
    tick("panels", 0.3)
    res = solve_panels(pp, seed=spec.seed)
    tick("panels", 1.0)
    if res.status in (Status.INFEASIBLE, Status.UNKNOWN):
        raise Infeasible(
            f"no panels for batch {batch.batch_id} ({res.status}):\n"
            + "\n".join(f"  - {d}" for d in res.diagnosis)
        )
    summary = {
        "status": str(res.status),
        "objective": res.objective,
        "bound": res.bound,
        "gap": res.gap,
        "wall_s": res.wall_s,
        "panels": len(res.panels),
        "panel_size": spec.panel_size,
        "min_non_conflicted_members": int(min(res.members_per_proposal.values(), default=0)),
    }
    run = _new_run(s, batch, spec, res.status, None, summary, actor)
    s.execute(
        insert(PanelMember),
        [
            {
                "run_id": run.run_id,
                "group_id": g,
                "expert_id": e,
                "leader": e == res.leaders.get(g),
            }
            for g, members in res.panels.items()
            for e in members
        ],
    )
    s.execute(
        insert(PanelProposal),
        [
            {"run_id": run.run_id, "group_id": pp.group_ids[g], "proposal_id": p}
            for p, g in zip(pp.proposal_ids, pp.proposal_group.tolist(), strict=True)
        ],
    )
    _audit_run(s, run, problem, actor)
    return AssignOutcome(run.run_id, spec, problem, None, summary, panels=res)


# --- replacement ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReplaceOutcome:
    run_id: int
    declined: list[tuple[str, str]]
    added: list[tuple[str, str, str]]  # proposal, expert, source (reserve | re-solve)
    unfilled: list[tuple[str, int]]
    diagnosis: list[str]


def replace_job(
    engine: Engine,
    batch_id: str | None,
    declined: list[tuple[str, str]],
    *,
    actor: str,
) -> ReplaceOutcome:
    """Replace experts who declined (reserves first, else a re-solve of the open slots only)."""
    check_schema(engine)
    with session(engine) as s:
        batch = get_batch(s, batch_id)
    with batch_lock(engine, batch.batch_id), session(engine) as s, s.begin():
        run = s.scalars(
            select(AssignmentRun)
            .where(
                AssignmentRun.batch_id == batch.batch_id,
                AssignmentRun.mode.in_(("review", "external")),
            )
            .order_by(AssignmentRun.run_id.desc())
        ).first()
        if run is None:
            raise LookupError(
                _(
                    "batch {batch} has no assignment run; run `reviewopt assign`",
                    batch=batch.batch_id,
                )
            )
        if run.mode == "external":
            raise LookupError(
                _(
                    "the latest assignment of batch {batch} (run {run}) was made outside "
                    "reviewopt; record declines and their replacements by importing its file "
                    "again with the new statuses (`reviewopt import assignments FILE`)",
                    batch=batch.batch_id,
                    run=run.run_id,
                )
            )
        spec = RunSpec.from_params(run.params)
        problem, _model, _tables = _problem(s, batch, spec, None)
        p_index = {p: i for i, p in enumerate(problem.proposal_ids)}
        e_index = {e: i for i, e in enumerate(problem.expert_ids)}
        rows = list(s.scalars(select(Assignment).where(Assignment.run_id == run.run_id)))
        current = [r for r in rows if r.status in ("invited", "accepted")]
        cur_set = {(r.proposal_id, r.expert_id) for r in current}
        unknown = [f"{p}/{e}" for p, e in declined if (p, e) not in cur_set]
        if unknown:
            raise ValueError(
                _(
                    "not a current invitation of run {run}: {pairs}; see `reviewopt export "
                    "assignments`",
                    run=run.run_id,
                    pairs=", ".join(unknown),
                )
            )

        def idx(pairs: list[tuple[str, str]]) -> np.ndarray:
            return np.array([(p_index[p], e_index[e]) for p, e in pairs], dtype=np.int64).reshape(
                -1, 2
            )

        reserve_rows = [r for r in rows if r.status == "reserve"]
        reserves = Reserves(
            proposal_ids=problem.proposal_ids,
            expert_ids=problem.expert_ids,
            res_p=np.array([p_index[r.proposal_id] for r in reserve_rows], dtype=np.int64),
            res_e=np.array([e_index[r.expert_id] for r in reserve_rows], dtype=np.int64),
            res_w=np.array([r.affinity for r in reserve_rows], dtype=float),
            rank=np.array([(r.reserve_rank or 1) - 1 for r in reserve_rows], dtype=np.int64),
            ratio=spec.reserve_ratio,
            seed=spec.seed,
        )
        earlier = [
            (r.proposal_id, r.expert_id) for r in rows if r.status in ("declined", "replaced")
        ]
        res = replace_declined(
            problem,
            idx([(r.proposal_id, r.expert_id) for r in current]),
            idx(declined),
            reserves,
            seed=spec.seed,
            excluded=idx(earlier),
            q=spec.max_probability,
        )
        pid, eid = problem.proposal_ids, problem.expert_ids
        ensure_open(s, batch.batch_id)
        for p, e in declined:
            s.execute(
                update(Assignment)
                .where(
                    Assignment.run_id == run.run_id,
                    Assignment.proposal_id == p,
                    Assignment.expert_id == e,
                )
                .values(status="declined")
            )
        added: list[tuple[str, str, str]] = []
        weights = dict(
            zip(
                zip(problem.cand_p.tolist(), problem.cand_e.tolist(), strict=True),
                problem.cand_w.tolist(),
                strict=True,
            )
        )
        for source, pairs in (("reserve", res.from_reserve), ("re-solve", res.from_resolve)):
            for p, e in np.asarray(pairs).reshape(-1, 2):
                key = (pid[int(p)], eid[int(e)])
                added.append((*key, source))
                existing = s.scalars(
                    select(Assignment).where(
                        Assignment.run_id == run.run_id,
                        Assignment.proposal_id == key[0],
                        Assignment.expert_id == key[1],
                    )
                ).first()
                if existing is not None:
                    existing.status, existing.reserve_rank = "invited", None
                else:
                    s.add(
                        Assignment(
                            run_id=run.run_id,
                            proposal_id=key[0],
                            expert_id=key[1],
                            affinity=weights.get((int(p), int(e)), 0.0),
                            status="invited",
                        )
                    )
        audit(
            s,
            actor=actor,
            command="replace",
            params={"batch": batch.batch_id, "run_id": run.run_id, "declined": declined},
            seed=spec.seed,
            result_digest=run_digest(s, run.run_id),
            message=f"{len(declined)} declined, {len(added)} invited",
        )
    return ReplaceOutcome(
        run.run_id,
        declined,
        added,
        [(str(p), int(n)) for p, n in res.unfilled],
        list(res.diagnosis),
    )
