"""Import refuses what cannot be right and never erases: quoting, encodings, control characters,
merged and formula cells, plausibility, ids colliding by case, re-imports with fewer columns,
grouped messages with the file's own headers, --errors-out, and errors under --json."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from test_io import PROPOSAL_HEAD, UNITS, count
from test_io import seed_base as base

from models import jobs
from models.cells import Limits
from models.problems import InvalidInput
from models.schema import Expert, Person, Proposal, Unit
from scripts.cli import cli


def write(tmp_path: Path, name: str, data: str | bytes, encoding: str = "utf-8") -> Path:
    p = tmp_path / name
    p.write_bytes(data.encode(encoding) if isinstance(data, str) else data)
    return p


def run(engine: Engine, *args: str) -> Result:
    url = engine.url.render_as_string(hide_password=False)
    return CliRunner().invoke(cli, ["--db", url, "--actor", "tester", "--lang", "en", *args])


def refused(result: Result, tmp_path: Path) -> str:
    assert result.exit_code == 3, result.output
    assert result.stdout == ""
    assert "Traceback" not in result.output
    return result.stderr.replace(str(tmp_path) + "/", "")


# --- quoting and field counts --------------------------------------------------------------------


def test_unclosed_quote_is_refused_naming_its_row(engine: Engine, tmp_path: Path) -> None:
    rows = [f"U{i},单位{i},企业,南京,江苏" for i in range(20)]
    rows[5] = 'U5,单位5,企业,南京,"江苏'  # the quote is never closed: 14 rows would fall in
    path = write(tmp_path, "units.csv", "unit_id,name,type,city,province\n" + "\n".join(rows))
    err = refused(run(engine, "import", "units", str(path)), tmp_path)
    assert (
        "units.csv, row 7: expected a closing quote for the quoted cell that starts in this row"
        in err
    )
    assert count(engine, Unit) == 0


@pytest.mark.parametrize(
    ("row", "n"), [("U2,乙,企业,南京,江苏,多余", 6), ("U2,乙,企业,南京", 4)], ids=["more", "fewer"]
)
def test_row_with_another_field_count_is_refused(
    engine: Engine, tmp_path: Path, row: str, n: int
) -> None:
    path = write(tmp_path, "units.csv", UNITS + row.replace("U2", "U3") + "\n")
    err = refused(run(engine, "import", "units", str(path)), tmp_path)
    assert f"units.csv, row 4: expected as many fields as the header (5), got {n}" in err
    assert count(engine, Unit) == 0


def test_quoted_cells_keep_commas_and_line_breaks(engine: Engine, tmp_path: Path) -> None:
    path = write(tmp_path, "units.csv", UNITS + 'U3,"甲,乙\n研究院",institute,南京,江苏\n')
    assert run(engine, "import", "units", str(path)).exit_code == 0
    with Session(engine) as s:
        assert s.get(Unit, "U3").name == "甲,乙\n研究院"  # type: ignore[union-attr]


# --- encodings ---------------------------------------------------------------------------------


def test_latin1_file_is_refused_not_stored_as_mojibake(engine: Engine, tmp_path: Path) -> None:
    path = write(tmp_path, "people.csv", "person_id,name\nX1,Hans Müller\n", "latin-1")
    err = refused(run(engine, "import", "people", str(path)), tmp_path)
    assert (
        "people.csv, row 2, column name: got 'Hans Müller'; expected text in UTF-8 or "
        "GB18030/GBK (these bytes read as Latin-1/Windows-1252: save the file as UTF-8)"
    ) in err
    assert count(engine, Person) == 0


def test_utf8_file_with_one_gbk_row_names_that_row(engine: Engine, tmp_path: Path) -> None:
    data = "person_id,name\nX2,张伟\n".encode() + "X3,李娜\n".encode("gbk") + "X4,王芳\n".encode()
    err = refused(
        run(engine, "import", "people", str(write(tmp_path, "people.csv", data))), tmp_path
    )
    assert "people.csv, row 3, column name: got '李娜'; expected UTF-8 text like the rest" in err
    assert "row 2" not in err and "row 4" not in err
    assert count(engine, Person) == 0


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_files_are_read(engine: Engine, tmp_path: Path, encoding: str) -> None:
    text = "person_id\tname\nX5\t王芳\nX6\tZoë\n"  # Excel's "Unicode text": tab-separated
    path = write(tmp_path, "people.csv", text, encoding)
    result = run(engine, "import", "people", str(path))
    assert result.exit_code == 0, result.output
    with Session(engine) as s:
        assert s.get(Person, "X5").name == "王芳"  # type: ignore[union-attr]
        assert s.get(Person, "X6").name == "Zoë"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("cell", "code"),
    [("王\x07芳", "U+0007"), ("ab\x00c", "U+0000"), ("x\x1by", "U+001B"), ("a\x85b", "U+0085")],
)
def test_control_characters_are_refused(
    engine: Engine, tmp_path: Path, cell: str, code: str
) -> None:
    filler = "".join(f"Y{i},名字{i}\n" for i in range(300))  # far past the first 4 KB
    path = write(tmp_path, "people.csv", "person_id,name\n" + filler + f"X7,{cell}\n")
    err = refused(run(engine, "import", "people", str(path)), tmp_path)
    assert "people.csv, row 302, column name: got " in err
    assert f"expected text without control characters (found {code}" in err
    assert count(engine, Person) == 0


def test_tab_and_line_break_inside_a_quoted_cell_are_kept(engine: Engine, tmp_path: Path) -> None:
    path = write(tmp_path, "people.csv", 'person_id,name\nX8,"王\t芳\r\n二"\n')
    assert run(engine, "import", "people", str(path)).exit_code == 0


# --- XLSX layouts --------------------------------------------------------------------------------


def _xlsx(path: Path, rows: list[list[object]], merges: tuple[str, ...] = ()) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    for r in rows:
        ws.append(r)
    for m in merges:
        ws.merge_cells(m)
    wb.save(path)
    return path


def test_merged_cells_in_one_column_are_filled_down_with_a_warning(
    engine: Engine, tmp_path: Path
) -> None:
    path = _xlsx(
        tmp_path / "units.xlsx",
        [
            ["unit_id", "name", "type", "city", "province"],
            ["U1", "甲", "企业", "南京", "江苏"],
            ["U2", "乙", "企业", "南京", None],
            ["U3", "丙", "企业", "苏州", None],
        ],
        merges=("E2:E4",),
    )
    result = run(engine, "import", "units", str(path), "--json")
    assert result.exit_code == 0, result.output
    counts = json.loads(result.stdout)["imported"]["units"]
    assert counts["warnings"] == [
        "cells E2:E4 are merged: their value '江苏' was used for rows 2–4"
    ]
    with Session(engine) as s:
        assert [u.province for u in s.scalars(select(Unit).order_by(Unit.unit_id))] == [
            "江苏省"
        ] * 3


def test_cells_merged_across_columns_are_refused(engine: Engine, tmp_path: Path) -> None:
    path = _xlsx(
        tmp_path / "units.xlsx",
        [["unit_id", "name", "type", "city", "province"], ["U1", "甲", "企业", "南京", "江苏"],
         ["U2", "乙", None, "南京", "江苏"]],
        merges=("B3:C3",),
    )  # fmt: skip
    err = refused(run(engine, "import", "units", str(path)), tmp_path)
    assert "units.xlsx, row 3, column B3:C3: got '乙'; expected one value per cell" in err


def test_formula_without_a_saved_value_is_refused(engine: Engine, tmp_path: Path) -> None:
    path = _xlsx(
        tmp_path / "units.xlsx",
        [["unit_id", "name", "type", "city", "province"], ["U1", "甲", "企业", "南京", "江苏"],
         ["U2", "乙", "企业", "=D2", "江苏"]],
    )  # fmt: skip
    err = refused(run(engine, "import", "units", str(path)), tmp_path)
    assert (
        "units.xlsx, row 3, column D3: got '=D2'; expected a value, not a formula without a "
        "saved result"
    ) in err
    assert count(engine, Unit) == 0


# --- plausibility and ids -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "requested", "column", "expected"),
    [
        ("3000", "-500", "requested_wan", "an amount of at least 0 万元"),
        ("1e12", "500", "total_budget_wan", "an amount of at most 1e+06 万元"),
        ("inf", "500", "total_budget_wan", "a finite number"),
    ],
)
def test_implausible_money_is_refused(
    engine: Engine, tmp_path: Path, total: str, requested: str, column: str, expected: str
) -> None:
    base(engine, tmp_path)
    path = write(
        tmp_path, "p.csv", PROPOSAL_HEAD + f"X1,2024,3001,大模型,U1,P1,{total},{requested}\n"
    )
    err = refused(run(engine, "import", "proposals", str(path)), tmp_path)
    assert f"p.csv, row 2, column {column}: got " in err and expected in err
    assert count(engine, Proposal) == 0


def test_the_money_ceiling_is_configurable(engine: Engine, tmp_path: Path) -> None:
    base(engine, tmp_path)
    path = write(tmp_path, "p.csv", PROPOSAL_HEAD + "X1,2024,3001,大模型,U1,P1,2500000,500\n")
    assert run(engine, "import", "proposals", str(path)).exit_code == 3
    assert run(engine, "import", "proposals", str(path), "--max-wan", "5000000").exit_code == 0
    assert run(engine, "import", "units", str(path), "--max-wan", "0").exit_code == 3


def test_birth_date_in_the_future_is_refused(engine: Engine, tmp_path: Path) -> None:
    path = write(tmp_path, "people.csv", "person_id,name,birth_date\nX9,赵强,2090-01-01\n")
    err = refused(run(engine, "import", "people", str(path)), tmp_path)
    assert "column birth_date: got '2090-01-01'; expected a date not in the future" in err


def test_limits_follow_the_given_day(engine: Engine, tmp_path: Path) -> None:
    path = write(tmp_path, "people.csv", "person_id,name,birth_date\nX9,赵强,2030-01-01\n")
    with pytest.raises(InvalidInput):
        jobs.import_kind(
            engine, "people", path, actor="t", limits=Limits(today=dt.date(2029, 1, 1))
        )
    jobs.import_kind(engine, "people", path, actor="t", limits=Limits(today=dt.date(2031, 1, 1)))
    assert count(engine, Person) == 1


def test_ids_differing_only_by_case_or_spaces_are_refused(engine: Engine, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "units.csv",
        'unit_id,name,type,province\nUX1,甲,企业,江苏\n" ux1 ",乙,企业,江苏\n',
    )
    err = refused(run(engine, "import", "units", str(path)), tmp_path)
    assert (
        "units.csv, row 3, column unit_id: got 'ux1'; expected a unit_id that differs from "
        "'UX1' by more than case or spaces (already on row 2)"
    ) in err
    jobs.import_kind(engine, "units", write(tmp_path, "u1.csv", UNITS), actor="t")
    err = refused(
        run(engine, "import", "units", str(write(tmp_path, "u2.csv", UNITS.replace("U1,", "u1,")))),
        tmp_path,
    )
    assert "expected an id that differs from the stored 'U1' by more than case or spaces" in err


def test_a_reference_in_the_wrong_case_suggests_the_stored_id(
    engine: Engine, tmp_path: Path
) -> None:
    base(engine, tmp_path)
    path = write(tmp_path, "people.csv", "person_id,name,unit_id\nX1,甲,u1\n")
    err = refused(run(engine, "import", "people", str(path)), tmp_path)
    assert "expected an id already in Units (import units first) (did you mean 'U1'?)" in err


# --- re-imports never erase --------------------------------------------------------------------


def test_reimport_with_fewer_columns_keeps_the_others(engine: Engine, tmp_path: Path) -> None:
    base(engine, tmp_path)
    path = write(tmp_path, "p2.csv", "person_id,name\nP1,张伟\nP2,李娜娜\n")
    c = jobs.import_kind(engine, "people", path, actor="t")
    assert (c.created, c.updated, c.unchanged, c.cleared) == (0, 1, 1, 0)
    with Session(engine) as s:
        p1, p2 = s.get(Person, "P1"), s.get(Person, "P2")
        assert p1 is not None and p2 is not None
        assert (p1.unit_id, p1.birth_date, p1.title) == ("U1", dt.date(1985, 3, 2), "senior")
        assert (p2.name, p2.unit_id, p2.title) == ("李娜娜", "U2", "associate")


def test_an_empty_cell_clears_only_an_optional_value(engine: Engine, tmp_path: Path) -> None:
    base(engine, tmp_path)
    path = write(tmp_path, "p2.csv", "person_id,name,title,unit_id\nP1,张伟,,\nP2,李娜,副高,U2\n")
    c = jobs.import_kind(engine, "people", path, actor="t")
    assert (c.updated, c.unchanged, c.cleared) == (1, 1, 2)
    with Session(engine) as s:
        p1 = s.get(Person, "P1")
        assert p1 is not None and (p1.title, p1.unit_id, p1.birth_date) == (
            None,
            None,
            dt.date(1985, 3, 2),
        )
    err = refused(
        run(engine, "import", "people", str(write(tmp_path, "p3.csv", "person_id,name\nP1,\n"))),
        tmp_path,
    )
    assert "p3.csv, row 2, column name: got ''; expected a value (required)" in err


def test_reimport_of_experts_with_fewer_columns(engine: Engine, tmp_path: Path) -> None:
    base(engine, tmp_path)
    full = "expert_id,kind,keywords,max_load,active\nP1,科技,芯片;封装,5,false\nP2,产业,储能,,\n"
    jobs.import_kind(engine, "experts", write(tmp_path, "e1.csv", full), actor="t")
    with Session(engine) as s:
        assert s.get(Expert, "P2").active is True  # type: ignore[union-attr]  # the default
    c = jobs.import_kind(
        engine,
        "experts",
        write(tmp_path, "e2.csv", "expert_id,kind\nP1,产业\nP2,产业\n"),
        actor="t",
    )
    assert (c.updated, c.unchanged, c.cleared) == (1, 1, 0)
    with Session(engine) as s:
        e1 = s.get(Expert, "P1")
        assert e1 is not None
        assert (e1.kind, e1.keywords, e1.max_load, e1.active) == ("industry", "芯片;封装", 5, False)


def test_a_new_row_needs_the_required_columns_the_file_lacks(
    engine: Engine, tmp_path: Path
) -> None:
    base(engine, tmp_path)
    path = write(tmp_path, "p.csv", "person_id,birth_date\nP1,1985-03-03\nP9,1970-01-01\n")
    err = refused(run(engine, "import", "people", str(path)), tmp_path)
    assert (
        "p.csv, row 3, column name: expected a column named name (or 姓名): this row is new" in err
    )
    assert "row 2" not in err


# --- messages an officer can act on ------------------------------------------------------------


def test_repeated_errors_are_grouped_under_the_files_own_header(
    engine: Engine, tmp_path: Path
) -> None:
    base(engine, tmp_path)
    head = "人员编号,姓名,单位编号\n"
    rows = "".join(f"X{i:03d},某{i},U{i + 100}\n" for i in range(2, 728))
    path = write(tmp_path, "people.csv", head + rows)
    errors = tmp_path / "errors.csv"
    result = run(engine, "import", "people", str(path), "--errors-out", str(errors))
    err = refused(result, tmp_path)
    assert err.count("\n  - ") == 1
    assert (
        "people.csv, column 单位编号 [unit_id]: 726 rows: expected an id already in Units (import "
        "units first) (rows 2–727); first values 'U102', 'U103', 'U104', …"
    ) in err
    listed = list(csv.DictReader(io.StringIO(errors.read_text(encoding="utf-8-sig"))))
    assert len(listed) == 726
    assert listed[0] == {
        "file": str(path),
        "row": "2",
        "column": "单位编号",
        "field": "unit_id",
        "value": "U102",
        "expected": "an id already in Units (import units first)",
    }
    assert [r["row"] for r in listed] == [str(i) for i in range(2, 728)]


def test_import_error_under_json_is_one_object_on_stdout(engine: Engine, tmp_path: Path) -> None:
    path = write(tmp_path, "units.csv", "单位编号,单位名称\nU1,甲\n")
    result = run(engine, "--lang", "zh", "import", "units", str(path), "--json")
    assert result.exit_code == 3
    out = json.loads(result.stdout)
    assert out["exit_code"] == 3
    assert out["error"].startswith("2 problems in the input; nothing was written:")  # English
    assert out["problems"][0] == {
        "file": str(path),
        "row": 1,
        "column": "type",
        "field": "type",
        "value": None,
        "expected": "a column named type (or 单位类型)",
    }


def test_messages_follow_the_language(engine: Engine, tmp_path: Path) -> None:
    path = write(tmp_path, "units.csv", "单位编号,单位名称,单位类型,省份\nU1,甲,工厂,江苏\n")
    url = engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(cli, ["--db", url, "--lang", "zh", "import", "units", str(path)])
    assert result.exit_code == 3
    assert "第2行" in result.stderr and "单位类型 [type]" in result.stderr
    assert "expected" not in result.stderr


def test_formats_lists_the_chinese_values_of_each_enumeration() -> None:
    result = CliRunner().invoke(cli, ["formats", "experts", "--json"])
    assert result.exit_code == 0
    kind = next(c for c in json.loads(result.stdout)["columns"] if c["column"] == "kind")
    assert kind["values"] == "academic (科技) | industry (产业) | finance (财务)"
    result = CliRunner().invoke(cli, ["formats", "reviews", "--json"])
    verdict = next(c for c in json.loads(result.stdout)["columns"] if c["column"] == "verdict")
    assert verdict["values"] == "recommend (推荐) | reject (不推荐) | abstain (弃权)"
    assert (
        "assignments" in json.loads(CliRunner().invoke(cli, ["formats", "--json"]).stdout)["kinds"]
    )


def test_import_all_reads_xlsx_files_and_refuses_two_of_one_kind(
    engine: Engine, tmp_path: Path
) -> None:
    d = tmp_path / "batch"
    d.mkdir()
    write(d, "units.csv", UNITS)
    _xlsx(d / "people.xlsx", [["person_id", "name", "unit_id"], ["P1", "张伟", "U1"]])
    result = run(engine, "import", "all", str(d), "--json")
    assert result.exit_code == 0, result.output
    assert set(json.loads(result.stdout)["imported"]) == {"units", "people"}
    write(d, "people.csv", "person_id,name\nP2,李娜\n")
    err = refused(run(engine, "import", "all", str(d)), tmp_path)
    assert "expected one file of kind people (both people.csv and people.xlsx are here" in err
    assert count(engine, Person) == 1
