"""dashboard: mention_match.prev_ts (the same author's previous match of the movement on the
platform), backfilled from the rows; ix_match_cover carries it, so people in any range are a
count over the covering index instead of a distinct count

Revision ID: 0020
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0017"
branch_labels = None
depends_on = None

# The definition (storage.match_chain): per (movement, author, platform), in (created_ts,
# mention_id) order, the created_ts of the match before. Both dialects run UPDATE ... FROM.
ORDERED = (
    "SELECT movement_id AS mv, mention_id AS mid, lag(created_ts) OVER ("
    "PARTITION BY movement_id, account_id, platform ORDER BY created_ts, mention_id) AS prev "
    "FROM mention_match WHERE account_id IS NOT NULL"
)
BACKFILL = (
    f"UPDATE mention_match SET prev_ts = o.prev FROM ({ORDERED}) AS o "
    "WHERE mention_match.movement_id = o.mv AND mention_match.mention_id = o.mid "
    "AND o.prev IS NOT NULL",
)
COVER = ["movement_id", "created_ts", "platform", "account_id"]


def upgrade() -> None:
    op.add_column("mention_match", sa.Column("prev_ts", sa.BigInteger(), nullable=True))
    op.drop_index("ix_match_cover", table_name="mention_match")
    for sql in BACKFILL:
        op.execute(sql)
    op.create_index("ix_match_cover", "mention_match", [*COVER, "prev_ts"])


def downgrade() -> None:
    op.drop_index("ix_match_cover", table_name="mention_match")
    op.create_index("ix_match_cover", "mention_match", COVER)
    op.drop_column("mention_match", "prev_ts")
