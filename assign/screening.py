"""Eligibility screening (形式审查) of a batch's proposals against the call's rules.

One check function per rule id (the ids of the batch formats' ``planted`` table), registered in
:data:`RULES`. Each check returns findings ``(proposal_id, rule, severity, reason)`` whose reason
names the facts (amounts in 万元, caps, unit names, dates). :func:`screen` runs every check and
gives each proposal a status: ``rejected`` (a reject finding), ``warnings`` (only warnings) or
``eligible``; waived (proposal_id, rule) findings are reported but do not count.

Each rule carries the clause of the call it implements (quoted in Chinese, with its section
number) and why its severity follows from the call's wording: a prohibition (不得, 不予受理,
须, 不超过 without 原则上, ...) rejects; a limit worded 原则上 or arranged 通过评审后 (after
review), or a rule of practice, warns. ``docs/screening_rules.md`` is generated from :data:`RULES`
(``python -m scripts.screening_rules``). A finding whose facts are missing (no submission time,
no budget figure) is a warning to check by hand, whatever the rule's severity.

The checks live beside this module, one file per group: ``unit_checks`` (the applying units),
``applicant_checks`` (PIs and lead units), ``near_duplicates``, ``limit_checks`` (the call's
limits); ``rule_registry`` holds :data:`RULES` and ``screening_context`` what the checks read.

Findings are stored messages (:class:`models.i18n.Msg`), rendered in the reader's language.

Related units (rule ``related_joint_units`` and the unit condition of ``near_duplicate``) come from
:func:`assign.graph.related_unit_pairs` under the conflict policy's :class:`Relatedness`, the
same definition the conflict rules use.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pandas as pd

from assign.graph import (
    Normalised,
    name_maps,
    table,
    to_date,
)
from assign.rule_registry import HEDGES, PROHIBITIONS, RULES
from assign.screening_context import (
    DEFAULT_DEADLINE,
    SEVERITIES,
    Finding,
    ScreeningConfig,
    ScreeningConfigError,
    ScreeningContext,
    cell_num,
    row_records,
    row_tuples,
    to_timestamp,
)

# The checks register themselves in RULES when imported, in the order of the call's sections
# (the order of the rules in reports and in docs/screening_rules.md).
import assign.unit_checks  # noqa: E402, F401  # isort: skip
import assign.applicant_checks  # noqa: E402, F401  # isort: skip
from assign.near_duplicates import check_near_duplicate, near_duplicates  # noqa: E402  # isort: skip
import assign.limit_checks  # noqa: E402, F401  # isort: skip

__all__ = [
    "HEDGES",
    "PROHIBITIONS",
    "RULES",
    "SEVERITIES",
    "ScreeningConfig",
    "ScreeningConfigError",
    "ScreeningResult",
    "build_context",
    "check_near_duplicate",
    "findings_by_direction",
    "near_duplicates",
    "screen",
    "summary_by_direction",
    "summary_by_rule",
]


@dataclass(frozen=True, eq=False)
class ScreeningResult:
    """findings: proposal_id, rule, severity, reason (a :class:`models.i18n.Msg`), waived (one
    row per finding). status: proposal_id, direction_code, department, status (eligible |
    rejected | warnings), rejects, warnings (counts of findings that are not waived)."""

    findings: pd.DataFrame
    status: pd.DataFrame

    def by_rule(self) -> pd.DataFrame:
        """Counts per rule: rule, severity, findings, proposals, waived (every registered rule)."""
        return summary_by_rule(self)

    def by_direction(self) -> pd.DataFrame:
        """Counts per direction: direction_code, proposals, eligible, warnings, rejected."""
        return summary_by_direction(self)


def build_context(
    tables: Mapping[str, pd.DataFrame], guide: pd.DataFrame, *, config: ScreeningConfig
) -> ScreeningContext:
    """Normalise the tables and index what the checks read."""
    t = Normalised(tables)  # each kind normalised when a check first reads it
    g = table({"guide": guide}, "guide")
    guide_by_code = {r["code"]: r for r in g.to_dict("records") if r["code"]}
    pn, un = name_maps(t)
    units = {r["unit_id"]: r for r in row_records(t["units"]) if r["unit_id"]}
    props = t["proposals"]
    props = (
        props[props["proposal_id"].notna()].drop_duplicates("proposal_id").reset_index(drop=True)
    )
    batches = {r["batch_id"]: r for r in row_records(t["batches"]) if r["batch_id"]}
    dates: dict[Any, tuple[datetime, date]] = {}  # batch id -> (deadline, date), parsed once
    deadline: dict[str, datetime] = {}
    bdate: dict[str, date] = {}
    for pid, bid in row_tuples(props, ["proposal_id", "batch_id"]):
        if bid not in dates:
            b = batches.get(bid, {})
            dl = config.deadline
            if dl is None:
                dl = to_timestamp(b.get("deadline")) or DEFAULT_DEADLINE
            dates[bid] = (dl, config.batch_date or to_date(b.get("batch_date")) or dl.date())
        deadline[pid], bdate[pid] = dates[bid]
    joint: dict[str, list[tuple[int | None, str | None]]] = defaultdict(list)
    jd = t["joint_directions"]
    for pid, seq, uid in row_tuples(jd, ["proposal_id", "seq", "unit_id"]):
        if pid:
            s = cell_num(seq)
            joint[pid].append((None if s is None else int(s), uid))
    for v in joint.values():
        v.sort(key=lambda x: (x[0] is None, x[0] or 0))
    return ScreeningContext(
        tables=t,
        guide=guide_by_code,
        config=config,
        proposals=props,
        person_name=pn,
        unit_name=un,
        unit=units,
        deadline=deadline,
        batch_date=bdate,
        joint=dict(joint),
    )


def screen(
    tables: Mapping[str, pd.DataFrame],
    guide: pd.DataFrame,
    *,
    config: ScreeningConfig | None = None,
    waivers: Iterable[tuple[str, str]] = (),
    rules: Iterable[str] | None = None,
) -> ScreeningResult:
    """Run the checks (all registered rules, or ``rules``) over the batch's proposals.

    waivers: (proposal_id, rule) pairs whose findings are kept but do not count for the status.
    """
    config = config or ScreeningConfig()
    chosen = list(RULES) if rules is None else list(rules)
    bad = [r for r in chosen if r not in RULES]
    if bad:
        raise ScreeningConfigError(
            f"unknown screening rule(s) {', '.join(bad)}; known rules: {', '.join(RULES)}"
        )
    ctx = build_context(tables, guide, config=config)
    found: list[Finding] = []
    for rid in chosen:
        found.extend(RULES[rid].check(ctx))
    waived = {(str(p), str(r)) for p, r in waivers}
    findings = pd.DataFrame(
        {
            "proposal_id": pd.Series([f[0] for f in found], dtype=object),
            "rule": pd.Series([f[1] for f in found], dtype=object),
            "severity": pd.Series([f[2] for f in found], dtype=object),
            "reason": pd.Series([f[3] for f in found], dtype=object),
            "waived": pd.Series([(f[0], f[1]) in waived for f in found], dtype=bool),
        }
    )
    order = {r: i for i, r in enumerate(RULES)}
    if len(findings):
        findings = findings.assign(_o=findings["rule"].map(order))
        findings = findings.sort_values(["proposal_id", "_o"], kind="stable").drop(columns="_o")
        findings = findings.reset_index(drop=True)
    rejects: dict[str, int] = defaultdict(int)
    warns: dict[str, int] = defaultdict(int)
    for pid, sev, w in row_tuples(findings, ["proposal_id", "severity", "waived"]):
        if not w:
            (rejects if sev == "reject" else warns)[pid] += 1
    props = ctx.proposals
    status = pd.DataFrame(
        {
            "proposal_id": props["proposal_id"].astype(object),
            "direction_code": props["direction_code"].astype(object),
            "department": props["department"].astype(object),
        }
    )
    status["rejects"] = [rejects.get(p, 0) for p in status["proposal_id"]]
    status["warnings"] = [warns.get(p, 0) for p in status["proposal_id"]]
    status["status"] = [
        "rejected" if r else ("warnings" if w else "eligible")
        for r, w in zip(status["rejects"], status["warnings"], strict=True)
    ]
    status = status[
        ["proposal_id", "direction_code", "department", "status", "rejects", "warnings"]
    ]
    return ScreeningResult(findings=findings, status=status)


def summary_by_rule(result: ScreeningResult) -> pd.DataFrame:
    """Per rule: rule, severity (default), findings, proposals, waived; every registered rule."""
    f = result.findings
    rows = []
    for rid, r in RULES.items():
        sub = f[f["rule"] == rid]
        rows.append(
            {
                "rule": rid,
                "severity": r.severity,
                "findings": int(len(sub)),
                "proposals": int(sub["proposal_id"].nunique()),
                "waived": int(sub["waived"].sum()),
            }
        )
    return pd.DataFrame(rows)


def summary_by_direction(result: ScreeningResult) -> pd.DataFrame:
    """Per direction: direction_code, proposals, eligible, warnings, rejected (sorted by code)."""
    s = result.status
    rows = []
    for code, grp in s.groupby(s["direction_code"].fillna(""), sort=True):
        counts = grp["status"].value_counts()
        rows.append(
            {
                "direction_code": code or None,
                "proposals": int(len(grp)),
                "eligible": int(counts.get("eligible", 0)),
                "warnings": int(counts.get("warnings", 0)),
                "rejected": int(counts.get("rejected", 0)),
            }
        )
    cols = ["direction_code", "proposals", "eligible", "warnings", "rejected"]
    return pd.DataFrame(rows, columns=cols)


def findings_by_direction(result: ScreeningResult) -> pd.DataFrame:
    """Counts of non-waived findings per (direction_code, rule)."""
    f = result.findings[~result.findings["waived"]]
    d = dict(zip(result.status["proposal_id"], result.status["direction_code"], strict=True))
    f = f.assign(direction_code=[d.get(p) for p in f["proposal_id"]])
    out = f.groupby(["direction_code", "rule"], as_index=False).size()
    return out.rename(columns={"size": "findings"})
