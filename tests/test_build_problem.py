"""k per batch, per direction and per proposal when the assignment problem is built."""

from __future__ import annotations

from datetime import date

import pytest

from assign.conflicts import find_conflicts
from assign.pipeline import AssignOptions, PipelineInputError, build_problem
from assign.solver import solve
from data.build_guide import load_guide
from data.generate import generate_batch


@pytest.fixture(scope="module")
def small() -> tuple[dict, object]:
    guide = load_guide()
    tables = generate_batch(
        guide[guide["code"].isin(["3001", "3002"])], n_experts=120,
        proposals_per_direction=(6, 6), seed=5,
    )  # fmt: skip
    day = date.fromisoformat(str(tables["batches"]["batch_date"].iloc[0]))
    return tables, find_conflicts(tables, batch_date=day)


def _build(small: tuple, **options: object):
    tables, conflicts = small
    return build_problem(
        tables,
        proposal_ids=tables["proposals"]["proposal_id"].tolist(),
        expert_ids=tables["experts"]["expert_id"].tolist(),
        conflicts=conflicts,
        options=AssignOptions(**options),  # type: ignore[arg-type]
    )[0]


def test_proposal_over_direction_over_batch(small: tuple) -> None:
    tables, _ = small
    props = tables["proposals"]
    one = props.loc[props["direction_code"] == "3002", "proposal_id"].iloc[0]
    problem = _build(small, k=3, k_by_direction={"3002": 4}, k_by_proposal={one: 2})
    direction = dict(zip(props["proposal_id"], props["direction_code"], strict=True))
    for pid, k in zip(problem.proposal_ids, problem.k.tolist(), strict=True):
        assert k == (2 if pid == one else 4 if direction[pid] == "3002" else 3)
    res = solve(problem)
    got = {pid: 0 for pid in problem.proposal_ids}
    for p in res.pair_p.tolist():
        got[problem.proposal_ids[p]] += 1
    assert got == dict(zip(problem.proposal_ids, problem.k.tolist(), strict=True))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"k_by_direction": {"9999": 2}}, "unknown directions: 9999"),
        ({"k_by_proposal": {"P-nope": 2}}, "not in this assignment (unknown, or rejected"),
        ({"k_by_proposal": {"P-nope": 0}}, "k per proposal must be >= 1"),
    ],
)
def test_overrides_naming_nothing_are_errors(small: tuple, options: dict, message: str) -> None:
    with pytest.raises(PipelineInputError, match=message.replace("(", r"\(")):
        _build(small, k=3, **options)
