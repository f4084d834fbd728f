"""Expert × proposal specialty affinity in [0, 1], from the experts' own documents.

:func:`fit_affinity` reads a batch's proposals, experts and their publications (代表性成果),
turns every text into terms (:mod:`assign.terms`: English word stems and pairs, Chinese jieba
words, Han characters and character pairs), weighs them by TF-IDF (:mod:`assign.tfidf`), and
scores each proposal against each of an expert's documents, aggregated by a recency-weighted
smooth max, with discipline codes as a separate signal that only raises the score
(:mod:`assign.doc_match`). A proposal's vector is ``normalise(own + guide_weight * guide)``:
its title, keywords and abstract, and its guide direction's title and research content.

The model keeps, for each proposal, its ``shortlist`` best experts (by an upper bound on the
text score, then scored exactly); every other pair scores 0. So the matrix is sparse by
construction, its memory grows with the shortlists and not with P × E, and every view of it
(:meth:`AffinityModel.dense_block`, :func:`top_candidates`, ``explain``) agrees exactly. With
no more experts than ``shortlist`` every pair is scored.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Collection, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from assign.codes import CodeSets
from assign.doc_match import ExpertDocs, block_candidates, pool_max
from assign.embeddings import Embedder, unit_rows
from assign.executor import Executor, configured_executor
from assign.problem import pair_key
from assign.sparse_affinity import SparseAffinity
from assign.terms import TermCounts, TokenKeys, count_terms, merge_counts
from assign.tfidf import keep_top_terms, l2_rows, weigh

__all__ = [
    "AffinityInputError",
    "AffinityModel",
    "fit_affinity",
    "top_candidates",
]

PROPOSAL_COLUMNS = ("proposal_id", "title", "keywords", "abstract", "disciplines")
EXPERT_COLUMNS = ("expert_id", "keywords", "profile", "disciplines")
PUBLICATION_COLUMNS = ("expert_id", "title", "abstract", "keywords", "year")
GUIDE_COLUMNS = ("code", "title", "research_content")

_CHUNK_DOCS = 4096  # documents per chunk when counting terms
_BLOCK_ENTRIES = 1 << 22  # bound entries per block of proposals (16 MB of float32)


class AffinityInputError(ValueError):
    """The tables given to the affinity model are unusable (missing columns, duplicate ids...)."""


@dataclass(frozen=True, eq=False)
class AffinityModel:
    """Fitted affinity: the shortlisted pairs of every proposal and what explains them.

    proposal_ids: (P,); expert_ids: (E,); q: (P, V) csr float32 proposal vectors (unit rows);
    experts: their documents (:class:`assign.doc_match.ExpertDocs`); doc_titles: (D,) title
    of each document ('' for a profile document); codes: discipline code sets;
    term_keys: (V,) uint64 and term_names: the text of each term;
    pair_ptr: (P + 1,) int64; pair_e: (C,) int64 expert, pair_w: (C,) float32 score of each
    proposal's shortlisted pairs, experts ascending within a proposal.
    Build one with :func:`fit_affinity`.
    """

    proposal_ids: tuple[str, ...]
    expert_ids: tuple[str, ...]
    q: sp.csr_matrix
    experts: ExpertDocs
    doc_titles: tuple[str, ...]
    codes: CodeSets
    code_weight: float
    code_field_weight: float
    code_group_weight: float
    term_keys: np.ndarray
    term_names: dict[int, str]
    pair_ptr: np.ndarray
    pair_e: np.ndarray
    pair_w: np.ndarray

    @property
    def n_proposals(self) -> int:
        return len(self.proposal_ids)

    @property
    def n_experts(self) -> int:
        return len(self.expert_ids)

    def proposal_index(self, proposal_id: str) -> int:
        try:
            return self._p_index[proposal_id]
        except KeyError:
            raise AffinityInputError(
                f"proposal {proposal_id} is not in the affinity model; fit it with that proposal"
            ) from None

    def expert_index(self, expert_id: str) -> int:
        try:
            return self._e_index[expert_id]
        except KeyError:
            raise AffinityInputError(
                f"expert {expert_id} is not in the affinity model; fit it with that expert"
            ) from None

    @functools.cached_property
    def _p_index(self) -> dict[str, int]:
        return _index(self.proposal_ids)

    @functools.cached_property
    def _e_index(self) -> dict[str, int]:
        return _index(self.expert_ids)

    def dense_block(self, rows: slice | np.ndarray) -> np.ndarray:
        """(R, E) float32 affinity of the proposal rows ``rows`` (a slice or index array)."""
        idx = np.arange(self.n_proposals, dtype=np.int64)[rows]
        out = np.zeros((idx.size, self.n_experts), dtype=np.float32)
        lens = self.pair_ptr[idx + 1] - self.pair_ptr[idx]
        at = np.repeat(self.pair_ptr[idx] - np.cumsum(lens) + lens, lens) + np.arange(lens.sum())
        out[np.repeat(np.arange(idx.size), lens), self.pair_e[at]] = self.pair_w[at]
        return out

    def __call__(self, rows: slice | np.ndarray) -> np.ndarray:
        return self.dense_block(rows)

    def expert_block(self, cols: np.ndarray) -> np.ndarray:
        """(P, len(cols)) float32 affinity of all proposals against the experts ``cols``."""
        cols = np.asarray(cols, dtype=np.int64)
        pos = np.full(self.n_experts, -1, dtype=np.int64)
        pos[cols] = np.arange(cols.size)
        hit = np.flatnonzero(pos[self.pair_e] >= 0)
        out = np.zeros((self.n_proposals, cols.size), dtype=np.float32)
        p = np.searchsorted(self.pair_ptr, hit, side="right") - 1
        out[p, pos[self.pair_e[hit]]] = self.pair_w[hit]
        return out

    def pair_scores(self, p: np.ndarray, e: np.ndarray) -> np.ndarray:
        """(C,) float64 affinity of the pairs (p[i], e[i]) (index arrays of one length)."""
        p = np.asarray(p, dtype=np.int64)
        e = np.asarray(e, dtype=np.int64)
        out = np.zeros(p.size, dtype=np.float64)
        keys = self._pair_keys
        if keys.size and p.size:
            want = p * self.n_experts + e
            at = np.minimum(np.searchsorted(keys, want), keys.size - 1)
            hit = keys[at] == want
            out[hit] = self.pair_w[at[hit]]
        return out

    @functools.cached_property
    def _pair_keys(self) -> np.ndarray:
        """(C,) int64 p * E + e of the stored pairs, ascending."""
        rows = np.repeat(np.arange(self.n_proposals, dtype=np.int64), np.diff(self.pair_ptr))
        return rows * self.n_experts + self.pair_e


def _index(ids: tuple[str, ...]) -> dict[str, int]:
    return {x: i for i, x in enumerate(ids)}


# ----------------------------------------------------------------------------- inputs


def _cells(frame: pd.DataFrame, column: str) -> list[str]:
    col = frame[column]
    return [
        "" if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) else str(v)
        for v in col.tolist()
    ]


def _check_frame(frame: pd.DataFrame, columns: Sequence[str], kind: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise AffinityInputError(
            f"{kind} table lacks column(s) {', '.join(missing)}; "
            f"give a {kind} frame with columns {', '.join(columns)}"
        )
    if "disciplines" in columns and pd.api.types.is_numeric_dtype(frame["disciplines"]):
        raise AffinityInputError(
            f"{kind} column disciplines is numeric, so codes such as 0809 lost their leading "
            "zero; read the table with dtype=str"
        )


def _check_ids(ids: Sequence[str], kind: str) -> None:
    seen: set[str] = set()
    dup: list[str] = []
    for i in ids:
        if i in seen and i not in dup:
            dup.append(i)
        seen.add(i)
    if dup:
        raise AffinityInputError(
            f"duplicate {kind} ids: {', '.join(dup[:5])}; give each {kind} one row"
        )


def _keywords(cell: str) -> str:
    return cell.replace(";", " ").replace("；", " ")


def _years(publications: pd.DataFrame) -> np.ndarray:
    """(N,) float64 year of each publication (NaN where unknown)."""
    return pd.to_numeric(publications["year"], errors="coerce").astype(float).to_numpy()


@dataclass(frozen=True)
class _Documents:
    """The experts' documents in expert order: texts, titles, years, (E + 1,) pointer."""

    texts: list[str]
    titles: list[str]
    years: np.ndarray
    ptr: np.ndarray


