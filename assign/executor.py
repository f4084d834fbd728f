"""Where the embarrassingly parallel stages run: threads of this process, or a Dask cluster.

A stage hands an executor a pure, module-level function ``fn(shared, item)``, one read-only
object ``shared`` (e.g. the affinity model with the masks: large, sent once) and a list of
small ``items`` (row ranges, groups of experts); ``map`` yields ``fn(shared, item)`` for each
item, in order. Nothing else is shared, so the same stage runs unchanged on:

- :class:`LocalExecutor`: ``workers`` threads of this process (NumPy and SciPy's sparse
  products release the GIL), or the calling thread when ``workers`` is 1;
- :class:`DaskExecutor`: the worker processes of a Dask ``distributed`` cluster (the optional
  extra ``reviewopt[distributed]``); ``shared`` is scattered to every worker once and the
  items are sent as tasks.

Dask rather than Ray: the stages are plain functions over NumPy and SciPy objects that pickle,
which is what ``distributed`` is built around (``Client.scatter``, ``Client.map``); it installs
from PyPI as pure Python with a small footprint, runs a scheduler and workers as ordinary
processes, and a ``LocalCluster`` of a few worker processes starts in seconds, where Ray brings
its own runtime and an object store that reserves a share of the machine's memory.

:func:`configured_executor` picks the engine: the Dask scheduler named by the
``REVIEWOPT_DASK_SCHEDULER`` environment variable (e.g. ``tcp://10.0.0.5:8786``) when set,
else local threads. The global min-cost flow always stays in the calling process.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Any, Protocol, TypeVar

from models.i18n import _

S = TypeVar("S")
T = TypeVar("T")
R = TypeVar("R")

SCHEDULER_ENV = "REVIEWOPT_DASK_SCHEDULER"


class ExecutorError(RuntimeError):
    """The configured distributed engine cannot be used."""


class Executor(Protocol):
    """Maps a pure function over items, with one shared read-only object."""

    @property
    def workers(self) -> int:
        """How many items run at once (for sizing the items)."""
        ...

    def map(self, fn: Callable[[S, T], R], shared: S, items: Sequence[T]) -> Iterator[R]:
        """``fn(shared, item)`` for each item, yielded in the items' order."""
        ...


class LocalExecutor:
    """``workers`` threads of this process (1: the calling thread, no pool)."""

    def __init__(self, workers: int = 2) -> None:
        self._workers = max(1, int(workers))

    @property
    def workers(self) -> int:
        return self._workers

    def map(self, fn: Callable[[S, T], R], shared: S, items: Sequence[T]) -> Iterator[R]:
        if self._workers == 1 or len(items) <= 1:
            for item in items:
                yield fn(shared, item)
            return
        with ThreadPoolExecutor(max_workers=min(self._workers, len(items))) as pool:
            # at most 2 x workers items in flight, so results are consumed as they come
            window = 2 * self._workers
            pending = [pool.submit(fn, shared, item) for item in items[:window]]
            for i in range(len(items)):
                out = pending[i].result()
                pending[i] = None  # type: ignore[call-overload]
                if i + window < len(items):
                    pending.append(pool.submit(fn, shared, items[i + window]))
                yield out


class DaskExecutor:
    """The worker processes of a Dask ``distributed`` cluster, through a ``Client``."""

    def __init__(self, client: Any) -> None:
        self.client = client

    @property
    def workers(self) -> int:
        return max(1, len(self.client.scheduler_info(n_workers=-1)["workers"]))

    def map(self, fn: Callable[[S, T], R], shared: S, items: Sequence[T]) -> Iterator[R]:
        if not items:
            return
        handle = self.client.scatter(shared, broadcast=True, hash=False)
        futures = self.client.map(fn, [handle] * len(items), list(items), pure=False)
        try:
            for fut in futures:
                out = fut.result()
                fut.release()
                yield out
        finally:
            self.client.cancel(futures)
            handle.release()


@cache
def _client(address: str) -> Any:
    try:
        from distributed import Client
    except ImportError:
        raise ExecutorError(
            _(
                "{env} is set to {address} but Dask distributed is not installed; install "
                "reviewopt[distributed] or unset the variable",
                env=SCHEDULER_ENV,
                address=address,
            )
        ) from None
    try:
        return Client(address, timeout="10s")
    except OSError as err:
        raise ExecutorError(
            _(
                "No Dask scheduler answers at {address} ({env}): {error}; start one or unset "
                "the variable",
                address=address,
                env=SCHEDULER_ENV,
                error=str(err),
            )
        ) from None


def configured_executor(workers: int = 2) -> Executor:
    """The Dask cluster named by ``REVIEWOPT_DASK_SCHEDULER`` when set, else ``workers``
    local threads."""
    address = os.environ.get(SCHEDULER_ENV, "").strip()
    if address:
        return DaskExecutor(_client(address))
    return LocalExecutor(workers)
