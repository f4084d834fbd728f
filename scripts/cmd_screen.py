"""Commands before assignment: screening (形式审查), waivers, the pool and conflicts (回避)."""

from __future__ import annotations

from pathlib import Path

import click
import pandas as pd

from models import names, screen_jobs
from models.figures import label, word
from models.i18n import N_, _, _n, render_stored
from models.sheets import write_export
from scripts.context import Ctx, batch_option, domain_errors, frame_rows, pass_ctx
from scripts.help_text import command
from scripts.output import (
    Report,
    TableOut,
    output_options,
)

# --- screening, pool, conflicts ---------------------------------------------------------------


@command(
    help=N_(
        "Screen proposals against the call's eligibility rules "
        "(形式审查) and store the findings.\n\n"
        "Every rule, its severity and the clause of the call it quotes: docs/screening_rules.md. "
        "A reject rests on a prohibition of the call (不得, "
        "不予受理, 须, 不超过 without 原则上); a "
        "funding limit worded 原则上 / 通过评审后 warns that the "
        "grant will be capped (selection caps "
        "it)."
    )
)
@batch_option
@click.option(
    "--similarity",
    type=click.FloatRange(0, 1, min_open=True),
    help=N_("Near-duplicate threshold (TF-IDF cosine of title + abstract; default 0.7)."),
)
@click.option(
    "--policy",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help=N_("Conflict policy file (TOML) whose related units (关联单位) screening reads too."),
)
@output_options
@pass_ctx
@domain_errors
def screen(ctx: Ctx, batch_id: str | None, similarity: float | None, policy: Path | None) -> Report:
    from assign.screening import RULES, summary_by_direction, summary_by_rule

    result = screen_jobs.screen_job(
        ctx.engine, batch_id, actor=ctx.actor, similarity_threshold=similarity, policy_file=policy
    )
    by_rule = summary_by_rule(result)
    by_dir = summary_by_direction(result)
    titles = names.lookup(ctx.engine, directions=by_dir["direction_code"])
    by_dir["direction_code"] = by_dir["direction_code"].map(titles.direction_label)
    counts = result.status["status"].value_counts().to_dict()
    data = {
        "proposals": len(result.status),
        "eligible": int(counts.get("eligible", 0)),
        "warnings": int(counts.get("warnings", 0)),
        "rejected": int(counts.get("rejected", 0)),
        "by_rule": {r.rule: r.proposals for r in by_rule.itertuples() if r.findings},
    }
    rule_rows = [
        [
            f"{r.rule} {_(RULES[r.rule].summary)}",
            word(r.severity),
            r.findings,
            r.proposals,
            r.waived,
        ]
        for r in by_rule.itertuples()
    ]
    return Report(
        data,
        tables=[
            TableOut(_("Findings by rule"), [label(c) for c in by_rule.columns], rule_rows),
            TableOut(
                _("Proposals by direction"), [label(c) for c in by_dir.columns], frame_rows(by_dir)
            ),
        ],
        lines=[
            _(
                "{n} proposals: {eligible} eligible, {warnings} with warnings, {rejected} "
                "rejected. Details: `reviewopt export findings`.",
                n=data["proposals"],
                eligible=data["eligible"],
                warnings=data["warnings"],
                rejected=data["rejected"],
            )
        ],
    )


@command(help=N_("Waive a screening finding of PROPOSAL under RULE, with a reason (audited)."))
@click.argument("proposal")
@click.argument("rule")
@click.option("--reason", required=True, help=N_("Why the finding is waived (recorded)."))
@output_options
@pass_ctx
@domain_errors
def waive(ctx: Ctx, proposal: str, rule: str, reason: str) -> Report:
    result = screen_jobs.waive_job(ctx.engine, proposal, rule, reason=reason, actor=ctx.actor)
    status = result.status.set_index("proposal_id")["status"].get(proposal)
    return Report(
        {"proposal": proposal, "rule": rule, "status": status},
        lines=[
            _(
                "{proposal}: {rule} waived by {actor}; screening result now: {status}",
                proposal=proposal,
                rule=rule,
                actor=ctx.actor,
                status=word(status),
            )
        ],
    )


