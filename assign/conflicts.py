"""Conflicts of interest (回避) between experts and proposals, each with a readable reason chain.

Two implementations of one policy:

- :func:`conflict_chains` / :func:`find_conflicts`: the bulk pass. It never enumerates expert ×
  proposal pairs; it walks from each proposal's units and people with frame joins, one function
  per relation kind (``_employment``, ``_former_employment``, ...).
- :class:`Explainer` / :func:`explain`: a walk on the ``networkx`` graph of :mod:`assign.graph`
  for one (expert, proposal) pair. It yields the same chains (tested).

A chain names people and units by name, proposals by id. It is a stored message
(:class:`models.i18n.Msg` as JSON text) rendered in the reader's language: ``张某 works at
苏南智能装备有限公司, a subsidiary of 江苏恒远集团, which leads proposal P-3002-07`` in English,
``张某任职于苏南智能装备有限公司，该公司为江苏恒远集团的子公司，江苏恒远集团牵头申报P-3002-07``
in Chinese (:func:`models.i18n.render_stored`).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields, replace
from datetime import date
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
import scipy.sparse as sp

from assign.graph import (
    DEFAULT_REACH,
    Normalised,
    Relatedness,
    RelatednessError,
    build_graph,
    name_maps,
    normalise,
    parse_dates,
    related_unit_pairs,
    related_units_in_graph,
    table,
    to_date,
    years_before,
)
from models.i18n import LIST, N_, JsonColumn, Msg, msg_column

#: Every conflict kind, in report order.
KINDS: tuple[str, ...] = (
    "employment",
    "former_employment",
    "unit_head",
    "team_member",
    "coauthor",
    "coapplicant",
    "advisor",
    "relative",
    "own_application",
    "similar_application",
    "recusal",
    "recusal_unit",
    "direction_expert",
)
_KIND_ORDER = {k: i for i, k in enumerate(KINDS)}
TEAM_SCOPES = {"pi": frozenset({"pi"}), "key": frozenset({"pi", "key", "joint_leader"})}
DEFAULT_POLICY_FILE = Path(__file__).with_name("conflict_policy.toml")
OUTPUT_COLUMNS = ["proposal_id", "expert_id", "kind", "reason"]


class ConflictPolicyError(ValueError):
    """A conflict policy (file or override) that cannot be used."""


@dataclass(frozen=True)
class ConflictPolicy:
    """Which relations make an expert conflicted with a proposal (defaults: conflict_policy.toml).

    kinds: enabled conflict kinds (subset of KINDS). unit_reach ⊆ {parent, subsidiary, sibling},
    shareholding and shareholding_threshold: which units are related (:attr:`relatedness`, the
    definition screening reads too). Windows in whole years before the batch date / batch
    year. team_scope: pi | key | all (whose personal relations count).
    similarity_threshold: TF-IDF cosine in (0, 1] for ``similar_application``.
    """

    kinds: frozenset[str] = frozenset(KINDS)
    unit_reach: frozenset[str] = DEFAULT_REACH
    shareholding: bool = True
    shareholding_threshold: float = 0.25
    former_employment_years: int = 2
    coauthor_years: int = 3
    coapplicant_years: int = 3
    team_scope: str = "all"
    direction_applicant: bool = True
    similarity_threshold: float = 0.6

    def __post_init__(self) -> None:
        object.__setattr__(self, "kinds", frozenset(self.kinds))
        object.__setattr__(self, "unit_reach", frozenset(self.unit_reach))
        bad = sorted(self.kinds - set(KINDS))
        if bad:
            raise ConflictPolicyError(
                f"unknown conflict kind(s) {', '.join(bad)}; use some of {', '.join(KINDS)}"
            )
        try:
            self.relatedness  # noqa: B018 - validates the unit keys
        except RelatednessError as exc:
            raise ConflictPolicyError(str(exc)) from None
        for name in ("former_employment_years", "coauthor_years", "coapplicant_years"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ConflictPolicyError(f"{name} must be a whole number >= 0, got {v!r}")
        if self.team_scope not in ("pi", "key", "all"):
            raise ConflictPolicyError(
                f"team_scope must be 'pi', 'key' or 'all', got {self.team_scope!r}"
            )
        t = self.similarity_threshold
        if isinstance(t, bool) or not isinstance(t, int | float) or not 0 < t <= 1:
            raise ConflictPolicyError(f"similarity_threshold must be in (0, 1], got {t!r}")
        if not isinstance(self.direction_applicant, bool):
            raise ConflictPolicyError("direction_applicant must be true or false")

    @property
    def relatedness(self) -> Relatedness:
        """Which units are related (关联单位), as the policy defines it."""
        return Relatedness(
            reach=self.unit_reach,
            shareholding=self.shareholding,
            shareholding_threshold=self.shareholding_threshold,
        )

    def team_roles(self, role: str | None) -> bool:
        """Whether a team member with this role is in scope for personal relations."""
        if self.team_scope == "all":
            return True
        return role in TEAM_SCOPES[self.team_scope]


def _policy_from_mapping(
    base: ConflictPolicy, data: Mapping[str, Any], where: str
) -> ConflictPolicy:
    names = {f.name for f in fields(ConflictPolicy)}
    bad = sorted(set(data) - names)
    if bad:
        raise ConflictPolicyError(
            f"{where}: unknown policy key(s) {', '.join(bad)}; "
            f"known keys: {', '.join(sorted(names))}"
        )
    values: dict[str, Any] = {}
    for k, v in data.items():
        if v is None:
            continue
        if k in ("kinds", "unit_reach"):
            if isinstance(v, str):
                v = [x.strip() for x in v.split(",") if x.strip()]
            v = frozenset(v)
        values[k] = v
    try:
        return replace(base, **values)
    except ConflictPolicyError as exc:
        raise ConflictPolicyError(f"{where}: {exc}") from None


def load_policy(path: str | Path | None = None, **overrides: Any) -> ConflictPolicy:
    """The default policy, updated by a TOML file (``path``) and then by keyword overrides.

    Overrides set to ``None`` are ignored (so a CLI can pass every option). Raises
    ConflictPolicyError naming the file and key for unknown keys or bad values.
    """
    with DEFAULT_POLICY_FILE.open("rb") as fh:
        policy = _policy_from_mapping(ConflictPolicy(), tomllib.load(fh), str(DEFAULT_POLICY_FILE))
    if path is not None:
        try:
            with Path(path).open("rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            raise ConflictPolicyError(
                f"conflict policy file {path} does not exist; give an existing TOML file"
            ) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConflictPolicyError(
                f"conflict policy file {path} is not valid TOML: {exc}"
            ) from None
        policy = _policy_from_mapping(policy, data, str(path))
    return _policy_from_mapping(policy, overrides, "override")


# ---------------------------------------------------------------------------------------------
# phrasing: every chain is a stored message (models.i18n), rendered later in the reader's
# language. A spec is (template, parameter names); the graph walk fills one with :func:`_one`,
# the bulk pass fills a whole column with :func:`_fill`, so both give the same stored text.

Spec = tuple[str, tuple[str, ...]]

#: How an applicant unit takes part (after the unit's name).
_APPLICANT: dict[str, Spec] = {
    "lead": (N_("which leads proposal {proposal}"), ("proposal",)),
    "joint": (
        N_("which carries joint direction {seq} of proposal {proposal}"),
        ("seq", "proposal"),
    ),
}
#: A unit related to an applicant unit (``other`` relative to ``unit``, relation codes of
#: :data:`assign.graph.RELATIONS`), then how ``unit`` applies (``app``).
_WHERE: dict[str, Spec] = {
    "same": (N_("{unit}, {app}"), ("unit", "app")),
    "subsidiary": (N_("{other}, a subsidiary of {unit}, {app}"), ("other", "unit", "app")),
    "controlled": (N_("{other}, controlled by {unit}, {app}"), ("other", "unit", "app")),
    "investee": (
        N_("{other}, of which {unit} holds {share:.0%}, {app}"),
        ("other", "unit", "share", "app"),
    ),
    "parent": (N_("{other}, the parent company of {unit}, {app}"), ("other", "unit", "app")),
    "controller": (N_("{other}, the controller of {unit}, {app}"), ("other", "unit", "app")),
    "shareholder": (
        N_("{other}, which holds {share:.0%} of {unit}, {app}"),
        ("other", "unit", "share", "app"),
    ),
    "sibling": (
        N_("{other}, a sister unit of {unit} (both under {via}), {app}"),
        ("other", "unit", "via", "app"),
    ),
}
#: A team member's place in a proposal (see :func:`_member_kind`).
_MEMBER: dict[str, Spec] = {
    "pi": (N_("the PI of proposal {proposal}"), ("proposal",)),
    "key": (N_("a key member of proposal {proposal}"), ("proposal",)),
    "joint_leader": (
        N_("the leader of joint direction {seq} of proposal {proposal}"),
        ("seq", "proposal"),
    ),
    "member": (N_("a member of proposal {proposal}"), ("proposal",)),
    "other": (N_("a team member ({role}) of proposal {proposal}"), ("role", "proposal")),
}
_YEAR: dict[str, Spec] = {
    "known": (N_("most recently {year}"), ("year",)),
    "unknown": (N_("year unknown"), ()),
}
#: Personal relations, keyed by relation kind ("advised_by": advisor_of, read backwards).
_PERSONAL_CHAIN: dict[str, Spec] = {
    "coauthor": (
        N_("{expert} co-authored with {other} ({year}), who is {member}"),
        ("expert", "other", "year", "member"),
    ),
    "coapplicant": (
        N_("{expert} co-applied with {other} ({year}), who is {member}"),
        ("expert", "other", "year", "member"),
    ),
    "advisor_of": (
        N_("{expert} was the advisor of {other}, who is {member}"),
        ("expert", "other", "member"),
    ),
    "advised_by": (
        N_("{expert} was advised by {other}, who is {member}"),
        ("expert", "other", "member"),
    ),
    "relative_of": (
        N_("{expert} is a relative of {other}, who is {member}"),
        ("expert", "other", "member"),
    ),
}
_RECUSAL: dict[str, Spec] = {
    "plain": (
        N_("the applicants of proposal {proposal} asked that {expert} not review it"),
        ("proposal", "expert"),
    ),
    "reason": (
        N_(
            "the applicants of proposal {proposal} asked that {expert} not review it "
            "(reason given: {reason})"
        ),
        ("proposal", "expert", "reason"),
    ),
}
_RECUSAL_UNIT: dict[str, Spec] = {
    "plain": (
        N_("{expert} works at {unit}, which the applicants of proposal {proposal} asked to avoid"),
        ("expert", "unit", "proposal"),
    ),
    "reason": (
        N_(
            "{expert} works at {unit}, which the applicants of proposal {proposal} asked to "
            "avoid (reason given: {reason})"
        ),
        ("expert", "unit", "proposal", "reason"),
    ),
}
_DIRECTION: dict[str, Spec] = {
    "drafter": (
        N_(
            "{expert} drafted guide direction {direction}, under which proposal {proposal} was "
            "submitted"
        ),
        ("expert", "direction", "proposal"),
    ),
    "advisor": (
        N_(
            "{expert} sits on the advisory committee of guide direction {direction}, under "
            "which proposal {proposal} was submitted"
        ),
        ("expert", "direction", "proposal"),
    ),
    "other": (
        N_(
            "{expert} has the role {role} for guide direction {direction}, under which "
            "proposal {proposal} was submitted"
        ),
        ("expert", "role", "direction", "proposal"),
    ),
}
_EMPLOYMENT = N_("{expert} works at {where}")
_FORMER = N_("{expert} worked until {end} at {where}")
_HEAD = N_("{expert} heads {unit}, {app}")
_TEAM = N_("{expert} is {member}")
_OWN = N_("{expert} is {member}, which is in guide direction {direction} like proposal {proposal}")
_SIMILAR = N_(
    "{expert} is {member}, whose title and abstract are {similarity:.2f} similar to those of "
    "proposal {proposal} (threshold {threshold:.2f})"
)


def _one(spec: Spec, **values: Any) -> Msg:
    """The message of ``spec`` with its parameters taken from ``values``."""
    template, names = spec
    return Msg(template, **{n: values[n] for n in names})


def _take(values: Any, idx: np.ndarray) -> Any:
    if isinstance(values, JsonColumn):
        return JsonColumn(np.asarray(values.values, dtype=object)[idx])
    return np.asarray(values, dtype=object)[idx]


def _fill(keys: Any, specs: Mapping[str, Spec], **columns: Any) -> np.ndarray:
    """(n,) stored messages: row i is ``_one(specs[keys[i]], **row i of columns)``, built
    column-wise, one :func:`msg_column` per distinct key."""
    keys = np.asarray(keys, dtype=object)
    out = np.empty(len(keys), dtype=object)
    for key in pd.unique(keys):
        idx = np.flatnonzero(keys == key)
        template, names = specs[key]
        if names:
            out[idx] = msg_column(template, **{n: _take(columns[n], idx) for n in names})
        else:
            out[idx] = Msg(template).to_json()
    return out


def _member_kind(role: str | None) -> str:
    if role is None:
        return "member"
    return role if role in ("pi", "key", "joint_leader", "member") else "other"


def _member(role: str | None, seq: int | None, proposal: str) -> Msg:
    return _one(_MEMBER[_member_kind(role)], role=role, seq=seq, proposal=proposal)


def _members(roles: Any, seqs: Any, proposals: Any) -> JsonColumn:
    """:func:`_member` of every row, stored."""
    kinds = [_member_kind(r) for r in roles]
    return JsonColumn(_fill(kinds, _MEMBER, role=roles, seq=seqs, proposal=proposals))


def _year(year: int | None) -> Msg:
    return _one(_YEAR["unknown" if year is None else "known"], year=year)


def _personal_key(kind: str, forward: bool) -> str:
    return "advised_by" if kind == "advisor_of" and not forward else kind


def _reason_key(reason: str | None) -> str:
    return "plain" if reason is None else "reason"


def _direction_key(role: str | None) -> str:
    return role if role in ("drafter", "advisor") else "other"


_PERSONAL = {
    "coauthor": "coauthor",
    "coapplicant": "coapplicant",
    "advisor_of": "advisor",
    "relative_of": "relative",
}


def _txt(v: Any) -> str | None:
    return v.strip() or None if isinstance(v, str) else None


# ---------------------------------------------------------------------------------------------
# text similarity (TF-IDF char 2-3-grams of title + abstract)


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


def _proposal_texts(proposals: pd.DataFrame) -> tuple[tuple[str, ...], list[str]]:
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
        return cls.from_texts(*_proposal_texts(proposals))

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


# ---------------------------------------------------------------------------------------------
# bulk pass


@dataclass(frozen=True, eq=False)
class _Batch:
    """Frames the bulk pass walks over (all ids as str)."""

    batch_date: date
    policy: ConflictPolicy
    experts: frozenset[str]
    pn: dict[str, str]
    un: dict[str, str]
    proposals: pd.DataFrame  # proposal_id, direction_code, lead_unit_id, pi_id
    applicant_units: pd.DataFrame  # proposal_id, unit_id, role (lead|joint), seq
    team: pd.DataFrame  # proposal_id, person_id, role, seq
    affiliations: pd.DataFrame  # expert_id, unit_id, status (current|former), end
    tables: Mapping[str, pd.DataFrame]  # normalised with :func:`assign.graph.table`
    _related: dict[str, pd.DataFrame] = field(default_factory=dict)

    def t(self, kind: str) -> pd.DataFrame:
        """The normalised table of this kind."""
        return self.tables[kind]

    def related(self) -> pd.DataFrame:
        """Applicant units joined with their related units (same unit included), cached.

        ``where``: the stored message "<unit, relation to the applicant unit>, which leads
        proposal P" etc."""
        if "r" not in self._related:
            au = self.applicant_units
            rel = related_unit_pairs(
                self.tables["unit_relations"],
                relatedness=self.policy.relatedness,
                include_same=True,
                units=au["unit_id"].unique(),
            )
            app = _fill(
                au["role"].to_numpy(dtype=object),
                _APPLICANT,
                seq=au["seq"].to_numpy(dtype=object),
                proposal=au["proposal_id"].to_numpy(dtype=object),
            )
            au = au.assign(app=pd.Series(app, index=au.index, dtype=object))
            aur = au.merge(rel, on="unit_id")
            un = self.un
            where = _fill(
                aur["relation"].to_numpy(dtype=object),
                _WHERE,
                other=_lookup(aur["other_unit_id"], un),
                unit=_lookup(aur["unit_id"], un),
                via=_lookup(aur["via"], un),
                share=aur["share"].to_numpy(dtype=object),
                app=JsonColumn(aur["app"].to_numpy(dtype=object)),
            )
            aur = aur.drop(columns=["app"]).assign(
                where=pd.Series(where, index=aur.index, dtype=object)
            )
            self._related["r"] = aur
        return self._related["r"]


