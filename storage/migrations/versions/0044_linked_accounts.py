"""dashboard: the partial index of linked accounts (persons with several accounts; issue 20)

People counts count persons: the account-level rollups stay as they are and each count is
corrected for the few persons with more than one account (storage/queries/persons.py), read
on every page from this index, which holds only the accounts whose person_id is not their own
id. Nothing to backfill.

Revision ID: 0044
Revises: 0043
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0044"
down_revision = "0043"
branch_labels = None
depends_on = None

LINKED = sa.text("person_id <> id")


def upgrade() -> None:
    op.create_index(
        "ix_account_linked",
        "account",
        ["person_id", "id"],
        sqlite_where=LINKED,
        postgresql_where=LINKED,
    )


def downgrade() -> None:
    op.drop_index("ix_account_linked", table_name="account")
