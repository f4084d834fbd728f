"""The whole (P, E) affinity matrix, read in row blocks: masks, each row's best pairs, a bound.

Pricing pruned pairs needs every pair of the matrix, but never the matrix at once. A
:class:`MaskedMatrix` gives the rows of a source (anything with ``dense_block(rows)`` returning
an (R, E) float32 block: an ``AffinityModel``; or a :class:`SparseScores`, whose missing pairs
are not candidates) in a problem's index order, with the ineligible pairs masked: below the
floor (or NaN), conflicted, or already known. :func:`row_top` keeps each row's best entries of a
block and the next value (``resid``), an exact bound on every entry not kept.

:func:`best_outside` is the one pass's kernel, a pure function of a block of rows: for a sparse
source it reads the stored pairs only, so a pass costs O(stored pairs), not O(P x E).

Pair keys are ``assign.problem.pair_key`` (int64): P x E passes 2^31 at national scale.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import scipy.sparse as sp

from assign.pricing import is_member
from assign.problem import pair_key, split_key

BLOCK_ENTRIES = 1 << 22
"""Matrix entries per row block (16 MB of float32): the working set of a block's kernel."""


class MatrixSource(Protocol):
    """A (P, E) affinity matrix that can be read by row blocks."""

    @property
    def proposal_ids(self) -> tuple[str, ...]: ...

    @property
    def expert_ids(self) -> tuple[str, ...]: ...

    def dense_block(self, rows: slice | np.ndarray) -> np.ndarray:
        """(R, E) float32 affinity of the proposal rows ``rows``."""
        ...


@dataclass(frozen=True, eq=False)
class SparseScores:
    """Affinity given for some pairs only: (P, E) csr float32; pairs not stored are not
    candidates (NaN in a dense block)."""

    proposal_ids: tuple[str, ...]
    expert_ids: tuple[str, ...]
    matrix: sp.csr_matrix

    @classmethod
    def from_pairs(
        cls,
        proposal_ids: Sequence[str],
        expert_ids: Sequence[str],
        p: np.ndarray,
        e: np.ndarray,
        w: np.ndarray,
    ) -> SparseScores:
        """From (C,) unique pairs ``p``, ``e`` with affinity ``w``."""
        shape = (len(proposal_ids), len(expert_ids))
        m = sp.csr_matrix((np.asarray(w, np.float32), (p, e)), shape=shape)
        m.sort_indices()
        return cls(tuple(proposal_ids), tuple(expert_ids), m)

    def sparse_block(self, rows: slice | np.ndarray) -> sp.csr_matrix:
        """(R, E) csr float32 of the proposal rows ``rows``: the stored pairs only."""
        return self.matrix[rows]

    def dense_block(self, rows: slice | np.ndarray) -> np.ndarray:
        blk = self.sparse_block(rows).tocoo()
        out = np.full(blk.shape, np.nan, dtype=np.float32)
        out[blk.row, blk.col] = blk.data
        return out


def float32_floor(floor: float) -> np.float32:
    """The least float32 ``f`` with ``f >= floor``: for float32 ``v``, ``v >= f`` exactly when
    ``float(v) >= floor``."""
    f = np.float32(floor)
    if float(f) < floor:
        f = np.nextafter(f, np.float32(np.inf))
    return f


