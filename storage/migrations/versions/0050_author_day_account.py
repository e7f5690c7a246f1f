"""dashboard: movement_author_day by account (widening by person; issue 20)

Widening by person subtracts, per day, the persons active through two or more of their
accounts. Their days were read from their own mentions (every mention of ~2,300 linked
accounts over 30 days, 75 ms at 1M); this index reads the same presence rows per account,
one seek each (storage/queries/persons.py, `active_overcount_per_bucket`). Nothing to
backfill: the rows exist.

Revision ID: 0050
Revises: 0053
"""

from __future__ import annotations

from alembic import op

revision = "0050"
down_revision = "0053"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_mauthor_day_account",
        "movement_author_day",
        ["movement_id", "account_id", "day", "platform"],
    )


def downgrade() -> None:
    op.drop_index("ix_mauthor_day_account", table_name="movement_author_day")
