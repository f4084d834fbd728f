"""Seeded synthetic application batches for the 2024 call: demo data and benchmark input.

``generate_batch(guide, ...)`` returns every table kind of the batch format (units, people,
experts, proposals, joint directions, relations, ...) plus the ground truth (``truth_proposals``,
``truth_experts``) and the list of deliberately planted rule breaks (``planted``). All names are
invented from syllable lists. Money is in 万元, dates are ISO strings, timestamps
``YYYY-MM-DD HH:MM``. Every proposal not listed in ``planted`` passes every screening rule;
each planted proposal breaks exactly one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from assign.conflict_policy import load_policy
from data.batch_people import (
    birth_dates_and_titles,
    make_contacts,
    pure_experts,
    team_layout,
    top_up_young_share,
)
from data.batch_records import (
    credit_records,
    drafters_and_advisors,
    employment_history,
    in_progress_history,
    make_person_relations,
    make_ratings,
    recusal_requests,
)
from data.batch_text import (
    PAD_PHRASES,
    PROGRAMME_DISCIPLINES,
    PROGRAMME_ORDER,
    expert_text,
    make_publications,
    phrases_of,
    proposal_text,
)
from data.batch_units import (
    assign_departments,
    joint_unit_matrix,
    lead_units,
    make_units,
    split_budget,
)
from data.synthetic import (
    COMPETITIVE,
    DIRECTED,
    OPEN_CALL,
    GenerateInputError,
    blank_where,
    numbered_ids,
    random_names,
)
from models.vocab import FORMATS
from scoring.simulate import draw_truth

__all__ = [
    "COLUMNS",
    "PLANTABLE_RULES",
    "PROGRAMME_DISCIPLINES",
    "GenerateInputError",
    "generate_batch",
    "write_batch",
]


#: Exact columns of every table kind the generator writes, in file order.
COLUMNS: dict[str, tuple[str, ...]] = {k: v for k, v in FORMATS.items() if k != "reviews"}


#: Rule ids (see the screening rules) this generator plants, one per planted proposal. The
#: funding limits are warnings (the grant is capped after review); the others reject.
PLANTABLE_RULES: tuple[str, ...] = (
    "direction_cap",
    "funding_share",
    "funding_max",
    "enterprise_partner",
    "related_joint_units",
    "pi_in_progress",
    "one_per_pi",
    "deadline",
    "credit",
    "pi_employed",
    "duration",
)


BATCH_ID = "2024"


BATCH_DATE = "2024-09-01"


DEADLINE = "2024-08-05 17:30"


FUNDING_MAX_WAN = 2000.0


def _programme_of(programme: object, code: str) -> str:
    text = "" if programme is None or pd.isna(programme) else str(programme)
    for name in PROGRAMME_ORDER:
        if name in text:
            return name
    if code[:1].isdigit() and 1 <= int(code[0]) <= len(PROGRAMME_ORDER):
        return PROGRAMME_ORDER[int(code[0]) - 1]
    return text or "其他"


def _directions(guide: pd.DataFrame) -> pd.DataFrame:
    """Usable directions: code, programme (canonical), title, cap (NaN = none), max_years, mode,
    phrases (list[str]), short (list[str] of ≤ 12 chars)."""
    missing = [
        c for c in ("code", "programme", "title", "cap_wan", "max_years", "mode") if c not in guide
    ]
    if missing:
        raise GenerateInputError(
            f"guide is missing column(s) {', '.join(missing)}; pass the guide catalogue frame "
            "(data.build_guide.load_guide())"
        )
    g = guide.copy()
    title = g["title"].astype(object).where(g["title"].notna(), "")
    keep = title.map(lambda t: str(t).strip() != "")
    g = g.loc[keep.to_numpy()].reset_index(drop=True)
    if g.empty:
        raise GenerateInputError("the guide has no direction with a title; pass a non-empty guide")
    codes = g["code"].astype(str).str.strip().tolist()
    dup = sorted({c for c in codes if codes.count(c) > 1})
    if dup:
        raise GenerateInputError(f"duplicate direction codes in the guide: {', '.join(dup)}")
    cap = pd.to_numeric(g["cap_wan"], errors="coerce").astype(float).to_numpy()
    maxy = pd.to_numeric(g["max_years"], errors="coerce").astype(float).to_numpy()
    maxy = np.where(np.isnan(maxy), 5.0, maxy).astype(int)
    content = g["research_content"] if "research_content" in g else pd.Series([None] * len(g))
    rows = []
    for i, code in enumerate(codes):
        prog = _programme_of(g["programme"].iloc[i], code)
        t = str(g["title"].iloc[i]).strip()
        ph = phrases_of(content.iloc[i], t)
        short = [p for p in ph if len(p) <= 12] or [p[:12] for p in ph]
        start = sum(map(ord, code)) % len(PAD_PHRASES)
        pad = [x for x in PAD_PHRASES[start:] + PAD_PHRASES[:start] if x not in ph]
        if len(short) < 4:
            short += pad[: 4 - len(short)]
        if len(ph) < 16:
            ph += pad[: 16 - len(ph)]
        mode = g["mode"].iloc[i]
        rows.append(
            {
                "code": code,
                "programme": prog,
                "title": t,
                "cap": cap[i],
                "max_years": int(maxy[i]),
                "mode": "" if mode is None or pd.isna(mode) else str(mode).strip(),
                "phrases": ph,
                "short": short,
            }
        )
    return pd.DataFrame(rows)


def _counts(
    rng: np.random.Generator,
    n_dir: int,
    per_direction: tuple[int, int],
    n_proposals: int | None,
) -> np.ndarray:
    if n_proposals is not None:
        base = n_proposals // n_dir
        counts = np.full(n_dir, base, dtype=np.int64)
        extra = rng.choice(n_dir, size=n_proposals - base * n_dir, replace=False)
        counts[extra] += 1
        return counts
    lo, hi = per_direction
    return rng.integers(lo, hi + 1, size=n_dir)


def _plan(
    rng: np.random.Generator, dirs: pd.DataFrame, dir_idx: np.ndarray, planted_share: float
) -> tuple[np.ndarray, np.ndarray]:
    """Choose the planted proposals. Returns rule (P,) object ('' = clean) and partner (P,) int:
    for the second proposal of a one_per_pi pair, the index of the first (else -1)."""
    n = len(dir_idx)
    rule = np.full(n, "", dtype=object)
    partner = np.full(n, -1, dtype=np.int64)
    budget = int(round(planted_share * n))
    if budget == 0:
        return rule, partner
    cap = dirs["cap"].to_numpy()[dir_idx]
    mode = dirs["mode"].to_numpy()[dir_idx]
    prog = dirs["programme"].to_numpy()[dir_idx]
    # the PI rules exempt 定向委托; plant them only where the mode is known and not exempt
    known_mode = (mode == OPEN_CALL) | (mode == COMPETITIVE)
    eligible = {
        "direction_cap": ~np.isnan(cap) & (cap < FUNDING_MAX_WAN - 20),
        "funding_max": np.isnan(cap) | (cap > FUNDING_MAX_WAN + 20),
        "pi_in_progress": known_mode,
        "one_per_pi": known_mode,
        # one year over a direction limit of 3 or 4 years stays within the usual 3-5 years
        "duration": dirs["max_years"].to_numpy()[dir_idx] <= 4,
    }
    free = np.ones(n, dtype=bool)
    order = list(PLANTABLE_RULES)
    rng.shuffle(order)
    used = 0
    active = True
    while used < budget and active:
        active = False
        for r in order:
            if used >= budget:
                break
            ok = free & eligible.get(r, np.ones(n, dtype=bool))
            cand = np.flatnonzero(ok)
            if r == "one_per_pi":
                if budget - used < 2 or len(cand) < 2:
                    continue
                a = int(rng.choice(cand))
                other = cand[(prog[cand] != prog[a])]
                if len(other) == 0:
                    other = cand[dir_idx[cand] != dir_idx[a]]
                if len(other) == 0:
                    continue
                b = int(rng.choice(other))
                rule[a] = rule[b] = r
                partner[b] = a
                free[a] = free[b] = False
                used += 2
                active = True
                continue
            if len(cand) == 0:
                continue
            p = int(rng.choice(cand))
            rule[p] = r
            free[p] = False
            used += 1
            active = True
    return rule, partner


def generate_batch(
    guide: pd.DataFrame,
    *,
    n_experts: int = 3000,
    proposals_per_direction: tuple[int, int] = (8, 20),
    n_proposals: int | None = None,
    planted_share: float = 0.12,
    n_relations: int | None = None,
    seed: int = 0,
) -> dict[str, pd.DataFrame]:
    """A synthetic 2024 batch over the guide's directions (rows with an empty title skipped).

    n_experts: rows of ``experts``; proposals_per_direction: (lo, hi) inclusive range per
    direction, overridden by n_proposals (spread evenly over the directions);
    planted_share: share of proposals that each break exactly one rule of PLANTABLE_RULES;
    n_relations: rows of ``person_relations`` (default 3 per expert + 3 per proposal).
    Returns {kind: DataFrame} with exactly the columns of COLUMNS for every kind except
    ``reviews``. Money in 万元. Same arguments, same tables.
    """
    _check_args(n_experts, proposals_per_direction, n_proposals, planted_share, n_relations)
    rng = np.random.default_rng(seed)
    dirs = _directions(guide)
    n_dir = len(dirs)
    counts = _counts(rng, n_dir, proposals_per_direction, n_proposals)
    dir_idx = np.repeat(np.arange(n_dir), counts)
    P = len(dir_idx)
    if P == 0:
        raise GenerateInputError("no proposals to generate; raise n_proposals or the range")
    seq_in_dir = np.concatenate([np.arange(1, c + 1) for c in counts]) if P else np.array([])
    codes = dirs["code"].to_numpy()
    width = max(2, len(str(int(counts.max()))))
    proposal_ids = np.array(
        [f"P-{codes[d]}-{s:0{width}d}" for d, s in zip(dir_idx, seq_in_dir, strict=True)],
        dtype=object,
    )
    rule, partner = _plan(rng, dirs, dir_idx, planted_share)
    n_rel = 3 * n_experts + 3 * P if n_relations is None else n_relations

    prog_names = sorted(set(dirs["programme"]))
    prog_of_dir = dirs["programme"].to_numpy()
    prog_idx_of_dir = np.array([prog_names.index(x) for x in prog_of_dir])
    p_prog = prog_idx_of_dir[dir_idx]

    # ---- units (enough that every programme's leads can be distinct unit groups)
    n_js = max(120, int(1.4 * P), 4 * int(np.bincount(p_prog).max()))
    n_out = max(20, int(0.4 * n_experts / 6))
    credit_rows = np.flatnonzero(rule == "credit")
    units, unit_rel, group = make_units(rng, n_js, n_out, len(credit_rows))
    U = len(units)
    utype = units["type"].to_numpy()
    js = np.arange(n_js)
    pool_any = js
    pool_ent = js[utype[:n_js] == "enterprise"]
    pool_non_ent = js[utype[:n_js] != "enterprise"]
    # units held by a parent in a way that makes them related (a minority stake does not)
    relatedness = load_policy().relatedness
    children_of: dict[int, list[int]] = {}
    for a, b, kind, share in zip(
        unit_rel["unit_id"].map(lambda s: int(s[1:]) - 1),
        unit_rel["related_unit_id"].map(lambda s: int(s[1:]) - 1),
        unit_rel["kind"],
        unit_rel["share"],
        strict=True,
    ):
        if relatedness.counts(kind, share):
            children_of.setdefault(int(a), []).append(int(b))
    parents = np.array(sorted(children_of), dtype=np.int64)
    dept_of_unit = assign_departments(rng, units)

    # ---- lead units
    is_ent, lead, forced_second = lead_units(
        rng,
        P=P,
        children_of=children_of,
        credit_rows=credit_rows,
        group=group,
        js=js,
        n_js=n_js,
        n_out=n_out,
        p_prog=p_prog,
        parents=parents,
        partner=partner,
        prog_names=prog_names,
        rule=rule,
        utype=utype,
    )

    # ---- joint units
    J, n_joint = joint_unit_matrix(
        rng,
        P=P,
        forced_second=forced_second,
        group=group,
        is_ent=is_ent,
        lead=lead,
        pool_any=pool_any,
        pool_ent=pool_ent,
        pool_non_ent=pool_non_ent,
        rule=rule,
    )

    # ---- money, duration, dates
    cap, maxy, dmode, share, total, req, own, duration, submitted = money_and_dates(
        rng, P=P, dir_idx=dir_idx, dirs=dirs, is_ent=is_ent, rule=rule
    )

    # ---- team persons
    is_pi, is_key, slot, t_prop, t_role, t_unit, pe, reuse_pi, n_team_new = team_layout(
        rng, J=J, P=P, lead=lead, n_joint=n_joint, partner=partner, pool_any=pool_any, rule=rule
    )

    # ---- pure experts
    n_team_exp, n_pure, e_kind, e_unit, in_js, e_prog = pure_experts(
        rng,
        is_key=is_key,
        is_pi=is_pi,
        js=js,
        n_experts=n_experts,
        n_js=n_js,
        n_out=n_out,
        p_prog=p_prog,
        prog_names=prog_names,
        utype=utype,
    )

    # ---- heads (new persons, or an expert of the unit)
    has_head = rng.random(U) < 0.85
    head_pid = np.full(U, -1, dtype=np.int64)  # person index, filled below
    order = rng.permutation(n_pure)
    first_exp = pd.Series(order, index=e_unit[order]).groupby(level=0).first()
    use_exp = np.zeros(U, dtype=bool)
    cand_units = first_exp.index.to_numpy()
    use_exp[cand_units] = rng.random(len(cand_units)) < 0.2
    use_exp &= has_head
    new_head_units = np.flatnonzero(has_head & ~use_exp)

    # ---- people: [pure experts][new heads][team persons]
    n_heads = len(new_head_units)
    NP = n_pure + n_heads + n_team_new
    person_ids = numbered_ids("R", NP, 7)
    off_h, off_t = n_pure, n_pure + n_heads
    p_unit = np.concatenate([e_unit, new_head_units, t_unit])
    p_name = random_names(rng, NP)
    bd, title, young_day = birth_dates_and_titles(
        rng,
        NP=NP,
        P=P,
        is_key=is_key,
        is_pi=is_pi,
        n_heads=n_heads,
        n_pure=n_pure,
        n_team_new=n_team_new,
        off_h=off_h,
        off_t=off_t,
        slot=slot,
        t_prop=t_prop,
    )

    # PI person index of each proposal
    pi_person = np.full(P, -1, dtype=np.int64)
    pi_rows = np.flatnonzero(is_pi)
    pi_person[t_prop[pi_rows]] = off_t + pi_rows
    pi_person[reuse_pi] = pi_person[partner[reuse_pi]]
    # team table rows (person index, proposal, role)
    tm_person = np.concatenate([off_t + np.arange(n_team_new), pi_person[reuse_pi]])
    tm_prop = np.concatenate([t_prop, np.flatnonzero(reuse_pi)])
    tm_role = np.concatenate([t_role, np.full(int(reuse_pi.sum()), "pi", dtype=object)])
    tm_slot = np.concatenate([slot, np.zeros(int(reuse_pi.sum()), dtype=np.int64)])
    o = np.lexsort((tm_slot, tm_prop))
    tm_person, tm_prop, tm_role, tm_slot = tm_person[o], tm_prop[o], tm_role[o], tm_slot[o]

    # young share per department: top up by making a key member young
    dept = top_up_young_share(
        rng,
        P=P,
        bd=bd,
        dept_of_unit=dept_of_unit,
        lead=lead,
        off_t=off_t,
        rule=rule,
        tm_person=tm_person,
        tm_prop=tm_prop,
        tm_role=tm_role,
        young_day=young_day,
    )
    # joint-direction leaders: PI for the lead's direction, key member k for column k
    leader = np.full((P, 5), -1, dtype=np.int64)
    leader[:, 0] = pi_person
    kr = tm_role == "key"
    leader[tm_prop[kr], tm_slot[kr]] = tm_person[kr]

    # ---- team experts (some PIs/key members are also in the expert pool)
    tk = np.flatnonzero(is_pi | is_key)
    team_exp = off_t + np.sort(rng.choice(tk, size=n_team_exp, replace=False))
    expert_person = np.concatenate([np.arange(n_pure), team_exp])
    E = len(expert_person)
    ex_kind = np.concatenate(
        [
            e_kind,
            rng.choice(
                np.array(["academic", "industry"], dtype=object), size=n_team_exp, p=[0.7, 0.3]
            ),
        ]
    )
    ex_prog = np.concatenate([e_prog, p_prog[t_prop[team_exp - off_t]]])
    ex_unit = p_unit[expert_person]
    ex_province = units["province"].to_numpy()[ex_unit]
    ex_province_code = units["province_code"].to_numpy()[ex_unit]
    expert_ids = person_ids[expert_person]

    # heads that are experts
    head_pid[new_head_units] = off_h + np.arange(n_heads)
    ue = np.flatnonzero(use_exp)
    head_pid[ue] = first_exp.loc[ue].to_numpy()
    units["head_id"] = blank_where(head_pid < 0, person_ids[np.maximum(head_pid, 0)])

    # ---- text: experts
    ex_disc, ex_kw, ex_prof, ex_dirs = expert_text(
        rng,
        E=E,
        dirs=dirs,
        ex_kind=ex_kind,
        ex_prog=ex_prog,
        ex_unit=ex_unit,
        expert_person=expert_person,
        prog_idx_of_dir=prog_idx_of_dir,
        prog_names=prog_names,
        title=title,
        units=units,
    )
    level = rng.choice(np.array(["A", "B", "C"], dtype=object), size=E, p=[0.2, 0.45, 0.35])
    has_load = rng.random(E) < 0.08
    max_load = pd.array(np.where(has_load, rng.integers(3, 11, E), 0), dtype="Int64")
    max_load[~has_load] = pd.NA
    active = rng.random(E) < 0.95
    experts = pd.DataFrame(
        {
            "expert_id": expert_ids,
            "disciplines": ex_disc,
            "keywords": ex_kw,
            "profile": ex_prof,
            "kind": ex_kind,
            "level": level,
            "province": ex_province,
            "max_load": max_load,
            "active": active,
            "province_code": ex_province_code,
        }
    )

    # ---- text: proposals and joint directions
    titles_p, abstracts, kw_p, disc_p, tasks = proposal_text(
        rng,
        P=P,
        J=J,
        dir_idx=dir_idx,
        lead=lead,
        n_joint=n_joint,
        dirs=dirs,
        prog_of_dir=prog_of_dir,
        units=units,
    )

    proposals = pd.DataFrame(
        {
            "proposal_id": proposal_ids,
            "batch_id": BATCH_ID,
            "direction_code": codes[dir_idx],
            "title": titles_p,
            "lead_unit_id": units["unit_id"].to_numpy()[lead],
            "pi_id": person_ids[pi_person],
            "department": dept,
            "total_budget_wan": total,
            "requested_wan": req,
            "own_funds_wan": own,
            "duration_years": duration.astype(np.int64),
            "keywords": kw_p,
            "abstract": abstracts,
            "disciplines": disc_p,
            "submitted_at": submitted,
        }
    )
    budgets = split_budget(rng, total, n_joint)
    jr, jc = np.nonzero(J >= 0)
    joint = pd.DataFrame(
        {
            "proposal_id": proposal_ids[jr],
            "seq": (jc + 1).astype(np.int64),
            "unit_id": units["unit_id"].to_numpy()[J[jr, jc]],
            "leader_id": person_ids[leader[jr, jc]],
            "task": tasks[jr, jc],
            "budget_wan": budgets[jr, jc],
        }
    )
    team = pd.DataFrame(
        {"proposal_id": proposal_ids[tm_prop], "person_id": person_ids[tm_person], "role": tm_role}
    )

    # ---- employment
    employment, applicant_units, pure_js = employment_history(
        rng,
        J=J,
        in_js=in_js,
        is_pi=is_pi,
        js=js,
        lead=lead,
        n_js=n_js,
        n_out=n_out,
        n_pure=n_pure,
        n_team_new=n_team_new,
        off_t=off_t,
        p_unit=p_unit,
        pe=pe,
        person_ids=person_ids,
        pi_person=pi_person,
        units=units,
    )

    # ---- person relations
    relations = make_person_relations(
        rng,
        n_rel,
        expert_person=np.arange(n_pure),
        expert_prog=e_prog,
        team_person=tm_person,
        team_prog=p_prog[tm_prop],
        person_ids=person_ids,
    )

    # ---- recusals
    by_prog = [np.flatnonzero(e_prog == k) for k in range(len(prog_names))]
    recusals = recusal_requests(
        rng,
        P=P,
        by_prog=by_prog,
        e_unit=e_unit,
        n_pure=n_pure,
        p_prog=p_prog,
        person_ids=person_ids,
        proposal_ids=proposal_ids,
        units=units,
    )

    # ---- direction drafters / advisors
    direction_experts = drafters_and_advisors(
        rng,
        by_prog=by_prog,
        codes=codes,
        n_dir=n_dir,
        n_pure=n_pure,
        person_ids=person_ids,
        prog_idx_of_dir=prog_idx_of_dir,
    )

    # ---- in-progress projects
    in_progress = in_progress_history(
        rng,
        dmode=dmode,
        lead=lead,
        n_heads=n_heads,
        off_h=off_h,
        p_unit=p_unit,
        person_ids=person_ids,
        pi_person=pi_person,
        pure_js=pure_js,
        rule=rule,
        units=units,
    )

    # ---- credit penalties
    credit_penalties = credit_records(
        rng,
        J=J,
        applicant_units=applicant_units,
        credit_rows=credit_rows,
        lead=lead,
        n_js=n_js,
        n_pure=n_pure,
        person_ids=person_ids,
        tm_person=tm_person,
        units=units,
    )

    # ---- ratings over three earlier batches
    ratings = make_ratings(rng, expert_ids)

    batches = pd.DataFrame(
        {
            "batch_id": [BATCH_ID],
            "name": ["2024年度省科技重大专项"],
            "year": np.array([2024], dtype=np.int64),
            "batch_date": [BATCH_DATE],
            "deadline": [DEADLINE],
        }
    )
    people = pd.DataFrame(
        {
            "person_id": person_ids,
            "name": p_name,
            "unit_id": units["unit_id"].to_numpy()[p_unit],
            "birth_date": bd.astype("datetime64[D]").astype(str).astype(object),
            "title": title,
            **make_contacts(person_ids, expert_person),
        }
    )
    planted = _planted_table(
        rule,
        partner,
        proposal_ids=proposal_ids,
        codes=codes[dir_idx],
        cap=cap,
        req=req,
        total=total,
        share=share,
        submitted=submitted,
        lead_id=units["unit_id"].to_numpy()[lead],
        pi_ids=person_ids[pi_person],
        pi_unit_id=units["unit_id"].to_numpy()[p_unit[pi_person]],
        J=J,
        unit_ids=units["unit_id"].to_numpy(),
        duration=duration,
        max_years=maxy,
    )
    truth_p, truth_e = draw_truth(list(proposal_ids), list(expert_ids), seed=seed)
    publications = make_publications(expert_ids, ex_dirs, dirs, seed=seed)
    tables = {
        "guide": guide.copy(),
        "batches": batches,
        "units": units,
        "unit_relations": unit_rel,
        "people": people,
        "employment": employment,
        "experts": experts,
        "publications": publications,
        "direction_experts": direction_experts,
        "credit_penalties": credit_penalties,
        "ratings": ratings,
        "proposals": proposals,
        "joint_directions": joint,
        "team_members": team,
        "person_relations": relations,
        "recusals": recusals,
        "in_progress_projects": in_progress,
        "truth_proposals": truth_p,
        "truth_experts": truth_e,
        "planted": planted,
    }
    for kind, frame in tables.items():
        if kind != "guide":
            tables[kind] = frame.loc[:, list(COLUMNS[kind])].reset_index(drop=True)
    return tables


def money_and_dates(
    rng: np.random.Generator,
    *,
    P: int,
    dir_idx: np.ndarray,
    dirs: pd.DataFrame,
    is_ent: np.ndarray,
    rule: np.ndarray,
) -> tuple[np.ndarray, ...]:
    """Each proposal's direction cap, longest duration and mode, the provincial share allowed, the
    total budget, request and own funds (万元), duration and submission time; planted
    proposals break their money, duration or deadline rule."""
    cap = dirs["cap"].to_numpy()[dir_idx]
    maxy = dirs["max_years"].to_numpy()[dir_idx]
    dmode = dirs["mode"].to_numpy()[dir_idx]
    share = np.where(is_ent, 0.3, 0.5)
    maxreq = np.where(np.isnan(cap), FUNDING_MAX_WAN, np.minimum(cap, FUNDING_MAX_WAN))
    req = np.maximum(100.0, np.floor(maxreq * rng.uniform(0.45, 1.0, P) / 10.0) * 10.0)
    at_cap = rng.random(P) < 0.06
    req[at_cap] = maxreq[at_cap]
    m = rule == "direction_cap"
    req[m] = np.minimum(
        FUNDING_MAX_WAN,
        np.maximum(cap[m] + 10.0, np.floor(cap[m] * rng.uniform(1.08, 1.35, m.sum()) / 10) * 10),
    )
    m = rule == "funding_max"
    hi = np.where(np.isnan(cap[m]), 2800.0, cap[m])
    req[m] = np.maximum(
        FUNDING_MAX_WAN + 10.0, np.floor(rng.uniform(2050.0, 2800.0, m.sum()) / 10) * 10
    )
    req[m] = np.minimum(req[m], hi)
    total = np.ceil(req / (share * rng.uniform(0.6, 0.95, P)) / 10.0) * 10.0
    m = rule == "funding_share"
    total[m] = np.floor(req[m] / (share[m] * rng.uniform(1.15, 1.5, m.sum())) / 10.0) * 10.0
    own = total - req + np.where(rng.random(P) < 0.2, 10.0 * rng.integers(1, 20, P), 0.0)
    lo_y = np.minimum(3, maxy)
    hi_y = np.maximum(lo_y, np.minimum(5, maxy))
    duration = rng.integers(lo_y, hi_y + 1)
    m = rule == "duration"
    duration[m] = maxy[m] + 1
    dl = np.datetime64("2024-08-05T17:30")
    back = np.minimum(rng.exponential(3 * 24 * 60, P), 28 * 24 * 60).astype(np.int64) + 1
    sub = dl - back.astype("timedelta64[m]")
    near = rng.random(P) < 0.03
    sub[near] = dl - np.timedelta64(1, "m")
    m = rule == "deadline"
    sub[m] = dl + rng.integers(1, 18 * 60, m.sum()).astype("timedelta64[m]")
    submitted = np.array([str(s).replace("T", " ")[:16] for s in sub], dtype=object)
    return cap, maxy, dmode, share, total, req, own, duration, submitted


def _check_args(
    n_experts: int,
    per_direction: tuple[int, int],
    n_proposals: int | None,
    planted_share: float,
    n_relations: int | None,
) -> None:
    if n_experts < 20:
        raise GenerateInputError(f"n_experts must be at least 20, got {n_experts}")
    lo, hi = per_direction
    if lo < 1 or hi < lo:
        raise GenerateInputError(
            f"proposals_per_direction must be (lo, hi) with 1 <= lo <= hi, got {per_direction}"
        )
    if n_proposals is not None and n_proposals < 1:
        raise GenerateInputError(f"n_proposals must be at least 1, got {n_proposals}")
    if not 0.0 <= planted_share <= 0.5:
        raise GenerateInputError(f"planted_share must be in [0, 0.5], got {planted_share}")
    if n_relations is not None and n_relations < 0:
        raise GenerateInputError(f"n_relations must be >= 0, got {n_relations}")


def _planted_table(
    rule: np.ndarray,
    partner: np.ndarray,
    *,
    proposal_ids: np.ndarray,
    codes: np.ndarray,
    cap: np.ndarray,
    req: np.ndarray,
    total: np.ndarray,
    share: np.ndarray,
    submitted: np.ndarray,
    lead_id: np.ndarray,
    pi_ids: np.ndarray,
    pi_unit_id: np.ndarray,
    J: np.ndarray,
    unit_ids: np.ndarray,
    duration: np.ndarray,
    max_years: np.ndarray,
) -> pd.DataFrame:
    """One row per planted (proposal_id, rule) with a sentence stating the break."""
    rows: list[tuple[str, str, str]] = []
    other = {int(b): int(a) for b, a in enumerate(partner) if a >= 0}
    other.update({a: b for b, a in list(other.items())})
    for p in np.flatnonzero(rule != ""):
        r = str(rule[p])
        if r == "direction_cap":
            d = f"requested {req[p]:.0f}万 exceeds the {cap[p]:.0f}万 cap of direction {codes[p]}"
        elif r == "funding_share":
            d = (
                f"requested {req[p]:.0f}万 is {100 * req[p] / total[p]:.1f}% of the total budget "
                f"{total[p]:.0f}万, above the {100 * share[p]:.0f}% limit"
            )
        elif r == "funding_max":
            d = f"requested {req[p]:.0f}万 exceeds the {FUNDING_MAX_WAN:.0f}万 per-project maximum"
        elif r == "enterprise_partner":
            d = f"lead unit {lead_id[p]} is not an enterprise and no joint unit is an enterprise"
        elif r == "related_joint_units":
            d = f"joint unit {unit_ids[J[p, 1]]} is related to (held by) the lead unit {lead_id[p]}"
        elif r == "pi_in_progress":
            d = f"PI {pi_ids[p]} leads an in-progress {DIRECTED} provincial project"
        elif r == "one_per_pi":
            d = f"PI {pi_ids[p]} also leads {proposal_ids[other[int(p)]]} in this batch"
        elif r == "deadline":
            d = f"submitted at {submitted[p]}, after the {DEADLINE} deadline"
        elif r == "credit":
            d = f"lead unit {lead_id[p]} has an active credit penalty"
        elif r == "duration":
            d = f"runs {duration[p]} years, over the {max_years[p]}-year limit of {codes[p]}"
        else:
            d = f"PI {pi_ids[p]} is employed by {pi_unit_id[p]}, not by the lead unit {lead_id[p]}"
        rows.append((str(proposal_ids[p]), r, d))
    return pd.DataFrame(rows, columns=list(COLUMNS["planted"]))


def write_batch(tables: dict[str, pd.DataFrame], directory: str | Path) -> list[Path]:
    """Write ``<kind>.csv`` (UTF-8, booleans true/false, empty = missing) for every table;
    returns the paths in the order of ``tables``. Creates the directory if needed."""
    out_dir = Path(directory)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for kind, frame in tables.items():
        out = frame.copy()
        for col in out.columns:
            dt = out[col].dtype
            if pd.api.types.is_bool_dtype(dt):
                out[col] = out[col].map({True: "true", False: "false"}).astype(object)
        path = out_dir / f"{kind}.csv"
        out.to_csv(path, index=False, encoding="utf-8", lineterminator="\n")
        paths.append(path)
    return paths
