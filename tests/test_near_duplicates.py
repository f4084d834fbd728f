"""Near-duplicate screening finds, without listing every pair of a unit's proposals, exactly the
pairs that listing them all would: brute force on small generated batches."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from assign.screening import ScreeningConfig, build_context, check_near_duplicate, near_duplicates
from assign.text_index import TextIndex
from data.build_guide import load_guide
from data.generate import generate_batch


def _batch(seed: int) -> dict[str, pd.DataFrame]:
    """60 proposals led by 4 units (two of them related), a fifth of them near copies."""
    tables = generate_batch(load_guide(), n_experts=60, n_proposals=60, seed=seed)
    rng = np.random.default_rng(seed)
    props = tables["proposals"].copy()
    units = tables["units"]["unit_id"].tolist()[:4]
    props["lead_unit_id"] = rng.choice(units, len(props))
    for i in rng.choice(np.arange(1, len(props)), 12, replace=False):
        j = int(rng.integers(0, len(props)))
        cut = int(rng.integers(4, 40))
        props.at[i, "title"] = props.at[j, "title"]
        props.at[i, "abstract"] = str(props.at[j, "abstract"])[:-cut] + "并开展示范应用"
    tables["proposals"] = props
    tables["unit_relations"] = pd.DataFrame(
        {"unit_id": [units[0]], "related_unit_id": [units[1]], "kind": ["parent_of"],
         "share": [np.nan]}
    )  # fmt: skip
    return tables


@pytest.mark.parametrize(("seed", "threshold"), [(1, 0.7), (2, 0.5), (3, 0.9)])
def test_the_same_pairs_as_listing_every_pair(seed: int, threshold: float) -> None:
    tables = _batch(seed)
    config = ScreeningConfig(similarity_threshold=threshold)
    ctx = build_context(tables, tables["guide"], config=config)
    found = near_duplicates(ctx)
    props = ctx.proposals
    lead = dict(zip(props["proposal_id"], props["lead_unit_id"], strict=True))
    related = {(u, o) for u, rel in ctx.related().items() for o, *_rest in rel}
    text = TextIndex.from_proposals(props)
    pairs = [
        (a, b)
        for a, b in itertools.combinations(sorted(lead), 2)
        if lead[a] == lead[b] or (lead[a], lead[b]) in related
    ]
    sims = text.pairs([a for a, _ in pairs], [b for _, b in pairs])
    brute = [(a, b, s) for (a, b), s in zip(pairs, sims, strict=True) if s >= threshold]
    assert len(brute) >= 3
    got = list(found.pairs[["a", "b", "similarity"]].itertuples(index=False, name=None))
    assert [(a, b) for a, b, _ in got] == [(a, b) for a, b, _ in brute]
    np.testing.assert_allclose([s for *_, s in got], [s for *_, s in brute])
    assert found.pairs_checked < len(pairs)
    findings = check_near_duplicate(ctx)
    assert len(findings) == 2 * len(brute)
    assert {f[0] for f in findings} == {p for a, b, _ in brute for p in (a, b)}
