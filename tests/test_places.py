"""Provinces and cities as forms write them: resolved to one place on import, refused when they
name none, and screened as the place they are (江苏省 is Jiangsu)."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from alembic import command
from click.testing import CliRunner
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from assign.screening import ScreeningConfig, screen
from models import places
from models.db import _alembic_config, make_engine
from models.schema import Expert, Unit
from scripts.cli import cli

ROOT = Path(__file__).resolve().parents[1]
JIANGSU = places.province("江苏省")
NANJING = "320100"


def run(engine: Engine, *args: str):  # type: ignore[no-untyped-def]
    url = engine.url.render_as_string(hide_password=False)
    return CliRunner().invoke(cli, ["--db", url, "--actor", "tester", *args])


@pytest.mark.parametrize(
    "written",
    [
        "江苏省",
        "江苏",
        "Jiangsu",
        "jiangsu",
        "JIANGSU PROVINCE",
        " 江苏省 ",
        "江 苏",
        "32",
        "320000",
    ],
)
def test_jiangsu_as_forms_write_it(written: str) -> None:
    assert places.province(written) == JIANGSU


@pytest.mark.parametrize(
    ("written", "code"),
    [
        ("上海市", "310000"),
        ("上海", "310000"),
        ("Shanghai", "310000"),
        ("内蒙古自治区", "150000"),
        ("内蒙", "150000"),
        ("Inner Mongolia", "150000"),
        ("广西", "450000"),
        ("新疆维吾尔自治区", "650000"),
        ("Tibet", "540000"),
        ("Macau", "820000"),
        ("香港特别行政区", "810000"),
        ("台湾", "710000"),
    ],
)
def test_every_province_by_name_short_name_and_pinyin(written: str, code: str) -> None:
    found = places.province(written)
    assert found is not None and found.code == code


@pytest.mark.parametrize(
    ("written", "province", "code"),
    [
        ("南京市", "江苏", NANJING),
        ("南京", "江苏", NANJING),
        ("Nanjing", "Jiangsu", NANJING),
        ("苏州", "江苏", "320500"),
        ("昆山市", "江苏", "320583"),  # county-level cities of Jiangsu, where many register
        ("Huai'an", "江苏", "320800"),
        ("huaian", "江苏", "320800"),
        ("杭州市", "浙江", "330100"),
        ("延边", "吉林", "222400"),
        ("Urumqi", "新疆", "650100"),
        ("上海", "上海市", "310000"),  # in a municipality the city is the municipality
    ],
)
def test_cities_as_forms_write_them(written: str, province: str, code: str) -> None:
    prov = places.province(province)
    assert prov is not None
    found = places.city(written, prov)
    assert found is not None and found.code == code


def test_a_city_of_another_province_is_not_resolved() -> None:
    assert places.city("杭州", JIANGSU) is None  # type: ignore[arg-type]
    assert places.city("浦东", places.province("上海")) is None  # type: ignore[arg-type]
    assert places.province("火星") is None


def test_the_table_covers_every_province_and_no_name_means_two_places() -> None:
    with (ROOT / "data" / "places_cn.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    provinces = [r for r in rows if r["code"].endswith("0000")]
    assert len(provinces) == 34
    assert len({r["code"] for r in rows}) == len(rows)
    # within each scope (the provinces; the cities of one province) every spelling is one place
    scopes: dict[str, Counter[str]] = {}
    for r in rows:
        scope = "" if r["code"].endswith("0000") else r["code"][:2]
        keys = {places._key(v) for v in (r["name"], r["short"], r["english"]) if v}
        scopes.setdefault(scope, Counter()).update(keys)
    clashes = {s: [k for k, n in c.items() if n > 1] for s, c in scopes.items()}
    assert {s: k for s, k in clashes.items() if k} == {}


UNITS_HEAD = "unit_id,name,type,city,province\n"


def stored_units(engine: Engine) -> list[tuple]:
    """(unit_id, province, province_code, city, city_code) of every stored unit, sorted."""
    with Session(engine) as s:
        got = s.execute(
            select(Unit.unit_id, Unit.province, Unit.province_code, Unit.city, Unit.city_code)
        ).all()
    return sorted(tuple(r) for r in got)


def write(tmp_path: Path, text_: str) -> Path:
    path = tmp_path / "units.csv"
    path.write_text(text_, encoding="utf-8")
    return path


def test_import_stores_the_official_name_and_code(engine: Engine, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        UNITS_HEAD
        + "U1,甲公司,企业,南京市,江苏省\nU2,乙公司,企业,南京,江苏\nU3,丙公司,企业,Nanjing,Jiangsu\n"
        + "U4,丁研究院,科研院所,,上海\n",
    )
    result = run(engine, "import", "units", str(path))
    assert result.exit_code == 0, result.stderr
    assert stored_units(engine) == [
        ("U1", "江苏省", "320000", "南京市", NANJING),
        ("U2", "江苏省", "320000", "南京市", NANJING),
        ("U3", "江苏省", "320000", "南京市", NANJING),
        ("U4", "上海市", "310000", None, None),
    ]
    again = run(engine, "import", "units", str(path))  # the same file again changes nothing
    assert again.exit_code == 0
    assert "unchanged" in again.stdout


def test_an_unresolvable_place_is_refused_naming_row_and_value(
    engine: Engine, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        UNITS_HEAD
        + "U1,甲公司,企业,南京,江苏省\nU2,乙公司,企业,南京,江东省\nU3,丙公司,企业,杭州,江苏\n",
    )
    result = run(engine, "import", "units", str(path))
    assert result.exit_code == 3
    assert result.stdout == ""
    err = result.stderr.replace(str(tmp_path) + "/", "")
    assert (
        "units.csv, row 3, column province: got '江东省'; expected a province of China: its name "
        "(江苏省), short name (江苏), pinyin (Jiangsu) or GB/T 2260 code (320000)"
    ) in err
    assert (
        "units.csv, row 4, column city: got '杭州'; expected a city of 江苏省: its name (南京市), "
        "short name (南京), pinyin (Nanjing) or GB/T 2260 code (320100)"
    ) in err
    assert "nothing was written" in err
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(Unit)) == 0


def test_a_code_that_contradicts_the_name_is_refused(engine: Engine, tmp_path: Path) -> None:
    path = write(tmp_path, "unit_id,name,type,province,province_code\nU1,甲公司,企业,江苏,330000\n")
    result = run(engine, "import", "units", str(path))
    assert result.exit_code == 3
    assert "column province_code: got '330000'; expected 320000, the code of 江苏省" in (
        result.stderr
    )


def test_expert_provinces_are_resolved_too(engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "people.csv").write_text("person_id,name\nR1,张伟\n", encoding="utf-8")
    (tmp_path / "experts.csv").write_text(
        "expert_id,kind,province\nR1,academic,Zhejiang\n", encoding="utf-8"
    )
    assert run(engine, "import", "all", str(tmp_path)).exit_code == 0
    with Session(engine) as s:
        assert s.execute(select(Expert.province, Expert.province_code)).all() == [
            ("浙江省", "330000")
        ]


def test_the_migration_resolves_places_already_stored(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    command.upgrade(_alembic_config(engine), "0001")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO units (unit_id, name, type, city, province) VALUES "
                "('U1', '甲', 'enterprise', '南京', '江苏'), "
                "('U2', '乙', 'enterprise', 'x', 'Mars')"
            )
        )
    command.upgrade(_alembic_config(engine), "head")
    assert stored_units(engine) == [
        ("U1", "江苏省", "320000", "南京市", NANJING),
        ("U2", "Mars", None, "x", None),
    ]
    engine.dispose()


@pytest.mark.parametrize("written", ["江苏省", "江苏", "Jiangsu", "320000"])
def test_a_unit_in_jiangsu_as_written_passes_screening(written: str) -> None:
    """The held-out case: a unit imported with 江苏省 was rejected as "not in 江苏"."""
    tables = {
        "units": pd.DataFrame(
            [{"unit_id": u, "name": u, "type": "enterprise", "province": written} for u in "ABC"]
        ),
        "people": pd.DataFrame([{"person_id": "PI", "name": "李明", "unit_id": "A"}]),
        "proposals": pd.DataFrame(
            [
                {
                    "proposal_id": "P1",
                    "direction_code": "3002",
                    "lead_unit_id": "A",
                    "pi_id": "PI",
                    "duration_years": 3,
                    "submitted_at": "2024-08-01 10:00",
                }
            ]
        ),
        "joint_directions": pd.DataFrame(
            [{"proposal_id": "P1", "seq": i + 1, "unit_id": u} for i, u in enumerate("ABC")]
        ),
    }
    guide = pd.DataFrame([{"code": "3002", "cap_wan": 1500.0, "max_years": 3}])
    result = screen(tables, guide, config=ScreeningConfig(), rules=["units_in_jiangsu"])
    assert result.findings.empty
    tables["units"].loc[2, "province"] = "浙江"
    result = screen(tables, guide, config=ScreeningConfig(), rules=["units_in_jiangsu"])
    assert [m.render("en") for m in result.findings["reason"]] == [
        "joint unit C is registered in 浙江省, not in 江苏省"
    ]


def test_experts_from_jiangsu_as_written_are_not_outside_the_province() -> None:
    from assign.pipeline import _outside

    provinces = pd.Series(["江苏省", "江苏", "Jiangsu", "上海市", None], dtype=object)
    assert _outside(provinces).tolist() == [False, False, False, True, False]