def _seq(v: Any) -> int | None:
    if v is None or v is pd.NA or (isinstance(v, float) and v != v):
        return None
    try:
        return int(float(v))
    except (TypeError, ValueError):
        return None


def _years(s: pd.Series) -> np.ndarray:
    """(n,) float: each value as whole years like :func:`_seq` (truncated), NaN when missing."""
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        x = s.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        x = np.array(
            [np.nan if (v := _seq(y)) is None else v for y in s.tolist()], dtype=np.float64
        )
    return np.trunc(x)


def _objects(s: pd.Series, fn: Any) -> pd.Series:
    """``fn`` applied to each value, kept as Python objects (None stays None, not NaN)."""
    return pd.Series([fn(v) for v in s.tolist()], index=s.index, dtype=object)


def _lookup(ids: Any, mapping: Mapping[Any, str]) -> np.ndarray:
    """(n,) object array: ``mapping[id]``, or the id itself when it has no entry.

    One dictionary look-up per distinct id (hash factorisation does the rest)."""
    codes, uniq = pd.factorize(np.asarray(ids, dtype=object), use_na_sentinel=False)
    return np.array([mapping.get(u, u) for u in uniq], dtype=object)[codes]


def _expert_set(
    tables: Mapping[str, pd.DataFrame], experts: Sequence[str] | None
) -> frozenset[str]:
    if experts is not None:
        return frozenset(str(e) for e in experts)
    ex = table(tables, "experts")
    return frozenset(e for e in ex["expert_id"].tolist() if e is not None)


