"""Import/export: validation messages, all-or-nothing, encodings, XLSX layouts, idempotence."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from models import io, jobs
from models.db import make_engine, upgrade
from models.schema import Person, Proposal, Unit
from scripts.cli import cli

UNITS = (
    "unit_id,name,type,city,province\n"
    "U1,江苏恒远集团有限公司,企业,南京,江苏\n"
    "U2,东南理工大学,university,南京,江苏\n"
)
PEOPLE = (
    "person_id,name,unit_id,birth_date,title\n"
    "P1,张伟,U1,1985-03-02,正高\nP2,李娜,U2,1990-01-01,副高\n"
)
BATCHES = "batch_id,name,year,batch_date,deadline\n2024,2024年度,2024,2024-09-01,2024-08-05 17:30\n"
GUIDE = "code,programme,title\n3001,人工智能,垂直领域大模型关键技术研发与场景应用\n"
PROPOSAL_HEAD = (
    "proposal_id,batch_id,direction_code,title,lead_unit_id,pi_id,total_budget_wan,requested_wan\n"
)


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode(encoding))
    return p


def run(engine: Engine, *args: str):  # type: ignore[no-untyped-def]
    url = engine.url.render_as_string(hide_password=False)
    return CliRunner().invoke(cli, ["--db", url, "--actor", "tester", *args])


def count(engine: Engine, model: type) -> int:
    with Session(engine) as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def seed_base(engine: Engine, tmp_path: Path) -> None:
    for kind, text in (
        ("units", UNITS),
        ("people", PEOPLE),
        ("batches", BATCHES),
        ("guide", GUIDE),
    ):
        jobs.import_kind(engine, kind, write(tmp_path, f"{kind}.csv", text), actor="t")


def test_import_creates_then_is_idempotent_then_updates(engine: Engine, tmp_path: Path) -> None:
    path = write(tmp_path, "units.csv", UNITS)
    first = run(engine, "import", "units", str(path), "--json")
    assert first.exit_code == 0, first.output
    assert '"created": 2' in first.stdout
    again = run(engine, "import", "units", str(path), "--json")
    assert '"created": 0, "updated": 0, "unchanged": 2' in again.stdout
    changed = write(tmp_path, "units2.csv", UNITS.replace("东南理工大学", "东南理工学院"))
    c = jobs.import_kind(engine, "units", changed, actor="t")
    assert (c.created, c.updated, c.unchanged) == (0, 1, 1)
    with Session(engine) as s:
        assert s.get(Unit, "U2").name == "东南理工学院"
        assert s.get(Unit, "U1").type == "enterprise"  # the Chinese label is stored as its code


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "unit_id,name,city,province\nU9,某公司,南京,江苏\n",
            "units.csv, row 1, column type: expected a column named type (or 单位类型)",
        ),
        (
            "unit_id,name,type,city,province\nU9,某公司,factory,南京,江苏\n",
            "units.csv, row 2, column type: got 'factory'; expected one of university (高校), "
            "institute (科研院所), enterprise (企业), new_rnd (新型研发机构), lab (实验室), "
            "hospital (医院), other (其他)",
        ),
        (
            "unit_id,name,type,city,province\nU9,甲,企业,南京,江苏\nU9,乙,企业,苏州,江苏\n",
            "units.csv, row 3, column unit_id: got 'U9'; expected a unique unit_id "
            "(already on row 2)",
        ),
        ("", "units.csv: expected a header row and data rows (file is empty)"),
        (
            "unit_id,name,type,city,province\n",
            "units.csv: expected at least one data row",
        ),
        (
            "hello world\nthis is not a table\n",
            "units.csv, row 1: expected a table whose header names the units columns "
            "(unit_id, name, type, city, province, credit_code, head_id, province_code, "
            "city_code)",
        ),
    ],
    ids=["missing-column", "bad-enum", "duplicate-id", "empty", "header-only", "not-a-table"],
)
def test_bad_units_file_is_refused_and_nothing_written(
    engine: Engine, tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path, "units.csv", text)
    result = run(engine, "import", "units", str(path))
    assert result.exit_code == 3
    assert result.stdout == ""
    assert message in result.stderr.replace(str(tmp_path) + "/", "")
    assert "nothing was written" in result.stderr
    assert count(engine, Unit) == 0


def test_wrong_type_and_dangling_reference_are_all_listed(engine: Engine, tmp_path: Path) -> None:
    seed_base(engine, tmp_path)
    path = write(
        tmp_path,
        "proposals.csv",
        PROPOSAL_HEAD
        + "X1,2024,3001,大模型,U1,P1,abc,500\n"
        + "X2,2024,3001,大模型二,U404,P1,3000,500\n",
    )
    result = run(engine, "import", "proposals", str(path))
    assert result.exit_code == 3
    err = result.stderr.replace(str(tmp_path) + "/", "")
    assert "proposals.csv, row 2, column total_budget_wan: got 'abc'; expected a number" in err
    assert (
        "proposals.csv, row 3, column lead_unit_id: got 'U404'; "
        "expected an id already in Units (import units first)"
    ) in err
    assert count(engine, Proposal) == 0


def test_gbk_csv_with_chinese_headers(engine: Engine, tmp_path: Path) -> None:
    text = "单位编号,单位名称,单位类型,城市,省份\nU7,苏南智能装备有限公司,企业,无锡,江苏\n"
    path = write(tmp_path, "units.csv", text, encoding="gbk")
    assert run(engine, "import", "units", str(path)).exit_code == 0
    with Session(engine) as s:
        assert s.get(Unit, "U7").name == "苏南智能装备有限公司"


def test_utf8_bom_csv(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "units.csv"
    path.write_bytes(UNITS.encode("utf-8-sig"))
    assert run(engine, "import", "units", str(path)).exit_code == 0
    assert count(engine, Unit) == 2


def _xlsx(path: Path, rows: list[list[object]], merge: str | None = None) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    for r in rows:
        ws.append(r)
    if merge:
        ws.merge_cells(merge)
    wb.save(path)
    return path


def test_xlsx_header_below_title_rows(engine: Engine, tmp_path: Path) -> None:
    seed_base(engine, tmp_path)
    path = _xlsx(
        tmp_path / "people.xlsx",
        [
            ["2024年度专家名单"],
            [],
            ["人员编号", "姓名", "单位编号", "出生日期", "职称"],
            ["P9", "王芳", "U2", dt.datetime(1983, 5, 6), "正高"],
            [1001, "赵强", "U1", "1979/12/1", "副高"],
        ],
    )
    result = run(engine, "import", "people", str(path))
    assert result.exit_code == 0, result.output
    with Session(engine) as s:
        assert s.get(Person, "P9").birth_date == dt.date(1983, 5, 6)
        assert s.get(Person, "1001").title == "associate"  # a numeric id is read as "1001"


def test_xlsx_error_rows_are_sheet_rows(engine: Engine, tmp_path: Path) -> None:
    path = _xlsx(
        tmp_path / "units.xlsx",
        [
            ["单位名单"],
            ["unit_id", "name", "type", "city", "province"],
            ["U1", "甲", "企业", "南京", ""],
        ],
    )
    result = run(engine, "import", "units", str(path))
    assert result.exit_code == 3
    assert (
        "units.xlsx, row 3, column province: got ''; expected a value (required)" in result.stderr
    )


def test_xlsx_merged_header_cells_refused(engine: Engine, tmp_path: Path) -> None:
    path = _xlsx(
        tmp_path / "units.xlsx",
        [["unit_id", "name", "type", "", "province"], ["U1", "甲", "企业", "南京", "江苏"]],
        merge="C1:D1",
    )
    result = run(engine, "import", "units", str(path))
    assert result.exit_code == 3
    assert (
        "units.xlsx, row 1, column C1:D1: got 'type'; expected one header cell per column "
        "(unmerge the merged header cells)"
    ) in result.stderr
    assert count(engine, Unit) == 0


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("units.xlsx", b"this is plain text, not a workbook", "expected an XLSX workbook"),
        ("units.csv", b"PK\x03\x04\x00\x00binary", "expected a CSV text table (the file is binary"),
        ("units.json", b'{"a": 1}', "expected a .csv or .xlsx file"),
    ],
)
def test_not_a_table_at_all(
    engine: Engine, tmp_path: Path, name: str, data: bytes, expected: str
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    result = run(engine, "import", "units", str(path))
    assert result.exit_code == 3
    assert expected in result.stderr
    assert "Traceback" not in result.output


def test_import_all_is_all_or_nothing_across_files(engine: Engine, tmp_path: Path) -> None:
    d = tmp_path / "batch"
    d.mkdir()
    write(d, "units.csv", UNITS)
    write(d, "people.csv", PEOPLE.replace("U2", "U404"))
    result = run(engine, "import", "all", str(d))
    assert result.exit_code == 3
    assert "people.csv, row 3, column unit_id: got 'U404'" in result.stderr
    assert count(engine, Unit) == 0  # the valid units file was rolled back too


def test_export_escapes_formula_cells(engine: Engine, tmp_path: Path) -> None:
    text = (
        "unit_id,name,type,city,province,credit_code\n"
        'U1,=HYPERLINK("http://x"),企业,南京,江苏,9132\nU2,@SUM(A1),企业,南京,江苏,+A1\n'
        "U3,-2,企业,南京,江苏,-x\n"
    )
    jobs.import_kind(engine, "units", write(tmp_path, "units.csv", text), actor="t")
    result = run(engine, "export", "units")
    assert result.exit_code == 0
    frame = pd.read_csv(pd.io.common.StringIO(result.stdout.lstrip("\ufeff")), dtype=str)
    assert frame["name"].tolist() == ['\'=HYPERLINK("http://x")', "'@SUM(A1)", "-2"]
    assert frame["credit_code"].tolist() == ["9132", "'+A1", "'-x"]
    out = tmp_path / "units.xlsx"
    assert run(engine, "export", "units", "--format", "xlsx", "--out", str(out)).exit_code == 0
    ws = openpyxl.load_workbook(out).active
    assert ws["B2"].value == '\'=HYPERLINK("http://x")'
    assert ws["B2"].data_type == "s"


def test_escape_formula_leaves_numbers() -> None:
    assert io.escape_formula("-3.5") == "-3.5"
    assert io.escape_formula("=1+1") == "'=1+1"
    assert io.escape_formula(-3.5) == -3.5


names = (
    st.text(
        alphabet=st.sampled_from(list("江苏恒远集团有限公司大学=+-@ ,\"'abcXYZ0123")),
        min_size=1,
        max_size=12,
    )
    .map(str.strip)
    .filter(bool)
)


@settings(max_examples=10, deadline=None)
@given(st.lists(names, min_size=1, max_size=6, unique=True))
def test_export_import_round_trip(unit_names: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        engine = make_engine(f"sqlite:///{tmp_path / 'rt.db'}")
        upgrade(engine)
        frame = pd.DataFrame(
            {
                "unit_id": [f"U{i}" for i in range(len(unit_names))],
                "name": unit_names,
                "type": "enterprise",
                "city": "南京",
                "province": "江苏",
            }
        )
        src = tmp_path / "src.csv"
        frame.to_csv(src, index=False)
        jobs.import_kind(engine, "units", src, actor="t")
        out = tmp_path / "out.csv"
        io.write_frame(jobs.export_kind(engine, "units"), out, "csv")
        again = jobs.import_kind(engine, "units", out, actor="t")
        exported = pd.read_csv(out, dtype=str, keep_default_na=False)
        engine.dispose()
    # formula-looking names are written with a leading quote and read back without it
    assert exported["name"].tolist() == [io.escape_formula(n) for n in unit_names]
    assert (again.created, again.updated, again.unchanged) == (0, 0, len(unit_names))
