"""dashboard: movement_share_total (each linked site, page and hashtag's all-time count per
movement), the bound that lets the top lists of what travels skip grouping the long tail;
backfilled from movement_share_day; ix_mshare_day_value, so the range counts of those values
are index reads

Revision ID: 0049
Revises: 0044
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0049"
down_revision = "0044"
branch_labels = None
depends_on = None

BACKFILL = (
    "INSERT INTO movement_share_total (movement_id, kind, value, n) "
    "SELECT movement_id, kind, value, sum(n) FROM movement_share_day "
    "GROUP BY movement_id, kind, value",
)


def upgrade() -> None:
    op.create_table(
        "movement_share_total",
        sa.Column("movement_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(6), nullable=False),
        sa.Column("value", sa.String(500), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("movement_id", "kind", "value"),
    )
    op.create_index("ix_mshare_total_top", "movement_share_total", ["movement_id", "kind", "n"])
    op.create_index(
        "ix_mshare_day_value",
        "movement_share_day",
        ["movement_id", "kind", "value", "day", "platform", "n"],
    )
    for sql in BACKFILL:
        op.execute(sql)


def downgrade() -> None:
    op.drop_index("ix_mshare_day_value", table_name="movement_share_day")
    op.drop_index("ix_mshare_total_top", table_name="movement_share_total")
    op.drop_table("movement_share_total")
