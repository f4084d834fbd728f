"""From reviews to decisions: rank, select, override, finalize and unlock."""

from __future__ import annotations

import click
import pandas as pd

from models import jobs, names, select_jobs
from models.db import describe_lock
from models.i18n import N_, _
from scoring.calibrate import METHODS
from scripts.context import Ctx, batch_option, domain_errors, pass_ctx
from scripts.output import (
    EXIT_INFEASIBLE,
    EXIT_USAGE,
    CliError,
    Report,
    TableOut,
    output_options,
)

# --- scoring ----------------------------------------------------------------------------------


@click.command()
@batch_option
@click.option(
    "--method",
    type=click.Choice(list(METHODS)),
    default=jobs.DEFAULT_METHOD,
    show_default=True,
    help="Calibration method (the README's accuracy table compares them).",
)
@click.option(
    "--draws",
    type=click.IntRange(0),
    default=200,
    show_default=True,
    help="Posterior or bootstrap draws.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed (recorded).")
@click.option(
    "--top", type=click.IntRange(1), default=5, show_default=True, help="Rows shown per direction."
)
@click.option(
    "--weight-confidence",
    is_flag=True,
    help="Weight each review by the expert's stated confidence (熟悉程度).",
)
@output_options
@pass_ctx
@domain_errors
def rank(
    ctx: Ctx,
    batch_id: str | None,
    method: str,
    draws: int,
    seed: int,
    top: int,
    weight_confidence: bool,
) -> Report:
    """Calibrate the reviews and rank proposals per direction with 80 % rank intervals."""
    result, accuracy = jobs.rank_job(
        ctx.engine,
        batch_id,
        method=method,
        n_draws=draws,
        seed=seed,
        weight_confidence=weight_confidence,
        actor=ctx.actor,
    )
    props = result.proposals.assign(neg_score=-result.proposals["score"]).sort_values(
        ["direction_code", "expected_rank", "neg_score", "proposal_id"]
    )
    shown = props.groupby("direction_code").head(top)
    experts = result.experts.dropna(subset=["leniency"]).sort_values("leniency")
    ends = pd.concat([experts.head(5), experts.tail(5)])
    known = names.lookup(ctx.engine, people=ends["expert_id"], directions=shown["direction_code"])
    rows = [
        [
            known.direction_label(r.direction_code),
            r.proposal_id,
            r.score,
            r.se,
            r.expected_rank,
            f"{r.rank_lo:g}–{r.rank_hi:g}",
            r.n_reviews,
        ]
        for r in shown.itertuples()
    ]
    lenient = [
        [
            r.expert_id,
            known.person(r.expert_id),
            r.leniency,
            f"{r.leniency_lo:.1f}–{r.leniency_hi:.1f}",
            r.n_reviews,
        ]
        for r in ends.itertuples()
    ]
    d = result.diagnostics
    data = {
        "method": method,
        "proposals": int((props["n_reviews"] > 0).sum()),
        "leniency_identifiable": d.leniency_identifiable,
        "leniency_estimated": d.leniency_estimated,
        "weight_confidence": weight_confidence,
        "components": d.n_components,
        "notes": [n.render("en") for n in d.notes],
        **(
            {"kendall_tau": accuracy["kendall_tau"], "regret": accuracy["regret"]}
            if accuracy
            else {}
        ),
    }
    lines = [
        _(
            "method {method}; leniency identifiable: {state} ({n} component(s))",
            method=method,
            state=_(_IDENTIFIABLE[d.leniency_identifiable]),
            n=d.n_components,
        ),
        *(f"- {n}" for n in d.notes),
    ]
    if accuracy:
        lines.append(
            f"against the ground truth: Kendall tau {accuracy['kendall_tau']:.3f}, "
            f"regret {accuracy['regret']:.2f} points"
        )
    tables = [
        TableOut(
            f"Calibrated ranking ({method}), top {top} per direction",
            ["direction", "proposal", "score", "se", "E[rank]", "80% rank", "reviews"],
            rows,
        )
    ]
    if d.leniency_estimated:
        tables.append(
            TableOut(
                "Most severe and most lenient experts",
                ["expert", _("name"), "leniency", "80% interval", "reviews"],
                lenient,
            )
        )
    return Report(data, tables=tables, lines=lines)


