"""Benchmark the bulk conflict pass on a synthetic batch.

    python scripts/bench_conflicts.py --proposals 20000 --experts 30000 --relations 200000 \
        --seed 1 --json

Generates seeded synthetic tables (units with group structure, people, experts, employment
history, proposals with 3-5 joint directions and 6-person teams, ``--relations`` person-person
relations, recusals, guide-direction drafters), then times :func:`assign.conflicts.find_conflicts`
with the default policy. Prints one JSON line (``--json``) or a short summary: wall_s (the
conflict pass only), cpu_s (its process CPU time; on a busy machine wall_s also counts waiting
for a core), gen_s, peak_rss_mb (whole process), conflict_pairs, rows, rows per kind.
"""

from __future__ import annotations

import json
import resource
import time
from datetime import date

import click
import numpy as np
import pandas as pd

from assign.conflict_policy import load_policy
from assign.conflicts import find_conflicts

_SYLLABLES = list(
    "智能装备视觉检测材料氢能储运芯片集成电路生物医药抗体高端制造新能源电池光伏半导体"
)


def _words(rng: np.random.Generator, n: int) -> np.ndarray:
    a = rng.choice(_SYLLABLES, size=(n, 2))
    return np.array(["".join(r) for r in a], dtype=object)


def _some(rng: np.random.Generator, ids: np.ndarray, p: float) -> np.ndarray:
    """``ids`` with each entry kept with probability p, else None."""
    out = ids.astype(object)
    out[rng.random(out.size) >= p] = None
    return out


