"""Uploaded files: what is accepted (CSV text or an XLSX workbook, within the size limits)
and which kind each file is. The bytes go to the database with the import job; the file's
name is only shown and matched against the kinds, never used as a path."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath

from models.i18n import _
from models.io import kinds
from models.queue import NewUpload

SUFFIXES = (".csv", ".xlsx")
XLSX_UNPACKED_RATIO = 20
"""An XLSX may unpack to at most this many times the upload limit (refuses zip bombs)."""


class Refused(ValueError):
    """An upload that is not accepted; the message says which and why."""


@dataclass(frozen=True)
class Given:
    """A file as the browser sent it."""

    name: str
    data: bytes


def _suffix(name: str) -> str:
    return PurePosixPath(name.replace("\\", "/")).suffix.lower()


def _stem(name: str) -> str:
    return PurePosixPath(name.replace("\\", "/")).stem.lower()


def _check_xlsx(name: str, data: bytes, limit: int) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = set(z.namelist())
            unpacked = sum(i.file_size for i in z.infolist())
    except zipfile.BadZipFile:
        raise Refused(_("{name}: not an XLSX workbook", name=name)) from None
    if "xl/workbook.xml" not in names:
        raise Refused(_("{name}: not an XLSX workbook", name=name))
    if unpacked > XLSX_UNPACKED_RATIO * limit:
        raise Refused(_("{name}: the workbook unpacks to more than the limit", name=name))


def accept(files: list[Given], kind: str, *, limit: int) -> list[NewUpload]:
    """The files as uploads of their kinds: ``kind``, or with ``kind == "auto"`` the kind
    that each file is named after (``proposals.csv``). Raises :class:`Refused`."""
    if not files:
        raise Refused(_("choose at least one file"))
    out: list[NewUpload] = []
    for f in files:
        name = f.name[-200:] or "upload"
        suffix = _suffix(name)
        if suffix not in SUFFIXES:
            raise Refused(_("{name}: only .csv and .xlsx files are accepted", name=name))
        if len(f.data) > limit:
            raise Refused(_("{name}: larger than {mb} MB", name=name, mb=round(limit / 2**20)))
        if suffix == ".xlsx":
            _check_xlsx(name, f.data, limit)
        elif b"\x00" in f.data[:4096]:
            raise Refused(_("{name}: not a text CSV file", name=name))
        file_kind = _stem(name) if kind == "auto" else kind
        if file_kind not in kinds():
            raise Refused(
                _(
                    "{name}: choose the kind of the file, or name it after its kind "
                    "(e.g. proposals.csv)",
                    name=name,
                )
            )
        out.append(NewUpload(file_kind, name, f.data))
    named = [u.kind for u in out]
    twice = sorted({k for k in named if named.count(k) > 1})
    if twice:
        raise Refused(_("one file of each kind at a time: {kinds}", kinds=", ".join(twice)))
    return out
