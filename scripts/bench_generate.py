"""Benchmark the synthetic batch generator: wall time and row counts at two sizes.

Run: ``python -m scripts.bench_generate [--write DIR]``. Prints one line per size.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from data.build_guide import load_guide
from data.generate import generate_batch, write_batch

SIZES: tuple[tuple[str, dict[str, int | None]], ...] = (
    ("default", {"n_experts": 3000, "n_proposals": None, "n_relations": None}),
    ("scale", {"n_experts": 30000, "n_proposals": 20000, "n_relations": 200000}),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", type=Path, default=None, help="also write CSVs under DIR")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    guide = load_guide()
    for name, kw in SIZES:
        t0 = time.perf_counter()
        tables = generate_batch(
            guide,
            n_experts=int(kw["n_experts"] or 3000),
            n_proposals=kw["n_proposals"],
            n_relations=kw["n_relations"],
            seed=args.seed,
        )
        gen_s = time.perf_counter() - t0
        with tempfile.TemporaryDirectory() as tmp:
            out = (args.write / name) if args.write else Path(tmp)
            t1 = time.perf_counter()
            write_batch(tables, out)
            write_s = time.perf_counter() - t1
        rows = {k: len(v) for k, v in tables.items() if k != "guide"}
        print(
            f"{name}: generate {gen_s:.1f} s, write CSV {write_s:.1f} s; "
            + ", ".join(f"{k}={v}" for k, v in rows.items())
        )


if __name__ == "__main__":
    main()
