"""Build the 2024 guide catalogue (``guide_2024.csv``) from the call text ``seed_2024_call.txt``.

The seed is the text of notice 苏科资发〔2024〕112号 as extracted from its PDF: lines break
mid-sentence, each page may start with a stray space, one page number ("— 58 —") sits inside
a paragraph, and PDF justification letter-spaces some lines ("考 核 指 标 ："). The parser
works on the text of attachment 1 (附件1 up to 附件2):

- programme headings ``一、第三代半导体专项`` open a programme; the lines before its first
  direction are the programme introduction (announced number of directions, and for some
  programmes a mode that covers all of them);
- direction headings ``1001 <title>`` open a direction; lines up to ``研发内容：`` continue the
  title; the labels ``研发内容：``, ``考核指标：``, ``有关说明：`` open the three fields;
- the mode, organiser, funding cap and duration are read from 有关说明 with regexes.

Lines are joined without a separator (a space only between two Latin letters/digits), and
spaces next to Chinese characters or full-width punctuation are dropped (typesetting only).

The damaged places of the seed are declared in ``LOST_HEADINGS`` and ``DAMAGE`` with comments
citing seed lines. The build fails if the text no longer shows the declared damage, or shows a
gap that is not declared, so nothing is silently filled in or left out.

Run ``python -m data.build_guide`` to rewrite ``data/guide_2024.csv``. Money in 万元.
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import pandas as pd

from models.vocab import FORMATS, MODE

SEED_NAME = "seed_2024_call.txt"
CSV_NAME = "guide_2024.csv"

COLUMNS: tuple[str, ...] = FORMATS["guide"]
MODES: tuple[str, ...] = tuple(MODE)
NUMERALS = "一二三四五六七八九"

# Fields whose absence from a direction must be explained by a note.
CHECKED_FIELDS: tuple[str, ...] = (
    "title",
    "cap_wan",
    "max_years",
    "mode",
    "research_content",
    "indicators",
    "remarks",
)

# --- regexes over the text ------------------------------------------------------------------

_GUIDE_START = re.compile(r"^附件\s*1$")
_GUIDE_END = re.compile(r"^附件\s*\d+$")
_PAGE_NUMBER = re.compile(r"^[—–-]\s*\d+\s*[—–-]$")
_PROGRAMME = re.compile(r"^([一二三四五六七八九])、\s*(\S.*?)专项$")
_DIRECTION = re.compile(r"^([1-9]0\d\d) +(\S.*)$")
_LABEL = re.compile(r"^(研\s*发\s*内\s*容|考\s*核\s*指\s*标|有\s*关\s*说\s*明)\s*[：:]\s*(.*)$")
_LABEL_FIELD = {"研发内容": "research_content", "考核指标": "indicators", "有关说明": "remarks"}
_ANNOUNCED = re.compile(r"启动(?:实施)?(\d+)项重点攻关任务")
_INTRO_DIRECTED = re.compile(r"定向委托([^，；。]+?)组织实施")
_MODE_DIRECTED = re.compile(r"^定向委托([^，；。]+?)组织实施")
_MODE_OTHER = re.compile(r"^采取(揭榜挂帅|竞争择优)方式组织实施")
_CAP = re.compile(r"省财政资助经费(?:原则上)?不超过(\d+(?:\.\d+)?)万元")
_YEARS = re.compile(r"项目(?:执行期|实施周期)(?:原则上)?不超过(\d+)年")

# Characters next to which a space is typesetting, not content: CJK ideographs and symbols,
# full-width forms, general punctuation (quotes, dashes), ≤ ≥ ≠ and ±.
_TIGHT = r"\u2010-\u206f\u2260-\u2265\u00b1\u3000-\u303f\u4e00-\u9fff\uff00-\uffef"
_SPACE_AFTER_TIGHT = re.compile(rf"(?<=[{_TIGHT}])[ \t\u3000]+")
_SPACE_BEFORE_TIGHT = re.compile(rf"[ \t\u3000]+(?=[{_TIGHT}])")
_MULTISPACE = re.compile(r"[ \t]{2,}")
_LATIN_END = re.compile(r"[A-Za-z0-9]$")
_LATIN_START = re.compile(r"^[A-Za-z0-9]")


class GuideParseError(ValueError):
    """The call text does not have the structure the parser expects."""


# --- damaged places of the seed ---------------------------------------------------------------


@dataclass(frozen=True)
class LostHeading:
    """A direction whose heading is lost: it starts at the line beginning with ``anchor``.

    ``part`` is the field that line belongs to (the direction's own label is lost too).
    """

    code: str
    anchor: str
    part: str


# Seed line 448 breaks off 2003's research content at "研发基带"; seed line 449 opens a new page
# mid-sentence inside another direction's research content ("性能差、通道面积相对波长较大的问题；
# 研发适用于亚太赫兹大规模相控阵…"), followed by 考核指标 on 94 GHz phased-array chips and 有关说明
# (seed lines 481-483). The heading of 2004 and the start of its content are lost with the
# missing page(s); what follows line 449 up to the 2005 heading (seed line 485) is 2004's.
LOST_HEADINGS: tuple[LostHeading, ...] = (
    LostHeading(code="2004", anchor="性能差、通道面积相对波长较大的问题", part="research_content"),
)


@dataclass(frozen=True)
class Damage:
    """What the text lacks for one direction: the fields it must miss and the note to record."""

    missing: frozenset[str]
    note: str


DAMAGE: dict[str, Damage] = {
    # Seed lines 439-448: 2003 has its heading and a truncated 研发内容 only (see LOST_HEADINGS).
    "2003": Damage(
        missing=frozenset({"indicators", "remarks", "cap_wan", "max_years", "mode"}),
        note=(
            "end of this direction lost in the source text (its research content breaks off "
            "mid-sentence at '研发基带'): research content is truncated, indicators and 有关说明 "
            "are missing, so the funding cap and duration are unknown; mode and organiser are "
            "taken from the 6G programme introduction, which commissions all 7 directions to "
            "紫金山实验室"
        ),
    ),
    # Seed lines 449-483: heading lost; content starts mid-sentence at line 449.
    "2004": Damage(
        missing=frozenset({"title"}),
        note=(
            "heading lost in the source text: title and the start of the research content are "
            "missing (research content begins mid-sentence); the indicators, cap, duration and "
            "mode given after 2003's truncated content are taken to be this direction's"
        ),
    ),
    # Seed line 1589 ends 7002's 考核指标 mid-sentence ("全工况制动能量回收率"); seed line 1590 is
    # the 7004 heading. 7002's 有关说明 and all of 7003 are lost.
    "7002": Damage(
        missing=frozenset({"remarks", "cap_wan", "max_years", "mode"}),
        note=(
            "end of this direction lost in the source text (its indicators break off "
            "mid-sentence at '全工况制动能量回收率' and the text continues with 7004): "
            "indicators are truncated and 有关说明 is missing, so the funding cap, duration and "
            "mode are unknown"
        ),
    ),
    # Seed lines 1519-1523 announce 7 directions for 高端装备; no 7003 heading exists in the text.
    "7003": Damage(
        missing=frozenset(CHECKED_FIELDS),
        note=(
            "absent from the source text: the 高端装备 programme announces 7 directions but no "
            "7003 heading or content appears (the text passes from 7002's cut-off indicators to "
            "7004); title, content, funding cap, duration and mode are unknown"
        ),
    ),
}


# --- the catalogue row --------------------------------------------------------------------------


@dataclass(frozen=True)
class GuideDirection:
    """One guide direction (指南方向) as the call text gives it; money in 万元.

    Empty strings / None mean the text does not give the value; ``note`` then says why.
    ``seed_line`` is the 1-based line of the heading in the seed (None when lost or absent).
    """

    code: str
    programme: str
    title: str
    cap_wan: int | None
    max_years: int | None
    mode: str
    note: str
    organiser: str
    research_content: str
    indicators: str
    remarks: str
    seed_line: int | None = None

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[1-9]0\d\d", self.code):
            raise GuideParseError(
                f"Direction code {self.code!r} is not 4 digits of the form P0NN; "
                "check the heading in the call text."
            )
        if not self.programme:
            raise GuideParseError(f"Direction {self.code} has no programme; give its 专项 name.")
        if self.mode not in ("", *MODES):
            raise GuideParseError(
                f"Direction {self.code} has mode {self.mode!r}; use one of {', '.join(MODES)} "
                "or leave it empty."
            )
        if self.organiser and self.mode != "定向委托":
            raise GuideParseError(
                f"Direction {self.code} names organiser {self.organiser!r} but its mode is "
                f"{self.mode or 'empty'}; only 定向委托 directions have an organiser."
            )
        if self.mode == "定向委托" and not self.organiser:
            raise GuideParseError(
                f"Direction {self.code} is 定向委托 without an organiser; give the institution."
            )
        for name in ("cap_wan", "max_years"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise GuideParseError(
                    f"Direction {self.code} has {name}={value}; it must be positive or empty."
                )
        if self.missing() and not self.note:
            raise GuideParseError(
                f"Direction {self.code} lacks {', '.join(sorted(self.missing()))} but has no "
                "note; say in the note what the text lacks."
            )

    def missing(self) -> frozenset[str]:
        """Names of the checked fields that are empty."""
        return frozenset(n for n in CHECKED_FIELDS if getattr(self, n) in ("", None))

    def row(self) -> list[str]:
        """The CSV row, in ``COLUMNS`` order (None written as an empty cell)."""
        return ["" if getattr(self, c) is None else str(getattr(self, c)) for c in COLUMNS]


# --- text handling ------------------------------------------------------------------------------


def normalise_spaces(text: str) -> str:
    """Drop spaces next to CJK characters/punctuation; squeeze other runs to one space."""
    text = _SPACE_AFTER_TIGHT.sub("", text)
    text = _SPACE_BEFORE_TIGHT.sub("", text)
    return _MULTISPACE.sub(" ", text).strip()


def join_lines(lines: Sequence[str]) -> str:
    """Join wrapped lines into one paragraph (a space only between two Latin letters/digits)."""
    out = ""
    for line in lines:
        line = line.strip()
        if not line:
            continue
        if out and _LATIN_END.search(out) and _LATIN_START.search(line):
            out += " "
        out += line
    return normalise_spaces(out)


def guide_lines(text: str) -> list[tuple[int, str]]:
    """(1-based seed line, stripped text) of attachment 1, without blanks and page numbers."""
    raw = text.splitlines()
    start = next((i for i, line in enumerate(raw) if _GUIDE_START.match(line.strip())), None)
    if start is None:
        raise GuideParseError(
            "The call text has no line '附件1'; the guide (attachment 1) cannot be located. "
            "Check that the seed is the full notice."
        )
    end = next(
        (i for i in range(start + 1, len(raw)) if _GUIDE_END.match(raw[i].strip())), len(raw)
    )
    out: list[tuple[int, str]] = []
    for i in range(start + 1, end):
        line = raw[i].strip()
        if line and not _PAGE_NUMBER.match(line):
            out.append((i + 1, line))
    return out


# --- structure ------------------------------------------------------------------------------


@dataclass
class _Section:
    code: str
    line: int | None
    title: list[str] = field(default_factory=list)
    parts: dict[str, list[str]] = field(default_factory=dict)
    current: str = "title"


@dataclass
class _Programme:
    number: int
    name: str
    line: int
    intro: list[str] = field(default_factory=list)
    sections: list[_Section] = field(default_factory=list)


def split_guide(lines: Sequence[tuple[int, str]]) -> list[_Programme]:
    """Cut the guide lines into programmes and directions (raw lines, not yet joined)."""
    programmes: list[_Programme] = []
    anchors = {h.anchor: h for h in LOST_HEADINGS}
    used: set[str] = set()
    for lineno, line in lines:
        prog_m = _PROGRAMME.match(line)
        if prog_m:
            number = NUMERALS.index(prog_m.group(1)) + 1
            if number != len(programmes) + 1:
                raise GuideParseError(
                    f"Seed line {lineno}: programme heading {line!r} is number {number}, "
                    f"expected {len(programmes) + 1}; check the programme order in the text."
                )
            programmes.append(_Programme(number, normalise_spaces(prog_m.group(2)), lineno))
            continue
        if not programmes:
            continue  # the guide's preamble before the first programme
        prog = programmes[-1]
        lost = next((h for a, h in anchors.items() if line.startswith(a)), None)
        dir_m = _DIRECTION.match(line)
        if lost is not None:
            used.add(lost.anchor)
            _open_section(prog, _Section(lost.code, None, current=lost.part), lineno)
            prog.sections[-1].parts.setdefault(lost.part, []).append(line)
        elif dir_m:
            section = _Section(dir_m.group(1), lineno, title=[dir_m.group(2)])
            _open_section(prog, section, lineno)
        elif not prog.sections:
            prog.intro.append(line)
        else:
            section = prog.sections[-1]
            label_m = _LABEL.match(line)
            if label_m:
                name = _LABEL_FIELD[re.sub(r"\s", "", label_m.group(1))]
                if name in section.parts:
                    raise GuideParseError(
                        f"Seed line {lineno}: direction {section.code} has a second "
                        f"{label_m.group(1)}; check for a missing heading before it."
                    )
                section.current = name
                section.parts[name] = [label_m.group(2)]
            elif section.current == "title":
                section.title.append(line)
            else:
                section.parts[section.current].append(line)
    unused = set(anchors) - used
    if unused:
        raise GuideParseError(
            f"Lost-heading anchor(s) {sorted(unused)} not found in the guide text; the seed has "
            "changed, so review LOST_HEADINGS against it."
        )
    return programmes


def _open_section(prog: _Programme, section: _Section, lineno: int) -> None:
    if int(section.code[0]) != prog.number:
        raise GuideParseError(
            f"Seed line {lineno}: direction {section.code} sits in programme {prog.number} "
            f"({prog.name}); its first digit must be {prog.number}."
        )
    if prog.sections and section.code <= prog.sections[-1].code:
        raise GuideParseError(
            f"Seed line {lineno}: direction {section.code} follows {prog.sections[-1].code}; "
            "codes must increase within a programme."
        )
    prog.sections.append(section)


# --- phrases in 有关说明 ----------------------------------------------------------------------


def parse_mode(remarks: str) -> tuple[str, str]:
    """(mode, organiser) from the opening phrase of 有关说明; ("", "") when it states none."""
    directed = _MODE_DIRECTED.match(remarks)
    if directed:
        return "定向委托", directed.group(1)
    other = _MODE_OTHER.match(remarks)
    if other:
        return other.group(1), ""
    return "", ""


def _single_number(pattern: re.Pattern[str], text: str, what: str, code: str) -> int | None:
    found = {m.group(1) for m in pattern.finditer(text)}
    if len(found) > 1:
        raise GuideParseError(
            f"Direction {code} states several {what} ({', '.join(sorted(found))}); "
            "the catalogue holds one, so resolve this in DAMAGE with a note."
        )
    if not found:
        return None
    value = float(found.pop())
    if not value.is_integer():
        raise GuideParseError(f"Direction {code} has a non-integer {what} {value}.")
    return int(value)


def parse_cap(remarks: str, *, code: str) -> int | None:
    """Provincial funding cap in 万元 from 有关说明 ('省财政资助经费原则上不超过N万元')."""
    return _single_number(_CAP, remarks, "funding caps", code)


def parse_years(remarks: str, *, code: str) -> int | None:
    """Maximum duration in years from 有关说明 ('项目执行期不超过N年')."""
    return _single_number(_YEARS, remarks, "durations", code)


# --- the catalogue ------------------------------------------------------------------------------


def parse_guide(text: str) -> tuple[GuideDirection, ...]:
    """All guide directions of the call text, in code order, absent ones as noted empty rows."""
    programmes = split_guide(guide_lines(text))
    if not programmes:
        raise GuideParseError("No programme heading (e.g. '一、第三代半导体专项') in the guide.")
    out: list[GuideDirection] = []
    seen_damage: set[str] = set()
    for prog in programmes:
        intro = join_lines(prog.intro)
        announced_m = _ANNOUNCED.search(intro)
        intro_org_m = _INTRO_DIRECTED.search(intro)
        intro_org = intro_org_m.group(1) if intro_org_m else ""
        by_code = {s.code: s for s in prog.sections}
        last = max((int(c[2:]) for c in by_code), default=0)
        count = int(announced_m.group(1)) if announced_m else last
        if last > count:
            raise GuideParseError(
                f"Programme {prog.name} announces {count} directions but the text has "
                f"{prog.number}0{last:02d}; check the introduction at seed line {prog.line}."
            )
        for k in range(1, count + 1):
            code = f"{prog.number}0{k:02d}"
            direction = _build_direction(code, prog, by_code.get(code), intro_org)
            if code in DAMAGE:
                seen_damage.add(code)
            out.append(direction)
    stale = set(DAMAGE) - seen_damage
    if stale:
        raise GuideParseError(
            f"DAMAGE lists {sorted(stale)} but the text does not have these directions; "
            "review DAMAGE against the seed."
        )
    return tuple(out)


def _build_direction(
    code: str, prog: _Programme, section: _Section | None, intro_org: str
) -> GuideDirection:
    """The direction as its section of the text gives it, checked against DAMAGE."""
    parts = section.parts if section else {}
    remarks = join_lines(parts.get("remarks", []))
    mode, organiser = parse_mode(remarks)
    cap_wan = parse_cap(remarks, code=code)
    max_years = parse_years(remarks, code=code)
    values: dict[str, str | int | None] = {
        "title": join_lines(section.title) if section else "",
        "cap_wan": cap_wan,
        "max_years": max_years,
        "mode": mode,
        "research_content": join_lines(parts.get("research_content", [])),
        "indicators": join_lines(parts.get("indicators", [])),
        "remarks": remarks,
    }
    line = section.line if section else None
    _check_damage(code, line, frozenset(n for n in CHECKED_FIELDS if values[n] in ("", None)))
    if intro_org:
        if mode == "":
            # The programme introduction commissions all its directions to one institution.
            mode, organiser = "定向委托", intro_org
        elif mode != "定向委托":
            raise GuideParseError(
                f"Direction {code} states {mode} but programme {prog.name} commissions all its "
                f"directions to {intro_org}; check seed line {line}."
            )
    damage = DAMAGE.get(code)
    return GuideDirection(
        code=code,
        programme=prog.name,
        title=str(values["title"]),
        cap_wan=cap_wan,
        max_years=max_years,
        mode=mode,
        note=damage.note if damage else "",
        organiser=organiser,
        research_content=str(values["research_content"]),
        indicators=str(values["indicators"]),
        remarks=remarks,
        seed_line=line,
    )


def _check_damage(code: str, line: int | None, lacking: frozenset[str]) -> None:
    """The fields a direction's own text lacks must be exactly those DAMAGE declares."""
    damage = DAMAGE.get(code)
    if damage is None and lacking:
        raise GuideParseError(
            f"Direction {code} (seed line {line}) lacks {', '.join(sorted(lacking))} in the "
            "text; if the text really lacks them, add a DAMAGE entry with a note, otherwise fix "
            "the parser's phrase regexes."
        )
    if damage is not None and lacking != damage.missing:
        raise GuideParseError(
            f"Direction {code} lacks {sorted(lacking)} but DAMAGE declares "
            f"{sorted(damage.missing)}; review DAMAGE against the seed."
        )


def guide_csv(directions: Sequence[GuideDirection]) -> str:
    """The catalogue as CSV text (header + one row per direction, '\\n' line ends)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for d in directions:
        writer.writerow(d.row())
    return buf.getvalue()


def build_csv_text(seed_text: str | None = None) -> str:
    """CSV text built from ``seed_text`` (default: the bundled seed)."""
    if seed_text is None:
        seed_text = resources.files("data").joinpath(SEED_NAME).read_text(encoding="utf-8")
    return guide_csv(parse_guide(seed_text))


def load_guide() -> pd.DataFrame:
    """The bundled catalogue: one row per direction, columns ``COLUMNS``.

    Text columns are strings ("" where the text gives nothing); cap_wan (万元) and max_years
    (years) are float64 with NaN where the text gives no figure.
    """
    with resources.files("data").joinpath(CSV_NAME).open("r", encoding="utf-8") as fh:
        frame = pd.read_csv(fh, dtype=str, keep_default_na=False)
    for name in ("cap_wan", "max_years"):
        frame[name] = pd.to_numeric(frame[name].replace("", None), errors="raise").astype("float64")
    return frame


def main(argv: Sequence[str] | None = None) -> int:
    """Rewrite the catalogue CSV from the seed text."""
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(prog="python -m data.build_guide", description=__doc__)
    parser.add_argument("--seed", type=Path, default=here / SEED_NAME, help="call text")
    parser.add_argument("--out", type=Path, default=here / CSV_NAME, help="CSV to write")
    args = parser.parse_args(argv)
    try:
        text = args.seed.read_text(encoding="utf-8")
        directions = parse_guide(text)
    except (OSError, GuideParseError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    args.out.write_text(guide_csv(directions), encoding="utf-8", newline="")
    flagged = [d.code for d in directions if d.note]
    print(f"wrote {len(directions)} directions to {args.out}; flagged: {', '.join(flagged)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