def _documents(
    experts: pd.DataFrame, eids: Sequence[str], publications: pd.DataFrame | None
) -> _Documents:
    """Each expert's publications (title, keywords, abstract) then their profile document
    (keywords and profile), when not empty."""
    owner: list[int] = []
    texts: list[str] = []
    titles: list[str] = []
    years: list[float] = []
    e_index = {e: i for i, e in enumerate(eids)}
    if publications is not None and len(publications):
        _check_frame(publications, PUBLICATION_COLUMNS, "publications")
        y = _years(publications)
        for e, t, k, a, yr in zip(
            _cells(publications, "expert_id"),
            _cells(publications, "title"),
            _cells(publications, "keywords"),
            _cells(publications, "abstract"),
            y.tolist(),
            strict=True,
        ):
            if e in e_index:
                owner.append(e_index[e])
                texts.append(f"{t} {_keywords(k)} {a}")
                titles.append(t)
                years.append(yr)
    for i, (k, p) in enumerate(
        zip(_cells(experts, "keywords"), _cells(experts, "profile"), strict=True)
    ):
        text = f"{_keywords(k)} {p}".strip()
        if text:
            owner.append(i)
            texts.append(text)
            titles.append("")
            years.append(math.nan)
    order = np.argsort(np.asarray(owner, dtype=np.int64), kind="stable")
    counts = np.bincount(np.asarray(owner, dtype=np.int64), minlength=len(eids))
    ptr = np.zeros(len(eids) + 1, dtype=np.int64)
    np.cumsum(counts, out=ptr[1:])
    return _Documents(
        texts=[texts[i] for i in order],
        titles=[titles[i] for i in order],
        years=np.asarray(years, dtype=np.float64)[order] if years else np.zeros(0),
        ptr=ptr,
    )


