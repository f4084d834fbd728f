"""Near-duplicate applications (重复申报): the same content from the same or related units,
found by blocking on units and nearest neighbours in text, never by every pair."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import pandas as pd

from assign.rule_registry import rule
from assign.screening_context import INVERSE, Finding, ScreeningContext, row_tuples
from assign.text_index import TextIndex
from models.i18n import N_, Msg


@dataclass(frozen=True, eq=False)
class NearDuplicates:
    """Pairs of proposals (a < b) led by the same or related units whose title+abstract
    similarity reaches the threshold: columns a, b, similarity, lead_a, lead_b, relation (of
    b's lead to a's: "same" or a relation kind), via, share. ``pairs_checked``: how many pairs
    had their similarity computed."""

    pairs: pd.DataFrame
    pairs_checked: int


def near_duplicates(ctx: ScreeningContext) -> NearDuplicates:
    """Rule 10's pairs, found without listing every pair of a unit's proposals.

    The proposals whose lead unit has another proposal, or a related unit that leads one, are
    searched by :meth:`TextIndex.neighbours` (exact: only pairs sharing a rare n-gram whose
    similarity bound reaches the threshold are computed), over TF-IDF fitted on the whole
    batch; the pairs found are kept when their lead units are the same or related. Cost grows
    with the pairs that share rare text, not with the square of a unit's proposals.
    """
    props = ctx.proposals
    lead_of: dict[str, str] = {}
    by_lead: dict[str, list[str]] = defaultdict(list)
    for pid, lead in row_tuples(props, ["proposal_id", "lead_unit_id"]):
        if lead:
            lead_of[pid] = lead
            by_lead[lead].append(pid)
    relation: dict[tuple[str, str], tuple[str, str | None, Any]] = {}
    for lead in by_lead:
        for other, rel, via, share in ctx.related().get(lead, []):
            if other in by_lead:
                relation.setdefault((lead, other), (rel, via, share))
    linked = {u for pair in relation for u in pair}
    sources = [p for lead, pids in by_lead.items() if len(pids) > 1 or lead in linked for p in pids]
    columns = ["a", "b", "similarity", "lead_a", "lead_b", "relation", "via", "share"]
    if not sources:
        return NearDuplicates(pd.DataFrame(columns=columns), 0)
    stats = {"candidates": 0}
    found = TextIndex.from_proposals(props).neighbours(
        sources, threshold=ctx.config.similarity_threshold, stats=stats
    )
    rows = []
    for a, b, sim in row_tuples(found, ["source", "target", "similarity"]):
        if not a < b or b not in lead_of:
            continue
        la, lb = lead_of[a], lead_of[b]
        if la == lb:
            rel, via, share = "same", None, None
        elif (la, lb) in relation:
            rel, via, share = relation[(la, lb)]
        else:
            continue
        rows.append((a, b, sim, la, lb, rel, via, share))
    rows.sort(key=lambda r: (r[0], r[1]))
    return NearDuplicates(pd.DataFrame(rows, columns=columns, dtype=object), stats["candidates"])


@rule(
    "near_duplicate",
    "reject",
    N_("no near-duplicate applications by the same or related units"),
    section="二、6",
    clause=(
        "同一单位以及关联单位不得将内容相同或相近的研发项目重复申报省科技计划项目……凡属重复或同时"
        "申报的，取消立项资格。"
    ),
    why=N_("不得 (may not); a repeated application loses its eligibility (取消立项资格)."),
)
def check_near_duplicate(ctx: ScreeningContext) -> list[Finding]:
    """Rule 10: two proposals whose lead units are the same or related and whose title+abstract
    TF-IDF (char 2-3-gram) cosine is at or above the threshold: both are flagged (pairs from
    :func:`near_duplicates`)."""
    thr = ctx.config.similarity_threshold
    out: list[Finding] = []
    cols = ["a", "b", "similarity", "lead_a", "lead_b", "relation", "via", "share"]
    for a, b, sim, la, lb, rel, via, share in row_tuples(near_duplicates(ctx).pairs, cols):
        rel = None if rel == "same" else rel
        back = INVERSE.get(rel) if rel else None
        for me, other, mine, theirs, r in ((a, b, la, lb, rel), (b, a, lb, la, back)):
            if mine == theirs:
                who = Msg("also led by {unit}", unit=ctx.un(mine))
            elif r is not None:
                who = Msg(
                    "led by {unit}; {relation}",
                    unit=ctx.un(theirs),
                    relation=ctx.relation(theirs, r, mine, via, share),
                )
            else:
                who = Msg(
                    "led by {unit}, a unit related to {mine}",
                    unit=ctx.un(theirs),
                    mine=ctx.un(mine),
                )
            msg = Msg(
                "title and abstract are {similarity:.2f} similar to proposal {other} (TF-IDF "
                "character n-gram cosine, threshold {threshold:.2f}), {who}",
                similarity=float(sim),
                other=other,
                threshold=thr,
                who=who,
            )
            out.append((me, "near_duplicate", "reject", msg))
    return out
