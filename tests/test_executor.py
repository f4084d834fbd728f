"""The parallel stages on a local Dask cluster of worker processes give the single-process
result; the global flow stays in this process."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import numpy as np
import pytest

from assign import executor
from assign.certify import solve_certified
from assign.conflicts import find_conflicts
from assign.executor import DaskExecutor, LocalExecutor, configured_executor
from assign.pipeline import AssignOptions, build_problem
from data.build_guide import load_guide
from data.generate import generate_batch

distributed = pytest.importorskip(
    "distributed", reason="Dask distributed is not installed (pip install 'reviewopt[distributed]')"
)


@pytest.fixture(scope="module")
def cluster() -> Iterator[DaskExecutor]:
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=":0",
        ) as lc,
        distributed.Client(lc) as client,
    ):
        yield DaskExecutor(client)


def _square(shared: int, item: int) -> int:
    return shared * item * item


def test_map_keeps_the_order_of_the_items(cluster: DaskExecutor) -> None:
    items = list(range(23))
    assert list(cluster.map(_square, 3, items)) == list(LocalExecutor(2).map(_square, 3, items))
    assert cluster.workers == 2


def test_certified_solve_on_the_cluster_equals_the_local_one(cluster: DaskExecutor) -> None:
    tables = generate_batch(load_guide(), n_experts=220, n_proposals=160, seed=3)
    day = date.fromisoformat(str(tables["batches"]["batch_date"].iloc[0]))
    problem, model = build_problem(
        tables,
        proposal_ids=tables["proposals"]["proposal_id"].tolist(),
        expert_ids=tables["experts"]["expert_id"].tolist(),
        conflicts=find_conflicts(tables, batch_date=day),
        options=AssignOptions(k=3, max_load=3, top_n=4, per_expert=1),
    )
    assert model is not None
    local = solve_certified(problem, model, executor=LocalExecutor(1), keep_per_row=2)
    remote = solve_certified(problem, model, executor=cluster, keep_per_row=2)
    assert local.certified and remote.certified and local.pricing_rounds > 1
    assert remote.objective == local.objective
    np.testing.assert_array_equal(remote.pair_p, local.pair_p)
    np.testing.assert_array_equal(remote.pair_e, local.pair_e)


def test_affinity_on_the_cluster_equals_the_local_one(
    cluster: DaskExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assign import affinity
    from assign.affinity import fit_affinity
    from scripts.bench_affinity import synthesise

    monkeypatch.setattr(affinity, "_BLOCK_ENTRIES", 10 * 70)  # blocks of 10 proposals
    proposals, experts, guide = synthesise(40, 70, seed=5)
    local = fit_affinity(proposals, experts, guide, shortlist=20, executor=LocalExecutor(1))
    remote = fit_affinity(proposals, experts, guide, shortlist=20, executor=cluster)
    for got, want in ((remote.pair_ptr, local.pair_ptr), (remote.pair_e, local.pair_e),
                      (remote.pair_w, local.pair_w)):  # fmt: skip
        np.testing.assert_array_equal(got, want)
    assert np.diff(local.pair_ptr).tolist() == [20] * 40


def test_the_scheduler_is_read_from_the_environment(
    cluster: DaskExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    address = cluster.client.scheduler.address
    monkeypatch.setenv("REVIEWOPT_DASK_SCHEDULER", address)
    ex = configured_executor(2)
    try:
        assert isinstance(ex, DaskExecutor) and ex.client.scheduler.address == address
    finally:
        ex.client.close()  # type: ignore[attr-defined]
        executor._client.cache_clear()
    monkeypatch.delenv("REVIEWOPT_DASK_SCHEDULER")
    assert isinstance(configured_executor(2), LocalExecutor)
