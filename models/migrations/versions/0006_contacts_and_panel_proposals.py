"""people's contact details (phone, e-mail) and the proposals each panel hears

Revision ID: 0006
Revises: 0001
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phone", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("email", sa.String(length=254), nullable=True))

    op.create_table(
        "panel_proposals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.String(length=64), nullable=False),
        sa.Column("proposal_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["proposal_id"], ["proposals.proposal_id"]),
        sa.ForeignKeyConstraint(["run_id"], ["assignment_runs.run_id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "proposal_id"),
    )
    with op.batch_alter_table("panel_proposals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_panel_proposals_run_id"), ["run_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("panel_proposals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_panel_proposals_run_id"))
    op.drop_table("panel_proposals")
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_column("email")
        batch_op.drop_column("phone")
