"""Reading the matrix in row blocks: masks past 2^31 pairs, sparse and dense agree."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from assign.problem import pair_key
from assign.scan import MaskedMatrix, SparseScores, best_outside, float32_floor

N = 50_000  # 50,000 x 50,000 = 2.5e9 pairs


def _matrix(src: SparseScores, conflicts: np.ndarray, floor: float = 0.0) -> MaskedMatrix:
    n_p, n_e = len(src.proposal_ids), len(src.expert_ids)
    return MaskedMatrix(
        src, np.arange(n_p), None, n_e, float32_floor(floor), np.sort(conflicts.astype(np.int64))
    )


def test_masks_hit_the_right_rows_past_2_31_with_int32_rows() -> None:
    ids = tuple(f"x{i}" for i in range(N))
    p = np.array([49_990, 49_995, 49_995, 49_999])
    e = np.array([5, 123, 49_999, 0])
    src = SparseScores.from_pairs(ids, ids, p, e, np.array([0.5, 0.9, 0.7, 0.3]))
    conflicted = pair_key([49_995], [123], N)  # 2.5e9 - ...: past 2^31
    assert conflicted[0] > 2**31
    m = _matrix(src, conflicted)
    prow = np.arange(49_990, 50_000, dtype=np.int32)  # as SciPy's graph routines give rows
    blk = np.full((prow.size, N), 0.25, dtype=np.float32)
    known = pair_key([49_999], [0], N)
    m.mask(prow, blk, known)
    masked = np.argwhere(np.isneginf(blk))
    assert masked.tolist() == [[5, 123], [9, 0]]
    r, c, v, resid = best_outside(m, prow, 5, known)
    assert list(zip((r + 49_990).tolist(), c.tolist(), strict=True)) == [
        (49_990, 5),
        (49_995, 49_999),
    ]
    assert np.isneginf(resid).all()


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(0, 6), st.sampled_from([0.0, 0.3]))
def test_sparse_reading_equals_the_dense_block(seed: int, t: int, floor: float) -> None:
    rng = np.random.default_rng(seed)
    n_p, n_e = 7, 11
    stored = rng.random((n_p, n_e)) < 0.5
    p, e = np.nonzero(stored)
    w = np.round(rng.random(p.size), 1)
    ids_p, ids_e = tuple(f"p{i}" for i in range(n_p)), tuple(f"e{i}" for i in range(n_e))
    src = SparseScores.from_pairs(ids_p, ids_e, p, e, w)
    conflicts = pair_key(rng.integers(0, n_p, 4), rng.integers(0, n_e, 4), n_e)
    known = np.unique(pair_key(rng.integers(0, n_p, 5), rng.integers(0, n_e, 5), n_e))
    m = _matrix(src, np.unique(conflicts), floor)
    prow = np.arange(n_p, dtype=np.int64)
    sparse = best_outside(m, prow, t, known)

    class Dense:  # the same matrix with no sparse reading: NaN where nothing is stored
        proposal_ids, expert_ids = ids_p, ids_e

        def dense_block(self, rows: slice | np.ndarray) -> np.ndarray:
            return src.dense_block(rows)

    dense = best_outside(_matrix(Dense(), np.unique(conflicts), floor), prow, t, known)  # type: ignore[arg-type]
    np.testing.assert_array_equal(sparse[3], dense[3])  # resid
    for part_s, part_d in zip(sparse[:3], dense[:3], strict=True):
        np.testing.assert_array_equal(np.sort(part_s), np.sort(part_d))