_IDENTIFIABLE = {
    "global": N_("global (one review graph)"),
    "within_components": N_("within components only"),
    "none": N_("none (no expert reviewed two proposals)"),
}


@click.command("select")
@batch_option
@click.option("--budget", type=click.FloatRange(0), help="Total provincial budget (万元).")
@click.option(
    "--programme-budget",
    multiple=True,
    metavar="PROGRAMME=WAN",
    help="Budget of one programme (万元; repeat), e.g. 人工智能=12000.",
)
@click.option(
    "--quality-floor", type=float, default=60.0, show_default=True, help="Lowest fundable merit."
)
@click.option(
    "--min-grant-share",
    type=click.FloatRange(0, 1),
    default=1.0,
    show_default=True,
    help="Grants may be cut to this share of the allowed request (1 = no cuts).",
)
@click.option(
    "--youth-share", type=click.FloatRange(0, 1), help="Least share of young-led projects funded."
)
@click.option(
    "--related/--no-related",
    default=True,
    show_default=True,
    help="At most one funded project per group of related lead units.",
)
@click.option(
    "--method",
    type=click.Choice(list(METHODS)),
    default=jobs.DEFAULT_METHOD,
    show_default=True,
    help="Calibration whose scores are the merit.",
)
@click.option(
    "--draws",
    type=click.IntRange(0),
    default=200,
    show_default=True,
    help="Merit draws for P(selected).",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seed of draws and lottery (recorded)."
)
@click.option(
    "--lottery", is_flag=True, help="Seeded, audited lottery for the grey zone's contested places."
)
@output_options
@pass_ctx
@domain_errors
def select_cmd(
    ctx: Ctx,
    batch_id: str | None,
    budget: float | None,
    programme_budget: tuple[str, ...],
    quality_floor: float,
    min_grant_share: float,
    youth_share: float | None,
    related: bool,
    method: str,
    draws: int,
    seed: int,
    lottery: bool,
) -> Report:
    """Select 1–2 projects per direction and their grants within budget (proven optimal)."""
    budgets: dict[str, float] = {}
    for item in programme_budget:
        name, _eq, val = item.partition("=")
        try:
            budgets[name] = float(val)
        except ValueError:
            raise CliError(
                f"--programme-budget takes PROGRAMME=WAN, got {item!r}", EXIT_USAGE
            ) from None
    options = select_jobs.SelectOptions(
        budget_wan=budget, programme_budgets_wan=budgets, quality_floor=quality_floor,
        min_grant_share=min_grant_share, youth_min_share=youth_share, related_exclusive=related,
        method=method, draws=draws, seed=seed, lottery=lottery,
    )  # fmt: skip
    out = select_jobs.select_job(ctx.engine, batch_id, options=options, actor=ctx.actor)
    known = names.lookup(ctx.engine, directions=out.result.table["direction_code"])
    return _select_report(out, known)