def _affiliations(
    tables: Mapping[str, pd.DataFrame], who: frozenset[str] | None, batch_date: date, years: int
) -> pd.DataFrame:
    """Current and former (within ``years``) employers: expert_id, unit_id, status, end.

    Current: ``people.unit_id`` or an employment row with no end date or ending on/after the
    batch date. Former: ended before the batch date and after ``batch_date - years``; a unit
    that is current is never also former; of several former rows the latest end is kept.
    """
    people = table(tables, "people")
    cur = people[["person_id", "unit_id"]].dropna()
    emp = table(tables, "employment")
    emp = emp[emp["person_id"].notna() & emp["unit_id"].notna()]
    if who is not None:  # only the experts' rows matter (each person is handled on their own)
        cur = cur[cur["person_id"].isin(who)]
        emp = emp[emp["person_id"].isin(who)]
    emp = emp.copy()
    end = parse_dates(emp["end_date"])
    bd = pd.Timestamp(batch_date)
    cutoff = pd.Timestamp(years_before(batch_date, years))
    is_cur = end.isna() | (end >= bd)
    is_former = ~is_cur & (end > cutoff)
    a = pd.concat(
        [cur, emp.loc[is_cur, ["person_id", "unit_id"]]], ignore_index=True
    ).drop_duplicates()
    a["status"] = "current"
    a["end"] = None
    f = emp.loc[is_former, ["person_id", "unit_id"]].copy()
    f["end"] = end[is_former].dt.date.astype(object)
    f = f.sort_values("end").drop_duplicates(["person_id", "unit_id"], keep="last")
    f["status"] = "former"
    f = f.merge(a[["person_id", "unit_id"]], how="left", indicator=True)
    f = f[f["_merge"] == "left_only"].drop(columns="_merge")
    out = pd.concat([a, f[["person_id", "unit_id", "status", "end"]]], ignore_index=True)
    out = out.rename(columns={"person_id": "expert_id"})
    if who is not None:
        out = out[out["expert_id"].isin(who)]
    return out.reset_index(drop=True)


