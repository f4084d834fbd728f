"""Why the rules admit no selection: contradictory overrides, and what had to give.

Each finding is a stored message naming the proposals or budgets at fault and a fix with the
options of ``reviewopt select`` and ``reviewopt override`` (a test checks that every option a
hint names exists).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from ortools.sat.python import cp_model

from models.i18n import N_, Msg
from scoring.select_input import SelectionData


def override_conflicts(data: SelectionData) -> list[Msg]:
    """Contradictory or impossible overrides, each named (empty when none)."""
    rules = data.rules
    out: list[Msg] = []
    fin = np.flatnonzero(data.forced_in)
    for i in np.flatnonzero(data.forced_in & data.forced_out):
        out.append(
            Msg(
                "proposal {id} is both forced in and forced out; keep one override "
                "(`reviewopt override {id} clear` drops it)",
                id=str(data.ids[i]),
            )
        )
    for i in fin:
        if not data.eligible[i] or data.withdrawn[i] or not data.reviewed[i]:
            text = N_(
                "proposal {id} is forced in by {actor} but is ineligible or withdrawn; drop "
                "the override (`reviewopt override {id} clear`)"
            )
        elif data.ub[i] <= 0:
            text = N_(
                "proposal {id} is forced in by {actor} but its grant bound is 0万; drop "
                "the override (`reviewopt override {id} clear`) or fix its budget figures"
            )
        else:
            continue
        out.append(Msg(text, id=str(data.ids[i]), actor=data.override[int(i)].actor))
    for g in data.groups:
        members = [int(i) for i in g if data.forced_in[i]]
        if len(members) > 1:
            out.append(
                Msg(
                    "proposals {ids} are all forced in but share a PI or related lead units, "
                    "which may have one funded project; clear all but one "
                    "(`reviewopt override ID clear`)",
                    ids=", ".join(str(data.ids[j]) for j in members),
                )
            )
    for d in range(len(data.dir_codes)):
        members = [int(i) for i in fin if data.dir_idx[i] == d]
        if len(members) > rules.max_per_direction:
            out.append(
                Msg(
                    "direction {direction} has {n} forced-in proposals ({ids}) but funds at most "
                    "{k}; clear overrides (`reviewopt override ID clear`)",
                    direction=data.dir_codes[d],
                    n=len(members),
                    ids=", ".join(str(data.ids[j]) for j in members),
                    k=rules.max_per_direction,
                )
            )
    for scope in data.scopes:
        members = [int(i) for i in fin if scope.mask[i]]
        need = int(data.lb[members].sum()) if members else 0
        if need > scope.cap:
            out.append(
                Msg(
                    "{budget} is {cap}万 but the forced-in proposals {ids} need at least "
                    "{need}万; raise it by {more}万 (--budget / --programme-budget) or clear an "
                    "override",
                    budget=scope.label,
                    cap=scope.cap,
                    ids=", ".join(str(data.ids[j]) for j in members),
                    need=need,
                    more=need - scope.cap,
                )
            )
    return out


def elastic_diagnosis(data: SelectionData, merit: np.ndarray) -> list[Msg]:
    """Relax direction minima (merit-sum), budgets and the youth share with slack; name what
    had to give and by how much."""
    rules = data.rules
    qual = data.qualified(merit)
    cand = np.flatnonzero(qual | data.forced_in)
    m = cp_model.CpModel()
    x = {int(i): m.new_bool_var(f"x{i}") for i in cand}
    for i in cand:
        if data.forced_in[i]:
            m.add(x[int(i)] == 1)
    terms = []
    dir_slack = {}
    for d in range(len(data.dir_codes)):
        members = [int(i) for i in cand if data.dir_idx[i] == d]
        if not members:
            continue
        count = sum(x[i] for i in members)
        m.add(count <= rules.max_per_direction)
        need = min(rules.min_per_direction, len(members))
        if need and rules.policy == "merit-sum":
            s = m.new_int_var(0, need, f"sd{d}")
            m.add(count + s >= need)
            dir_slack[d] = s
            terms.append(1_000_000 * s)
    for g in data.groups:
        members = [int(i) for i in g if int(i) in x]
        if len(members) > 1:
            m.add(sum(x[i] for i in members) <= 1)
    budget_slack = []
    for scope in data.scopes:
        members = [i for i in x if scope.mask[i]]
        s = m.new_int_var(0, int(data.lb.sum()) + 1, "sb")
        m.add(sum(int(data.lb[i]) * x[i] for i in members) <= scope.cap + s)
        budget_slack.append((scope, s))
        terms.append(s)
    young_slack = None
    if rules.youth_min_share:
        fr = Fraction(rules.youth_min_share).limit_denominator(10_000)
        young_slack = m.new_int_var(0, len(x), "sy")
        m.add(
            fr.denominator * (sum(v for i, v in x.items() if data.young[i]) + young_slack)
            >= fr.numerator * sum(x.values())
        )
        terms.append(1_000_000 * young_slack)
    m.minimize(sum(terms) if terms else 0)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_time_in_seconds = 30.0
    if solver.solve(m) not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return [
            Msg(
                "the forced-in proposals alone break the PI, related-group or per-direction "
                "rules; clear overrides (`reviewopt override ID clear`)"
            )
        ]
    out = []
    for d, s in dir_slack.items():
        if solver.value(s) > 0:
            out.append(
                Msg(
                    "direction {direction} cannot fund even one project within the budgets "
                    "under the merit-sum policy; raise --budget / --programme-budget, lower "
                    "--min-grant-share, or use --policy rank (which leaves it unfunded with "
                    "the reason)",
                    direction=data.dir_codes[d],
                )
            )
    for scope, s in budget_slack:
        v = solver.value(s)
        if v > 0:
            out.append(
                Msg(
                    "{budget} ({cap}万) is {short}万 short of the cheapest selection the rules "
                    "allow; raise it (--budget / --programme-budget) or lower --min-grant-share",
                    budget=scope.label,
                    cap=scope.cap,
                    short=v,
                )
            )
    if young_slack is not None and solver.value(young_slack) > 0:
        out.append(
            Msg(
                "the young-talent share {share}% cannot be met: {n} more young-led projects "
                "would be needed; lower --youth-share or force in young-led proposals",
                share=round(100 * (rules.youth_min_share or 0)),
                n=solver.value(young_slack),
            )
        )
    return out or [Msg("the rules admit no selection; relax the budgets or the overrides")]
