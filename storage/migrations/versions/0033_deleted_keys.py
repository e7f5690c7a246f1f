"""bluesky/mastodon: deleted_key, deletions seen before the post they delete (a stream's delete
of a post no poll or search has stored yet), so a later poll or search hit is stored as a
tombstone instead of bringing the post back (storage/models_deletions.py)

Revision ID: 0033
Revises: 0034
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0033"
down_revision = "0034"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deleted_key",
        sa.Column("id", storage.types.BigId, nullable=False, autoincrement=False),
        sa.Column("deleted_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_deleted_key_at", "deleted_key", ["deleted_at"])


def downgrade() -> None:
    op.drop_index("ix_deleted_key_at", table_name="deleted_key")
    op.drop_table("deleted_key")