@command(
    help=N_(
        "Set experts aside before assignment (inactive, 超龄, 失信, 连续2次较差, officer filters)."
    )
)
@batch_option
@click.option(
    "--max-age", type=int, default=70, show_default=True, help=N_("超龄: oldest age kept.")
)
@click.option(
    "--title",
    "titles",
    multiple=True,
    type=click.Choice(["senior", "associate", "intermediate", "other"]),
    help=N_("Keep only these titles (repeat; e.g. senior and associate = 副高及以上)."),
)
@click.option(
    "--level",
    "levels",
    multiple=True,
    type=click.Choice(["A", "B", "C"]),
    help=N_("Keep only these levels."),
)
@click.option(
    "--province",
    type=click.Choice(["in", "out"]),
    help=N_("Keep only in- or out-of-province experts."),
)
@output_options
@pass_ctx
@domain_errors
def pool(
    ctx: Ctx,
    batch_id: str | None,
    max_age: int,
    titles: tuple[str, ...],
    levels: tuple[str, ...],
    province: str | None,
) -> Report:
    filters = screen_jobs.PoolFilters(
        max_age=max_age,
        titles=titles or None,
        levels=levels or None,
        province_scope=province,
    )
    aside = screen_jobs.pool_job(ctx.engine, batch_id, filters=filters, actor=ctx.actor)
    english = pd.Series([render_stored(r, "en") for r in aside["reason"]], dtype=object)
    reasons = english.str.split("; ").explode().str.split(" \\(| [0-9]", regex=True).str[0]
    by_reason = reasons.value_counts().to_dict()
    shown = aside.head(20)
    who = names.lookup(ctx.engine, people=shown["expert_id"])
    rows = [
        [e, who.person(e), render_stored(r)]
        for e, r in zip(shown["expert_id"], shown["reason"], strict=True)
    ]
    return Report(
        {"set_aside": len(aside), "by_reason": by_reason},
        tables=[TableOut(_("Set aside"), [_("expert"), _("name"), _("reason")], rows)],
        lines=[
            _n(
                "{n} expert set aside (first 20 shown; `reviewopt export pool`).",
                "{n} experts set aside (first 20 shown; `reviewopt export pool`).",
                len(aside),
            )
        ],
    )


@command(help=N_("Find every conflicted (expert, proposal) pair with its reason chain (回避)."))
@batch_option
@click.option(
    "--policy",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help=N_("Conflict policy file (TOML) overriding the defaults."),
)
@click.option("--coauthor-years", type=int, help=N_("Co-authorship window in years (default 3)."))
@click.option("--former-employment-years", type=int, help=N_("Left the unit within N years (2)."))
@click.option(
    "--shareholding/--no-shareholding", default=None, help=N_("Shareholding relates units.")
)
@click.option(
    "--shareholding-threshold",
    type=click.FloatRange(0, 1, min_open=True),
    help=N_("Shareholding relates units from this share on (default 0.25 = 25 %)."),
)
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help=N_("Also write CSV/XLSX.")
)
@output_options
@pass_ctx
@domain_errors
def conflicts(
    ctx: Ctx,
    batch_id: str | None,
    policy: Path | None,
    coauthor_years: int | None,
    former_employment_years: int | None,
    shareholding: bool | None,
    shareholding_threshold: float | None,
    out: Path | None,
) -> Report:
    overrides = {
        k: v
        for k, v in {
            "coauthor_years": coauthor_years,
            "former_employment_years": former_employment_years,
            "shareholding": shareholding,
            "shareholding_threshold": shareholding_threshold,
        }.items()
        if v is not None
    }
    found = screen_jobs.conflicts_job(
        ctx.engine, batch_id, policy_file=policy, overrides=overrides, actor=ctx.actor
    )
    pairs = found[["proposal_id", "expert_id"]].drop_duplicates()
    by_kind = (
        found.drop_duplicates(["proposal_id", "expert_id", "kind"])["kind"].value_counts().to_dict()
    )
    if out is not None:
        write_export(ctx.engine, "conflicts", out, "xlsx" if out.suffix == ".xlsx" else "csv")
    return Report(
        {"pairs": len(pairs), "by_reason": by_kind},
        tables=[
            TableOut(
                _("Conflicts by reason"),
                [_("reason"), _("pairs")],
                [[f"{k} {word(k)}", n] for k, n in by_kind.items()],
            )
        ],
        lines=[_("{n} conflicted (expert, proposal) pairs.", n=format(len(pairs), ","))],
    )


@command(
    help=N_("Say why EXPERT may not review PROPOSAL (or that nothing does), and why they match.")
)
@click.argument("expert")
@click.argument("proposal")
@click.option(
    "--policy",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help=N_("Conflict policy file (TOML) overriding the defaults."),
)
@output_options
@pass_ctx
@domain_errors
def explain(ctx: Ctx, expert: str, proposal: str, policy: Path | None) -> Report:
    chains, aff = screen_jobs.explain_job(ctx.engine, expert, proposal, policy_file=policy)
    who = names.lookup(ctx.engine, people=[expert])
    lines = [render_stored(c) for c in chains] or [
        _(
            "no conflict of interest between {expert} and {proposal}",
            expert=" ".join(filter(None, [expert, who.person(expert)])),
            proposal=proposal,
        )
    ]
    lines.append(
        _(
            "specialty affinity {score:.3f}: text {text:.3f} (closest work: {doc}, cosine "
            "{sim:.3f}), discipline codes {codes:.3f} lifting it by up to {weight:g}; shared "
            "codes: {shared}; shared terms: {terms}",
            score=aff.score,
            text=aff.text_score,
            doc=aff.closest_document or _("keywords and profile"),
            sim=aff.closest_similarity,
            codes=aff.code_score,
            weight=aff.code_weight,
            shared=", ".join(aff.shared_codes) or _("none"),
            terms=", ".join(t.text for t in aff.top_terms) or _("none"),
        )
    )
    data = {
        "expert": expert,
        "proposal": proposal,
        "conflicted": bool(chains),
        "reasons": [render_stored(c, "en") for c in chains],
        "affinity": aff.score,
        "shared_codes": list(aff.shared_codes),
        "shared_terms": [t.text for t in aff.top_terms],
        "closest_document": aff.closest_document,
    }
    return Report(data, lines=lines)
