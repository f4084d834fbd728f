"""The 2024 guide catalogue against the call text it is built from.

The checks against the raw text use plain string operations written here, not the parser's
regexes, so that a parser bug cannot hide itself.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from data import build_guide
from data.build_guide import GuideDirection, GuideParseError

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "data" / "seed_2024_call.txt"
CSV_PATH = ROOT / "data" / "guide_2024.csv"
SHARED_SEED = ROOT.parent / "shared" / "seeds" / "000_32ae1f199348ab29.txt"

PROGRAMMES = [
    "第三代半导体",
    "6G技术",
    "人工智能",
    "战略新材料",
    "集成电路",
    "生物医药",
    "高端装备",
    "新能源",
    "氢能与储能",
]
DAMAGED = {"2003", "2004", "7002", "7003"}
# Start of the page that carries the rest of 2004 (its heading is lost), seed line 449.
ORPHAN_2004 = "性能差、通道面积相对波长较大的问题"


def _squash(text: str) -> str:
    return "".join(text.split())


@pytest.fixture(scope="module")
def seed_text() -> str:
    return SEED.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def guide_raw_lines(seed_text: str) -> list[str]:
    """Stripped lines of attachment 1 (between the lines '附件1' and '附件2')."""
    lines = [line.strip() for line in seed_text.splitlines()]
    start = lines.index("附件1")
    end = lines.index("附件2", start)
    return lines[start + 1 : end]


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    with CSV_PATH.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def by_code(rows: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    return {r["code"]: r for r in rows}


def _is_heading(line: str) -> bool:
    return len(line) > 5 and line[:4].isdigit() and line[4] == " "


def _is_programme_heading(line: str) -> bool:
    return len(line) > 3 and line[1] == "、" and line.endswith("专项")


@pytest.fixture(scope="module")
def sections(guide_raw_lines: list[str]) -> dict[str, str]:
    """Whitespace-free text of each direction's own part of the guide, keyed by code."""
    starts: list[tuple[int, str]] = []
    stops: list[int] = [len(guide_raw_lines)]
    for i, line in enumerate(guide_raw_lines):
        if _is_heading(line):
            starts.append((i, line[:4]))
        elif line.startswith(ORPHAN_2004):
            starts.append((i, "2004"))
        elif _is_programme_heading(line):
            stops.append(i)
    out: dict[str, str] = {}
    for (i, code), nxt in zip(starts, [*starts[1:], (len(guide_raw_lines), "")], strict=True):
        end = min(s for s in [*stops, nxt[0]] if s > i)
        out[code] = _squash("".join(guide_raw_lines[i:end]))
    return out


# --- the committed files ------------------------------------------------------------------------


def test_committed_csv_is_what_the_parser_builds(seed_text: str) -> None:
    committed = CSV_PATH.read_text(encoding="utf-8")
    assert build_guide.build_csv_text(seed_text) == committed
    assert build_guide.build_csv_text() == committed


def test_csv_is_utf8_without_bom_and_has_the_agreed_columns() -> None:
    data = CSV_PATH.read_bytes()
    assert not data.startswith(b"\xef\xbb\xbf")
    header = data.decode("utf-8").splitlines()[0]
    assert header == (
        "code,programme,title,cap_wan,max_years,mode,note,organiser,"
        "research_content,indicators,remarks"
    )


def test_seed_copy_is_identical_to_the_shared_seed() -> None:
    if not SHARED_SEED.exists():
        pytest.skip(f"shared seed {SHARED_SEED} not present; copy cannot be compared")
    assert SEED.read_bytes() == SHARED_SEED.read_bytes()


