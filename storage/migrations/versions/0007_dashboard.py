"""dashboard: covering indexes for the dashboard's windowed aggregates

Revision ID: 0007
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_match_cover",
        "mention_match",
        ["movement_id", "created_ts", "platform", "account_id"],
    )
    op.create_index(
        "ix_amp_cover",
        "amplification",
        [
            "created_ts",
            "kind",
            "target_mention_id",
            "source_account_id",
            "target_account_id",
            "platform",
            "via_mention_id",
        ],
    )
    op.create_index(
        "ix_mention_engagement",
        "mention",
        [
            "created_ts",
            "like_count",
            "repost_count",
            "reply_count",
            "quote_count",
            "platform",
            "id",
        ],
    )
    op.create_index("ix_mauthor_cover", "movement_author", ["movement_id", "first_ts", "platform"])
    op.create_index("ix_account_instance", "account", ["instance"])


def downgrade() -> None:
    op.drop_index("ix_account_instance", table_name="account")
    op.drop_index("ix_mauthor_cover", table_name="movement_author")
    op.drop_index("ix_mention_engagement", table_name="mention")
    op.drop_index("ix_amp_cover", table_name="amplification")
    op.drop_index("ix_match_cover", table_name="mention_match")
