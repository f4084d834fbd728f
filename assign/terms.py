"""Terms of texts, Chinese and English, as hashed keys counted per document.

Text is NFKC-normalised and lower-cased; what is not a letter or digit becomes a space, and a
space separates Chinese from Latin script. Then each document yields:

- **English words**: runs of Latin letters and digits of at least two characters, English stop
  words left out (scikit-learn's list), each reduced to its Snowball stem (``networks`` and
  ``network`` are one term);
- **English word pairs**: two consecutive such words (``power electronics``), which carry much
  of a field's vocabulary;
- **Chinese words**: each run of Han characters segmented by jieba's dictionary and HMM (the
  ``rjieba`` binding of jieba-rs, which ships jieba's dictionary and runs ~15x faster than the
  pure-Python jieba: 5 MB of text per second);
- **Han characters and character pairs**: single characters carry meaning in Chinese (药, 钢,
  桥) and pairs catch technical terms the dictionary splits or does not know.

A key is a uint64 whose top two bits name the kind (1 Han character n-gram, 2 word, 3 word
pair); character n-grams pack their code points (21 bits each), words and pairs are hashed
(pandas' SipHash, the same on every machine), so documents can be counted in separate chunks,
or on separate machines, and their counts merged by key.
"""

from __future__ import annotations

import functools
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import rjieba
import snowballstemmer
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

__all__ = ["TermCounts", "TokenKeys", "count_terms", "merge_counts", "normalise_text"]

_SEP = 0  # separates documents in the code-point stream
_SPACE = 32
_BITS = 21  # a code point fits in 21 bits
_KIND_SHIFT = np.uint64(62)
_CHARS, _WORD, _PAIR = np.uint64(1), np.uint64(2), np.uint64(3)
_LOW = np.uint64((1 << 62) - 1)


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


def is_han(a: np.ndarray) -> np.ndarray:
    """Which code points of ``a`` are Han characters (CJK unified ideographs and extensions)."""
    return (
        ((a >= 0x3400) & (a <= 0x9FFF))
        | ((a >= 0xF900) & (a <= 0xFAFF))
        | ((a >= 0x20000) & (a <= 0x323AF))
    )


def _han_char(c: int) -> bool:
    return 0x3400 <= c <= 0x9FFF or 0xF900 <= c <= 0xFAFF or 0x20000 <= c <= 0x323AF


def normalised_stream(texts: Sequence[str]) -> np.ndarray:
    """(N,) uint32 code points: ``" doc0 \\0 doc1 \\0 ... "`` after normalisation."""
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
    han = is_han(out)
    latin = (out != _SPACE) & (out != _SEP) & ~han & (out < 0x3000)
    edge = np.flatnonzero((han[:-1] & latin[1:]) | (latin[:-1] & han[1:])) + 1
    if edge.size:
        out = np.insert(out, edge, np.uint32(_SPACE))
    return out


def normalise_text(text: str) -> str:
    """NFKC, lower case, punctuation → space, a space between Chinese and Latin script."""
    s = normalised_stream([text]).tobytes().decode("utf-32-le")
    return " ".join(s.split())


_LOCAL = threading.local()


def _stemmer() -> snowballstemmer.stemmer:
    """This thread's English stemmer (a stemmer keeps state while it works: one per thread)."""
    stem = getattr(_LOCAL, "stemmer", None)
    if stem is None:
        stem = _LOCAL.stemmer = snowballstemmer.stemmer("english")
    return stem


def _hash(words: Sequence[str], kind: np.uint64) -> np.ndarray:
    if not len(words):
        return np.zeros(0, np.uint64)
    h = pd.util.hash_array(np.asarray(words, dtype=object))
    return (h & _LOW) | (kind << _KIND_SHIFT)


