"""export stewardship: who asked for an export and why; an index for the run-log horizon

Revision ID: 0030
Revises: 0037, 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0030"
down_revision = ("0037", "0006")  # the newest head on main, and export_log
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("export_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("requested_by", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("reason", sa.Text(), nullable=True))
    with op.batch_alter_table("collector_run", schema=None) as batch_op:
        batch_op.create_index("ix_run_started", ["started_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("collector_run", schema=None) as batch_op:
        batch_op.drop_index("ix_run_started")
    with op.batch_alter_table("export_log", schema=None) as batch_op:
        batch_op.drop_column("reason")
        batch_op.drop_column("requested_by")
