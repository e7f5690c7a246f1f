"""blogs: one identity per page (issue 16): URL-keyed mentions (blog entries, pingbacks,
webmentions) brought to their canonical URL and duplicates merged (earliest kept, matches and
edges moved, the touched movements' rollups recounted: storage/url_merge.py), received items
re-keyed by their canonical pair; mention.deleted_reason tells a final deletion from a
reversible one ("gone": restored when the evidence returns)

Revision ID: 0029
Revises: 0032
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0032"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("mention", sa.Column("deleted_reason", sa.String(length=10), nullable=True))
    from storage.url_merge import merge_url_duplicates, rekey_received

    conn = op.get_bind()
    merge_url_duplicates(conn)
    rekey_received(conn)


def downgrade() -> None:
    """The merge is not undone (the duplicates were one page); only the column goes."""
    with op.batch_alter_table("mention") as batch:
        batch.drop_column("deleted_reason")
