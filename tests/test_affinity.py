from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import TfidfVectorizer

import assign.affinity as affinity_module
from assign.affinity import (
    AffinityFileError,
    AffinityInputError,
    AffinityModel,
    SparseAffinity,
    _char_tfidf,
    _code_sets,
    _doc_chunks,
    _normalised_stream,
    _stream_strings,
    _top_of_rows,
    affinity_frame,
    explain,
    fit_affinity,
    load_affinity_file,
    normalise_text,
    top_candidates,
)
from assign.problem import AssignmentProblem
from scripts.bench_affinity import synthesise


def _tiny() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    proposals = pd.DataFrame(
        {
            "proposal_id": ["P1", "P2"],
            "direction_code": ["1002", "6001"],
            "title": ["新能源光储用碳化硅功率器件研发", "新型脑机接口装备研发"],
            "keywords": ["碳化硅;功率器件;MOSFET", "脑机接口;神经调控"],
            "abstract": ["研制高压碳化硅功率器件，提升栅氧可靠性。", "研究神经血流耦合机制。"],
            "disciplines": ["080903", "1007"],
        }
    )
    experts = pd.DataFrame(
        {
            "expert_id": ["E1", "E2", "E3", "E4"],
            "keywords": ["碳化硅功率器件;封装", "水稻育种", "水稻育种", "神经科学;脑机接口"],
            "profile": [
                "长期从事碳化硅功率器件研究。",
                "从事杂交水稻遗传改良研究。",
                "从事杂交水稻遗传改良研究。",
                "研究脑机接口与神经血流。",
            ],
            "disciplines": ["0901", "0901", "080903", "1007;0710"],
        }
    )
    guide = pd.DataFrame(
        {
            "code": ["1002", "6001"],
            "title": ["新能源光储用中高压SiC MOSFET功率器件研发", "新型脑机接口装备研发"],
            "research_content": ["研究高压SiC MOSFET器件。", "研究脑机接口装备。"],
        }
    )
    return proposals, experts, guide


@pytest.fixture(scope="module")
def tiny() -> AffinityModel:
    return fit_affinity(*_tiny())


@pytest.fixture(scope="module")
def medium() -> AffinityModel:
    proposals, experts, guide = synthesise(80, 120, seed=3)
    return fit_affinity(proposals, experts, guide)


def _score(model: AffinityModel, p: str, e: str) -> float:
    row = model.dense_block(slice(model.proposal_index(p), model.proposal_index(p) + 1))
    return float(row[0, model.expert_index(e)])


def test_shared_text_and_shared_code_raise_the_score(tiny: AffinityModel) -> None:
    # E1 shares 碳化硅功率器件 (no code); E2 shares nothing; E3 shares the exact code only.
    s1, s2, s3 = (_score(tiny, "P1", e) for e in ("E1", "E2", "E3"))
    assert s2 < 0.01  # only filler such as 研究 in common
    assert s1 > s2 + 0.2
    assert s3 == pytest.approx(0.4 + s2, abs=1e-6)  # code_weight × exact match
    assert _score(tiny, "P2", "E4") > _score(tiny, "P2", "E1")


def test_code_levels() -> None:
    proposals, experts, _ = _tiny()
    experts = experts.assign(
        keywords="", profile="", disciplines=["080903", "080901", "0812", "0901"]
    )
    model = fit_affinity(proposals, experts, text_weight=0.0, code_weight=1.0)
    row = model.dense_block(np.array([0]))[0]
    np.testing.assert_allclose(row, [1.0, 0.6, 0.25, 0.0], rtol=1e-6)


def test_scores_in_unit_interval_and_dense_block_agrees(medium: AffinityModel) -> None:
    full = medium.dense_block(slice(0, medium.n_proposals))
    assert full.dtype == np.float32
    assert full.shape == (medium.n_proposals, medium.n_experts)
    assert full.min() >= 0.0 and full.max() <= 1.0
    assert full.max() > 0.5
    aff = top_candidates(medium, top_n=10)
    np.testing.assert_allclose(aff.cand_w, full[aff.cand_p, aff.cand_e], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        medium.pair_scores(aff.cand_p, aff.cand_e), aff.cand_w, rtol=1e-5, atol=1e-6
    )
    rows = np.array([5, 2, 40])
    np.testing.assert_array_equal(medium.dense_block(rows), full[rows])
    cols = np.array([3, 0, 77])
    np.testing.assert_allclose(medium.expert_block(cols), full[:, cols], rtol=1e-5, atol=1e-6)


