"""Jobs: one thin function per command that loads plain data from the database, calls a pure
core in ``assign`` or ``scoring``, and writes the result back in one transaction with an audit
event. The CLI calls these; scheduled jobs can too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from models import io
from models.db import audit, check_schema, digest, upgrade
from models.schema import IMPORT_KINDS


def init_db(engine: Engine) -> str:
    """Create or upgrade the schema; returns the revision now in force."""
    return upgrade(engine)


def import_kind(engine: Engine, kind: str, path: Path, *, actor: str) -> io.ImportCounts:
    """Import one file of ``kind`` all-or-nothing, with an audit event."""
    check_schema(engine)
    with Session(engine) as s, s.begin():
        counts = io.import_file(s, kind, path)
        audit(
            s,
            actor=actor,
            command="import",
            params={"kind": kind, "file": str(path)},
            input_digest=io.file_digest(path),
            result_digest=digest(counts.as_dict()),
        )
    return counts


def import_all(engine: Engine, directory: Path, *, actor: str) -> list[io.ImportCounts]:
    """Import every ``<kind>.csv`` of ``directory`` in one transaction, with an audit event."""
    check_schema(engine)
    with Session(engine) as s, s.begin():
        results = io.import_directory(s, directory)
        audit(
            s,
            actor=actor,
            command="import all",
            params={"directory": str(directory), "files": [r.file for r in results]},
            input_digest=digest([io.file_digest(Path(r.file)) for r in results]),
            result_digest=digest([r.as_dict() for r in results]),
        )
    return results


def load_tables(session: Session, kinds: list[str] | None = None) -> dict[str, pd.DataFrame]:
    """The batch tables as plain frames (column names as in the import formats)."""
    return {k: io.table_frame(session, k) for k in (kinds or list(IMPORT_KINDS))}


def export_kind(engine: Engine, kind: str) -> pd.DataFrame:
    """The rows of an importable kind or of a result view, ready to write."""
    check_schema(engine)
    with Session(engine) as s:
        if kind in IMPORT_KINDS:
            return io.table_frame(s, kind)
        from models import views

        return views.frame(s, kind)


def export_kinds() -> list[str]:
    from models import views

    return [*IMPORT_KINDS, *views.VIEWS]


def counts_summary(results: list[io.ImportCounts]) -> dict[str, Any]:
    return {r.kind: r.as_dict() for r in results}
