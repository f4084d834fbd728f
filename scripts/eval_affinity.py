"""Quality of the specialty match on two public data sets, beside baselines computed in the run.

**Gold standard** (Stelmakh, Wieting, Neubig, Shah 2023, "A Gold Standard Dataset for the
Reviewer Assignment Problem"): 58 researchers rated their expertise for up to 10 papers each.
Each of the data sets ``d_20_1`` … ``d_20_10`` gives every researcher a profile of their own
papers; the model reads them as the researcher's publications (title, abstract, year) and each
target paper (title + abstract) as a proposal. The loss is the paper's weighted Kendall-tau
metric (``scripts/scoring.py`` there: pairs of papers a researcher ordered wrongly, weighted by
the difference of their ratings, over the largest possible; lower is better), pooled over the
participants asked for and averaged over the ten data sets, with the share of "easy" pairs (one
rating >= 4, the other <= 2) and "hard" pairs (both >= 4, unequal) ordered correctly. The
baseline is scikit-learn's word TF-IDF cosine (English stop words) against the concatenation
of a researcher's papers. Only the participants of ``--participants`` are scored (the
development half; the rest is held out).

**CSL** (Li et al. 2022, Chinese Scientific Literature): ``benchmark/cls_dcp/dev.tsv`` (abstract,
discipline) joined by abstract with ``benchmark/kg/dev.tsv`` (abstract and title, keywords). In
every discipline with at least 10 papers, a quarter of the papers (at least 2, drawn with
``--seed``) are proposals (title, abstract, keywords); the rest form experts of 4 papers each,
whose titles and keywords are their publications and the union of keywords their keywords
(papers left over join the proposals). Precision@5: the share of a proposal's 5 best experts
from its discipline; MRR: the mean of 1 / rank of the first expert from its discipline.
Baselines: character 2–3-gram TF-IDF and jieba word TF-IDF (scikit-learn, sublinear tf)
against the concatenation of an expert's keywords and publications.

Get the data (neither is part of this project)::

    git clone https://github.com/niharshah/goldstandard-reviewer-paper-match gold
    git -C gold checkout aac90f2d
    git clone https://github.com/ydli-ai/CSL csl

    python -m scripts.eval_affinity --gold gold --csl csl \\
        --participants ../shared/data/affinity_gold_dev_participants.txt --json
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from itertools import combinations
from pathlib import Path
from typing import Any

import click
import numpy as np
import pandas as pd
import rjieba
from sklearn.feature_extraction.text import TfidfVectorizer

from assign.affinity import fit_affinity

N_GOLD_SETS = 10

Preds = dict[str, dict[str, float]]


# ----------------------------------------------------------------------------- gold standard


def gold_references(root: Path) -> dict[str, dict[str, float]]:
    """{participant: {paper: expertise 1..5}} from ``data/evaluations.csv``."""
    df = pd.read_csv(root / "data" / "evaluations.csv", sep="\t")
    refs: dict[str, dict[str, float]] = {}
    for _, row in df.iterrows():
        refs[str(row["ParticipantID"])] = {
            row[f"Paper{x}"]: float(row[f"Expertise{x}"])
            for x in range(1, 11)
            if not pd.isna(row[f"Paper{x}"])
        }
    return refs


def gold_set(root: Path, i: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Data set d_20_i as (proposals, experts, publications) frames."""
    base = root / "evaluation_datasets" / f"d_20_{i}"
    subs = json.loads((base / "submissions.json").read_text(encoding="utf-8"))
    props = pd.DataFrame(
        [
            {
                "proposal_id": k,
                "title": v["content"].get("title") or "",
                "abstract": v["content"].get("abstract") or "",
                "keywords": "",
                "disciplines": "",
            }
            for k, v in subs.items()
        ]
    )
    pubs = []
    experts = []
    for f in sorted((base / "archives").glob("*.jsonl")):
        rid = f.stem.lstrip("~")
        experts.append({"expert_id": rid, "keywords": "", "profile": "", "disciplines": ""})
        for line in f.read_text(encoding="utf-8").splitlines():
            c = json.loads(line)["content"]
            pubs.append(
                {
                    "expert_id": rid,
                    "title": c.get("title") or "",
                    "abstract": c.get("abstract") or "",
                    "keywords": "",
                    "year": c.get("year"),
                }
            )
    return props, pd.DataFrame(experts), pd.DataFrame(pubs)


def gold_loss(preds: Preds, refs: dict[str, dict[str, float]], who: Sequence[str]) -> float:
    """The gold standard's main metric (weighted Kendall tau loss), pooled over ``who``."""
    max_loss = loss = 0.0
    for r in who:
        for p1, p2 in combinations(list(refs[r]), 2):
            pd_ = preds[r][p1] - preds[r][p2]
            td = refs[r][p1] - refs[r][p2]
            max_loss += abs(td)
            if pd_ * td == 0:
                loss += abs(td) / 2
            elif pd_ * td < 0:
                loss += abs(td)
    return loss / max_loss


