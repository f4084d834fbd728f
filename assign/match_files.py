"""Plain files for ``reviewopt affinity``: proposals, experts and publications CSVs read and
checked, every problem reported at once (file, row, column, value, expectation).

- proposals: ``proposal_id, title, abstract`` and optionally ``keywords`` (``;``-separated)
  and ``disciplines``;
- experts: ``expert_id`` and optionally ``keywords``, ``profile``, ``disciplines``;
- publications: ``expert_id, title`` and optionally ``abstract``, ``keywords``, ``year``
  (several rows per expert; every expert must be in the experts file).

Row numbers count the header as row 1, as a spreadsheet shows them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from assign.affinity import fit_affinity, top_candidates
from assign.embeddings import load_embedder
from assign.files import read_table
from assign.sparse_affinity import SparseAffinity
from models.problems import InvalidInput, Problem

__all__ = ["MatchInput", "match_pairs", "read_match_files", "write_pairs"]

_OPTIONAL = {
    "proposals": ("keywords", "disciplines"),
    "experts": ("keywords", "profile", "disciplines"),
    "publications": ("abstract", "keywords", "year"),
}
_YEARS = (1900, 2100)


@dataclass(frozen=True)
class MatchInput:
    """The three tables as string frames with every column ``fit_affinity`` reads."""

    proposals: pd.DataFrame
    experts: pd.DataFrame
    publications: pd.DataFrame | None


def _with_optional(df: pd.DataFrame, kind: str) -> pd.DataFrame:
    for col in _OPTIONAL[kind]:
        if col not in df.columns:
            df[col] = ""
    return df


def _ids(df: pd.DataFrame, col: str, name: str, problems: list[Problem]) -> None:
    """Ids are present and, for proposals and experts, each given once."""
    first: dict[str, int] = {}
    for i, v in enumerate(df[col].str.strip().tolist(), start=2):
        if not v:
            problems.append(Problem(name, i, col, v, "a non-empty id"))
        elif v in first:
            problems.append(Problem(name, i, col, v, f"each id once (already on row {first[v]})"))
        else:
            first[v] = i


def read_match_files(
    proposals: Path, experts: Path, publications: Path | None = None
) -> MatchInput:
    """Read and check the files; raise ``InvalidInput`` listing every problem."""
    problems: list[Problem] = []
    props = read_table(proposals, ("proposal_id", "title", "abstract"), problems)
    exps = read_table(experts, ("expert_id",), problems)
    pubs = (
        read_table(publications, ("expert_id", "title"), problems)
        if publications is not None
        else None
    )
    if props is not None:
        _ids(props, "proposal_id", proposals.name, problems)
    if exps is not None:
        _ids(exps, "expert_id", experts.name, problems)
    if pubs is not None and publications is not None:
        known = set(exps["expert_id"].str.strip()) if exps is not None else set()
        name = publications.name
        pubs = _with_optional(pubs, "publications")
        for i, (e, t, y) in enumerate(
            zip(pubs["expert_id"].str.strip(), pubs["title"].str.strip(), pubs["year"].str.strip(),
                strict=True),
            start=2,
        ):  # fmt: skip
            if exps is not None and e not in known:
                problems.append(Problem(name, i, "expert_id", e, f"an expert_id of {experts.name}"))
            if not t:
                problems.append(Problem(name, i, "title", t, "a non-empty title"))
            if y and not (y.isdigit() and _YEARS[0] <= int(y) <= _YEARS[1]):
                problems.append(
                    Problem(name, i, "year", y, f"a year from {_YEARS[0]} to {_YEARS[1]}, or empty")
                )
    if problems:
        raise InvalidInput(problems)
    assert props is not None and exps is not None
    props = _with_optional(props, "proposals")
    exps = _with_optional(exps, "experts")
    for frame, col in ((props, "proposal_id"), (exps, "expert_id")):
        frame[col] = frame[col].str.strip()
    if pubs is not None:
        pubs["expert_id"] = pubs["expert_id"].str.strip()
        pubs["year"] = pd.to_numeric(pubs["year"].str.strip(), errors="coerce")
    return MatchInput(props, exps, pubs)


def match_pairs(
    inp: MatchInput, *, top: int | None, embedding_model: Path | None = None
) -> SparseAffinity:
    """Every pair scored (``top`` None) or each proposal's ``top`` best experts, by
    ``fit_affinity`` (with the sentence-transformers model in folder ``embedding_model``
    beside the lexical match); scores in [0, 1], higher is better."""
    n_e = len(inp.experts)
    options: dict[str, Any] = {}
    if embedding_model is not None:
        options["embedder"] = load_embedder(embedding_model)
    if top is None:
        options["shortlist"] = max(n_e, 1)
    model = fit_affinity(inp.proposals, inp.experts, None, inp.publications, **options)
    if top is not None:
        return top_candidates(model, top_n=top, per_expert=0)
    n_p = model.n_proposals
    return SparseAffinity(
        model.proposal_ids,
        model.expert_ids,
        np.repeat(np.arange(n_p, dtype=np.int64), n_e),
        np.tile(np.arange(n_e, dtype=np.int64), n_p),
        model.dense_block(slice(None)).ravel().astype(np.float64),
    )


def write_pairs(aff: SparseAffinity, path: Path) -> int:
    """Write ``proposal,expert,score`` (the form ``reviewopt solve --scores`` reads); return
    the number of rows."""
    frame = aff.to_frame().rename(columns={"proposal_id": "proposal", "expert_id": "expert"})
    frame.to_csv(path, index=False, float_format="%.6f", encoding="utf-8")
    return len(frame)