def _count_corpus(corpus: list[str], n_threads: int) -> TermCounts:
    """Terms of every text, counted in chunks of documents on ``n_threads`` threads."""
    starts = list(range(0, len(corpus), _CHUNK_DOCS)) or [0]
    known = TokenKeys()

    def count(a: int) -> TermCounts:
        return count_terms(corpus[a : a + _CHUNK_DOCS], first_doc=a, known=known)

    if n_threads > 1 and len(starts) > 1:
        with ThreadPoolExecutor(max_workers=n_threads) as pool:
            parts = list(pool.map(count, starts))
    else:
        parts = [count(a) for a in starts]
    return merge_counts(parts)


def _guide_rows(
    proposals: pd.DataFrame, guide: pd.DataFrame | None, n_p: int
) -> tuple[list[str], np.ndarray]:
    """Guide texts (one per direction) and (P,) int64 row of each proposal's direction (-1)."""
    texts: list[str] = []
    p_dir = np.full(n_p, -1, dtype=np.int64)
    if guide is None or n_p == 0:
        return texts, p_dir
    _check_frame(guide, GUIDE_COLUMNS, "guide")
    if "direction_code" not in proposals.columns:
        raise AffinityInputError(
            "proposals table lacks column direction_code, needed to attach guide text; "
            "add it or call without a guide"
        )
    code_row: dict[str, int] = {}
    for code, title, content in zip(
        _cells(guide, "code"),
        _cells(guide, "title"),
        _cells(guide, "research_content"),
        strict=True,
    ):
        if code not in code_row:
            code_row[code] = len(texts)
            texts.append(f"{title} {content}")
    p_dir = np.array(
        [code_row.get(d, -1) for d in _cells(proposals, "direction_code")], dtype=np.int64
    )
    return texts, p_dir


def recency_weights(years: np.ndarray, *, half_life: float, reference_year: float) -> np.ndarray:
    """(D,) float64: 0.5 ** (age / half_life), age = reference_year - year (at least 0);
    1 where the year is unknown."""
    age = np.clip(reference_year - years, 0.0, None)
    w = np.power(0.5, age / half_life)
    w[~np.isfinite(years)] = 1.0
    return w


# ----------------------------------------------------------------------------- fitting