def gold_resolution(
    preds: Preds, refs: dict[str, dict[str, float]], who: Sequence[str], regime: str
) -> float:
    """Share of easy (one >= 4, other <= 2) or hard (both >= 4) pairs ordered correctly."""
    n = correct = 0
    for r in who:
        for p1, p2 in combinations(list(refs[r]), 2):
            s1, s2 = refs[r][p1], refs[r][p2]
            if s1 == s2:
                continue
            if regime == "hard" and min(s1, s2) < 4:
                continue
            if regime == "easy" and (max(s1, s2) < 4 or min(s1, s2) > 2):
                continue
            n += 1
            correct += (preds[r][p1] - preds[r][p2]) * (s1 - s2) > 0
    return correct / n if n else float("nan")


def _as_preds(matrix: np.ndarray, experts: Sequence[str], papers: Sequence[str]) -> Preds:
    col = {p: j for j, p in enumerate(papers)}
    return {e: {p: float(matrix[i, j]) for p, j in col.items()} for i, e in enumerate(experts)}


def model_scores(
    props: pd.DataFrame, experts: pd.DataFrame, pubs: pd.DataFrame, **options: Any
) -> np.ndarray:
    """(E, P) affinity of every expert and proposal by ``fit_affinity``."""
    model = fit_affinity(props, experts, None, pubs, **options)
    return model.dense_block(slice(None)).T


def word_tfidf_baseline(
    props: pd.DataFrame, experts: pd.DataFrame, pubs: pd.DataFrame
) -> np.ndarray:
    """(E, P) cosine of scikit-learn word TF-IDF (English stop words): profile = the
    concatenation of the expert's publications."""
    ptext = (props["title"] + " " + props["abstract"]).tolist()
    joined = (pubs["title"] + " " + pubs["abstract"]).groupby(pubs["expert_id"]).agg(" ".join)
    etext = [joined.get(e, "") for e in experts["expert_id"]]
    vec = TfidfVectorizer(stop_words="english").fit(ptext + etext)
    return (vec.transform(etext) @ vec.transform(ptext).T).toarray()


def eval_gold(root: Path, participants: Sequence[str], variants: dict[str, Callable]) -> dict:
    """Loss and easy/hard accuracy of each variant over d_20_1..10 (means), for ``participants``."""
    refs = gold_references(root)
    who = [p for p in participants if p in refs]
    out: dict[str, dict[str, list[float]]] = {
        k: {"loss": [], "easy": [], "hard": []} for k in variants
    }
    for i in range(1, N_GOLD_SETS + 1):
        props, experts, pubs = gold_set(root, i)
        for name, fn in variants.items():
            preds = _as_preds(
                fn(props, experts, pubs), experts["expert_id"].tolist(), props["proposal_id"]
            )
            out[name]["loss"].append(gold_loss(preds, refs, who))
            out[name]["easy"].append(gold_resolution(preds, refs, who, "easy"))
            out[name]["hard"].append(gold_resolution(preds, refs, who, "hard"))
    return {
        "participants": len(who),
        "sets": N_GOLD_SETS,
        **{k: {m: round(float(np.mean(v)), 4) for m, v in d.items()} for k, d in out.items()},
    }


# ----------------------------------------------------------------------------- CSL


def csl_papers(root: Path) -> pd.DataFrame:
    """CSL dev papers: title, abstract, keywords (list), discipline."""
    bench = root / "benchmark"
    disc: dict[str, str] = {}
    for line in (bench / "cls_dcp" / "dev.tsv").read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) >= 3:
            disc[parts[1]] = parts[2]
    rows = []
    for line in (bench / "kg" / "dev.tsv").read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) < 3:
            continue
        body = parts[1]
        for cut in [i for i, ch in enumerate(body) if ch == " "][::-1]:
            if body[:cut] in disc:
                rows.append(
                    {
                        "title": body[cut + 1 :],
                        "abstract": body[:cut],
                        "keywords": [k for k in parts[2].split("_") if k],
                        "discipline": disc[body[:cut]],
                    }
                )
                break
    return pd.DataFrame(rows)


