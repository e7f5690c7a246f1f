"""audit trail: audit_event, who did what to which target and when (issue 23)

Revision ID: 0041
Revises: 0042
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import storage.types

revision = "0041"
down_revision = "0042"  # after 0042, which landed first with the same parent
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_TS = storage.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=40), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("target_kind", sa.String(length=40), nullable=True),
        sa.Column("target_id", sa.String(length=300), nullable=True),
        sa.Column("detail", _JSON, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_at", "audit_event", ["at"], unique=False)
    op.create_index("ix_audit_actor_at", "audit_event", ["actor", "at"], unique=False)
    op.create_index("ix_audit_action_at", "audit_event", ["action", "at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_audit_action_at", table_name="audit_event")
    op.drop_index("ix_audit_actor_at", table_name="audit_event")
    op.drop_index("ix_audit_at", table_name="audit_event")
    op.drop_table("audit_event")
