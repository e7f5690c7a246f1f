"""drop ix_match_movement_ts and ix_amp_ts: prefixes of migration 0007's covering indexes
(ix_match_cover, ix_amp_cover), so every query they served is served as well, and each cost
an index write per match / edge

Revision ID: 0017
Revises: 0013
"""

from __future__ import annotations

from alembic import op

revision = "0017"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_match_movement_ts", table_name="mention_match")
    op.drop_index("ix_amp_ts", table_name="amplification")


def downgrade() -> None:
    op.create_index("ix_amp_ts", "amplification", ["created_ts"])
    op.create_index("ix_match_movement_ts", "mention_match", ["movement_id", "created_ts"])
