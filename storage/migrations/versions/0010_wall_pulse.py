"""wall pulse: covering indexes for the day's figures

Revision ID: 0010
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_mention_place", "mention", ["created_ts", "platform", "instance", "account_id"]
    )
    op.create_index("ix_mauthor_last", "movement_author", ["movement_id", "last_ts", "account_id"])


def downgrade() -> None:
    op.drop_index("ix_mauthor_last", table_name="movement_author")
    op.drop_index("ix_mention_place", table_name="mention")