def _prepare(
    tables: Mapping[str, pd.DataFrame],
    *,
    batch_date: date,
    policy: ConflictPolicy,
    experts: Sequence[str] | None,
) -> _Batch:
    pn, un = name_maps(tables)
    props = table(tables, "proposals")
    props = props[props["proposal_id"].notna()].drop_duplicates("proposal_id")
    props = props[["proposal_id", "direction_code", "lead_unit_id", "pi_id"]].reset_index(drop=True)
    known = set(props["proposal_id"])
    lead = props[props["lead_unit_id"].notna()][["proposal_id", "lead_unit_id"]]
    lead = lead.rename(columns={"lead_unit_id": "unit_id"})
    lead = lead.assign(role="lead", seq=None)
    jd = table(tables, "joint_directions")
    jd = jd[jd["proposal_id"].isin(known)]
    ju = jd[jd["unit_id"].notna()][["proposal_id", "unit_id", "seq"]].copy()
    ju["seq"] = _objects(ju["seq"], _seq)
    ju = ju.merge(lead[["proposal_id", "unit_id"]], how="left", indicator=True)
    ju = ju[ju["_merge"] == "left_only"].drop(columns="_merge").assign(role="joint")
    au = pd.concat([lead, ju[["proposal_id", "unit_id", "role", "seq"]]], ignore_index=True)
    au = au.astype(object).drop_duplicates().reset_index(drop=True)

    pi = props[props["pi_id"].notna()][["proposal_id", "pi_id"]].rename(
        columns={"pi_id": "person_id"}
    )
    pi = pi.assign(role="pi", seq=None)
    tm = table(tables, "team_members")
    tm = tm[tm["proposal_id"].isin(known) & tm["person_id"].notna()][
        ["proposal_id", "person_id", "role"]
    ].copy()
    tm["role"] = _objects(tm["role"], lambda r: r if isinstance(r, str) and r else None)
    tm["seq"] = None
    jl = jd[jd["leader_id"].notna()][["proposal_id", "leader_id", "seq"]].rename(
        columns={"leader_id": "person_id"}
    )
    jl = jl.assign(role="joint_leader", seq=_objects(jl["seq"], _seq))
    team = pd.concat([pi, tm, jl[["proposal_id", "person_id", "role", "seq"]]], ignore_index=True)
    team = team.astype(object).drop_duplicates().reset_index(drop=True)
    ex = _expert_set(tables, experts)
    aff = _affiliations(tables, ex, batch_date, policy.former_employment_years)
    return _Batch(
        batch_date=batch_date,
        policy=policy,
        experts=ex,
        pn=pn,
        un=un,
        proposals=props,
        applicant_units=au,
        team=team,
        affiliations=aff,
        tables=tables,
    )


def _iter(df: pd.DataFrame, cols: list[str]) -> Iterator[tuple[Any, ...]]:
    """Rows of ``df[cols]`` as plain Python tuples (fast; NaN/None kept as they are)."""
    return zip(*(df[c].tolist() for c in cols), strict=True)


def _frame(p: Any, e: Any, kind: str, reasons: Any) -> pd.DataFrame:
    """A frame of chains from equal-length sequences (lists, arrays or Series)."""
    obj = np.asarray
    return pd.DataFrame(
        {
            "proposal_id": obj(p, dtype=object),
            "expert_id": obj(e, dtype=object),
            "kind": kind,
            "reason": obj(reasons, dtype=object),
        }
    )


def _employment_rows(b: _Batch, status: str) -> pd.DataFrame:
    aur = b.related()
    aff = b.affiliations[b.affiliations["status"] == status]
    m = aur[["proposal_id", "other_unit_id", "where"]].merge(
        aff[["expert_id", "unit_id", "end"]].rename(columns={"unit_id": "other_unit_id"}),
        on="other_unit_id",
    )
    names = _lookup(m["expert_id"], b.pn)
    where = JsonColumn(m["where"].to_numpy(dtype=object))
    if status == "current":
        reasons = msg_column(_EMPLOYMENT, expert=names, where=where)
    else:
        ends = _lookup(m["end"], {d: d.isoformat() for d in set(aff["end"])})
        reasons = msg_column(_FORMER, expert=names, end=ends, where=where)
    kind = "employment" if status == "current" else "former_employment"
    return _frame(m["proposal_id"], m["expert_id"], kind, reasons)


def _employment(b: _Batch) -> pd.DataFrame:
    """Expert works at an applicant unit or a unit related to one."""
    return _employment_rows(b, "current")


def _former_employment(b: _Batch) -> pd.DataFrame:
    """Expert left an applicant (or related) unit within the former-employment window."""
    return _employment_rows(b, "former")


def _unit_head(b: _Batch) -> pd.DataFrame:
    """Expert heads the lead unit or a joint unit."""
    units = b.t("units")
    heads = units[units["head_id"].isin(b.experts) & units["unit_id"].notna()][
        ["unit_id", "head_id"]
    ]
    m = b.applicant_units.merge(heads, on="unit_id")
    app = _fill(
        m["role"].to_numpy(dtype=object),
        _APPLICANT,
        seq=m["seq"].to_numpy(dtype=object),
        proposal=m["proposal_id"].to_numpy(dtype=object),
    )
    reasons = msg_column(
        _HEAD,
        expert=_lookup(m["head_id"], b.pn),
        unit=_lookup(m["unit_id"], b.un),
        app=JsonColumn(app),
    )
    return _frame(m["proposal_id"], m["head_id"], "unit_head", reasons)


def _team_member(b: _Batch) -> pd.DataFrame:
    """Expert is on the proposal's team (PI, key member, member, joint-direction leader)."""
    t = b.team[b.team["person_id"].isin(b.experts)]
    reasons = msg_column(
        _TEAM,
        expert=_lookup(t["person_id"], b.pn),
        member=_members(t["role"].tolist(), t["seq"].tolist(), t["proposal_id"].tolist()),
    )
    return _frame(t["proposal_id"], t["person_id"], "team_member", reasons)


