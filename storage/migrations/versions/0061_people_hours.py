"""dashboard: movement_people_hour (the people cells per UTC hour, for the part-days at a range's
ends: an event window with no whole day in it), backfilled from mention_match and its prev_ts

Revision ID: 0061
Revises: 0060
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0061"
down_revision = "0060"
branch_labels = None
depends_on = None

# `storage.people_cells.REBUILD_HOURS` (migrations cannot import the package's modules: the
# text is repeated, and tests/test_match_chain.py checks both give the cells the write path
# kept). The previous match's hour is kept when at most 48 hours earlier, else -1.
BACKFILL = (
    "INSERT INTO movement_people_hour (movement_id, hour, platform, prev_hour, n) "
    "SELECT movement_id, created_ts / 3600, platform, "
    "CASE WHEN prev_ts IS NULL OR created_ts / 3600 - prev_ts / 3600 > 48 THEN -1 "
    "ELSE prev_ts / 3600 END, count(*) "
    "FROM mention_match WHERE account_id IS NOT NULL "
    "GROUP BY movement_id, created_ts / 3600, platform, "
    "CASE WHEN prev_ts IS NULL OR created_ts / 3600 - prev_ts / 3600 > 48 THEN -1 "
    "ELSE prev_ts / 3600 END",
)


def upgrade() -> None:
    op.create_table(
        "movement_people_hour",
        sa.Column("movement_id", sa.Integer(), nullable=False),
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(20), nullable=False),
        sa.Column("prev_hour", sa.Integer(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("movement_id", "hour", "platform", "prev_hour"),
    )
    for sql in BACKFILL:
        op.execute(sql)


def downgrade() -> None:
    op.drop_table("movement_people_hour")
