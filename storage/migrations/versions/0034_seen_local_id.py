"""mastodon: the local id a status has on each instance that carried it

`recheck` asks an instance where the status was seen, by its id *there* (a status has one id
per instance; its URI shape differs between Mastodon 4.4+, Pleroma/Akkoma, GoToSocial and
Misskey and names no id the instance's API takes). Rows stored before have none: they are
filled as statuses are seen again, and `recheck` falls back to a search for the URI meanwhile.

Revision ID: 0034
Revises: 0032
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0034"
down_revision = "0032"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("mention_seen", sa.Column("local_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("mention_seen", "local_id")
