"""Affinity computed elsewhere: a ``proposal,expert,score`` CSV read into candidates."""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from assign.sparse_affinity import SparseAffinity

__all__ = ["FILE_COLUMNS", "AffinityFileError", "load_affinity_file"]

FILE_COLUMNS = ("proposal", "expert", "score")


class AffinityFileError(ValueError):
    """A precomputed affinity file has bad rows; the message lists them."""


def load_affinity_file(
    path: str | Path,
    *,
    proposal_ids: Sequence[str],
    expert_ids: Sequence[str],
    max_problems: int = 20,
) -> SparseAffinity:
    """Read a ``proposal,expert,score`` CSV (UTF-8, header row) of scores computed elsewhere.

    Every row is checked before anything is returned: unknown ids, empty or non-numeric
    scores, scores outside [0, 1] and repeated pairs are all collected (rows numbered as in a
    spreadsheet: the header is row 1) and raised together as :class:`AffinityFileError`, listing
    at most ``max_problems`` of them.
    """
    p_index = {p: i for i, p in enumerate(proposal_ids)}
    e_index = {e: i for i, e in enumerate(expert_ids)}
    path = Path(path)
    problems: list[str] = []
    cp: list[int] = []
    ce: list[int] = []
    cw: list[float] = []
    seen: dict[tuple[str, str], int] = {}
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        names = [h.strip().lower() for h in header] if header is not None else []
        if sorted(names) != sorted(FILE_COLUMNS):
            got = ",".join(header) if header else "empty"
            raise AffinityFileError(
                f"affinity file {path}: header is {got}; expected proposal,expert,score"
            )
        col = {n: names.index(n) for n in FILE_COLUMNS}
        for row_no, cells in enumerate(reader, start=2):
            if not cells or all(not c.strip() for c in cells):
                continue
            if len(cells) != 3:
                problems.append(
                    f"row {row_no}: {len(cells)} cells; expected 3 (proposal, expert, score)"
                )
                continue
            pid = cells[col["proposal"]].strip()
            eid = cells[col["expert"]].strip()
            raw = cells[col["score"]].strip()
            ok = True
            if pid not in p_index:
                problems.append(
                    f"row {row_no}, column proposal: {pid!r} is not a proposal of this batch; "
                    "expected one of the batch's proposal ids"
                )
                ok = False
            if eid not in e_index:
                problems.append(
                    f"row {row_no}, column expert: {eid!r} is not an expert of this batch; "
                    "expected one of the batch's expert ids"
                )
                ok = False
            value = math.nan
            if not raw:
                problems.append(
                    f"row {row_no}, column score: '' is empty; expected a number in [0, 1]"
                )
                ok = False
            else:
                try:
                    value = float(raw)
                except ValueError:
                    problems.append(
                        f"row {row_no}, column score: {raw!r} is not a number; "
                        "expected a number in [0, 1]"
                    )
                    ok = False
                else:
                    if not (0.0 <= value <= 1.0):
                        problems.append(
                            f"row {row_no}, column score: {raw!r} is outside [0, 1]; "
                            "expected a number in [0, 1]"
                        )
                        ok = False
            first = seen.get((pid, eid))
            if first is not None:
                problems.append(
                    f"row {row_no}, columns proposal+expert: ({pid!r}, {eid!r}) repeats row "
                    f"{first}; expected each pair once"
                )
                ok = False
            else:
                seen[(pid, eid)] = row_no
            if ok:
                cp.append(p_index[pid])
                ce.append(e_index[eid])
                cw.append(value)
    if problems:
        shown = problems[:max_problems]
        more = len(problems) - len(shown)
        lines = "\n".join(f"  {m}" for m in shown)
        tail = f"\n  ... and {more} more" if more else ""
        raise AffinityFileError(
            f"affinity file {path} has {len(problems)} problem(s); nothing was loaded. "
            f"Fix these rows and load it again:\n{lines}{tail}"
        )
    return SparseAffinity(
        tuple(proposal_ids),
        tuple(expert_ids),
        np.asarray(cp, dtype=np.int64),
        np.asarray(ce, dtype=np.int64),
        np.asarray(cw, dtype=np.float64),
    )
