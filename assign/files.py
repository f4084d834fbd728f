"""Reading an assignment from plain files, with every input problem reported at once.

Ids are text everywhere: no reader infers a number or a category, so ``007`` stays ``007``
and ``7`` and ``07`` are two experts, under every pandas version the package admits (CSV is
read as strings by pyarrow or by pandas with ``dtype=str``; Parquet columns are cast to text).

Files (row numbers count the header as row 1; files without a header, in the column order
shown, are accepted as other matchers write them, and their rows count from 1):

- scores (one or more, summed with weights): ``proposal,expert,score`` as CSV or Parquet, or
  NumPy ``.npz`` holding ``scores`` (P, E) with ``proposals`` (P,) and ``experts`` (E,) ids
  (NaN = not scored). Any finite score is accepted; each pair at most once per file. A pair
  missing from one file counts 0 there; pairs in no file are not candidates unless
  ``allow_missing`` (then they are, at 0).
- conflicts: ``proposal,expert``; constraints: ``proposal,expert,constraint`` with -1
  (conflict), +1 (must be assigned) or 0 (no effect). Ids must occur in the scores.
- demands: ``proposal,k`` (k for that proposal; others keep the global k).
- experts: ``expert`` plus optional ``min_load``, ``max_load`` (integers >= 0; empty = the
  global value), ``unit``, ``kind`` (academic | industry | finance), ``province`` (outside
  the province = non-empty and not Jiangsu: 江苏省 / 江苏 / Jiangsu), ``title`` (senior / 正高
  count as senior). Without a header: ``expert,max_load``. Every expert of the scores must be
  listed.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from assign.pinned import Pinned, pin
from assign.problem import AssignmentProblem
from assign.result import AssignmentResult
from models import places
from models.i18n import _
from models.problems import InvalidInput, Problem

SENIOR_TITLES = frozenset({"senior", "正高", "正高级", "professor", "研究员", "教授"})
KINDS = ("academic", "industry", "finance")
SCORES = ("proposal", "expert", "score")


# --------------------------------------------------------------------------- tables


@dataclass(frozen=True, eq=False)
class _Table:
    """A file's cells as text (stripped), and the file row of each data row."""

    name: str
    df: pd.DataFrame
    first_row: int  # file row of the first data row: 2 with a header, 1 without

    def row(self, i: int | np.integer) -> int:
        return self.first_row + int(i)


def _is_parquet(path: Path) -> bool:
    return path.suffix.lower() in (".parquet", ".pq")


def _has_header(first: list[str], required: Sequence[str], positional: Sequence[str]) -> bool:
    """A header names every required column; a first row of data has the positional shape
    and numbers where the positional columns after the ids are."""
    cells = [c.strip().lstrip("\ufeff") for c in first]
    if set(required) <= set(cells) or not positional or len(cells) != len(positional):
        return True
    numeric = [
        c for c, name in zip(cells, positional, strict=True) if name not in ("proposal", "expert")
    ]
    return not all(_is_number(c) for c in numeric)


def _is_number(text: str) -> bool:
    try:
        float(text.strip())
    except ValueError:
        return False
    return True


def _read_table(
    path: Path,
    required: Sequence[str],
    problems: list[Problem],
    positional: Sequence[str] = (),
) -> _Table | None:
    """Read a CSV or Parquet file as text; record a missing file, header or data as problems."""
    name = path.name
    want = ",".join(required)
    if not path.exists():
        problems.append(Problem(name, None, None, None, _("an existing file at {path}", path=path)))
        return None
    first_row = 2
    if _is_parquet(path):
        try:
            df = pq.read_table(path).to_pandas(types_mapper=None)
        except (OSError, pa.ArrowException) as exc:
            problems.append(
                Problem(name, None, None, None, _("a readable Parquet file ({error})", error=exc))
            )
            return None
        df = df.astype(object).where(df.notna(), "").astype(str)
    else:
        try:
            raw = pd.read_csv(
                path, dtype=str, keep_default_na=False, header=None, encoding="utf-8-sig"
            )
        except pd.errors.EmptyDataError:
            problems.append(
                Problem(
                    name, None, None, None, _("a header row {columns} and data rows", columns=want)
                )
            )
            return None
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:
            msg = _("a UTF-8 CSV file with as many cells in every row ({error})", error=exc)
            problems.append(Problem(name, None, None, None, msg))
            return None
        first = [str(c) for c in raw.iloc[0].tolist()]
        if _has_header(first, required, positional):
            df = raw.iloc[1:].reset_index(drop=True)
            df.columns = [c.strip().lstrip("\ufeff") for c in first]
        else:
            df, first_row = raw.copy(), 1
            df.columns = list(positional)
    df.columns = [str(c).strip() for c in df.columns]
    missing = [c for c in required if c not in df.columns]
    if missing:
        found = ",".join(df.columns)
        for col in missing:
            problems.append(
                Problem(name, 1, col, found, _("a header row with columns {columns}", columns=want))
            )
        return None
    if len(df) == 0:
        problems.append(Problem(name, None, None, None, _("at least one data row")))
        return None
    return _Table(name, df.apply(lambda s: s.str.strip()), first_row)


