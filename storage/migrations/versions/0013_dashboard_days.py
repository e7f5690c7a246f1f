"""dashboard: per-day presence of authors, platforms and instances (storage/models_rollups.py),
backfilled from the rows already stored

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

BACKFILL = (
    "INSERT INTO movement_author_day (movement_id, day, account_id, platform) "
    "SELECT DISTINCT movement_id, created_ts / 86400, account_id, platform FROM mention_match "
    "WHERE account_id IS NOT NULL",
    "INSERT INTO movement_platform_day (movement_id, day, platform) "
    "SELECT DISTINCT movement_id, created_ts / 86400, platform FROM mention_match "
    "WHERE account_id IS NOT NULL",
    "INSERT INTO movement_instance_day (movement_id, day, place) "
    "SELECT DISTINCT mm.movement_id, mm.created_ts / 86400, coalesce(a.instance, a.native_id) "
    "FROM mention_match mm JOIN account a ON a.id = mm.account_id "
    "WHERE mm.platform = 'mastodon'",
)


def upgrade() -> None:
    op.create_table(
        "movement_author_day",
        sa.Column("movement_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("platform", sa.String(20), nullable=False),
        sa.PrimaryKeyConstraint("movement_id", "day", "account_id", "platform"),
    )
    op.create_table(
        "movement_platform_day",
        sa.Column("movement_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(20), nullable=False),
        sa.PrimaryKeyConstraint("movement_id", "day", "platform"),
    )
    op.create_table(
        "movement_instance_day",
        sa.Column("movement_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("place", sa.String(500), nullable=False),
        sa.PrimaryKeyConstraint("movement_id", "day", "place"),
    )
    for sql in BACKFILL:
        op.execute(sql)


def downgrade() -> None:
    op.drop_table("movement_instance_day")
    op.drop_table("movement_platform_day")
    op.drop_table("movement_author_day")
