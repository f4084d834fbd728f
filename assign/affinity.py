"""Expert × proposal specialty affinity in [0, 1]: sparse candidates that can explain themselves.

Two signals, combined as a weighted sum and clipped to [0, 1]::

    score = clip(text_weight * text + code_weight * codes, 0, 1)

- ``text``: cosine of character n-gram TF-IDF vectors (sublinear tf, L2-normalised, so the
  cosine is a dot product). Character n-grams need no Chinese word segmentation; text is
  NFKC-normalised and lower-cased, punctuation becomes a space and a space separates Chinese
  from Latin script. A proposal's vector is ``normalise(own + guide_weight * guide)``, where
  *own* is its title, keywords and abstract and *guide* is its direction's title and research
  content (both unit vectors); an expert's vector comes from keywords and profile. With
  ``max_terms`` each vector keeps only its heaviest n-grams (then is normalised again), which
  bounds the cost of the all-pairs product.
- ``codes``: discipline codes (``;``-separated, e.g. ``0809;080901``). The best-matching pair of
  codes decides: the same code scores 1, the same 4-character field (``0809`` and ``080901``)
  scores ``code_field_weight``, the same 2-character group (``0809`` and ``0812``)
  ``code_group_weight``, otherwise 0.

:func:`fit_affinity` builds an :class:`AffinityModel` (the fitted matrices; ``dense_block`` gives
any row block of the full (P, E) matrix, for pricing pruned pairs); :func:`top_candidates` keeps
the top-N experts per proposal (plus a few proposals for every expert) as a
:class:`SparseAffinity` in the COO form :class:`assign.problem.AssignmentProblem` takes.
:func:`explain` says why a pair scores what it does; :func:`load_affinity_file` reads scores
computed elsewhere.
"""

from __future__ import annotations

import csv
import functools
import math
import re
import threading
import unicodedata
from collections.abc import Callable, Collection, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

__all__ = [
    "AffinityFileError",
    "AffinityInputError",
    "AffinityModel",
    "CodeMatch",
    "Explanation",
    "SharedTerm",
    "SparseAffinity",
    "affinity_frame",
    "explain",
    "fit_affinity",
    "load_affinity_file",
    "top_candidates",
]

PROPOSAL_COLUMNS = ("proposal_id", "title", "keywords", "abstract", "disciplines")
EXPERT_COLUMNS = ("expert_id", "keywords", "profile", "disciplines")
GUIDE_COLUMNS = ("code", "title", "research_content")
FILE_COLUMNS = ("proposal", "expert", "score")


class AffinityInputError(ValueError):
    """The tables given to the affinity model are unusable (missing columns, duplicate ids...)."""


class AffinityFileError(ValueError):
    """A precomputed affinity file has bad rows; the message lists them."""


# ----------------------------------------------------------------------------- sparse result


def _frozen(arr: np.ndarray) -> np.ndarray:
    arr = arr.copy()
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class SparseAffinity:
    """Candidate pairs with their affinity, in the COO form ``AssignmentProblem`` takes.

    proposal_ids: (P,) external ids; expert_ids: (E,) external ids.
    cand_p, cand_e: (C,) int64 indices into them; cand_w: (C,) float64 affinity in [0, 1].
    Pairs are unique and sorted by (cand_p, cand_e).
    """

    proposal_ids: tuple[str, ...]
    expert_ids: tuple[str, ...]
    cand_p: np.ndarray
    cand_e: np.ndarray
    cand_w: np.ndarray

    def __post_init__(self) -> None:
        s = object.__setattr__
        s(self, "proposal_ids", tuple(self.proposal_ids))
        s(self, "expert_ids", tuple(self.expert_ids))
        p = np.asarray(self.cand_p, dtype=np.int64).ravel()
        e = np.asarray(self.cand_e, dtype=np.int64).ravel()
        w = np.asarray(self.cand_w, dtype=np.float64).ravel()
        if not (p.shape == e.shape == w.shape):
            raise ValueError(
                f"cand_p, cand_e and cand_w must have one length, got {p.size}, {e.size}, {w.size}"
            )
        n_p, n_e = len(self.proposal_ids), len(self.expert_ids)
        if p.size and (p.min() < 0 or p.max() >= n_p):
            raise ValueError(f"cand_p holds an index outside 0..{n_p - 1}")
        if e.size and (e.min() < 0 or e.max() >= n_e):
            raise ValueError(f"cand_e holds an index outside 0..{n_e - 1}")
        bad = np.flatnonzero(~(np.isfinite(w) & (w >= 0.0) & (w <= 1.0)))
        if bad.size:
            i = int(bad[0])
            raise ValueError(
                f"affinity of pair ({self.proposal_ids[p[i]]}, {self.expert_ids[e[i]]}) is "
                f"{w[i]}; expected a number in [0, 1]"
            )
        order = np.lexsort((e, p))
        p, e, w = p[order], e[order], w[order]
        if p.size > 1:
            dup = np.flatnonzero((p[1:] == p[:-1]) & (e[1:] == e[:-1]))
            if dup.size:
                i = int(dup[0])
                raise ValueError(
                    f"candidate pair ({self.proposal_ids[p[i]]}, {self.expert_ids[e[i]]}) "
                    "is listed more than once"
                )
        s(self, "cand_p", _frozen(p))
        s(self, "cand_e", _frozen(e))
        s(self, "cand_w", _frozen(w))

    @property
    def nnz(self) -> int:
        return int(self.cand_p.size)

    def to_frame(self) -> pd.DataFrame:
        """The pairs as a frame with columns proposal_id, expert_id, score."""
        return affinity_frame(self)


def affinity_frame(aff: SparseAffinity) -> pd.DataFrame:
    """(C, 3) frame: proposal_id, expert_id (str), score (float64 in [0, 1])."""
    pid = np.asarray(aff.proposal_ids, dtype=object)
    eid = np.asarray(aff.expert_ids, dtype=object)
    return pd.DataFrame(
        {
            "proposal_id": pd.Series(pid[aff.cand_p] if aff.nnz else [], dtype="str"),
            "expert_id": pd.Series(eid[aff.cand_e] if aff.nnz else [], dtype="str"),
            "score": pd.Series(aff.cand_w, dtype=np.float64),
        }
    )


# ----------------------------------------------------------------------------- text and codes

_CODE_SPLIT = re.compile(r"[;；,，\s]+")
_SEP = 0  # separates documents in the code-point stream
_SPACE = 32
_BITS = 21  # a code point fits in 21 bits, so up to 3 of them pack into one uint64 key


