"""The people of a synthetic batch: applicants' teams (PI, key members, members), the experts
who are not applicants, birth dates and titles, the young-talent share, contact details."""

from __future__ import annotations

import math
import re

import numpy as np

from data.synthetic import day_number, pick_from


def team_layout(
    rng: np.random.Generator,
    *,
    J: np.ndarray,
    P: int,
    lead: np.ndarray,
    n_joint: np.ndarray,
    partner: np.ndarray,
    pool_any: np.ndarray,
    rule: np.ndarray,
) -> tuple[
    np.ndarray,
    np.ndarray,
    np.ndarray,
    np.ndarray,
    np.ndarray,
    np.ndarray,
    np.ndarray,
    np.ndarray,
    int,
]:
    """The team persons each proposal brings: per proposal its PI, then a key member per joint unit,
    then members, with their proposal, role, slot and unit (``pe``: planted PIs not employed
    by the lead; ``reuse_pi``: the second proposal of a one_per_pi pair)."""
    # layout per proposal: PI, then n_joint-1 key members (joint leaders), then members
    n_members = rng.integers(0, 4, P)
    reuse_pi = partner >= 0
    n_new = np.where(reuse_pi, 0, 1) + (n_joint - 1) + n_members
    t_prop = np.repeat(np.arange(P), n_new)
    pos = np.arange(len(t_prop)) - np.repeat(np.cumsum(n_new) - n_new, n_new)
    off = np.where(reuse_pi, 1, 0)[t_prop]
    slot = pos + off  # 0 = PI, 1..n_joint-1 keys, beyond: members
    is_pi = slot == 0
    is_key = (slot >= 1) & (slot < n_joint[t_prop])
    t_role = np.where(is_pi, "pi", np.where(is_key, "key", "member")).astype(object)
    t_unit = np.where(
        is_pi,
        lead[t_prop],
        np.where(
            is_key,
            J[t_prop, np.minimum(slot, 4)],
            J[t_prop, 0],
        ),
    )
    mem = ~is_pi & ~is_key
    if mem.any():
        mp = t_prop[mem]
        c = rng.integers(0, n_joint[mp])
        t_unit[mem] = J[mp, c]
    pe = rule == "pi_employed"
    pe_rows = np.flatnonzero(is_pi & pe[t_prop])
    for r in pe_rows:
        p = int(t_prop[r])
        while True:
            u = int(pick_from(rng, pool_any, 1)[0])
            if u not in J[p]:
                break
        t_unit[r] = u
    n_team_new = len(t_prop)
    return is_pi, is_key, slot, t_prop, t_role, t_unit, pe, reuse_pi, n_team_new


