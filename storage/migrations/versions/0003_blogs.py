"""blogs: received pingback/webmention queue, mention URL index

Revision ID: 0003
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "received_ping",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("result", sa.String(length=40), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("received_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("lease_until", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("verified_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_index("ix_received_due", "received_ping", ["status", "next_attempt_at"])
    # partial: only blog-like rows (see storage/models_blogs.py for why)
    blogish = sa.text("platform IN ('blog', 'pingback', 'webmention')")
    op.create_index(
        "ix_mention_url",
        "mention",
        ["url"],
        postgresql_where=blogish,
        sqlite_where=blogish,
    )


def downgrade() -> None:
    op.drop_index("ix_mention_url", table_name="mention")
    op.drop_index("ix_received_due", table_name="received_ping")
    op.drop_table("received_ping")
