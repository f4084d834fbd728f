"""selection runs (stored options) and decision reason codes

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "selection_runs",
        sa.Column("run_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("batch_id", sa.String(length=32), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("funded", sa.Integer(), nullable=False),
        sa.Column("grants_total_wan", sa.Float(), nullable=False),
        sa.Column("result_digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["batch_id"], ["batches.batch_id"]),
        sa.PrimaryKeyConstraint("run_id"),
    )
    with op.batch_alter_table("selection_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_selection_runs_batch_id"), ["batch_id"], unique=False)
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason_code", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.drop_column("reason_code")
    with op.batch_alter_table("selection_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_selection_runs_batch_id"))
    op.drop_table("selection_runs")
