"""dashboard rollups: places and per-platform authors (storage/models_rollups.py), backfilled
from the rows already stored

Revision ID: 0011
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0007"
branch_labels = None
depends_on = None

# Recompute every rollup from the raw rows: the same definitions the write path maintains.
BACKFILL = (
    "INSERT INTO movement_place (movement_id, platform, place, first_ts) "
    "SELECT ma.movement_id, ma.platform, coalesce(a.instance, a.native_id), min(ma.first_ts) "
    "FROM movement_author ma JOIN account a ON a.id = ma.account_id "
    "WHERE ma.platform IN ('mastodon', 'blog') "
    "GROUP BY ma.movement_id, ma.platform, coalesce(a.instance, a.native_id)",
    "INSERT INTO movement_author_platform (movement_id, platform, account_id, last_ts) "
    "SELECT movement_id, platform, account_id, max(created_ts) FROM mention_match "
    "WHERE account_id IS NOT NULL GROUP BY movement_id, platform, account_id",
    "INSERT INTO movement_place_active (movement_id, platform, place, last_ts) "
    "SELECT mm.movement_id, 'mastodon', coalesce(a.instance, a.native_id), max(mm.created_ts) "
    "FROM mention_match mm JOIN account a ON a.id = mm.account_id "
    "WHERE mm.platform = 'mastodon' "
    "GROUP BY mm.movement_id, coalesce(a.instance, a.native_id)",
)


def upgrade() -> None:
    op.create_table(
        "movement_place",
        sa.Column("movement_id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(20), nullable=False),
        sa.Column("place", sa.String(500), nullable=False),
        sa.Column("first_ts", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("movement_id", "platform", "place"),
    )
    op.create_table(
        "movement_author_platform",
        sa.Column("movement_id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(20), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("last_ts", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("movement_id", "platform", "account_id"),
    )
    op.create_index(
        "ix_mauthor_platform_last",
        "movement_author_platform",
        ["movement_id", "platform", "last_ts"],
    )
    op.create_table(
        "movement_place_active",
        sa.Column("movement_id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(20), nullable=False),
        sa.Column("place", sa.String(500), nullable=False),
        sa.Column("last_ts", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("movement_id", "platform", "place"),
    )
    for sql in BACKFILL:
        op.execute(sql)


def downgrade() -> None:
    op.drop_table("movement_place_active")
    op.drop_index("ix_mauthor_platform_last", table_name="movement_author_platform")
    op.drop_table("movement_author_platform")
    op.drop_table("movement_place")
