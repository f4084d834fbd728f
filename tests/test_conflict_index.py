"""Conflicted pairs found group of experts by group are exactly those of the whole pass."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from assign.conflict_index import conflict_index, expert_groups
from assign.conflicts import find_conflicts
from assign.executor import LocalExecutor
from assign.problem import pair_key
from data.build_guide import load_guide
from data.generate import generate_batch


@pytest.fixture(scope="module")
def batch() -> tuple[dict, date]:
    tables = generate_batch(load_guide(), n_experts=300, n_proposals=200, seed=11)
    return tables, date.fromisoformat(str(tables["batches"]["batch_date"].iloc[0]))


@pytest.mark.parametrize(("group_size", "workers"), [(7, 2), (40, 1), (10_000, 2)])
def test_groups_give_the_pairs_of_the_whole_pass(
    batch: tuple[dict, date], group_size: int, workers: int
) -> None:
    tables, day = batch
    pids = tables["proposals"]["proposal_id"].tolist()[::-1]  # any order
    eids = tables["experts"]["expert_id"].tolist()
    whole = find_conflicts(tables, batch_date=day)
    p_at, e_at = {p: i for i, p in enumerate(pids)}, {e: i for i, e in enumerate(eids)}
    want = np.unique(
        pair_key(whole["proposal_id"].map(p_at), whole["expert_id"].map(e_at), len(eids))
    )
    cp, ce = conflict_index(
        tables, proposal_ids=pids, expert_ids=eids, batch_date=day,
        executor=LocalExecutor(workers), group_size=group_size,
    )  # fmt: skip
    assert cp.dtype == ce.dtype == np.int64 and len(want) > 100
    np.testing.assert_array_equal(pair_key(cp, ce, len(eids)), want)


def test_groups_keep_each_unit_together_where_they_can(batch: tuple[dict, date]) -> None:
    tables, _ = batch
    eids = tables["experts"]["expert_id"].tolist()
    groups = expert_groups(tables, eids, 25)
    assert sorted(e for g in groups for e in g) == sorted(eids)
    unit = tables["people"].set_index("person_id")["unit_id"]
    split = [u for u in set(unit[eids]) if sum(u in set(unit[g]) for g in groups) > 1]
    assert len(split) <= len(groups)  # only units straddling a cut between groups
