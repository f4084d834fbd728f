"""The batch report as one self-contained HTML page: styles inline, charts inline SVG, no
script, no font or image to fetch. Every value is escaped (Jinja2's autoescape), numbers are
formatted as people read them (万元 whole, scores with two decimals, percentages), and text is
in the current language: the figures' labels and words are the CLI's (``models.figures``),
so that the page and the terminal name a figure alike.

Large batches degrade to summaries: above :data:`CHART_LIMIT` eligible proposals the page
draws no per-proposal chart and each direction's table keeps its funded proposals, its
alternates and the first :data:`TABLE_TOP` by rank; the page says so.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import jinja2

from models.figures import label, num, pct, score, value_text, wan, word
from models.i18n import N_, _, _n, language
from models.report import charts
from models.report.gather import Direction, ReportData, Row
from models.status import STAGE_NAMES

CHART_LIMIT = 3000
"""Eligible proposals in a batch above which no per-proposal chart is drawn."""
TABLE_TOP = 10
"""Above the limit, rows of each direction's table beyond the funded and the alternates."""
LIST_LIMIT = 200
"""Proposals named per screening rule and outcome (the rest are counted)."""

SECTIONS = {
    "overview": N_("Overview"),
    "screening": N_("Screening (形式审查)"),
    "assignment": N_("Assignment (专家分配)"),
    "directions": N_("Per direction"),
    "reviewers": N_("Reviewers"),
    "audit": N_("Audit"),
}


IDENTIFIABLE = {
    "global": N_(
        "identifiable: every reviewer is linked to every other through shared proposals (one "
        "connected review graph)"
    ),
    "within_components": N_(
        "identifiable only within each of the {n} connected parts of the review graph; "
        "leniencies of different parts are comparable only if their mean leniency is the same"
    ),
    "none": N_(
        "not identifiable: no expert reviewed two proposals, so leniency cannot be told from merit"
    ),
}

QUOTAS = {
    "industry": N_("at least the asked number of industry experts"),
    "outside-province": N_("at least the asked number of experts from outside the province"),
    "senior": N_("at least the asked number of senior (正高) experts"),
}

ASSIGNMENT_STATUSES = {
    "invited": N_("invited"),
    "accepted": N_("accepted"),
    "reserve": N_("reserves"),
    "declined": N_("declined"),
    "replaced": N_("replaced"),
}

OUTCOME = {
    "funded": N_("selected for funding"),
    "alternate": N_("alternate (备选) {n}"),
    "not_funded": N_("not selected"),
    "undecided": N_("not decided yet"),
}


def outcome(row: Row) -> str:
    return _(OUTCOME[row.outcome], n=row.alternate_rank or "")


@dataclass(frozen=True)
class Page:
    """The finished page and the sections it holds (keys of :data:`SECTIONS`)."""

    html: str
    sections: tuple[str, ...]
    method: str | None  # the calibration the scores are by
    charts: dict[str, str]  # direction code → its chart


def _shown(direction: Direction, limited: bool) -> tuple[Row, ...]:
    if not limited:
        return direction.rows
    return tuple(
        r
        for i, r in enumerate(direction.rows)
        if i < TABLE_TOP or r.selected or r.alternate_rank is not None
    )


@functools.cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("models.report", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.globals.update(
        _=_, _n=_n, wan=wan, score=score, pct=pct, num=num, outcome=outcome, label=label,
        value_text=value_text, word=word,
    )  # fmt: skip
    return env


def direction_charts(data: ReportData) -> dict[str, str]:
    """Each direction's chart (none above :data:`CHART_LIMIT` eligible proposals)."""
    eligible = sum(len(d.rows) for d in data.directions)
    if eligible > CHART_LIMIT:
        return {}
    return {d.code: charts.direction_chart(d) for d in data.directions}


def render(data: ReportData) -> Page:
    """The report of ``data`` in the current language."""
    sections = ["overview"]
    if data.screening is not None:
        sections.append("screening")
    if data.assignment is not None:
        sections.append("assignment")
    if data.directions:
        sections.append("directions")
    if data.reviewers is not None:
        sections.append("reviewers")
    sections.append("audit")
    eligible = sum(len(d.rows) for d in data.directions)
    limited = eligible > CHART_LIMIT
    by_direction = direction_charts(data)
    a = data.assignment
    figures: dict[str, Any] = {
        "budget": charts.budget_chart(data.overview.programmes)
        if data.overview.programmes
        else None,
        "affinity": charts.affinity_chart(a.pair_affinity, a.best_affinity)
        if a is not None and a.pair_affinity
        else None,
        "loads": charts.loads_chart(a.loads) if a is not None and a.loads else None,
        "leniency": charts.leniency_chart(data.reviewers.reviewers)
        if data.reviewers is not None and data.reviewers.reviewers
        else None,
    }
    body = (
        _environment()
        .get_template("report.html.j2")
        .render(
            d=data,
            lang=language(),
            sections=[(key, _(SECTIONS[key])) for key in sections],
            stage_names=STAGE_NAMES,
            assignment_statuses=ASSIGNMENT_STATUSES,
            quota_names=QUOTAS,
            identifiable=IDENTIFIABLE,
            figures=figures,
            direction_charts=by_direction,
            limited=limited,
            eligible=eligible,
            chart_limit=CHART_LIMIT,
            table_top=TABLE_TOP,
            list_limit=LIST_LIMIT,
            shown=lambda direction: _shown(direction, limited),
        )
    )
    return Page(body, tuple(sections), data.method, by_direction)
