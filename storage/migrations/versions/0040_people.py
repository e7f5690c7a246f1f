"""people: account.person_id, person_link, person_claim, profile_page (issue 20)

One person across platforms: every account belongs to a person (its own id until evidence
links it to others; storage/models_people.py, docs/people.md). Existing accounts start as
their own person; `groundswell people link` (or the next collect) links them on evidence.

Revision ID: 0040
Revises: 0039
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.types import BigId, JSONType, UTCDateTime

revision = "0040"
down_revision = "0039"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("account", sa.Column("person_id", sa.BigInteger(), nullable=True))
    op.execute("UPDATE account SET person_id = id")
    with op.batch_alter_table("account") as batch:
        batch.alter_column("person_id", existing_type=sa.BigInteger(), nullable=False)
    op.create_index("ix_account_person", "account", ["person_id"])
    op.create_index("ix_account_handle", "account", ["handle"])
    op.create_table(
        "person_link",
        sa.Column("id", BigId, primary_key=True, autoincrement=False),
        sa.Column("account_lo", sa.BigInteger(), nullable=False),
        sa.Column("account_hi", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("strength", sa.String(10), nullable=False),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("checked_at", UTCDateTime(), nullable=False),
        sa.Column("decided_by", sa.String(200), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
    )
    op.create_index("ix_person_link_lo", "person_link", ["account_lo"])
    op.create_index("ix_person_link_hi", "person_link", ["account_hi"])
    op.create_table(
        "person_claim",
        sa.Column("id", BigId, primary_key=True, autoincrement=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("key", sa.String(600), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("strength", sa.String(10), nullable=False),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("checked_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_person_claim_key", "person_claim", ["key"])
    op.create_index("ix_person_claim_account", "person_claim", ["account_id"])
    op.create_table(
        "profile_page",
        sa.Column("id", BigId, primary_key=True, autoincrement=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("final_url", sa.Text(), nullable=True),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("rel_me", JSONType, nullable=True),
        sa.Column("checked_at", UTCDateTime(), nullable=False),
        sa.Column("next_check_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_profile_page_due", "profile_page", ["next_check_at"])


def downgrade() -> None:
    op.drop_index("ix_profile_page_due", table_name="profile_page")
    op.drop_table("profile_page")
    op.drop_index("ix_person_claim_account", table_name="person_claim")
    op.drop_index("ix_person_claim_key", table_name="person_claim")
    op.drop_table("person_claim")
    op.drop_index("ix_person_link_hi", table_name="person_link")
    op.drop_index("ix_person_link_lo", table_name="person_link")
    op.drop_table("person_link")
    op.drop_index("ix_account_handle", table_name="account")
    op.drop_index("ix_account_person", table_name="account")
    with op.batch_alter_table("account") as batch:
        batch.drop_column("person_id")
