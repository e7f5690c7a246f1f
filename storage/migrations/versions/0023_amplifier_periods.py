"""dashboard: movement_amplifier_period (edges received and given per account and 16-day
period, the amplifier rankings' upper bounds) and two per-account indexes on movement_edge,
backfilled from the rows already stored (storage/models_rollups.py)

Revision ID: 0023
Revises: 0024
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0024"
branch_labels = None
depends_on = None

# The definition the write path keeps (`link_movement_edges`): every movement_edge row with a
# known target account that is not its source, counted once per side in its period
# (created_ts // AMPLIFIER_PERIOD_S, 16 days = 1,382,400 s).
BACKFILL = tuple(
    "INSERT INTO movement_amplifier_period (movement_id, side, period, account_id, edges) "
    f"SELECT movement_id, '{side}', created_ts / 1382400, {column}, count(*) "
    "FROM movement_edge "
    "WHERE dst_account_id IS NOT NULL AND source_account_id <> dst_account_id "
    f"GROUP BY movement_id, created_ts / 1382400, {column}"
    for side, column in (("dst", "dst_account_id"), ("src", "source_account_id"))
)
ACCOUNT_INDEXES = {
    "ix_medge_src": [
        "movement_id",
        "source_account_id",
        "created_ts",
        "platform",
        "kind",
        "dst_account_id",
    ],
    "ix_medge_dst": [
        "movement_id",
        "dst_account_id",
        "created_ts",
        "platform",
        "kind",
        "source_account_id",
    ],
}


def upgrade() -> None:
    op.create_table(
        "movement_amplifier_period",
        sa.Column("movement_id", sa.Integer(), nullable=False),
        sa.Column("side", sa.String(3), nullable=False),
        sa.Column("period", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("edges", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("movement_id", "side", "period", "account_id"),
    )
    for sql in BACKFILL:
        op.execute(sql)
    op.create_index(
        "ix_mamp_period_top",
        "movement_amplifier_period",
        ["movement_id", "side", "period", "edges", "account_id"],
    )
    for name, columns in ACCOUNT_INDEXES.items():
        op.create_index(name, "movement_edge", columns)


def downgrade() -> None:
    for name in ACCOUNT_INDEXES:
        op.drop_index(name, table_name="movement_edge")
    op.drop_index("ix_mamp_period_top", table_name="movement_amplifier_period")
    op.drop_table("movement_amplifier_period")
