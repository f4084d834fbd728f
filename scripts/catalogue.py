"""Keep the Chinese message catalogue in step with the code.

``python -m scripts.catalogue`` finds every marked message (``_``, ``_n``, ``N_``, ``Msg``; see
``models/i18n.py``) in the packages, adds the new ones to
``models/locale/zh/LC_MESSAGES/reviewopt.po`` with an empty translation for a person to fill,
and drops the ones the code no longer has. ``--check`` changes nothing and lists what is
missing, untranslated or left over (exit 1 if anything is).
"""

from __future__ import annotations

import argparse
import io
import re
import sys
from collections.abc import Iterable
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("assign", "scoring", "models", "data", "scripts", "web")
KEYWORDS = {"_": None, "N_": None, "Msg": None, "_n": (1, 2)}
PO_FILE = ROOT / "models" / "locale" / "zh" / "LC_MESSAGES" / "reviewopt.po"
_FIELD = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)")


def extract(packages: Iterable[str] = PACKAGES) -> dict[str, tuple[str, str | None, str]]:
    """msgid -> (plural or None, first place it is used) for every marked message."""
    found: dict[str, tuple[str, str | None, str]] = {}
    for pkg in packages:
        for filename, lineno, message, _comments, _context in extract_from_dir(
            ROOT / pkg,
            method_map=[("**.py", "python"), ("**.j2", "jinja2.ext:babel_extract")],
            keywords=KEYWORDS,
        ):
            singular, plural = (
                (message[0], message[1])
                if isinstance(message, tuple)
                else (
                    message,
                    None,
                )
            )
            if singular and singular not in found:
                found[singular] = (singular, plural, f"{pkg}/{filename}:{lineno}")
    return found


def fields(text: str) -> set[str]:
    """The names of the ``{fields}`` of a message."""
    return set(_FIELD.findall(text))


def read_catalogue(path: Path = PO_FILE) -> Catalog:
    with path.open("rb") as fh:
        return read_po(fh, locale="zh")


def problems(catalog: Catalog, found: dict[str, tuple[str, str | None, str]]) -> list[str]:
    """Everything that keeps the catalogue from matching the code, one line each."""
    out = []
    have = {m.id if isinstance(m.id, str) else m.id[0]: m for m in catalog if m.id}
    for msgid, (_s, _p, where) in sorted(found.items()):
        m = have.get(msgid)
        string = m.string if m else ""
        text = str(string[0] if isinstance(string, (tuple, list)) else string or "")
        if not text:
            out.append(f"untranslated ({where}): {msgid!r}")
        elif fields(text) != fields(msgid):
            out.append(f"fields differ ({where}): {msgid!r} -> {text!r}")
    out += [f"no longer in the code: {msgid!r}" for msgid in sorted(set(have) - set(found))]
    return out


def update(path: Path = PO_FILE) -> tuple[int, int]:
    """Add new messages and drop obsolete ones; returns (added, dropped)."""
    catalog = read_catalogue(path) if path.exists() else Catalog(locale="zh", project="reviewopt")
    found = extract()
    have = {m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id}
    added = 0
    for msgid, (singular, plural, _where) in found.items():
        if msgid not in have:
            catalog.add((singular, plural) if plural else singular, string=("",) if plural else "")
            added += 1
    dropped = 0
    for msgid in sorted(have - set(found)):
        catalog.delete(msgid)
        dropped += 1
    buf = io.BytesIO()
    write_po(buf, catalog, width=0, no_location=True, sort_output=True, omit_header=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue())
    return added, dropped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="Change nothing; list problems.")
    args = parser.parse_args(argv)
    if not args.check:
        added, dropped = update()
        print(f"{PO_FILE.relative_to(ROOT)}: {added} added, {dropped} dropped")
    lines = problems(read_catalogue(), extract())
    for line in lines:
        print(line)
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main())
