"""The XLSX writer: typed and formatted cells, fitted widths, frozen header, filter, print
setup, formula escaping, and text no spreadsheet can hold (control characters) never crashing."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.i18n import using
from models.workbook import (
    MAX_WIDTH,
    Column,
    Sheet,
    clean_text,
    display_width,
    plain_sheet,
    sheet_name,
    write_workbook,
)


def _write_one(tmp_path: Path, sheet: Sheet) -> openpyxl.worksheet.worksheet.Worksheet:
    path = tmp_path / "out.xlsx"
    write_workbook(path, [sheet])
    return openpyxl.load_workbook(path).active


def test_formats_values_and_layout(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "id": ["P-1", "P-2"],
            "grant": [1500.4, None],
            "score": [81.23456, 70.0],
            "p": [0.5666418671607971, 0.0],
            "rank": [1.0, None],
            "ok": [True, False],
            "day": ["2024-09-01", dt.date(2024, 8, 5)],
            "kind": ["enterprise", "university"],
        },
        dtype=object,
    )
    columns = (
        Column("id", "项目编号"),
        Column("grant", "省拨经费（万元）", "money"),
        Column("score", "校准得分", "score"),
        Column("p", "入选概率", "percent"),
        Column("rank", "备选顺位", "int"),
        Column("ok", "是否入选", "bool"),
        Column("day", "日期", "date"),
        Column("kind", "单位类型", labels={"enterprise": "企业"}),
    )
    with using("zh"):
        ws = _write_one(tmp_path, Sheet("立项建议", frame, columns, group_by="id"))
    assert ws.title == "立项建议"
    assert [c.value for c in ws[1]] == [c.header for c in columns]
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:H3"
    row = {c.header: cell for c, cell in zip(columns, ws[2], strict=True)}
    assert row["省拨经费（万元）"].number_format == "#,##0"
    assert row["省拨经费（万元）"].value == pytest.approx(1500.4)
    assert row["校准得分"].number_format == "0.00"
    assert row["入选概率"].number_format == "0%"
    assert row["备选顺位"].value == 1 and isinstance(row["备选顺位"].value, int)
    assert row["是否入选"].value == "是" and ws["F3"].value == "否"
    assert (
        row["日期"].value == dt.datetime(2024, 9, 1) and row["日期"].number_format == "yyyy-mm-dd"
    )
    assert ws["G3"].value == dt.datetime(2024, 8, 5)
    assert row["单位类型"].value == "企业" and ws["H3"].value == "university"  # no label: code
    assert ws["B3"].value is None and ws["E3"].value is None  # missing stays empty
    assert ws.page_setup.orientation == "landscape" and ws.page_setup.fitToWidth == 1
    assert ws.print_title_rows == "$1:$1"
    with using("en"):
        ws = _write_one(tmp_path, Sheet("Decisions", frame, columns))
    assert [ws["F2"].value, ws["F3"].value] == ["yes", "no"]


def test_widths_count_cjk_characters_twice_and_long_text_wraps(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"zh": ["江苏恒远集团有限公司"], "en": ["abcdefghij"], "long": ["长" * 80]}, dtype=object
    )
    ws = _write_one(tmp_path, plain_sheet("t", frame))
    assert ws.column_dimensions["A"].width == 20 + 2
    assert ws.column_dimensions["B"].width == 10 + 2
    assert ws.column_dimensions["C"].width == MAX_WIDTH + 2
    assert ws["C2"].alignment.wrap_text and not ws["A2"].alignment.wrap_text
    assert display_width("江苏 ab") == 7


def test_formula_text_is_escaped_and_stays_text(tmp_path: Path) -> None:
    frame = pd.DataFrame({"name": ['=HYPERLINK("http://x")', "@SUM(A1)", "-2", "+A1"]})
    ws = _write_one(tmp_path, plain_sheet("t", frame))
    values = [ws.cell(r, 1).value for r in range(2, 6)]
    assert values == ['\'=HYPERLINK("http://x")', "'@SUM(A1)", "-2", "'+A1"]
    assert all(ws.cell(r, 1).data_type == "s" for r in range(2, 6))


def test_preamble_above_the_table_moves_the_frozen_header(tmp_path: Path) -> None:
    frame = pd.DataFrame({"proposal": ["P-1", "P-2"]})
    sheet = Sheet(
        "张伟 R1",
        frame,
        (Column("proposal", "项目编号"),),
        preamble=(("专家姓名", "张伟"), ("评审截止日期", dt.date(2024, 9, 1))),
    )
    ws = _write_one(tmp_path, sheet)
    assert [ws["A1"].value, ws["B1"].value] == ["专家姓名", "张伟"]
    assert ws["B2"].value == dt.datetime(2024, 9, 1) and ws["B2"].number_format == "yyyy-mm-dd"
    assert ws["A4"].value == "项目编号"
    assert ws.freeze_panes == "A5" and ws.auto_filter.ref == "A4:A6"
    assert ws.print_title_rows == "$4:$4"


def test_sheet_names_are_valid_and_unique() -> None:
    taken: set[str] = set()
    assert sheet_name("a/b:c*d?", taken) == "a_b_c_d_"
    long = "专" * 40
    first = sheet_name(long, taken)
    second = sheet_name(long, taken)
    assert len(first) == 31 and len(second) == 31 and first != second
    assert sheet_name("A/B:C*D?", taken) == "A_B_C_D_ (2)"  # names differ by case only clash


def test_a_column_the_frame_lacks_is_refused() -> None:
    with pytest.raises(ValueError, match="no column missing"):
        Sheet("t", pd.DataFrame({"a": [1]}), (Column("missing", "x"),))
    with pytest.raises(ValueError, match="format 'pounds'"):
        Column("a", "a", "pounds")


text_with_controls = st.text(
    alphabet=st.one_of(
        st.characters(min_codepoint=0, max_codepoint=0x1F),
        st.sampled_from(list("江苏恒远=+-@ abc'\"")),
    ),
    max_size=30,
)


@settings(max_examples=25, deadline=None)
@given(st.lists(text_with_controls, min_size=1, max_size=5))
def test_any_text_writes_and_reads_back_cleaned(values: list[str]) -> None:
    frame = pd.DataFrame({"text": values}, dtype=object)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.xlsx"
        write_workbook(path, [plain_sheet("t\x07", frame)])
        ws = openpyxl.load_workbook(path).active
        got = [ws.cell(r, 1).value for r in range(2, len(values) + 2)]
    from models.problems import escape_formula

    expected = [clean_text(escape_formula(v)) or None for v in values]
    # XML keeps tabs, newlines and carriage returns; Excel reads "\r\n" and "\r" back as "\n"
    assert [None if g is None else g.replace("\r", "\n") for g in got] == [
        None if e is None else e.replace("\r\n", "\n").replace("\r", "\n") for e in expected
    ]
