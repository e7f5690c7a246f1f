"""dashboard: movement_amplifier_day (edges received and given per account and UTC day: the
amplifier rankings' upper bounds for ranges of a few days; issue 20), backfilled from the rows
already stored (storage/models_rollups.py)

A 16-day period bounds a two-day event window loosely, so its ranking counted most of the
period's accounts exactly; the days the window touches bound it closely.

Revision ID: 0057
Revises: 0050
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0057"
down_revision = "0050"
branch_labels = None
depends_on = None

# The definition the write path keeps (`storage.write.bump_amplifier_periods`), migration
# 0023's by UTC day: every movement_edge row with a known target account that is not its
# source, counted once per side on its day (created_ts // 86400).
BACKFILL = tuple(
    "INSERT INTO movement_amplifier_day (movement_id, side, day, account_id, edges) "
    f"SELECT movement_id, '{side}', created_ts / 86400, {column}, count(*) "
    "FROM movement_edge "
    "WHERE dst_account_id IS NOT NULL AND source_account_id <> dst_account_id "
    f"GROUP BY movement_id, created_ts / 86400, {column}"
    for side, column in (("dst", "dst_account_id"), ("src", "source_account_id"))
)


def upgrade() -> None:
    op.create_table(
        "movement_amplifier_day",
        sa.Column("movement_id", sa.Integer(), nullable=False),
        sa.Column("side", sa.String(3), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("edges", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("movement_id", "side", "day", "account_id"),
    )
    for sql in BACKFILL:
        op.execute(sql)
    op.create_index(
        "ix_mamp_day_top",
        "movement_amplifier_day",
        ["movement_id", "side", "day", "edges", "account_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_mamp_day_top", table_name="movement_amplifier_day")
    op.drop_table("movement_amplifier_day")
