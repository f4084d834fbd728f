"""Pair keys stay exact past 2^31 pairs whatever the index dtypes (NEP 50)."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from assign.diagnosis import bipartite_cut
from assign.problem import pair_key, split_key

N_E = 75_000  # 50,000 x 75,000 = 3.75e9 pairs


def test_int32_indices_times_a_python_int_would_wrap() -> None:
    """The hazard itself: NumPy keeps int32 * int as int32 (NEP 50) and wraps."""
    p = np.array([49_999], dtype=np.int32)
    with np.errstate(over="ignore"):
        wrapped = p * N_E + np.int32(7)
    assert wrapped.dtype == np.int32 and int(wrapped[0]) != 49_999 * N_E + 7
    assert int(pair_key(p, np.int32(7), N_E)[0]) == 49_999 * N_E + 7


@given(
    st.lists(st.integers(0, 99_999), min_size=1, max_size=30),
    st.lists(st.integers(0, 149_999), min_size=1, max_size=30),
    st.sampled_from([np.int32, np.int64, np.uint32, np.intp]),
)
def test_keys_round_trip_for_every_index_dtype(p: list[int], e: list[int], dtype: type) -> None:
    n = min(len(p), len(e))
    pp: np.ndarray = np.array(p[:n], dtype=dtype)
    ee: np.ndarray = np.array(e[:n], dtype=dtype)
    key = pair_key(pp, ee, 150_000)
    assert key.dtype == np.int64
    assert key.tolist() == [a * 150_000 + b for a, b in zip(p[:n], e[:n], strict=True)]
    back_p, back_e = split_key(key, 150_000)
    assert back_p.tolist() == p[:n] and back_e.tolist() == e[:n]


def test_min_cut_sides_come_back_as_int64() -> None:
    """SciPy's graph routines give int32 node lists; the cut's sides are int64, so keys built
    from them (``rows * n_e``) cannot wrap."""
    k = np.array([2, 2, 1])
    cap = np.array([1, 1])
    deficit, left, right = bipartite_cut(k, cap, np.array([0, 1, 2]), np.array([0, 0, 1]))
    assert deficit > 0 and left.dtype == np.int64 and right.dtype == np.int64
    assert int(pair_key(left[-1:], [0], N_E)[0]) == int(left[-1]) * N_E
