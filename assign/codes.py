"""Discipline-code matching: the best-matching pair of codes of a proposal and an expert.

Codes are ``;``-separated (``0809;080901``). The same code scores 1, the same 4-character
field (``0809`` and ``080901``) ``field_weight``, the same 2-character group (``0809`` and
``0812``) ``group_weight``, otherwise 0; a side without codes scores 0 (and the affinity then
rests on text alone). Rows with the same codes share a code set, so the score of every pair
of sets is computed once (a table when small, indicator products otherwise).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

__all__ = ["CodeMatch", "CodeSets", "code_matches", "code_similarity", "parse_codes"]

_CODE_SPLIT = re.compile(r"[;；,，\s]+")
_SET_TABLE_LIMIT = 1 << 24  # set pairs up to which every pair's score is stored


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


def code_similarity(a: str, b: str, field_w: float, group_w: float) -> float:
    ka, kb = _code_keys(a), _code_keys(b)
    if ka[2] == kb[2]:
        return 1.0
    if ka[1] == kb[1]:
        return field_w
    if ka[0] == kb[0]:
        return group_w
    return 0.0


@dataclass(frozen=True)
class CodeMatch:
    """A pair of discipline codes that match; level: exact | field | group."""

    proposal_code: str
    expert_code: str
    level: str
    similarity: float


def code_matches(
    p_codes: Sequence[str], e_codes: Sequence[str], field_w: float, group_w: float
) -> list[CodeMatch]:
    """Every matching pair of codes, best first."""
    out: list[CodeMatch] = []
    for a in p_codes:
        for b in e_codes:
            sim = code_similarity(a, b, field_w, group_w)
            if a == b:
                out.append(CodeMatch(a, b, "exact", sim))
            elif _code_keys(a)[1] == _code_keys(b)[1]:
                out.append(CodeMatch(a, b, "field", sim))
            elif _code_keys(a)[0] == _code_keys(b)[0]:
                out.append(CodeMatch(a, b, "group", sim))
    out.sort(key=lambda m: (-m.similarity, m.proposal_code, m.expert_code))
    return out


def _code_sets(cells: Sequence[str]) -> tuple[tuple[tuple[str, ...], ...], np.ndarray, list]:
    """Codes of each row, (N,) int64 code-set id of each row, and the distinct code sets."""
    cell_id, uniq = pd.factorize(np.asarray(list(cells), dtype=object))
    parsed = [parse_codes(str(c)) for c in uniq]
    set_index: dict[tuple[str, ...], int] = {}
    set_of_cell = np.zeros(len(parsed), dtype=np.int64)
    for i, codes in enumerate(parsed):
        set_of_cell[i] = set_index.setdefault(tuple(sorted(codes)), len(set_index))
    rows = tuple(parsed[i] for i in cell_id.tolist())
    return rows, set_of_cell[cell_id], list(set_index)


def _indicator(sets: Sequence[tuple[str, ...]], level: int, keys: dict[str, int]) -> sp.csr_matrix:
    rows = [sorted({keys.setdefault(_code_keys(c)[level], len(keys)) for c in cs}) for cs in sets]
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    indptr[1:] = np.cumsum([len(k) for k in rows])
    idx = np.fromiter((k for ks in rows for k in ks), dtype=np.int32, count=int(indptr[-1]))
    return sp.csr_matrix((np.ones(idx.size, np.float32), idx, indptr), shape=(len(rows), 0))


@dataclass(frozen=True, eq=False)
class CodeSets:
    """Code sets of both sides and the score of any pair of sets.

    p_codes / e_codes: per-row codes; p_set (P,) / e_set (E,): int64 set id of each row.
    """

    p_codes: tuple[tuple[str, ...], ...]
    e_codes: tuple[tuple[str, ...], ...]
    p_set: np.ndarray
    e_set: np.ndarray
    ps_levels: tuple[sp.csr_matrix, ...]
    es_levels: tuple[sp.csr_matrix, ...]
    steps: tuple[float, float, float]
    table: np.ndarray | None

    @classmethod
    def build(
        cls, p_cells: Sequence[str], e_cells: Sequence[str], field_w: float, group_w: float
    ) -> CodeSets:
        p_codes, p_set, p_sets = _code_sets(p_cells)
        e_codes, e_set, e_sets = _code_sets(e_cells)
        ps: list[sp.csr_matrix] = []
        es: list[sp.csr_matrix] = []
        for level in range(3):
            keys: dict[str, int] = {}
            a, b = _indicator(p_sets, level, keys), _indicator(e_sets, level, keys)
            ps.append(sp.csr_matrix((a.data, a.indices, a.indptr), shape=(a.shape[0], len(keys))))
            es.append(sp.csr_matrix((b.data, b.indices, b.indptr), shape=(b.shape[0], len(keys))))
        steps = (float(group_w), float(field_w - group_w), float(1.0 - field_w))
        out = cls(p_codes, e_codes, p_set, e_set, tuple(ps), tuple(es), steps, None)
        if len(p_sets) * len(e_sets) <= _SET_TABLE_LIMIT:
            table = out._levels(np.arange(len(p_sets)), np.arange(len(e_sets)))
            object.__setattr__(out, "table", table)
        return out

    @property
    def any(self) -> bool:
        """Whether some pair of rows can match at all."""
        return any(c for c in self.p_codes) and any(c for c in self.e_codes)

    def _levels(self, ps: np.ndarray, es: np.ndarray) -> np.ndarray:
        out = np.zeros((ps.size, es.size), dtype=np.float32)
        for p_l, e_l, step in zip(self.ps_levels, self.es_levels, self.steps, strict=True):
            if step == 0.0:
                continue
            hit = (p_l[ps] @ e_l[es].T).toarray()
            np.minimum(hit, np.float32(1.0), out=hit)
            out += np.float32(step) * hit
        return out

    def block(self, rows: np.ndarray) -> np.ndarray:
        """(R, E) float32 code score of proposal rows ``rows`` against every expert."""
        sets, inv = np.unique(self.p_set[rows], return_inverse=True)
        all_e = np.arange(self.es_levels[0].shape[0])
        per_set = self.table[sets] if self.table is not None else self._levels(sets, all_e)
        return per_set[:, self.e_set][inv]

    def pairs(self, p: np.ndarray, e: np.ndarray) -> np.ndarray:
        """(C,) float32 code score of the pairs (p[i], e[i])."""
        ps, es = self.p_set[p], self.e_set[e]
        if self.table is not None:
            return self.table[ps, es]
        out = np.zeros(p.size, dtype=np.float32)
        for p_l, e_l, step in zip(self.ps_levels, self.es_levels, self.steps, strict=True):
            hit = np.asarray(p_l[ps].multiply(e_l[es]).sum(axis=1)).ravel()
            out += np.float32(step) * np.minimum(hit, 1.0).astype(np.float32)
        return out
