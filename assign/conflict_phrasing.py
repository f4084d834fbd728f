"""How a conflict's reason chain is phrased: every chain is a stored message (models.i18n),
rendered later in the reader's language. A spec is (template, parameter names); the graph walk
fills one with :func:`phrase`, the bulk pass fills a whole column with :func:`phrase_column`,
so both give the same stored text."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from models.i18n import N_, JsonColumn, Msg, msg_column

Spec = tuple[str, tuple[str, ...]]


#: How an applicant unit takes part (after the unit's name).
APPLICANT: dict[str, Spec] = {
    "lead": (N_("which leads proposal {proposal}"), ("proposal",)),
    "joint": (
        N_("which carries joint direction {seq} of proposal {proposal}"),
        ("seq", "proposal"),
    ),
}


#: A unit related to an applicant unit (``other`` relative to ``unit``, relation codes of
#: :data:`assign.graph.RELATIONS`), then how ``unit`` applies (``app``).
WHERE: dict[str, Spec] = {
    "same": (N_("{unit}, {app}"), ("unit", "app")),
    "subsidiary": (N_("{other}, a subsidiary of {unit}, {app}"), ("other", "unit", "app")),
    "controlled": (N_("{other}, controlled by {unit}, {app}"), ("other", "unit", "app")),
    "investee": (
        N_("{other}, of which {unit} holds {share:.0%}, {app}"),
        ("other", "unit", "share", "app"),
    ),
    "parent": (N_("{other}, the parent company of {unit}, {app}"), ("other", "unit", "app")),
    "controller": (N_("{other}, the controller of {unit}, {app}"), ("other", "unit", "app")),
    "shareholder": (
        N_("{other}, which holds {share:.0%} of {unit}, {app}"),
        ("other", "unit", "share", "app"),
    ),
    "sibling": (
        N_("{other}, a sister unit of {unit} (both under {via}), {app}"),
        ("other", "unit", "via", "app"),
    ),
}


#: A team member's place in a proposal (see :func:`_member_kind`).
_MEMBER: dict[str, Spec] = {
    "pi": (N_("the PI of proposal {proposal}"), ("proposal",)),
    "key": (N_("a key member of proposal {proposal}"), ("proposal",)),
    "joint_leader": (
        N_("the leader of joint direction {seq} of proposal {proposal}"),
        ("seq", "proposal"),
    ),
    "member": (N_("a member of proposal {proposal}"), ("proposal",)),
    "other": (N_("a team member ({role}) of proposal {proposal}"), ("role", "proposal")),
}


YEAR: dict[str, Spec] = {
    "known": (N_("most recently {year}"), ("year",)),
    "unknown": (N_("year unknown"), ()),
}


#: Personal relations, keyed by relation kind ("advised_by": advisor_of, read backwards).
PERSONAL_CHAIN: dict[str, Spec] = {
    "coauthor": (
        N_("{expert} co-authored with {other} ({year}), who is {member}"),
        ("expert", "other", "year", "member"),
    ),
    "coapplicant": (
        N_("{expert} co-applied with {other} ({year}), who is {member}"),
        ("expert", "other", "year", "member"),
    ),
    "advisor_of": (
        N_("{expert} was the advisor of {other}, who is {member}"),
        ("expert", "other", "member"),
    ),
    "advised_by": (
        N_("{expert} was advised by {other}, who is {member}"),
        ("expert", "other", "member"),
    ),
    "relative_of": (
        N_("{expert} is a relative of {other}, who is {member}"),
        ("expert", "other", "member"),
    ),
}


RECUSAL: dict[str, Spec] = {
    "plain": (
        N_("the applicants of proposal {proposal} asked that {expert} not review it"),
        ("proposal", "expert"),
    ),
    "reason": (
        N_(
            "the applicants of proposal {proposal} asked that {expert} not review it "
            "(reason given: {reason})"
        ),
        ("proposal", "expert", "reason"),
    ),
}


RECUSAL_UNIT: dict[str, Spec] = {
    "plain": (
        N_("{expert} works at {unit}, which the applicants of proposal {proposal} asked to avoid"),
        ("expert", "unit", "proposal"),
    ),
    "reason": (
        N_(
            "{expert} works at {unit}, which the applicants of proposal {proposal} asked to "
            "avoid (reason given: {reason})"
        ),
        ("expert", "unit", "proposal", "reason"),
    ),
}


DIRECTION: dict[str, Spec] = {
    "drafter": (
        N_(
            "{expert} drafted guide direction {direction}, under which proposal {proposal} was "
            "submitted"
        ),
        ("expert", "direction", "proposal"),
    ),
    "advisor": (
        N_(
            "{expert} sits on the advisory committee of guide direction {direction}, under "
            "which proposal {proposal} was submitted"
        ),
        ("expert", "direction", "proposal"),
    ),
    "other": (
        N_(
            "{expert} has the role {role} for guide direction {direction}, under which "
            "proposal {proposal} was submitted"
        ),
        ("expert", "role", "direction", "proposal"),
    ),
}


EMPLOYMENT = N_("{expert} works at {where}")


FORMER = N_("{expert} worked until {end} at {where}")


HEAD = N_("{expert} heads {unit}, {app}")


TEAM = N_("{expert} is {member}")


OWN = N_("{expert} is {member}, which is in guide direction {direction} like proposal {proposal}")


SIMILAR = N_(
    "{expert} is {member}, whose title and abstract are {similarity:.2f} similar to those of "
    "proposal {proposal} (threshold {threshold:.2f})"
)


def phrase(spec: Spec, **values: Any) -> Msg:
    """The message of ``spec`` with its parameters taken from ``values``."""
    template, names = spec
    return Msg(template, **{n: values[n] for n in names})


def _take(values: Any, idx: np.ndarray) -> Any:
    if isinstance(values, JsonColumn):
        return JsonColumn(np.asarray(values.values, dtype=object)[idx])
    return np.asarray(values, dtype=object)[idx]


def phrase_column(keys: Any, specs: Mapping[str, Spec], **columns: Any) -> np.ndarray:
    """(n,) stored messages: row i is ``phrase(specs[keys[i]], **row i of columns)``, built
    column-wise, one :func:`msg_column` per distinct key."""
    keys = np.asarray(keys, dtype=object)
    out = np.empty(len(keys), dtype=object)
    for key in pd.unique(keys):
        idx = np.flatnonzero(keys == key)
        template, names = specs[key]
        if names:
            out[idx] = msg_column(template, **{n: _take(columns[n], idx) for n in names})
        else:
            out[idx] = Msg(template).to_json()
    return out


def _member_kind(role: str | None) -> str:
    if role is None:
        return "member"
    return role if role in ("pi", "key", "joint_leader", "member") else "other"


def member_msg(role: str | None, seq: int | None, proposal: str) -> Msg:
    return phrase(_MEMBER[_member_kind(role)], role=role, seq=seq, proposal=proposal)


def members_column(roles: Any, seqs: Any, proposals: Any) -> JsonColumn:
    """:func:`member_msg` of every row, stored."""
    kinds = [_member_kind(r) for r in roles]
    return JsonColumn(phrase_column(kinds, _MEMBER, role=roles, seq=seqs, proposal=proposals))


def year_msg(year: int | None) -> Msg:
    return phrase(YEAR["unknown" if year is None else "known"], year=year)


def personal_key(kind: str, forward: bool) -> str:
    return "advised_by" if kind == "advisor_of" and not forward else kind


def reason_key(reason: str | None) -> str:
    return "plain" if reason is None else "reason"


def direction_key(role: str | None) -> str:
    return role if role in ("drafter", "advisor") else "other"


PERSONAL = {
    "coauthor": "coauthor",
    "coapplicant": "coapplicant",
    "advisor_of": "advisor",
    "relative_of": "relative",
}


def text_or_none(v: Any) -> str | None:
    return v.strip() or None if isinstance(v, str) else None
