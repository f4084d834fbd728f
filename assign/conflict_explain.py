"""Why one expert may not review one proposal: a walk on the ``networkx`` graph of
:mod:`assign.graph` for the pair, giving the same chains as the bulk pass of
:mod:`assign.conflicts` (tested)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import networkx as nx
import pandas as pd

from assign.conflict_phrasing import (
    APPLICANT,
    DIRECTION,
    EMPLOYMENT,
    FORMER,
    HEAD,
    OWN,
    PERSONAL,
    PERSONAL_CHAIN,
    RECUSAL,
    RECUSAL_UNIT,
    SIMILAR,
    TEAM,
    WHERE,
    direction_key,
    member_msg,
    personal_key,
    phrase,
    reason_key,
    text_or_none,
    year_msg,
)
from assign.conflict_policy import KIND_ORDER, ConflictPolicy, load_policy
from assign.graph import (
    build_graph,
    normalise,
    related_units_in_graph,
    table,
    to_date,
    years_before,
)
from assign.text_index import TextIndex
from models.i18n import Msg


class Explainer:
    """Reason chains for one (expert, proposal) pair at a time, by walking the graph.

    Build once per batch (graph and text index), then call :meth:`chains` / :meth:`explain`.
    """

    def __init__(
        self,
        tables: Mapping[str, pd.DataFrame],
        *,
        batch_date: date,
        policy: ConflictPolicy | None = None,
        graph: nx.MultiDiGraph | None = None,
        text: TextIndex | None = None,
    ) -> None:
        self.policy = policy or load_policy()
        self.batch_date = batch_date
        tables = normalise(tables)
        self.graph = graph if graph is not None else build_graph(tables)
        self._tables = tables
        self._text = text
        props = table(tables, "proposals")
        self._proposals = set(props["proposal_id"].dropna())

    @property
    def text(self) -> TextIndex:
        if self._text is None:
            self._text = TextIndex.from_proposals(table(self._tables, "proposals"))
        return self._text

    def _name(self, node: tuple[str, str]) -> str:
        return str(self.graph.nodes[node].get("name", node[1])) if node in self.graph else node[1]

    def _applicant_units(self, pnode: tuple[str, str]) -> list[tuple[str, str, int | None]]:
        g = self.graph
        lead = {u[1] for u, _, d in g.in_edges(pnode, data=True) if d["kind"] == "lead_unit"}
        out = {(u, "lead", None) for u in lead}
        for u, _, d in g.in_edges(pnode, data=True):
            if d["kind"] == "joint_unit" and u[1] not in lead:
                out.add((u[1], "joint", d.get("seq")))
        return sorted(out, key=lambda t: (t[0], t[1], t[2] or 0))

    def _team(self, pnode: tuple[str, str]) -> set[tuple[str, str | None, int | None]]:
        return {
            (u[1], d.get("role"), d.get("seq"))
            for u, _, d in self.graph.in_edges(pnode, data=True)
            if d["kind"] == "team_member"
        }

    def _direction(self, pnode: tuple[str, str]) -> str | None:
        for _, d, data in self.graph.out_edges(pnode, data=True):
            if data["kind"] == "in_direction":
                return str(d[1])
        return None

    def _employers(self, enode: tuple[str, str]) -> tuple[set[str], dict[str, date]]:
        cutoff = years_before(self.batch_date, self.policy.former_employment_years)
        current: set[str] = set()
        former: dict[str, date] = {}
        if enode not in self.graph:
            return current, former
        for u, _, d in self.graph.in_edges(enode, data=True):
            if d["kind"] != "employs":
                continue
            end = d.get("end")
            if d.get("current") or end is None or end >= self.batch_date:
                current.add(u[1])
            elif end > cutoff:
                former[u[1]] = max(end, former.get(u[1], end))
        return current, {u: e for u, e in former.items() if u not in current}

    def chains(self, expert_id: str, proposal_id: str) -> list[tuple[str, str]]:
        """(kind, chain) pairs for the pair (chains as stored messages, the same texts the bulk
        pass gives), sorted by kind order then text; [] if none."""
        g, pol = self.graph, self.policy
        pnode, enode = ("proposal", proposal_id), ("person", expert_id)
        if proposal_id not in self._proposals or pnode not in g:
            return []
        ename = self._name(enode)
        out: set[tuple[str, str]] = set()
        role: str | None  # applicant-unit roles and team roles share the loop names

        def add(kind: str, msg: Msg) -> None:
            out.add((kind, msg.to_json()))

        units = self._applicant_units(pnode)
        current, former = self._employers(enode)
        if current or former:
            for y, role, seq in units:
                app = phrase(APPLICANT[role], seq=seq, proposal=proposal_id)
                for x, rel, via, share in related_units_in_graph(g, y, relatedness=pol.relatedness):
                    where = phrase(
                        WHERE[rel],
                        other=self._name(("unit", x)),
                        unit=self._name(("unit", y)),
                        via=None if via is None else self._name(("unit", via)),
                        share=share,
                        app=app,
                    )
                    if x in current and "employment" in pol.kinds:
                        add("employment", Msg(EMPLOYMENT, expert=ename, where=where))
                    if x in former and "former_employment" in pol.kinds:
                        end = former[x].isoformat()
                        add("former_employment", Msg(FORMER, expert=ename, end=end, where=where))
        edges_out = list(g.out_edges(enode, data=True)) if enode in g else []
        edges_in = list(g.in_edges(enode, data=True)) if enode in g else []
        if "unit_head" in pol.kinds:
            heads = {u[1] for _, u, d in edges_out if d["kind"] == "head_of"}
            for y, role, seq in units:
                if y in heads:
                    app = phrase(APPLICANT[role], seq=seq, proposal=proposal_id)
                    add(
                        "unit_head",
                        Msg(HEAD, expert=ename, unit=self._name(("unit", y)), app=app),
                    )
        team = self._team(pnode)
        if "team_member" in pol.kinds:
            for person, role, seq in team:
                if person == expert_id:
                    add(
                        "team_member",
                        Msg(TEAM, expert=ename, member=member_msg(role, seq, proposal_id)),
                    )
        personal = [(o, d, True) for _, o, d in edges_out] + [(o, d, False) for o, _, d in edges_in]
        by = self.batch_date.year
        win = {"coauthor": pol.coauthor_years, "coapplicant": pol.coapplicant_years}
        for other, d, forward in personal:
            k = d["kind"]
            if k not in PERSONAL or PERSONAL[k] not in pol.kinds or other[1] == expert_id:
                continue
            year = d.get("year")
            if k in win and year is not None and year < by - win[k]:
                continue
            for person, role, seq in team:
                if person == other[1] and pol.team_roles(role):
                    add(
                        PERSONAL[k],
                        phrase(
                            PERSONAL_CHAIN[personal_key(k, forward)],
                            expert=ename,
                            other=self._name(other),
                            year=year_msg(year),
                            member=member_msg(role, seq, proposal_id),
                        ),
                    )
        own = [
            (q[1], d.get("role"), d.get("seq"))
            for _, q, d in edges_out
            if d["kind"] == "team_member" and q[1] != proposal_id and q[1] in self._proposals
        ]
        direction = self._direction(pnode)
        if "own_application" in pol.kinds and pol.direction_applicant and direction is not None:
            for q, role, seq in own:
                if self._direction(("proposal", q)) == direction:
                    add(
                        "own_application",
                        Msg(
                            OWN,
                            expert=ename,
                            member=member_msg(role, seq, q),
                            direction=direction,
                            proposal=proposal_id,
                        ),
                    )
        if "similar_application" in pol.kinds and own:
            thr = float(pol.similarity_threshold)
            for q, role, seq in own:
                sim = float(self.text.pairs([q], [proposal_id])[0])
                if sim >= thr:
                    add(
                        "similar_application",
                        Msg(
                            SIMILAR,
                            expert=ename,
                            member=member_msg(role, seq, q),
                            similarity=sim,
                            proposal=proposal_id,
                            threshold=thr,
                        ),
                    )
        for _, target, d in g.out_edges(pnode, data=True):
            if d["kind"] != "recusal":
                continue
            why = text_or_none(d.get("reason"))
            if target == enode and "recusal" in pol.kinds:
                add(
                    "recusal",
                    phrase(
                        RECUSAL[reason_key(why)], proposal=proposal_id, expert=ename, reason=why
                    ),
                )
            if target[0] == "unit" and target[1] in current and "recusal_unit" in pol.kinds:
                add(
                    "recusal_unit",
                    phrase(
                        RECUSAL_UNIT[reason_key(why)],
                        expert=ename,
                        unit=self._name(target),
                        proposal=proposal_id,
                        reason=why,
                    ),
                )
        if "direction_expert" in pol.kinds and direction is not None:
            for _, dnode, d in edges_out:
                if d["kind"] == "direction_role" and dnode[1] == direction:
                    role = text_or_none(d.get("role"))
                    add(
                        "direction_expert",
                        phrase(
                            DIRECTION[direction_key(role)],
                            expert=ename,
                            role=role or "?",
                            direction=direction,
                            proposal=proposal_id,
                        ),
                    )
        return sorted(out, key=lambda t: (KIND_ORDER[t[0]], t[1]))

    def explain(self, expert_id: str, proposal_id: str) -> list[str]:
        """The reason chains for the pair as stored messages (sorted by kind, then text); empty
        if not conflicted. ``models.i18n.render_stored`` shows them in a language."""
        return [c for _, c in self.chains(expert_id, proposal_id)]


def explain(
    tables: Mapping[str, pd.DataFrame],
    expert_id: str,
    proposal_id: str,
    *,
    batch_date: date,
    policy: ConflictPolicy | None = None,
    graph: nx.MultiDiGraph | None = None,
) -> list[str]:
    """Reason chains why ``expert_id`` may not review ``proposal_id`` ([] when none)."""
    return Explainer(tables, batch_date=batch_date, policy=policy, graph=graph).explain(
        expert_id, proposal_id
    )


def batch_date_of(tables: Mapping[str, pd.DataFrame], batch_id: str | None = None) -> date | None:
    """``batches.batch_date`` of the given (or the only) batch, else None."""
    b = table(tables, "batches")
    if batch_id is not None:
        b = b[b["batch_id"] == batch_id]
    dates = [d for d in (to_date(v) for v in b["batch_date"]) if d is not None]
    return dates[0] if len(dates) == 1 or (dates and batch_id is not None) else None