def test_main_writes_the_catalogue(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "guide.csv"
    assert build_guide.main(["--seed", str(SEED), "--out", str(out)]) == 0
    assert out.read_bytes() == CSV_PATH.read_bytes()
    assert capsys.readouterr().out == (
        f"wrote 46 directions to {out}; flagged: 2003, 2004, 7002, 7003\n"
    )


def test_main_reports_a_missing_seed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.txt"
    assert build_guide.main(["--seed", str(missing), "--out", str(tmp_path / "g.csv")]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: [Errno 2] No such file or directory")
    assert not (tmp_path / "g.csv").exists()


# --- independent checks against the raw text ----------------------------------------------------


def test_every_direction_heading_of_the_text_is_in_the_csv(
    guide_raw_lines: list[str], by_code: dict[str, dict[str, str]]
) -> None:
    headings = [line for line in guide_raw_lines if _is_heading(line)]
    assert len(headings) == 44  # 46 directions announced, 2004's heading lost, 7003 absent
    for line in headings:
        code = line[:4]
        assert code in by_code, f"heading {line!r} missing from the CSV"
        assert by_code[code]["title"].replace(" ", "").startswith(_squash(line[5:]))


def test_titles_occur_in_the_text(guide_raw_lines: list[str], rows: list[dict[str, str]]) -> None:
    text = _squash("".join(guide_raw_lines))
    for row in rows:
        if row["title"]:
            assert _squash(row["code"] + row["title"]) in text, row["code"]


def test_caps_and_durations_come_from_the_directions_own_section(
    rows: list[dict[str, str]], sections: dict[str, str]
) -> None:
    for row in rows:
        section = sections.get(row["code"], "")
        if row["cap_wan"]:
            assert f"省财政资助经费原则上不超过{row['cap_wan']}万元" in section, row["code"]
        else:
            assert "万元" not in section, row["code"]
        if row["max_years"]:
            assert f"项目执行期不超过{row['max_years']}年" in section, row["code"]
        else:
            assert "执行期" not in section, row["code"]
        if row["remarks"]:
            assert _squash(row["remarks"]) in section, row["code"]


def test_nine_programmes_as_the_notice_lists_them(
    seed_text: str, rows: list[dict[str, str]]
) -> None:
    flat = _squash(seed_text)
    listed = flat.split("本年度围绕", 1)[1].split("等9个重点领域", 1)[0].split("、")
    assert listed == PROGRAMMES
    order = list(dict.fromkeys(r["programme"] for r in rows))
    assert order == PROGRAMMES
    for row in rows:
        assert PROGRAMMES.index(row["programme"]) + 1 == int(row["code"][0])


def test_directions_per_programme_match_the_announced_counts(rows: list[dict[str, str]]) -> None:
    # "启动N项重点攻关任务" in each programme's introduction, read by hand.
    announced = [2, 7, 6, 4, 4, 5, 7, 5, 6]
    counts = [sum(r["programme"] == p for r in rows) for p in PROGRAMMES]
    assert counts == announced
    codes = [r["code"] for r in rows]
    assert codes == sorted(set(codes))


def test_mode_counts(rows: list[dict[str, str]]) -> None:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["mode"]] = counts.get(row["mode"], 0) + 1
    assert counts == {"定向委托": 14, "揭榜挂帅": 29, "竞争择优": 1, "": 2}


def test_only_damaged_rows_carry_notes(rows: list[dict[str, str]]) -> None:
    assert {r["code"] for r in rows if r["note"]} == DAMAGED


def test_damaged_rows(by_code: dict[str, dict[str, str]]) -> None:
    d2003 = by_code["2003"]
    assert d2003["title"] == "6G多域协同基带电路生成/优化软件研发"
    assert d2003["research_content"].endswith("研发基带")
    assert (d2003["cap_wan"], d2003["max_years"], d2003["indicators"], d2003["remarks"]) == (
        "",
        "",
        "",
        "",
    )
    assert (d2003["mode"], d2003["organiser"]) == ("定向委托", "紫金山实验室")
    assert "programme introduction" in d2003["note"]

    d2004 = by_code["2004"]
    assert d2004["title"] == ""
    assert d2004["research_content"].startswith(ORPHAN_2004)
    assert d2004["indicators"].startswith("开发94GHz频段8通道收发一体相控阵芯片")
    assert (d2004["cap_wan"], d2004["max_years"], d2004["mode"], d2004["organiser"]) == (
        "2000",
        "3",
        "定向委托",
        "紫金山实验室",
    )
    assert d2004["note"].startswith("heading lost in the source text")

    d7002 = by_code["7002"]
    assert d7002["title"] == "重型电动运载装备一体化线控底盘研发"
    assert d7002["indicators"].endswith("全工况制动能量回收率")
    for name in ("cap_wan", "max_years", "mode", "organiser", "remarks"):
        assert d7002[name] == "", name

    d7003 = by_code["7003"]
    assert d7003["programme"] == "高端装备"
    assert d7003["note"].startswith("absent from the source text")
    assert all(v == "" for k, v in d7003.items() if k not in ("code", "programme", "note"))


@pytest.mark.parametrize(
    ("code", "cap", "years", "mode", "organiser"),
    [
        ("1001", "2000", "3", "定向委托", "国家第三代半导体技术创新中心（苏州）"),
        ("1002", "1000", "3", "定向委托", "国家第三代半导体技术创新中心（南京）"),
        ("2002", "1500", "3", "定向委托", "紫金山实验室"),
        ("3001", "1000", "3", "竞争择优", ""),
        ("3002", "1500", "3", "揭榜挂帅", ""),
        ("4004", "1500", "3", "定向委托", "苏州实验室"),
        ("5001", "1000", "3", "定向委托", "国家集成电路设计自动化技术创新中心"),
        ("6004", "1000", "5", "揭榜挂帅", ""),
        ("8001", "1500", "4", "揭榜挂帅", ""),
        ("9001", "1500", "4", "揭榜挂帅", ""),
        ("9006", "1000", "3", "揭榜挂帅", ""),
    ],
)
def test_spot_checks_read_from_the_text(
    by_code: dict[str, dict[str, str]], code: str, cap: str, years: str, mode: str, organiser: str
) -> None:
    row = by_code[code]
    assert (row["cap_wan"], row["max_years"], row["mode"], row["organiser"]) == (
        cap,
        years,
        mode,
        organiser,
    )


def test_spot_checks_of_joined_text(by_code: dict[str, dict[str, str]]) -> None:
    assert by_code["2005"]["title"] == "面向毫米波太赫兹高频段的异质/异构技术及硅基集成阵列芯片研发"
    assert by_code["8005"]["title"] == (
        "面向深远海风电直流外送的模块化多电平换流器及高压功率器件研发"
    )
    assert by_code["1002"]["title"] == "新能源光储用中高压SiC MOSFET功率器件研发"
    assert by_code["3001"]["remarks"].startswith("采取竞争择优方式组织实施")
    assert "每项省财政资助经费原则上不超过1000万元" in by_code["3001"]["remarks"]
    # the page number "— 58 —" inside 9006's indicators is dropped
    assert "58" not in by_code["9006"]["indicators"]
    assert "质量能量密度≥500Wh/kg" in by_code["9006"]["indicators"]
    # letter-spaced line "考 核 指 标 ： 芯 片 指 标 ：" is read as a label
    assert by_code["5004"]["indicators"].startswith("芯片指标：DSP核性能不低于1GHz")
    assert "支持Llama 3等不少于6种典型大模型" in by_code["3006"]["indicators"]
    assert by_code["1001"]["research_content"].startswith("针对高集成度和高耐压功率电子应用需求")


def test_load_guide_types(rows: list[dict[str, str]]) -> None:
    frame = build_guide.load_guide()
    assert list(frame.columns) == list(build_guide.COLUMNS)
    assert list(frame["code"]) == [r["code"] for r in rows]
    assert frame["cap_wan"].dtype == "float64"
    assert frame["max_years"].dtype == "float64"
    by = frame.set_index("code")
    assert by.loc["3001", "cap_wan"] == 1000.0
    assert math.isnan(by.loc["7003", "cap_wan"])
    assert by.loc["7003", "title"] == ""
    assert float(frame["cap_wan"].sum()) == sum(float(r["cap_wan"]) for r in rows if r["cap_wan"])


# --- the parser refuses undeclared or vanished damage ------------------------------------------


def test_restored_7002_remarks_make_the_damage_table_stale(seed_text: str) -> None:
    restored = seed_text.replace(
        "减速度≥0.7g，全工况制动能量回收率\n",
        "减速度≥0.7g，全工况制动能量回收率\n有关说明：采取揭榜挂帅方式组织实施；"
        "省财政资助经费原则上不超过1000万元；项目执行期不超过3年。\n",
    )
    assert restored != seed_text
    with pytest.raises(GuideParseError) as err:
        build_guide.parse_guide(restored)
    assert str(err.value) == (
        "Direction 7002 lacks [] but DAMAGE declares ['cap_wan', 'max_years', 'mode', 'remarks']; "
        "review DAMAGE against the seed."
    )


def test_undeclared_missing_cap_is_refused(seed_text: str) -> None:
    damaged = seed_text.replace("每项省财政资", "每项", 1)
    with pytest.raises(GuideParseError) as err:
        build_guide.parse_guide(damaged)
    assert str(err.value) == (
        "Direction 3001 (seed line 610) lacks cap_wan in the text; if the text really lacks "
        "them, add a DAMAGE entry with a note, otherwise fix the parser's phrase regexes."
    )


def test_text_without_the_guide_is_refused() -> None:
    with pytest.raises(GuideParseError) as err:
        build_guide.parse_guide("江苏省科学技术厅\n通知正文\n")
    assert str(err.value) == (
        "The call text has no line '附件1'; the guide (attachment 1) cannot be located. "
        "Check that the seed is the full notice."
    )


def test_direction_validation_names_the_code() -> None:
    with pytest.raises(GuideParseError) as err:
        GuideDirection(
            code="3002",
            programme="人工智能",
            title="t",
            cap_wan=1500,
            max_years=3,
            mode="揭榜挂帅",
            note="",
            organiser="某实验室",
            research_content="r",
            indicators="i",
            remarks="m",
        )
    assert str(err.value) == (
        "Direction 3002 names organiser '某实验室' but its mode is 揭榜挂帅; "
        "only 定向委托 directions have an organiser."
    )
    with pytest.raises(GuideParseError) as err:
        GuideDirection(
            code="3002",
            programme="人工智能",
            title="",
            cap_wan=None,
            max_years=3,
            mode="揭榜挂帅",
            note="",
            organiser="",
            research_content="r",
            indicators="i",
            remarks="m",
        )
    assert str(err.value) == (
        "Direction 3002 lacks cap_wan, title but has no note; say in the note what the text lacks."
    )


# --- joining wrapped lines ----------------------------------------------------------------------

_line = st.text(alphabet=st.sampled_from("研发内容，。；ABab12 ≥%"), max_size=12)


@given(st.lists(_line, max_size=8))
def test_joining_lines_keeps_every_visible_character(lines: list[str]) -> None:
    joined = build_guide.join_lines(lines)
    assert "\n" not in joined
    assert _squash(joined) == _squash("".join(lines))


def test_joining_lines_spaces_only_between_latin() -> None:
    assert build_guide.join_lines(["支持 Llama", "3 等不少于 6 种"]) == "支持Llama 3等不少于6种"
    assert build_guide.join_lines(["考 核 指 标 ： 芯 片", "指标"]) == "考核指标：芯片指标"


def test_csv_round_trips_through_the_csv_module(rows: list[dict[str, str]]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(build_guide.COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    assert buf.getvalue() == CSV_PATH.read_text(encoding="utf-8")


def test_vanished_lost_heading_anchor_is_refused(seed_text: str) -> None:
    changed = seed_text.replace(ORPHAN_2004, "性能较差、通道面积相对波长较大的问题", 1)
    with pytest.raises(GuideParseError) as err:
        build_guide.parse_guide(changed)
    assert str(err.value) == (
        f"Lost-heading anchor(s) ['{ORPHAN_2004}'] not found in the guide text; the seed has "
        "changed, so review LOST_HEADINGS against it."
    )
