"""Provinces and cities of China as forms write them, resolved to one canonical place.

Forms write the same province as 江苏省, 江苏 or Jiangsu, and the same city as 南京市, 南京 or
Nanjing. :func:`province` and :func:`city` resolve any of these (and the GB/T 2260 code, e.g.
``320000`` or ``32``) to a :class:`Place`: the administrative-division code and the official
name. The table (``data/places_cn.csv``) lists the 34 provincial-level divisions and every
prefecture-level division (地级行政区, with the county-level cities that provinces administer
directly), plus the county-level cities of Jiangsu (昆山市, 江阴市, ...), where many applicants
are registered. In a municipality or special administrative region the city is the division
itself (上海 / 上海市).

:func:`normalise_places` is the import hook: it rewrites the ``province`` / ``city`` cells of
imported rows to the official names, fills ``province_code`` / ``city_code``, and returns a
problem (file, row, column, value, expectation) for every value it cannot resolve.
"""

from __future__ import annotations

import csv
import functools
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from models.i18n import _
from models.problems import Problem

#: The programme's home province (江苏省), as a GB/T 2260 code.
JIANGSU = "320000"

_SUFFIXES = ("province", "city", "municipality", "autonomousregion", "sar", "prefecture")


@dataclass(frozen=True)
class Place:
    """A province or city: GB/T 2260 code (6 digits), official name, short name, pinyin."""

    code: str
    name: str
    short: str
    english: str

    @property
    def province_code(self) -> str:
        """The code of the province the place lies in (itself for a province)."""
        return self.code[:2] + "0000"

    @property
    def is_province(self) -> bool:
        return self.code.endswith("0000")


def _key(text: str) -> str:
    """The form two spellings of one name share: full-width folded, no spaces, lower case;
    Latin text also loses accents, apostrophes and a trailing "province" / "city" word."""
    t = unicodedata.normalize("NFKC", text).strip()
    if t.isascii() or any("a" <= c.lower() <= "z" for c in t):
        t = "".join(c for c in unicodedata.normalize("NFKD", t) if not unicodedata.combining(c))
        t = "".join(c for c in t.casefold() if c.isalnum())
        for suffix in _SUFFIXES:
            if t.endswith(suffix) and len(t) > len(suffix):
                t = t[: -len(suffix)]
                break
        return t
    return "".join(t.split())


@dataclass(frozen=True)
class _Table:
    provinces: dict[str, Place]  # key -> province
    cities: dict[str, dict[str, Place]]  # province code -> key -> city
    by_code: dict[str, Place]


def _keys(place: Place, aliases: Iterable[str]) -> set[str]:
    names = {place.name, place.short, place.english, place.code, *aliases}
    if place.is_province:
        names.add(place.code[:2])
    return {_key(n) for n in names if n}


@functools.cache
def _table() -> _Table:
    provinces: dict[str, Place] = {}
    cities: dict[str, dict[str, Place]] = {}
    by_code: dict[str, Place] = {}
    with (resources.files("data") / "places_cn.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            place = Place(row["code"], row["name"], row["short"], row["english"])
            aliases = [a for a in (row["aliases"] or "").split(";") if a]
            by_code[place.code] = place
            target = provinces if place.is_province else cities.setdefault(place.province_code, {})
            for k in _keys(place, aliases):
                target[k] = place
    for prov in by_code.values():  # municipalities, SARs, Taiwan: the city is the division itself
        if prov.is_province and prov.code not in cities:
            cities[prov.code] = {k: prov for k, p in provinces.items() if p == prov}
    return _Table(provinces, cities, by_code)


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    text = str(value).strip()
    return text or None


def province(value: Any) -> Place | None:
    """The province ``value`` names (江苏省, 江苏, Jiangsu, 320000, 32); None if none does."""
    text = _text(value)
    return None if text is None else _table().provinces.get(_key(text))


def city(value: Any, in_province: Place) -> Place | None:
    """The city of ``in_province`` that ``value`` names (南京市, 南京, Nanjing, 320100)."""
    text = _text(value)
    if text is None:
        return None
    return _table().cities.get(in_province.code, {}).get(_key(text))


def place(code: str) -> Place | None:
    """The place with this GB/T 2260 code."""
    return _table().by_code.get(code)


def in_province(value: Any, code: str = JIANGSU) -> bool:
    """Whether ``value`` names the province ``code`` (default: Jiangsu)."""
    p = province(value)
    return p is not None and p.code == code


# --- the import hook --------------------------------------------------------------------------

#: Import kind -> (province column, city column or None).
PLACE_COLUMNS: Mapping[str, tuple[str, str | None]] = {
    "units": ("province", "city"),
    "experts": ("province", None),
}


def _expected_province() -> str:
    return _(
        "a province of China: its name (江苏省), short name (江苏), pinyin (Jiangsu) or "
        "GB/T 2260 code (320000)"
    )


def _expected_city(prov: Place) -> str:
    first = min(_table().cities[prov.code].values(), key=lambda p: p.code)
    return _(
        "a city of {province}: its name ({name}), short name ({short}), pinyin ({english}) "
        "or GB/T 2260 code ({code})",
        province=prov.name,
        name=first.name,
        short=first.short,
        english=first.english,
        code=first.code,
    )


def _resolve(
    rec: dict[str, Any],
    column: str,
    found: Place | None,
    expected: str,
    file: str,
) -> list[Problem]:
    """Write the place's name and code into ``rec`` or say why the cell cannot be used."""
    raw = rec.get(column)
    if raw is None:
        return []
    code_col = f"{column}_code"
    if found is None:
        return [Problem(file, rec.get("__row__"), column, str(raw), expected)]
    given = _text(rec.get(code_col))
    if given is not None and given != found.code:
        return [
            Problem(
                file,
                rec.get("__row__"),
                code_col,
                given,
                _("{code}, the code of {name}", code=found.code, name=found.name),
            )
        ]
    rec[column] = found.name
    rec[code_col] = found.code
    return []


def normalise_places(kind: str, rows: list[dict[str, Any]], file: str) -> list[Problem]:
    """Rewrite the province / city cells of ``rows`` (typed import rows of ``kind``) to the
    official names and fill their codes; one problem per cell that names no known place."""
    columns = PLACE_COLUMNS.get(kind)
    if columns is None:
        return []
    prov_col, city_col = columns
    problems: list[Problem] = []
    for rec in rows:
        prov = province(rec.get(prov_col))
        problems += _resolve(rec, prov_col, prov, _expected_province(), file)
        if city_col is not None and prov is not None:
            problems += _resolve(
                rec, city_col, city(rec.get(city_col), prov), _expected_city(prov), file
            )
    return problems
