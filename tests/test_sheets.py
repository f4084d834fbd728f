"""The exports a person reads: the deliverables' workbooks (专家邀请名单, 项目评审专家表,
会评分组) with their sheet names, Chinese or English headers, formats, frozen header and filter;
CSV columns that stay English unless Chinese headers are asked for; names beside ids."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import openpyxl
import pandas as pd
from click.testing import CliRunner, Result
from conftest import BatchRun
from sqlalchemy import Engine

from models import jobs
from models.views import VIEWS
from scripts.cli import cli

INVITATION_HEADERS = [
    "专家编号", "专家姓名", "工作单位", "职称", "联系电话", "电子邮箱", "角色", "候补顺序",
    "项目编号", "项目名称", "牵头单位", "指南代码", "指南方向", "评审截止日期",
]  # fmt: skip
ASSIGNMENT_HEADERS = [
    "运行编号", "项目编号", "项目名称", "牵头单位", "指南代码", "指南方向", "专家编号", "专家姓名",
    "工作单位", "职称", "状态", "候补顺序", "匹配度", "抽中概率",
]  # fmt: skip


def cli_run(url: str, *args: str) -> Result:
    result = CliRunner().invoke(cli, ["--db", url, *args])
    assert result.exit_code == 0, result.output
    return result


def csv_of(url: str, *args: str) -> pd.DataFrame:
    out = cli_run(url, "export", *args).stdout.lstrip("\ufeff")
    return pd.read_csv(io.StringIO(out), dtype=str, keep_default_na=False)


def workbook(run: BatchRun, tmp_path: Path, lang: str, kind: str, *extra: str) -> openpyxl.Workbook:
    path = tmp_path / "out.xlsx"
    cli_run(run.url, "--lang", lang, "export", kind, "--format", "xlsx", "--out", str(path), *extra)
    return openpyxl.load_workbook(path)


def table(ws: openpyxl.worksheet.worksheet.Worksheet, header_row: int = 1) -> pd.DataFrame:
    rows = list(ws.iter_rows(min_row=header_row, values_only=True))
    return pd.DataFrame(rows[1:], columns=rows[0], dtype=object)


def test_invitations_workbook_in_chinese(batch_run: BatchRun, tmp_path: Path) -> None:
    wb = workbook(batch_run, tmp_path, "zh", "invitations")
    assert wb.sheetnames == ["专家邀请名单"]
    ws = wb["专家邀请名单"]
    assert [c.value for c in ws[1]] == INVITATION_HEADERS
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == f"A1:N{ws.max_row}"
    rows = table(ws)
    plain = csv_of(batch_run.url, "invitations")
    assert len(rows) == len(plain) and rows["专家编号"].tolist() == plain["expert"].tolist()
    assert set(rows["角色"]) == {"正式评审", "候补", "会评组长", "会评组员"}
    assert set(rows["职称"]) <= {"正高", "副高", "中级", "其他", None}
    assert rows["联系电话"].notna().all() and rows["电子邮箱"].str.endswith("@example.org").all()
    assert set(rows["评审截止日期"]) == {dt.datetime(2024, 9, 1)}
    assert ws["N2"].number_format == "yyyy-mm-dd"
    reserve = rows[rows["角色"] == "候补"]
    assert reserve["候补顺序"].map(type).eq(int).all()
    assert rows["指南方向"].str.len().gt(0).all() and rows["牵头单位"].notna().all()


def test_invitations_by_expert_add_a_printable_sheet_per_expert(
    batch_run: BatchRun, tmp_path: Path
) -> None:
    wb = workbook(batch_run, tmp_path, "zh", "invitations", "--by-expert")
    plain = csv_of(batch_run.url, "invitations")
    experts = plain.drop_duplicates("expert")
    assert wb.sheetnames[0] == "专家邀请名单"
    names = experts["expert_name"] + " " + experts["expert"]
    assert wb.sheetnames[1:] == names.tolist()
    for expert, name in zip(experts["expert"][:5], experts["expert_name"][:5], strict=True):
        ws = wb[f"{name} {expert}"]
        head = {ws.cell(r, 1).value: ws.cell(r, 2).value for r in range(1, 8)}
        assert head["专家编号"] == expert and head["专家姓名"] == name
        assert head["联系电话"] and head["电子邮箱"]
        assert head["评审截止日期"] == dt.datetime(2024, 9, 1)
        assert [c.value for c in ws[9]] == ["角色", "候补顺序", "项目编号", "项目名称",
                                            "牵头单位", "指南代码", "指南方向"]  # fmt: skip
        assert ws.freeze_panes == "A10" and ws.auto_filter.ref == f"A9:G{ws.max_row}"
        assert ws.print_title_rows == "$9:$9" and ws.page_setup.orientation == "landscape"
        mine = plain[plain["expert"] == expert]
        assert table(ws, 9)["项目编号"].tolist() == mine["proposal"].tolist()


def test_experts_per_proposal_workbook_lists_reserves_in_order(
    batch_run: BatchRun, tmp_path: Path
) -> None:
    wb = workbook(batch_run, tmp_path, "zh", "assignments")
    assert wb.sheetnames == ["项目评审专家表"]
    ws = wb.active
    assert [c.value for c in ws[1]] == ASSIGNMENT_HEADERS
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == f"A1:N{ws.max_row}"
    assert ws.page_setup.fitToWidth == 1 and ws.print_title_rows == "$1:$1"
    assert ws["M2"].number_format == "0.00" and ws["N2"].number_format == "0%"
    rows = table(ws)
    order = {"已邀请": 0, "已接受": 0, "候补": 1, "已拒绝": 2, "已替换": 2}
    for _proposal, block in rows.groupby("项目编号", sort=False):
        assert block["状态"].map(order).is_monotonic_increasing
        ranks = block.loc[block["状态"] == "候补", "候补顺序"].tolist()
        assert ranks == sorted(ranks) and all(isinstance(r, int) for r in ranks)
    assert "已拒绝" in set(rows["状态"])  # the replaced decline is listed last


def test_panel_workbook_has_members_with_leader_and_the_proposals_heard(
    batch_run: BatchRun, tmp_path: Path
) -> None:
    wb = workbook(batch_run, tmp_path, "zh", "panels")
    assert wb.sheetnames == ["会评分组", "会评项目"]
    members, heard = table(wb["会评分组"]), table(wb["会评项目"])
    assert list(members.columns) == ["运行编号", "分组", "分组名称", "组长", "专家编号",
                                     "专家姓名", "工作单位", "职称", "专家类别"]  # fmt: skip
    assert members.groupby("分组")["组长"].apply(lambda s: (s == "是").sum()).eq(1).all()
    assert set(members["组长"]) == {"是", "否"}
    assert set(heard["分组"]) == set(members["分组"])
    assert heard["项目编号"].is_unique and heard["分组名称"].str.len().gt(0).all()
    for ws in wb.worksheets:
        assert (
            ws.freeze_panes == "A2"
            and ws.auto_filter.ref == f"A1:{ws.cell(1, ws.max_column).column_letter}{ws.max_row}"
        )


def test_decisions_workbook_money_scores_and_booleans(batch_run: BatchRun, tmp_path: Path) -> None:
    wb = workbook(batch_run, tmp_path, "zh", "decisions")
    assert wb.sheetnames == ["立项建议名单"]
    ws = wb.active
    headers = [c.value for c in ws[1]]
    col = {h: i + 1 for i, h in enumerate(headers)}
    assert ws.cell(2, col["省拨经费（万元）"]).number_format == "#,##0"
    assert ws.cell(2, col["校准得分"]).number_format == "0.00"
    assert ws.cell(2, col["入选概率"]).number_format == "0%"
    assert {ws.cell(r, col["是否入选"]).value for r in range(2, ws.max_row + 1)} == {"是", "否"}
    assert "指南方向" in headers  # the direction's title beside its code


def test_english_workbook_and_csv_headers(batch_run: BatchRun, tmp_path: Path) -> None:
    wb = workbook(batch_run, tmp_path, "en", "assignments")
    assert wb.sheetnames == ["Experts per proposal"]
    assert [c.value for c in wb.active[1]][:3] == ["Run", "Proposal", "Proposal title"]
    assert wb.active["K2"].value == "invited"  # codes, not Chinese labels
    plain = csv_of(batch_run.url, "assignments")
    for name in ("run_id", "proposal", "direction", "expert", "expert_name", "expert_unit",
                 "affinity", "status", "reserve_rank", "probability"):  # fmt: skip
        assert name in plain.columns
    zh = csv_of(batch_run.url, "assignments", "--headers", "zh")
    assert list(zh.columns) == ASSIGNMENT_HEADERS
    assert zh["状态"].tolist() == plain["status"].tolist()  # CSV values never change
    same = cli_run(batch_run.url, "--lang", "zh", "export", "assignments")
    assert same.stdout.lstrip("\ufeff").startswith("run_id,proposal,title,")


def test_names_stand_beside_ids_in_every_view(batch_run: BatchRun) -> None:
    for view in VIEWS:
        frame = csv_of(batch_run.url, view)
        for key, name in (("expert", "expert_name"), ("direction", "direction_title")):
            if key in frame.columns:
                at = list(frame.columns).index(key)
                assert name in frame.columns, view
                if len(frame):
                    assert frame[name].str.len().gt(0).any(), (view, name)
                assert list(frame.columns).index(name) >= at


def test_import_kind_workbook_in_chinese_imports_again(engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "units.csv").write_text(
        "unit_id,name,type,province\nU1,江苏恒远集团有限公司,企业,江苏\n", encoding="utf-8"
    )
    (tmp_path / "people.csv").write_text(
        "person_id,name,unit_id,birth_date,title,phone,email\n"
        "P1,张伟,U1,1985-03-02,正高,13812345678,zhang@example.org\n",
        encoding="utf-8",
    )
    for kind in ("units", "people"):
        jobs.import_kind(engine, kind, tmp_path / f"{kind}.csv", actor="t")
    url = engine.url.render_as_string(hide_password=False)
    path = tmp_path / "people.xlsx"
    cli_run(url, "--lang", "zh", "export", "people", "--format", "xlsx", "--out", str(path))
    ws = openpyxl.load_workbook(path).active
    assert ws.title == "人员"
    assert [c.value for c in ws[1]] == ["人员编号", "姓名", "单位编号", "出生日期", "职称"]
    assert ws["D2"].value == dt.datetime(1985, 3, 2) and ws["E2"].value == "正高"
    again = jobs.import_kind(engine, "people", path, actor="t")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)


def test_export_options_that_do_not_apply_are_usage_errors(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    for args, said in (
        (["invitations", "--by-expert"], "--by-expert is for `export invitations --format xlsx`"),
        (["assignments", "--format", "xlsx", "--out", "a.xlsx", "--by-expert"], "--by-expert"),
        (["assignments", "--with-contacts"], "--with-contacts is for `export people`"),
    ):
        result = CliRunner().invoke(cli, ["--db", url, "export", *args])
        assert result.exit_code == 2 and said in result.stderr, result.output
