"""dashboard: movement_linked_day (the days of the accounts of persons with more than one
account, with their person; issue 20), backfilled from `movement_author_day` and the persons

Person counts subtract the overcount of persons active through several accounts. Those
accounts' days were read with one probe per linked account (their mentions or their
`movement_author_day` rows): ~5 us each, a second per page at 10M mentions with 30,000 linked
accounts. Their rows in one table make a range's keys one range scan (storage/linked_days.py,
storage/queries/persons.py).

Revision ID: 0058
Revises: 0057
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0058"
down_revision = "0057"
branch_labels = None
depends_on = None

# `storage.linked_days.REBUILD` for every movement (migrations cannot import the package's
# modules: the text is repeated, and tests/test_linked_days.py checks both agree).
BACKFILL = (
    "INSERT INTO movement_linked_day (movement_id, day, person_id, account_id, platform) "
    "SELECT mad.movement_id, mad.day, l.person_id, mad.account_id, mad.platform "
    "FROM (SELECT a.id, a.person_id FROM account a WHERE a.person_id <> a.id UNION "
    "SELECT a.id, a.person_id FROM account a "
    "WHERE a.id IN (SELECT b.person_id FROM account b WHERE b.person_id <> b.id)) l "
    "JOIN movement_author_day mad ON mad.account_id = l.id WHERE 1 = 1",
)


def upgrade() -> None:
    op.create_table(
        "movement_linked_day",
        sa.Column("movement_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.BigInteger(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("platform", sa.String(20), nullable=False),
        sa.PrimaryKeyConstraint("movement_id", "day", "person_id", "account_id", "platform"),
    )
    for sql in BACKFILL:
        op.execute(sql)
    op.create_index("ix_mlinked_day_account", "movement_linked_day", ["account_id"])


def downgrade() -> None:
    op.drop_index("ix_mlinked_day_account", table_name="movement_linked_day")
    op.drop_table("movement_linked_day")
