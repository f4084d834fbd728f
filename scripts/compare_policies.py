"""Compare the two selection policies on a batch in a database, side by side.

    python scripts/compare_policies.py --db sqlite:///demo-out/reviewopt.db --json

Uses the batch's last ``select`` options (budgets, floor, grant share) and prints, per policy:
projects funded, directions funded, total grant, mean merit of the funded, rank inversions
without a rule reason (pairs), directions with one, and the funded list.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import click

from models.db import get_batch, make_engine, session
from models.select_jobs import resolve_options, selection_inputs, selection_rules
from scoring.select import select
from scoring.select_explain import RULE_REASONS


@click.command()
@click.option("--db", required=True, help="Database URL.")
@click.option("--batch", "batch_id", help="Batch id (default: the only batch).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON line.")
def main(db: str, batch_id: str | None, as_json: bool) -> None:
    """Select under both policies and print the figures side by side."""
    engine = make_engine(db)
    out: dict[str, Any] = {}
    with session(engine) as s:
        batch = get_batch(s, batch_id)
        options = resolve_options(s, batch, {}).options
        props, directions = selection_inputs(s, batch, options.method)
        base = selection_rules(s, batch, props, options)
    for policy in ("rank", "merit-sum"):
        res = select(props, directions, replace(base, policy=policy))  # type: ignore[arg-type]
        t = res.table
        f = t[t["selected"]]
        rule = t["reason_code"].isin(sorted(RULE_REASONS))
        inverted = 0
        for _d, g in t[t["rank"] > 0].groupby("direction_code"):
            out_ranks = g.loc[~g["selected"] & ~rule[g.index], "rank"].to_numpy()
            in_ranks = g.loc[g["reason_code"] == "funded", "rank"].to_numpy()
            inverted += int((out_ranks[:, None] < in_ranks[None, :]).any())
        out[policy] = {
            "funded": int(len(f)),
            "directions_funded": int(f["direction_code"].nunique()),
            "grants_total_wan": int(res.grants_total_wan),
            "mean_merit_funded": round(float(f["merit"].mean()), 2),
            "merit_sum": round(float(f["merit"].sum()), 2),
            "inversions": res.inversions,
            "directions_with_inversion": inverted,
            "wall_s": round(res.wall_s, 2),
            "funded_list": sorted(f["proposal_id"]),
        }
    if as_json:
        click.echo(json.dumps(out, ensure_ascii=False))
        return
    keys = [k for k in out["rank"] if k != "funded_list"]
    click.echo(f"{'':>26} {'rank':>10} {'merit-sum':>10}")
    for k in keys:
        click.echo(f"{k:>26} {out['rank'][k]!s:>10} {out['merit-sum'][k]!s:>10}")
    only_rank = sorted(set(out["rank"]["funded_list"]) - set(out["merit-sum"]["funded_list"]))
    only_sum = sorted(set(out["merit-sum"]["funded_list"]) - set(out["rank"]["funded_list"]))
    click.echo(f"funded only under rank ({len(only_rank)}): {', '.join(only_rank)}")
    click.echo(f"funded only under merit-sum ({len(only_sum)}): {', '.join(only_sum)}")


if __name__ == "__main__":
    main()