def _select_report(out: select_jobs.SelectOutcome, known: names.Names) -> Report:
    r = out.result
    if r.status in ("infeasible", "unknown"):
        return Report(
            {"status": str(r.status), "diagnosis": list(r.diagnosis)},
            lines=[f"no selection ({r.status}):", *(f"  - {d}" for d in r.diagnosis)],
            exit_code=EXIT_INFEASIBLE,
        )
    t = r.table
    funded = t[t["selected"]]
    data = {
        "status": str(r.status),
        "funded": int(len(funded)),
        "directions_funded": int(funded["direction_code"].nunique()),
        "grants_total_wan": int(r.grants_total_wan),
        "budget_wan": out.budget_wan,
        "objective": r.objective,
        "gap": r.gap,
        "wall_s": r.wall_s,
        "lottery": None if out.lottery is None else int(out.lottery["wins"].sum()),
    }
    rows = [
        [
            known.direction_label(x.direction_code),
            x.proposal_id,
            x.merit,
            x.grant_wan,
            out.p_selected.get(x.proposal_id),
        ]
        for x in funded.itertuples()
    ]
    use = [list(u) for u in r.programme_use.itertuples(index=False)]
    near = t[(~t["selected"]) & t["alternate_rank"].notna()].sort_values(
        ["direction_code", "alternate_rank"]
    )
    alt = [
        [
            known.direction_label(x.direction_code),
            int(x.alternate_rank),
            x.proposal_id,
            x.explanation,
        ]
        for x in near.itertuples()
    ]
    return Report(
        data,
        tables=[
            TableOut(
                "Funded", ["direction", "proposal", "merit", "grant 万元", "P(selected)"], rows
            ),
            TableOut("Budget use by programme", list(r.programme_use.columns), use),
            TableOut(
                "Alternates (备选)", ["direction", "rank", "proposal", "why not funded"], alt[:40]
            ),
        ],
        lines=[
            f"{r.status}: {data['funded']} projects in {data['directions_funded']} directions, "
            f"{data['grants_total_wan']}万 granted"
            + (f" of {out.budget_wan:g}万" if out.budget_wan else "")
            + ". Explanations: `reviewopt export decisions`."
        ],
    )


@click.command()
@click.argument("proposal")
@click.argument("action", type=click.Choice(["force_in", "force_out", "clear"]))
@click.option("--reason", required=True, help="Why (recorded with your name).")
@output_options
@pass_ctx
@domain_errors
def override(ctx: Ctx, proposal: str, action: str, reason: str) -> Report:
    """Force PROPOSAL in or out of the funded list (or clear that), with a reason (audited)."""
    select_jobs.override_job(ctx.engine, proposal, action, reason=reason, actor=ctx.actor)
    return Report(
        {"proposal": proposal, "action": action, "actor": ctx.actor},
        lines=[
            f"{action} {proposal} recorded for {ctx.actor}; run `reviewopt select` to apply it."
        ],
    )


@click.command()
@batch_option
@output_options
@pass_ctx
@domain_errors
def finalize(ctx: Ctx, batch_id: str | None) -> Report:
    """Lock the batch's decisions; later changes need `reviewopt unlock --reason`."""
    batch = select_jobs.finalize_job(ctx.engine, batch_id, actor=ctx.actor)
    return Report(
        {
            "batch": batch.batch_id,
            "finalized_by": batch.finalized_by,
            "finalized_at": str(batch.finalized_at),
        },
        lines=[f"batch {batch.batch_id} finalised by {batch.finalized_by} at {batch.finalized_at}"],
    )


@click.command()
@batch_option
@click.option("--reason", help="Why the final decisions must change (recorded).")
@click.option(
    "--stale",
    is_flag=True,
    help="Instead: clear the batch's run lock whose holder is gone (audited).",
)
@output_options
@pass_ctx
@domain_errors
def unlock(ctx: Ctx, batch_id: str | None, reason: str | None, stale: bool) -> Report:
    """Reopen a finalised batch, with a reason (audited)."""
    if stale:
        lock = jobs.clear_stale_lock_job(ctx.engine, batch_id, actor=ctx.actor)
        return Report(
            {
                "batch": lock.batch_id,
                "cleared_lock": lock.holder,
                "host": lock.host,
                "pid": lock.pid,
                "command": lock.command,
            },  # fmt: skip
            lines=[
                _(
                    "stale lock of batch {batch} cleared ({holder})",
                    batch=lock.batch_id,
                    holder=describe_lock(lock),
                )
            ],  # fmt: skip
        )
    if not reason:
        raise CliError(_("give --reason TEXT (why the final decisions must change)"), EXIT_USAGE)
    batch = select_jobs.unlock_job(ctx.engine, batch_id, reason=reason, actor=ctx.actor)
    return Report(
        {"batch": batch.batch_id, "unlocked_by": ctx.actor},
        lines=[f"batch {batch.batch_id} reopened"],
    )
