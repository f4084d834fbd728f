"""The grey zone of a selection and a seeded lottery over its contested places.

A proposal is grey when its rank interval straddles its direction's funding line; a lottery
(audited, seeded) may then settle who takes the contested places, as some funders do.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from scoring.select_rules import SelectionInputError


def grey_zone(proposals: pd.DataFrame, selected: pd.DataFrame) -> pd.DataFrame:
    """Proposals whose rank interval straddles their direction's funding line.

    proposals: proposal_id, direction_code, rank_lo, rank_hi (rank within the direction,
    1 = best; lo = best plausible rank, hi = worst); selected: proposal_id, selected (bool).
    The funding line of a direction is the number of projects funded there; a proposal is grey
    when rank_lo <= line < rank_hi. Returns proposal_id, direction_code, rank_lo, rank_hi,
    funding_line, selected, contested_places (line minus the proposals whose whole interval
    lies inside the line), one row per grey proposal, sorted by direction, id.
    """
    need = ("proposal_id", "direction_code", "rank_lo", "rank_hi")
    missing = [c for c in need if c not in proposals.columns]
    if missing:
        raise SelectionInputError(f"grey_zone needs columns {', '.join(missing)}")
    df = proposals[list(need)].copy()
    df["proposal_id"] = df["proposal_id"].astype(str)
    df["direction_code"] = df["direction_code"].astype(str)
    df = df.merge(
        selected[["proposal_id", "selected"]], on="proposal_id", how="left", validate="one_to_one"
    )
    if df["selected"].isna().any():
        bad = df.loc[df["selected"].isna(), "proposal_id"].head(5)
        raise SelectionInputError(
            f"proposals {', '.join(bad)} are not in the selection result; pass the same batch"
        )
    df["selected"] = df["selected"].astype(bool)
    df["funding_line"] = df.groupby("direction_code")["selected"].transform("sum").astype(int)
    safe = df["rank_hi"] <= df["funding_line"]
    n_safe = safe.groupby(df["direction_code"]).transform("sum").astype(int)
    df["contested_places"] = (df["funding_line"] - n_safe).clip(lower=0)
    grey = (df["rank_lo"] <= df["funding_line"]) & (df["funding_line"] < df["rank_hi"])
    return df.loc[grey].sort_values(["direction_code", "proposal_id"]).reset_index(drop=True)


def lottery(grey: pd.DataFrame, *, seed: int) -> pd.DataFrame:
    """Draw, per direction, who takes the contested places among its grey-zone proposals.

    grey: output of :func:`grey_zone`. Returns the grey rows with draw_order (1 = drawn first,
    uniform random order within a direction), wins (drawn within the contested places) and
    seed, for the audit record. Same seed, same draw.
    """
    rng = np.random.default_rng(seed)
    parts = []
    for _d, g in grey.sort_values(["direction_code", "proposal_id"]).groupby(
        "direction_code", sort=True
    ):
        g = g.copy()
        g["draw_order"] = rng.permutation(len(g)) + 1
        g["wins"] = g["draw_order"] <= int(g["contested_places"].iloc[0])
        parts.append(g)
    if not parts:
        out = grey.copy()
        out["draw_order"] = pd.Series(dtype="int64")
        out["wins"] = pd.Series(dtype=bool)
    else:
        out = pd.concat(parts, ignore_index=True)
    out["seed"] = seed
    return out.sort_values(["direction_code", "draw_order"]).reset_index(drop=True)