@functools.cache
def _bmp_table() -> np.ndarray:
    """(65536,) uint32: each BMP code point → NFKC, lower-cased letter/digit, or a space."""
    table = np.full(1 << 16, _SPACE, dtype=np.uint32)
    for c in range(1 << 16):
        if 0xD800 <= c <= 0xDFFF:
            continue
        t = unicodedata.normalize("NFKC", chr(c)).lower()
        if t and t[0].isalnum():
            table[c] = ord(t[0])
    table[_SEP] = _SEP
    return table


def _is_han(a: np.ndarray) -> np.ndarray:
    return (
        ((a >= 0x3400) & (a <= 0x9FFF))
        | ((a >= 0xF900) & (a <= 0xFAFF))
        | ((a >= 0x20000) & (a <= 0x323AF))
    )


def _normalised_stream(texts: Sequence[str]) -> np.ndarray:
    """(N,) uint32 code points: ``" doc0 \\0 doc1 \\0 ... "`` after normalisation.

    Each character goes through NFKC and lower case; what is not a letter or digit becomes a
    space; a space is inserted wherever Chinese meets Latin script or digits.
    """
    clean = [t.replace("\x00", " ") if "\x00" in t else t for t in texts]
    big = " " + " \x00 ".join(clean) + " "
    raw = np.frombuffer(big.encode("utf-32-le"), dtype=np.uint32)
    out = np.empty_like(raw)
    bmp = raw < (1 << 16)
    out[bmp] = _bmp_table()[raw[bmp]]
    astral = np.flatnonzero(~bmp)
    if astral.size:
        vals = raw[astral]
        uniq = np.unique(vals)
        mapped = np.array(
            [int(c) if chr(int(c)).isalnum() else _SPACE for c in uniq], dtype=np.uint32
        )
        out[astral] = mapped[np.searchsorted(uniq, vals)]
    han = _is_han(out)
    latin = (out != _SPACE) & (out != _SEP) & ~han & (out < 0x3000)
    edge = np.flatnonzero((han[:-1] & latin[1:]) | (latin[:-1] & han[1:])) + 1
    if edge.size:
        out = np.insert(out, edge, np.uint32(_SPACE))
    return out


def normalise_text(text: str) -> str:
    """NFKC, lower case, punctuation → space, a space between Chinese and Latin script."""
    s = _normalised_stream([text]).tobytes().decode("utf-32-le")
    return " ".join(s.split())


def _stream_strings(stream: np.ndarray) -> list[str]:
    """The documents of a stream as strings, runs of spaces collapsed."""
    big = stream.tobytes().decode("utf-32-le")
    return [" ".join(part.split()) for part in big.split("\x00")]


def _gram_text(key: int) -> str:
    n = 3 if key >= 1 << (2 * _BITS) else 2 if key >= 1 << _BITS else 1
    mask = (1 << _BITS) - 1
    return "".join(chr((key >> (_BITS * (n - 1 - j))) & mask) for j in range(n))


@dataclass(frozen=True)
class _GramCounts:
    """Distinct (document, n-gram) pairs of some documents, sorted by (doc, key).

    keys: (U,) uint64 the chunk's distinct n-grams, ascending; doc: (Q,) int32 document;
    gram: (Q,) int32 index into keys; count: (Q,) int32 occurrences in the document.
    """

    keys: np.ndarray
    doc: np.ndarray
    gram: np.ndarray
    count: np.ndarray


def _count_grams(stream: np.ndarray, first_doc: int, ngram_range: tuple[int, int]) -> _GramCounts:
    """Count the character n-grams of each document of a stream (numbered from ``first_doc``).

    N-grams stay inside space-separated words padded with one space each side (scikit-learn's
    ``char_wb``); a key packs the code points of an n-gram (21 bits each).
    """
    lo, hi = ngram_range
    length = stream.size
    is_sep = stream == _SEP
    is_sp = stream == _SPACE
    doc_of = np.cumsum(is_sep, dtype=np.int64)
    keys: list[np.ndarray] = []
    docs: list[np.ndarray] = []
    for n in range(lo, hi + 1):
        m = length - n + 1
        if m <= 0:
            continue
        key = stream[:m].astype(np.uint64)
        bad = is_sep[:m].copy()
        for j in range(1, n):
            key <<= np.uint64(_BITS)
            key |= stream[j : j + m]
            bad |= is_sep[j : j + m]
        for j in range(1, n - 1):
            bad |= is_sp[j : j + m]
        if n <= 2:  # a lone space, or two spaces (longer ones have a space inside)
            bad |= is_sp[:m] & is_sp[n - 1 : n - 1 + m]
        ok = np.flatnonzero(~bad)
        keys.append(key[ok])
        docs.append(doc_of[ok])
    all_keys = np.concatenate(keys) if keys else np.zeros(0, np.uint64)
    code, uniq = pd.factorize(all_keys, sort=False)
    uniq = np.asarray(uniq, dtype=np.uint64)
    order = np.argsort(uniq)
    rank = np.empty(uniq.size, dtype=np.int64)
    rank[order] = np.arange(uniq.size)
    n_uniq = max(uniq.size, 1)
    pair = np.concatenate(docs) * n_uniq if docs else np.zeros(0, np.int64)
    pair += rank[code]
    pair.sort()
    first = np.flatnonzero(np.r_[True, pair[1:] != pair[:-1]]) if pair.size else pair
    counts = np.diff(np.r_[first, pair.size])
    doc, gram = np.divmod(pair[first], n_uniq)
    return _GramCounts(
        keys=uniq[order],
        doc=(doc + first_doc).astype(np.int32),
        gram=gram.astype(np.int32),
        count=counts.astype(np.int32),
    )


