"""Write the batch report: gather what the runs stored, render the page, write one file (all
or nothing: the file appears only once the page is complete)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from models.db import check_schema, session
from models.report.gather import gather
from models.report.html import render


@dataclass(frozen=True)
class Written:
    """The report as written: its path, size in bytes and the sections it holds."""

    path: Path
    bytes: int
    sections: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        return {"path": str(self.path), "bytes": self.bytes, "sections": list(self.sections)}


def write_report(engine: Engine, batch_id: str | None, out: Path) -> Written:
    """The batch's report (the only batch when ``batch_id`` is None) written to ``out`` in the
    current language; reads the database only."""
    check_schema(engine)
    with session(engine) as s:
        data = gather(s, batch_id)
    page = render(data)
    body = page.html.encode("utf-8")
    partial = out.with_name(out.name + ".part")
    partial.write_bytes(body)
    os.replace(partial, out)
    return Written(out, len(body), page.sections)
