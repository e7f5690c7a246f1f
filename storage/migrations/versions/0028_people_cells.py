"""dashboard: movement_people_cell (matches per UTC day and day of the author's previous match)
and movement_cross_day (authors active on a platform other than their account's), backfilled
from mention_match and its prev_ts; ix_match_prev for ranges starting inside a day

Revision ID: 0028
Revises: 0026
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0026"
branch_labels = None
depends_on = None

# The definition the write path keeps (storage/people_cells.py, `REBUILD` there too): one cell
# per (movement, platform, day, day of prev_ts or -1) counting the matches with a known author;
# a presence row per (movement, day, author) with a match on a platform not the account's.
BACKFILL = (
    "INSERT INTO movement_people_cell (movement_id, platform, day, prev_day, n) "
    "SELECT movement_id, platform, created_ts / 86400, coalesce(prev_ts / 86400, -1), count(*) "
    "FROM mention_match WHERE account_id IS NOT NULL "
    "GROUP BY movement_id, platform, created_ts / 86400, coalesce(prev_ts / 86400, -1)",
    "INSERT INTO movement_cross_day (movement_id, day, account_id) "
    "SELECT DISTINCT mm.movement_id, mm.created_ts / 86400, mm.account_id "
    "FROM mention_match mm JOIN account a ON a.id = mm.account_id "
    "WHERE mm.platform <> a.platform",
)
PREV_INDEX = ["movement_id", "prev_ts", "created_ts", "platform"]


def upgrade() -> None:
    op.create_table(
        "movement_people_cell",
        sa.Column("movement_id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(20), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("prev_day", sa.Integer(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("movement_id", "platform", "day", "prev_day"),
    )
    op.create_table(
        "movement_cross_day",
        sa.Column("movement_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("movement_id", "day", "account_id"),
    )
    for sql in BACKFILL:
        op.execute(sql)
    op.create_index("ix_match_prev", "mention_match", PREV_INDEX)


def downgrade() -> None:
    op.drop_index("ix_match_prev", table_name="mention_match")
    op.drop_table("movement_cross_day")
    op.drop_table("movement_people_cell")