def _tfidf_from_counts(
    parts: Sequence[_GramCounts],
    n_docs: int,
    *,
    min_df: int,
    max_df: float,
    max_features: int | None,
) -> tuple[sp.csr_matrix, np.ndarray]:
    """TF-IDF ((D, V) csr float32, unit rows, sorted indices; (V,) keys ascending) of counts.

    ``parts`` come in document order. Sublinear tf (1 + log count), smooth idf, l2 rows. Each
    part is mapped to the vocabulary on its own, so no array spans all pairs but the result.
    """
    part_keys = [p.keys for p in parts]
    code, uniq = pd.factorize(np.concatenate(part_keys) if parts else np.zeros(0, np.uint64))
    uniq = np.asarray(uniq, dtype=np.uint64)
    bounds = np.cumsum([0] + [k.size for k in part_keys])
    to_global = [code[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    df = np.zeros(uniq.size, dtype=np.int64)
    for p, g in zip(parts, to_global, strict=True):
        df[g] += np.bincount(p.gram, minlength=p.keys.size)  # g holds distinct codes
    max_count = n_docs if max_df >= 1.0 else max(int(max_df * n_docs), min_df)
    kept = np.flatnonzero((df >= min_df) & (df <= max_count))
    if max_features is not None and kept.size > max_features:
        order = np.lexsort((uniq[kept], -df[kept]))
        kept = kept[order[:max_features]]
    kept = kept[np.argsort(uniq[kept], kind="stable")]
    column = np.full(uniq.size, -1, dtype=np.int32)
    column[kept] = np.arange(kept.size, dtype=np.int32)
    idf = (np.log((1.0 + n_docs) / (1.0 + df[kept])) + 1.0).astype(np.float32)
    indices: list[np.ndarray] = []
    data: list[np.ndarray] = []
    row_len = np.zeros(n_docs, dtype=np.int64)
    for p, g in zip(parts, to_global, strict=True):
        col = column[g][p.gram]
        sel = np.flatnonzero(col >= 0)
        col = col[sel]
        val = (np.float32(1.0) + np.log(p.count[sel].astype(np.float32))) * idf[col]
        if val.size:  # unit rows; a part holds consecutive documents
            doc = p.doc[sel]
            d0 = int(doc[0])
            local = doc - d0
            norm = np.sqrt(np.bincount(local, weights=np.square(val, dtype=np.float64)))
            norm[norm == 0] = 1.0
            val *= (1.0 / norm).astype(np.float32)[local]
            row_len[d0 : d0 + norm.size] += np.bincount(local, minlength=norm.size)
        indices.append(col)
        data.append(val)
    indptr = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(row_len, out=indptr[1:])
    x = sp.csr_matrix(
        (
            np.concatenate(data) if data else np.zeros(0, np.float32),
            np.concatenate(indices) if indices else np.zeros(0, np.int32),
            indptr,
        ),
        shape=(n_docs, kept.size),
    )
    x.has_sorted_indices = True  # keys ascend within a document, and columns follow keys
    return x, uniq[kept]


def _char_tfidf(
    stream: np.ndarray,
    n_docs: int,
    *,
    ngram_range: tuple[int, int],
    min_df: int,
    max_df: float,
    max_features: int | None,
) -> tuple[sp.csr_matrix, np.ndarray]:
    """Character n-gram TF-IDF of the documents of a stream: ((D, V) csr float32, (V,) keys).

    The same features and values as scikit-learn's ``TfidfVectorizer(analyzer="char_wb",
    sublinear_tf=True, smooth_idf=True, norm="l2")`` on the normalised text: n-grams stay
    inside space-separated words padded with one space each side. Vectorised over the whole
    stream instead of looping over documents in Python. Keys pack the code points of an n-gram
    (21 bits each), sorted ascending; ``max_features`` keeps the n-grams in the most documents.
    """
    parts = [_count_grams(stream, 0, ngram_range)]
    return _tfidf_from_counts(
        parts, n_docs, min_df=min_df, max_df=max_df, max_features=max_features
    )


def _doc_chunks(texts: Sequence[str], chars: int) -> list[tuple[int, int]]:
    """Consecutive (start, stop) ranges of ``texts`` holding about ``chars`` characters each."""
    if not texts:
        return []
    ends = np.cumsum(np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)))
    cuts = np.searchsorted(ends, np.arange(chars, int(ends[-1]), chars), side="right")
    bounds = np.unique(np.r_[0, cuts, len(texts)])
    return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]


def parse_codes(cell: str) -> tuple[str, ...]:
    """Discipline codes of one cell, in order, without repeats: ``"0809;080901"``."""
    out: list[str] = []
    for c in _CODE_SPLIT.split(unicodedata.normalize("NFKC", cell).upper()):
        if c and c not in out:
            out.append(c)
    return tuple(out)


def _code_keys(code: str) -> tuple[str, str, str]:
    """(group, field, exact) keys; a code shorter than a level stands for itself there."""
    return code[:2], code[:4], code


def _code_similarity(a: str, b: str, field_w: float, group_w: float) -> float:
    ka, kb = _code_keys(a), _code_keys(b)
    if ka[2] == kb[2]:
        return 1.0
    if ka[1] == kb[1]:
        return field_w
    if ka[0] == kb[0]:
        return group_w
    return 0.0


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


def _l2_rows(m: sp.csr_matrix) -> sp.csr_matrix:
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


def _scaled(m: sp.csr_matrix, factor: float) -> sp.csr_matrix:
    """A float32 copy of ``m`` times ``factor``."""
    out = m.astype(np.float32, copy=True)
    out.data *= np.float32(factor)
    return out


def _keep_top_terms(m: sp.csr_matrix, max_terms: int) -> sp.csr_matrix:
    """Keep each row's ``max_terms`` largest entries (entries tied with the last one stay too)."""
    m = m.tocsr()
    counts = np.diff(m.indptr)
    if counts.size == 0 or counts.max() <= max_terms:
        return m
    width = int(counts.max())
    rows = np.repeat(np.arange(m.shape[0]), counts)
    pos = np.arange(m.nnz) - m.indptr[rows]
    pad = np.full((m.shape[0], width), -np.inf, dtype=np.float32)
    pad[rows, pos] = m.data
    thresh = np.partition(pad, width - max_terms, axis=1)[:, width - max_terms]
    keep = m.data >= thresh[rows]
    out = sp.csr_matrix(
        (
            m.data[keep],
            m.indices[keep],
            np.r_[0, np.cumsum(np.bincount(rows[keep], minlength=m.shape[0]))],
        ),
        shape=m.shape,
    )
    return out.astype(m.dtype)


def _level_rows(
    codes: Sequence[tuple[str, ...]], level: int, keys: dict[str, int]
) -> list[list[int]]:
    """Key indices (into ``keys``, extended as met) of each row's codes at one level."""
    out = []
    for cs in codes:
        out.append(sorted({keys.setdefault(_code_keys(c)[level], len(keys)) for c in cs}))
    return out


def _indicator(rows_keys: list[list[int]], n_keys: int) -> sp.csr_matrix:
    indptr = np.zeros(len(rows_keys) + 1, dtype=np.int64)
    indptr[1:] = np.cumsum([len(k) for k in rows_keys])
    idx = np.fromiter((k for ks in rows_keys for k in ks), dtype=np.int32, count=int(indptr[-1]))
    data = np.ones(idx.size, dtype=np.float32)
    return sp.csr_matrix((data, idx, indptr), shape=(len(rows_keys), n_keys))


def _code_sets(
    cells: Sequence[str],
) -> tuple[tuple[tuple[str, ...], ...], np.ndarray, list[tuple[str, ...]]]:
    """Codes of each row, (N,) int64 code-set id of each row, and the distinct code sets.

    Rows holding the same codes in any order share a set; each distinct cell is parsed once.
    """
    cell_id, uniq = pd.factorize(np.asarray(list(cells), dtype=object))
    parsed = [parse_codes(str(c)) for c in uniq]
    set_index: dict[tuple[str, ...], int] = {}
    set_of_cell = np.zeros(len(parsed), dtype=np.int64)
    for i, codes in enumerate(parsed):
        set_of_cell[i] = set_index.setdefault(tuple(sorted(codes)), len(set_index))
    rows = tuple(parsed[i] for i in cell_id.tolist())
    return rows, set_of_cell[cell_id], list(set_index)


