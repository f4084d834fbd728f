"""The demo: a fresh SQLite database in a work folder, the 2024 catalogue, a generated batch, and
every stage in turn (screen → pool → conflicts → assign → simulated review → rank → select),
through the same jobs and the same validated imports a real batch goes through, then the batch
report (``report.html``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select

from assign.pipeline import AssignOptions
from assign.screening import RULES, SEVERITIES
from data.build_guide import load_guide
from data.generate import generate_batch, write_batch
from models import assign_jobs, jobs, screen_jobs, select_jobs
from models.db import make_engine, session
from models.report.write import write_report
from models.schema import Assignment, Finding, Planted, TruthExpert, TruthProposal
from scoring.simulate import simulate_reviews

DB_NAME = "reviewopt.db"
REPORT_NAME = "report.html"


def _planted_check(engine: Engine) -> dict[str, Any]:
    """The generator's planted breaks against the findings, by the rules' severities: reject
    plants found as rejects (and proposals rejected without one), warning plants (the funding
    limits, capped after review) found as warnings."""
    with session(engine) as s:
        planted = set(s.execute(select(Planted.proposal_id, Planted.rule)).all())
        found = s.execute(
            select(Finding.proposal_id, Finding.rule, Finding.severity).where(
                Finding.waived_by.is_(None)
            )
        ).all()
    rejected = {(p, r) for p, r, sev in found if sev == "reject"}
    warned = {(p, r) for p, r, sev in found if sev == "warn"}
    plants = {sev: {(p, r) for p, r in planted if RULES[r].severity == sev} for sev in SEVERITIES}
    planted_ids = {p for p, _ in plants["reject"]}
    rejected_ids = {p for p, _ in rejected}
    return {
        "planted": len(plants["reject"]),
        "planted_found": len(plants["reject"] & rejected),
        "unplanted_rejections": len(rejected_ids - planted_ids),
        "planted_warnings": len(plants["warn"]),
        "planted_warnings_found": len(plants["warn"] & warned),
    }


def _simulate_reviews(engine: Engine, run_id: int, workdir: Path, seed: int) -> Path:
    """Reviews of the invited experts, simulated from the ground truth, as a reviews.csv."""
    with session(engine) as s:
        pairs = pd.DataFrame(
            s.execute(
                select(Assignment.proposal_id, Assignment.expert_id)
                .where(Assignment.run_id == run_id, Assignment.status.in_(("invited", "accepted")))
                .order_by(Assignment.proposal_id, Assignment.expert_id)
            ).all(),
            columns=["proposal_id", "expert_id"],
        )
        truth_p = pd.DataFrame(
            s.execute(select(TruthProposal.proposal_id, TruthProposal.quality)).all(),
            columns=["proposal_id", "quality"],
        )
        truth_e = pd.DataFrame(
            s.execute(
                select(TruthExpert.expert_id, TruthExpert.leniency, TruthExpert.noise_sd)
            ).all(),
            columns=["expert_id", "leniency", "noise_sd"],
        )
    reviews = simulate_reviews(pairs, truth_p, truth_e, seed=seed)
    path = workdir / "reviews.csv"
    reviews.to_csv(path, index=False)
    return path


def run_demo(
    workdir: Path,
    *,
    seed: int = 0,
    n_experts: int = 3000,
    n_proposals: int | None = None,
    mode: str = "review",
    k: int = 5,
    max_probability: float | None = 0.5,
    reserve_ratio: float = 1.0,
    declines: int = 5,
    budget_per_direction_wan: float = 1800.0,
    actor: str = "demo",
    progress: Callable[[str, float], None] | None = None,
) -> dict[str, Any]:
    """Run every stage on a generated batch in ``workdir`` (``n_proposals`` None: 8–20 per
    direction); returns figures keyed by stage.

    The selection gives each programme a budget of ``budget_per_direction_wan`` per direction
    that has proposals (万元), so that budgets bind and the explanations have work to do.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    db = workdir / DB_NAME
    if db.exists():
        db.unlink()
    for extra in (workdir / f"{DB_NAME}-wal", workdir / f"{DB_NAME}-shm"):
        extra.unlink(missing_ok=True)
    out: dict[str, Any] = {"workdir": str(workdir), "database": f"sqlite:///{db}", "seed": seed}
    timings: dict[str, float] = {}
    t = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal t
        now = time.perf_counter()
        timings[stage] = round(now - t, 3)
        t = now

    engine = make_engine(f"sqlite:///{db}")
    try:
        jobs.init_db(engine)
        guide = load_guide()
        tables = generate_batch(guide, n_experts=n_experts, n_proposals=n_proposals, seed=seed)
        batch_dir = workdir / "batch"
        write_batch(tables, batch_dir)
        counts = jobs.import_all(engine, batch_dir, actor=actor)
        by_kind = {c.kind: c.created for c in counts}
        modes = guide["mode"].replace("", np.nan).value_counts().to_dict()
        out["catalogue"] = {
            "programmes": int(guide["programme"].nunique()),
            "directions": len(guide),
            "flagged": guide.loc[guide["note"].fillna("") != "", "code"].tolist(),
            "modes": modes,
        }
        out["batch"] = {
            "proposals": by_kind.get("proposals", 0),
            "experts": by_kind.get("experts", 0),
            "units": by_kind.get("units", 0),
            "people": by_kind.get("people", 0),
            "relations": by_kind.get("person_relations", 0),
            "directions_with_proposals": int(tables["proposals"]["direction_code"].nunique()),
        }
        lap("generate_and_import")

        result = screen_jobs.screen_job(engine, None, actor=actor)
        status = result.status["status"].value_counts()
        out["screen"] = {
            "proposals": len(result.status),
            "eligible": int(status.get("eligible", 0)),
            "warnings": int(status.get("warnings", 0)),
            "rejected": int(status.get("rejected", 0)),
            **_planted_check(engine),
        }
        lap("screen")

        aside = screen_jobs.pool_job(engine, None, filters=screen_jobs.PoolFilters(), actor=actor)
        out["pool"] = {"experts": by_kind.get("experts", 0), "set_aside": len(aside)}
        lap("pool")

        found = screen_jobs.conflicts_job(engine, None, actor=actor)
        unique = found.drop_duplicates(["proposal_id", "expert_id", "kind"])
        out["conflicts"] = {
            "pairs": int(found[["proposal_id", "expert_id"]].drop_duplicates().shape[0]),
            "by_reason": unique["kind"].value_counts().to_dict(),
        }
        lap("conflicts")

        spec = assign_jobs.RunSpec(
            mode=mode,
            options=AssignOptions(k=k),
            max_probability=max_probability if mode == "review" else None,
            reserve_ratio=reserve_ratio if mode == "review" else 0.0,
            seed=seed,
        )
        outcome = assign_jobs.assign_job(engine, None, spec=spec, actor=actor, progress=progress)
        s = outcome.summary
        out["assign"] = {
            "run_id": outcome.run_id,
            "mode": mode,
            "proposals": outcome.problem.n_proposals,
            "k": k,
            "status": s["status"],
            "objective": s.get("total_affinity", s.get("objective")),
            "conflicts_violated": s.get("conflicts_violated", 0),
            "min_proposal_affinity": s.get("min_proposal_affinity"),
            **{
                key: s[key]
                for key in (
                    "max_probability",
                    "expected_objective",
                    "reserves",
                    "panels",
                    "min_non_conflicted_members",
                )
                if key in s
            },
        }
        lap("assign")
        if mode != "review":
            out["report"] = write_report(engine, None, workdir / REPORT_NAME).as_dict()
            out["timings_s"] = timings
            return out

        if declines:
            with session(engine) as ses:
                invited = ses.execute(
                    select(Assignment.proposal_id, Assignment.expert_id)
                    .where(Assignment.run_id == outcome.run_id, Assignment.status == "invited")
                    .order_by(Assignment.proposal_id, Assignment.expert_id)
                ).all()
            rng = np.random.default_rng(seed)
            picks = rng.choice(len(invited), size=min(declines, len(invited)), replace=False)
            declined = [tuple(invited[i]) for i in sorted(picks)]
            rep = assign_jobs.replace_job(engine, None, declined, actor=actor)  # type: ignore[arg-type]
            out["replace"] = {
                "declined": len(rep.declined),
                "from_reserve": sum(1 for a in rep.added if a[2] == "reserve"),
                "re_solved": sum(1 for a in rep.added if a[2] != "reserve"),
                "unfilled": len(rep.unfilled),
            }
            lap("replace")

        reviews = _simulate_reviews(engine, outcome.run_id, workdir, seed)
        imported = jobs.import_kind(engine, "reviews", reviews, actor=actor)
        out["review"] = {"reviews": imported.created, "file": str(reviews)}
        lap("review")

        ranked, accuracy = jobs.rank_job(engine, None, seed=seed, actor=actor)
        out["rank"] = {
            "method": ranked.method,
            "proposals": int((ranked.proposals["n_reviews"] > 0).sum()),
            "leniency_identifiable": ranked.diagnostics.leniency_identifiable,
            **(accuracy or {}),
        }
        lap("rank")

        props = tables["proposals"].merge(
            guide[["code", "programme"]], left_on="direction_code", right_on="code"
        )
        per_programme = props.groupby("programme")["direction_code"].nunique()
        budgets = {str(p): float(n * budget_per_direction_wan) for p, n in per_programme.items()}
        chosen = select_jobs.select_job(
            engine,
            None,
            given={"programme_budgets_wan": budgets, "seed": seed},
            actor=actor,
            progress=progress,
        )
        t_sel = chosen.result.table
        funded = t_sel[t_sel["selected"]]
        out["select"] = {
            "status": str(chosen.result.status),
            "funded": int(len(funded)),
            "directions_funded": int(funded["direction_code"].nunique()),
            "grants_total_wan": int(chosen.result.grants_total_wan),
            "budget_wan": chosen.budget_wan,
            "alternates": int(t_sel["alternate_rank"].notna().sum()),
            "policy": chosen.result.policy,
            "inversions": chosen.result.inversions,
            "funded_list": [
                [r.proposal_id, r.direction_code, int(r.grant_wan)] for r in funded.itertuples()
            ],
        }
        lap("select")
        out["report"] = write_report(engine, None, workdir / REPORT_NAME).as_dict()
        lap("report")
    finally:
        engine.dispose()
    out["timings_s"] = timings
    return out