def fit_affinity(
    proposals: pd.DataFrame,
    experts: pd.DataFrame,
    guide: pd.DataFrame | None = None,
    publications: pd.DataFrame | None = None,
    *,
    code_weight: float = 0.4,
    guide_weight: float = 0.5,
    code_field_weight: float = 0.6,
    code_group_weight: float = 0.25,
    tau: float = 0.1,
    half_life: float = 10.0,
    reference_year: float | None = None,
    shortlist: int = 256,
    max_terms: int | None = 250,
    bound_terms: int = 80,
    weighting: str = "bm25",
    embedder: Embedder | None = None,
    n_threads: int = 2,
    executor: Executor | None = None,
    progress: Callable[[float], None] | None = None,
) -> AffinityModel:
    """Fit the affinity model on one batch.

    proposals: columns proposal_id, title, keywords, abstract, disciplines (and direction_code
    when ``guide`` is given); experts: expert_id, keywords, profile, disciplines;
    publications: expert_id, title, abstract, keywords, year (several rows per expert; rows of
    experts not given are left out); guide: code, title, research_content.
    code_weight: how far matching codes lift the text score (see :mod:`assign.doc_match`);
    tau: smooth-max temperature; half_life: years after which a publication weighs half
    (reference_year: default the newest publication's year); shortlist: experts scored
    exactly per proposal; max_terms: terms kept per vector (None keeps all); bound_terms: terms
    of the proposal and of the pooled profile that rank experts for the shortlist; weighting:
    "bm25" (BM25's saturating term frequency on the experts' documents) or "tfidf" (sublinear
    term frequency); ``scripts/eval_affinity.py`` compares them; embedder: texts → unit sentence
    embeddings (:func:`assign.embeddings.load_embedder`), whose cosines join the lexical ones
    document by document. Texts are counted on ``n_threads`` threads, and proposals scored in
    blocks on ``executor`` (default: :func:`assign.executor.configured_executor`, a Dask cluster
    when one is configured, else ``n_threads`` local threads); the result depends on neither.
    """
    for name, val in (("code_weight", code_weight), ("guide_weight", guide_weight)):
        if not (math.isfinite(val) and val >= 0):
            raise AffinityInputError(f"{name} must be a number >= 0, got {val}")
    if code_weight > 1:
        raise AffinityInputError(f"code_weight must be <= 1, got {code_weight}")
    if not (0.0 <= code_group_weight <= code_field_weight <= 1.0):
        raise AffinityInputError(
            "need 0 <= code_group_weight <= code_field_weight <= 1, got "
            f"{code_group_weight} and {code_field_weight}"
        )
    for name, val in (("tau", tau), ("half_life", half_life)):
        if not (math.isfinite(val) and val > 0):
            raise AffinityInputError(f"{name} must be a number > 0, got {val}")
    if shortlist < 1 or bound_terms < 1:
        raise AffinityInputError(
            f"shortlist and bound_terms must be >= 1, got {shortlist} and {bound_terms}"
        )
    if weighting not in ("tfidf", "bm25"):
        raise AffinityInputError(f"weighting must be tfidf or bm25, got {weighting!r}")
    if max_terms is not None and max_terms < 1:
        raise AffinityInputError(f"max_terms must be >= 1 or None, got {max_terms}")

    _check_frame(proposals, PROPOSAL_COLUMNS, "proposals")
    _check_frame(experts, EXPERT_COLUMNS, "experts")
    pids = _cells(proposals, "proposal_id")
    eids = _cells(experts, "expert_id")
    _check_ids(pids, "proposal")
    _check_ids(eids, "expert")

    p_own = [
        f"{t} {_keywords(k)} {a}"
        for t, k, a in zip(
            _cells(proposals, "title"),
            _cells(proposals, "keywords"),
            _cells(proposals, "abstract"),
            strict=True,
        )
    ]
    guide_txt, p_dir = _guide_rows(proposals, guide, len(pids))
    docs = _documents(experts, eids, publications)
    corpus = p_own + guide_txt + docs.texts
    counts = _count_corpus(corpus, n_threads)
    n_p, n_g = len(p_own), len(guide_txt)
    x = weigh(counts, len(corpus), bm25_from=n_p + n_g if weighting == "bm25" else None)
    q = x[:n_p]
    if n_g and (p_dir >= 0).any():
        has = np.flatnonzero(p_dir >= 0)
        sel = sp.csr_matrix((np.ones(has.size, np.float32), (has, p_dir[has])), shape=(n_p, n_g))
        q = q + np.float32(guide_weight) * (sel @ x[n_p : n_p + n_g])
    q = keep_top_terms(l2_rows(q), max_terms)
    d = keep_top_terms(x[n_p + n_g :], max_terms)
    known = docs.years[np.isfinite(docs.years)]
    ref = reference_year if reference_year is not None else (known.max() if known.size else 0.0)
    expert_docs = ExpertDocs(
        docs=d,
        doc_ptr=docs.ptr,
        weight=recency_weights(docs.years, half_life=half_life, reference_year=float(ref)),
        pooled_t=keep_top_terms(pool_max(d, docs.ptr), bound_terms, unit=False).T.tocsr(),
        tau=float(tau),
        vectors=None if embedder is None else unit_rows(embedder(docs.texts)),
    )
    q_vectors = None if embedder is None else unit_rows(embedder(p_own))
    codes = CodeSets.build(
        _cells(proposals, "disciplines"),
        _cells(experts, "disciplines"),
        code_field_weight,
        code_group_weight,
    )
    job = _ShortlistJob(
        q=q,
        q_vectors=q_vectors,
        experts=expert_docs,
        codes=codes if codes.any and code_weight > 0 else None,
        code_weight=float(code_weight),
        shortlist=shortlist,
        bound_terms=bound_terms,
    )
    ptr, pair_e, pair_w = _shortlists(job, executor or configured_executor(n_threads), progress)
    return AffinityModel(
        proposal_ids=tuple(pids),
        expert_ids=tuple(eids),
        q=q,
        experts=expert_docs,
        doc_titles=tuple(docs.titles),
        codes=codes,
        code_weight=float(code_weight),
        code_field_weight=float(code_field_weight),
        code_group_weight=float(code_group_weight),
        term_keys=counts.keys,
        term_names=counts.names,
        pair_ptr=ptr,
        pair_e=pair_e,
        pair_w=pair_w,
    )


