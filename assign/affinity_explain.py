"""Why a pair scores what it does: shared codes, the expert's closest document, shared terms."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from assign.affinity import AffinityModel
from assign.codes import CodeMatch, code_matches
from assign.doc_match import combine, smooth_max
from assign.terms import term_name

__all__ = ["Explanation", "SharedTerm", "explain"]


@dataclass(frozen=True)
class SharedTerm:
    """A term both texts contain; weight: its share of the closest document's cosine."""

    text: str
    weight: float


@dataclass(frozen=True)
class Explanation:
    """score = 1 - (1 - text)(1 - code_weight * codes); text: the smooth max of the
    proposal's cosine with each of the expert's documents, the closest one named
    (``closest_document``: its title, '' for the keywords and profile)."""

    proposal_id: str
    expert_id: str
    score: float
    text_score: float
    code_score: float
    code_weight: float
    shortlisted: bool
    shared_codes: tuple[str, ...]
    code_matches: tuple[CodeMatch, ...]
    closest_document: str
    closest_similarity: float
    top_terms: tuple[SharedTerm, ...]


def explain(
    model: AffinityModel, proposal_id: str, expert_id: str, *, top_terms: int = 5
) -> Explanation:
    """The pair's score and parts; ``shortlisted``: whether the pair is among the proposal's
    shortlist (outside it, the model's matrix holds 0)."""
    p = model.proposal_index(proposal_id)
    e = model.expert_index(expert_id)
    ex = model.experts
    a, b = int(ex.doc_ptr[e]), int(ex.doc_ptr[e + 1])
    q = model.q[p]
    text, closest, closest_sim = 0.0, "", 0.0
    terms: list[SharedTerm] = []
    if b > a:
        sims = (q @ ex.docs[a:b].T).toarray().ravel().astype(np.float64)
        text = float(smooth_max(sims, ex.weight[a:b], np.zeros(1, np.int64), ex.tau)[0])
        best = int(np.argmax(sims))
        closest, closest_sim = model.doc_titles[a + best], float(sims[best])
        prod = q.multiply(ex.docs[a + best]).tocoo()
        order = np.argsort(-prod.data, kind="stable")[:top_terms]
        total = float(prod.data.sum()) or 1.0
        terms = [
            SharedTerm(
                term_name(int(model.term_keys[prod.col[i]]), model.term_names),
                float(prod.data[i]) / total,
            )
            for i in order
        ]
    matches = code_matches(
        model.codes.p_codes[p], model.codes.e_codes[e],
        model.code_field_weight, model.code_group_weight,
    )  # fmt: skip
    code = max((m.similarity for m in matches), default=0.0)
    score = float(combine(np.array([text]), np.array([code]), model.code_weight)[0])
    return Explanation(
        proposal_id=proposal_id,
        expert_id=expert_id,
        score=score,
        text_score=max(0.0, min(1.0, text)),
        code_score=code,
        code_weight=model.code_weight,
        shortlisted=bool(model.pair_scores(np.array([p]), np.array([e]))[0] > 0),
        shared_codes=tuple(m.proposal_code for m in matches if m.level == "exact"),
        code_matches=tuple(matches),
        closest_document=closest,
        closest_similarity=closest_sim,
        top_terms=tuple(terms),
    )