def test_top_n_is_the_top(medium: AffinityModel) -> None:
    full = medium.dense_block(slice(0, medium.n_proposals))
    aff = top_candidates(medium, top_n=7, per_expert=0, block_rows=13)
    for p in range(medium.n_proposals):
        chosen = aff.cand_e[aff.cand_p == p]
        assert chosen.size == min(7, int((full[p] > 0).sum()))
        rest = np.setdiff1d(np.arange(medium.n_experts), chosen)
        assert full[p, chosen].min() >= full[p, rest].max()


def test_every_expert_with_a_match_is_a_candidate(medium: AffinityModel) -> None:
    full = medium.dense_block(slice(0, medium.n_proposals))
    aff = top_candidates(medium, top_n=3, per_expert=2)
    counts = np.bincount(aff.cand_e, minlength=medium.n_experts)
    positive = (full > 0).sum(axis=0)
    assert np.all(counts >= np.minimum(positive, 2))


def test_exclusions_are_not_spent(medium: AffinityModel) -> None:
    base = top_candidates(medium, top_n=5, per_expert=2)
    excl = {
        (medium.proposal_ids[p], medium.expert_ids[e])
        for p, e in zip(base.cand_p[::2], base.cand_e[::2], strict=True)
    }
    aff = top_candidates(medium, top_n=5, per_expert=2, exclude=excl | {("nobody", "E1")})
    got = {
        (aff.proposal_ids[p], aff.expert_ids[e])
        for p, e in zip(aff.cand_p, aff.cand_e, strict=True)
    }
    assert not got & excl
    per_p = np.bincount(aff.cand_p, minlength=medium.n_proposals)
    assert per_p.min() >= 5  # the freed places went to the next experts


