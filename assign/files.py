"""Solving an assignment from plain CSV files, with every input problem reported at once.

Files (UTF-8 CSV, header row required; row numbers count the header as row 1):

- scores.csv: ``proposal,expert,score``. Any finite number is accepted as a score; pairs
  scoring below the affinity floor are never assigned. Each pair at most once. Pairs absent
  from the file are not candidates, unless ``allow_missing`` (then they are, with score 0).
- conflicts.csv: ``proposal,expert``; both ids must occur in scores.csv.
- experts.csv: ``expert`` plus optional ``max_load`` (integer >= 0; empty = the global
  max_load), ``unit`` (empty = unknown), ``kind`` (academic | industry | finance),
  ``province`` (outside the province = non-empty and not Jiangsu: 江苏省 / 江苏 / Jiangsu),
  ``title`` (senior / 正高 count as senior). Every expert of scores.csv must be listed.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from assign.problem import AssignmentProblem
from assign.solver import AssignmentResult, solve, solve_dense_problem
from models import places
from models.problems import InvalidInput, Problem, escape_formula

SENIOR_TITLES = frozenset({"senior", "正高", "正高级", "professor", "研究员", "教授"})
KINDS = ("academic", "industry", "finance")


def _read_table(
    path: Path, required: tuple[str, ...], problems: list[Problem]
) -> pd.DataFrame | None:
    """Read a CSV as strings; record missing file/header/columns/data as problems."""
    name = path.name
    if not path.exists():
        problems.append(Problem(name, None, None, None, f"an existing file at {path}"))
        return None
    want = ",".join(required)
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, engine="c")
    except pd.errors.EmptyDataError:
        problems.append(Problem(name, None, None, None, f"a header row {want} and data rows"))
        return None
    df.columns = [str(c).strip() for c in df.columns]
    missing = [c for c in required if c not in df.columns]
    if missing:
        found = ",".join(df.columns)
        for col in missing:
            problems.append(Problem(name, 1, col, found, f"a header row with columns {want}"))
        return None
    if len(df) == 0:
        problems.append(Problem(name, None, None, None, "at least one data row"))
        return None
    return df


def _blank_ids(df: pd.DataFrame, cols: tuple[str, ...], name: str, out: list[Problem]) -> None:
    for col in cols:
        bad = np.flatnonzero(df[col].str.strip().to_numpy() == "")
        out.extend(Problem(name, int(i) + 2, col, "", "a non-empty id") for i in bad)


def _clean_ids(col: pd.Series) -> bool:
    """True if a categorical id column has no missing, blank or space-padded id."""
    if col.isna().any():
        return False
    cats = col.cat.categories.astype(str)
    return bool(len(cats) == 0 or (cats.str.strip() == cats).all() and (cats != "").all())


def read_scores(path: Path, problems: list[Problem]) -> pd.DataFrame | None:
    """scores.csv as columns proposal, expert (str), score (float64); problems recorded."""
    name = path.name
    df = None
    if path.exists() and path.stat().st_size > 0:
        try:  # fast path: typed read
            df = pd.read_csv(
                path,
                engine="c",
                dtype={"proposal": "category", "expert": "category", "score": np.float64},
                usecols=["proposal", "expert", "score"],
                keep_default_na=False,
                na_values={"score": [""]},
            )
        except (ValueError, KeyError, pd.errors.ParserError):
            df = None
    if df is not None and not all(_clean_ids(df[c]) for c in ("proposal", "expert")):
        df = None
    if df is None:
        raw = _read_table(path, ("proposal", "expert", "score"), problems)
        if raw is None:
            return None
        _blank_ids(raw, ("proposal", "expert"), name, problems)
        num = pd.to_numeric(raw["score"].str.strip(), errors="coerce").to_numpy(np.float64)
        df = pd.DataFrame(
            {"proposal": raw["proposal"].str.strip(), "expert": raw["expert"].str.strip()}
        )
        df["score"] = num
        bad_val = raw["score"].to_numpy()
    else:
        bad_val = None
        if len(df) == 0:
            problems.append(Problem(name, None, None, None, "at least one data row"))
            return None
    score = df["score"].to_numpy(np.float64)
    bad = np.flatnonzero(~np.isfinite(score))
    for i in bad:
        val = (
            str(bad_val[i])
            if bad_val is not None
            else str(score[i])
            if not math.isnan(score[i])
            else ""
        )
        problems.append(
            Problem(name, int(i) + 2, "score", val, "a finite number (the affinity score)")
        )
    pc, _ = pd.factorize(df["proposal"])
    ec, euniq = pd.factorize(df["expert"])
    key = pc.astype(np.int64) * max(len(euniq), 1) + ec
    dup = pd.Series(key).duplicated().to_numpy()
    if dup.any():
        first = pd.Series(np.arange(key.size)).groupby(key).transform("min").to_numpy()
        for i in np.flatnonzero(dup):
            val = f"{df['proposal'].iloc[i]},{df['expert'].iloc[i]}"
            problems.append(
                Problem(
                    name,
                    int(i) + 2,
                    "proposal,expert",
                    val,
                    f"each (proposal, expert) pair once (first at row {int(first[i]) + 2})",
                )  # fmt: skip
            )
    return df


def _read_conflicts(
    path: Path, p_index: dict[str, int], e_index: dict[str, int], problems: list[Problem]
) -> tuple[np.ndarray, np.ndarray]:
    df = _read_table(path, ("proposal", "expert"), problems)
    if df is None:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    _blank_ids(df, ("proposal", "expert"), path.name, problems)
    ps, es = [], []
    for i, (p, e) in enumerate(
        zip(df["proposal"].str.strip(), df["expert"].str.strip(), strict=True)
    ):
        ok = True
        if p and p not in p_index:
            problems.append(
                Problem(
                    path.name, i + 2, "proposal", p, "a proposal id that occurs in the scores file"
                )
            )
            ok = False
        if e and e not in e_index:
            problems.append(
                Problem(
                    path.name, i + 2, "expert", e, "an expert id that occurs in the scores file"
                )
            )
            ok = False
        if ok and p and e:
            ps.append(p_index[p])
            es.append(e_index[e])
    key = np.unique(np.asarray(ps, np.int64) * max(len(e_index), 1) + np.asarray(es, np.int64))
    n_e = max(len(e_index), 1)
    return key // n_e, key % n_e


@dataclass(frozen=True, eq=False)
class _ExpertTable:
    ids: tuple[str, ...]
    max_load: np.ndarray
    unit: np.ndarray
    is_industry: np.ndarray
    is_outside: np.ndarray
    is_senior: np.ndarray


def _read_experts(
    path: Path, scored: list[str], default_max: int, problems: list[Problem]
) -> _ExpertTable | None:
    name = path.name
    df = _read_table(path, ("expert",), problems)
    if df is None:
        return None
    _blank_ids(df, ("expert",), name, problems)
    ids = df["expert"].str.strip().tolist()
    seen: dict[str, int] = {}
    for i, e in enumerate(ids):
        if e in seen:
            problems.append(
                Problem(name, i + 2, "expert", e, f"each expert once (first at row {seen[e] + 2})")
            )
        else:
            seen[e] = i
    listed = set(ids)
    missing = [e for e in scored if e not in listed]
    for e in missing:
        problems.append(
            Problem(name, None, "expert", e, "a row for every expert in the scores file")
        )
    n = len(ids)
    col = {c: df[c].str.strip().to_numpy() if c in df.columns else np.full(n, "", object)
           for c in ("max_load", "unit", "kind", "province", "title")}  # fmt: skip
    max_load = np.full(n, default_max, np.int64)
    for i, v in enumerate(col["max_load"]):
        if v == "":
            continue
        try:
            max_load[i] = int(v)
            if max_load[i] < 0:
                raise ValueError
        except ValueError:
            problems.append(Problem(name, i + 2, "max_load", v, "an integer >= 0 or empty"))
    kind = np.char.lower(col["kind"].astype(str))
    for i in np.flatnonzero((kind != "") & ~np.isin(kind, KINDS)).tolist():
        problems.append(
            Problem(
                name,
                int(i) + 2,
                "kind",
                str(col["kind"][i]),
                "academic, industry, finance or empty",
            )
        )
    unit_codes, _ = pd.factorize(pd.Series(col["unit"]).replace("", None))
    prov = np.char.lower(col["province"].astype(str))
    title = np.char.lower(col["title"].astype(str))
    return _ExpertTable(
        ids=tuple(ids),
        max_load=max_load,
        unit=unit_codes.astype(np.int64),
        is_industry=kind == "industry",
        is_outside=(prov != "") & ~np.array([places.in_province(p) for p in prov], dtype=bool),
        is_senior=np.isin(title, list(SENIOR_TITLES)),
    )


def solve_files(
    scores: Path,
    *,
    conflicts: Path | None,
    experts: Path | None,
    k: int,
    max_load: int,
    min_load: int = 0,
    floor: float = 0.0,
    allow_missing: bool = False,
    min_industry: int = 0,
    min_outside: int = 0,
    min_senior: int = 0,
    progress: Callable[[str, float], None] | None = None,
    solver: Callable[[AssignmentProblem], AssignmentResult] | None = None,
) -> tuple[AssignmentProblem, AssignmentResult]:
    """Read and validate the files, then solve; raise ``InvalidInput`` listing every problem.

    Dense inputs (``allow_missing``, or at least half of all pairs scored) go through the
    pricing certificate over the full (P, E) matrix; the returned problem then holds the pairs
    finally kept. ``solver`` (e.g. a fair or randomised one) replaces the exact solve and then
    sees every candidate pair. Returns (problem, result); the result's pairs index into the
    problem.
    """
    problems: list[Problem] = []
    if progress is not None:
        progress("read", 0.0)
    sc = read_scores(Path(scores), problems)
    if sc is None:
        raise InvalidInput(problems)
    pc, puniq = pd.factorize(sc["proposal"])
    ec, euniq = pd.factorize(sc["expert"])
    pids = [str(x) for x in puniq]
    eids = [str(x) for x in euniq]
    table = None
    if experts is not None:
        table = _read_experts(Path(experts), eids, max_load, problems)
        if table is not None:
            eids = list(table.ids) if not problems else eids
    e_index = {e: i for i, e in enumerate(eids)}
    p_index = {p: i for i, p in enumerate(pids)}
    cf_p = cf_e = np.zeros(0, np.int64)
    if conflicts is not None:
        cf_p, cf_e = _read_conflicts(Path(conflicts), p_index, e_index, problems)
    if problems:
        raise InvalidInput(problems)
    if progress is not None:
        progress("read", 1.0)
    # map the scores' expert codes into the (possibly experts.csv-ordered) index
    remap = np.array([e_index[e] for e in map(str, euniq)], dtype=np.int64)
    cand_p, cand_e = pc.astype(np.int64), remap[ec]
    cand_w = sc["score"].to_numpy(np.float64)
    n_p, n_e = len(pids), len(eids)
    loads: np.ndarray | int = max_load if table is None else table.max_load
    unit = None if table is None else table.unit
    industry = None if table is None else table.is_industry
    outside = None if table is None else table.is_outside
    senior = None if table is None else table.is_senior
    if solver is None and (allow_missing or cand_p.size * 2 >= n_p * n_e):
        mat = np.full((n_p, n_e), 0.0 if allow_missing else np.nan, dtype=np.float64)
        mat[cand_p, cand_e] = cand_w
        return solve_dense_problem(
            mat, k=k, min_load=min_load, conflicts=(cf_p, cf_e), floor=floor,
            min_industry=min_industry, min_outside=min_outside, min_senior=min_senior,
            proposal_ids=tuple(pids), expert_ids=tuple(eids), progress=progress, max_load=loads,
            expert_unit=unit, is_industry=industry, is_outside=outside, is_senior=senior,
        )  # fmt: skip
    if allow_missing:  # every pair is a candidate, unscored ones at 0
        scored = np.zeros((n_p, n_e))
        scored[cand_p, cand_e] = cand_w
        cand_p, cand_e = (a.ravel().astype(np.int64) for a in np.indices((n_p, n_e)))
        cand_w = scored.ravel()
    problem = AssignmentProblem(
        proposal_ids=tuple(pids), expert_ids=tuple(eids), cand_p=cand_p, cand_e=cand_e,
        cand_w=cand_w, k=k, min_load=min_load, conflict_p=cf_p, conflict_e=cf_e,
        affinity_floor=floor, min_industry=min_industry, min_outside=min_outside,
        min_senior=min_senior, max_load=loads, expert_unit=unit, is_industry=industry,
        is_outside=outside, is_senior=senior,
    )  # fmt: skip
    return problem, solver(problem) if solver else solve(problem, progress=progress)


def write_assignment_csv(
    result: AssignmentResult, path: Path, *, escape_formulas: bool = True
) -> int:
    """Write ``proposal,expert,score`` rows (sorted) to ``path``; return the row count.

    Ids a spreadsheet would run as formulas (starting with = + - @) get a leading ``'``
    unless ``escape_formulas`` is False."""
    df = result.to_frame()
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["proposal", "expert", "score"])
        for p, e, s in zip(df["proposal_id"], df["expert_id"], df["affinity"], strict=True):
            if escape_formulas:
                p, e = escape_formula(str(p)), escape_formula(str(e))
            w.writerow([p, e, repr(float(s))])
    return len(df)
