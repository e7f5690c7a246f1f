"""dashboard: movement_linked_hour (the linked accounts' presence per UTC hour, for the
part-days at a range's ends; issue 20), backfilled from the matches and the persons

Revision ID: 0060
Revises: 0059
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0060"
down_revision = "0059"
branch_labels = None
depends_on = None

# `storage.linked_days.REBUILD_HOURS` for every movement (migrations cannot import the
# package's modules: the text is repeated, and tests/test_linked_days.py checks both agree).
BACKFILL = (
    "INSERT INTO movement_linked_hour (movement_id, hour, person_id, account_id, platform) "
    "SELECT DISTINCT mm.movement_id, mm.created_ts / 3600, l.person_id, mm.account_id, "
    "mm.platform "
    "FROM (SELECT a.id, a.person_id FROM account a WHERE a.person_id <> a.id UNION "
    "SELECT a.id, a.person_id FROM account a "
    "WHERE a.id IN (SELECT b.person_id FROM account b WHERE b.person_id <> b.id)) l "
    "JOIN mention_match mm ON mm.account_id = l.id WHERE 1 = 1",
)


def upgrade() -> None:
    op.create_table(
        "movement_linked_hour",
        sa.Column("movement_id", sa.Integer(), nullable=False),
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.BigInteger(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("platform", sa.String(20), nullable=False),
        sa.PrimaryKeyConstraint("movement_id", "hour", "person_id", "account_id", "platform"),
    )
    for sql in BACKFILL:
        op.execute(sql)
    op.create_index("ix_mlinked_hour_account", "movement_linked_hour", ["account_id"])


def downgrade() -> None:
    op.drop_index("ix_mlinked_hour_account", table_name="movement_linked_hour")
    op.drop_table("movement_linked_hour")
