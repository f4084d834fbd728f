"""The records around a synthetic batch that conflicts and screening read: employment history,
person relations, recusal requests, direction drafters, projects in progress, credit
penalties and earlier ratings."""

from __future__ import annotations

import numpy as np
import pandas as pd

from data.synthetic import COMPETITIVE, DIRECTED, OPEN_CALL, blank_where, pick_from, random_dates
from models.vocab import FORMATS

_RECUSAL_REASONS = (
    "存在直接竞争关系",
    "曾有学术争议",
    "同一技术路线竞争单位",
    "存在商业竞争关系",
    "曾有合作纠纷",
)


_PENALTY_REASONS = (
    "科研诚信失信行为（虚构材料）",
    "项目验收不通过且拒不整改",
    "违规使用财政科研经费",
    "被列入严重失信主体名单",
)


def employment_history(
    rng: np.random.Generator,
    *,
    J: np.ndarray,
    in_js: np.ndarray,
    is_pi: np.ndarray,
    js: np.ndarray,
    lead: np.ndarray,
    n_js: int,
    n_out: int,
    n_pure: int,
    n_team_new: int,
    off_t: int,
    p_unit: np.ndarray,
    pe: np.ndarray,
    person_ids: np.ndarray,
    pi_person: np.ndarray,
    units: pd.DataFrame,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Past and concurrent employment: some experts recently left an applicant unit (a conflict),
    some long ago (not one), some hold a second post; some team members and PIs moved. Also the
    applicant units and the experts in Jiangsu."""
    emp_parts: list[pd.DataFrame] = []
    applicant_units = np.unique(J[J >= 0])
    pure_js = np.flatnonzero(in_js)
    sel = rng.random(n_pure)
    conflict_exp = pure_js[sel[pure_js] < 0.05]
    near_exp = pure_js[(sel[pure_js] >= 0.05) & (sel[pure_js] < 0.10)]
    generic_exp = np.flatnonzero((sel >= 0.10) & (sel < 0.22))
    concurrent_exp = pure_js[(sel[pure_js] >= 0.22) & (sel[pure_js] < 0.25)]

    def emp(
        who: np.ndarray, where: np.ndarray, s: tuple[str, str], e: tuple[str, str] | None
    ) -> None:
        keep = where != p_unit[who]
        who, where = who[keep], where[keep]
        emp_parts.append(
            pd.DataFrame(
                {
                    "person_id": person_ids[who],
                    "unit_id": units["unit_id"].to_numpy()[where],
                    "start_date": random_dates(rng, *s, len(who)),
                    "end_date": random_dates(rng, *e, len(who)) if e else None,
                }
            )
        )

    emp(
        conflict_exp,
        pick_from(rng, applicant_units, len(conflict_exp)),
        ("2012-01-01", "2020-12-31"),
        ("2023-03-01", "2023-09-01"),
    )
    emp(
        near_exp,
        pick_from(rng, applicant_units, len(near_exp)),
        ("2008-01-01", "2016-12-31"),
        ("2019-01-01", "2021-06-30"),
    )
    emp(
        generic_exp,
        pick_from(rng, np.arange(n_js + n_out), len(generic_exp)),
        ("1998-01-01", "2008-12-31"),
        ("2009-01-01", "2020-12-31"),
    )
    emp(concurrent_exp, pick_from(rng, js, len(concurrent_exp)), ("2018-01-01", "2023-12-31"), None)
    team_hist = off_t + np.flatnonzero((rng.random(n_team_new) < 0.08) & ~is_pi)
    emp(
        team_hist,
        pick_from(rng, js, len(team_hist)),
        ("2005-01-01", "2014-12-31"),
        ("2015-01-01", "2022-12-31"),
    )
    pe_props = np.flatnonzero(pe)
    pe_hist = pe_props[rng.random(len(pe_props)) < 0.5]
    emp(
        pi_person[pe_hist],
        lead[pe_hist],
        ("2010-01-01", "2016-12-31"),
        ("2021-01-01", "2022-12-31"),
    )
    employment = pd.concat(emp_parts, ignore_index=True)
    employment = employment.drop_duplicates(["person_id", "unit_id"]).reset_index(drop=True)
    return employment, applicant_units, pure_js


def recusal_requests(
    rng: np.random.Generator,
    *,
    P: int,
    by_prog: list[np.ndarray],
    e_unit: np.ndarray,
    n_pure: int,
    p_prog: np.ndarray,
    person_ids: np.ndarray,
    proposal_ids: np.ndarray,
    units: pd.DataFrame,
) -> pd.DataFrame:
    """Recusals the applicants ask for (回避申请): 0–3 per proposal, an expert or a unit of the
    proposal's programme."""
    nrec = rng.choice(np.array([0, 1, 2, 3]), size=P, p=[0.45, 0.3, 0.15, 0.1])
    rp_idx = np.repeat(np.arange(P), nrec)
    rec_exp = np.array(
        [
            (by_prog[p_prog[p]] if len(by_prog[p_prog[p]]) else np.arange(n_pure))[
                int(rng.integers(0, max(1, len(by_prog[p_prog[p]]) or n_pure)))
            ]
            for p in rp_idx
        ],
        dtype=np.int64,
    )
    is_unit = rng.random(len(rp_idx)) < 0.25
    recusals = (
        pd.DataFrame(
            {
                "proposal_id": proposal_ids[rp_idx],
                "person_id": blank_where(is_unit, person_ids[rec_exp]),
                "unit_id": blank_where(~is_unit, units["unit_id"].to_numpy()[e_unit[rec_exp]]),
                "reason": np.array(_RECUSAL_REASONS, dtype=object)[
                    rng.integers(0, len(_RECUSAL_REASONS), len(rp_idx))
                ],
            }
        )
        .drop_duplicates(["proposal_id", "person_id", "unit_id"])
        .reset_index(drop=True)
    )
    return recusals


def drafters_and_advisors(
    rng: np.random.Generator,
    *,
    by_prog: list[np.ndarray],
    codes: np.ndarray,
    n_dir: int,
    n_pure: int,
    person_ids: np.ndarray,
    prog_idx_of_dir: np.ndarray,
) -> pd.DataFrame:
    """The experts who drafted or advised on each guide direction (2–4 per direction)."""
    de_rows: list[tuple[str, str, str]] = []
    for d in range(n_dir):
        pool = by_prog[prog_idx_of_dir[d]]
        if len(pool) == 0:
            pool = np.arange(n_pure)
        k = min(len(pool), int(rng.integers(2, 5)))
        for j, e in enumerate(rng.choice(pool, size=k, replace=False)):
            de_rows.append(
                (person_ids[e], codes[d], "drafter" if j == 0 or rng.random() < 0.3 else "advisor")
            )
    direction_experts = pd.DataFrame(de_rows, columns=list(FORMATS["direction_experts"]))
    return direction_experts


def in_progress_history(
    rng: np.random.Generator,
    *,
    dmode: np.ndarray,
    lead: np.ndarray,
    n_heads: int,
    off_h: int,
    p_unit: np.ndarray,
    person_ids: np.ndarray,
    pi_person: np.ndarray,
    pure_js: np.ndarray,
    rule: np.ndarray,
    units: pd.DataFrame,
) -> pd.DataFrame:
    """Provincial projects in progress: background ones that trip no rule of an applicant, and
    the planted ``pi_in_progress`` ones."""
    lead_open = set(lead[(dmode == OPEN_CALL)].tolist())
    lead_comp = set(lead[(dmode == COMPETITIVE)].tolist())
    applicants_pi = set(pi_person.tolist())
    bg_exp = pure_js[rng.random(len(pure_js)) < 0.04]
    bg_heads = off_h + np.flatnonzero(rng.random(n_heads) < 0.08)
    bg = np.concatenate([bg_exp, bg_heads])
    bg = bg[
        (units["province"].to_numpy()[p_unit[bg]] == "江苏") & ~np.isin(bg, list(applicants_pi))
    ]
    bg_mode = rng.choice(
        np.array([DIRECTED, OPEN_CALL, COMPETITIVE], dtype=object), size=len(bg), p=[0.2, 0.3, 0.5]
    )
    clash = np.array(
        [
            (m_ == OPEN_CALL) and (int(p_unit[x]) in lead_open)
            for x, m_ in zip(bg, bg_mode, strict=True)
        ],
        dtype=bool,
    )
    bg_mode[clash] = COMPETITIVE
    # nor the 竞争择优 rule (any in-progress project but a 定向委托 one)
    bg_mode[np.isin(p_unit[bg], list(lead_comp))] = DIRECTED
    bg_start = rng.integers(2021, 2024, len(bg))
    pip = np.flatnonzero(rule == "pi_in_progress")
    ip_pi = np.concatenate([bg, pi_person[pip]])
    ip_unit = np.concatenate([p_unit[bg], lead[pip]])
    # planted ones are 定向委托 projects: they trip the PI rule and no lead-unit rule
    ip_mode = np.concatenate([bg_mode, np.full(len(pip), DIRECTED, dtype=object)])
    ip_start = np.concatenate([bg_start, np.full(len(pip), 2022)])
    ip_end = ip_start + rng.integers(3, 5, len(ip_start))
    ip_end = np.maximum(ip_end, 2025)
    o = rng.permutation(len(ip_pi))
    in_progress = pd.DataFrame(
        {
            "project_id": [f"IP-{i:05d}" for i in range(1, len(ip_pi) + 1)],
            "pi_id": person_ids[ip_pi[o]],
            "lead_unit_id": units["unit_id"].to_numpy()[ip_unit[o]],
            "mode": ip_mode[o],
            "start_year": ip_start[o].astype(np.int64),
            "end_year": ip_end[o].astype(np.int64),
        }
    )
    return in_progress


def credit_records(
    rng: np.random.Generator,
    *,
    J: np.ndarray,
    applicant_units: np.ndarray,
    credit_rows: np.ndarray,
    lead: np.ndarray,
    n_js: int,
    n_pure: int,
    person_ids: np.ndarray,
    tm_person: np.ndarray,
    units: pd.DataFrame,
) -> pd.DataFrame:
    """Credit penalties (失信记录): the planted lead units, a few experts, idle units, and expired
    penalties of some applicants."""
    pen_parts: list[pd.DataFrame] = []

    def pen(
        kind: str, ids: np.ndarray, s: tuple[str, str], e: tuple[str, str] | None, open_share: float
    ) -> None:
        n = len(ids)
        end = random_dates(rng, *e, n) if e else np.full(n, None, dtype=object)
        if e is not None and open_share > 0:
            end = blank_where(rng.random(n) < open_share, end)
        pen_parts.append(
            pd.DataFrame(
                {
                    "subject_type": kind,
                    "subject_id": ids,
                    "start_date": random_dates(rng, *s, n),
                    "end_date": end,
                    "reason": np.array(_PENALTY_REASONS, dtype=object)[
                        rng.integers(0, len(_PENALTY_REASONS), n)
                    ],
                }
            )
        )

    pen(
        "unit",
        units["unit_id"].to_numpy()[lead[credit_rows]],
        ("2023-01-01", "2024-06-30"),
        ("2025-06-01", "2027-12-31"),
        0.5,
    )
    team_set = set(tm_person.tolist())
    pen_exp_pool = np.array([x for x in range(n_pure) if x not in team_set], dtype=np.int64)
    pen_exp = rng.choice(
        pen_exp_pool, size=min(len(pen_exp_pool), max(2, n_pure // 100)), replace=False
    )
    pen(
        "person",
        person_ids[pen_exp],
        ("2022-06-01", "2024-06-30"),
        ("2025-06-01", "2027-12-31"),
        0.4,
    )
    used_units = set(J[J >= 0].tolist()) | set(lead.tolist())
    idle = np.array([u for u in range(n_js) if u not in used_units], dtype=np.int64)
    if len(idle):
        idle_pen = rng.choice(idle, size=min(len(idle), max(1, len(idle) // 50)), replace=False)
        pen("unit", units["unit_id"].to_numpy()[idle_pen], ("2022-01-01", "2024-06-30"), None, 0.0)
    past = rng.choice(
        applicant_units,
        size=min(len(applicant_units), max(1, len(applicant_units) // 80)),
        replace=False,
    )
    pen(
        "unit",
        units["unit_id"].to_numpy()[past],
        ("2018-01-01", "2020-06-30"),
        ("2021-01-01", "2022-12-31"),
        0.0,
    )
    credit_penalties = pd.concat(pen_parts, ignore_index=True)
    return credit_penalties


def make_person_relations(
    rng: np.random.Generator,
    n: int,
    *,
    expert_person: np.ndarray,
    expert_prog: np.ndarray,
    team_person: np.ndarray,
    team_prog: np.ndarray,
    person_ids: np.ndarray,
) -> pd.DataFrame:
    """n distinct person relations, mostly between experts and proposal team members.

    Mix: expert–team coauthor/coapplicant 55 %, expert–team advisor_of 10 %, expert–team
    relative_of 3 %, expert–expert 17 %, team–team 15 %. Years: coauthor/coapplicant
    2016–2023, advisor_of 2000–2020, relative_of empty.
    """
    cols = list(FORMATS["person_relations"])
    if n == 0:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols}).astype({"year": "Int64"})
    n_prog = int(max(expert_prog.max(initial=0), team_prog.max(initial=0))) + 1
    order = np.argsort(expert_prog, kind="stable")
    s_exp, s_prog = expert_person[order], expert_prog[order]
    starts = np.searchsorted(s_prog, np.arange(n_prog), side="left")
    ends = np.searchsorted(s_prog, np.arange(n_prog), side="right")

    def expert_in(progs: np.ndarray, same_share: float) -> np.ndarray:
        size = ends[progs] - starts[progs]
        same = (rng.random(len(progs)) < same_share) & (size > 0)
        pos = starts[progs] + (rng.random(len(progs)) * np.maximum(size, 1)).astype(np.int64)
        anyone = rng.integers(0, len(s_exp), len(progs))
        return np.where(same, s_exp[np.minimum(pos, len(s_exp) - 1)], s_exp[anyone])

    got_a: list[np.ndarray] = []
    got_b: list[np.ndarray] = []
    got_k: list[np.ndarray] = []
    have = 0
    seen = pd.DataFrame({"lo": [], "hi": [], "kind": []})
    for _ in range(10):
        m = int((n - have) * 1.15) + 16
        cat = rng.choice(5, size=m, p=[0.55, 0.10, 0.03, 0.17, 0.15])
        ti = rng.integers(0, len(team_person), m)
        t, tp = team_person[ti], team_prog[ti]
        e_t = expert_in(tp, 0.8)
        ea = expert_person[rng.integers(0, len(expert_person), m)]
        e_e = expert_in(expert_prog[np.searchsorted(expert_person, ea)], 0.85)
        t2 = team_person[rng.integers(0, len(team_person), m)]
        a = np.where(cat <= 2, e_t, np.where(cat == 3, ea, t))
        b = np.where(cat <= 2, t, np.where(cat == 3, e_e, t2))
        co = np.where(rng.random(m) < 0.6, "coauthor", "coapplicant").astype(object)
        kind = np.where(cat == 1, "advisor_of", np.where(cat == 2, "relative_of", co)).astype(
            object
        )
        flip = (cat == 1) & (rng.random(m) < 0.25)
        a, b = np.where(flip, b, a), np.where(flip, a, b)
        keep = a != b
        a, b, kind = a[keep], b[keep], kind[keep]
        got_a.append(a)
        got_b.append(b)
        got_k.append(kind)
        A = np.concatenate(got_a)
        B = np.concatenate(got_b)
        K = np.concatenate(got_k)
        seen = pd.DataFrame({"lo": np.minimum(A, B), "hi": np.maximum(A, B), "kind": K})
        first = ~seen.duplicated().to_numpy()
        have = int(first.sum())
        if have >= n:
            break
    first_idx = np.flatnonzero(~seen.duplicated().to_numpy())[:n]
    A, B, K = A[first_idx], B[first_idx], K[first_idx]
    k = len(A)
    year = np.where(
        K == "advisor_of", rng.integers(2000, 2021, k), rng.integers(2016, 2024, k)
    ).astype(np.int64)
    year_arr = pd.array(year, dtype="Int64")
    year_arr[K == "relative_of"] = pd.NA
    return pd.DataFrame(
        {"person_id": person_ids[A], "other_person_id": person_ids[B], "kind": K, "year": year_arr}
    )


_RATING_BATCHES = (("2021", "2021-11-19"), ("2022", "2022-11-18"), ("2023", "2023-11-24"))


def make_ratings(rng: np.random.Generator, expert_ids: np.ndarray) -> pd.DataFrame:
    """Ratings of about 45 % of the experts over the 2021–2023 batches (2 or 3 each); a few
    (1 %, at least 2) rated poor in both of their two most recent batches, nobody else."""
    E = len(expert_ids)
    idx = np.flatnonzero(rng.random(E) < 0.45)
    m = len(idx)
    r = rng.choice(
        np.array(["good", "fair", "poor"], dtype=object), size=(m, 3), p=[0.7, 0.25, 0.05]
    )
    both = (r[:, 1] == "poor") & (r[:, 2] == "poor")
    r[both, 2] = "fair"
    bad = rng.choice(m, size=min(m, max(2, E // 100)), replace=False)
    r[bad, 1] = "poor"
    r[bad, 2] = "poor"
    include = np.ones((m, 3), dtype=bool)
    include[:, 0] = rng.random(m) < 0.5
    rows, cols = np.nonzero(include)
    return pd.DataFrame(
        {
            "expert_id": expert_ids[idx[rows]],
            "batch_id": np.array([b for b, _ in _RATING_BATCHES], dtype=object)[cols],
            "rating": r[rows, cols],
            "rated_on": np.array([d for _, d in _RATING_BATCHES], dtype=object)[cols],
        }
    )
