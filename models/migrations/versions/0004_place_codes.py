"""place codes: GB/T 2260 codes of units' and experts' provinces and cities

Revision ID: 0004
Revises: 0006
Create Date: 2026-12-05

Existing rows get the official names and codes of the places they name (models.places); a
value that names no known place is left as it is, without a code.
"""

import sqlalchemy as sa
from alembic import op

from models import places

revision = "0004"
down_revision = "0006"  # chained after main's 0006 when main was merged
branch_labels = None
depends_on = None


def _backfill() -> None:
    conn = op.get_bind()
    units = sa.table(
        "units",
        sa.column("unit_id", sa.String),
        sa.column("province", sa.String),
        sa.column("city", sa.String),
        sa.column("province_code", sa.String),
        sa.column("city_code", sa.String),
    )
    for uid, prov_text, city_text in conn.execute(
        sa.select(units.c.unit_id, units.c.province, units.c.city)
    ).all():
        prov = places.province(prov_text)
        if prov is None:
            continue
        values = {"province": prov.name, "province_code": prov.code}
        town = places.city(city_text, prov)
        if town is not None:
            values.update(city=town.name, city_code=town.code)
        conn.execute(sa.update(units).where(units.c.unit_id == uid).values(**values))
    experts = sa.table(
        "experts",
        sa.column("expert_id", sa.String),
        sa.column("province", sa.String),
        sa.column("province_code", sa.String),
    )
    for eid, prov_text in conn.execute(sa.select(experts.c.expert_id, experts.c.province)).all():
        prov = places.province(prov_text)
        if prov is not None:
            conn.execute(
                sa.update(experts)
                .where(experts.c.expert_id == eid)
                .values(province=prov.name, province_code=prov.code)
            )


def upgrade() -> None:
    with op.batch_alter_table("units") as batch:
        batch.add_column(sa.Column("province_code", sa.String(length=6), nullable=True))
        batch.add_column(sa.Column("city_code", sa.String(length=6), nullable=True))
    with op.batch_alter_table("experts") as batch:
        batch.add_column(sa.Column("province_code", sa.String(length=6), nullable=True))
    _backfill()


def downgrade() -> None:
    with op.batch_alter_table("experts") as batch:
        batch.drop_column("province_code")
    with op.batch_alter_table("units") as batch:
        batch.drop_column("city_code")
        batch.drop_column("province_code")