def _pair_key(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        mixed = (a * np.uint64(0x9E3779B97F4A7C15)) ^ (b + np.uint64(0x632BE59BD9B4E019))
        mixed ^= mixed >> np.uint64(29)
        mixed *= np.uint64(0xBF58476D1CE4E5B9)
    return (mixed & _LOW) | (_PAIR << _KIND_SHIFT)


@dataclass(frozen=True)
class TermCounts:
    """Distinct (document, term) pairs of some documents, sorted by (doc, key).

    keys: (U,) uint64 distinct terms; doc: (Q,) int64 document; term: (Q,) int64 index into
    keys; count: (Q,) int32 occurrences in the document. names: text of the word
    and pair keys met (character n-grams decode from their keys; counted with a shared
    :class:`TokenKeys`, those it did not hold before).
    """

    keys: np.ndarray
    doc: np.ndarray
    term: np.ndarray
    count: np.ndarray
    names: dict[int, str]


def term_name(key: int, names: dict[int, str]) -> str:
    """The text of a term key: a word, ``word word`` for a pair, or Han characters."""
    if key >> 62 == 1:
        mask = (1 << _BITS) - 1
        code = key & ((1 << 62) - 1)
        n = 2 if code >> _BITS else 1
        return "".join(chr((code >> (_BITS * (n - 1 - j))) & mask) for j in range(n))
    return names.get(key, "")


def _han_grams(stream: np.ndarray, doc_of: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(doc, key) of every Han character and pair of adjacent Han characters."""
    han = is_han(stream)
    one = np.flatnonzero(han)
    keys = [stream[one].astype(np.uint64) | (_CHARS << _KIND_SHIFT)]
    docs = [doc_of[one]]
    two = np.flatnonzero(han[:-1] & han[1:])
    pair = (stream[two].astype(np.uint64) << np.uint64(_BITS)) | stream[two + 1]
    keys.append(pair | (_CHARS << _KIND_SHIFT))
    docs.append(doc_of[two])
    return np.concatenate(docs), np.concatenate(keys)


def _segment(runs: list[str]) -> tuple[list[np.ndarray], dict[int, str]]:
    """(n,) uint64 keys of the jieba words of each Han run (one call over all runs, split back
    by the spaces), and the text of each key. jieba's words are pieces of the joined text, which
    has whitespace only in the single spaces between runs, so every other word is kept."""
    if not runs:
        return [], {}
    words = np.asarray(rjieba.cut(" ".join(runs)), dtype=object)
    sep = words == " "
    kept = words[~sep]
    keys = _hash(kept, _WORD)
    lens = np.bincount(np.cumsum(sep)[~sep], minlength=len(runs))
    names = dict(zip(keys.tolist(), kept.tolist(), strict=True))
    return np.split(keys, np.cumsum(lens)[:-1]), names


@dataclass
class TokenKeys:
    """Word keys of each distinct token met so far (an English word: its stem's key; a Han
    run: its jieba words' keys) and the text of every key. The chunks of one corpus share one,
    so a token is stemmed or segmented once however many chunks hold it; a token's keys never
    change, so sharing it between threads changes no result."""

    keys: dict[str, np.ndarray] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)

    def learn(self, tokens: list[str], keys: list[np.ndarray], names: dict[int, str]) -> None:
        self.names.update(names)  # before the keys, so a token found has its names
        self.keys.update(zip(tokens, keys, strict=True))


def _word_runs(
    text: str, known: TokenKeys
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[int, str]]:
    """Words of a normalised chunk: (doc, key) of every word and word pair, and the names of
    the keys that ``known`` did not hold yet (it learns them)."""
    tokens = text.split()
    codes, uniq = pd.factorize(np.asarray(tokens, dtype=object), sort=False)
    uniq_l = [str(u) for u in uniq]
    n_u = len(uniq_l)
    # per distinct run: 0 separator, 1 English word, 2 dropped, 3 Han run
    kind = np.full(n_u, 2, dtype=np.int8)
    han_runs: list[int] = []
    latin: list[int] = []
    stop = ENGLISH_STOP_WORDS
    for i, u in enumerate(uniq_l):
        if u == "\x00":
            kind[i] = 0
        elif _han_char(ord(u[0])):
            kind[i] = 3
            han_runs.append(i)
        elif len(u) >= 2 and u not in stop:
            kind[i] = 1
            latin.append(i)
    names: dict[int, str] = {}
    new = [uniq_l[i] for i in latin if uniq_l[i] not in known.keys]
    stems = _stemmer().stemWords(new)
    lat_keys = _hash(stems, _WORD)
    names.update(zip(lat_keys.tolist(), stems, strict=True))
    known.learn(new, list(lat_keys.reshape(-1, 1)), names)
    run_key = np.zeros(n_u, dtype=np.uint64)
    if latin:
        run_key[latin] = np.concatenate([known.keys[uniq_l[i]] for i in latin])
    # Han runs: their jieba words, as a CSR of keys per distinct run
    new = [uniq_l[i] for i in han_runs if uniq_l[i] not in known.keys]
    seg, seg_names = _segment(new)
    names.update(seg_names)
    known.learn(new, seg, seg_names)
    per_run = [known.keys[uniq_l[i]] for i in han_runs]
    flat_keys = np.concatenate(per_run) if per_run else np.zeros(0, np.uint64)
    n_words = np.zeros(n_u, dtype=np.int64)
    n_words[han_runs] = [k.size for k in per_run]
    start = np.zeros(n_u, dtype=np.int64)
    start[han_runs] = np.cumsum([0] + [k.size for k in per_run])[:-1]

    tok_kind = kind[codes]
    doc_of = np.cumsum(tok_kind == 0)
    # English words and the pairs of consecutive ones (a Han run or a document edge breaks it)
    kept = np.flatnonzero(tok_kind != 2)
    k_kind = tok_kind[kept]
    lat = k_kind == 1
    w_doc = [doc_of[kept[lat]]]
    w_key = [run_key[codes[kept[lat]]]]
    both = np.flatnonzero(lat[:-1] & lat[1:])
    a, b = run_key[codes[kept[both]]], run_key[codes[kept[both + 1]]]
    p_key = _pair_key(a, b)
    w_doc.append(doc_of[kept[both]])
    w_key.append(p_key)
    if both.size:
        pk, first = np.unique(p_key, return_index=True)
        pair_names = {
            k: f"{known.names[x]} {known.names[y]}"
            for k, x, y in zip(pk.tolist(), a[first].tolist(), b[first].tolist(), strict=True)
            if k not in known.names
        }
        names.update(pair_names)
        known.names.update(pair_names)
    # Han words
    h_tok = np.flatnonzero(tok_kind == 3)
    reps = n_words[codes[h_tok]]
    total = int(reps.sum())
    if total:
        owner = np.repeat(h_tok, reps)
        offset = np.arange(total) - np.repeat(np.cumsum(reps) - reps, reps)
        w_doc.append(doc_of[owner])
        w_key.append(flat_keys[start[codes[owner]] + offset])
    return np.concatenate(w_doc), np.concatenate(w_key), doc_of, names


def count_terms(
    texts: Sequence[str], first_doc: int = 0, known: TokenKeys | None = None
) -> TermCounts:
    """Count the terms (see the module docstring) of each text; documents are numbered from
    ``first_doc``. ``known``: the tokens other chunks of the corpus met (see
    :class:`TokenKeys`); then ``names`` holds only the keys it did not know yet."""
    stream = normalised_stream(texts)
    text = stream.tobytes().decode("utf-32-le")
    w_doc, w_key, _, names = _word_runs(text, TokenKeys() if known is None else known)
    doc_of = np.cumsum(stream == _SEP, dtype=np.int64)
    c_doc, c_key = _han_grams(stream, doc_of)
    doc = np.concatenate([w_doc, c_doc]).astype(np.int64)
    key = np.concatenate([w_key, c_key])
    return _count(doc + first_doc, key, names)


def _count(doc: np.ndarray, key: np.ndarray, names: dict[int, str]) -> TermCounts:
    code, uniq = pd.factorize(key, sort=False)
    n_uniq = max(len(uniq), 1)
    pair = doc * n_uniq + code
    pair.sort()
    first = np.flatnonzero(np.r_[True, pair[1:] != pair[:-1]]) if pair.size else pair
    counts = np.diff(np.r_[first, pair.size])
    d, t = np.divmod(pair[first], n_uniq)
    return TermCounts(np.asarray(uniq, dtype=np.uint64), d, t, counts.astype(np.int32), names)


def merge_counts(parts: Sequence[TermCounts]) -> TermCounts:
    """One ``TermCounts`` of several of disjoint documents, given in document order; its keys
    ascend."""
    if len(parts) == 1:
        return parts[0]
    names: dict[int, str] = {}
    for p in parts:
        names.update(p.names)
    code, uniq = pd.factorize(np.concatenate([p.keys for p in parts]), sort=True)
    bounds = np.cumsum([0] + [p.keys.size for p in parts])
    term = [code[a:b][p.term] for a, b, p in zip(bounds[:-1], bounds[1:], parts, strict=True)]
    return TermCounts(
        keys=np.asarray(uniq, dtype=np.uint64),
        doc=np.concatenate([p.doc for p in parts]),
        term=np.concatenate(term).astype(np.int64),
        count=np.concatenate([p.count for p in parts]),
        names=names,
    )
