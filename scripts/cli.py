"""The ``reviewopt`` command line: parse options, call one job, render the result.

Exit codes: 0 success, 1 error, 2 usage, 3 invalid input (nothing written), 4 infeasible
(with a diagnosis), 5 batch locked by another run.
"""

from __future__ import annotations

import functools
import getpass
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import pandas as pd
from sqlalchemy import Engine

from assign.pipeline import AssignOptions
from models import assign_jobs, io, jobs, screen_jobs, select_jobs
from models.db import LOCK_WAIT_S, BatchLocked, SchemaOutOfDate, database_url, make_engine
from models.io import write_frame
from models.problems import InvalidInput
from scoring.calibrate import METHODS
from scripts.output import (
    EXIT_INFEASIBLE,
    EXIT_INVALID_INPUT,
    EXIT_LOCKED,
    EXIT_USAGE,
    CliError,
    Report,
    TableOut,
    output_options,
    progress_bar,
    write_table_option,
)


class Ctx:
    """Options shared by every command; the engine is made on first use."""

    def __init__(self, db: str | None, actor: str) -> None:
        self.url = database_url(db)
        self.actor = actor
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.url)
        return self._engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


def domain_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the library's domain exceptions into CLI errors with documented exit codes."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except InvalidInput as exc:
            raise CliError(str(exc), EXIT_INVALID_INPUT) from None
        except select_jobs.BatchFinalized as exc:
            raise CliError(str(exc)) from None
        except assign_jobs.Infeasible as exc:
            raise CliError(str(exc), EXIT_INFEASIBLE) from None
        except BatchLocked as exc:
            raise CliError(str(exc), EXIT_LOCKED) from None
        except (SchemaOutOfDate, LookupError) as exc:
            raise CliError(str(exc)) from None
        except ValueError as exc:
            raise CliError(str(exc), EXIT_INVALID_INPUT) from None

    return wrapper


pass_ctx = click.make_pass_decorator(Ctx)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--db",
    metavar="URL",
    help="Database URL (default: $REVIEWOPT_DB or sqlite:///reviewopt.db in this folder).",
)
@click.option(
    "--actor",
    default=lambda: getpass.getuser(),
    show_default="your user name",
    help="Who runs the command (recorded in the audit log).",
)
@click.option(
    "--wait",
    type=click.FloatRange(0),
    default=0.0,
    show_default=True,
    metavar="SECONDS",
    help="How long to wait for a batch another run holds (then exit 5).",
)
@click.version_option(package_name="reviewopt")
@click.pass_context
def cli(ctx: click.Context, db: str | None, actor: str, wait: float) -> None:
    """reviewopt: screen proposals, assign expert reviewers, calibrate scores, select projects."""
    LOCK_WAIT_S.set(wait)
    ctx.obj = Ctx(db, actor)
    ctx.call_on_close(ctx.obj.close)


@cli.command()
@output_options
@pass_ctx
@domain_errors
def init(ctx: Ctx) -> Report:
    """Create the database, or upgrade it to the newest schema."""
    rev = jobs.init_db(ctx.engine)
    url = ctx.engine.url.render_as_string(hide_password=True)
    return Report({"database": url, "revision": rev}, lines=[f"{url}: schema at revision {rev}"])


def _counts_table(results: list[io.ImportCounts]) -> TableOut:
    return TableOut(
        "Imported",
        ["kind", "file", "created", "updated", "unchanged", "ignored columns"],
        [
            [r.kind, r.file, r.created, r.updated, r.unchanged, ", ".join(r.ignored_columns)]
            for r in results
        ],
    )