def csl_split(papers: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(proposals, experts, publications) of the proxy (see the module docstring)."""
    rng = np.random.default_rng(seed)
    props, experts, pubs = [], [], []
    for d, grp in papers.groupby("discipline", sort=True):
        n = len(grp)
        if n < 10:
            continue
        idx = rng.permutation(grp.index.to_numpy())
        hold = max(2, n // 4)
        groups = (n - hold) // 4
        for g in range(groups):
            eid = f"{d}#{g}"
            members = papers.loc[idx[4 * g : 4 * g + 4]]
            kws = list(dict.fromkeys(k for ks in members["keywords"] for k in ks))
            experts.append({"expert_id": eid, "keywords": ";".join(kws), "profile": "",
                            "disciplines": "", "discipline": d})  # fmt: skip
            for _, m in members.iterrows():
                pubs.append({"expert_id": eid, "title": m["title"], "abstract": "",
                             "keywords": ";".join(m["keywords"]), "year": None})  # fmt: skip
        for j in idx[4 * groups :]:
            m = papers.loc[j]
            props.append({"proposal_id": f"{d}@{j}", "title": m["title"],
                          "abstract": m["abstract"], "keywords": ";".join(m["keywords"]),
                          "disciplines": "", "discipline": d})  # fmt: skip
    return pd.DataFrame(props), pd.DataFrame(experts), pd.DataFrame(pubs)


def csl_metrics(scores: np.ndarray, props: pd.DataFrame, experts: pd.DataFrame) -> dict:
    """P@5 and MRR of (P, E) scores (ties broken by expert order)."""
    order = np.argsort(-scores, axis=1, kind="stable")
    hit = experts["discipline"].to_numpy()[order] == props["discipline"].to_numpy()[:, None]
    first = np.where(hit.any(axis=1), hit.argmax(axis=1) + 1, np.inf)
    return {
        "p_at_5": round(float(hit[:, :5].mean()), 4),
        "mrr": round(float(np.mean(1 / first)), 4),
    }


def _han_words(text: str) -> list[str]:
    return [w for w in rjieba.cut(text) if re.search(r"\w", w)]


def csl_baseline(
    props: pd.DataFrame, experts: pd.DataFrame, pubs: pd.DataFrame, vec: TfidfVectorizer
) -> np.ndarray:
    """(P, E) cosine of ``vec``'s TF-IDF against each expert's concatenated profile."""

    def words(col: pd.Series) -> pd.Series:
        return col.str.replace(";", " ")

    ptext = (props["title"] + " " + props["abstract"] + " " + words(props["keywords"])).tolist()
    per = (pubs["title"] + " " + words(pubs["keywords"])).groupby(pubs["expert_id"]).agg(" ".join)
    etext = [
        f"{k} {per.get(e, '')}"
        for e, k in zip(experts["expert_id"], words(experts["keywords"]), strict=True)
    ]
    vec.fit(ptext + etext)
    return (vec.transform(ptext) @ vec.transform(etext).T).toarray()


def eval_csl(root: Path, seed: int, options: dict[str, Any]) -> dict:
    props, experts, pubs = csl_split(csl_papers(root), seed)
    char = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 3), sublinear_tf=True)
    word = TfidfVectorizer(analyzer=_han_words, sublinear_tf=True)
    model = fit_affinity(props, experts, None, pubs, **options).dense_block(slice(None))
    return {
        "proposals": len(props),
        "experts": len(experts),
        "seed": seed,
        "model": csl_metrics(model, props, experts),
        "char_2_3_tfidf": csl_metrics(csl_baseline(props, experts, pubs, char), props, experts),
        "jieba_word_tfidf": csl_metrics(csl_baseline(props, experts, pubs, word), props, experts),
    }


# ----------------------------------------------------------------------------- command


@click.command()
@click.option(
    "--gold",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Checkout of niharshah/goldstandard-reviewer-paper-match (commit aac90f2d).",
)
@click.option(
    "--csl",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Checkout of ydli-ai/CSL.",
)
@click.option(
    "--participants",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Gold-standard participants to score, one id a line (the development half).",
)
@click.option("--seed", default=0, show_default=True, help="Seed of the CSL split.")
@click.option("--json", "as_json", is_flag=True, help="One JSON line.")
def main(gold: Path | None, csl: Path | None, participants: Path | None, seed: int,
         as_json: bool) -> None:  # fmt: skip
    """Evaluate the specialty match on the gold standard and the CSL proxy."""
    t0 = time.perf_counter()
    out: dict[str, Any] = {}
    if gold is not None:
        if participants is None:
            raise click.UsageError("--gold needs --participants (the development half)")
        who = participants.read_text(encoding="utf-8").split()
        out["gold"] = eval_gold(
            gold,
            who,
            {
                "model": model_scores,
                "model_tfidf": lambda p, e, b: model_scores(p, e, b, weighting="tfidf"),
                "word_tfidf": word_tfidf_baseline,
            },
        )
    if csl is not None:
        out["csl"] = eval_csl(csl, seed, {})
        out["csl"]["model_tfidf"] = eval_csl(csl, seed, {"weighting": "tfidf"})["model"]
    out["wall_s"] = round(time.perf_counter() - t0, 1)
    if as_json:
        click.echo(json.dumps(out, ensure_ascii=False))
        return
    if "gold" in out:
        g = out["gold"]
        click.echo(f"gold standard, {g['participants']} participants, d_20_1..{g['sets']}:")
        for k in ("model", "model_tfidf", "word_tfidf"):
            click.echo(f"  {k:<12} loss {g[k]['loss']:.4f}  easy {g[k]['easy']:.3f}  "
                       f"hard {g[k]['hard']:.3f}")  # fmt: skip
    if "csl" in out:
        c = out["csl"]
        click.echo(f"CSL dev proxy, {c['proposals']} proposals, {c['experts']} experts:")
        for k in ("model", "model_tfidf", "char_2_3_tfidf", "jieba_word_tfidf"):
            click.echo(f"  {k:<16} P@5 {c[k]['p_at_5']:.4f}  MRR {c[k]['mrr']:.4f}")


if __name__ == "__main__":
    main()
