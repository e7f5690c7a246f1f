"""dashboard: movement_linked_author (the first and last match of the accounts of persons with
more than one account, with their person; issue 20), backfilled from `movement_author`

Every page's person counts start from these accounts' `movement_author` rows
(`storage.queries.persons.linked_view`), read with one primary-key probe per linked account:
~190 ms per page at 10M mentions with 30,000 linked accounts. Their rows in one table are one
range scan (storage/linked_days.py).

Revision ID: 0059
Revises: 0058
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0059"
down_revision = "0058"
branch_labels = None
depends_on = None

# `storage.linked_days.REBUILD_AUTHORS` for every movement (migrations cannot import the
# package's modules: the text is repeated, and tests/test_linked_days.py checks both agree).
BACKFILL = (
    "INSERT INTO movement_linked_author "
    "(movement_id, account_id, person_id, platform, first_ts, last_ts) "
    "SELECT ma.movement_id, ma.account_id, l.person_id, ma.platform, ma.first_ts, ma.last_ts "
    "FROM (SELECT a.id, a.person_id FROM account a WHERE a.person_id <> a.id UNION "
    "SELECT a.id, a.person_id FROM account a "
    "WHERE a.id IN (SELECT b.person_id FROM account b WHERE b.person_id <> b.id)) l "
    "JOIN movement_author ma ON ma.account_id = l.id WHERE 1 = 1",
)


def upgrade() -> None:
    op.create_table(
        "movement_linked_author",
        sa.Column("movement_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("person_id", sa.BigInteger(), nullable=False),
        sa.Column("platform", sa.String(20), nullable=False),
        sa.Column("first_ts", sa.BigInteger(), nullable=False),
        sa.Column("last_ts", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("movement_id", "account_id"),
    )
    for sql in BACKFILL:
        op.execute(sql)
    op.create_index("ix_mlinked_author_account", "movement_linked_author", ["account_id"])


def downgrade() -> None:
    op.drop_index("ix_mlinked_author_account", table_name="movement_linked_author")
    op.drop_table("movement_linked_author")
