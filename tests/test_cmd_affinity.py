"""``reviewopt affinity``: plain files in, proposal,expert,score out, chained into solve."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from assign.affinity import fit_affinity
from scripts.cli import cli

PROPOSALS = (
    "proposal_id,title,abstract,keywords,disciplines\n"
    "P1,碳化硅功率器件研制,研究高压碳化硅器件的栅氧可靠性,碳化硅;功率器件,080903\n"
    "P2,脑机接口装备,研究神经信号解码,脑机接口,1007\n"
    "P3,Reviewer assignment by min cost flow,Matching reviewers to papers,,\n"
)
EXPERTS = "expert_id,keywords,profile,disciplines\nE1,功率半导体,,0809\nE2,,,1007\nE3,,,\nE4,,,\n"
PUBLICATIONS = (
    "expert_id,title,abstract,keywords,year\n"
    "E1,碳化硅MOSFET栅氧可靠性,,碳化硅,2022\n"
    "E2,脑机接口神经解码算法,,脑机接口,2021\n"
    "E2,运动想象脑电分类,,,2018\n"
    "E3,Min cost flow for reviewer assignment,,,2020\n"
    "E4,Soil erosion models,,,2015\n"
)


def put(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _files(tmp_path: Path, pubs: str = PUBLICATIONS) -> list[str]:
    return [
        "--proposals", str(put(tmp_path, "p.csv", PROPOSALS)),
        "--experts", str(put(tmp_path, "e.csv", EXPERTS)),
        "--publications", str(put(tmp_path, "pub.csv", pubs)),
    ]  # fmt: skip


def test_affinity_chains_into_solve(tmp_path: Path) -> None:
    scores = tmp_path / "s.csv"
    runner = CliRunner()
    result = runner.invoke(cli, ["affinity", *_files(tmp_path), "--top", "2", "--out",
                                 str(scores), "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {"proposals", "experts", "pairs", "wall_s"}
    assert (data["proposals"], data["experts"]) == (3, 4)
    table = pd.read_csv(scores, dtype={"proposal": str, "expert": str})
    assert list(table.columns) == ["proposal", "expert", "score"]
    assert len(table) == data["pairs"] and table["score"].between(0, 1).all()
    best = table.sort_values("score").groupby("proposal")["expert"].last().to_dict()
    assert best == {"P1": "E1", "P2": "E2", "P3": "E3"}
    out = tmp_path / "a.csv"
    solved = runner.invoke(cli, ["solve", "--scores", str(scores), "--k", "1", "--max-load",
                                 "1", "--out", str(out), "--json"])  # fmt: skip
    assert solved.exit_code == 0, solved.output
    assert json.loads(solved.stdout)["status"] == "optimal"
    assert len(pd.read_csv(out)) == 3


def test_all_pairs_writes_every_pair(tmp_path: Path) -> None:
    scores = tmp_path / "s.csv"
    result = CliRunner().invoke(
        cli, ["affinity", *_files(tmp_path), "--all-pairs", "--out", str(scores), "--json"]
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(scores, dtype=str)
    assert len(table) == 12 and not table.duplicated(["proposal", "expert"]).any()


def test_bad_files_exit_3_naming_every_problem(tmp_path: Path) -> None:
    pubs = PUBLICATIONS + "E9,Unknown person,,,2020\nE1,,,,2021\nE1,Old work,,,19x\n"
    result = CliRunner().invoke(
        cli, ["affinity", *_files(tmp_path, pubs), "--top", "2", "--out", str(tmp_path / "s.csv")]
    )
    assert result.exit_code == 3
    assert result.stdout == ""
    assert not (tmp_path / "s.csv").exists()
    err = result.stderr
    assert "3 problems in the input; nothing was written:" in err
    assert "pub.csv, row 7, column expert_id: got 'E9'; expected an expert_id of e.csv" in err
    assert "pub.csv, row 8, column title: got ''; expected a non-empty title" in err
    assert "pub.csv, row 9, column year: got '19x'; expected a year from 1900 to 2100" in err
    assert "Traceback" not in result.output


def test_duplicate_ids_and_missing_columns(tmp_path: Path) -> None:
    put(tmp_path, "p.csv", "proposal_id,title\nP1,x\n")
    put(tmp_path, "e.csv", "expert_id\nE1\nE1\n")
    result = CliRunner().invoke(
        cli,
        ["affinity", "--proposals", str(tmp_path / "p.csv"), "--experts",
         str(tmp_path / "e.csv"), "--top", "1", "--out", str(tmp_path / "s.csv")],
    )  # fmt: skip
    assert result.exit_code == 3
    assert "p.csv, row 1, column abstract: got 'proposal_id,title'" in result.stderr
    assert "e.csv, row 3, column expert_id: got 'E1'; expected each id once" in result.stderr


def test_exactly_one_of_all_pairs_and_top(tmp_path: Path) -> None:
    for extra in ([], ["--all-pairs", "--top", "2"]):
        result = CliRunner().invoke(
            cli, ["affinity", *_files(tmp_path), *extra, "--out", str(tmp_path / "s.csv")]
        )
        assert result.exit_code == 2
        assert "give exactly one of --all-pairs and --top N" in result.stderr


def _bag_embedder(texts: Sequence[str]) -> np.ndarray:
    """A stand-in sentence embedding: hashed character counts (deterministic)."""
    out = np.zeros((len(texts), 64), dtype=np.float32)
    for i, t in enumerate(texts):
        for ch in t.lower():
            out[i, ord(ch) % 64] += 1.0
    return out


def test_embeddings_join_the_lexical_score() -> None:
    props = pd.read_csv(pd.io.common.StringIO(PROPOSALS), dtype=str, keep_default_na=False)
    exps = pd.read_csv(pd.io.common.StringIO(EXPERTS), dtype=str, keep_default_na=False)
    pubs = pd.read_csv(pd.io.common.StringIO(PUBLICATIONS), keep_default_na=False)
    plain = fit_affinity(props, exps, None, pubs).dense_block(slice(None))
    joined = fit_affinity(props, exps, None, pubs, embedder=_bag_embedder)
    both = joined.dense_block(slice(None))
    assert not np.allclose(plain, both)
    assert both.min() >= 0 and both.max() <= 1
    # an expert with no lexical overlap now gets the embedding's part
    assert both[2, 3] > plain[2, 3]


def test_embedding_model_from_disk(tmp_path: Path) -> None:
    st = pytest.importorskip(
        "sentence_transformers", reason="sentence-transformers (reviewopt[embeddings]) absent"
    )
    from transformers import BertConfig, BertModel, BertTokenizer

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *"abcdefghijklmnopqrstuvwxyz"]
    vocab += ["碳", "化", "硅", "脑", "机", "接", "口", "min", "cost", "flow", "review"]
    (tmp_path / "vocab.txt").write_text("\n".join(vocab), encoding="utf-8")
    bert = tmp_path / "bert"
    BertTokenizer(str(tmp_path / "vocab.txt")).save_pretrained(bert)
    config = BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=32)  # fmt: skip
    BertModel(config).save_pretrained(bert)
    model = st.SentenceTransformer(str(bert))  # a plain encoder: mean pooling is added
    folder = tmp_path / "tiny-model"
    model.save(str(folder))
    scores = tmp_path / "s.csv"
    result = CliRunner().invoke(
        cli,
        ["affinity", *_files(tmp_path), "--all-pairs", "--embedding-model", str(folder),
         "--out", str(scores), "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(scores)) == 12