def _personal_relations(b: _Batch) -> pd.DataFrame:
    """Coauthor/coapplicant (within their windows), advisor, relative of a team member in scope."""
    pol = b.policy
    pr = b.t("person_relations")
    pr = pr[pr["person_id"].notna() & pr["other_person_id"].notna()]
    pr = pr[pr["person_id"] != pr["other_person_id"]]
    pr = pr[pr["kind"].isin([k for k, v in _PERSONAL.items() if v in pol.kinds])]
    year = _years(pr["year"])  # whole years, NaN when missing or unreadable
    by = b.batch_date.year
    first = {"coauthor": by - pol.coauthor_years, "coapplicant": by - pol.coapplicant_years}
    first_year = pr["kind"].map(first).to_numpy(dtype=np.float64)  # NaN: no window
    inside = ~(year < first_year)  # comparisons with NaN are False
    pr = pr[inside]
    years = [None if y != y else int(y) for y in year[inside].tolist()]
    pr = pr.assign(year=pd.Series(years, index=pr.index, dtype=object))
    fwd = pr.rename(columns={"person_id": "expert_id", "other_person_id": "other"}).assign(
        forward=True
    )
    rev = pr.rename(columns={"other_person_id": "expert_id", "person_id": "other"}).assign(
        forward=False
    )
    both = pd.concat([fwd, rev], ignore_index=True)[
        ["expert_id", "other", "kind", "year", "forward"]
    ]
    team = b.team
    if pol.team_scope != "all":  # roles in scope (ConflictPolicy.team_roles, on the column)
        team = team[team["role"].isin(TEAM_SCOPES[pol.team_scope])]
    team = team.rename(columns={"person_id": "other"})
    both = both[both["expert_id"].isin(b.experts) & both["other"].isin(team["other"])]
    team = team[team["other"].isin(both["other"])]
    # the year once per relation row, the member once per team row; the join pairs them up
    year_keys = ["unknown" if y is None else "known" for y in both["year"].tolist()]
    both = both.assign(
        year_msg=pd.Series(
            _fill(year_keys, _YEAR, year=both["year"].to_numpy(dtype=object)),
            index=both.index,
            dtype=object,
        ),
        chain=[_personal_key(k, f) for k, f in _iter(both, ["kind", "forward"])],
    )
    member = _members(team["role"].tolist(), team["seq"].tolist(), team["proposal_id"].tolist())
    team = team[["other", "proposal_id"]].assign(
        member=pd.Series(member.values, index=team.index, dtype=object)
    )
    m = both.merge(team, on="other")
    reasons = _fill(
        m["chain"].to_numpy(dtype=object),
        _PERSONAL_CHAIN,
        expert=_lookup(m["expert_id"], b.pn),
        other=_lookup(m["other"], b.pn),
        year=JsonColumn(m["year_msg"].to_numpy(dtype=object)),
        member=JsonColumn(m["member"].to_numpy(dtype=object)),
    )
    return _frame(m["proposal_id"], m["expert_id"], "", reasons).assign(
        kind=_lookup(m["kind"], _PERSONAL)
    )


def _own_team(b: _Batch) -> pd.DataFrame:
    t = b.team[b.team["person_id"].isin(b.experts)]
    return t.rename(columns={"proposal_id": "own_id", "person_id": "expert_id"})


def _own_application(b: _Batch) -> pd.DataFrame:
    """Expert applies (any team role) in the same guide direction as the proposal."""
    if not b.policy.direction_applicant:
        return _frame([], [], "own_application", [])
    own = _own_team(b).merge(
        b.proposals[["proposal_id", "direction_code"]].rename(columns={"proposal_id": "own_id"}),
        on="own_id",
    )
    own = own[own["direction_code"].notna()]
    member = _members(own["role"].tolist(), own["seq"].tolist(), own["own_id"].tolist())
    own = own[["expert_id", "own_id", "direction_code"]].assign(
        member=pd.Series(member.values, index=own.index, dtype=object)
    )
    m = own.merge(b.proposals[["proposal_id", "direction_code"]], on="direction_code")
    m = m[m["proposal_id"] != m["own_id"]]
    reasons = msg_column(
        _OWN,
        expert=_lookup(m["expert_id"], b.pn),
        member=JsonColumn(m["member"].to_numpy(dtype=object)),
        direction=m["direction_code"].to_numpy(dtype=object),
        proposal=m["proposal_id"].to_numpy(dtype=object),
    )
    return _frame(m["proposal_id"], m["expert_id"], "own_application", reasons)


def _similar_search(b: _Batch, text: TextIndex | None) -> Callable[[], pd.DataFrame] | None:
    """The text search of ``similar_application`` as a no-argument job (None: no own proposals).

    The frames are read here; the job itself runs NumPy/SciPy only (TF-IDF fit when ``text`` is
    None, then :meth:`TextIndex.neighbours`) and returns (source, target, similarity)."""
    own = _own_team(b)
    if own.empty:
        return None
    sources = own["own_id"].unique().tolist()
    thr = b.policy.similarity_threshold
    if text is not None:
        ready = text
        return lambda: ready.neighbours(sources, threshold=thr)
    ids, texts = _proposal_texts(b.t("proposals"))
    return lambda: TextIndex.from_texts(ids, texts).neighbours(sources, threshold=thr)


def _similar_rows(b: _Batch, nb: pd.DataFrame) -> pd.DataFrame:
    """Chains of ``similar_application`` from the search result ``nb``."""
    own = _own_team(b)
    m = own.merge(nb.rename(columns={"source": "own_id", "target": "proposal_id"}), on="own_id")
    reasons = msg_column(
        _SIMILAR,
        expert=_lookup(m["expert_id"], b.pn),
        member=_members(m["role"].tolist(), m["seq"].tolist(), m["own_id"].tolist()),
        similarity=[float(x) for x in m["similarity"].tolist()],
        proposal=m["proposal_id"].to_numpy(dtype=object),
        threshold=[float(b.policy.similarity_threshold)] * len(m),
    )
    return _frame(m["proposal_id"], m["expert_id"], "similar_application", reasons)


def _recusals(b: _Batch) -> pd.DataFrame:
    """Applicants asked to avoid the expert (``recusal``) or the expert's current unit."""
    rec = b.t("recusals")
    rec = rec[rec["proposal_id"].isin(set(b.proposals["proposal_id"]))]
    frames = []
    if "recusal" in b.policy.kinds:
        r = rec[rec["person_id"].isin(b.experts)]
        why = [_txt(v) for v in r["reason"].tolist()]
        reasons = _fill(
            [_reason_key(w) for w in why],
            _RECUSAL,
            proposal=r["proposal_id"].to_numpy(dtype=object),
            expert=_lookup(r["person_id"], b.pn),
            reason=why,
        )
        frames.append(_frame(r["proposal_id"], r["person_id"], "recusal", reasons))
    if "recusal_unit" in b.policy.kinds:
        r = rec[rec["unit_id"].notna()][["proposal_id", "unit_id", "reason"]]
        cur = b.affiliations[b.affiliations["status"] == "current"][["expert_id", "unit_id"]]
        m = r.merge(cur, on="unit_id")
        why = [_txt(v) for v in m["reason"].tolist()]
        reasons = _fill(
            [_reason_key(w) for w in why],
            _RECUSAL_UNIT,
            expert=_lookup(m["expert_id"], b.pn),
            unit=_lookup(m["unit_id"], b.un),
            proposal=m["proposal_id"].to_numpy(dtype=object),
            reason=why,
        )
        frames.append(_frame(m["proposal_id"], m["expert_id"], "recusal_unit", reasons))
    return pd.concat(frames, ignore_index=True) if frames else _frame([], [], "recusal", [])