def read_table(path: Path, required: Sequence[str], problems: list[Problem]) -> pd.DataFrame | None:
    """A CSV or Parquet file with a header as text cells (stripped), or None with its
    problems recorded (missing file, header or columns, no data rows)."""
    t = _read_table(Path(path), required, problems)
    return None if t is None else t.df


def _blank_ids(t: _Table, cols: Sequence[str], out: list[Problem]) -> None:
    for col in cols:
        for i in np.flatnonzero(t.df[col].to_numpy() == ""):
            out.append(Problem(t.name, t.row(i), col, "", _("a non-empty id")))


def _duplicates(t: _Table, cols: Sequence[str], what: str, out: list[Problem]) -> np.ndarray:
    """Record rows repeating an earlier row's ``cols``; returns the mask of repeats."""
    dup = t.df.duplicated(subset=list(cols)).to_numpy()
    if dup.any():
        first = t.df.groupby(list(cols), sort=False).cumcount()
        firsts: dict[tuple[str, ...], int] = {}
        for i, key in enumerate(zip(*(t.df[c] for c in cols), strict=True)):
            if first.iloc[i] == 0:
                firsts[key] = i
            else:
                out.append(
                    Problem(
                        t.name,
                        t.row(i),
                        ",".join(cols),
                        ",".join(key),
                        _("{what} once (first at row {row})", what=what, row=t.row(firsts[key])),
                    )
                )
    return dup


# --------------------------------------------------------------------------- scores


@dataclass(frozen=True, eq=False)
class Scores:
    """One scores file: ids (text, in order of first appearance) and its pairs."""

    name: str
    proposals: np.ndarray  # (P_f,) str
    experts: np.ndarray  # (E_f,) str
    p: np.ndarray  # (C_f,) int64 into proposals
    e: np.ndarray  # (C_f,) int64 into experts
    w: np.ndarray  # (C_f,) float64


