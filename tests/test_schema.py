"""The schema: migrations match the ORM, and every enum code fits its column."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, String

from models.schema import Base


def test_migrations_match_the_orm(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_every_enum_code_fits_its_column() -> None:
    too_short = [
        f"{t.name}.{c.name}"
        for t in Base.metadata.tables.values()
        for c in t.columns
        if c.info.get("enum")
        and isinstance(c.type, String)
        and c.type.length
        and max(map(len, c.info["enum"])) > c.type.length
    ]
    assert too_short == []


def test_formats_match_the_orm() -> None:
    from models.io import column_specs, kind_class
    from models.schema import IMPORT_KINDS
    from models.vocab import FORMATS

    assert set(FORMATS) == set(IMPORT_KINDS)
    for kind in IMPORT_KINDS:
        assert FORMATS[kind] == tuple(s.name for s in column_specs(kind_class(kind))), kind
