"""Text similarity of proposals (TF-IDF of character 2–3-grams of title and abstract) and an
index that finds near-duplicate pairs by nearest neighbours, never by every pair."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from assign.graph import (
    table,
)

_WHITESPACE_RUNS = re.compile(r"\s\s+")


def char_ngram_tfidf(texts: Sequence[str]) -> sp.csr_matrix:
    """(n, V) l2-normalised TF-IDF of character 2- and 3-grams, vectorised with NumPy.

    The same numbers as scikit-learn's ``TfidfVectorizer(analyzer="char", ngram_range=(2, 3),
    sublinear_tf=True)``: lower-cased, runs of 2+ whitespace collapsed to one space,
    tf = 1 + ln(count), idf = ln((1 + n) / (1 + df)) + 1. Rows without text are zero.
    """
    n = len(texts)
    docs = [_WHITESPACE_RUNS.sub(" ", t.lower()) for t in texts]
    lens = np.fromiter((len(d) for d in docs), dtype=np.int64, count=n)
    total = int(lens.sum())
    if n == 0 or total == 0:
        return sp.csr_matrix((n, 1))
    cps = np.frombuffer("".join(docs).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    cps += np.uint64(1)
    # a position starts an m-gram when at least m characters of its document are left
    ends = np.cumsum(lens)
    after = np.full(total, 2, dtype=np.int8)  # characters after this one in its document, ≤ 2
    after[ends[lens >= 1] - 1] = 0
    after[ends[lens >= 2] - 2] = 1
    ok2 = after[:-1] >= 1  # (total - 1,) starts of 2-grams
    ok3 = after[:-2] >= 2  # (total - 2,) starts of 3-grams
    if not ok2.any():
        return sp.csr_matrix((n, 1))
    # keys from shifted views (in place where possible: these arrays are large)
    k2 = cps[:-1] << np.uint64(21)
    k2 |= cps[1:]
    k3 = cps[:-2] << np.uint64(42)
    k3 |= k2[1:]  # (c1 << 21) | c2 is k2 one position on
    key = np.concatenate([k2[ok2], k3[ok3]])
    del k2, k3, cps
    doc = np.repeat(np.arange(n, dtype=np.int64), lens)  # document of each character
    row = np.concatenate([doc[:-1][ok2], doc[:-2][ok3]])
    del doc
    # hash factorisation, then sort only the (small) vocabulary: the columns come out in the
    # same (sorted n-gram) order as a full sort of the keys would give, at a fraction of the cost
    codes, vocab = pd.factorize(key)
    v = vocab.size
    order = np.argsort(vocab, kind="stable")
    col = np.empty(v, dtype=np.int64)
    col[order] = np.arange(v, dtype=np.int64)
    # (document, n-gram) counts: one integer sort gives the CSR layout directly
    cell = row.astype(np.int64)
    del row
    cell *= v
    cell += col[codes]
    del codes
    cell.sort()
    first = np.ones(cell.size, dtype=bool)
    first[1:] = cell[1:] != cell[:-1]
    starts = np.flatnonzero(first)
    count = np.diff(np.append(starts, cell.size)).astype(np.float64)
    cell = cell[starts]
    r = cell // v
    indices = cell - r * v
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(r, minlength=n), out=indptr[1:])
    df = np.bincount(indices, minlength=v)
    idf = np.log((1.0 + n) / (1.0 + df)) + 1.0
    data = idf[indices]
    more = np.flatnonzero(count > 1)  # tf = 1 + ln(count) is 1 for the (many) single counts
    data[more] *= 1.0 + np.log(count[more])
    sq = np.zeros(n)
    filled = np.flatnonzero(np.diff(indptr))  # reduceat as SciPy's row sums do, to the last bit
    sq[filled] = np.add.reduceat(data * data, indptr[filled])
    norms = np.sqrt(sq)
    norms[norms == 0] = 1.0
    data *= (1.0 / norms)[r]
    itype = np.int32 if max(v, data.size) < np.iinfo(np.int32).max else np.int64
    return sp.csr_matrix(
        (data, indices.astype(itype), indptr.astype(itype)), shape=(n, v), copy=False
    )


def proposal_texts(proposals: pd.DataFrame) -> tuple[tuple[str, ...], list[str]]:
    """(ids, "title\\nabstract" texts) of the distinct proposals."""
    df = table({"proposals": proposals}, "proposals")
    df = df[df["proposal_id"].notna()].drop_duplicates("proposal_id")
    texts = [
        f"{t if isinstance(t, str) else ''}\n{a if isinstance(a, str) else ''}".strip()
        for t, a in zip(df["title"].tolist(), df["abstract"].tolist(), strict=True)
    ]
    return tuple(df["proposal_id"].tolist()), texts


def _common_prefix(sq: sp.csr_matrix, rank: np.ndarray, limit: float) -> int:
    """Largest p such that every row's mass over the columns of rank < p is below ``limit``.

    sq: (n, V) csr of squared entries; rank: (V,) column ranks. Bisection with one sparse
    product per step (no per-row sort)."""
    if limit <= 0:
        return 0
    lo, hi = 0, sq.shape[1]
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if (sq @ (rank < mid).astype(np.float64)).max(initial=0.0) < limit:
            lo = mid
        else:
            hi = mid - 1
    return lo


@dataclass(frozen=True, eq=False)
class TextIndex:
    """TF-IDF rows of the batch's proposals. ids: (n,) proposal ids; matrix: (n, V) csr, l2 rows."""

    ids: tuple[str, ...]
    matrix: sp.csr_matrix
    position: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_proposals(cls, proposals: pd.DataFrame) -> TextIndex:
        """Fit over ``proposals`` (columns proposal_id, title, abstract)."""
        return cls.from_texts(*proposal_texts(proposals))

    @classmethod
    def from_texts(cls, ids: Sequence[str], texts: Sequence[str]) -> TextIndex:
        """Fit over ``texts`` (one per id; NumPy/SciPy only, so it can run in a worker thread)."""
        ids = tuple(ids)
        m = char_ngram_tfidf(texts)
        return cls(ids=ids, matrix=m, position={p: i for i, p in enumerate(ids)})

    def pair(self, a: str, b: str) -> float:
        """Cosine similarity of two proposals (0 when either is unknown or has no text)."""
        i, j = self.position.get(a), self.position.get(b)
        if i is None or j is None:
            return 0.0
        return float(self.matrix[i].multiply(self.matrix[j]).sum())

    def pairs(self, a: Sequence[str], b: Sequence[str]) -> np.ndarray:
        """(len(a),) cosine similarities of the pairs (a[i], b[i])."""
        ia = np.array([self.position.get(x, -1) for x in a], dtype=np.int64)
        ib = np.array([self.position.get(x, -1) for x in b], dtype=np.int64)
        out = np.zeros(len(ia))
        ok = (ia >= 0) & (ib >= 0)
        if ok.any():
            prod = self.matrix[ia[ok]].multiply(self.matrix[ib[ok]])
            out[ok] = np.asarray(prod.sum(axis=1)).ravel()
        return out

    def neighbours(
        self,
        sources: Iterable[str],
        *,
        threshold: float,
        chunk: int = 512,
        workers: int = 2,
        stats: dict[str, int] | None = None,
    ) -> pd.DataFrame:
        """Pairs (source, target, similarity) with target ≠ source and similarity ≥ threshold.

        Exact, without the all-pairs product: n-grams are ranked from the most to the least
        common and the longest common prefix C is taken with ||x_C||² < threshold for every row
        (found by bisection).
        Then x·y ≤ ||x_C||·||y_C|| + x_R·y_R, so only pairs sharing a rarer n-gram whose bound
        reaches the threshold are candidates (products in row chunks on ``workers`` threads;
        SciPy's sparse product runs without the GIL); each candidate is recomputed exactly.
        ``stats``, when given, receives ``candidates``: how many pairs were recomputed.
        """
        src = np.array(sorted({self.position[s] for s in sources if s in self.position}))
        x = self.matrix
        empty = pd.DataFrame({"source": [], "target": [], "similarity": []})
        if src.size == 0 or x.nnz == 0:
            return empty
        n, v = x.shape
        freq = np.bincount(x.indices, minlength=v)
        rank = np.empty(v, dtype=np.int64)
        rank[np.argsort(-freq, kind="stable")] = np.arange(v)
        # squares over x's own index arrays (read only: products never change their operands)
        sq = sp.csr_matrix((x.data**2, x.indices, x.indptr), shape=(n, v))
        prefix = _common_prefix(sq, rank, threshold - 1e-9)
        common = rank < prefix  # by column
        norm_c = np.sqrt(sq @ common.astype(np.float64))
        is_rare = ~common[x.indices]
        kept = np.concatenate([[0], np.cumsum(is_rare)])[x.indptr].astype(x.indptr.dtype)
        rare = sp.csr_matrix((x.data[is_rare], x.indices[is_rare], kept), shape=(n, v))
        rare_t = sp.csr_matrix(rare.T)

        def block(k: int) -> tuple[np.ndarray, np.ndarray]:
            idx = src[k : k + chunk]
            prod = sp.coo_matrix(rare[idx] @ rare_t)
            bound = prod.data + norm_c[idx[prod.row]] * norm_c[prod.col]
            keep = (bound >= threshold - 1e-6) & (idx[prod.row] != prod.col)
            return idx[prod.row[keep]], prod.col[keep]

        starts = range(0, src.size, chunk)
        if workers > 1 and src.size > chunk:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                parts = list(pool.map(block, starts))
        else:
            parts = [block(k) for k in starts]
        si = np.concatenate([p[0] for p in parts])
        ti = np.concatenate([p[1] for p in parts])
        if stats is not None:
            stats["candidates"] = int(si.size)
        if si.size == 0:
            return empty
        ids = np.array(self.ids, dtype=object)
        out = pd.DataFrame({"source": ids[si], "target": ids[ti]})
        # recompute exactly as :meth:`pairs` does, so the graph walk agrees to the last bit
        out["similarity"] = self.pairs(out["source"].tolist(), out["target"].tolist())
        return out[out["similarity"] >= threshold].reset_index(drop=True)
