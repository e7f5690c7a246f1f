"""dashboard: movement_edge indexed by kind first, so Spread's cascades read only the thread
links and only the reposts of a range (the covering index in time order made them step over
every edge of the range, three quarters of which were of the other kinds)

Revision ID: 0024
Revises: 0025
"""

from __future__ import annotations

from alembic import op

revision = "0024"
down_revision = "0025"
branch_labels = None
depends_on = None

KIND_COVER = [
    "movement_id",
    "kind",
    "created_ts",
    "platform",
    "target_mention_id",
    "via_mention_id",
]


def upgrade() -> None:
    op.create_index("ix_medge_kind", "movement_edge", KIND_COVER)


def downgrade() -> None:
    op.drop_index("ix_medge_kind", table_name="movement_edge")
