"""The specialty match: terms, per-document scoring, codes that only lift, shortlists."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assign.affinity import AffinityInputError, AffinityModel, fit_affinity, top_candidates
from assign.affinity_explain import explain
from assign.doc_match import block_candidates, smooth_max, top_of_rows
from assign.problem import AssignmentProblem
from assign.sparse_affinity import affinity_frame
from assign.terms import count_terms, normalise_text, term_name
from scripts.bench_affinity import synthesise


def _terms(text: str) -> set[str]:
    c = count_terms([text])
    return {term_name(int(k), c.names) for k in c.keys[c.term]}


def test_chinese_is_read_as_words_and_characters() -> None:
    got = _terms("碳化硅功率器件的可靠性")
    assert {"碳化硅", "功率", "器件", "可靠性"} <= got  # jieba words
    assert {"碳", "硅", "碳化", "功率"} <= got  # characters and character pairs
    assert "硅功率器件" not in got


def test_english_words_are_stemmed_without_stop_words_and_paired() -> None:
    got = _terms("The networks of Power-Electronics")
    assert {"network", "power", "electron", "power electron", "network power"} <= got
    assert not {"the", "of"} & got


def _frames(
    e_pubs: Mapping[str, Sequence[tuple[str, int | None]]], profiles: dict[str, str]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    experts = pd.DataFrame(
        {
            "expert_id": list(profiles),
            "keywords": "",
            "profile": list(profiles.values()),
            "disciplines": "",
        }
    )
    pubs = pd.DataFrame(
        [
            {"expert_id": e, "title": t, "abstract": "", "keywords": "", "year": y}
            for e, items in e_pubs.items()
            for t, y in items
        ],
        columns=["expert_id", "title", "abstract", "keywords", "year"],
    )
    return experts, pubs, pd.DataFrame()


def _proposals(*texts: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "proposal_id": [f"P{i}" for i in range(len(texts))],
            "title": list(texts),
            "keywords": "",
            "abstract": "",
            "disciplines": "",
        }
    )


_BROAD = [
    "graph neural networks for molecules",
    "reinforcement learning for robot control",
    "speech recognition with transformers",
    "convex optimization for sparse regression",
    "computer vision for medical images",
]


def test_one_close_paper_beats_a_broad_profile() -> None:
    # the specialist has one paper on the topic among unrelated ones; the generalist's profile
    # mentions the topic's words spread over a broad text
    experts, pubs, _ = _frames(
        {
            "SPEC": [("peer review assignment by min cost flow", 2020)]
            + [("protein folding kinetics", 2019), ("soil erosion models", 2018)],
            "GEN": [(t, 2020) for t in _BROAD],
        },
        {"SPEC": "", "GEN": "machine learning, review of flow and assignment methods"},
    )
    props = _proposals("reviewer assignment with min cost flow for peer review")
    model = fit_affinity(props, experts, None, pubs)
    row = model.dense_block(np.array([0]))[0]
    assert row[model.expert_index("SPEC")] > row[model.expert_index("GEN")]


def test_smooth_max_lies_between_mean_and_max_and_prefers_several_close_works() -> None:
    w = np.ones(3)
    one = smooth_max(np.array([0.6, 0.0, 0.0]), w, np.array([0]), 0.1)[0]
    two = smooth_max(np.array([0.6, 0.6, 0.0]), w, np.array([0]), 0.1)[0]
    assert 0.2 < one < 0.6 and one < two < 0.6


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.floats(0, 1), min_size=1, max_size=8),
    st.floats(0.01, 1.0),
)
def test_smooth_max_bounds(values: list[float], tau: float) -> None:
    s = np.array(values)
    w = np.linspace(1.0, 0.2, s.size)
    got = smooth_max(s, w, np.array([0]), tau)[0]
    assert np.average(s, weights=w) - 1e-9 <= got <= s.max() + 1e-9


def test_recent_work_weighs_more() -> None:
    experts, pubs, _ = _frames(
        {
            "NEW": [("min cost flow assignment", 2024), ("coral reef ecology", 2004)],
            "OLD": [("min cost flow assignment", 2004), ("coral reef ecology", 2024)],
        },
        {"NEW": "", "OLD": ""},
    )
    model = fit_affinity(_proposals("assignment by min cost flow"), experts, None, pubs)
    row = model.dense_block(np.array([0]))[0]
    assert row[model.expert_index("NEW")] > row[model.expert_index("OLD")]


def test_codes_only_lift_the_text_score() -> None:
    experts, pubs, _ = _frames(
        {"A": [("min cost flow assignment", 2020)], "B": [("min cost flow assignment", 2020)]},
        {"A": "", "B": ""},
    )
    props = _proposals("assignment by min cost flow")
    plain = fit_affinity(props, experts, None, pubs).dense_block(np.array([0]))[0]
    coded = fit_affinity(
        props.assign(disciplines=["0812"]),
        experts.assign(disciplines=["0812", "0101"]),
        None,
        pubs,
    ).dense_block(np.array([0]))[0]
    assert plain[0] == pytest.approx(plain[1])
    assert coded[1] == pytest.approx(plain[1], abs=1e-6)  # codes differ: text alone
    assert coded[0] == pytest.approx(plain[0] + 0.4 * (1 - plain[0]), abs=1e-6)


@pytest.fixture(scope="module")
def medium() -> AffinityModel:
    proposals, experts, guide = synthesise(60, 90, seed=3)
    return fit_affinity(proposals, experts, guide)


def test_shortlist_keeps_exact_scores_of_the_best(medium: AffinityModel) -> None:
    proposals, experts, guide = synthesise(60, 90, seed=3)
    short = fit_affinity(proposals, experts, guide, shortlist=20)
    full = medium.dense_block(slice(None))
    part = short.dense_block(slice(None))
    held = part > 0
    np.testing.assert_allclose(part[held], full[held], rtol=1e-6)
    assert (held.sum(axis=1) <= 20).all()
    # the shortlist holds most of each proposal's true top 5
    top5 = np.argsort(-full, axis=1)[:, :5]
    assert np.take_along_axis(held, top5, axis=1).mean() > 0.8


def test_views_agree(medium: AffinityModel) -> None:
    full = medium.dense_block(slice(None))
    assert full.dtype == np.float32 and full.min() >= 0 and full.max() <= 1
    aff = top_candidates(medium, top_n=7, per_expert=0)
    np.testing.assert_array_equal(aff.cand_w, full[aff.cand_p, aff.cand_e])
    np.testing.assert_array_equal(medium.pair_scores(aff.cand_p, aff.cand_e), aff.cand_w)
    cols = np.array([3, 0, 77])
    np.testing.assert_array_equal(medium.expert_block(cols), full[:, cols])
    for p in range(medium.n_proposals):
        chosen = aff.cand_e[aff.cand_p == p]
        rest = np.setdiff1d(np.arange(medium.n_experts), chosen)
        assert full[p, chosen].min() >= full[p, rest].max()


def test_exclusions_are_not_spent_and_every_expert_is_covered(medium: AffinityModel) -> None:
    base = top_candidates(medium, top_n=5, per_expert=2)
    excl = {
        (medium.proposal_ids[p], medium.expert_ids[e])
        for p, e in zip(base.cand_p[::2], base.cand_e[::2], strict=True)
    }
    aff = top_candidates(medium, top_n=5, per_expert=2, exclude=excl | {("nobody", "E1")})
    got = set(zip(aff.cand_p.tolist(), aff.cand_e.tolist(), strict=True))
    assert not {(medium.proposal_index(p), medium.expert_index(e)) for p, e in excl} & got
    assert np.bincount(aff.cand_p, minlength=medium.n_proposals).min() >= 5
    full = medium.dense_block(slice(None))
    positive = (full > 0).sum(axis=0)
    assert (np.bincount(aff.cand_e, minlength=medium.n_experts) >= np.minimum(positive, 2)).all()


def test_deterministic_whatever_the_threads() -> None:
    proposals, experts, guide = synthesise(60, 90, seed=4)
    a = fit_affinity(proposals, experts, guide, n_threads=1, shortlist=30)
    b = fit_affinity(proposals, experts, guide, n_threads=2, shortlist=30)
    np.testing.assert_array_equal(a.dense_block(slice(None)), b.dense_block(slice(None)))


def test_block_candidates_uses_int64_pairs(medium: AffinityModel) -> None:
    q = medium.q[:4]
    r, e, w = block_candidates(q, q, medium.experts, codes=None, code_weight=0.0, shortlist=10)
    assert r.dtype == np.int64 and e.dtype == np.int64 and w.dtype == np.float32
    assert np.bincount(r).tolist() == [10] * 4


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 6), st.integers(1, 40), st.integers(0, 2**31 - 1))
def test_top_of_rows_matches_brute_force(n: int, width: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    block = rng.integers(0, 5, (3, width)).astype(np.float32)  # many ties
    n = min(n, width)
    r, c = top_of_rows(block, n)
    assert (np.diff(r * width + c) > 0).all()  # sorted by (row, column)
    for i in range(3):
        want = sorted(range(width), key=lambda j: (-block[i, j], j))[:n]
        assert sorted(c[r == i].tolist()) == sorted(want)


def test_result_feeds_the_assignment_problem(medium: AffinityModel) -> None:
    aff = top_candidates(medium, top_n=8)
    problem = AssignmentProblem(
        proposal_ids=aff.proposal_ids,
        expert_ids=aff.expert_ids,
        cand_p=aff.cand_p,
        cand_e=aff.cand_e,
        cand_w=aff.cand_w,
    )
    assert problem.cand_w.size == aff.nnz
    assert list(affinity_frame(aff).columns) == ["proposal_id", "expert_id", "score"]


def test_explanation_names_the_closest_work_and_shared_terms() -> None:
    experts, pubs, _ = _frames(
        {"A": [("soil erosion", 2019), ("碳化硅功率器件可靠性", 2021)]}, {"A": "功率半导体"}
    )
    props = _proposals("高压碳化硅功率器件研制").assign(disciplines=["080903"])
    model = fit_affinity(props, experts.assign(disciplines=["080903"]), None, pubs)
    ex = explain(model, "P0", "A", top_terms=3)
    assert ex.closest_document == "碳化硅功率器件可靠性"
    assert "碳化硅" in [t.text for t in ex.top_terms]
    assert ex.shared_codes == ("080903",)
    assert ex.score == pytest.approx(float(model.dense_block(np.array([0]))[0, 0]), rel=1e-5)
    with pytest.raises(AffinityInputError) as err:
        explain(model, "P9", "A")
    assert str(err.value) == "proposal P9 is not in the affinity model; fit it with that proposal"


def test_bad_inputs() -> None:
    experts, pubs, _ = _frames({}, {"A": "x"})
    with pytest.raises(AffinityInputError, match="lacks column"):
        fit_affinity(pd.DataFrame({"proposal_id": ["P"]}), experts)
    with pytest.raises(AffinityInputError, match="duplicate proposal ids: P0"):
        fit_affinity(pd.concat([_proposals("a"), _proposals("b")]), experts)
    with pytest.raises(AffinityInputError, match="tau must be a number > 0"):
        fit_affinity(_proposals("a"), experts, tau=0)


def test_assignment_problems_read_the_publications() -> None:
    from assign.pipeline import AssignOptions, build_problem
    from data.build_guide import load_guide
    from data.generate import generate_batch

    tables = generate_batch(load_guide(), n_experts=150, n_proposals=40, seed=2)
    pubs = tables["publications"]
    assert pubs.groupby("expert_id").size().between(3, 15).all()
    args = {
        "proposal_ids": tables["proposals"]["proposal_id"].tolist(),
        "expert_ids": tables["experts"]["expert_id"].tolist(),
        "conflicts": pd.DataFrame({"proposal_id": [], "expert_id": []}),
        "options": AssignOptions(k=3, max_load=6),
    }
    with_pubs, _ = build_problem(tables, **args)
    without, _ = build_problem({**tables, "publications": pubs.iloc[:0]}, **args)
    assert not np.array_equal(with_pubs.cand_w, without.cand_w)


def test_terms_counted_on_threads_match_one_thread() -> None:
    from concurrent.futures import ThreadPoolExecutor

    texts = [
        " ".join(f"networking{i} optimizations{j} generalizations" for j in range(40))
        for i in range(400)
    ]
    parts = [texts[k::8] for k in range(8)]
    with ThreadPoolExecutor(4) as pool:
        threaded = list(pool.map(count_terms, parts))
    for got, part in zip(threaded, parts, strict=True):
        want = count_terms(part)
        assert got.names == want.names
        np.testing.assert_array_equal(got.keys[got.term], want.keys[want.term])


def test_chunks_sharing_token_keys_count_as_chunks_alone() -> None:
    from assign.terms import TokenKeys, merge_counts

    rng = np.random.default_rng(7)
    words = ["碳化硅功率器件", "可靠性", "深度学习", "networks", "Power-Electronics", "the",
             "图像识别算法", "optimisation", "桥梁", "健康监测", "x", "钢结构"]  # fmt: skip
    texts = [" ".join(rng.choice(words, size=int(rng.integers(0, 9)))) for _ in range(90)]
    known = TokenKeys()
    shared = [count_terms(texts[a : a + 20], first_doc=a, known=known) for a in range(0, 90, 20)]
    alone = [count_terms(texts[a : a + 20], first_doc=a) for a in range(0, 90, 20)]
    got, want = merge_counts(shared), merge_counts(alone)
    for field in ("keys", "doc", "term", "count"):
        np.testing.assert_array_equal(getattr(got, field), getattr(want, field))
    assert got.names == want.names
    assert sum(len(c.names) for c in shared) == len(want.names)  # each name learnt once


def test_han_runs_are_segmented_as_jieba_cuts_each_alone() -> None:
    import rjieba

    texts = ["碳化硅功率器件的可靠性 图像识别 and 深度学习算法", "桥梁健康监测，钢结构疲劳"]
    got = count_terms(texts)
    runs = [r for t in texts for r in normalise_text(t).split() if "\u4e00" <= r[0] <= "\u9fff"]
    jieba_words = {w for r in runs for w in rjieba.cut(r)}
    names = {term_name(int(k), got.names) for k in got.keys}
    assert jieba_words <= names
    assert not {n for n in names if len(n) > 2 and "\u4e00" <= n[0] <= "\u9fff"} - jieba_words
