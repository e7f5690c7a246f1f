"""dashboard: a place's kind in the footprint is its account's platform (a blog is a blog even
when its first match was a pingback it sent), movement_place rebuilt from the rows

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

# The definition the write path keeps (`bump_dashboard_rollups`): each Mastodon instance and
# blog site (the account's platform) with the first match of any of its authors.
BACKFILL = (
    "INSERT INTO movement_place (movement_id, platform, place, first_ts) "
    "SELECT ma.movement_id, a.platform, coalesce(a.instance, a.native_id), min(ma.first_ts) "
    "FROM movement_author ma JOIN account a ON a.id = ma.account_id "
    "WHERE a.platform IN ('mastodon', 'blog') "
    "GROUP BY ma.movement_id, a.platform, coalesce(a.instance, a.native_id)",
)


def upgrade() -> None:
    op.execute("DELETE FROM movement_place")
    for sql in BACKFILL:
        op.execute(sql)


def downgrade() -> None:
    """Nothing to undo: the rows are recomputed (0011's definition differed only for blogs
    whose first match was a pingback)."""