def synthetic_batch(
    *, proposals: int, experts: int, relations: int, seed: int
) -> dict[str, pd.DataFrame]:
    """Seeded synthetic batch tables (columns as in the batch formats)."""
    rng = np.random.default_rng(seed)
    n_units = max(20, proposals // 2)
    n_applicants = proposals * 4
    n_people = experts + n_applicants
    uid = np.array([f"U{i}" for i in range(n_units)], dtype=object)
    pid = np.array([f"Q{i}" for i in range(n_people)], dtype=object)
    utype = rng.choice(["enterprise", "university", "institute"], size=n_units, p=[0.6, 0.25, 0.15])
    units = pd.DataFrame(
        {
            "unit_id": uid,
            "name": [f"单位{i}" for i in range(n_units)],
            "type": utype,
            "province": "江苏",
            "head_id": _some(rng, pid[rng.integers(0, n_people, n_units)], 0.5),
        }
    )
    # groups: 2 % of units are parents/controllers; 10 % of the others belong to one
    n_par = max(2, n_units // 50)
    kids = np.flatnonzero(rng.random(n_units) < 0.1)
    kids = kids[kids >= n_par]
    par = rng.integers(0, n_par, kids.size)
    n_sh = max(1, n_units // 20)
    unit_relations = pd.DataFrame(
        {
            "unit_id": np.concatenate([uid[par], uid[rng.integers(0, n_units, n_sh)]]),
            "related_unit_id": np.concatenate([uid[kids], uid[rng.integers(0, n_units, n_sh)]]),
            "kind": np.concatenate(
                [
                    rng.choice(["parent_of", "controls"], size=kids.size),
                    np.full(n_sh, "shareholding"),
                ]
            ),
            "share": np.concatenate([np.full(kids.size, np.nan), rng.random(n_sh)]),
        }
    )
    people = pd.DataFrame(
        {
            "person_id": pid,
            "name": [f"人{i}" for i in range(n_people)],
            "unit_id": uid[rng.integers(0, n_units, n_people)],
            "birth_date": "1975-01-01",
            "title": "senior",
        }
    )
    # experts are the first `experts` people; 5 % of the applicants are experts too
    is_expert = np.zeros(n_people, bool)
    is_expert[:experts] = True
    exp = pd.DataFrame({"expert_id": pid[is_expert], "active": True, "level": "A"})
    n_emp = experts // 3
    ends = pd.to_datetime("2019-01-01") + pd.to_timedelta(rng.integers(0, 2200, n_emp), unit="D")
    employment = pd.DataFrame(
        {
            "person_id": pid[rng.integers(0, experts, n_emp)],
            "unit_id": uid[rng.integers(0, n_units, n_emp)],
            "start_date": "2010-01-01",
            "end_date": ends.strftime("%Y-%m-%d"),
        }
    )
    n_dir = max(1, proposals // 40)
    codes = np.array([f"{1000 + i}" for i in range(n_dir)], dtype=object)
    prop_ids = np.array([f"P{i}" for i in range(proposals)], dtype=object)
    lead = rng.integers(0, n_units, proposals)

    def applicant(n: int) -> np.ndarray:
        # applicants: mostly people outside the expert block, 5 % experts
        out = rng.integers(experts, n_people, n)
        swap = rng.random(n) < 0.05
        out[swap] = rng.integers(0, experts, int(swap.sum()))
        return out

    words = _words(rng, 400)
    titles = ["".join(rng.choice(words, 6)) for _ in range(proposals)]
    abstracts = ["".join(rng.choice(words, 30)) for _ in range(proposals)]
    dup = np.flatnonzero(rng.random(proposals) < 0.01)
    for i in dup:  # near-duplicates of another proposal
        j = int(rng.integers(0, proposals))
        titles[i], abstracts[i] = titles[j], abstracts[j] + "".join(rng.choice(words, 2))
    pi = applicant(proposals)
    props = pd.DataFrame(
        {
            "proposal_id": prop_ids,
            "batch_id": "B2024",
            "direction_code": codes[rng.integers(0, n_dir, proposals)],
            "title": titles,
            "lead_unit_id": uid[lead],
            "pi_id": pid[pi],
            "abstract": abstracts,
        }
    )
    n_joint = rng.integers(3, 6, proposals)
    jp = np.repeat(np.arange(proposals), n_joint)
    seq = np.concatenate([np.arange(1, k + 1) for k in n_joint])
    junit = uid[rng.integers(0, n_units, jp.size)]
    junit[seq == 1] = uid[lead]
    jleader = pid[applicant(jp.size)]
    jleader[seq == 1] = pid[pi]
    joint = pd.DataFrame(
        {"proposal_id": prop_ids[jp], "seq": seq, "unit_id": junit, "leader_id": jleader}
    )
    tp = np.repeat(np.arange(proposals), 5)
    team = pd.DataFrame(
        {
            "proposal_id": np.concatenate([prop_ids, prop_ids[tp]]),
            "person_id": np.concatenate([pid[pi], pid[applicant(tp.size)]]),
            "role": np.concatenate(
                [
                    np.full(proposals, "pi"),
                    np.tile(["key", "key", "member", "member", "member"], proposals),
                ]
            ),
        }
    )
    kinds = rng.choice(
        ["coauthor", "coapplicant", "advisor_of", "relative_of"],
        relations,
        p=[0.5, 0.3, 0.15, 0.05],
    )
    years = rng.integers(2014, 2025, relations).astype(float)
    years[kinds == "relative_of"] = np.nan
    person_relations = pd.DataFrame(
        {
            "person_id": pid[rng.integers(0, experts, relations)],
            "other_person_id": pid[rng.integers(0, n_people, relations)],
            "kind": kinds,
            "year": years,
        }
    )
    nr = proposals // 10
    recusals = pd.DataFrame(
        {
            "proposal_id": prop_ids[rng.integers(0, proposals, nr)],
            "person_id": _some(rng, pid[rng.integers(0, experts, nr)], 0.5),
            "unit_id": uid[rng.integers(0, n_units, nr)],
            "reason": "竞争关系",
        }
    )
    direction_experts = pd.DataFrame(
        {
            "person_id": pid[rng.integers(0, experts, 3 * n_dir)],
            "direction_code": np.repeat(codes, 3),
            "role": np.tile(["drafter", "advisor", "advisor"], n_dir),
        }
    )
    return {
        "units": units,
        "unit_relations": unit_relations,
        "people": people,
        "experts": exp,
        "employment": employment,
        "proposals": props,
        "joint_directions": joint,
        "team_members": team,
        "person_relations": person_relations,
        "recusals": recusals,
        "direction_experts": direction_experts,
    }


@click.command()
@click.option("--proposals", type=int, default=1000, show_default=True)
@click.option("--experts", type=int, default=3000, show_default=True)
@click.option("--relations", type=int, default=10000, show_default=True, help="person relations")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="print one JSON line")
def main(proposals: int, experts: int, relations: int, seed: int, as_json: bool) -> None:
    """Time the bulk conflict pass on a synthetic batch."""
    t0 = time.perf_counter()
    tables = synthetic_batch(proposals=proposals, experts=experts, relations=relations, seed=seed)
    gen_s = time.perf_counter() - t0
    policy = load_policy()
    t1, c1 = time.perf_counter(), time.process_time()
    df = find_conflicts(tables, batch_date=date(2024, 8, 5), policy=policy)
    wall, cpu = time.perf_counter() - t1, time.process_time() - c1
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = {
        "proposals": proposals,
        "experts": experts,
        "relations": relations,
        "seed": seed,
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "gen_s": round(gen_s, 3),
        "peak_rss_mb": round(peak, 1),
        "conflict_pairs": int(df[["proposal_id", "expert_id"]].drop_duplicates().shape[0]),
        "rows": len(df),
        "by_kind": {k: int(v) for k, v in df["kind"].value_counts().sort_index().items()},
    }
    if as_json:
        click.echo(json.dumps(out, ensure_ascii=False))
    else:
        for k, v in out.items():
            click.echo(f"{k}: {v}")


if __name__ == "__main__":
    main()
