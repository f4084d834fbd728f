"""Conflicted pairs as index arrays, found group of experts by group on an executor.

An assignment needs only which (proposal, expert) pairs are conflicted, as indices; the reason
chains of :mod:`assign.conflicts` are for people and the database. At national scale they are
many (a batch of 100,000 proposals holds millions, most of them experts who apply in the same
guide direction), so :func:`conflict_index` runs the bulk pass of :mod:`assign.conflicts` per
group of experts (sorted by unit, so that a group touches few units) and keeps only each
group's pair keys: memory holds one group's chains per worker and 8 bytes per conflicted pair,
not every chain. The groups are independent: they run on an ``assign.executor`` (threads here,
or the worker processes of a Dask cluster). The pairs are exactly those of
:func:`assign.conflicts.find_conflicts` over all experts (tested).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from assign.conflict_policy import ConflictPolicy, load_policy
from assign.conflicts import conflict_chains
from assign.executor import Executor, configured_executor
from assign.flow import unique_sorted
from assign.graph import normalise, table
from assign.problem import pair_key, split_key
from assign.text_index import TextIndex

GROUP_EXPERTS = 20_000
"""Experts per group: the chains of one group are in memory at a time (per worker)."""


@dataclass(frozen=True, eq=False)
class _Job:
    tables: Mapping[str, pd.DataFrame]  # normalised
    batch_date: date
    policy: ConflictPolicy
    text: TextIndex | None
    proposals: pd.Index
    experts: pd.Index


def _group_keys(job: _Job, group: Sequence[str]) -> np.ndarray:
    """Sorted pair keys of the conflicted pairs of the experts ``group``."""
    chains = conflict_chains(
        job.tables, batch_date=job.batch_date, policy=job.policy, experts=group, text=job.text
    )
    p = job.proposals.get_indexer(chains["proposal_id"])
    e = job.experts.get_indexer(chains["expert_id"])
    ok = (p >= 0) & (e >= 0)
    return unique_sorted(pair_key(p[ok], e[ok], len(job.experts)))[0]


def expert_groups(
    tables: Mapping[str, pd.DataFrame], expert_ids: Sequence[str], size: int
) -> list[list[str]]:
    """``expert_ids`` sorted by their person's unit and cut into groups of ``size``."""
    people = table(tables, "people").dropna(subset=["person_id"]).drop_duplicates("person_id")
    unit = people.set_index("person_id")["unit_id"].reindex(pd.Index(list(expert_ids)))
    order = np.argsort(unit.fillna("").to_numpy(dtype=str), kind="stable")
    ids = np.asarray(expert_ids, dtype=object)[order]
    return [ids[a : a + size].tolist() for a in range(0, ids.size, max(1, size))]


def conflict_index(
    tables: Mapping[str, pd.DataFrame],
    *,
    proposal_ids: Sequence[str],
    expert_ids: Sequence[str],
    batch_date: date,
    policy: ConflictPolicy | None = None,
    executor: Executor | None = None,
    group_size: int = GROUP_EXPERTS,
) -> tuple[np.ndarray, np.ndarray]:
    """(X,) int64 proposal and expert indices (into ``proposal_ids`` and ``expert_ids``) of the
    conflicted pairs, sorted by proposal then expert."""
    policy = policy or load_policy()
    norm = normalise(tables)
    text = (
        TextIndex.from_proposals(norm["proposals"])
        if "similar_application" in policy.kinds
        else None
    )
    job = _Job(
        norm, batch_date, policy, text, pd.Index(list(proposal_ids)), pd.Index(list(expert_ids))
    )
    groups = expert_groups(norm, expert_ids, group_size)
    ex = executor or configured_executor()
    keys = [k for k in ex.map(_group_keys, job, groups)]
    merged = unique_sorted(np.concatenate(keys) if keys else np.zeros(0, np.int64))[0]
    return split_key(merged, len(expert_ids))
