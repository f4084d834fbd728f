"""Run forms made from the commands' own options.

Each run form on a page is built from the ``reviewopt`` command's click options (their names,
types, ranges, choices, defaults and help), and what the user submits becomes the command's
arguments, parsed and checked by click exactly as in a terminal. A new option of a command
shows up on its form by itself. Options that name files on the server (``--policy``,
``--affinity``, ``--out``) are left off: a web user never points the server at its own files.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import click

from models.figures import word
from models.i18n import N_, _
from models.vocab import EXPERT_LEVEL, TITLE
from scripts.invoke import command

LEFT_OFF = frozenset({"as_json", "batch_id", "help"})

LABELS: dict[str, str] = {
    "similarity": N_("Near-duplicate threshold"),
    "max_age": N_("Oldest age kept (超龄)"),
    "titles": N_("Keep only these titles"),
    "levels": N_("Keep only these levels"),
    "province": N_("Keep only experts in or out of the province"),
    "coauthor_years": N_("Co-authorship window (years)"),
    "former_employment_years": N_("Left a unit within (years)"),
    "shareholding": N_("Shareholding relates units"),
    "shareholding_threshold": N_("Shareholding threshold (share)"),
    "mode": N_("Mode"),
    "k": N_("Experts per proposal (k)"),
    "max_load": N_("Most proposals per expert"),
    "min_load": N_("Fewest proposals per expert"),
    "min_industry": N_("At least this many industry (产业) experts per proposal"),
    "min_outside": N_("At least this many experts from outside the province"),
    "min_senior": N_("At least this many senior (正高) experts per proposal"),
    "fair": N_("Fair: the worst-off proposal first"),
    "time_limit": N_("Time limit of the fair search (seconds)"),
    "max_probability": N_("Random draw: highest probability of any pair"),
    "seed": N_("Random seed"),
    "k_direction": N_("k for a direction (CODE=K, one a line)"),
    "k_proposal": N_("k for a proposal (ID=K, one a line)"),
    "affinity_floor": N_("Lowest usable affinity"),
    "candidates": N_("Candidates per proposal"),
    "reserve_ratio": N_("Reserves per seat"),
    "panel_size": N_("Panel size (odd)"),
    "panel_min": N_("Non-conflicted members per proposal"),
    "panel_by": N_("One panel per"),
    "panel_industry": N_("At least this many industry experts per panel"),
    "panel_finance": N_("At least this many finance experts per panel"),
    "method": N_("Calibration method"),
    "draws": N_("Draws"),
    "weight_confidence": N_("Weight reviews by the experts' confidence (熟悉程度)"),
    "top": N_("Rows shown per direction"),
    "policy": N_("Selection policy"),
    "fresh": N_("Start from the defaults, not the last run's options"),
    "budget": N_("Total provincial budget (万元)"),
    "programme_budget": N_("Programme budget (PROGRAMME=万元, one a line)"),
    "quality_floor": N_("Lowest fundable merit"),
    "min_grant_share": N_("Grants may be cut to this share"),
    "youth_share": N_("Least share of young-led projects"),
    "related": N_("At most one funded project per group of related lead units"),
    "lottery": N_("Seeded lottery for the grey zone"),
    "proposal": N_("Proposal"),
    "rule": N_("Rule"),
    "reason": N_("Reason"),
    "declined": N_("Declined invitations (PROPOSAL:EXPERT, one a line)"),
    "action": N_("Action"),
    "kind": N_("Kind of file"),
    "max_wan": N_("Largest believable amount (万元)"),
    "stale": N_("Clear a lock whose holder is gone"),
}

CHOICE_LABELS: dict[str, str] = {
    "review": N_("correspondence review (通讯评审)"),
    "panel": N_("panel review (会评)"),
    "direction": N_("direction"),
    "programme": N_("programme"),
    "in": N_("in the province"),
    "out": N_("outside the province"),
    "force_in": N_("force in"),
    "force_out": N_("force out"),
    "clear": N_("clear the override"),
    **TITLE,
    **EXPERT_LEVEL,
}


def choice_label(code: str) -> str:
    """A choice as people read it: the form's own word, else the figures' word (methods,
    policies, …), else the code itself."""
    return _(CHOICE_LABELS[code]) if code in CHOICE_LABELS else word(code)


@dataclass(frozen=True)
class Field:
    """One input of a run form.

    kind: ``number``, ``choice`` (one of), ``choices`` (any of), ``flag`` (a checkbox),
    ``switch`` (default / yes / no), ``text`` or ``lines`` (one value a line)."""

    name: str
    flag: str
    off_flag: str | None
    kind: str
    label: str
    help: str
    default: Any
    choices: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    integer: bool = False
    required: bool = False


def _range(t: click.ParamType) -> tuple[float | None, float | None, bool]:
    if isinstance(t, click.IntRange | click.FloatRange):
        return t.min, t.max, isinstance(t, click.IntRange)
    return None, None, isinstance(t, click.types.IntParamType)


def _field(p: click.Parameter) -> Field | None:
    name = p.name or ""
    if name in LEFT_OFF or isinstance(p.type, click.Path) or name == "out":
        return None
    label = LABELS.get(name, name)
    help_text = getattr(p, "help", None) or ""
    default = p.default if isinstance(p.default, bool | int | float | str | tuple) else None
    if isinstance(p, click.Argument):
        kind = "lines" if p.nargs == -1 else "text"
        if isinstance(p.type, click.Choice):
            kind = "choice"
        choices = tuple(p.type.choices) if isinstance(p.type, click.Choice) else ()
        return Field(name, "", None, kind, label, help_text, default, choices, required=True)
    assert isinstance(p, click.Option)
    flag = max(p.opts, key=len)
    if p.is_flag and p.secondary_opts:
        return Field(name, flag, p.secondary_opts[0], "switch", label, help_text, default)
    if p.is_flag:
        return Field(name, flag, None, "flag", label, help_text, default is True)
    if isinstance(p.type, click.Choice):
        kind = "choices" if p.multiple else "choice"
        choices = tuple(str(c) for c in p.type.choices)
        return Field(
            name, flag, None, kind, label, help_text, default, choices, required=p.required
        )
    if isinstance(p.type, click.types.IntParamType | click.types.FloatParamType):
        low, high, integer = _range(p.type)
        return Field(
            name, flag, None, "number", label, help_text, default, (), low, high, integer,
            p.required,
        )  # fmt: skip
    kind = "lines" if p.multiple else "text"
    return Field(name, flag, None, kind, label, help_text, default, required=p.required)


def fields(name: str) -> list[Field]:
    """The run form of command ``name``: its options (and arguments) a web user may set."""
    out = [_field(p) for p in command(name).params]
    return [f for f in out if f is not None]


def arguments(name: str, form: Any, *, batch_id: str | None = None) -> list[str]:
    """The command's arguments from a submitted form (``form.get`` / ``form.getlist``).

    Empty inputs are left out, so that the command's defaults apply."""
    args: list[str] = []
    if batch_id is not None and any(p.name == "batch_id" for p in command(name).params):
        args.append(f"--batch={batch_id}")
    positional: list[str] = []
    for f in fields(name):
        value = str(form.get(f.name, "") or "").strip()
        if f.kind == "lines":  # rows ticked in a table count as lines too
            value = "\n".join([value, *(str(v) for v in form.getlist(f.name + "_pick"))])
        if not f.flag:
            positional += value.splitlines() if f.kind == "lines" else [value] if value else []
        elif f.kind == "flag":
            args += [f.flag] if value else []
        elif f.kind == "switch" and value in ("yes", "no"):
            args.append(f.flag if value == "yes" else str(f.off_flag))
        elif f.kind == "choices":
            args += [f"{f.flag}={v}" for v in form.getlist(f.name)]
        elif f.kind == "lines":
            args += [f"{f.flag}={line.strip()}" for line in value.splitlines() if line.strip()]
        elif value and f.kind != "switch":
            args.append(f"{f.flag}={value}")
    positional = [v.strip() for v in positional if v.strip()]
    return args + (["--", *positional] if positional else [])