@cli.command(
    "import",
    help="Import a CSV/XLSX file of KIND, or `all` <kind>.csv files of a folder.\n\n"
    "All-or-nothing: any problem lists file, row, column, value and what was expected, exits 3 "
    "and writes nothing. Re-importing the same rows changes nothing. KIND: all, "
    + ", ".join(io.IMPORT_KINDS)
    + ". See `reviewopt formats KIND` for the columns.",
)
@click.argument("kind", type=click.Choice(["all", *io.IMPORT_KINDS]), metavar="KIND")
@click.argument("path", type=click.Path(path_type=Path))
@output_options
@pass_ctx
@domain_errors
def import_(ctx: Ctx, kind: str, path: Path) -> Report:
    if kind == "all":
        results = jobs.import_all(ctx.engine, path, actor=ctx.actor)
    else:
        results = [jobs.import_kind(ctx.engine, kind, path, actor=ctx.actor)]
    report = Report({"imported": jobs.counts_summary(results)}, tables=[_counts_table(results)])
    if any(r.kind == "reviews" for r in results):
        short = jobs.reviews_short(ctx.engine)
        report.data["proposals_short_of_reviews"] = short["proposal"].tolist()
        report.lines.append(
            f"{len(short)} proposals still short of reviews"
            + (": " + ", ".join(short["proposal"].head(20)) if len(short) else "")
            + (" …" if len(short) > 20 else "")
            + " (`reviewopt export review_status`)"
        )
    return report


@cli.command()
@click.argument("kind", required=False)
@output_options
def formats(kind: str | None) -> Report:
    """Show the input format (columns, Chinese aliases, types) of KIND, or list the kinds."""
    if kind is None:
        rows = [[k, ", ".join(r["column"] for r in io.format_rows(k))] for k in io.IMPORT_KINDS]
        return Report(
            {"kinds": list(io.IMPORT_KINDS)}, tables=[TableOut("Kinds", ["kind", "columns"], rows)]
        )
    if kind not in io.IMPORT_KINDS:
        raise CliError(f"unknown kind {kind!r}; expected one of: {', '.join(io.IMPORT_KINDS)}", 2)
    columns = io.format_rows(kind)
    return Report(
        {"kind": kind, "columns": columns},
        tables=[TableOut(kind, list(columns[0]), [list(r.values()) for r in columns])],
    )


@cli.command()
@click.argument("kind", metavar="KIND")
@write_table_option
@pass_ctx
@domain_errors
def export(ctx: Ctx, kind: str) -> Any:
    """Export KIND (an import kind or a result view such as decisions) as CSV or XLSX.

    Cells a spreadsheet would run as formulas are escaped with a leading quote.
    """
    if kind not in jobs.export_kinds():
        raise CliError(
            f"unknown kind {kind!r}; expected one of: {', '.join(jobs.export_kinds())}", 2
        )
    return jobs.export_kind(ctx.engine, kind)


def _batch_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--batch", "batch_id", metavar="ID", help="Batch id (default: the only batch)."
    )(fn)


def _frame_rows(frame: Any, limit: int | None = None) -> list[list[Any]]:
    rows = frame.head(limit) if limit else frame
    return [list(r) for r in rows.itertuples(index=False)]


# --- screening, pool, conflicts ---------------------------------------------------------------


@cli.command()
@_batch_option
@click.option(
    "--similarity",
    type=click.FloatRange(0, 1, min_open=True),
    help="Near-duplicate threshold (TF-IDF cosine of title + abstract; default 0.7).",
)
@output_options
@pass_ctx
@domain_errors
def screen(ctx: Ctx, batch_id: str | None, similarity: float | None) -> Report:
    """Screen proposals against the call's eligibility rules (形式审查) and store the findings."""
    from assign.screening import summary_by_direction, summary_by_rule

    result = screen_jobs.screen_job(
        ctx.engine, batch_id, actor=ctx.actor, similarity_threshold=similarity
    )
    by_rule = summary_by_rule(result)
    by_dir = summary_by_direction(result)
    counts = result.status["status"].value_counts().to_dict()
    data = {
        "proposals": len(result.status),
        "eligible": int(counts.get("eligible", 0)),
        "warnings": int(counts.get("warnings", 0)),
        "rejected": int(counts.get("rejected", 0)),
        "by_rule": {r.rule: r.proposals for r in by_rule.itertuples() if r.findings},
    }
    return Report(
        data,
        tables=[
            TableOut("Findings by rule", list(by_rule.columns), _frame_rows(by_rule)),
            TableOut("Proposals by direction", list(by_dir.columns), _frame_rows(by_dir)),
        ],
        lines=[
            f"{data['proposals']} proposals: {data['eligible']} eligible, "
            f"{data['warnings']} with warnings, {data['rejected']} rejected. "
            "Details: `reviewopt export findings`."
        ],
    )


