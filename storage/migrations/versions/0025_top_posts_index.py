"""dashboard: an index in engagement order for the top posts of wide ranges

Revision ID: 0025
Revises: 0022
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The expression must read exactly like `storage.queries.overview.engagement()` for the
    # planners to match it to the query's ORDER BY.
    op.create_index(
        "ix_mention_top",
        "mention",
        [
            sa.text("(like_count + repost_count + reply_count + quote_count) DESC"),
            sa.text("created_ts DESC"),
            "id",
            "platform",
        ],
    )


def downgrade() -> None:
    op.drop_index("ix_mention_top", table_name="mention")
