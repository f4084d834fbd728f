"""The report's charts, drawn by matplotlib as inline SVG with the text kept as text.

Matplotlib is the plotting library: a long-kept, widely used project whose SVG backend needs
neither a browser nor JavaScript, so that the page stays one self-contained file that prints
as it shows. ``svg.fonttype: none`` leaves each label as an SVG ``<text>`` element, which the
browser sets in the page's own CJK font stack (no glyph outlines embedded: small files, real
Chinese text in the PDF). Each function takes plain data and returns the ``<svg>`` element as
a string; widths scale to the page (a ``viewBox``, no fixed size).
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import matplotlib
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import StrMethodFormatter
from matplotlib.transforms import blended_transform_factory

from models.i18n import N_, _
from models.report.gather import Direction, Programme, Reviewer, Row

FONTS = ["Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", "DejaVu Sans"]
COLOURS = {
    "funded": "#1a7f37",
    "alternate": "#bf8700",
    "not_funded": "#8c959f",
    "undecided": "#0969da",
    "budget": "#d0d7de",
    "line": "#cf222e",
}
RC: dict[Any, Any] = {
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.sans-serif": FONTS,
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#57606a",
    "axes.grid": True,
    "grid.color": "#eaeef2",
    "axes.axisbelow": True,
}
CURVE_POINTS = 1500
"""Experts drawn along the leniency curve at most."""
_PROLOGUE = re.compile(r"^.*?(?=<svg)", re.S)
_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.S)
_SIZE = re.compile(r'<svg([^>]*?) width="[^"]*" height="[^"]*"')


@contextmanager
def _figure(
    width: float, height: float, *, margins: tuple[float, ...] | None = None
) -> Iterator[Figure]:
    """A figure of ``width`` × ``height`` inches; ``margins`` (left, right, top, bottom, in
    inches) fixes the axes' place, else constrained layout finds it (slower: it measures every
    label first)."""
    with matplotlib.rc_context(RC), warnings.catch_warnings():
        # without a CJK font on this machine the layout measures Chinese with a fallback font;
        # the browser still sets the text in its own CJK font
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        warnings.filterwarnings("ignore", message="findfont")
        if margins is None:
            yield Figure(figsize=(width, height), layout="constrained")
            return
        left, right, top, bottom = margins
        fig = Figure(figsize=(width, height))
        fig.subplots_adjust(
            left=left / width, right=1 - right / width, top=1 - top / height, bottom=bottom / height
        )
        yield fig


def _svg(fig: Figure, salt: str) -> str:
    """The figure as an ``<svg>`` element (ids salted per chart, so that several charts on one
    page never share a clip path id)."""
    out = io.StringIO()
    with matplotlib.rc_context({**RC, "svg.hashsalt": salt}), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        warnings.filterwarnings("ignore", message="findfont")
        FigureCanvasSVG(fig).print_svg(out, metadata={"Date": None, "Creator": None})
    text = _METADATA.sub("", _PROLOGUE.sub("", out.getvalue(), count=1), count=1)
    return _SIZE.sub(r'<svg\1 class="chart" role="img"', text, count=1)


def budget_chart(programmes: Sequence[Programme]) -> str:
    """Per programme: its budget (grey) and the grants (green), 万元."""
    with _figure(9, 0.6 + 0.38 * len(programmes)) as fig:
        ax = fig.add_subplot()
        y = list(range(len(programmes)))[::-1]
        budgets = [p.budget_wan or 0.0 for p in programmes]
        ax.barh(y, budgets, height=0.7, color=COLOURS["budget"], label=_("budget"))
        ax.barh(
            y,
            [p.granted_wan for p in programmes],
            height=0.4,
            color=COLOURS["funded"],
            label=_("granted"),
        )
        for yi, p in zip(y, programmes, strict=True):
            share = f" ({p.granted_wan / p.budget_wan:.0%})" if p.budget_wan else ""
            ax.text(
                max(p.granted_wan, p.budget_wan or 0.0),
                yi,
                f"  {p.granted_wan:,.0f}{share}",
                va="center",
                fontsize=8,
            )
        ax.set_yticks(y, [p.name for p in programmes])
        ax.set_xlabel(_("10,000 CNY (万元)"))
        ax.margins(x=0.18)
        ax.grid(axis="y", visible=False)
        ax.xaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
        ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncols=2, frameon=False, fontsize=8)
        return _svg(fig, "budget")


def affinity_chart(pairs: Sequence[float], best: Sequence[float]) -> str:
    """Histogram of the assigned pairs' affinity against each proposal's best stored
    candidate."""
    with _figure(9, 2.6) as fig:
        ax = fig.add_subplot()
        low, top = min([*pairs, *best]), max([*pairs, *best])
        step = max(top - low, 1e-9) / 30
        bins = [low + step * i for i in range(31)]
        ax.hist(best, bins=bins, color=COLOURS["budget"], label=_("best candidate per proposal"))
        ax.hist(
            pairs,
            bins=bins,
            histtype="step",
            linewidth=1.6,
            color=COLOURS["undecided"],
            label=_("assigned pairs"),
        )
        ax.set_xlabel(_("affinity"))
        ax.set_ylabel(_("count"))
        ax.legend(frameon=False, fontsize=8)
        return _svg(fig, "affinity")


def loads_chart(loads: Sequence[int]) -> str:
    """Histogram of proposals per assigned expert."""
    with _figure(9, 2.4) as fig:
        ax = fig.add_subplot()
        top = max(loads, default=1)
        counts = [sum(1 for x in loads if x == n) for n in range(1, top + 1)]
        ax.bar(range(1, top + 1), counts, color=COLOURS["undecided"], width=0.7)
        for n, c in zip(range(1, top + 1), counts, strict=True):
            ax.text(n, c, f"{c:,}", ha="center", va="bottom", fontsize=8)
        ax.set_xticks(range(1, top + 1))
        ax.set_xlabel(_("proposals per expert"))
        ax.set_ylabel(_("experts"))
        ax.grid(axis="x", visible=False)
        return _svg(fig, "loads")


LEGEND = {
    "funded": N_("selected for funding"),
    "alternate": N_("alternate (备选)"),
    "not_funded": N_("not selected"),
    "undecided": N_("not decided yet"),
}


def direction_chart(direction: Direction) -> str:
    """Every eligible proposal of a direction: calibrated score with its 80 % interval (best
    score on top, the order selection follows), the funding line under the last funded one,
    the outcome by colour, expected rank and P(selected) on the right."""
    rows = direction.rows
    n = len(rows)
    with _figure(9, 1.0 + 0.3 * n, margins=(0.95, 1.95, 0.4, 0.5)) as fig:
        ax = fig.add_subplot()
        scored = [r for r in rows if r.interval is not None]
        lo = min((r.interval[0] for r in scored if r.interval), default=0.0)
        hi = max((r.interval[1] for r in scored if r.interval), default=100.0)
        pad = max(1.0, 0.05 * (hi - lo))
        right = blended_transform_factory(ax.transAxes, ax.transData)
        by_outcome: dict[str, list[tuple[int, Row]]] = {}
        for i, r in enumerate(rows):
            y = n - 1 - i
            if r.interval is None:
                ax.text(lo, y, _("no reviews"), va="center", fontsize=8, color="#57606a")
                continue
            by_outcome.setdefault(r.outcome, []).append((y, r))
            note = _("E[rank] {rank:.1f}", rank=r.expected_rank or 0.0)
            if r.p_selected is not None:
                note += "   " + _("P(selected) {p:.0%}", p=r.p_selected)
            ax.text(1.01, y, note, transform=right, va="center", fontsize=8, color="#24292f")
        for kind, group in by_outcome.items():
            ys = [y for y, _r in group]
            colour = COLOURS[kind]
            ax.hlines(
                ys,
                [r.interval[0] for _y, r in group if r.interval],
                [r.interval[1] for _y, r in group if r.interval],
                color=colour,
                linewidth=2.2,
            )
            ax.plot(
                [r.score or 0.0 for _y, r in group],
                ys,
                "o",
                color=colour,
                markersize=5.5,
                markeredgecolor="white",
            )
        funded = [i for i, r in enumerate(rows) if r.selected]
        if funded and max(funded) < n - 1:
            y_line = n - 1 - max(funded) - 0.5
            ax.axhline(y_line, color=COLOURS["line"], linestyle="--", linewidth=1)
            ax.text(
                lo - pad,
                y_line + 0.08,
                " " + _("funding line"),
                color=COLOURS["line"],
                ha="left",
                va="bottom",
                fontsize=8,
            )
        ax.set_yticks(range(n), [r.proposal_id for r in rows][::-1])
        ax.set_ylim(-0.7, n - 0.3)
        ax.set_xlim(lo - pad, hi + pad)
        ax.set_xlabel(_("calibrated score (80 % interval)"))
        ax.grid(axis="y", visible=False)
        shown = sorted({r.outcome for r in rows}, key=list(LEGEND).index)
        handles = [
            Line2D([], [], color=COLOURS[o], marker="o", linewidth=2.2, label=_(LEGEND[o]))
            for o in shown
        ]
        fig.legend(
            handles=handles, loc="upper center", ncols=len(handles), frameon=False,
            fontsize=8,
        )  # fmt: skip
        return _svg(fig, f"direction-{direction.code}")


def leniency_chart(reviewers: Sequence[Reviewer]) -> str:
    """Every expert's estimated leniency (points) with its 80 % interval as a band, sorted;
    the experts whose interval lies off 0 are marked. Above :data:`CURVE_POINTS` experts the
    band, the curve and the marks are drawn through evenly spaced experts of the sorted order,
    so that the file stays small (the page's table counts every flagged expert)."""
    with _figure(9, 2.8) as fig:
        ax = fig.add_subplot()
        step = max(1, -(-len(reviewers) // CURVE_POINTS))
        x = sorted({*range(0, len(reviewers), step), len(reviewers) - 1})
        ax.fill_between(
            x,
            [reviewers[i].lo for i in x],
            [reviewers[i].hi for i in x],
            color=COLOURS["budget"],
            linewidth=0,
            step="mid",
        )
        ax.plot(x, [reviewers[i].leniency for i in x], color=COLOURS["undecided"], linewidth=1.2)
        off = [(i, reviewers[i].leniency) for i in x if reviewers[i].lo > 0 or reviewers[i].hi < 0]
        if off:
            ax.plot(
                [i for i, _v in off],
                [v for _i, v in off],
                "o",
                color=COLOURS["line"],
                markersize=3,
            )
        ax.axhline(0, color="#57606a", linewidth=0.8)
        ax.set_xlabel(_("experts, by estimated leniency"))
        ax.set_ylabel(_("leniency (points)"))
        ax.legend(
            handles=[
                Patch(color=COLOURS["budget"], label=_("80 % interval")),
                Line2D([], [], color=COLOURS["line"], marker="o", linewidth=0,
                       label=_("interval off 0")),
            ],
            frameon=False, fontsize=8, loc="upper left",
        )  # fmt: skip
        return _svg(fig, "leniency")