@dataclass(frozen=True, eq=False)
class MaskedMatrix:
    """A source's matrix in a problem's index order, with ineligible pairs masked."""

    source: MatrixSource
    rows: np.ndarray  # (P,) source row of each problem proposal
    cols: np.ndarray | None  # (E,) source column of each problem expert; None: same order
    n_e: int
    floor32: np.float32
    conf_key: np.ndarray  # sorted pair_key(p, e, n_e) of the conflicted pairs

    def raw(self, prow: np.ndarray) -> np.ndarray:
        """(R, E) float32 affinity of the proposals ``prow`` (ascending problem indices)."""
        rr = self.rows[prow]
        if rr.size and rr[-1] - rr[0] == rr.size - 1 and np.all(np.diff(rr) == 1):
            blk = self.source.dense_block(slice(int(rr[0]), int(rr[-1]) + 1))
        else:
            blk = self.source.dense_block(rr)
        if self.cols is not None:
            blk = np.take(blk, self.cols, axis=1)
        blk = np.asarray(blk, dtype=np.float32)
        if blk.shape != (prow.size, self.n_e):
            raise ValueError(
                f"the affinity source gave a block of shape {blk.shape} for {prow.size} "
                f"proposals, expected ({prow.size}, {self.n_e})"
            )
        return blk

    def _hits(self, prow: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(local row, column) of the sorted ``keys`` that fall in the rows ``prow``."""
        lo, hi = pair_key(prow[[0, -1]], [0, self.n_e], self.n_e)
        a, b = np.searchsorted(keys, [lo, hi])
        pp, ee = split_key(keys[a:b], self.n_e)
        inside = is_member(pp, prow)
        return np.searchsorted(prow, pp[inside]), ee[inside]

    def mask(self, prow: np.ndarray, blk: np.ndarray, known: np.ndarray) -> None:
        """Set to -inf, in place, the entries of ``blk`` (rows ``prow``) that are below the floor
        (or NaN), conflicted, or in ``known`` (sorted pair keys)."""
        prow = np.asarray(prow, dtype=np.int64)
        blk[~(blk >= self.floor32)] = -np.inf
        if prow.size == 0:
            return
        for keys in (self.conf_key, known):
            r, c = self._hits(prow, keys)
            blk[r, c] = -np.inf

    def entries(
        self, prow: np.ndarray, known: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """(local row, column, value) of the eligible entries of rows ``prow`` outside
        ``known``, read from the stored pairs of a sparse source; None for a dense source."""
        if not hasattr(self.source, "sparse_block") or self.cols is not None:
            return None
        prow = np.asarray(prow, dtype=np.int64)
        blk = self.source.sparse_block(self.rows[prow]).tocoo()
        r, c, v = blk.row.astype(np.int64), blk.col.astype(np.int64), blk.data
        ok = v >= self.floor32
        key = pair_key(prow[r], c, self.n_e)
        ok &= ~is_member(key, self.conf_key) & ~is_member(key, known)
        return r[ok], c[ok], v[ok].astype(np.float32)


def row_top(
    blk: np.ndarray, t: int, lo: np.ndarray | np.floating
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each row's ``t`` largest entries >= ``lo`` (a scalar or (R,) per row) of ``blk`` (R, E):
    (local rows, columns, values), each row's in descending order, and (R,) ``resid``, the
    (t+1)-th largest such value (-inf when the row has no more), which bounds every entry >= lo
    not returned.

    The (t+1)-th largest of the column-chunk maxima (>= 2(t+1) chunks) is a threshold at least
    t+1 entries reach, so only the entries at or above it are sorted."""
    n_rows, width = blk.shape
    need = t + 1
    thr = np.empty(n_rows, dtype=blk.dtype)
    thr[:] = lo
    if need < width:
        chunk = max(1, width // (4 * need))
        n_full = width // chunk
        maxima = blk[:, : n_full * chunk].reshape(n_rows, n_full, chunk).max(axis=2)
        if n_full * chunk < width:
            tail = blk[:, n_full * chunk :].max(axis=1, keepdims=True)
            maxima = np.concatenate([maxima, tail], axis=1)
        if maxima.shape[1] >= need:
            kth = np.partition(maxima, maxima.shape[1] - need, axis=1)[:, maxima.shape[1] - need]
            np.maximum(thr, kth, out=thr)
    flat = np.flatnonzero(blk >= thr[:, None])
    r, c = np.divmod(flat, width)
    return _ranked(r, c, blk.ravel()[flat], n_rows, t, blk.dtype)


def _ranked(
    r: np.ndarray, c: np.ndarray, v: np.ndarray, n_rows: int, t: int, dtype: np.dtype
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Of the entries (r, c, v), each row's ``t`` largest and the next value (see row_top)."""
    order = np.lexsort((-v, r))
    r, c, v = r[order], c[order], v[order]
    rank = np.arange(r.size) - np.searchsorted(r, np.arange(n_rows))[r]
    resid = np.full(n_rows, -np.inf, dtype=dtype)
    at = rank == t
    resid[r[at]] = v[at]
    top = rank < t
    return r[top].astype(np.int64), c[top].astype(np.int64), v[top], resid


def best_outside(
    matrix: MaskedMatrix, prow: np.ndarray, t: int, known: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The ``t`` best eligible pairs of each row of ``prow`` outside ``known`` (sorted pair
    keys) and the rows' ``resid``, as :func:`row_top` gives them (local rows)."""
    got = matrix.entries(prow, known)
    if got is not None:
        return _ranked(*got, prow.size, t, np.dtype(np.float32))
    blk = matrix.raw(prow)
    matrix.mask(prow, blk, known)
    return row_top(blk, t, matrix.floor32)


def row_blocks(rows: np.ndarray, n_e: int, per_item: int) -> list[np.ndarray]:
    """``rows`` cut into items of about ``per_item`` row blocks of ``BLOCK_ENTRIES`` entries."""
    step = max(1, (BLOCK_ENTRIES // max(n_e, 1)) * per_item)
    return [rows[a : a + step] for a in range(0, rows.size, step)]
