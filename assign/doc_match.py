"""Per-document matching: a proposal against each of an expert's documents, then a smooth max.

An expert's documents are their publications (representative works) and, as one more
document, their keywords and profile. A proposal scores ``s_d``, the cosine of TF-IDF vectors,
against each document ``d`` and the expert's text score is the recency-weighted smooth max::

    text = m + tau * log( sum_d w_d * exp((s_d - m) / tau) / sum_d w_d ),   m = max_d s_d

It lies between the weighted mean and the maximum: one close publication carries the score
(the expert's closest work is not drowned by the rest, as it is in one concatenated profile),
yet several close ones count for more than one. ``w_d = 0.5 ** (age / half_life)`` with the
publication's age in years (1 for the profile and for works without a year).

Discipline codes are a separate signal that can only raise the score, never lower it::

    score = 1 - (1 - text) * (1 - code_weight * codes)

so an expert or proposal without codes is judged on text alone.

:func:`block_candidates` is the one pure function that scores a block of proposals: a
shortlist of each proposal's best experts by their pooled profile (the largest weight of each
term over their documents: with nothing pruned, a bound on every document's cosine), then
every shortlisted pair scored document by document. Its working set is (R, E) for the bound
and the shortlist's pairs for the exact scores; pair indices are int64.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

__all__ = ["ExpertDocs", "block_candidates", "combine", "pool_max", "smooth_max"]


@dataclass(frozen=True, eq=False)
class ExpertDocs:
    """The experts' documents as plain arrays.

    docs: (D, V) csr float32 unit rows, grouped by expert: expert e owns rows
    ``doc_ptr[e]:doc_ptr[e + 1]``; doc_ptr: (E + 1,) int64; weight: (D,) float64 recency
    weight of each document; pooled_t: (V, E) csr float32, column e the elementwise maximum of
    expert e's documents, its heaviest terms (zero for an expert without documents); tau:
    smooth-max temperature; vectors: (D, d) float32 unit sentence embeddings of the documents,
    or None (then the text score is lexical alone).
    """

    docs: sp.csr_matrix
    doc_ptr: np.ndarray
    weight: np.ndarray
    pooled_t: sp.csr_matrix
    tau: float
    vectors: np.ndarray | None = None

    @property
    def n_experts(self) -> int:
        return int(self.doc_ptr.size - 1)


def pool_max(docs: sp.csr_matrix, doc_ptr: np.ndarray) -> sp.csr_matrix:
    """(E, V) csr float32: row e the elementwise maximum of rows doc_ptr[e]:doc_ptr[e+1]."""
    n_e = doc_ptr.size - 1
    lens = np.diff(doc_ptr)
    out = sp.csr_matrix((n_e, docs.shape[1]), dtype=np.float32)
    for j in range(int(lens.max(initial=0))):  # the j-th document of every expert that has one
        has = np.flatnonzero(lens > j)
        sel = sp.csr_matrix(
            (np.ones(has.size, np.float32), (has, doc_ptr[has] + j)), shape=(n_e, docs.shape[0])
        )
        out = out.maximum(sel @ docs)
    return out.tocsr()


def smooth_max(s: np.ndarray, w: np.ndarray, seg: np.ndarray, tau: float) -> np.ndarray:
    """Recency-weighted smooth max of each segment of ``s`` (segments start at ``seg``,
    non-empty, ascending): (len(seg),) float64."""
    s = s.astype(np.float64)
    m = np.maximum.reduceat(s, seg)
    lens = np.diff(np.r_[seg, s.size])
    num = np.add.reduceat(w * np.exp((s - np.repeat(m, lens)) / tau), seg)
    den = np.add.reduceat(w, seg)
    return m + tau * np.log(num / den)


def combine(text: np.ndarray, codes: np.ndarray | None, code_weight: float) -> np.ndarray:
    """score = 1 - (1 - text) (1 - code_weight * codes), clipped to [0, 1]; float32."""
    text = np.clip(text, 0.0, 1.0).astype(np.float32)
    if codes is None or code_weight == 0.0:
        return text
    return np.float32(1.0) - (np.float32(1.0) - text) * (
        np.float32(1.0) - np.float32(code_weight) * codes.astype(np.float32)
    )


def exact_text(
    q: sp.csr_matrix,
    experts: ExpertDocs,
    r: np.ndarray,
    e: np.ndarray,
    q_vectors: np.ndarray | None = None,
) -> np.ndarray:
    """(C,) float64 text score of pairs (row r[i] of ``q``, expert e[i]); 0 for an expert
    without documents. With embeddings (``q_vectors`` (R, d) and ``experts.vectors``), the
    mean of the lexical smooth max and the smooth max of the embeddings' cosines (clipped to
    [0, 1])."""
    out = np.zeros(r.size, dtype=np.float64)
    if r.size == 0:
        return out
    lens = np.diff(experts.doc_ptr)[e]
    has = lens > 0
    if not has.any():
        return out
    r, e, lens = r[has], e[has], lens[has]
    uniq_e, inv = np.unique(e, return_inverse=True)
    # the documents of the experts met, as columns of one product
    e_len = np.diff(experts.doc_ptr)[uniq_e]
    e_start = np.cumsum(e_len) - e_len
    doc_rows = np.repeat(experts.doc_ptr[uniq_e] - e_start, e_len) + np.arange(int(e_len.sum()))
    uniq_r, r_inv = np.unique(r, return_inverse=True)
    sims = (q[uniq_r] @ experts.docs[doc_rows].T).toarray()  # (R', docs met)
    total = int(lens.sum())
    pair = np.repeat(np.arange(r.size), lens)
    col = np.repeat(e_start[inv], lens) + (
        np.arange(total) - np.repeat(np.cumsum(lens) - lens, lens)
    )
    s = sims[r_inv[pair], col]
    seg = np.cumsum(lens) - lens
    w = experts.weight[doc_rows[col]]
    out[has] = smooth_max(s, w, seg, experts.tau)
    if q_vectors is not None and experts.vectors is not None:
        qv = q_vectors[r[pair]]
        dv = experts.vectors[doc_rows[col]]
        cos = np.clip(np.einsum("ij,ij->i", qv, dv), 0.0, 1.0)
        out[has] = 0.5 * (out[has] + smooth_max(cos, w, seg, experts.tau))
    return out


def block_candidates(
    q: sp.csr_matrix,
    q_bound: sp.csr_matrix,
    experts: ExpertDocs,
    *,
    codes: np.ndarray | None,
    code_weight: float,
    shortlist: int,
    q_vectors: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each proposal's ``shortlist`` best experts by the pooled profile, scored exactly.

    q: (R, V) csr float32 unit rows, the block's proposals; q_bound: the same rows (or their
    heaviest terms) to rank experts for the shortlist; q_vectors: (R, d) their sentence
    embeddings when the experts' documents have some; codes: (R, E) float32 code score
    of the block (None: no codes). Returns (local row int64, expert int64, score float32),
    every expert of a row when E <= shortlist. Ties in the bound go to the lower expert index.
    """
    n_rows, n_e = q.shape[0], experts.n_experts
    if n_rows == 0 or n_e == 0:
        empty = np.zeros(0, np.int64)
        return empty, empty.copy(), np.zeros(0, np.float32)
    if n_e <= shortlist:
        r = np.repeat(np.arange(n_rows, dtype=np.int64), n_e)
        e = np.tile(np.arange(n_e, dtype=np.int64), n_rows)
    else:
        bound = (q_bound @ experts.pooled_t).toarray()
        if codes is not None and code_weight:
            # 1 - (1 - t)(1 - c w) = t + c w (1 - t), in place
            lift = np.float32(1.0) - bound
            lift *= codes
            lift *= np.float32(code_weight)
            bound += lift
        r, e = top_of_rows(bound, shortlist)
    text = exact_text(q, experts, r, e, q_vectors)
    code = None if codes is None else codes[r, e]
    return r, e, combine(text, code, code_weight)


def top_of_rows(block: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(row, column) int64 of each row's ``n`` largest entries (ties to the lower column),
    sorted by (row, column).

    The n-th largest of a row's column-group maxima (>= 2n strided groups) is a threshold at
    least n entries reach, so only the entries at or above it are ranked."""
    rows, width = block.shape
    chunk = max(1, width // (4 * n))
    n_full = width // chunk
    maxima = block[:, : n_full * chunk].reshape(rows, chunk, n_full).max(axis=1)
    if n_full * chunk < width:
        tail = block[:, n_full * chunk :].max(axis=1, keepdims=True)
        maxima = np.concatenate([maxima, tail], axis=1)
    thresh = np.partition(maxima, maxima.shape[1] - n, axis=1)[:, maxima.shape[1] - n]
    flat = np.flatnonzero(block >= thresh[:, None])  # by (row, column)
    r, c = np.divmod(flat, width)
    by_value = np.lexsort((-block.ravel()[flat], r))  # stable: ties keep the lower column
    rank = np.arange(r.size) - np.searchsorted(r, np.arange(rows))[r[by_value]]
    keep = np.zeros(r.size, dtype=bool)
    keep[by_value[rank < n]] = True
    return r[keep].astype(np.int64), c[keep].astype(np.int64)
