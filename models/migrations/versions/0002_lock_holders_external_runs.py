"""lock holders with heartbeats; assignments imported from outside (no affinity)

Revision ID: 0002
Revises: 0005
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0005"  # chained after main's 0005 when main was merged
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("batch_locks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("host", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("pid", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("process_started_at", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("heartbeat_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("command", sa.String(length=64), nullable=True))
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.alter_column("affinity", existing_type=sa.Float(), nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.alter_column("affinity", existing_type=sa.Float(), nullable=False)
    with op.batch_alter_table("batch_locks", schema=None) as batch_op:
        batch_op.drop_column("command")
        batch_op.drop_column("heartbeat_at")
        batch_op.drop_column("process_started_at")
        batch_op.drop_column("pid")
        batch_op.drop_column("host")