def _level_scores(
    p_levels: Sequence[sp.csr_matrix],
    e_levels: Sequence[sp.csr_matrix],
    steps: Sequence[float],
    p_rows: np.ndarray,
    e_rows: np.ndarray,
) -> np.ndarray:
    """(len(p_rows), len(e_rows)) float32 code score from the level-key indicators of both sides.

    Levels are nested (an exact match is also a field and a group match), so the best pair of
    codes scores the sum of the steps of the levels where any key is shared.
    """
    out = np.zeros((p_rows.size, e_rows.size), dtype=np.float32)
    for p_l, e_l, step in zip(p_levels, e_levels, steps, strict=True):
        if step == 0.0:
            continue
        hit = (p_l[p_rows] @ e_l[e_rows].T).toarray()
        np.minimum(hit, np.float32(1.0), out=hit)
        hit *= np.float32(step)
        out += hit
    return out


# ----------------------------------------------------------------------------- the model

_CHUNK_CHARS = 1 << 20  # characters of text per chunk when counting n-grams
_SET_TABLE_LIMIT = 1 << 24  # code sets × code sets up to which every set pair's score is stored


@dataclass(frozen=True, eq=False)
class AffinityModel:
    """Fitted affinity: every (proposal, expert) score can be computed and explained.

    proposal_ids: (P,); expert_ids: (E,).
    p_text: (P, V) csr float32, unit rows; e_text: (E, V) csr float32, unit rows.
    p_codes / e_codes: per-row tuples of discipline codes.
    term_keys: (V,) uint64 packed n-gram of each text feature (see :meth:`term`).
    Do not build one by hand: use :func:`fit_affinity`.
    """

    proposal_ids: tuple[str, ...]
    expert_ids: tuple[str, ...]
    p_text: sp.csr_matrix
    e_text: sp.csr_matrix
    term_keys: np.ndarray
    p_codes: tuple[tuple[str, ...], ...]
    e_codes: tuple[tuple[str, ...], ...]
    p_strings: tuple[str, ...]  # normalised proposal text (own, then guide) for explanations
    e_strings: tuple[str, ...]
    text_weight: float
    code_weight: float
    code_field_weight: float
    code_group_weight: float
    _e_text_tw: sp.csr_matrix  # (V, E) text_weight × e_text.T, columns in _e_order
    _e_order: np.ndarray  # (E,) int64 expert in each internal column (grouped by code set)
    _e_rank: np.ndarray  # (E,) int64 internal column of each expert
    _p_text_tw: sp.csr_matrix  # (V, P) text_weight × p_text.T
    _p_set: np.ndarray  # (P,) int64 code-set id of each proposal
    _e_set: np.ndarray  # (E,) int64 code-set id of each expert
    _ps_levels: tuple[sp.csr_matrix, ...]  # (S_p, K_l) key indicators, l = group, field, exact
    _es_levels: tuple[sp.csr_matrix, ...]  # (S_e, K_l)
    _level_steps: tuple[float, float, float]
    _set_table: np.ndarray | None  # (S_p, S_e) float32 code score of every set pair, when small
    _p_index: dict[str, int]
    _e_index: dict[str, int]

    @property
    def n_proposals(self) -> int:
        return len(self.proposal_ids)

    def term(self, feature: int) -> str:
        """The n-gram of text feature ``feature`` (a space marks a word edge)."""
        return _gram_text(int(self.term_keys[feature]))

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

    def _set_scores(self, ps: np.ndarray, es: np.ndarray | None = None) -> np.ndarray:
        """(len(ps), len(es)) float32 code score of proposal code sets × expert code sets."""
        if es is None:
            es = np.arange(self._es_levels[0].shape[0])
        if self._set_table is not None:
            return self._set_table[np.ix_(ps, es)]
        return _level_scores(self._ps_levels, self._es_levels, self._level_steps, ps, es)

    def _fill_rows(
        self, rows: slice | np.ndarray, out: np.ndarray, scratch: np.ndarray | None = None
    ) -> None:
        """Write the (R, E) float32 affinity of proposal rows ``rows`` into ``out``.

        Columns come in the internal order (column j is expert ``_e_order[j]``): experts with
        the same codes sit together, which keeps the sparse product's memory access local.
        ``scratch``: an optional second (R, E) float32 buffer, to spare an allocation. Each entry
        is computed the same way whatever the rows asked for with it.
        """
        (self.p_text[rows] @ self._e_text_tw).toarray(out=out)
        if self.code_weight:
            sets, inv = np.unique(self._p_set[rows], return_inverse=True)
            per_set = self._set_scores(sets)[:, self._e_set[self._e_order]]  # (S, E)
            per_set *= np.float32(self.code_weight)
            out += np.take(per_set, inv, axis=0, out=scratch, mode="clip")  # unbuffered
        np.minimum(out, np.float32(1.0), out=out)

    def dense_block(self, rows: slice | np.ndarray) -> np.ndarray:
        """(R, E) float32 affinity of the proposal rows ``rows`` (a slice or index array).

        The full matrix, before any exclusion: conflicts are the solver's to apply. Blocks agree
        with each other and with :func:`top_candidates` exactly.
        """
        n_rows = self._p_set[rows].size
        internal = np.empty((n_rows, self.n_experts), dtype=np.float32)
        self._fill_rows(rows, internal)
        return np.take(internal, self._e_rank, axis=1)

    def __call__(self, rows: slice | np.ndarray) -> np.ndarray:
        return self.dense_block(rows)

    def _expert_rows(self, cols: np.ndarray) -> np.ndarray:
        """(len(cols), P) float32 affinity of the experts ``cols`` against all proposals."""
        cols = np.asarray(cols, dtype=np.int64)
        out = (self.e_text[cols] @ self._p_text_tw).toarray()
        if self.code_weight:
            sets, inv = np.unique(self._e_set[cols], return_inverse=True)
            all_p = np.arange(self._ps_levels[0].shape[0])
            per_set = np.ascontiguousarray(self._set_scores(all_p, sets).T)[:, self._p_set]
            per_set *= np.float32(self.code_weight)
            out += per_set[inv]
        np.minimum(out, np.float32(1.0), out=out)
        return out

    def expert_block(self, cols: np.ndarray) -> np.ndarray:
        """(P, len(cols)) float32 affinity of all proposals against the experts ``cols``."""
        return np.ascontiguousarray(self._expert_rows(cols).T)

    def components(self, p: int, e: int) -> tuple[float, float]:
        """(text, codes) similarity of one pair, each in [0, 1], before weighting."""
        text = float(self.p_text[p].multiply(self.e_text[e]).sum())
        best = 0.0
        for a in self.p_codes[p]:
            for b in self.e_codes[e]:
                best = max(
                    best, _code_similarity(a, b, self.code_field_weight, self.code_group_weight)
                )
        return min(max(text, 0.0), 1.0), best

    def pair_scores(self, p: np.ndarray, e: np.ndarray) -> np.ndarray:
        """(C,) float64 affinity of the pairs (p[i], e[i]) (index arrays of one length)."""
        p = np.asarray(p, dtype=np.int64)
        e = np.asarray(e, dtype=np.int64)
        text = np.asarray(self.p_text[p].multiply(self.e_text[e]).sum(axis=1)).ravel()
        score = self.text_weight * text.astype(np.float64)
        if self.code_weight:
            ps, es = self._p_set[p], self._e_set[e]
            if self._set_table is not None:
                code = self._set_table[ps, es].astype(np.float64)
            else:
                code = np.zeros(p.size)
                for p_l, e_l, step in zip(
                    self._ps_levels, self._es_levels, self._level_steps, strict=True
                ):
                    hit = np.asarray(p_l[ps].multiply(e_l[es]).sum(axis=1)).ravel()
                    code += step * np.minimum(hit, 1.0)
            score += self.code_weight * code
        return np.clip(score, 0.0, 1.0)


