"""Widening candidates where a capped draw finds them, not the batch, too narrow."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from assign.conflicts import find_conflicts
from assign.draw import check_draw, draw_assignment
from assign.pipeline import AssignOptions, build_problem, draw_widening, widen
from assign.problem import Status
from data.build_guide import load_guide
from data.generate import generate_batch


@pytest.fixture(scope="module")
def narrow() -> tuple[object, object]:
    tables = generate_batch(load_guide(), n_experts=220, n_proposals=160, seed=3)
    day = date.fromisoformat(str(tables["batches"]["batch_date"].iloc[0]))
    return build_problem(
        tables,
        proposal_ids=tables["proposals"]["proposal_id"].tolist(),
        expert_ids=tables["experts"]["expert_id"].tolist(),
        conflicts=find_conflicts(tables, batch_date=day),
        options=AssignOptions(k=3, max_load=3, top_n=4, per_expert=1),
    )


def test_widen_adds_only_new_eligible_pairs(narrow: tuple) -> None:
    problem, model = narrow
    some = list(problem.proposal_ids[:5])
    wider = widen(problem, model, some, extra=7)
    n_e = problem.n_experts
    old = set((problem.cand_p * n_e + problem.cand_e).tolist())
    new = (wider.cand_p * n_e + wider.cand_e)[problem.cand_p.size :]
    assert len(new) == 5 * 7 and not set(new.tolist()) & old
    assert set((wider.cand_p[problem.cand_p.size :]).tolist()) == set(range(5))
    conflicted = set((problem.conflict_p * n_e + problem.conflict_e).tolist())
    assert not set(new.tolist()) & conflicted
    full = model.dense_block(np.arange(5))
    added = wider.cand_w[problem.cand_p.size :]
    np.testing.assert_allclose(
        added, full[wider.cand_p[problem.cand_p.size :], wider.cand_e[problem.cand_p.size :]],
        rtol=1e-6,
    )  # fmt: skip


def test_widen_beyond_leaves_out_the_full_experts(narrow: tuple) -> None:
    problem, model = narrow
    some = list(problem.proposal_ids[:5])
    plain = widen(problem, model, some, extra=7)
    taken = sorted({problem.expert_ids[e] for e in plain.cand_e[problem.cand_p.size :]})
    wider = widen(problem, model, some, extra=7, beyond=taken)
    added = {problem.expert_ids[e] for e in wider.cand_e[problem.cand_p.size :]}
    assert len(added) > 0 and not added & set(taken)


def test_draw_widening_turns_a_candidate_shortage_into_a_valid_draw(narrow: tuple) -> None:
    problem, model = narrow
    assert draw_assignment(problem, q=0.5, seed=1).status == Status.INFEASIBLE
    wider, drawn = draw_widening(problem, model, q=0.5, seed=1, extra=20)
    assert drawn.status != Status.INFEASIBLE
    assert wider.cand_p.size > problem.cand_p.size
    assert check_draw(wider, drawn) == []
    assert drawn.marginals.max() <= 0.5 + 1e-9
    again_problem, again = draw_widening(problem, model, q=0.5, seed=1, extra=20)
    np.testing.assert_array_equal(again.assignment.pairs, drawn.assignment.pairs)
