"""The figures commands report, as people read them: a label for every key and a format for
every value.

A command's ``--json`` keys are stable English names (``grants_total_wan``); people see the
label :data:`LABELS` gives the key, in their language, and the value formatted by the label's
kind: counts and 万元 whole with thousands separators, scores with 2 decimals, shares as
percentages, durations in seconds, and words (a solver status, a method, a conflict kind) in
the reader's language through :data:`WORDS`. ``tests/test_zh_output.py`` keeps the tables
complete for what the commands show.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from models.i18n import N_, _

COUNT = "count"
MONEY = "money"  # 万元
SCORE = "score"
SHARE = "share"
SECONDS = "seconds"
TEXT = "text"  # ids, file paths: shown as they are
WORD = "word"  # a code with a label in WORDS
WORD_COUNTS = "word_counts"  # {code: count}


@dataclass(frozen=True)
class Label:
    """A key's label (a catalogue message) and the kind of its values."""

    text: str
    kind: str = COUNT


LABELS: dict[str, Label] = {
    # stages (titles of the demo's tables)
    "catalogue": Label(N_("Guide catalogue"), TEXT),
    "batch": Label(N_("Batch"), TEXT),
    "screen": Label(N_("Screening (形式审查)"), TEXT),
    "pool": Label(N_("Expert pool"), TEXT),
    "conflicts": Label(N_("Conflicts of interest (回避)"), TEXT),
    "assign": Label(N_("Expert assignment"), TEXT),
    "replace": Label(N_("Declines replaced"), TEXT),
    "review": Label(N_("Reviews (simulated)"), TEXT),
    "rank": Label(N_("Calibrated ranking"), TEXT),
    "select": Label(N_("Selection"), TEXT),
    "report": Label(N_("Batch report"), TEXT),
    "timings_s": Label(N_("Time per stage"), TEXT),
    "generate_and_import": Label(N_("Generate and import"), SECONDS),
    # counts
    "programmes": Label(N_("programmes")),
    "directions": Label(N_("directions")),
    "proposals": Label(N_("proposals")),
    "experts": Label(N_("experts")),
    "units": Label(N_("units")),
    "people": Label(N_("people")),
    "relations": Label(N_("person–person relations")),
    "directions_with_proposals": Label(N_("directions with proposals")),
    "screened": Label(N_("screened")),
    "eligible": Label(N_("eligible")),
    "warnings": Label(N_("with warnings")),
    "rejected": Label(N_("rejected")),
    "planted": Label(N_("planted rejects")),
    "planted_found": Label(N_("planted rejects found")),
    "unplanted_rejections": Label(N_("rejected without a plant")),
    "planted_warnings": Label(N_("planted warnings")),
    "planted_warnings_found": Label(N_("planted warnings found")),
    "set_aside": Label(N_("set aside")),
    "available": Label(N_("available")),
    "pairs": Label(N_("conflicted pairs")),
    "run_id": Label(N_("run"), TEXT),
    "k": Label(N_("experts per proposal")),
    "proposals_to_assign": Label(N_("proposals to assign")),
    "proposals_assigned": Label(N_("proposals with experts")),
    "conflicts_violated": Label(N_("conflicts violated")),
    "invitations": Label(N_("invitations")),
    "reserves": Label(N_("reserves")),
    "panels": Label(N_("panels")),
    "panel_members": Label(N_("panel members")),
    "min_non_conflicted_members": Label(N_("fewest members free of conflict")),
    "declined": Label(N_("declined")),
    "from_reserve": Label(N_("filled from reserves")),
    "re_solved": Label(N_("filled by a new solve")),
    "unfilled": Label(N_("left unfilled")),
    "open": Label(N_("places open")),
    "reviews": Label(N_("reviews")),
    "reviews_in": Label(N_("reviews in")),
    "reviews_expected": Label(N_("reviews expected")),
    "proposals_complete": Label(N_("proposals complete")),
    "proposals_short": Label(N_("proposals short")),
    "proposals_ranked": Label(N_("proposals ranked")),
    "methods": Label(N_("methods")),
    "funded": Label(N_("funded")),
    "directions_funded": Label(N_("directions funded")),
    "alternates": Label(N_("alternates")),
    "inversions": Label(N_("rank inversions")),
    # money, scores, shares
    "grants_total_wan": Label(N_("granted (万元)"), MONEY),
    "budget_wan": Label(N_("budget (万元)"), MONEY),
    "objective": Label(N_("total affinity"), SCORE),
    "min_proposal_affinity": Label(N_("worst proposal's affinity"), SCORE),
    "expected_objective": Label(N_("expected total affinity"), SCORE),
    "kendall_tau": Label(N_("Kendall τ against the truth"), SCORE),
    "regret": Label(N_("regret (points)"), SCORE),
    "max_probability": Label(N_("cap on a pair's probability"), SHARE),
    "best_selected_share": Label(N_("truly best projects selected"), SHARE),
    "p_selected": Label(N_("P(selected)"), SHARE),
    # column headers
    "direction_code": Label(N_("direction"), TEXT),
    "rule": Label(N_("rule"), TEXT),
    "severity": Label(N_("severity"), WORD),
    "findings": Label(N_("findings")),
    "waived": Label(N_("waived")),
    # words and lists
    "status": Label(N_("solver status"), WORD),
    "mode": Label(N_("mode"), WORD),
    "method": Label(N_("method"), WORD),
    "policy": Label(N_("policy"), WORD),
    "leniency_identifiable": Label(N_("leniency identifiable"), WORD),
    "flagged": Label(N_("directions with notes"), TEXT),
    "modes": Label(N_("organisation modes"), WORD_COUNTS),
    "by_reason": Label(N_("by reason"), WORD_COUNTS),
    "file": Label(N_("file"), TEXT),
}
"""Report keys, by name (the same key means the same figure in every command)."""