@dataclass(frozen=True, eq=False)
class _ShortlistJob:
    """What every block of proposals reads (sent once to each worker)."""

    q: sp.csr_matrix
    q_vectors: np.ndarray | None
    experts: ExpertDocs
    codes: CodeSets | None
    code_weight: float
    shortlist: int
    bound_terms: int


def _shortlist_block(job: _ShortlistJob, span: tuple[int, int]) -> _Part:
    """(proposal, expert, score) of the shortlists of proposals ``span[0]:span[1]``."""
    rows = np.arange(span[0], span[1], dtype=np.int64)
    q = job.q[rows]
    r, e, w = block_candidates(
        q,
        keep_top_terms(q, job.bound_terms, unit=False),
        job.experts,
        codes=None if job.codes is None else job.codes.block(rows),
        code_weight=job.code_weight,
        shortlist=job.shortlist,
        q_vectors=None if job.q_vectors is None else job.q_vectors[rows],
    )
    return r + span[0], e, w


def _shortlists(
    job: _ShortlistJob, executor: Executor, progress: Callable[[float], None] | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(P + 1,) pointer, (C,) expert and (C,) score of every proposal's shortlist, in blocks of
    proposals on ``executor``."""
    n_p, n_e = job.q.shape[0], job.experts.n_experts
    step = max(1, min(n_p, _BLOCK_ENTRIES // max(n_e, 1)))
    spans = [(a, min(n_p, a + step)) for a in range(0, n_p, step)]
    parts: list[_Part] = []
    for part in executor.map(_shortlist_block, job, spans):
        parts.append(part)
        if progress is not None:
            progress(len(parts) / len(spans))
    p = np.concatenate([x[0] for x in parts]) if parts else np.zeros(0, np.int64)
    e = np.concatenate([x[1] for x in parts]) if parts else np.zeros(0, np.int64)
    w = np.concatenate([x[2] for x in parts]) if parts else np.zeros(0, np.float32)
    order = np.lexsort((e, p))
    ptr = np.zeros(n_p + 1, dtype=np.int64)
    np.cumsum(np.bincount(p, minlength=n_p), out=ptr[1:])
    return ptr, e[order], w[order].astype(np.float32)


_Part = tuple[np.ndarray, np.ndarray, np.ndarray]


# ----------------------------------------------------------------------------- top-N candidates


def _exclusion_keys(model: AffinityModel, exclude: Iterable[tuple[str, str]]) -> np.ndarray:
    """Sorted int64 keys p * E + e of excluded pairs; pairs naming unknown ids are ignored."""
    pairs = list(exclude)
    if not pairs:
        return np.zeros(0, dtype=np.int64)
    frame = pd.DataFrame(pairs, columns=["p", "e"], dtype=object)
    p_arr = frame["p"].map(model._p_index).to_numpy(dtype=np.float64, na_value=-1.0)
    e_arr = frame["e"].map(model._e_index).to_numpy(dtype=np.float64, na_value=-1.0)
    known = (p_arr >= 0) & (e_arr >= 0)
    keys = p_arr[known].astype(np.int64) * model.n_experts + e_arr[known].astype(np.int64)
    return np.unique(keys)


def _first_per_group(group: np.ndarray, n: int) -> np.ndarray:
    """Mask of the first ``n`` entries of each run of equal values of sorted ``group``."""
    if group.size == 0:
        return np.zeros(0, dtype=bool)
    start = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    rank = np.arange(group.size) - np.repeat(start, np.diff(np.r_[start, group.size]))
    return rank < n


def top_candidates(
    model: AffinityModel,
    *,
    top_n: int = 60,
    per_expert: int = 3,
    exclude: Collection[tuple[str, str]] = (),
    exclude_index: tuple[np.ndarray, np.ndarray] | None = None,
    floor: float = 0.0,
    progress: Callable[[float], None] | None = None,
) -> SparseAffinity:
    """Sparse candidates: each proposal's ``top_n`` experts, plus coverage for every expert.

    Pairs with affinity <= ``floor`` and pairs in ``exclude`` ((proposal_id, expert_id), e.g.
    conflicts) are never kept, so they do not use up a proposal's top-N; ``exclude_index``
    gives more such pairs as (proposal, expert) index arrays of the model (no id tuples, for
    the millions of conflicted pairs of a national batch). An expert holding fewer
    than ``per_expert`` pairs afterwards gets its best ``per_expert`` proposals (not excluded,
    above the floor) added; only these additions make a proposal hold more than ``top_n``
    pairs. Ties go to the lower expert, and for coverage to the lower proposal.
    """
    if top_n < 0 or per_expert < 0:
        raise AffinityInputError(f"top_n and per_expert must be >= 0, got {top_n} and {per_expert}")
    if not (math.isfinite(floor) and floor >= 0):
        raise AffinityInputError(f"floor must be a number >= 0, got {floor}")
    n_e = model.n_experts
    p = np.repeat(np.arange(model.n_proposals, dtype=np.int64), np.diff(model.pair_ptr))
    e, w = model.pair_e, model.pair_w
    ok = w > np.float32(floor) if floor > 0 else w > 0
    x = _exclusion_keys(model, exclude)
    if exclude_index is not None:
        x = np.union1d(x, pair_key(exclude_index[0], exclude_index[1], n_e))
    if x.size:
        ok &= ~np.isin(p * n_e + e, x)
    p, e, w = p[ok], e[ok], w[ok]
    order = np.lexsort((e, -w, p))
    chosen = np.zeros(p.size, dtype=bool)
    chosen[order[_first_per_group(p[order], top_n)]] = True
    if per_expert > 0:
        held = np.bincount(e[chosen], minlength=n_e)
        short = held[e] < per_expert
        by_e = np.lexsort((p, -w, e))
        by_e = by_e[short[by_e]]
        chosen[by_e[_first_per_group(e[by_e], per_expert)]] = True
    if progress is not None:
        progress(1.0)
    return SparseAffinity(
        model.proposal_ids, model.expert_ids, p[chosen], e[chosen], w[chosen].astype(np.float64)
    )