def test_deterministic(medium: AffinityModel) -> None:
    proposals, experts, guide = synthesise(80, 120, seed=3)
    again = fit_affinity(proposals, experts, guide)
    a = top_candidates(medium, top_n=9, n_threads=1)
    b = top_candidates(again, top_n=9, n_threads=2, block_rows=7)
    for name in ("cand_p", "cand_e", "cand_w"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


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
    frame = affinity_frame(aff)
    assert list(frame.columns) == ["proposal_id", "expert_id", "score"]
    assert len(frame) == aff.nnz
    assert frame.iloc[0]["proposal_id"] == aff.proposal_ids[aff.cand_p[0]]


def test_explanation_names_the_shared_terms(tiny: AffinityModel) -> None:
    ex = explain(tiny, "P1", "E1", top_terms=3)
    assert "碳化硅功率器件" in ex.top_terms[0].text
    assert ex.score == pytest.approx(_score(tiny, "P1", "E1"), rel=1e-5)
    assert ex.score == pytest.approx(0.6 * ex.text_score + 0.4 * ex.code_score, rel=1e-5)
    assert ex.shared_codes == ()
    ex3 = explain(tiny, "P1", "E3")
    assert ex3.shared_codes == ("080903",)
    assert [t.text for t in ex3.top_terms] == ["研究"]  # filler only
    ex4 = explain(tiny, "P2", "E4")
    assert [t.text for t in ex4.top_terms] == ["研究脑机接口", "神经血流"]
    assert [(m.proposal_code, m.expert_code, m.level) for m in ex4.code_matches] == [
        ("1007", "1007", "exact")
    ]
    assert str(ex4).endswith("shared codes: 1007; shared terms: 研究脑机接口, 神经血流")
    with pytest.raises(AffinityInputError) as err:
        explain(tiny, "P9", "E1")
    assert str(err.value) == "proposal P9 is not in the affinity model; fit it with that proposal"


def test_vectoriser_matches_scikit_learn_char_wb() -> None:
    texts = [
        "基于SiC的功率器件，研发（高压）MOSFET!",
        "Deep learning for 大模型 inference; RISC-V芯片",
        "碳化硅 功率器件 封装",
        "",
        "a b  cd",
    ]
    stream = _normalised_stream(texts)
    mine, keys = _char_tfidf(
        stream, len(texts), ngram_range=(2, 3), min_df=1, max_df=1.0, max_features=None
    )
    norm = _stream_strings(stream)
    assert norm[0] == "基于 sic 的功率器件 研发 高压 mosfet"
    assert normalise_text(texts[1]) == "deep learning for 大模型 inference risc v 芯片"
    ref = TfidfVectorizer(
        analyzer="char_wb", ngram_range=(2, 3), lowercase=False, sublinear_tf=True
    )
    x = ref.fit_transform(norm)
    names = list(ref.get_feature_names_out())
    from assign.affinity import _gram_text

    mine_names = [_gram_text(int(k)) for k in keys]
    assert sorted(mine_names) == sorted(names)
    perm = [names.index(n) for n in mine_names]
    np.testing.assert_allclose(mine.toarray(), sp.csr_matrix(x)[:, perm].toarray(), rtol=1e-5)


def test_bad_inputs() -> None:
    proposals, experts, guide = _tiny()
    with pytest.raises(AffinityInputError) as err:
        fit_affinity(proposals.drop(columns=["abstract"]), experts)
    assert str(err.value) == (
        "proposals table lacks column(s) abstract; give a proposals frame with columns "
        "proposal_id, title, keywords, abstract, disciplines"
    )
    with pytest.raises(AffinityInputError) as err:
        fit_affinity(proposals, pd.concat([experts, experts.iloc[[1]]]))
    assert str(err.value) == "duplicate expert ids: E2; give each expert one row"
    with pytest.raises(AffinityInputError) as err:
        fit_affinity(proposals, experts.assign(disciplines=[809, 901, 80903, 1007]))
    assert "read the table with dtype=str" in str(err.value)


def test_empty_texts_give_code_only_scores() -> None:
    proposals, experts, _ = _tiny()
    model = fit_affinity(
        proposals.assign(title="", keywords="", abstract=""),
        experts.assign(keywords="", profile=""),
    )
    aff = top_candidates(model, top_n=2)
    assert set(np.round(aff.cand_w, 6)) <= {0.4, 0.4 * 0.25, 0.4 * 0.6}


def _same_csr(a: sp.csr_matrix, b: sp.csr_matrix) -> None:
    for name in ("indptr", "indices", "data"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def test_fit_does_not_depend_on_chunks_or_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    data = synthesise(60, 90, seed=5)
    whole = fit_affinity(*data, n_threads=1)
    monkeypatch.setattr(affinity_module, "_CHUNK_CHARS", 700)
    assert len(_doc_chunks([*data[0]["abstract"], *data[1]["profile"]], 700)) > 5
    chunked = fit_affinity(*data, n_threads=2)
    np.testing.assert_array_equal(whole.term_keys, chunked.term_keys)
    _same_csr(whole.p_text, chunked.p_text)
    _same_csr(whole.e_text, chunked.e_text)
    assert whole.p_strings == chunked.p_strings and whole.e_strings == chunked.e_strings
    np.testing.assert_array_equal(
        whole.dense_block(slice(0, 60)), chunked.dense_block(slice(0, 60))
    )


def test_doc_chunks_cover_every_document_once() -> None:
    texts = ["ab", "", "cdef", "g", "hij", ""]
    # a chunk ends after the text where the running length passes the next multiple of 3
    assert _doc_chunks(texts, 3) == [(0, 2), (2, 3), (3, 4), (4, 6)]
    assert _doc_chunks(texts, 100) == [(0, 6)]
    assert _doc_chunks([], 3) == []


def test_code_sets_share_rows_with_the_same_codes() -> None:
    rows, set_id, sets = _code_sets(["0809;080901", "080901；0809", "", "0809", "0809;080901"])
    assert rows == (("0809", "080901"), ("080901", "0809"), (), ("0809",), ("0809", "080901"))
    assert set_id.tolist() == [0, 0, 1, 2, 0]
    assert sets == [("0809", "080901"), (), ("0809",)]


def test_code_scores_without_the_set_table(
    medium: AffinityModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(affinity_module, "_SET_TABLE_LIMIT", 0)
    proposals, experts, guide = synthesise(80, 120, seed=3)
    untabled = fit_affinity(proposals, experts, guide)
    assert untabled._set_table is None and medium._set_table is not None
    rows = slice(0, medium.n_proposals)
    np.testing.assert_array_equal(untabled.dense_block(rows), medium.dense_block(rows))
    cols = np.array([5, 1, 119])
    np.testing.assert_array_equal(untabled.expert_block(cols), medium.expert_block(cols))
    p, e = np.array([0, 3, 79]), np.array([7, 0, 119])
    np.testing.assert_allclose(untabled.pair_scores(p, e), medium.pair_scores(p, e), rtol=1e-6)


@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(1, 6),
    width=st.integers(1, 40),
    n=st.integers(0, 12),
    floor=st.sampled_from([0.0, 0.25, 0.5]),
    seed=st.integers(0, 10_000),
)
def test_top_of_rows_matches_brute_force(
    rows: int, width: int, n: int, floor: float, seed: int
) -> None:
    # few distinct values, so many ties: ties go to the lower column
    rng = np.random.default_rng(seed)
    block = rng.choice(np.array([0.0, 0.25, 0.5, 0.75, 1.0], np.float32), size=(rows, width))
    ids = rng.permutation(width)  # a column's id for ties, as when columns are reordered
    for col_ids in (None, ids):
        r, c = _top_of_rows(block, n, floor, col_ids)
        tie = np.arange(width) if col_ids is None else col_ids
        want_r: list[int] = []
        want_c: list[int] = []
        for i in range(rows):
            order = sorted(range(width), key=lambda j: (-block[i, j], tie[j]))
            keep = [j for j in order if block[i, j] > floor][:n]
            want_r += [i] * len(keep)
            want_c += keep
        assert r.tolist() == want_r
        assert c.tolist() == want_c


def test_coverage_skips_excluded_pairs(medium: AffinityModel) -> None:
    full = medium.dense_block(slice(0, medium.n_proposals))
    base = top_candidates(medium, top_n=1, per_expert=2)
    # exclude every expert's best proposal: coverage must pick the next ones instead
    best = full.argmax(axis=0)
    excl = {(medium.proposal_ids[best[e]], medium.expert_ids[e]) for e in range(medium.n_experts)}
    aff = top_candidates(medium, top_n=1, per_expert=2, exclude=excl)
    got = set(zip(aff.cand_p.tolist(), aff.cand_e.tolist(), strict=True))
    assert not any((int(best[e]), e) in got for e in range(medium.n_experts))
    counts = np.bincount(aff.cand_e, minlength=medium.n_experts)
    masked = full.copy()
    masked[best, np.arange(medium.n_experts)] = 0.0
    assert np.all(counts >= np.minimum((masked > 0).sum(axis=0), 2))
    assert base.nnz > 0


# ----------------------------------------------------------------------------- precomputed file


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scores.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_load_affinity_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "proposal,expert,score\nP2,E1,0.5\nP1,E2,1\n\nP1,E1,0\n")
    aff = load_affinity_file(path, proposal_ids=["P1", "P2"], expert_ids=["E1", "E2"])
    assert isinstance(aff, SparseAffinity)
    assert aff.cand_p.tolist() == [0, 0, 1]
    assert aff.cand_e.tolist() == [0, 1, 0]
    assert aff.cand_w.tolist() == [0.0, 1.0, 0.5]


def test_load_affinity_file_reports_every_bad_row(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "proposal,expert,score\nP1,E1,0.5\nP9,E1,0.2\nP1,E7,x\nP2,E2,1.5\nP1,E1,0.3\nP2,E1,\n"
        "P2,E2\n",
    )
    with pytest.raises(AffinityFileError) as err:
        load_affinity_file(path, proposal_ids=["P1", "P2"], expert_ids=["E1", "E2"])
    assert str(err.value) == (
        f"affinity file {path} has 7 problem(s); nothing was loaded. "
        "Fix these rows and load it again:\n"
        "  row 3, column proposal: 'P9' is not a proposal of this batch; "
        "expected one of the batch's proposal ids\n"
        "  row 4, column expert: 'E7' is not an expert of this batch; "
        "expected one of the batch's expert ids\n"
        "  row 4, column score: 'x' is not a number; expected a number in [0, 1]\n"
        "  row 5, column score: '1.5' is outside [0, 1]; expected a number in [0, 1]\n"
        "  row 6, columns proposal+expert: ('P1', 'E1') repeats row 2; expected each pair once\n"
        "  row 7, column score: '' is empty; expected a number in [0, 1]\n"
        "  row 8: 2 cells; expected 3 (proposal, expert, score)"
    )


def test_load_affinity_file_caps_the_list(tmp_path: Path) -> None:
    rows = "".join(f"P1,E1,{2 + i}\n" for i in range(5))
    path = _write(tmp_path, "proposal,expert,score\n" + rows)
    with pytest.raises(AffinityFileError) as err:
        load_affinity_file(path, proposal_ids=["P1"], expert_ids=["E1"], max_problems=2)
    msg = str(err.value)
    assert msg.startswith(f"affinity file {path} has 9 problem(s)")
    assert msg.endswith("\n  ... and 7 more")
    assert msg.count("\n  row ") == 2


def test_load_affinity_file_bad_header(tmp_path: Path) -> None:
    path = _write(tmp_path, "p,e,w\nP1,E1,0.5\n")
    with pytest.raises(AffinityFileError) as err:
        load_affinity_file(path, proposal_ids=["P1"], expert_ids=["E1"])
    assert str(err.value) == (
        f"affinity file {path}: header is p,e,w; expected proposal,expert,score"
    )