WORDS: dict[str, str] = {
    # solver status
    "optimal": N_("optimal"),
    "feasible": N_("feasible"),
    "infeasible": N_("infeasible"),
    "unknown": N_("unknown"),
    # assignment modes
    "review": N_("correspondence review (通讯评审)"),
    "panel": N_("panel review (会评)"),
    # calibration methods
    "raw_mean": N_("plain mean of the reviews"),
    "trimmed_mean": N_("trimmed mean of the reviews"),
    "median": N_("median of the reviews"),
    "zscore": N_("per-expert standardised scores"),
    "additive": N_("additive leniency model"),
    "bayes": N_("Bayesian leniency model"),
    # selection policies
    "rank": N_("by calibrated rank"),
    "merit-sum": N_("largest total merit"),
    # identifiability of leniency
    "global": N_("global (one review graph)"),
    "within_components": N_("within components only"),
    "none": N_("none (no expert reviewed two proposals)"),
    # screening severities and results
    "reject": N_("reject"),
    "warn": N_("warning"),
    "eligible": N_("eligible"),
    "warnings": N_("with warnings"),
    "rejected": N_("rejected"),
    # where a replacement came from
    "reserve": N_("reserves"),
    "re-solve": N_("a new solve"),
    # overrides
    "force_in": N_("force in"),
    "force_out": N_("force out"),
    "withdraw": N_("withdrawal"),
    "clear": N_("clearing"),
    # stages of a solve, on the progress bar
    "affinity": N_("specialty match"),
    "candidates": N_("candidate experts"),
    "flow": N_("network flow"),
    "mip": N_("integer programme"),
    "pass": N_("certifying"),
    "pricing": N_("pricing out pairs"),
    "P(selected)": N_("P(selected)"),
    # column types of the input formats
    "str": N_("text"),
    "int": N_("whole number"),
    "float": N_("number"),
    "bool": N_("yes/no"),
    "date": N_("date"),
    "datetime": N_("date and time"),
    # conflict kinds
    "employment": N_("works at an applicant unit"),
    "former_employment": N_("worked at an applicant unit lately"),
    "unit_head": N_("heads an applicant unit"),
    "team_member": N_("on the project team"),
    "coauthor": N_("co-author of the team"),
    "coapplicant": N_("co-applicant with the team"),
    "advisor": N_("advisor or student of the team"),
    "relative": N_("relative of the team"),
    "own_application": N_("applied in the same direction"),
    "similar_application": N_("applied with a similar proposal"),
    "recusal": N_("recusal requested by the applicant"),
    "recusal_unit": N_("from a unit the applicant asked to avoid"),
    "direction_expert": N_("drafted or advised on the direction"),
}
"""Codes shown as words: solver status, modes, methods, policies, conflict kinds."""


def label(key: str) -> str:
    """The label of ``key`` in the current language (the key itself if it has none)."""
    return _(LABELS[key].text) if key in LABELS else key


def word(code: Any) -> str:
    """A code's word in the current language (the code itself if it has none)."""
    text = str(code)
    return _(WORDS[text]) if text in WORDS else text


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and not math.isfinite(v))


def wan(v: float | None) -> str:
    """Money in whole 万元 with thousands separators ('' where there is none)."""
    return "" if _missing(v) else f"{v:,.0f}"


def score(v: float | None) -> str:
    """A score on the experts' scale, two decimals ('' where there is none)."""
    return "" if _missing(v) else f"{v:,.2f}"


def pct(v: float | None) -> str:
    """A share as a whole percentage ('' where there is none)."""
    return "" if _missing(v) else f"{v:.0%}"


def num(v: float | int | None) -> str:
    """A count with separators, or a measure with one decimal ('' where there is none)."""
    if _missing(v):
        return ""
    return f"{v:,.1f}" if isinstance(v, float) else f"{v:,}"


def value_text(key: str, value: Any) -> str:
    """``value`` of ``key`` as people read it."""
    kind = LABELS[key].kind if key in LABELS else TEXT
    if _missing(value):
        return "—"
    if isinstance(value, Mapping):
        if kind == WORD_COUNTS:
            return _("; ").join(
                _("{name} {value}", name=word(k), value=format(v, ",")) for k, v in value.items()
            )
        return _("; ").join(f"{label(k)} {value_text(k, v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return _(", ").join(str(v) for v in value)
    if kind == WORD:
        return word(value)
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if not isinstance(value, int | float):
        return str(value)
    if kind == COUNT:
        return f"{value:,.0f}"
    if kind == MONEY:
        return wan(value)
    if kind == SCORE:
        return score(value)
    if kind == SHARE:
        return f"{value:.1%}".replace(".0%", "%")
    if kind == SECONDS:
        return _("{seconds:.1f} s", seconds=value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def figure_rows(figures: Mapping[str, Any], kind: str | None = None) -> list[list[str]]:
    """[label, value] rows of ``figures`` (``kind`` overrides the labels' kinds, e.g. seconds
    for a table of timings keyed by stage)."""
    rows = []
    for key, value in figures.items():
        shown = _("{seconds:.1f} s", seconds=value) if kind == SECONDS else value_text(key, value)
        rows.append([label(key), shown])
    return rows
