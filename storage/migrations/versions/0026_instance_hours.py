"""dashboard: movement_instance_hour (the Mastodon home instances active in each UTC hour, for
the part-days at a range's ends), backfilled from the rows already stored

Revision ID: 0026
Revises: 0023
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0023"
branch_labels = None
depends_on = None

# The definition the write path keeps (`_insert_presence`): like movement_instance_day per hour.
BACKFILL = (
    "INSERT INTO movement_instance_hour (movement_id, hour, place) "
    "SELECT DISTINCT mm.movement_id, mm.created_ts / 3600, coalesce(a.instance, a.native_id) "
    "FROM mention_match mm JOIN account a ON a.id = mm.account_id "
    "WHERE mm.platform = 'mastodon'",
)


def upgrade() -> None:
    op.create_table(
        "movement_instance_hour",
        sa.Column("movement_id", sa.Integer(), nullable=False),
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("place", sa.String(500), nullable=False),
        sa.PrimaryKeyConstraint("movement_id", "hour", "place"),
    )
    for sql in BACKFILL:
        op.execute(sql)


def downgrade() -> None:
    op.drop_table("movement_instance_hour")