def fit_affinity(
    proposals: pd.DataFrame,
    experts: pd.DataFrame,
    guide: pd.DataFrame | None = None,
    *,
    text_weight: float = 0.6,
    code_weight: float = 0.4,
    guide_weight: float = 0.5,
    code_field_weight: float = 0.6,
    code_group_weight: float = 0.25,
    ngram_range: tuple[int, int] = (2, 3),
    min_df: int = 2,
    max_df: float = 1.0,
    max_features: int | None = 200_000,
    max_terms: int | None = 80,
    n_threads: int = 2,
) -> AffinityModel:
    """Fit the affinity model on one batch.

    proposals: columns proposal_id, title, keywords, abstract, disciplines (and direction_code
    when ``guide`` is given); experts: expert_id, keywords, profile, disciplines; guide: code,
    title, research_content. Weights: see the module docstring (all >= 0,
    code_group_weight <= code_field_weight <= 1). ``min_df`` / ``max_df`` / ``max_features`` bound
    the n-gram vocabulary (document counts / share over proposals, guide texts and experts);
    ``max_terms`` caps the n-grams kept per vector (None keeps all). Texts are counted in
    chunks on ``n_threads`` threads; the result does not depend on the number.
    """
    for name, val in (
        ("text_weight", text_weight),
        ("code_weight", code_weight),
        ("guide_weight", guide_weight),
    ):
        if not (math.isfinite(val) and val >= 0):
            raise AffinityInputError(f"{name} must be a number >= 0, got {val}")
    if not (0.0 <= code_group_weight <= code_field_weight <= 1.0):
        raise AffinityInputError(
            "need 0 <= code_group_weight <= code_field_weight <= 1, got "
            f"{code_group_weight} and {code_field_weight}"
        )
    lo, hi = ngram_range
    if not (1 <= lo <= hi <= 3):
        raise AffinityInputError(f"ngram_range must satisfy 1 <= lo <= hi <= 3, got {ngram_range}")
    if max_terms is not None and max_terms < 1:
        raise AffinityInputError(f"max_terms must be >= 1 or None, got {max_terms}")

    _check_frame(proposals, PROPOSAL_COLUMNS, "proposals")
    _check_frame(experts, EXPERT_COLUMNS, "experts")
    pids = _cells(proposals, "proposal_id")
    eids = _cells(experts, "expert_id")
    _check_ids(pids, "proposal")
    _check_ids(eids, "expert")

    # -- texts
    p_own = [
        " ".join(parts)
        for parts in zip(
            _cells(proposals, "title"),
            _cells(proposals, "keywords"),
            _cells(proposals, "abstract"),
            strict=True,
        )
    ]
    e_txt = [
        f"{k} {p}"
        for k, p in zip(_cells(experts, "keywords"), _cells(experts, "profile"), strict=True)
    ]
    guide_txt: list[str] = []
    p_dir = np.full(len(pids), -1, dtype=np.int64)
    if guide is not None and len(pids):
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
                code_row[code] = len(guide_txt)
                guide_txt.append(f"{title} {content}")
        p_dir = np.array(
            [code_row.get(d, -1) for d in _cells(proposals, "direction_code")], dtype=np.int64
        )

    corpus = p_own + guide_txt + e_txt
    n_docs = len(corpus)

    def count(bounds: tuple[int, int]) -> tuple[list[str], _GramCounts]:
        stream = _normalised_stream(corpus[bounds[0] : bounds[1]])
        return _stream_strings(stream), _count_grams(stream, bounds[0], ngram_range)

    # chunks of documents keep the temporary arrays small; they are counted in parallel
    chunks = _doc_chunks(corpus, _CHUNK_CHARS)
    if n_threads > 1 and len(chunks) > 1:
        with ThreadPoolExecutor(max_workers=n_threads) as pool:
            counted = list(pool.map(count, chunks))
    else:
        counted = [count(c) for c in chunks]
    strings = [text for part in counted for text in part[0]]
    x, term_keys = _tfidf_from_counts(
        [part[1] for part in counted],
        n_docs,
        min_df=min_df,
        max_df=max_df,
        max_features=max_features,
    )
    del counted
    n_p, n_g = len(p_own), len(guide_txt)
    p_mat = x[:n_p]
    if n_g:
        g_mat = x[n_p : n_p + n_g]
        has = p_dir >= 0
        add = sp.csr_matrix(p_mat.shape, dtype=np.float32)
        if has.any():
            sel = sp.csr_matrix(
                (np.ones(int(has.sum()), np.float32), (np.flatnonzero(has), p_dir[has])),
                shape=(n_p, n_g),
            )
            add = sel @ g_mat
        p_mat = p_mat + np.float32(guide_weight) * add
    e_mat = x[n_p + n_g :]
    if max_terms is not None:
        p_mat = _keep_top_terms(p_mat, max_terms)
        e_mat = _keep_top_terms(e_mat, max_terms)
    p_text = _l2_rows(p_mat)
    e_text = _l2_rows(e_mat)
    p_text.sort_indices()
    e_text.sort_indices()

    # -- discipline codes: per distinct code set, indicator matrices per level (group, field,
    # exact); the score of every pair of sets is stored when there are few sets
    p_codes, p_set, p_sets = _code_sets(_cells(proposals, "disciplines"))
    e_codes, e_set, e_sets = _code_sets(_cells(experts, "disciplines"))
    ps_levels: list[sp.csr_matrix] = []
    es_levels: list[sp.csr_matrix] = []
    for level in range(3):
        keys: dict[str, int] = {}
        pr = _level_rows(p_sets, level, keys)
        er = _level_rows(e_sets, level, keys)
        ps_levels.append(_indicator(pr, len(keys)))
        es_levels.append(_indicator(er, len(keys)))
    steps = (
        float(code_group_weight),
        float(code_field_weight - code_group_weight),
        float(1.0 - code_field_weight),
    )
    table = None
    if len(p_sets) * len(e_sets) <= _SET_TABLE_LIMIT:
        table = _level_scores(
            ps_levels, es_levels, steps, np.arange(len(p_sets)), np.arange(len(e_sets))
        )

    e_order = np.argsort(e_set, kind="stable")
    n_p, n_g = len(p_own), len(guide_txt)
    p_strings = tuple(
        strings[i] if p_dir[i] < 0 else f"{strings[i]}\n{strings[n_p + p_dir[i]]}"
        for i in range(n_p)
    )
    return AffinityModel(
        proposal_ids=tuple(pids),
        expert_ids=tuple(eids),
        p_text=p_text,
        e_text=e_text,
        term_keys=term_keys,
        p_codes=p_codes,
        e_codes=e_codes,
        p_strings=p_strings,
        e_strings=tuple(strings[n_p + n_g :]),
        text_weight=float(text_weight),
        code_weight=float(code_weight),
        code_field_weight=float(code_field_weight),
        code_group_weight=float(code_group_weight),
        _e_text_tw=_scaled(e_text[e_order].T.tocsr(), text_weight),
        _e_order=e_order,
        _e_rank=np.argsort(e_order),
        _p_text_tw=_scaled(p_text.T.tocsr(), text_weight),
        _p_set=p_set,
        _e_set=e_set,
        _ps_levels=tuple(ps_levels),
        _es_levels=tuple(es_levels),
        _level_steps=steps,
        _set_table=table,
        _p_index={p: i for i, p in enumerate(pids)},
        _e_index={e: i for i, e in enumerate(eids)},
    )