def pure_experts(
    rng: np.random.Generator,
    *,
    is_key: np.ndarray,
    is_pi: np.ndarray,
    js: np.ndarray,
    n_experts: int,
    n_js: int,
    n_out: int,
    p_prog: np.ndarray,
    prog_names: list[str],
    utype: np.ndarray,
) -> tuple[int, int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The experts who are not applicants: how many of the pool come from the teams, and for the
    others their kind, unit (in or out of Jiangsu) and programme (by demand)."""
    demand = np.bincount(p_prog, minlength=len(prog_names)).astype(float) + 1.0
    n_team_exp = min(max(1, n_experts // 50), int((is_pi | is_key).sum()))
    n_pure = n_experts - n_team_exp
    e_kind = rng.choice(
        np.array(["academic", "industry", "finance"], dtype=object),
        size=n_pure,
        p=[0.65, 0.25, 0.10],
    )
    in_js = rng.random(n_pure) < 0.6
    out_units = np.arange(n_js, n_js + n_out)
    e_unit = np.empty(n_pure, dtype=np.int64)
    acad = np.isin(utype, ["university", "institute", "new_rnd", "lab", "hospital"])
    for inside, pool_all in ((True, js), (False, out_units)):
        for kind in ("academic", "industry", "finance"):
            m = (in_js == inside) & (e_kind == kind)
            if kind == "academic":
                pool = pool_all[acad[pool_all]]
            elif kind == "industry":
                pool = pool_all[utype[pool_all] == "enterprise"]
            else:
                pool = pool_all[
                    (utype[pool_all] == "enterprise") | (utype[pool_all] == "university")
                ]
            if len(pool) == 0:
                pool = pool_all
            e_unit[m] = pick_from(rng, pool, int(m.sum()))
    e_prog = rng.choice(len(prog_names), size=n_pure, p=demand / demand.sum())
    return n_team_exp, n_pure, e_kind, e_unit, in_js, e_prog


def birth_dates_and_titles(
    rng: np.random.Generator,
    *,
    NP: int,
    P: int,
    is_key: np.ndarray,
    is_pi: np.ndarray,
    n_heads: int,
    n_pure: int,
    n_team_new: int,
    off_h: int,
    off_t: int,
    slot: np.ndarray,
    t_prop: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Birth dates (days since 1970) and titles of every person; ``young_day`` is a young birth
    date for each team person, used to top up the young-talent share."""
    bd = np.empty(NP, dtype=np.int64)
    bd[:n_pure] = rng.integers(day_number("1956-01-01"), day_number("1990-12-31") + 1, n_pure)
    n_old = max(2, n_pure // 100)
    old_idx = rng.choice(n_pure, size=min(n_old, n_pure), replace=False)
    bd[old_idx] = rng.integers(day_number("1946-01-01"), day_number("1953-12-31") + 1, len(old_idx))
    bd[off_h:off_t] = rng.integers(day_number("1960-01-01"), day_number("1978-12-31") + 1, n_heads)
    # team: young or not decided per proposal below
    old_day = rng.integers(day_number("1962-01-01"), day_number("1983-12-31") + 1, n_team_new)
    young_day = rng.integers(day_number("1984-01-01"), day_number("1996-12-31") + 1, n_team_new)
    young_prop = rng.random(P) < 0.6
    pi_young = rng.random(P) < 0.5
    tp_young = np.where(
        is_pi,
        young_prop[t_prop] & pi_young[t_prop],
        np.where(
            is_key,
            young_prop[t_prop]
            & ((~pi_young[t_prop] & (slot == 1)) | (rng.random(n_team_new) < 0.3)),
            rng.random(n_team_new) < 0.5,
        ),
    )
    bd[off_t:] = np.where(tp_young, young_day, old_day)
    title = np.empty(NP, dtype=object)
    titles = np.array(["senior", "associate", "intermediate", "other"], dtype=object)
    title[:n_pure] = rng.choice(titles, size=n_pure, p=[0.62, 0.33, 0.05, 0.0])
    title[off_h:off_t] = "senior"
    title[off_t:] = np.where(
        is_pi,
        rng.choice(titles, size=n_team_new, p=[0.6, 0.35, 0.05, 0.0]),
        np.where(
            is_key,
            rng.choice(titles, size=n_team_new, p=[0.35, 0.45, 0.2, 0.0]),
            rng.choice(titles, size=n_team_new, p=[0.1, 0.3, 0.45, 0.15]),
        ),
    )
    return bd, title, young_day


def top_up_young_share(
    rng: np.random.Generator,
    *,
    P: int,
    bd: np.ndarray,
    dept_of_unit: np.ndarray,
    lead: np.ndarray,
    off_t: int,
    rule: np.ndarray,
    tm_person: np.ndarray,
    tm_prop: np.ndarray,
    tm_role: np.ndarray,
    young_day: np.ndarray,
) -> np.ndarray:
    """Make a key member young where a department's proposals fall short of the young-talent
    share (changes ``bd`` in place); returns each proposal's department."""
    dept = dept_of_unit[lead]
    clean = rule == ""
    key_rows = np.flatnonzero(tm_role == "key")
    first_key = np.full(P, -1, dtype=np.int64)
    first_key[tm_prop[key_rows][::-1]] = tm_person[key_rows][::-1]
    for subset in (clean, np.ones(P, dtype=bool)):
        is_young = np.zeros(P, dtype=bool)
        yrow = bd[tm_person] >= day_number("1984-01-01")
        yrow &= tm_role != "member"
        np.logical_or.at(is_young, tm_prop, yrow)
        for d in np.unique(dept[subset]):
            members = np.flatnonzero(subset & (dept == d))
            need = math.ceil(0.45 * len(members)) - int(is_young[members].sum())
            if need <= 0:
                continue
            cand = members[~is_young[members]]
            cand = cand[rng.permutation(len(cand))][:need]
            bd[first_key[cand]] = young_day[first_key[cand] - off_t]
    return dept


def make_contacts(person_ids: np.ndarray, expert_person: np.ndarray) -> dict[str, np.ndarray]:
    """Invented phone numbers and addresses for the experts (the people invitations go to): a
    mobile 139 + the id's digits and ``<id>@example.org`` (a domain kept for examples)."""
    phone = np.full(len(person_ids), None, dtype=object)
    email = np.full(len(person_ids), None, dtype=object)
    ids = person_ids[expert_person]
    phone[expert_person] = ["139" + re.sub(r"\D", "", str(p)).zfill(8)[-8:] for p in ids]
    email[expert_person] = [f"{str(p).lower()}@example.org" for p in ids]
    return {"phone": phone, "email": email}
