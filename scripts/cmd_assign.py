"""Assignment commands: assign from the database, replace declines, solve plain files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from sqlalchemy import Engine

from models import names
from models.figures import word
from models.i18n import N_, _
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

if TYPE_CHECKING:  # the engine (affinity, solvers) loads when a command runs, not with the CLI
    from models.assign_jobs import AssignOutcome

# --- assignment -------------------------------------------------------------------------------


def _assign_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    opts = [
        click.option(
            "--k",
            type=click.IntRange(1),
            default=5,
            show_default=True,
            help=N_("Experts per proposal."),
        ),
        click.option(
            "--max-load",
            type=click.IntRange(1),
            default=6,
            show_default=True,
            help=N_("Most proposals per expert."),
        ),
        click.option(
            "--min-load",
            type=click.IntRange(0),
            default=0,
            show_default=True,
            help=N_("Fewest proposals per expert (hard)."),
        ),
        click.option(
            "--min-industry",
            type=click.IntRange(0),
            default=0,
            help=N_("At least N 产业 experts per proposal."),
        ),
        click.option(
            "--min-outside",
            type=click.IntRange(0),
            default=0,
            help=N_("At least N experts from outside the province."),
        ),
        click.option(
            "--min-senior",
            type=click.IntRange(0),
            default=0,
            help=N_("At least N 正高 experts per proposal."),
        ),
        click.option(
            "--fair", is_flag=True, help=N_("Maximise the worst-off proposal's affinity first.")
        ),
        click.option(
            "--time-limit",
            type=click.FloatRange(0, min_open=True),
            default=60.0,
            show_default=True,
            help=N_("Seconds the fair search may take (its status says when it stopped on it)."),
        ),
        click.option(
            "--max-probability",
            type=click.FloatRange(0, 1, min_open=True),
            help=N_("Randomised draw: no (expert, proposal) pair more likely than this."),
        ),
        click.option(
            "--seed",
            type=int,
            default=0,
            show_default=True,
            help=N_("Seed of the draw (recorded)."),
        ),
    ]
    for o in reversed(opts):
        fn = o(fn)
    return fn


@command(
    help=N_(
        "Assign experts to the batch's eligible proposals (exact, fair or a capped random draw)."
    )
)
@batch_option
@click.option(
    "--mode",
    type=click.Choice(["review", "panel"]),
    default="review",
    show_default=True,
    help=N_("通讯评审 or 会评."),
)
@_assign_options
@click.option(
    "--k-direction", multiple=True, metavar="CODE=K", help=N_("k for one direction (repeat).")
)
@click.option(
    "--k-proposal",
    multiple=True,
    metavar="ID=K",
    help=N_("k for one proposal, over its direction's (repeat)."),
)
@click.option(
    "--affinity",
    "affinity_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help=N_("Use this proposal,expert,score CSV instead of the built-in specialty affinity."),
)
@click.option(
    "--panel-groups",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help=N_("Panel mode: a direction_code,group CSV naming which directions share a panel."),
)
@click.option(
    "--affinity-floor",
    type=float,
    default=0.0,
    show_default=True,
    help=N_("Lowest usable affinity."),
)
@click.option(
    "--candidates",
    type=click.IntRange(1),
    default=60,
    show_default=True,
    help=N_("Candidates per proposal."),
)
@click.option(
    "--reserve-ratio",
    type=click.FloatRange(0),
    default=0.0,
    show_default=True,
    help=N_("Reserves per seat (1:N)."),
)
@click.option(
    "--panel-size",
    type=click.IntRange(1),
    default=7,
    show_default=True,
    help=N_("Panel size (odd)."),
)
@click.option(
    "--panel-min",
    type=click.IntRange(1),
    default=5,
    show_default=True,
    help=N_("Non-conflicted members per proposal."),
)
@click.option(
    "--panel-by",
    type=click.Choice(["direction", "programme"]),
    default="direction",
    show_default=True,
    help=N_("One panel per direction or per programme."),
)
@click.option(
    "--panel-industry",
    type=click.IntRange(0),
    default=0,
    help=N_("At least N 产业 experts per panel."),
)
@click.option(
    "--panel-finance",
    type=click.IntRange(0),
    default=0,
    help=N_("At least N 财务 experts per panel."),
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
    time_limit: float,
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
    if fair and max_probability is not None:
        raise CliError(_("--fair and --max-probability cannot be combined"), EXIT_USAGE)
    from assign.pipeline import AssignOptions
    from models import assign_jobs

    spec = assign_jobs.RunSpec(
        mode=mode,
        options=AssignOptions(
            k=k, k_by_direction=_k_overrides("--k-direction", "CODE", k_direction),
            k_by_proposal=_k_overrides("--k-proposal", "ID", k_proposal), max_load=max_load,
            min_load=min_load, floor=affinity_floor, top_n=candidates, min_industry=min_industry,
            min_outside=min_outside, min_senior=min_senior,
        ),
        max_probability=max_probability, fair=fair, time_limit_s=time_limit,
        reserve_ratio=reserve_ratio, seed=seed,
        panel_by=panel_by, panel_size=panel_size, panel_min=panel_min,
        panel_industry=panel_industry, panel_finance=panel_finance,
        affinity_file=None if affinity_file is None else str(affinity_file),
    )  # fmt: skip
    with progress_bar() as progress:
        out = assign_jobs.assign_job(
            ctx.engine, batch_id, spec=spec, actor=ctx.actor, panel_groups_file=panel_groups,
            progress=progress,
        )  # fmt: skip
    return _assign_report(out, ctx.engine)


def _k_overrides(option: str, name: str, items: tuple[str, ...]) -> dict[str, int]:
    """``NAME=K`` items as a mapping; a malformed or repeated name is a usage error."""
    out: dict[str, int] = {}
    for item in items:
        key, _eq, val = item.partition("=")
        if not key or not val.isdigit():
            raise CliError(
                _("{option} takes {name}=K, got {item}", option=option, name=name, item=repr(item)),
                EXIT_USAGE,
            )
        if key in out:
            raise CliError(_("{option} gives {key} twice", option=option, key=key), EXIT_USAGE)
        out[key] = int(val)
    return out


def _assign_report(out: AssignOutcome, engine: Engine) -> Report:
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
        leaders = out.panels.leaders
        known = names.lookup(engine, people=leaders.values(), directions=out.panels.panels)
        rows = [
            [known.direction_label(g), len(m), leaders.get(g, ""), known.person(leaders.get(g))]
            for g, m in out.panels.panels.items()
        ]
        return Report(
            data,
            tables=[
                TableOut(
                    _("Panels of run {run}", run=out.run_id),
                    [_("panel"), _("members"), _("leader (组长)"), _("name")],
                    rows,
                )
            ],
            lines=[
                _(
                    "{status}, objective {objective:.2f}, gap {gap:.2%}",
                    status=word(s["status"]),
                    objective=s["objective"],
                    gap=s["gap"],
                )
            ],
        )
    hist = s.get("load_histogram", {})
    lines = [
        _(
            "run {run}: {status}, {n} proposals × {k} experts, total affinity {total:,.2f}, "
            "worst proposal {worst:.2f}",
            run=out.run_id,
            status=word(s["status"]),
            n=out.problem.n_proposals,
            k=out.spec.options.k,
            total=s["total_affinity"],
            worst=s["min_proposal_affinity"],
        ),  # fmt: skip
        _(
            "conflicts violated: {conflicts}; one-per-unit violated: {units}; {proof}",
            conflicts=s["conflicts_violated"],
            units=s["one_per_unit_violated"],
            proof=_("certified optimal")
            if s.get("certified")
            else _("gap {gap}", gap=s.get("gap")),
        ),
    ]
    lines += _mode_lines(s)
    return Report(
        data,
        tables=[
            TableOut(
                _("Experts by number of proposals"),
                [_("proposals each"), _("experts")],
                sorted(hist.items()),
            )
        ],
        lines=lines,
    )


@command(help=N_("Replace experts who declined, from reserves first, moving nobody else."))
@batch_option
@click.argument("declined", nargs=-1, required=True, metavar="PROPOSAL:EXPERT...")
@output_options
@pass_ctx
@domain_errors
def replace(ctx: Ctx, batch_id: str | None, declined: tuple[str, ...]) -> Report:
    pairs = []
    for item in declined:
        p, sep, e = item.partition(":")
        if not sep or not p or not e:
            raise CliError(_("expected PROPOSAL:EXPERT, got {item}", item=repr(item)), EXIT_USAGE)
        pairs.append((p, e))
    from models import assign_jobs

    out = assign_jobs.replace_job(ctx.engine, batch_id, pairs, actor=ctx.actor)
    who = names.lookup(ctx.engine, people=[e for _p, e, _s in out.added])
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
                _("Invited instead"),
                [_("proposal"), _("expert"), _("name"), _("from")],
                [[p, e, who.person(e), word(source)] for p, e, source in out.added],
            )
        ],
        lines=out.diagnosis,
        exit_code=EXIT_INFEASIBLE if out.unfilled else 0,
    )


def _mode_lines(s: dict[str, Any]) -> list[str]:
    """The fair or draw figures of a run, for people."""
    lines = []
    if "fair_min" in s:
        lines.append(
            _(
                "fair: worst proposal {fair_min:.4f} (proven bound {bound:.4f}, gap {gap:.2%}; "
                "plain {plain_min:.4f}), total {total:.3f} (plain {plain_total:.3f}); "
                "price of fairness {price:.3f}",
                fair_min=s["fair_min"],
                bound=s["fair_min_bound"],
                gap=s["fair_gap"],
                plain_min=s["plain_min"],
                total=s["fair_total"],
                plain_total=s["plain_total"],
                price=s["price_of_fairness"],
            )  # fmt: skip
        )
        for st in s["stages"]:
            lines.append(
                _(
                    "stage {stage}: {status}, {value:.4f} (bound {bound:.4f}), {wall:.2f} s",
                    stage=st["stage"],
                    status=word(st["status"]),
                    value=st["objective"],
                    bound=st["bound"],
                    wall=st["wall_s"],
                )  # fmt: skip
            )
    if "expected_objective" in s:
        lines.append(
            _(
                "draw with max probability {q:g}: expected affinity {expected:.3f} (the most any "
                "capped draw can expect), drawn {drawn:.3f}, largest pair probability {top:.3f}",
                q=s["max_probability"],
                expected=s["expected_objective"],
                drawn=s["realised_objective"],
                top=s["max_pair_probability"],
            )  # fmt: skip
        )
    return lines


def _weights(items: tuple[str, ...], n_files: int) -> list[float] | None:
    """``--weights`` as numbers (repeated, or one comma-separated list), one per scores file."""
    if not items:
        return None
    out: list[float] = []
    for item in items:
        for part in item.replace(",", " ").split():
            try:
                out.append(float(part))
            except ValueError as exc:
                raise CliError(
                    _("--weights takes numbers, got {value!r}", value=part), EXIT_USAGE
                ) from exc
    if len(out) != n_files:
        raise CliError(
            _(
                "--weights gives {n} weights for {files} --scores files; give one per file",
                n=len(out),
                files=n_files,
            ),  # fmt: skip
            EXIT_USAGE,
        )
    return out


_FILE = click.Path(dir_okay=False, path_type=Path)


@command(
    help=N_("Solve an assignment from plain files, no database (scripts, other matchers' inputs).")
)
@click.option(
    "--scores",
    type=_FILE,
    required=True,
    multiple=True,
    help=N_("proposal,expert,score CSV, Parquet or .npz (repeat to sum several, see --weights)."),
)
@click.option(
    "--weights",
    multiple=True,
    metavar="W[,W...]",
    help=N_("One weight per --scores file, in order (repeat or comma-separate); default 1 each."),
)
@click.option("--conflicts", "conflicts_file", type=_FILE, help=N_("proposal,expert CSV."))
@click.option(
    "--constraints",
    "constraints_file",
    type=_FILE,
    help=N_("proposal,expert,constraint CSV: -1 conflict, 1 must assign, 0 no effect."),
)
@click.option("--demands", "demands_file", type=_FILE, help=N_("proposal,k CSV: k per proposal."))
@click.option(
    "--experts",
    "experts_file",
    type=_FILE,
    help=N_("expert[,min_load,max_load,unit,kind,province,title] CSV."),
)
@_assign_options
@click.option(
    "--affinity-floor", type=float, default=0.0, show_default=True, help=N_("Lowest usable score.")
)
@click.option(
    "--allow-missing",
    is_flag=True,
    help=N_("Pairs absent from the scores are candidates at score 0."),
)
@click.option(
    "--num-alternates",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help=N_("List each proposal's next N best experts (see --alternates-out)."),
)
@click.option(
    "--alternates-out",
    type=_FILE,
    help=N_("Alternates CSV to write (default: beside --out, named <out>.alternates.csv)."),
)
@click.option(
    "--marginals-out",
    type=_FILE,
    help=N_("With --max-probability: write every pair's probability to this CSV."),
)
@click.option("--out", type=_FILE, required=True, help=N_("Assignment CSV to write."))
@output_options
@domain_errors
def solve(
    scores: tuple[Path, ...],
    weights: tuple[str, ...],
    conflicts_file: Path | None,
    constraints_file: Path | None,
    demands_file: Path | None,
    experts_file: Path | None,
    k: int,
    max_load: int,
    min_load: int,
    min_industry: int,
    min_outside: int,
    min_senior: int,
    fair: bool,
    time_limit: float,
    max_probability: float | None,
    seed: int,
    affinity_floor: float,
    allow_missing: bool,
    num_alternates: int,
    alternates_out: Path | None,
    marginals_out: Path | None,
    out: Path,
) -> Report:
    from assign.draw import draw_summary
    from assign.fair import fair_summary
    from assign.file_solve import draw_inputs, solve_exact, solve_fair_inputs
    from assign.files import alternates, read_inputs, write_assignment_csv, write_rows
    from assign.solver import quality_summary

    if fair and max_probability is not None:
        raise CliError(_("--fair and --max-probability cannot be combined"), EXIT_USAGE)
    if marginals_out is not None and max_probability is None:
        raise CliError(_("--marginals-out needs --max-probability"), EXIT_USAGE)
    inputs = read_inputs(
        list(scores), weights=_weights(weights, len(scores)), conflicts=conflicts_file,
        constraints=constraints_file, demands=demands_file, experts=experts_file, k=k,
        max_load=max_load, min_load=min_load, floor=affinity_floor, allow_missing=allow_missing,
        min_industry=min_industry, min_outside=min_outside, min_senior=min_senior,
    )  # fmt: skip
    problem = inputs.full
    extra: dict[str, Any] = {}
    marginals = None
    with progress_bar() as progress:
        if fair:
            fr = solve_fair_inputs(inputs, time_limit_s=time_limit)
            result, extra = fr.assignment, fair_summary(fr)
        elif max_probability is not None:
            draw, marginals = draw_inputs(inputs, q=max_probability, seed=seed)
            result, extra = draw.assignment, draw_summary(draw)
        else:
            problem, result = solve_exact(inputs, progress=progress)
    data = {
        "status": str(result.status), "objective": result.objective, "bound": result.bound,
        "gap": result.gap, "wall_s": result.wall_s, "certified": result.certified,
        "proposals": problem.n_proposals, "experts": problem.n_experts, "k": k,
        "must_assign": int(inputs.pinned.p.size), "diagnosis": list(result.diagnosis), **extra,
    }  # fmt: skip
    if result.status in ("infeasible", "unknown"):
        return Report(
            data,
            lines=[_("no assignment ({status}):", status=word(result.status)), *result.diagnosis],
            exit_code=EXIT_INFEASIBLE,
        )
    n = write_assignment_csv(result, out)
    lines = [
        _(
            "{status}: objective {objective:.6f}, bound {bound:.6f}, gap {gap:.2e}, {certified}, "
            "{wall:.2f} s; {n} pairs written to {out}",
            status=word(result.status),
            objective=result.objective,
            bound=data["bound"],
            gap=data["gap"],
            wall=result.wall_s,
            n=n,
            out=out,
            certified=_("certified") if result.certified else _("not certified"),
        )  # fmt: skip
    ]
    if num_alternates:
        path = alternates_out or out.with_name(out.stem + ".alternates.csv")
        n_alt = write_rows(alternates(problem, result, num_alternates), path)
        data.update({"alternates": n_alt, "alternates_out": str(path)})
        lines.append(_("{n} alternates written to {out}", n=n_alt, out=path))
    if marginals is not None and marginals_out is not None:
        data["marginals_out"] = str(marginals_out)
        n_m = write_rows(marginals, marginals_out)
        lines.append(_("{n} pair probabilities written to {out}", n=n_m, out=marginals_out))
    summary = quality_summary(problem, result)
    data.update({k_: v for k_, v in summary.items() if k_ not in data})
    return Report(data, lines=lines + _mode_lines(data))
