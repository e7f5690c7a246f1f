"""export: export audit log, index for the retention purge

Revision ID: 0006
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import storage.types

revision = "0006"
down_revision = "0001"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "export_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("destination", sa.Text(), nullable=False),
        sa.Column("filters", _JSON, nullable=False),
        sa.Column("options", _JSON, nullable=False),
        sa.Column("counts", _JSON, nullable=False),
        sa.Column("tool", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("mention_payload", schema=None) as batch_op:
        batch_op.create_index("ix_payload_fetched", ["fetched_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("mention_payload", schema=None) as batch_op:
        batch_op.drop_index("ix_payload_fetched")
    op.drop_table("export_log")
