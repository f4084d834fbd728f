"""From reviews to decisions: rank, select, override, finalize and unlock."""

from __future__ import annotations

import click
import pandas as pd
from click.core import ParameterSource

from models import jobs, names, select_jobs
from models.db import describe_lock
from models.figures import value_text, word
from models.i18n import N_, _
from scoring.calibrate import METHODS
from scoring.select import POLICIES
from scripts.context import Ctx, batch_option, domain_errors, pass_ctx
from scripts.help_text import command
from scripts.output import (
    EXIT_INFEASIBLE,
    EXIT_USAGE,
    CliError,
    Report,
    TableOut,
    output_options,
    progress_bar,
)

# --- scoring ----------------------------------------------------------------------------------


@command(
    help=N_("Calibrate the reviews and rank proposals per direction with 80 % rank intervals.")
)
@batch_option
@click.option(
    "--method",
    type=click.Choice(list(METHODS)),
    default=jobs.DEFAULT_METHOD,
    show_default=True,
    help=N_("Calibration method (the README's accuracy table compares them)."),
)
@click.option(
    "--draws",
    type=click.IntRange(0),
    default=200,
    show_default=True,
    help=N_("Posterior or bootstrap draws."),
)
@click.option("--seed", type=int, default=0, show_default=True, help=N_("Random seed (recorded)."))
@click.option(
    "--top",
    type=click.IntRange(1),
    default=5,
    show_default=True,
    help=N_("Rows shown per direction."),
)
@click.option(
    "--weight-confidence",
    is_flag=True,
    help=N_("Weight each review by the expert's stated confidence (熟悉程度)."),
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
    with progress_bar() as progress:
        progress(_("calibrating"), 0.0)
        result, accuracy = jobs.rank_job(
            ctx.engine,
            batch_id,
            method=method,
            n_draws=draws,
            seed=seed,
            weight_confidence=weight_confidence,
            actor=ctx.actor,
        )
        progress(_("calibrating"), 1.0)
    props = result.proposals.sort_values(
        ["direction_code", "score", "proposal_id"],
        ascending=[True, False, True],
        na_position="last",
    )
    shown = props.groupby("direction_code").head(top)
    experts = result.experts.dropna(subset=["leniency"]).sort_values("leniency")
    ends = pd.concat([experts.head(5), experts.tail(5)])
    known = names.lookup(ctx.engine, people=ends["expert_id"], directions=shown["direction_code"])
    rows = [
        [
            known.direction_label(r.direction_code),
            r.proposal_id,
            _dash(r.score),
            _dash(r.se),
            _dash(r.expected_rank, "{:.1f}"),
            "—" if pd.isna(r.rank_lo) else f"{r.rank_lo:g}–{r.rank_hi:g}",
            r.n_reviews,
        ]
        for r in shown.itertuples()
    ]
    lenient = [
        [
            r.expert_id,
            known.person(r.expert_id),
            _dash(r.leniency),
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
            method=word(method),
            state=word(d.leniency_identifiable),
            n=d.n_components,
        ),
        *(f"- {n}" for n in d.notes),
    ]
    unreviewed = int((props["n_reviews"] == 0).sum())
    if unreviewed:
        lines.append(_("{n} proposals have no reviews (shown as —).", n=unreviewed))
    if accuracy:
        lines.append(
            _(
                "Against the ground truth: Kendall tau {tau:.3f}, regret {regret:.2f} points.",
                tau=accuracy["kendall_tau"],
                regret=accuracy["regret"],
            )
        )
    tables = [
        TableOut(
            _(
                "Calibrated ranking ({method}), top {top} per direction by score",
                method=word(method),
                top=top,
            ),
            [
                _("direction"),
                _("proposal"),
                _("score"),
                _("se"),
                _("expected rank"),
                _("80% rank interval"),
                _("reviews"),
            ],
            rows,
        )
    ]
    if d.leniency_estimated:
        tables.append(
            TableOut(
                _("Most severe and most lenient experts"),
                [_("expert"), _("name"), _("leniency"), _("80% interval"), _("reviews")],
                lenient,
            )
        )
    return Report(data, tables=tables, lines=lines)


OPTION_NAMES = {
    "policy": "--policy",
    "budget_wan": "--budget",
    "programme_budgets_wan": "--programme-budget",
    "quality_floor": "--quality-floor",
    "min_grant_share": "--min-grant-share",
    "youth_min_share": "--youth-share",
    "related_exclusive": "--related/--no-related",
    "method": "--method",
    "draws": "--draws",
    "seed": "--seed",
    "lottery": "--lottery",
}
"""SelectOptions field -> the ``select`` option that sets it."""


def _dash(v: float | None, fmt: str = "{:.2f}") -> str:
    return "—" if v is None or pd.isna(v) else fmt.format(v)


@command(
    "select",
    help=N_("Select 1–2 projects per direction and their grants within budget (proven optimal)."),
)
@batch_option
@click.option(
    "--policy",
    type=click.Choice(list(POLICIES)),
    default="rank",
    show_default=True,
    help=N_(
        "rank: never pass a proposal over for a cheaper, lower-ranked one (only named rules "
        "may); merit-sum: the largest merit sum under the budgets, whatever the order."
    ),
)
@click.option("--budget", type=click.FloatRange(0), help=N_("Total provincial budget (万元)."))
@click.option(
    "--programme-budget",
    multiple=True,
    metavar="PROGRAMME=WAN",
    help=N_("Budget of one programme (万元; repeat), e.g. 人工智能=12000."),
)
@click.option(
    "--quality-floor",
    type=float,
    default=60.0,
    show_default=True,
    help=N_("Lowest fundable merit."),
)
@click.option(
    "--min-grant-share",
    type=click.FloatRange(0, 1, min_open=True),
    default=1.0,
    show_default=True,
    help=N_("Grants may be cut (核减) to this share of the allowed request (1 = no cuts)."),
)
@click.option(
    "--youth-share",
    type=click.FloatRange(0, 1),
    help=N_("Least share of young-led projects funded."),
)
@click.option(
    "--related/--no-related",
    default=True,
    show_default=True,
    help=N_("At most one funded project per group of related lead units."),
)
@click.option(
    "--method",
    type=click.Choice(list(METHODS)),
    default=jobs.DEFAULT_METHOD,
    show_default=True,
    help=N_("Calibration whose scores are the merit."),
)
@click.option(
    "--draws",
    type=click.IntRange(0),
    default=200,
    show_default=True,
    help=N_("Merit draws for P(selected)."),
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help=N_("Seed of draws and lottery (recorded)."),
)
@click.option(
    "--lottery",
    is_flag=True,
    help=N_("Seeded, audited lottery for the grey zone's contested places."),
)
@click.option(
    "--fresh",
    is_flag=True,
    help=N_("Start from the defaults instead of the last run's options (which a rerun reuses)."),
)
@output_options
@pass_ctx
@domain_errors
def select_cmd(
    ctx: Ctx,
    batch_id: str | None,
    policy: str,
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
    fresh: bool,
) -> Report:
    budgets: dict[str, float] = {}
    for item in programme_budget:
        name, _sep, val = item.partition("=")
        try:
            budgets[name] = float(val)
        except ValueError:
            raise CliError(
                f"--programme-budget takes PROGRAMME=WAN, got {item!r}", EXIT_USAGE
            ) from None
    values = {
        "policy": policy, "budget_wan": budget, "programme_budgets_wan": budgets,
        "quality_floor": quality_floor, "min_grant_share": min_grant_share,
        "youth_min_share": youth_share, "related_exclusive": related, "method": method,
        "draws": draws, "seed": seed, "lottery": lottery,
    }  # fmt: skip
    params = {"budget_wan": "budget", "programme_budgets_wan": "programme_budget",
              "youth_min_share": "youth_share", "related_exclusive": "related"}  # fmt: skip
    click_ctx = click.get_current_context()
    given = {
        k: v
        for k, v in values.items()
        if click_ctx.get_parameter_source(params.get(k, k)) == ParameterSource.COMMANDLINE
    }
    with progress_bar() as progress:
        out = select_jobs.select_job(
            ctx.engine, batch_id, given=given, fresh=fresh, actor=ctx.actor, progress=progress
        )
    known = names.lookup(ctx.engine, directions=out.result.table["direction_code"])
    return _select_report(out, known)


def _option_text(field: str, value: object) -> str:
    if field == "programme_budgets_wan":
        items = dict(value or {})  # type: ignore[call-overload]
        return " ".join(f"--programme-budget {k}={v:g}" for k, v in items.items()) or _(
            "no {option}", option="--programme-budget"
        )
    if isinstance(value, bool) and field == "related_exclusive":
        return "--related" if value else "--no-related"
    if isinstance(value, bool):
        return OPTION_NAMES[field] if value else _("no {option}", option=OPTION_NAMES[field])
    if value is None:
        return _("no {option}", option=OPTION_NAMES[field])
    return f"{OPTION_NAMES[field]} {value}"


def _changed_lines(changed: dict) -> list[str]:
    if not any(changed.values()):
        return [_("No decision changed against the previous run.")]
    lines = [
        _(
            "Changed against the previous run: {n_in} funded in, {n_out} funded out, "
            "{n_grant} grants changed.",
            n_in=len(changed["funded_in"]),
            n_out=len(changed["funded_out"]),
            n_grant=len(changed["grant_changed"]),
        )
    ]
    if changed["funded_in"]:
        lines.append(_("  funded in: {ids}", ids=", ".join(changed["funded_in"])))
    if changed["funded_out"]:
        lines.append(_("  funded out: {ids}", ids=", ".join(changed["funded_out"])))
    for g in changed["grant_changed"]:
        lines.append(
            _(
                "  grant of {id}: {old:,.0f}万 → {new:,.0f}万",
                id=g["proposal"],
                old=g["from"],
                new=g["to"],
            )  # fmt: skip
        )
    return lines


def _select_report(out: select_jobs.SelectOutcome, known: names.Names) -> Report:
    r = out.result
    res = out.resolved
    head: list[str] = []
    if res.reused and res.previous_run is not None:
        head.append(
            _(
                "Reusing the options of select run {run} (pass an option to change it, "
                "--fresh for the defaults): {options}",
                run=res.previous_run,
                options=", ".join(
                    _option_text(f, getattr(out.options, f))
                    for f in res.reused
                    if f in OPTION_NAMES
                ),
            )  # fmt: skip
        )
    for f, old, new in res.differences:
        head.append(
            _(
                "Option changed since run {run}: {old} → {new}",
                run=res.previous_run,
                old=_option_text(f, old),
                new=_option_text(f, new),
            )  # fmt: skip
        )
    if out.options.budget_wan is None and not out.options.programme_budgets_wan:
        head.append(
            _(
                "No budget given (--budget, --programme-budget): every direction funds its top "
                "projects up to the per-direction limit."
            )  # fmt: skip
        )
    if r.status in ("infeasible", "unknown"):
        return Report(
            {
                "status": str(r.status),
                "policy": r.policy,
                "diagnosis": [m.render("en") for m in r.diagnosis],
            },  # fmt: skip
            lines=[
                *head,
                _("No selection ({status}):", status=word(r.status)),
                *(f"  - {m}" for m in r.diagnosis),
            ],  # fmt: skip
            exit_code=EXIT_INFEASIBLE,
        )
    t = r.table
    funded = t[t["selected"]]
    data = {
        "status": str(r.status),
        "policy": r.policy,
        "funded": int(len(funded)),
        "directions_funded": int(funded["direction_code"].nunique()),
        "grants_total_wan": int(r.grants_total_wan),
        "budget_wan": out.budget_wan,
        "objective": r.objective,
        "gap": r.gap,
        "inversions": r.inversions,
        "wall_s": r.wall_s,
        "lottery": None if out.lottery is None else int(out.lottery["wins"].sum()),
        "run_id": out.run_id,
        "options": out.options.params(),
        "options_reused_from": res.previous_run if res.reused else None,
        "changed": out.changed,
    }
    rows = [
        [
            known.direction_label(x.direction_code),
            x.rank,
            x.proposal_id,
            _dash(x.merit),
            f"{x.grant_wan:,.0f}",
            value_text("p_selected", out.p_selected.get(x.proposal_id)),
        ]
        for x in funded.itertuples()
    ]
    use = [
        [programme, funded_n, f"{grants:,.0f}", value_text("budget_wan", budget)]
        for programme, funded_n, grants, budget in r.programme_use.itertuples(index=False)
    ]
    near = t[(~t["selected"]) & t["alternate_rank"].notna()].sort_values(
        ["direction_code", "alternate_rank"]
    )
    alt = [
        [
            known.direction_label(x.direction_code),
            int(x.alternate_rank),
            x.proposal_id,
            str(x.explanation),
        ]
        for x in near.itertuples()
    ]
    summary = _(
        "{status} (policy: {policy}): {funded} projects in {dirs} directions, {grants}万 granted",
        status=word(r.status), policy=word(r.policy), funded=data["funded"],
        dirs=data["directions_funded"], grants=format(data["grants_total_wan"], ","),
    )  # fmt: skip
    if out.budget_wan:
        summary += _(" of {budget:,.0f}万", budget=out.budget_wan)
    return Report(
        data,
        tables=[
            TableOut(
                _("Funded"),
                [
                    _("direction"),
                    _("rank"),
                    _("proposal"),
                    _("merit"),
                    _("grant 万元"),
                    _("P(selected)"),
                ],  # fmt: skip
                rows,
            ),
            TableOut(
                _("Budget use by programme"),
                [_("programme"), _("funded"), _("grants 万元"), _("budget 万元")],
                use,
            ),
            TableOut(
                _("Alternates (备选)"),
                [_("direction"), _("order"), _("proposal"), _("why not funded")],
                alt[:40],
            ),
        ],
        lines=[
            *head,
            _("{summary}.", summary=summary),
            *_changed_lines(out.changed),
            _("Explanations and reason codes: `reviewopt export decisions`."),
        ],
    )


@command(
    help=N_(
        "Force PROPOSAL in or out, record its withdrawal, or clear that; applied at once (audited)."
    )
)
@click.argument("proposal")
@click.argument("action", type=click.Choice(["force_in", "force_out", "withdraw", "clear"]))
@click.option("--reason", required=True, help=N_("Why (recorded with your name)."))
@output_options
@pass_ctx
@domain_errors
def override(ctx: Ctx, proposal: str, action: str, reason: str) -> Report:
    with progress_bar() as progress:
        out = select_jobs.override_job(
            ctx.engine, proposal, action, reason=reason, actor=ctx.actor, progress=progress
        )
    data: dict = {"proposal": proposal, "action": action, "actor": ctx.actor, "applied": False}
    lines = [_("{action} {proposal} recorded for {actor}.", action=word(action), proposal=proposal,
               actor=ctx.actor)]  # fmt: skip
    if out.applied is None:
        lines.append(_("No selection yet: `reviewopt select` will apply it."))
        return Report(data, lines=lines)
    sel = out.applied
    data.update(
        applied=True, status=str(sel.result.status), changed=sel.changed,
        funded=len(sel.result.selected_ids), grants_total_wan=sel.result.grants_total_wan,
    )  # fmt: skip
    if sel.result.status in ("infeasible", "unknown"):
        lines += [_("No selection with this override ({status}):", status=word(sel.result.status)),
                  *(f"  - {m}" for m in sel.result.diagnosis)]  # fmt: skip
        return Report(data, lines=lines, exit_code=EXIT_INFEASIBLE)
    lines.append(_("Selection re-run with the last run's options; decisions it moved:"))
    lines += _changed_lines(sel.changed)
    return Report(data, lines=lines)


@command(help=N_("Lock the batch's decisions; later changes need `reviewopt unlock --reason`."))
@batch_option
@output_options
@pass_ctx
@domain_errors
def finalize(ctx: Ctx, batch_id: str | None) -> Report:
    batch = select_jobs.finalize_job(ctx.engine, batch_id, actor=ctx.actor)
    return Report(
        {
            "batch": batch.batch_id,
            "finalized_by": batch.finalized_by,
            "finalized_at": str(batch.finalized_at),
        },
        lines=[
            _(
                "Batch {batch} finalised by {actor} at {at}.",
                batch=batch.batch_id,
                actor=batch.finalized_by,
                at=str(batch.finalized_at)[:19],
            )
        ],
    )


@command(help=N_("Reopen a finalised batch, with a reason (audited)."))
@batch_option
@click.option("--reason", help=N_("Why the final decisions must change (recorded)."))
@click.option(
    "--stale",
    is_flag=True,
    help=N_("Instead: clear the batch's run lock whose holder is gone (audited)."),
)
@output_options
@pass_ctx
@domain_errors
def unlock(ctx: Ctx, batch_id: str | None, reason: str | None, stale: bool) -> Report:
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
        lines=[_("Batch {batch} reopened.", batch=batch.batch_id)],
    )