# ----------------------------------------------------------------------------- top-N candidates


def _exclusion_index(
    model: AffinityModel, exclude: Iterable[tuple[str, str]]
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (p, e) index arrays of excluded pairs; pairs naming unknown ids are ignored."""
    pairs = list(exclude)
    if not pairs:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy()
    frame = pd.DataFrame(pairs, columns=["p", "e"], dtype=object)
    p_arr = frame["p"].map(model._p_index).to_numpy(dtype=np.float64, na_value=-1.0)
    e_arr = frame["e"].map(model._e_index).to_numpy(dtype=np.float64, na_value=-1.0)
    known = (p_arr >= 0) & (e_arr >= 0)
    p_idx, e_idx = p_arr[known].astype(np.int64), e_arr[known].astype(np.int64)
    order = np.lexsort((e_idx, p_idx))
    return p_idx[order], e_idx[order]


def _top_of_rows(
    block: np.ndarray, n: int, floor: float, col_ids: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(local row, column) of each row's ``n`` largest entries above ``floor``.

    Ties go to the lower column, or to the lower ``col_ids[column]`` when given. A row's n-th
    largest group maximum (columns dealt into >= 2n groups) is a threshold at least n entries
    reach, so only entries at or above it are sorted.
    """
    rows, width = block.shape
    if n == 0 or rows == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    # entries kept must be > floor: in the block's precision, >= the next number above it
    above = np.nextafter(block.dtype.type(floor), block.dtype.type(np.inf))
    thresh = np.full(rows, above, dtype=block.dtype)
    if n < width:
        chunk = max(1, width // (4 * n))
        n_full = width // chunk
        # strided groups (column j in group j % n_full), so that runs of similar columns
        # spread over all groups
        maxima = block[:, : n_full * chunk].reshape(rows, chunk, n_full).max(axis=1)
        if n_full * chunk < width:
            tail = block[:, n_full * chunk :].max(axis=1, keepdims=True)
            maxima = np.concatenate([maxima, tail], axis=1)
        kth = np.partition(maxima, maxima.shape[1] - n, axis=1)[:, maxima.shape[1] - n]
        np.maximum(thresh, kth, out=thresh)
    flat = np.flatnonzero(block >= thresh[:, None])  # row-major: sorted by (row, column)
    r, c = np.divmod(flat, width)
    v = block.ravel()[flat]
    if col_ids is None:
        order = np.lexsort((-v, r))  # stable, so equal values stay in column order
    else:
        order = np.lexsort((col_ids[c], -v, r))
    r, c = r[order], c[order]
    starts = np.searchsorted(r, np.arange(rows))
    rank = np.arange(r.size) - starts[r]
    keep = rank < n
    return r[keep].astype(np.int64), c[keep].astype(np.int64)


@dataclass(frozen=True, eq=False)
class _TopRows:
    """Top-N of a block of proposal rows (or, with ``by_expert``, of expert rows)."""

    model: AffinityModel
    xp: np.ndarray  # (X,) excluded pairs, sorted by (xp, xe)
    xe: np.ndarray
    n: int
    floor: float
    local: threading.local = field(default_factory=threading.local)  # buffers per thread

    def _buffers(self, rows: int, width: int) -> tuple[np.ndarray, np.ndarray]:
        size = rows * width
        buf = getattr(self.local, "buf", None)
        if buf is None or buf.size < size:
            buf = self.local.buf = np.empty(size, dtype=np.float32)
            self.local.scratch = np.empty(size, dtype=np.float32)
        shape = (rows, width)
        return buf[:size].reshape(shape), self.local.scratch[:size].reshape(shape)

    def proposals(self, r0: int, r1: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(p, e, score float32) of the top pairs of proposals r0..r1-1."""
        model = self.model
        block, scratch = self._buffers(r1 - r0, model.n_experts)
        model._fill_rows(slice(r0, r1), block, scratch)  # internal column order
        a, b = np.searchsorted(self.xp, [r0, r1])
        if b > a:
            block[self.xp[a:b] - r0, model._e_rank[self.xe[a:b]]] = -1.0
        r, c = _top_of_rows(block, self.n, self.floor, model._e_order)
        return r + r0, model._e_order[c], block[r, c]

    def experts(self, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(p, e, score float32) of the top pairs of the experts ``cols``."""
        block = self.model._expert_rows(cols)  # (c, P)
        pos = np.full(self.model.n_experts, -1, dtype=np.int64)
        pos[cols] = np.arange(cols.size)
        hit = pos[self.xe] >= 0
        if hit.any():
            block[pos[self.xe[hit]], self.xp[hit]] = -1.0
        r, c = _top_of_rows(block, self.n, self.floor)
        return c, cols[r], block[r, c]


_Part = tuple[np.ndarray, np.ndarray, np.ndarray]


def _map_parts(
    fn: Callable[[int], _Part],
    n_parts: int,
    *,
    n_workers: int,
    progress: Callable[[float], None] | None,
) -> list[_Part]:
    """``[fn(i) for i in range(n_parts)]`` on up to ``n_workers`` threads, in order."""
    out: list[_Part] = []
    if n_workers > 1 and n_parts > 1:
        with ThreadPoolExecutor(max_workers=min(n_workers, n_parts)) as pool:
            for i, part in enumerate(pool.map(fn, range(n_parts))):
                out.append(part)
                if progress is not None:
                    progress((i + 1) / n_parts)
    else:
        for i in range(n_parts):
            out.append(fn(i))
            if progress is not None:
                progress((i + 1) / n_parts)
    return out


def top_candidates(
    model: AffinityModel,
    *,
    top_n: int = 60,
    per_expert: int = 3,
    exclude: Collection[tuple[str, str]] = (),
    exclude_index: tuple[np.ndarray, np.ndarray] | None = None,
    floor: float = 0.0,
    block_rows: int | None = None,
    n_threads: int = 2,
    progress: Callable[[float], None] | None = None,
) -> SparseAffinity:
    """Sparse candidates: each proposal's ``top_n`` experts, plus coverage for every expert.

    Pairs with affinity <= ``floor`` and pairs in ``exclude`` ((proposal_id, expert_id), e.g.
    conflicts) are never kept, so they do not use up a proposal's top-N; ``exclude_index``
    gives more such pairs as (proposal, expert) index arrays of the model (no id tuples, for
    the millions of conflicted pairs of a national batch). An expert holding fewer
    than ``per_expert`` pairs afterwards gets its best ``per_expert`` proposals not excluded
    added (when their affinity is above the floor), so the solver can use every expert with a
    positive match; only these additions make a proposal hold more than ``top_n`` pairs.
    Rows are scored in blocks of ``block_rows`` proposals on ``n_threads`` threads; the result
    does not depend on either.
    """
    if top_n < 0 or per_expert < 0:
        raise AffinityInputError(f"top_n and per_expert must be >= 0, got {top_n} and {per_expert}")
    if not (math.isfinite(floor) and floor >= 0):
        raise AffinityInputError(f"floor must be a number >= 0, got {floor}")
    n_p, n_e = model.n_proposals, model.n_experts
    empty = np.zeros(0, dtype=np.int64)
    if n_p == 0 or n_e == 0:
        return SparseAffinity(model.proposal_ids, model.expert_ids, empty, empty, empty)
    xp, xe = _exclusion_index(model, exclude)
    if exclude_index is not None:
        xp = np.concatenate([xp, np.asarray(exclude_index[0], dtype=np.int64)])
        xe = np.concatenate([xe, np.asarray(exclude_index[1], dtype=np.int64)])
        order = np.lexsort((xe, xp))
        xp, xe = xp[order], xe[order]
    step = block_rows or max(1, min(n_p, (1 << 24) // n_e))
    starts = list(range(0, n_p, step))
    job = _TopRows(model, xp, xe, top_n, floor)
    parts = _map_parts(
        lambda i: job.proposals(starts[i], min(n_p, starts[i] + step)),
        len(starts),
        n_workers=n_threads,
        progress=progress,
    )
    cp = np.concatenate([p[0] for p in parts])
    ce = np.concatenate([p[1] for p in parts])
    cw = np.concatenate([p[2] for p in parts]).astype(np.float64)

    # -- coverage: experts short of per_expert pairs get their best proposals
    if per_expert > 0:
        counts = np.bincount(ce, minlength=n_e)
        short = np.flatnonzero(counts < per_expert)
        if short.size:
            cols_step = max(1, (1 << 24) // n_p)
            chunks = [short[c0 : c0 + cols_step] for c0 in range(0, short.size, cols_step)]
            cover = _TopRows(model, xp, xe, per_expert, floor)
            adds = _map_parts(
                lambda i: cover.experts(chunks[i]), len(chunks), n_workers=n_threads, progress=None
            )
            ap = np.concatenate([a[0] for a in adds])
            ae = np.concatenate([a[1] for a in adds])
            aw = np.concatenate([a[2] for a in adds]).astype(np.float64)
            # pairs of short experts already held are few: fewer than per_expert per expert
            held = np.isin(ce, short)
            new = ~np.isin(ap * n_e + ae, cp[held] * n_e + ce[held])
            cp = np.concatenate([cp, ap[new]])
            ce = np.concatenate([ce, ae[new]])
            cw = np.concatenate([cw, aw[new]])
    return SparseAffinity(model.proposal_ids, model.expert_ids, cp, ce, np.clip(cw, 0.0, 1.0))


# ----------------------------------------------------------------------------- explanations


@dataclass(frozen=True)
class SharedTerm:
    """A piece of text both sides contain; weight: its share of the text similarity."""

    text: str
    weight: float


@dataclass(frozen=True)
class CodeMatch:
    """A pair of discipline codes that match; level: exact | field | group."""

    proposal_code: str
    expert_code: str
    level: str
    similarity: float


@dataclass(frozen=True)
class Explanation:
    """Why one pair scores what it does: score = clip(text_weight*text + code_weight*codes)."""

    proposal_id: str
    expert_id: str
    score: float
    text_score: float
    code_score: float
    text_weight: float
    code_weight: float
    shared_codes: tuple[str, ...]
    code_matches: tuple[CodeMatch, ...]
    top_terms: tuple[SharedTerm, ...]

    def __str__(self) -> str:
        codes = ", ".join(self.shared_codes) or "none"
        terms = ", ".join(t.text for t in self.top_terms) or "none"
        return (
            f"{self.proposal_id} × {self.expert_id}: {self.score:.3f} = "
            f"{self.text_weight:g}×text {self.text_score:.3f} + "
            f"{self.code_weight:g}×codes {self.code_score:.3f}; "
            f"shared codes: {codes}; shared terms: {terms}"
        )


def _occurrences(text: str, sub: str, cap: int) -> list[int]:
    out: list[int] = []
    i = text.find(sub)
    while i >= 0 and len(out) < cap:
        out.append(i)
        i = text.find(sub, i + 1)
    return out


def _grow(a: str, b: str, gram: str, cap: int = 32) -> str:
    """Longest substring common to ``a`` and ``b`` that extends an occurrence of ``gram``."""
    best = gram
    n = len(gram)
    for i in _occurrences(a, gram, cap):
        for j in _occurrences(b, gram, cap):
            lo = 0
            while i - lo > 0 and j - lo > 0 and a[i - lo - 1] == b[j - lo - 1] != "\n":
                lo += 1
            hi = 0
            while (
                i + n + hi < len(a)
                and j + n + hi < len(b)
                and a[i + n + hi] == b[j + n + hi]
                and a[i + n + hi] != "\n"
            ):
                hi += 1
            cand = a[i - lo : i + n + hi]
            if len(cand.strip()) > len(best.strip()):
                best = cand
    return " ".join(best.split())


def explain(
    model: AffinityModel, proposal_id: str, expert_id: str, *, top_terms: int = 5
) -> Explanation:
    """Score of one pair with its parts, shared codes and the top shared pieces of text.

    Shared n-grams are ranked by the product of their weights on both sides and grown into the
    longest substring both texts share around them (e.g. "碳化硅功率器件"); a term's weight is
    the sum of the products of the n-grams it absorbed.
    """
    p = model.proposal_index(proposal_id)
    e = model.expert_index(expert_id)
    text, code = model.components(p, e)
    score = float(model.pair_scores(np.array([p]), np.array([e]))[0])

    matches: list[CodeMatch] = []
    for a in model.p_codes[p]:
        for b in model.e_codes[e]:
            sim = _code_similarity(a, b, model.code_field_weight, model.code_group_weight)
            if a == b:
                matches.append(CodeMatch(a, b, "exact", sim))
            elif _code_keys(a)[1] == _code_keys(b)[1]:
                matches.append(CodeMatch(a, b, "field", sim))
            elif _code_keys(a)[0] == _code_keys(b)[0]:
                matches.append(CodeMatch(a, b, "group", sim))
    matches.sort(key=lambda m: (-m.similarity, m.proposal_code, m.expert_code))
    shared = tuple(m.proposal_code for m in matches if m.level == "exact")

    prow, erow = model.p_text[p], model.e_text[e]
    pw = dict(zip(prow.indices.tolist(), prow.data.tolist(), strict=True))
    contrib = sorted(
        (
            (pw[f] * w, f)
            for f, w in zip(erow.indices.tolist(), erow.data.tolist(), strict=True)
            if f in pw
        ),
        key=lambda t: (-t[0], t[1]),
    )
    merged: dict[str, float] = {}
    a_txt, b_txt = model.p_strings[p], model.e_strings[e]
    for w, f in contrib[: max(8 * top_terms, 40)]:
        gram = model.term(f).strip()
        if not gram:
            continue
        s = _grow(a_txt, b_txt, gram)
        merged[s] = merged.get(s, 0.0) + w
    # fold a piece into a longer piece that contains it
    folded: dict[str, float] = {}
    for s in sorted(merged, key=lambda t: (-len(t), t)):
        host = next((h for h in folded if s in h), None)
        if host is None:
            folded[s] = merged[s]
        else:
            folded[host] += merged[s]
    ranked = sorted(folded.items(), key=lambda kv: (-kv[1], kv[0]))[:top_terms]
    return Explanation(
        proposal_id=proposal_id,
        expert_id=expert_id,
        score=score,
        text_score=text,
        code_score=code,
        text_weight=model.text_weight,
        code_weight=model.code_weight,
        shared_codes=shared,
        code_matches=tuple(matches),
        top_terms=tuple(SharedTerm(t, float(w)) for t, w in ranked),
    )


# ----------------------------------------------------------------------------- precomputed file


def load_affinity_file(
    path: str | Path,
    *,
    proposal_ids: Sequence[str],
    expert_ids: Sequence[str],
    max_problems: int = 20,
) -> SparseAffinity:
    """Read a ``proposal,expert,score`` CSV (UTF-8, header row) of scores computed elsewhere.

    Every row is checked before anything is returned: unknown ids, empty or non-numeric
    scores, scores outside [0, 1] and repeated pairs are all collected (rows numbered as in a
    spreadsheet: the header is row 1) and raised together as :class:`AffinityFileError`, listing
    at most ``max_problems`` of them.
    """
    p_index = {p: i for i, p in enumerate(proposal_ids)}
    e_index = {e: i for i, e in enumerate(expert_ids)}
    path = Path(path)
    problems: list[str] = []
    cp: list[int] = []
    ce: list[int] = []
    cw: list[float] = []
    seen: dict[tuple[str, str], int] = {}
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        names = [h.strip().lower() for h in header] if header is not None else []
        if sorted(names) != sorted(FILE_COLUMNS):
            got = ",".join(header) if header else "empty"
            raise AffinityFileError(
                f"affinity file {path}: header is {got}; expected proposal,expert,score"
            )
        col = {n: names.index(n) for n in FILE_COLUMNS}
        for row_no, cells in enumerate(reader, start=2):
            if not cells or all(not c.strip() for c in cells):
                continue
            if len(cells) != 3:
                problems.append(
                    f"row {row_no}: {len(cells)} cells; expected 3 (proposal, expert, score)"
                )
                continue
            pid = cells[col["proposal"]].strip()
            eid = cells[col["expert"]].strip()
            raw = cells[col["score"]].strip()
            ok = True
            if pid not in p_index:
                problems.append(
                    f"row {row_no}, column proposal: {pid!r} is not a proposal of this batch; "
                    "expected one of the batch's proposal ids"
                )
                ok = False
            if eid not in e_index:
                problems.append(
                    f"row {row_no}, column expert: {eid!r} is not an expert of this batch; "
                    "expected one of the batch's expert ids"
                )
                ok = False
            value = math.nan
            if not raw:
                problems.append(
                    f"row {row_no}, column score: '' is empty; expected a number in [0, 1]"
                )
                ok = False
            else:
                try:
                    value = float(raw)
                except ValueError:
                    problems.append(
                        f"row {row_no}, column score: {raw!r} is not a number; "
                        "expected a number in [0, 1]"
                    )
                    ok = False
                else:
                    if not (0.0 <= value <= 1.0):
                        problems.append(
                            f"row {row_no}, column score: {raw!r} is outside [0, 1]; "
                            "expected a number in [0, 1]"
                        )
                        ok = False
            first = seen.get((pid, eid))
            if first is not None:
                problems.append(
                    f"row {row_no}, columns proposal+expert: ({pid!r}, {eid!r}) repeats row "
                    f"{first}; expected each pair once"
                )
                ok = False
            else:
                seen[(pid, eid)] = row_no
            if ok:
                cp.append(p_index[pid])
                ce.append(e_index[eid])
                cw.append(value)
    if problems:
        shown = problems[:max_problems]
        more = len(problems) - len(shown)
        lines = "\n".join(f"  {m}" for m in shown)
        tail = f"\n  ... and {more} more" if more else ""
        raise AffinityFileError(
            f"affinity file {path} has {len(problems)} problem(s); nothing was loaded. "
            f"Fix these rows and load it again:\n{lines}{tail}"
        )
    return SparseAffinity(
        tuple(proposal_ids),
        tuple(expert_ids),
        np.asarray(cp, dtype=np.int64),
        np.asarray(ce, dtype=np.int64),
        np.asarray(cw, dtype=np.float64),
    )
