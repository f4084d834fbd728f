"""TF-IDF vectors from term counts: sublinear tf, smooth idf, unit rows, optionally pruned.

``weigh(counts, n_docs)`` gives the (D, V) csr float32 matrix: ``(1 + log tf) * idf`` with
``idf = 1 + log((1 + D) / (1 + df))``, each row scaled to unit length, so a dot product of two
rows is their cosine. ``keep_top_terms`` keeps each row's heaviest entries and rescales it to
unit length, which bounds the cost of the products that compare rows.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from assign.terms import TermCounts

__all__ = ["l2_rows", "keep_top_terms", "weigh"]


def weigh(counts: TermCounts, n_docs: int, *, bm25_from: int | None = None) -> sp.csr_matrix:
    """(n_docs, V) csr float32 TF-IDF of ``counts`` (columns: ``counts.keys``), unit rows.

    With ``bm25_from``, documents from that row on weigh term frequency as BM25 does
    (``tf (k1 + 1) / (tf + k1 (1 - b + b len / mean len))``, k1 = 1.2, b = 0.75, lengths
    among those documents) instead of ``1 + log tf``."""
    n_terms = counts.keys.size
    df = np.bincount(counts.term, minlength=n_terms)
    idf = (np.log((1.0 + n_docs) / (1.0 + df)) + 1.0).astype(np.float32)
    tf = counts.count.astype(np.float32)
    val = np.float32(1.0) + np.log(tf)
    if bm25_from is not None:
        k1, b = np.float32(1.2), np.float32(0.75)
        length = np.bincount(counts.doc, weights=tf, minlength=n_docs)
        mean_len = length[bm25_from:].mean() if n_docs > bm25_from else 1.0
        at = counts.doc >= bm25_from
        norm = (1 - b + b * length[counts.doc[at]] / max(mean_len, 1e-9)).astype(np.float32)
        val[at] = tf[at] * (k1 + 1) / (tf[at] + k1 * norm)
    val *= idf[counts.term]
    # one entry per (document, term), documents ascending: the CSR arrays directly
    indptr = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(np.bincount(counts.doc, minlength=n_docs), out=indptr[1:])
    x = sp.csr_matrix((val, counts.term.astype(np.int32), indptr), shape=(n_docs, n_terms))
    return l2_rows(x)


def l2_rows(m: sp.csr_matrix) -> sp.csr_matrix:
    """``m`` (csr) as float32 with each non-empty row scaled to unit length."""
    m = m.tocsr().astype(np.float32, copy=True)
    row_len = np.diff(m.indptr)
    filled = np.flatnonzero(row_len)
    sq = np.zeros(m.shape[0], dtype=np.float64)
    if filled.size:
        sq[filled] = np.add.reduceat(np.square(m.data, dtype=np.float64), m.indptr[filled])
    norm = np.sqrt(sq)
    norm[norm == 0] = 1.0
    m.data *= np.repeat((1.0 / norm).astype(np.float32), row_len)
    return m


def keep_top_terms(m: sp.csr_matrix, max_terms: int | None, *, unit: bool = True) -> sp.csr_matrix:
    """Each row's ``max_terms`` largest entries (ties with the last one kept too), rescaled to
    unit rows unless ``unit`` is False. ``None`` keeps every entry."""
    m = m.tocsr()
    counts = np.diff(m.indptr)
    if max_terms is None or counts.size == 0 or counts.max() <= max_terms:
        return m
    keep = np.ones(m.nnz, dtype=bool)
    long_rows = np.flatnonzero(counts > max_terms)
    step = max(1, (1 << 24) // int(counts.max()))
    for a in range(0, long_rows.size, step):  # padded blocks of the long rows
        rows = long_rows[a : a + step]
        lens = counts[rows]
        width = int(lens.max())
        at = np.repeat(m.indptr[rows] - np.cumsum(lens) + lens, lens) + np.arange(lens.sum())
        local = np.repeat(np.arange(rows.size), lens)
        pos = at - m.indptr[rows][local]
        pad = np.full((rows.size, width), -np.inf, dtype=np.float32)
        pad[local, pos] = m.data[at]
        kth = np.partition(pad, width - max_terms, axis=1)[:, width - max_terms]
        keep[at] = m.data[at] >= kth[local]
    indptr = np.zeros(m.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.add.reduceat(keep, m.indptr[:-1]) * (counts > 0), out=indptr[1:])
    out = sp.csr_matrix((m.data[keep], m.indices[keep], indptr), shape=m.shape)
    return l2_rows(out) if unit else out