def _direction_expert(b: _Batch) -> pd.DataFrame:
    """Expert drafted the proposal's guide direction or sits on its advisory committee."""
    de = b.t("direction_experts")
    de = de[de["person_id"].isin(b.experts) & de["direction_code"].notna()]
    m = de[["person_id", "direction_code", "role"]].merge(
        b.proposals[["proposal_id", "direction_code"]], on="direction_code"
    )
    roles = [_txt(r) for r in m["role"].tolist()]
    reasons = _fill(
        [_direction_key(r) for r in roles],
        _DIRECTION,
        expert=_lookup(m["person_id"], b.pn),
        role=[r or "?" for r in roles],
        direction=m["direction_code"].to_numpy(dtype=object),
        proposal=m["proposal_id"].to_numpy(dtype=object),
    )
    return _frame(m["proposal_id"], m["person_id"], "direction_expert", reasons)


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in OUTPUT_COLUMNS})


def _group_starts(*keys: np.ndarray) -> np.ndarray:
    """First row of each run of equal ``keys`` (rows already sorted by them)."""
    n = len(keys[0])
    new = np.ones(n, dtype=bool)
    if n:
        diff = np.zeros(n - 1, dtype=bool)
        for key in keys:
            diff |= key[1:] != key[:-1]
        new[1:] = diff
    return np.flatnonzero(new)