def _encode(col: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """(codes, unique values in order of first appearance) of a text column."""
    enc = pc.dictionary_encode(col).combine_chunks()
    return (
        enc.indices.to_numpy(zero_copy_only=False).astype(np.int64),
        np.asarray(enc.dictionary.to_pylist(), dtype=object),
    )


def _fast_csv(path: Path) -> pa.Table | None:
    """The scores CSV read by pyarrow with text ids and float scores, when it has a header
    and every cell converts; None sends it to the row-by-row reader, which names problems."""
    try:
        with open(path, encoding="utf-8-sig") as fh:
            header = [c.strip() for c in fh.readline().rstrip("\r\n").split(",")]
        if header != list(SCORES):
            return None
        return pacsv.read_csv(
            path,
            convert_options=pacsv.ConvertOptions(
                column_types={
                    "proposal": pa.string(),
                    "expert": pa.string(),
                    "score": pa.float64(),
                },
                include_columns=list(SCORES),
                null_values=[],
                strings_can_be_null=False,
            ),
        )
    except (OSError, UnicodeDecodeError, pa.ArrowException):
        return None


def _clean_ids(values: np.ndarray) -> bool:
    return all(isinstance(v, str) and v and v == v.strip() for v in values.tolist())


def _scores_from_table(name: str, tbl: pa.Table, problems: list[Problem]) -> Scores | None:
    p, pid = _encode(tbl.column("proposal"))
    e, eid = _encode(tbl.column("expert"))
    w = tbl.column("score").to_numpy().astype(np.float64)
    if not (_clean_ids(pid) and _clean_ids(eid)):
        return None
    bad = np.flatnonzero(~np.isfinite(w))
    for i in bad:
        val = "" if math.isnan(w[i]) else str(w[i])
        problems.append(
            Problem(name, int(i) + 2, "score", val, _("a finite number (the affinity score)"))
        )
    key = p * np.int64(max(eid.size, 1)) + e
    dup = pd.Series(key).duplicated().to_numpy()
    if dup.any():
        first = pd.Series(np.arange(key.size)).groupby(key).transform("min").to_numpy()
        for i in np.flatnonzero(dup):
            problems.append(
                Problem(
                    name,
                    int(i) + 2,
                    "proposal,expert",
                    f"{pid[p[i]]},{eid[e[i]]}",
                    _(
                        "{what} once (first at row {row})",
                        what=_("each (proposal, expert) pair"),
                        row=int(first[i]) + 2,
                    ),
                )
            )
    return Scores(name, pid, eid, p, e, w)


def _scores_slow(path: Path, problems: list[Problem]) -> Scores | None:
    t = _read_table(path, SCORES, problems, positional=SCORES)
    if t is None:
        return None
    n_before = len(problems)
    _blank_ids(t, ("proposal", "expert"), problems)
    raw = t.df["score"].to_numpy()
    w = pd.to_numeric(t.df["score"], errors="coerce").to_numpy(np.float64)
    for i in np.flatnonzero(~np.isfinite(w)):
        problems.append(
            Problem(
                t.name, t.row(i), "score", str(raw[i]), _("a finite number (the affinity score)")
            )
        )
    _duplicates(t, ("proposal", "expert"), _("each (proposal, expert) pair"), problems)
    if len(problems) > n_before:
        return None
    p, pid = pd.factorize(t.df["proposal"])
    e, eid = pd.factorize(t.df["expert"])
    return Scores(
        t.name,
        np.asarray(pid, object),
        np.asarray(eid, object),
        p.astype(np.int64),
        e.astype(np.int64),
        w,
    )


def _scores_npz(path: Path, problems: list[Problem]) -> Scores | None:
    name = path.name
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in ("scores", "proposals", "experts") if k in z.files}
    except (OSError, ValueError) as exc:
        problems.append(
            Problem(name, None, None, None, _("a readable NumPy .npz file ({error})", error=exc))
        )
        return None
    need = _("arrays scores (P, E), proposals (P,) and experts (E,)")
    missing = [k for k in ("scores", "proposals", "experts") if k not in arrays]
    if missing:
        problems.append(Problem(name, None, ",".join(missing), None, need))
        return None
    m, pid, eid = arrays["scores"], arrays["proposals"], arrays["experts"]
    if m.ndim != 2 or pid.shape != (m.shape[0],) or eid.shape != (m.shape[1],):
        shapes = f"{m.shape}, {pid.shape}, {eid.shape}"
        problems.append(Problem(name, None, "scores,proposals,experts", shapes, need))
        return None
    if not np.issubdtype(m.dtype, np.number):
        problems.append(Problem(name, None, "scores", str(m.dtype), _("a numeric matrix")))
        return None
    pid = np.asarray([str(x).strip() for x in pid.tolist()], dtype=object)
    eid = np.asarray([str(x).strip() for x in eid.tolist()], dtype=object)
    for col, ids in (("proposals", pid), ("experts", eid)):
        seen: set[str] = set()
        for i, v in enumerate(ids.tolist()):
            if v == "" or v in seen:
                what = _("a non-empty id") if v == "" else _("each id once")
                problems.append(Problem(name, i, col, v, what))
            seen.add(v)
    m = np.asarray(m, dtype=np.float64)
    inf = np.argwhere(np.isinf(m))
    for a, b in inf[:50]:
        problems.append(
            Problem(
                name, None, "scores", f"{pid[a]},{eid[b]}: {m[a, b]}", _("a finite number or NaN")
            )
        )
    if len(inf) or problems:
        return None
    p, e = np.nonzero(~np.isnan(m))
    return Scores(name, pid, eid, p.astype(np.int64), e.astype(np.int64), m[p, e])


