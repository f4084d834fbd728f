"""Findings and conflict chains are stored once and shown in the reader's language: exports and
the explanation in Chinese or English, ``--json`` always in English."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from models.i18n import JsonColumn, Msg, join_stored, msg_column, render_stored
from scripts.cli import cli

FILES = {
    "guide": (
        "code,programme,title,cap_wan,max_years,mode\n3002,人工智能,具身大模型,1500,3,竞争择优\n"
    ),
    "batches": (
        "batch_id,name,year,batch_date,deadline\n2024,2024年度,2024,2024-08-05,2024-08-05 17:30\n"
    ),
    "units": (
        "unit_id,name,type,city,province\n"
        "U1,江苏恒远集团,企业,南京,江苏省\nU2,苏南智能装备有限公司,企业,苏州,江苏\n"
        "U3,南京理工学院,高校,南京,Jiangsu\nU4,无锡精密机械有限公司,企业,无锡,江苏\n"
    ),
    "unit_relations": "unit_id,related_unit_id,kind\nU1,U2,parent_of\n",
    "people": (
        "person_id,name,unit_id,birth_date\nR1,李明,U1,1988-01-01\nR2,张某,U2,1970-01-01\n"
        "R3,王强,U3,1975-01-01\n"
    ),
    "experts": "expert_id,kind\nR2,industry\n",
    "proposals": (
        "proposal_id,batch_id,direction_code,title,lead_unit_id,pi_id,total_budget_wan,"
        "requested_wan,own_funds_wan,duration_years,submitted_at,department\n"
        "P-3002-07,2024,3002,巡检系统,U1,R1,6000,1800,4200,3,2024-08-01 09:00,南京市科技局\n"
    ),
    "joint_directions": "proposal_id,seq,unit_id\nP-3002-07,1,U1\nP-3002-07,2,U3\nP-3002-07,3,U4\n",
}
CHAIN_ZH = (
    "张某任职于苏南智能装备有限公司，该公司为江苏恒远集团的子公司，江苏恒远集团牵头申报P-3002-07"
)
CHAIN_EN = (
    "张某 works at 苏南智能装备有限公司, a subsidiary of 江苏恒远集团, which leads proposal "
    "P-3002-07"
)


def run(engine: Engine, *args: str, lang: str = "en"):  # type: ignore[no-untyped-def]
    url = engine.url.render_as_string(hide_password=False)
    return CliRunner().invoke(cli, ["--db", url, "--actor", "tester", "--lang", lang, *args])


def csv_frame(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text.lstrip("\ufeff")), dtype=str)


def test_findings_and_chains_in_the_readers_language(engine: Engine, tmp_path: Path) -> None:
    for kind, text in FILES.items():
        (tmp_path / f"{kind}.csv").write_text(text, encoding="utf-8")
    assert run(engine, "import", "all", str(tmp_path)).exit_code == 0
    screened = run(engine, "screen", "--json")
    assert json.loads(screened.stdout)["warnings"] == 1
    assert run(engine, "conflicts").exit_code == 0

    zh = csv_frame(run(engine, "export", "findings", lang="zh").stdout)
    en = csv_frame(run(engine, "export", "findings", lang="en").stdout)
    assert list(zh.columns) == list(en.columns)  # column names never change with the language
    assert zh.loc[0, "rule"] == en.loc[0, "rule"] == "direction_cap"
    assert zh.loc[0, "reason"] == (
        "申请省财政资助1800万；指南方向3002每项省财政资助经费原则上不超过1500万，如获立项，"
        "资助额将核减至1500万"
    )
    assert en.loc[0, "reason"] == (
        "requests 1800万; direction 3002 funds at most 1500万 per project in principle: if "
        "selected, the grant will be capped at 1500万"
    )

    zh = csv_frame(run(engine, "export", "conflicts", lang="zh").stdout)
    assert zh["reason"].tolist() == [CHAIN_ZH]
    assert csv_frame(run(engine, "export", "conflicts").stdout)["reason"].tolist() == [CHAIN_EN]

    said = run(engine, "explain", "R2", "P-3002-07", lang="zh")
    assert said.exit_code == 0
    assert CHAIN_ZH in said.stdout
    data = json.loads(run(engine, "explain", "R2", "P-3002-07", "--json", lang="zh").stdout)
    assert data["reasons"] == [CHAIN_EN]  # --json stays English


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(st.text(max_size=6), st.integers(-5, 5), st.text(max_size=4)),
        min_size=1,
        max_size=6,
    )
)
def test_msg_column_stores_what_msg_stores(rows: list[tuple[str, int, str]]) -> None:
    """The column-wise builder of the bulk conflict pass gives Msg.to_json's text, nested too."""
    inner = msg_column("{unit}", unit=[u for _, _, u in rows])
    got = msg_column(
        "{name} {n} at {where}",
        name=[a for a, _, _ in rows],
        n=[n for _, n, _ in rows],
        where=JsonColumn(inner),
    )
    want = [
        Msg("{name} {n} at {where}", name=a, n=n, where=Msg("{unit}", unit=u)) for a, n, u in rows
    ]
    assert list(got) == [m.to_json() for m in want]
    assert render_stored(join_stored(list(got)), "en") == "; ".join(m.render("en") for m in want)
