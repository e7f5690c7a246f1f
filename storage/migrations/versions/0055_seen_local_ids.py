"""mastodon: ix_seen_local, a status found by its id on an instance that carried it

A streaming `delete` names the deleted status by its id on the streaming instance only. A
status this process has not met since it started (stored before a restart, or by another
worker) is found in `mention_seen` by (seen_on, local_id); without the index that lookup
reads the whole table. Partial: only Mastodon sightings carry a local id.

Revision ID: 0055
Revises: 0049
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0055"
down_revision = "0049"
branch_labels = None
depends_on = None

HAS_LOCAL_ID = sa.text("local_id IS NOT NULL")


def upgrade() -> None:
    op.create_index(
        "ix_seen_local",
        "mention_seen",
        ["seen_on", "local_id", "mention_id"],
        sqlite_where=HAS_LOCAL_ID,
        postgresql_where=HAS_LOCAL_ID,
    )


def downgrade() -> None:
    op.drop_index("ix_seen_local", table_name="mention_seen")
