"""dashboard: movement_share_day and movement_share_hour (linked domains, linked URLs and
co-occurring hashtags per movement, UTC day / hour and platform: "what travels with the
conversation"), backfilled from the stored matches by the write path's own definition

Revision ID: 0043
Revises: 0041
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0043"
down_revision = "0041"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for name, bucket in (("movement_share_day", "day"), ("movement_share_hour", "hour")):
        op.create_table(
            name,
            sa.Column("movement_id", sa.Integer(), nullable=False),
            sa.Column("kind", sa.String(6), nullable=False),
            sa.Column(bucket, sa.Integer(), nullable=False),
            sa.Column("platform", sa.String(20), nullable=False),
            sa.Column("value", sa.String(500), nullable=False),
            sa.Column("n", sa.BigInteger(), nullable=False),
            sa.PrimaryKeyConstraint("movement_id", "kind", bucket, "platform", "value"),
            sqlite_with_rowid=False,
        )
    # The backfill is the definition itself (storage.shares.rebuild over every stored match):
    # the write path counts exactly these rows up from here on.
    from storage.shares import rebuild

    rebuild(op.get_bind(), totals=False)  # movement_share_total: migration 0049


def downgrade() -> None:
    op.drop_table("movement_share_hour")
    op.drop_table("movement_share_day")