@cli.command()
@click.argument("proposal")
@click.argument("rule")
@click.option("--reason", required=True, help="Why the finding is waived (recorded).")
@output_options
@pass_ctx
@domain_errors
def waive(ctx: Ctx, proposal: str, rule: str, reason: str) -> Report:
    """Waive a screening finding of PROPOSAL under RULE, with a reason (audited)."""
    result = screen_jobs.waive_job(ctx.engine, proposal, rule, reason=reason, actor=ctx.actor)
    status = result.status.set_index("proposal_id")["status"].get(proposal)
    return Report(
        {"proposal": proposal, "rule": rule, "status": status},
        lines=[f"{proposal}: {rule} waived by {ctx.actor}; status now {status}"],
    )


@cli.command()
@_batch_option
@click.option("--max-age", type=int, default=70, show_default=True, help="超龄: oldest age kept.")
@click.option(
    "--title",
    "titles",
    multiple=True,
    type=click.Choice(["senior", "associate", "intermediate", "other"]),
    help="Keep only these titles (repeat; e.g. senior and associate = 副高及以上).",
)
@click.option(
    "--level",
    "levels",
    multiple=True,
    type=click.Choice(["A", "B", "C"]),
    help="Keep only these levels.",
)
@click.option(
    "--province", type=click.Choice(["in", "out"]), help="Keep only in- or out-of-province experts."
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
    """Set experts aside before assignment (inactive, 超龄, 失信, 连续2次较差, officer filters)."""
    filters = screen_jobs.PoolFilters(
        max_age=max_age,
        titles=titles or None,
        levels=levels or None,
        province_scope=province,
    )
    aside = screen_jobs.pool_job(ctx.engine, batch_id, filters=filters, actor=ctx.actor)
    reasons = aside["reason"].str.split("; ").explode().str.split(" \\(| [0-9]", regex=True).str[0]
    by_reason = reasons.value_counts().to_dict()
    return Report(
        {"set_aside": len(aside), "by_reason": by_reason},
        tables=[TableOut("Set aside", ["expert", "reason"], _frame_rows(aside, 20))],
        lines=[f"{len(aside)} experts set aside (first 20 shown; `reviewopt export pool`)."],
    )


@cli.command()
@_batch_option
@click.option(
    "--policy",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Conflict policy file (TOML) overriding the defaults.",
)
@click.option("--coauthor-years", type=int, help="Co-authorship window in years (default 3).")
@click.option("--former-employment-years", type=int, help="Left the unit within N years (2).")
@click.option("--shareholding/--no-shareholding", default=None, help="Shareholding relates units.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Also write CSV/XLSX.")
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
    out: Path | None,
) -> Report:
    """Find every conflicted (expert, proposal) pair with its reason chain (回避)."""
    overrides = {
        k: v
        for k, v in {
            "coauthor_years": coauthor_years,
            "former_employment_years": former_employment_years,
            "shareholding": shareholding,
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
        write_frame(jobs.export_kind(ctx.engine, "conflicts"), out, out.suffix.lstrip(".") or "csv")
    return Report(
        {"pairs": len(pairs), "by_reason": by_kind},
        tables=[TableOut("Conflicts by reason", ["reason", "pairs"], list(by_kind.items()))],
        lines=[f"{len(pairs)} conflicted (expert, proposal) pairs."],
    )


@cli.command()
@click.argument("expert")
@click.argument("proposal")
@click.option(
    "--policy",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Conflict policy file (TOML) overriding the defaults.",
)
@output_options
@pass_ctx
@domain_errors
def explain(ctx: Ctx, expert: str, proposal: str, policy: Path | None) -> Report:
    """Say why EXPERT may not review PROPOSAL (or that nothing does), and why they match."""
    chains, aff = screen_jobs.explain_job(ctx.engine, expert, proposal, policy_file=policy)
    lines = chains or [f"no conflict of interest between {expert} and {proposal}"]
    lines.append(
        f"specialty affinity {aff.score:.3f} = {aff.text_weight:g} x text {aff.text_score:.3f}"
        f" + {aff.code_weight:g} x discipline codes {aff.code_score:.3f}; shared codes: "
        f"{', '.join(aff.shared_codes) or 'none'}; shared terms: "
        f"{', '.join(t.text for t in aff.top_terms) or 'none'}"
    )
    data = {
        "expert": expert,
        "proposal": proposal,
        "conflicted": bool(chains),
        "reasons": chains,
        "affinity": aff.score,
        "shared_codes": list(aff.shared_codes),
        "shared_terms": [t.text for t in aff.top_terms],
    }
    return Report(data, lines=lines)


# --- assignment -------------------------------------------------------------------------------


def _assign_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    opts = [
        click.option(
            "--k",
            type=click.IntRange(1),
            default=5,
            show_default=True,
            help="Experts per proposal.",
        ),
        click.option(
            "--max-load",
            type=click.IntRange(1),
            default=6,
            show_default=True,
            help="Most proposals per expert.",
        ),
        click.option(
            "--min-load",
            type=click.IntRange(0),
            default=0,
            show_default=True,
            help="Fewest proposals per expert (hard).",
        ),
        click.option(
            "--min-industry",
            type=click.IntRange(0),
            default=0,
            help="At least N 产业 experts per proposal.",
        ),
        click.option(
            "--min-outside",
            type=click.IntRange(0),
            default=0,
            help="At least N experts from outside the province.",
        ),
        click.option(
            "--min-senior",
            type=click.IntRange(0),
            default=0,
            help="At least N 正高 experts per proposal.",
        ),
        click.option(
            "--fair", is_flag=True, help="Maximise the worst-off proposal's affinity first."
        ),
        click.option(
            "--max-probability",
            type=click.FloatRange(0, 1, min_open=True),
            help="Randomised draw: no (expert, proposal) pair more likely than this.",
        ),
        click.option(
            "--seed", type=int, default=0, show_default=True, help="Seed of the draw (recorded)."
        ),
    ]
    for o in reversed(opts):
        fn = o(fn)
    return fn


@cli.command()
@_batch_option
@click.option(
    "--mode",
    type=click.Choice(["review", "panel"]),
    default="review",
    show_default=True,
    help="通讯评审 or 会评.",
)
@_assign_options
@click.option(
    "--k-direction", multiple=True, metavar="CODE=K", help="k for one direction (repeat)."
)
@click.option(
    "--k-proposal",
    multiple=True,
    metavar="ID=K",
    help="k for one proposal, over its direction's (repeat).",
)
@click.option(
    "--affinity",
    "affinity_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Use this proposal,expert,score CSV instead of the built-in specialty affinity.",
)
@click.option(
    "--panel-groups",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Panel mode: a direction_code,group CSV naming which directions share a panel.",
)
@click.option(
    "--affinity-floor", type=float, default=0.0, show_default=True, help="Lowest usable affinity."
)
@click.option(
    "--candidates",
    type=click.IntRange(1),
    default=60,
    show_default=True,
    help="Candidates per proposal.",
)
@click.option(
    "--reserve-ratio",
    type=click.FloatRange(0),
    default=0.0,
    show_default=True,
    help="Reserves per seat (1:N).",
)
@click.option(
    "--panel-size", type=click.IntRange(1), default=7, show_default=True, help="Panel size (odd)."
)
@click.option(
    "--panel-min",
    type=click.IntRange(1),
    default=5,
    show_default=True,
    help="Non-conflicted members per proposal.",
)
@click.option(
    "--panel-by",
    type=click.Choice(["direction", "programme"]),
    default="direction",
    show_default=True,
    help="One panel per direction or per programme.",
)
@click.option(
    "--panel-industry", type=click.IntRange(0), default=0, help="At least N 产业 experts per panel."
)
@click.option(
    "--panel-finance", type=click.IntRange(0), default=0, help="At least N 财务 experts per panel."
)
@output_options
@pass_ctx
@domain_errors
def assign(
    ctx: Ctx,
    batch_id: str | None,
    mode: str,
    k: int,
    max_load: int,
    min_load: int,
    min_industry: int,
    min_outside: int,
    min_senior: int,
    fair: bool,
    max_probability: float | None,
    seed: int,
    k_direction: tuple[str, ...],
    k_proposal: tuple[str, ...],
    affinity_floor: float,
    candidates: int,
    reserve_ratio: float,
    panel_size: int,
    panel_min: int,
    panel_by: str,
    panel_industry: int,
    panel_finance: int,
    affinity_file: Path | None,
    panel_groups: Path | None,
) -> Report:
    """Assign experts to the batch's eligible proposals (exact, fair or a capped random draw)."""
    if fair and max_probability is not None:
        raise CliError("--fair and --max-probability cannot be combined", EXIT_USAGE)
    spec = assign_jobs.RunSpec(
        mode=mode,
        options=AssignOptions(
            k=k, k_by_direction=_k_overrides("--k-direction", "CODE", k_direction),
            k_by_proposal=_k_overrides("--k-proposal", "ID", k_proposal), max_load=max_load,
            min_load=min_load, floor=affinity_floor, top_n=candidates, min_industry=min_industry,
            min_outside=min_outside, min_senior=min_senior,
        ),
        max_probability=max_probability, fair=fair, reserve_ratio=reserve_ratio, seed=seed,
        panel_by=panel_by, panel_size=panel_size, panel_min=panel_min,
        panel_industry=panel_industry, panel_finance=panel_finance,
        affinity_file=None if affinity_file is None else str(affinity_file),
    )  # fmt: skip
    with progress_bar() as progress:
        out = assign_jobs.assign_job(
            ctx.engine, batch_id, spec=spec, actor=ctx.actor, panel_groups_file=panel_groups,
            progress=progress,
        )  # fmt: skip
    return _assign_report(out)


def _k_overrides(option: str, name: str, items: tuple[str, ...]) -> dict[str, int]:
    """``NAME=K`` items as a mapping; a malformed or repeated name is a usage error."""
    out: dict[str, int] = {}
    for item in items:
        key, _, val = item.partition("=")
        if not key or not val.isdigit():
            raise CliError(f"{option} takes {name}=K, got {item!r}", EXIT_USAGE)
        if key in out:
            raise CliError(f"{option} gives {key} twice", EXIT_USAGE)
        out[key] = int(val)
    return out


def _assign_report(out: assign_jobs.AssignOutcome) -> Report:
    s = out.summary
    data = {
        "run_id": out.run_id,
        "mode": out.spec.mode,
        "proposals": out.problem.n_proposals,
        "k": out.spec.options.k,
        **s,
    }
    if out.result is not None:  # the same keys as ``solve --json``
        data.setdefault("objective", out.result.objective)
        data.setdefault("bound", out.result.bound)
    if out.panels is not None:
        rows = [[g, len(m), out.panels.leaders.get(g, "")] for g, m in out.panels.panels.items()]
        return Report(
            data,
            tables=[TableOut(f"Panels of run {out.run_id}", ["group", "members", "leader"], rows)],
            lines=[f"status {s['status']}, objective {s['objective']:.3f}, gap {s['gap']:.2%}"],
        )
    hist = s.get("load_histogram", {})
    lines = [
        f"run {out.run_id}: {s['status']}, {out.problem.n_proposals} proposals x "
        f"k={out.spec.options.k}, total affinity {s['total_affinity']:.3f}, "
        f"worst proposal {s['min_proposal_affinity']:.3f}",
        f"conflicts violated: {s['conflicts_violated']}; "
        f"one-per-unit violated: {s['one_per_unit_violated']}; "
        + ("certified optimal" if s.get("certified") else f"gap {s.get('gap')}"),
    ]
    if "price_of_fairness" in s:
        lines.append(
            f"fair: worst proposal {s['fair_min_affinity']:.3f} "
            f"(plain {s['plain_min_affinity']:.3f}), total {s['fair_total']:.3f} "
            f"(plain {s['plain_total']:.3f}); price of fairness {s['price_of_fairness']:.3f}"
        )
    if "expected_objective" in s:
        lines.append(
            f"draw with max probability {s['max_probability']}: expected affinity "
            f"{s['expected_objective']:.3f}, drawn {s['realised_objective']:.3f}"
        )
    return Report(
        data,
        tables=[TableOut("Load histogram", ["load", "experts"], sorted(hist.items()))],
        lines=lines,
    )


@cli.command()
@_batch_option
@click.argument("declined", nargs=-1, required=True, metavar="PROPOSAL:EXPERT...")
@output_options
@pass_ctx
@domain_errors
def replace(ctx: Ctx, batch_id: str | None, declined: tuple[str, ...]) -> Report:
    """Replace experts who declined, from reserves first, moving nobody else."""
    pairs = []
    for item in declined:
        p, sep, e = item.partition(":")
        if not sep or not p or not e:
            raise CliError(f"expected PROPOSAL:EXPERT, got {item!r}", EXIT_USAGE)
        pairs.append((p, e))
    out = assign_jobs.replace_job(ctx.engine, batch_id, pairs, actor=ctx.actor)
    return Report(
        {
            "run_id": out.run_id,
            "declined": len(out.declined),
            "from_reserve": sum(1 for a in out.added if a[2] == "reserve"),
            "re_solved": sum(1 for a in out.added if a[2] != "reserve"),
            "unfilled": out.unfilled,
        },
        tables=[
            TableOut(
                "Invited instead", ["proposal", "expert", "from"], [list(a) for a in out.added]
            )
        ],
        lines=out.diagnosis,
        exit_code=EXIT_INFEASIBLE if out.unfilled else 0,
    )


@cli.command()
@click.option(
    "--scores", type=click.Path(path_type=Path), required=True, help="proposal,expert,score CSV."
)
@click.option(
    "--conflicts", "conflicts_file", type=click.Path(path_type=Path), help="proposal,expert CSV."
)
@click.option(
    "--experts",
    "experts_file",
    type=click.Path(path_type=Path),
    help="expert[,max_load,unit,kind,province,title] CSV.",
)
@_assign_options
@click.option(
    "--affinity-floor", type=float, default=0.0, show_default=True, help="Lowest usable score."
)
@click.option(
    "--allow-missing", is_flag=True, help="Pairs absent from the scores are candidates at score 0."
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Assignment CSV to write.",
)
@output_options
@domain_errors
def solve(
    scores: Path,
    conflicts_file: Path | None,
    experts_file: Path | None,
    k: int,
    max_load: int,
    min_load: int,
    min_industry: int,
    min_outside: int,
    min_senior: int,
    fair: bool,
    max_probability: float | None,
    seed: int,
    affinity_floor: float,
    allow_missing: bool,
    out: Path,
) -> Report:
    """Solve an assignment from plain files, no database (scripts, other matchers' inputs)."""
    from assign.draw import draw_assignment
    from assign.fair import solve_fair
    from assign.files import solve_files, write_assignment_csv
    from assign.solver import quality_summary

    if fair and max_probability is not None:
        raise CliError("--fair and --max-probability cannot be combined", EXIT_USAGE)
    solver = None
    if fair:
        solver = lambda pr: solve_fair(pr).assignment  # noqa: E731
    elif max_probability is not None:
        solver = lambda pr: draw_assignment(pr, q=max_probability, seed=seed).assignment  # noqa: E731
    with progress_bar() as progress:
        problem, result = solve_files(
            scores, conflicts=conflicts_file, experts=experts_file, k=k, max_load=max_load,
            min_load=min_load, floor=affinity_floor, allow_missing=allow_missing,
            min_industry=min_industry, min_outside=min_outside, min_senior=min_senior,
            progress=progress, solver=solver,
        )  # fmt: skip
    data = {
        "status": str(result.status), "objective": result.objective, "bound": result.bound,
        "gap": result.gap, "wall_s": result.wall_s, "certified": result.certified,
        "proposals": problem.n_proposals, "experts": problem.n_experts, "k": k,
        "diagnosis": list(result.diagnosis),
    }  # fmt: skip
    if result.status in ("infeasible", "unknown"):
        return Report(
            data,
            lines=[f"no assignment ({result.status}):", *result.diagnosis],
            exit_code=EXIT_INFEASIBLE,
        )
    n = write_assignment_csv(result, out)
    summary = quality_summary(problem, result)
    data.update({k_: v for k_, v in summary.items() if k_ not in data})
    return Report(
        data,
        lines=[
            f"{result.status}: objective {result.objective:.6f}, bound {result.bound:.6f}, "
            f"gap {result.gap:.2e}, {'certified' if result.certified else 'not certified'}, "
            f"{result.wall_s:.2f} s; {n} pairs written to {out}"
        ],
    )


# --- scoring ----------------------------------------------------------------------------------


@cli.command()
@_batch_option
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
@output_options
@pass_ctx
@domain_errors
def rank(ctx: Ctx, batch_id: str | None, method: str, draws: int, seed: int, top: int) -> Report:
    """Calibrate the reviews and rank proposals per direction with 80 % rank intervals."""
    result, accuracy = jobs.rank_job(
        ctx.engine, batch_id, method=method, n_draws=draws, seed=seed, actor=ctx.actor
    )
    props = result.proposals.sort_values(["direction_code", "expected_rank"])
    shown = props.groupby("direction_code").head(top)
    rows = [
        [
            r.direction_code,
            r.proposal_id,
            r.score,
            r.se,
            r.expected_rank,
            f"{r.rank_lo:g}–{r.rank_hi:g}",
            r.n_reviews,
        ]
        for r in shown.itertuples()
    ]
    experts = result.experts.dropna(subset=["leniency"]).sort_values("leniency")
    lenient = [
        [r.expert_id, r.leniency, f"{r.leniency_lo:.1f}–{r.leniency_hi:.1f}", r.n_reviews]
        for r in pd.concat([experts.head(5), experts.tail(5)]).itertuples()
    ]
    d = result.diagnostics
    data = {
        "method": method,
        "proposals": int((props["n_reviews"] > 0).sum()),
        "leniency_identifiable": d.leniency_identifiable,
        "components": d.n_components,
        **(
            {"kendall_tau": accuracy["kendall_tau"], "regret": accuracy["regret"]}
            if accuracy
            else {}
        ),
    }
    lines = [
        f"method {method}; leniency identifiable: {d.leniency_identifiable} "
        f"({d.n_components} component(s)); {' '.join(d.notes)}"
    ]
    if accuracy:
        lines.append(
            f"against the ground truth: Kendall tau {accuracy['kendall_tau']:.3f}, "
            f"regret {accuracy['regret']:.2f} points"
        )
    return Report(
        data,
        tables=[
            TableOut(
                f"Calibrated ranking ({method}), top {top} per direction",
                ["direction", "proposal", "score", "se", "E[rank]", "80% rank", "reviews"],
                rows,
            ),
            TableOut(
                "Most severe and most lenient experts",
                ["expert", "leniency", "80% interval", "reviews"],
                lenient,
            ),
        ],
        lines=lines,
    )


@cli.command("select")
@_batch_option
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
        name, _, val = item.partition("=")
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
    return _select_report(out)


def _select_report(out: select_jobs.SelectOutcome) -> Report:
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
        [x.direction_code, x.proposal_id, x.merit, x.grant_wan, out.p_selected.get(x.proposal_id)]
        for x in funded.itertuples()
    ]
    use = [list(u) for u in r.programme_use.itertuples(index=False)]
    near = t[(~t["selected"]) & t["alternate_rank"].notna()].sort_values(
        ["direction_code", "alternate_rank"]
    )
    alt = [
        [x.direction_code, int(x.alternate_rank), x.proposal_id, x.explanation]
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


@cli.command()
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


@cli.command()
@_batch_option
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


@cli.command()
@_batch_option
@click.option("--reason", required=True, help="Why the final decisions must change (recorded).")
@output_options
@pass_ctx
@domain_errors
def unlock(ctx: Ctx, batch_id: str | None, reason: str) -> Report:
    """Reopen a finalised batch, with a reason (audited)."""
    batch = select_jobs.unlock_job(ctx.engine, batch_id, reason=reason, actor=ctx.actor)
    return Report(
        {"batch": batch.batch_id, "unlocked_by": ctx.actor},
        lines=[f"batch {batch.batch_id} reopened"],
    )


@cli.command("audit")
@click.option(
    "--last", type=click.IntRange(1), default=20, show_default=True, help="How many events."
)
@output_options
@pass_ctx
@domain_errors
def audit_cmd(ctx: Ctx, last: int) -> Report:
    """Show the latest audit events: who ran what, when, with which seed and digests."""
    frame = jobs.export_kind(ctx.engine, "audit").tail(last)
    rows = [
        [e.id, e.at, e.actor, e.command, e.seed, (e.message or "")[:80]] for e in frame.itertuples()
    ]
    return Report(
        {"events": frame.astype(object).where(frame.notna(), None).to_dict("records")},
        tables=[TableOut("Audit log", ["id", "at", "actor", "command", "seed", "message"], rows)],
    )


# --- demo and synthetic data -----------------------------------------------------------------


@cli.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder to write.",
)
@click.option(
    "--experts",
    type=click.IntRange(1),
    default=3000,
    show_default=True,
    help="Experts in the pool.",
)
@click.option(
    "--proposals", type=click.IntRange(1), help="Total proposals (default 8–20 per direction)."
)
@click.option(
    "--relations", type=click.IntRange(0), help="Person–person relations (default ~3 per person)."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed (recorded).")
@output_options
def generate(
    out: Path, experts: int, proposals: int | None, relations: int | None, seed: int
) -> Report:
    """Write a synthetic batch (clearly invented units, people, proposals, ground truth) as CSVs."""
    from data.build_guide import load_guide
    from data.generate import generate_batch, write_batch

    tables = generate_batch(
        load_guide(), n_experts=experts, n_proposals=proposals, n_relations=relations, seed=seed
    )
    paths = write_batch(tables, out)
    counts = {p.stem: len(tables[p.stem]) for p in paths}
    rows = [[kind, n] for kind, n in counts.items()]
    return Report(
        {"folder": str(out), "rows": counts},
        tables=[TableOut(f"Wrote {len(paths)} files to {out}", ["kind", "rows"], rows)],
        lines=[f"Load them with: reviewopt import all {out}"],
    )


@cli.command()
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo-out"),
    show_default=True,
    help="Folder for the database and every output (replaced if present).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed (recorded).")
@click.option(
    "--experts",
    type=click.IntRange(1),
    default=3000,
    show_default=True,
    help="Experts in the pool.",
)
@click.option(
    "--mode",
    type=click.Choice(["review", "panel"]),
    default="review",
    show_default=True,
    help="通讯评审 (review) or 会评 (panel).",
)
@click.option(
    "--k", type=click.IntRange(1), default=5, show_default=True, help="Experts per proposal."
)
@click.option(
    "--max-probability",
    type=click.FloatRange(0, 1, min_open=True),
    default=0.5,
    show_default=True,
    help="Cap on any (expert, proposal) pair's probability in the draw.",
)
@output_options
@domain_errors
def demo(
    workdir: Path, seed: int, experts: int, mode: str, k: int, max_probability: float
) -> Report:
    """Run every stage on the 2024 catalogue and a generated batch, in a fresh SQLite database."""
    from models.demo import run_demo

    with progress_bar() as progress:
        out = run_demo(
            workdir, seed=seed, n_experts=experts, mode=mode, k=k,
            max_probability=max_probability, progress=progress,
        )  # fmt: skip
    tables = []
    for stage, figures in out.items():
        if isinstance(figures, dict):
            rows = [[key, _show(v)] for key, v in figures.items()]
            tables.append(TableOut(stage, ["figure", "value"], rows))
    return Report(
        out,
        tables=tables,
        lines=[
            f"Database: {out['database']} (try `reviewopt --db {out['database']} export decisions`)"
        ],
    )


def _show(v: Any) -> str:
    if isinstance(v, dict):
        return ", ".join(f"{k}: {_show(x)}" for k, x in v.items())
    if isinstance(v, list):
        return ", ".join(map(str, v))
    if isinstance(v, float):
        return f"{v:,.4g}"
    return str(v)


def main() -> None:
    """Console entry point."""
    cli(prog_name="reviewopt")


if __name__ == "__main__":
    main()
