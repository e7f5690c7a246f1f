"""edges: `undone_at` joins the covering index `ix_amp_cover`, so the wall's amplifiers (and any
windowed read of amplification edges) leave undone reposts and boosts out from the index alone,
without reading the table's rows.

Revision ID: 0042
Revises: 0040
"""

from __future__ import annotations

from alembic import op

revision = "0042"
down_revision = "0040"
branch_labels = None
depends_on = None

_COLUMNS = [
    "created_ts",
    "kind",
    "target_mention_id",
    "source_account_id",
    "target_account_id",
    "platform",
    "via_mention_id",
]


def upgrade() -> None:
    op.drop_index("ix_amp_cover", table_name="amplification")
    op.create_index("ix_amp_cover", "amplification", [*_COLUMNS, "undone_at"])


def downgrade() -> None:
    op.drop_index("ix_amp_cover", table_name="amplification")
    op.create_index("ix_amp_cover", "amplification", _COLUMNS)
