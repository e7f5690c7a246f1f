"""edges: amplification.undone_at (when a repost or boost was undone: the edge is kept for
researchers, left out of every rollup, page and export) and amplification.undo_id (the one-way
id of the key a deletion names the repost or boost by: a Bluesky repost record's at-uri, a
Mastodon boost's instance-local status key), indexed for the deletions that look it up.

Revision ID: 0038
Revises: 0030
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0038"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "amplification",
        sa.Column("undone_at", storage.types.UTCDateTime(timezone=True), nullable=True),
    )
    op.add_column("amplification", sa.Column("undo_id", sa.BigInteger(), nullable=True))
    op.create_index("ix_amp_undo", "amplification", ["undo_id"])


def downgrade() -> None:
    op.drop_index("ix_amp_undo", table_name="amplification")
    op.drop_column("amplification", "undo_id")
    op.drop_column("amplification", "undone_at")
