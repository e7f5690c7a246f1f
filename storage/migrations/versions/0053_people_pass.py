"""people: people_pass, the due time, walk position and last outcome of the scheduled linking
pass of `collect --loop` and `up` (docs/people.md)

Revision ID: 0053
Revises: 0055
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = "0053"
down_revision = "0055"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "people_pass",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("next_due_at", UTCDateTime(), nullable=True),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("worker", sa.String(200), nullable=True),
        sa.Column("relink_after", sa.BigInteger(), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=True),
        sa.Column("error_kind", sa.String(60), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("accounts_read", sa.Integer(), nullable=False),
        sa.Column("pages_checked", sa.Integer(), nullable=False),
        sa.Column("pages_failed", sa.Integer(), nullable=False),
        sa.Column("evidence_added", sa.Integer(), nullable=False),
        sa.Column("accounts_moved", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("people_pass")