def _sort_within(reason: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Sort ``reason`` inside each group (in place); returns a keep-mask without repeats.

    Groups of two (the common case) are compared and swapped in one vectorised step."""
    n = len(reason)
    keep = np.ones(n, dtype=bool)
    sizes = np.diff(np.append(starts, n))
    two = starts[sizes == 2]
    if two.size:
        a, b = reason[two], reason[two + 1]
        swap = (b < a).astype(bool)
        reason[two[swap]], reason[two[swap] + 1] = b[swap], a[swap]
        keep[two + 1] = (a != b).astype(bool)
    for g in np.flatnonzero(sizes > 2):
        lo, hi = starts[g], starts[g] + sizes[g]
        distinct = sorted(set(reason[lo:hi]))
        reason[lo : lo + len(distinct)] = distinct
        keep[lo + len(distinct) : hi] = False
    return keep


def _join_groups(reason: np.ndarray, starts: np.ndarray, sep: str) -> np.ndarray:
    """(G,) each group's values joined with ``sep`` (vectorised by position in the group)."""
    n = len(reason)
    sizes = np.diff(np.append(starts, n))
    out = reason[starts].copy()
    live = np.flatnonzero(sizes > 1)
    j = 1
    while live.size:
        out[live] = out[live] + sep + reason[starts[live] + j]
        j += 1
        live = live[sizes[live] > j]
    return out


def _join_stored_groups(reason: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """(G,) each group's stored messages as one (:func:`models.i18n.join_stored`, vectorised):
    a group of one keeps its message, a larger one becomes a list message."""
    sizes = np.diff(np.append(starts, len(reason)))
    out = _join_groups(reason, starts, ", ")
    many = np.flatnonzero(sizes > 1)
    if many.size:
        out[many] = msg_column(LIST, items=JsonColumn("[" + out[many] + "]"))
    return out


@dataclass(frozen=True, eq=False)
class _Sorted:
    """Distinct chains sorted by (proposal_id, expert_id, kind order, reason).

    p, e: (N,) object ids; k: (N,) kind index; reason: (N,) object; starts: (G,) first row of
    each (proposal, expert, kind) group."""

    p: np.ndarray
    e: np.ndarray
    k: np.ndarray
    reason: np.ndarray
    starts: np.ndarray

    @classmethod
    def from_frame(cls, df: pd.DataFrame) -> _Sorted:
        pc, pu = pd.factorize(df["proposal_id"].to_numpy(dtype=object), sort=True)
        ec, eu = pd.factorize(df["expert_id"].to_numpy(dtype=object), sort=True)
        kc, ku = pd.factorize(df["kind"].to_numpy(dtype=object))
        kind = np.array([_KIND_ORDER[x] for x in ku], dtype=np.int64)[kc]
        order = np.lexsort((kind, ec, pc))
        pc, ec, kind = pc[order], ec[order], kind[order]
        reason = df["reason"].to_numpy(dtype=object)[order]
        keep = _sort_within(reason, _group_starts(pc, ec, kind))
        if not keep.all():
            pc, ec, kind, reason = pc[keep], ec[keep], kind[keep], reason[keep]
        starts = _group_starts(pc, ec, kind)
        p = np.asarray(pu, dtype=object)[pc]
        e = np.asarray(eu, dtype=object)[ec]
        return cls(p=p, e=e, k=kind, reason=reason, starts=starts)

    def chains(self) -> pd.DataFrame:
        kinds = np.array(KINDS, dtype=object)
        return pd.DataFrame(
            {
                "proposal_id": pd.Series(self.p, dtype=object),
                "expert_id": pd.Series(self.e, dtype=object),
                "kind": pd.Series(kinds[self.k], dtype=object),
                "reason": pd.Series(self.reason, dtype=object),
            }
        )

    def per_kind(self) -> pd.DataFrame:
        st = self.starts
        reason = _join_stored_groups(self.reason, st)
        kinds = np.array(KINDS, dtype=object)
        return pd.DataFrame(
            {
                "proposal_id": pd.Series(self.p[st], dtype=object),
                "expert_id": pd.Series(self.e[st], dtype=object),
                "kind": pd.Series(kinds[self.k[st]], dtype=object),
                "reason": pd.Series(reason, dtype=object),
            }
        )


def _sort(df: pd.DataFrame) -> pd.DataFrame:
    """Rows ordered by proposal, expert, kind order, reason; duplicates dropped."""
    return _empty() if df.empty else _Sorted.from_frame(df).chains()


def _chain_rows(
    tables: Mapping[str, pd.DataFrame],
    *,
    batch_date: date,
    policy: ConflictPolicy | None,
    experts: Sequence[str] | None,
    text: TextIndex | None,
) -> _Sorted | None:
    """Every chain of the enabled kinds, distinct and sorted (None when there are none)."""
    policy = policy or load_policy()
    b = _prepare(Normalised(tables), batch_date=batch_date, policy=policy, experts=experts)
    k = policy.kinds
    parts: list[pd.DataFrame] = []
    # the text search (NumPy/SciPy, mostly without the GIL) overlaps the frame joins below
    search = _similar_search(b, text) if "similar_application" in k else None
    with ThreadPoolExecutor(max_workers=1) as pool:
        similar = pool.submit(search) if search is not None else None
        if "employment" in k:
            parts.append(_employment(b))
        if "former_employment" in k:
            parts.append(_former_employment(b))
        if "unit_head" in k:
            parts.append(_unit_head(b))
        if "team_member" in k:
            parts.append(_team_member(b))
        if k & {"coauthor", "coapplicant", "advisor", "relative"}:
            parts.append(_personal_relations(b))
        if "own_application" in k:
            parts.append(_own_application(b))
        if k & {"recusal", "recusal_unit"}:
            parts.append(_recusals(b))
        if "direction_expert" in k:
            parts.append(_direction_expert(b))
        if similar is not None:
            parts.append(_similar_rows(b, similar.result()))
    parts = [p for p in parts if len(p)]
    if not parts:
        return None
    return _Sorted.from_frame(pd.concat(parts, ignore_index=True))


def conflict_chains(
    tables: Mapping[str, pd.DataFrame],
    *,
    batch_date: date,
    policy: ConflictPolicy | None = None,
    experts: Sequence[str] | None = None,
    text: TextIndex | None = None,
) -> pd.DataFrame:
    """Every reason chain: columns proposal_id, expert_id, kind, reason (one row per chain; the
    reason is a stored message, see the module docstring).

    experts: ids to check (default: every row of ``experts``). text: a prebuilt TextIndex
    (else fitted on the batch's proposals when ``similar_application`` is on).
    """
    rows = _chain_rows(tables, batch_date=batch_date, policy=policy, experts=experts, text=text)
    return _empty() if rows is None else rows.chains()


def find_conflicts(
    tables: Mapping[str, pd.DataFrame],
    *,
    batch_date: date,
    policy: ConflictPolicy | None = None,
    experts: Sequence[str] | None = None,
    text: TextIndex | None = None,
) -> pd.DataFrame:
    """Conflicted pairs: columns proposal_id, expert_id, kind, reason; one row per (pair, kind).

    ``reason`` holds that kind's chains (sorted) as one stored message
    (:func:`models.i18n.join_stored`). Never enumerates all pairs.
    """
    rows = _chain_rows(tables, batch_date=batch_date, policy=policy, experts=experts, text=text)
    return _empty() if rows is None else rows.per_kind()


def collapse_conflicts(conflicts: pd.DataFrame) -> pd.DataFrame:
    """One row per pair: proposal_id, expert_id, kinds (";"-joined in KINDS order), reason (the
    pair's chains as one stored message)."""
    cols = ("proposal_id", "expert_id", "kinds", "reason")
    if conflicts.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    df = _sort(conflicts)
    p = df["proposal_id"].to_numpy(dtype=object)
    e = df["expert_id"].to_numpy(dtype=object)
    kind = df["kind"].to_numpy(dtype=object)
    reason = df["reason"].to_numpy(dtype=object)
    starts = _group_starts(p, e)
    kinds = _join_groups(kind, starts, ";")
    reasons = _join_stored_groups(reason, starts)
    data = (p[starts], e[starts], kinds, reasons)
    return pd.DataFrame({c: pd.Series(v, dtype=object) for c, v in zip(cols, data, strict=True)})


def conflict_pairs(conflicts: pd.DataFrame) -> set[tuple[str, str]]:
    """The set of conflicted (proposal_id, expert_id) pairs."""
    return set(zip(conflicts["proposal_id"].tolist(), conflicts["expert_id"].tolist(), strict=True))


# ---------------------------------------------------------------------------------------------
# graph walk


class Explainer:
    """Reason chains for one (expert, proposal) pair at a time, by walking the graph.

    Build once per batch (graph and text index), then call :meth:`chains` / :meth:`explain`.
    """

    def __init__(
        self,
        tables: Mapping[str, pd.DataFrame],
        *,
        batch_date: date,
        policy: ConflictPolicy | None = None,
        graph: nx.MultiDiGraph | None = None,
        text: TextIndex | None = None,
    ) -> None:
        self.policy = policy or load_policy()
        self.batch_date = batch_date
        tables = normalise(tables)
        self.graph = graph if graph is not None else build_graph(tables)
        self._tables = tables
        self._text = text
        props = table(tables, "proposals")
        self._proposals = set(props["proposal_id"].dropna())

    @property
    def text(self) -> TextIndex:
        if self._text is None:
            self._text = TextIndex.from_proposals(table(self._tables, "proposals"))
        return self._text

    def _name(self, node: tuple[str, str]) -> str:
        return str(self.graph.nodes[node].get("name", node[1])) if node in self.graph else node[1]

    def _applicant_units(self, pnode: tuple[str, str]) -> list[tuple[str, str, int | None]]:
        g = self.graph
        lead = {u[1] for u, _, d in g.in_edges(pnode, data=True) if d["kind"] == "lead_unit"}
        out = {(u, "lead", None) for u in lead}
        for u, _, d in g.in_edges(pnode, data=True):
            if d["kind"] == "joint_unit" and u[1] not in lead:
                out.add((u[1], "joint", d.get("seq")))
        return sorted(out, key=lambda t: (t[0], t[1], t[2] or 0))

    def _team(self, pnode: tuple[str, str]) -> set[tuple[str, str | None, int | None]]:
        return {
            (u[1], d.get("role"), d.get("seq"))
            for u, _, d in self.graph.in_edges(pnode, data=True)
            if d["kind"] == "team_member"
        }

    def _direction(self, pnode: tuple[str, str]) -> str | None:
        for _, d, data in self.graph.out_edges(pnode, data=True):
            if data["kind"] == "in_direction":
                return str(d[1])
        return None

    def _employers(self, enode: tuple[str, str]) -> tuple[set[str], dict[str, date]]:
        cutoff = years_before(self.batch_date, self.policy.former_employment_years)
        current: set[str] = set()
        former: dict[str, date] = {}
        if enode not in self.graph:
            return current, former
        for u, _, d in self.graph.in_edges(enode, data=True):
            if d["kind"] != "employs":
                continue
            end = d.get("end")
            if d.get("current") or end is None or end >= self.batch_date:
                current.add(u[1])
            elif end > cutoff:
                former[u[1]] = max(end, former.get(u[1], end))
        return current, {u: e for u, e in former.items() if u not in current}

    def chains(self, expert_id: str, proposal_id: str) -> list[tuple[str, str]]:
        """(kind, chain) pairs for the pair (chains as stored messages, the same texts the bulk
        pass gives), sorted by kind order then text; [] if none."""
        g, pol = self.graph, self.policy
        pnode, enode = ("proposal", proposal_id), ("person", expert_id)
        if proposal_id not in self._proposals or pnode not in g:
            return []
        ename = self._name(enode)
        out: set[tuple[str, str]] = set()
        role: str | None  # applicant-unit roles and team roles share the loop names

        def add(kind: str, msg: Msg) -> None:
            out.add((kind, msg.to_json()))

        units = self._applicant_units(pnode)
        current, former = self._employers(enode)
        if current or former:
            for y, role, seq in units:
                app = _one(_APPLICANT[role], seq=seq, proposal=proposal_id)
                for x, rel, via, share in related_units_in_graph(g, y, relatedness=pol.relatedness):
                    where = _one(
                        _WHERE[rel],
                        other=self._name(("unit", x)),
                        unit=self._name(("unit", y)),
                        via=None if via is None else self._name(("unit", via)),
                        share=share,
                        app=app,
                    )
                    if x in current and "employment" in pol.kinds:
                        add("employment", Msg(_EMPLOYMENT, expert=ename, where=where))
                    if x in former and "former_employment" in pol.kinds:
                        end = former[x].isoformat()
                        add("former_employment", Msg(_FORMER, expert=ename, end=end, where=where))
        edges_out = list(g.out_edges(enode, data=True)) if enode in g else []
        edges_in = list(g.in_edges(enode, data=True)) if enode in g else []
        if "unit_head" in pol.kinds:
            heads = {u[1] for _, u, d in edges_out if d["kind"] == "head_of"}
            for y, role, seq in units:
                if y in heads:
                    app = _one(_APPLICANT[role], seq=seq, proposal=proposal_id)
                    add(
                        "unit_head",
                        Msg(_HEAD, expert=ename, unit=self._name(("unit", y)), app=app),
                    )
        team = self._team(pnode)
        if "team_member" in pol.kinds:
            for person, role, seq in team:
                if person == expert_id:
                    add(
                        "team_member",
                        Msg(_TEAM, expert=ename, member=_member(role, seq, proposal_id)),
                    )
        personal = [(o, d, True) for _, o, d in edges_out] + [(o, d, False) for o, _, d in edges_in]
        by = self.batch_date.year
        win = {"coauthor": pol.coauthor_years, "coapplicant": pol.coapplicant_years}
        for other, d, forward in personal:
            k = d["kind"]
            if k not in _PERSONAL or _PERSONAL[k] not in pol.kinds or other[1] == expert_id:
                continue
            year = d.get("year")
            if k in win and year is not None and year < by - win[k]:
                continue
            for person, role, seq in team:
                if person == other[1] and pol.team_roles(role):
                    add(
                        _PERSONAL[k],
                        _one(
                            _PERSONAL_CHAIN[_personal_key(k, forward)],
                            expert=ename,
                            other=self._name(other),
                            year=_year(year),
                            member=_member(role, seq, proposal_id),
                        ),
                    )
        own = [
            (q[1], d.get("role"), d.get("seq"))
            for _, q, d in edges_out
            if d["kind"] == "team_member" and q[1] != proposal_id and q[1] in self._proposals
        ]
        direction = self._direction(pnode)
        if "own_application" in pol.kinds and pol.direction_applicant and direction is not None:
            for q, role, seq in own:
                if self._direction(("proposal", q)) == direction:
                    add(
                        "own_application",
                        Msg(
                            _OWN,
                            expert=ename,
                            member=_member(role, seq, q),
                            direction=direction,
                            proposal=proposal_id,
                        ),
                    )
        if "similar_application" in pol.kinds and own:
            thr = float(pol.similarity_threshold)
            for q, role, seq in own:
                sim = float(self.text.pairs([q], [proposal_id])[0])
                if sim >= thr:
                    add(
                        "similar_application",
                        Msg(
                            _SIMILAR,
                            expert=ename,
                            member=_member(role, seq, q),
                            similarity=sim,
                            proposal=proposal_id,
                            threshold=thr,
                        ),
                    )
        for _, target, d in g.out_edges(pnode, data=True):
            if d["kind"] != "recusal":
                continue
            why = _txt(d.get("reason"))
            if target == enode and "recusal" in pol.kinds:
                add(
                    "recusal",
                    _one(
                        _RECUSAL[_reason_key(why)], proposal=proposal_id, expert=ename, reason=why
                    ),
                )
            if target[0] == "unit" and target[1] in current and "recusal_unit" in pol.kinds:
                add(
                    "recusal_unit",
                    _one(
                        _RECUSAL_UNIT[_reason_key(why)],
                        expert=ename,
                        unit=self._name(target),
                        proposal=proposal_id,
                        reason=why,
                    ),
                )
        if "direction_expert" in pol.kinds and direction is not None:
            for _, dnode, d in edges_out:
                if d["kind"] == "direction_role" and dnode[1] == direction:
                    role = _txt(d.get("role"))
                    add(
                        "direction_expert",
                        _one(
                            _DIRECTION[_direction_key(role)],
                            expert=ename,
                            role=role or "?",
                            direction=direction,
                            proposal=proposal_id,
                        ),
                    )
        return sorted(out, key=lambda t: (_KIND_ORDER[t[0]], t[1]))

    def explain(self, expert_id: str, proposal_id: str) -> list[str]:
        """The reason chains for the pair as stored messages (sorted by kind, then text); empty
        if not conflicted. ``models.i18n.render_stored`` shows them in a language."""
        return [c for _, c in self.chains(expert_id, proposal_id)]


def explain(
    tables: Mapping[str, pd.DataFrame],
    expert_id: str,
    proposal_id: str,
    *,
    batch_date: date,
    policy: ConflictPolicy | None = None,
    graph: nx.MultiDiGraph | None = None,
) -> list[str]:
    """Reason chains why ``expert_id`` may not review ``proposal_id`` ([] when none)."""
    return Explainer(tables, batch_date=batch_date, policy=policy, graph=graph).explain(
        expert_id, proposal_id
    )


def batch_date_of(tables: Mapping[str, pd.DataFrame], batch_id: str | None = None) -> date | None:
    """``batches.batch_date`` of the given (or the only) batch, else None."""
    b = table(tables, "batches")
    if batch_id is not None:
        b = b[b["batch_id"] == batch_id]
    dates = [d for d in (to_date(v) for v in b["batch_date"]) if d is not None]
    return dates[0] if len(dates) == 1 or (dates and batch_id is not None) else None