def read_scores(path: Path, problems: list[Problem]) -> Scores | None:
    """One scores file (CSV, Parquet or .npz); problems recorded, None when it has any."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        if path.exists():
            return _scores_npz(path, problems)
        _missing(path, problems)
        return None
    n_before = len(problems)
    tbl = None
    if _is_parquet(path) and path.exists():
        try:
            tbl = pq.read_table(path, columns=list(SCORES))
            tbl = pa.table(
                {
                    "proposal": pc.cast(tbl.column("proposal"), pa.string()),
                    "expert": pc.cast(tbl.column("expert"), pa.string()),
                    "score": pc.cast(tbl.column("score"), pa.float64()),
                }
            )
        except (KeyError, pa.ArrowException):
            tbl = None
    elif not _is_parquet(path) and path.exists():
        tbl = _fast_csv(path)
    if tbl is not None and tbl.num_rows:
        got = _scores_from_table(path.name, tbl, problems)
        if got is not None:
            return got if len(problems) == n_before else None
        del problems[n_before:]
    return _scores_slow(path, problems)


def _missing(path: Path, problems: list[Problem]) -> None:
    problems.append(
        Problem(path.name, None, None, None, _("an existing file at {path}", path=path))
    )
    return None


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True, eq=False)
class FileInputs:
    """Validated inputs: the problem over every scored pair (``full``: the given k and loads)
    and the same with the must-assign pairs taken out (``pinned``), ready for any solver."""

    full: AssignmentProblem
    pinned: Pinned
    allow_missing: bool


@dataclass(frozen=True, eq=False)
class _ExpertTable:
    ids: tuple[str, ...]
    min_load: np.ndarray
    max_load: np.ndarray
    unit: np.ndarray
    is_industry: np.ndarray
    is_outside: np.ndarray
    is_senior: np.ndarray


def _int_column(
    t: _Table,
    col: str,
    default: int,
    out: list[Problem],
    expected: str = "",
) -> np.ndarray:
    expected = expected or _("an integer >= 0 or empty")
    vals = t.df[col].to_numpy() if col in t.df.columns else np.full(len(t.df), "", object)
    res = np.full(len(vals), default, np.int64)
    for i, v in enumerate(vals.tolist()):
        if v == "":
            continue
        if v.lstrip("+").isdigit():
            res[i] = int(v)
        else:
            out.append(Problem(t.name, t.row(i), col, v, expected))
    return res


def _read_experts(
    path: Path, scored: list[str], default_min: int, default_max: int, problems: list[Problem]
) -> _ExpertTable | None:
    t = _read_table(path, ("expert",), problems, positional=("expert", "max_load"))
    if t is None:
        return None
    _blank_ids(t, ("expert",), problems)
    _duplicates(t, ("expert",), _("each expert"), problems)
    ids = t.df["expert"].tolist()
    listed = set(ids)
    for e in scored:
        if e not in listed:
            problems.append(
                Problem(t.name, None, "expert", e, _("a row for every expert in the scores file"))
            )
    n = len(ids)
    col = {c: t.df[c].to_numpy() if c in t.df.columns else np.full(n, "", object)
           for c in ("unit", "kind", "province", "title")}  # fmt: skip
    min_load = _int_column(t, "min_load", default_min, problems)
    max_load = _int_column(t, "max_load", default_max, problems)
    for i in np.flatnonzero(min_load > max_load):
        problems.append(
            Problem(
                t.name,
                t.row(i),
                "min_load",
                str(min_load[i]),
                _("at most the expert's max_load ({max_load})", max_load=max_load[i]),
            )
        )
    kind = np.char.lower(col["kind"].astype(str))
    for i in np.flatnonzero((kind != "") & ~np.isin(kind, KINDS)):
        problems.append(
            Problem(
                t.name,
                t.row(i),
                "kind",
                str(col["kind"][i]),
                _("academic, industry, finance or empty"),
            )
        )
    unit_codes = pd.factorize(pd.Series(col["unit"], dtype=object).replace("", None))[0]
    prov = np.char.lower(col["province"].astype(str))
    title = np.char.lower(col["title"].astype(str))
    return _ExpertTable(
        ids=tuple(ids),
        min_load=min_load,
        max_load=max_load,
        unit=unit_codes.astype(np.int64),
        is_industry=kind == "industry",
        is_outside=(prov != "") & ~np.array([places.in_province(p) for p in prov], dtype=bool),
        is_senior=np.isin(title, list(SENIOR_TITLES)),
    )


def _pairs(
    path: Path,
    p_index: pd.Index,
    e_index: pd.Index,
    problems: list[Problem],
    value: str | None = None,
) -> tuple[_Table | None, np.ndarray, np.ndarray, np.ndarray]:
    """A proposal,expert[,value] file: (table, proposal and expert indices, row positions) of
    its rows whose ids are known; unknown ids are problems."""
    cols = ("proposal", "expert") + ((value,) if value else ())
    empty = np.zeros(0, np.int64)
    t = _read_table(path, cols, problems, positional=cols)
    if t is None:
        return None, empty, empty, empty
    _blank_ids(t, ("proposal", "expert"), problems)
    dup = _duplicates(t, ("proposal", "expert"), _("each (proposal, expert) pair"), problems)
    pi = p_index.get_indexer(t.df["proposal"])
    ei = e_index.get_indexer(t.df["expert"])
    for col, idx, what in (
        ("proposal", pi, _("a proposal id that occurs in the scores file")),
        ("expert", ei, _("an expert id that occurs in the scores file")),
    ):
        for i in np.flatnonzero((idx < 0) & (t.df[col].to_numpy() != "")):
            problems.append(
                Problem(
                    t.name,
                    t.row(i),
                    col,
                    t.df[col].iloc[i],
                    what,
                )
            )
    ok = np.flatnonzero((pi >= 0) & (ei >= 0) & ~dup)
    return t, pi[ok].astype(np.int64), ei[ok].astype(np.int64), ok


def _combine(
    scores: list[Scores], weights: Sequence[float]
) -> tuple[pd.Index, pd.Index, np.ndarray, np.ndarray, np.ndarray]:
    """Ids (first appearance over the files in order) and the weighted sum of every pair
    scored anywhere (0 where a file does not score it)."""
    pids = pd.Index(pd.unique(np.concatenate([s.proposals for s in scores])), dtype=object)
    eids = pd.Index(pd.unique(np.concatenate([s.experts for s in scores])), dtype=object)
    n_e = np.int64(max(len(eids), 1))
    keys, vals = [], []
    for s, wt in zip(scores, weights, strict=True):
        pm = pids.get_indexer(s.proposals).astype(np.int64)
        em = eids.get_indexer(s.experts).astype(np.int64)
        keys.append(pm[s.p] * n_e + em[s.e])
        vals.append(s.w * float(wt))
    key = np.concatenate(keys)
    if len(scores) == 1:
        return pids, eids, key // n_e, key % n_e, vals[0]
    uniq, inv = np.unique(key, return_inverse=True)
    total = np.bincount(inv, weights=np.concatenate(vals), minlength=uniq.size)
    return pids, eids, uniq // n_e, uniq % n_e, total


def read_inputs(
    scores: Sequence[Path],
    *,
    weights: Sequence[float] | None = None,
    conflicts: Path | None = None,
    constraints: Path | None = None,
    demands: Path | None = None,
    experts: Path | None = None,
    k: int,
    max_load: int,
    min_load: int = 0,
    floor: float = 0.0,
    allow_missing: bool = False,
    min_industry: int = 0,
    min_outside: int = 0,
    min_senior: int = 0,
) -> FileInputs:
    """Read and validate every file; raise ``InvalidInput`` listing every problem.

    ``weights`` (one per scores file, default 1 each) weigh the files' scores in their sum.
    """
    problems: list[Problem] = []
    paths = [Path(s) for s in scores]
    wts = [1.0] * len(paths) if weights is None else list(weights)
    if len(wts) != len(paths):
        raise ValueError(
            _("{n} weights for {files} scores files; give one each", n=len(wts), files=len(paths))
        )
    read = [read_scores(p, problems) for p in paths]
    if problems or any(r is None for r in read):
        raise InvalidInput(problems)
    pid_index, eid_index, cand_p, cand_e, cand_w = _combine([r for r in read if r], wts)
    eids = list(eid_index)
    table = None
    if experts is not None:
        table = _read_experts(Path(experts), eids, min_load, max_load, problems)
        if table is not None and not problems:
            order = pd.Index(table.ids, dtype=object)
            cand_e = order.get_indexer(eid_index)[cand_e].astype(np.int64)
            eid_index = order
    n_p, n_e = len(pid_index), len(eid_index)
    k_arr = np.full(n_p, k, np.int64)
    if demands is not None:
        t = _read_table(Path(demands), ("proposal", "k"), problems, positional=("proposal", "k"))
        if t is not None:
            _blank_ids(t, ("proposal",), problems)
            _duplicates(t, ("proposal",), _("each proposal"), problems)
            kk = _int_column(t, "k", k, problems, _("an integer k >= 0"))
            pi = pid_index.get_indexer(t.df["proposal"])
            for i in np.flatnonzero((pi < 0) & (t.df["proposal"].to_numpy() != "")):
                problems.append(
                    Problem(
                        t.name,
                        t.row(i),
                        "proposal",
                        t.df["proposal"].iloc[i],
                        "a proposal id that occurs in the scores file",
                    )
                )
            k_arr[pi[pi >= 0]] = kk[pi >= 0]
    conf_keys = [np.zeros(0, np.int64)]
    if conflicts is not None:
        cp, ce = _pairs(Path(conflicts), pid_index, eid_index, problems)[1:3]
        conf_keys.append(cp * np.int64(n_e) + ce)
    pin_p = pin_e = np.zeros(0, np.int64)
    pin_rows: np.ndarray = np.zeros(0, np.int64)
    ct = None
    if constraints is not None:
        ct, xp, xe, rows = _pairs(Path(constraints), pid_index, eid_index, problems, "constraint")
        if ct is not None:
            raw = ct.df["constraint"].to_numpy()
            val = np.array([{"-1": -1, "0": 0, "1": 1, "+1": 1}.get(v, 9) for v in raw.tolist()])
            for i in np.flatnonzero(val == 9):
                problems.append(
                    Problem(
                        ct.name,
                        ct.row(i),
                        "constraint",
                        raw[i],
                        _("-1 (conflict), 1 (must assign) or 0"),
                    )
                )
            v = val[rows]
            conf_keys.append(xp[v == -1] * np.int64(n_e) + xe[v == -1])
            pin_p, pin_e, pin_rows = xp[v == 1], xe[v == 1], rows[v == 1]
    conf = np.unique(np.concatenate(conf_keys))
    # experts' attributes and loads
    lo = np.full(n_e, min_load, np.int64) if table is None else table.min_load
    hi = np.full(n_e, max_load, np.int64) if table is None else table.max_load
    unit = None if table is None else table.unit
    if ct is not None and pin_p.size:
        _check_pins(
            ct, pin_p, pin_e, pin_rows, conf, k_arr, hi, unit, pid_index, eid_index, problems
        )
    if problems:
        raise InvalidInput(problems)
    if allow_missing:  # every pair is a candidate, unscored ones at 0
        scored = np.zeros((n_p, n_e))
        scored[cand_p, cand_e] = cand_w
        cand_p, cand_e = (a.ravel().astype(np.int64) for a in np.indices((n_p, n_e)))
        cand_w = scored.ravel()
    # a must-assign pair that no file scores is a candidate at 0, as a missing score is
    key = cand_p * np.int64(n_e) + cand_e
    pin_key = pin_p * np.int64(n_e) + pin_e
    extra = np.setdiff1d(pin_key, key)
    if extra.size:
        cand_p = np.concatenate([cand_p, extra // n_e])
        cand_e = np.concatenate([cand_e, extra % n_e])
        cand_w = np.concatenate([cand_w, np.zeros(extra.size)])
        key = cand_p * np.int64(n_e) + cand_e
    order = np.argsort(key)
    pin_w = cand_w[order[np.searchsorted(key[order], pin_key)]] if pin_key.size else np.zeros(0)
    full = AssignmentProblem(
        proposal_ids=tuple(pid_index),
        expert_ids=tuple(eid_index),
        cand_p=cand_p,
        cand_e=cand_e,
        cand_w=cand_w,
        k=k_arr,
        min_load=lo,
        max_load=hi,
        conflict_p=conf // max(n_e, 1),
        conflict_e=conf % max(n_e, 1),
        affinity_floor=floor,
        min_industry=min_industry,
        min_outside=min_outside,
        min_senior=min_senior,
        expert_unit=unit,
        is_industry=None if table is None else table.is_industry,
        is_outside=None if table is None else table.is_outside,
        is_senior=None if table is None else table.is_senior,
    )
    return FileInputs(full, pin(full, pin_p, pin_e, pin_w), allow_missing)


def _check_pins(
    t: _Table,
    p: np.ndarray,
    e: np.ndarray,
    rows: np.ndarray,
    conf: np.ndarray,
    k: np.ndarray,
    max_load: np.ndarray,
    unit: np.ndarray | None,
    pids: pd.Index,
    eids: pd.Index,
    out: list[Problem],
) -> None:
    """Must-assign pairs that cannot all hold: conflicted, more than k_p on a proposal or
    max_load on an expert, or two experts of one unit on a proposal."""
    n_e = np.int64(len(eids))

    def bad(row: int, expected: str) -> None:
        out.append(Problem(t.name, t.row(row), "constraint", "1", expected))

    for i in np.flatnonzero(np.isin(p * n_e + e, conf)):
        bad(rows[i], _("no must-assign pair that is also a conflict"))
    seen_p: dict[int, int] = {}
    seen_e: dict[int, int] = {}
    seen_u: dict[tuple[int, int], str] = {}
    for a, b, r in zip(p.tolist(), e.tolist(), rows.tolist(), strict=True):
        seen_p[a] = seen_p.get(a, 0) + 1
        seen_e[b] = seen_e.get(b, 0) + 1
        if seen_p[a] == k[a] + 1:
            msg = _("at most k={k} must-assign experts for proposal {proposal}", k=k[a],
                    proposal=pids[a])  # fmt: skip
            bad(r, msg)
        if seen_e[b] == max_load[b] + 1:
            msg = _("at most max_load={max_load} must-assign proposals for expert {expert}",
                    max_load=max_load[b], expert=eids[b])  # fmt: skip
            bad(r, msg)
        u = -1 if unit is None else int(unit[b])
        if u >= 0 and (a, u) in seen_u:
            msg = _("one must-assign expert per unit on proposal {proposal} ({other} has the "
                    "same unit)", proposal=pids[a], other=seen_u[a, u])  # fmt: skip
            bad(r, msg)
        elif u >= 0:
            seen_u[a, u] = str(eids[b])


# --------------------------------------------------------------------------- outputs


def alternates(problem: AssignmentProblem, result: AssignmentResult, n: int) -> pd.DataFrame:
    """Each proposal's ``n`` best eligible experts not assigned to it (not conflicted, at or
    above the floor), by score, then expert order: columns proposal, expert, score, rank."""
    n_e = np.int64(problem.n_experts)
    key = problem.cand_p * n_e + problem.cand_e
    taken = np.isin(key, result.pair_p * n_e + result.pair_e)
    conflicted = np.isin(key, problem.conflict_p * n_e + problem.conflict_e)
    ok = ~taken & ~conflicted & (problem.cand_w >= problem.affinity_floor)
    p, e, w = problem.cand_p[ok], problem.cand_e[ok], problem.cand_w[ok]
    order = np.lexsort((e, -w, p))
    p, e, w = p[order], e[order], w[order]
    rank = np.arange(p.size) - np.searchsorted(p, p)
    keep = rank < n
    pid = np.asarray(problem.proposal_ids, dtype=object)
    eid = np.asarray(problem.expert_ids, dtype=object)
    return pd.DataFrame(
        {"proposal": pid[p[keep]], "expert": eid[e[keep]], "score": w[keep], "rank": rank[keep] + 1}
    )


def write_assignment_csv(result: AssignmentResult, path: Path) -> int:
    """Write ``proposal,expert,score`` rows (sorted) to ``path``; return the row count.

    A plain CSV for scripts and other matchers: ids are written exactly as read (no formula
    escaping, which is for the exports meant for spreadsheets)."""
    df = result.to_frame().rename(
        columns={"proposal_id": "proposal", "expert_id": "expert", "affinity": "score"}
    )
    return write_rows(df, path)


def write_rows(df: pd.DataFrame, path: Path) -> int:
    """Write a frame as a plain UTF-8 CSV (floats as repr, text as is); return the row count."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(list(df.columns))
        for row in df.itertuples(index=False):
            w.writerow([repr(float(v)) if isinstance(v, float) else v for v in row])
    return len(df)
