"""receiver: unguessable status tokens for received pingbacks and webmentions

The status URL of a received item named its sequential id, so anyone could walk every item
received (sources, targets, verdicts) by counting. Items get a random token instead; the rows
already stored are given one here.

Revision ID: 0032
Revises: 0027, 0003
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0032"
# also after 0003 (the blogs branch that made received_ping): this revision joins the two
down_revision = ("0027", "0003")
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("received_ping", sa.Column("token", sa.String(length=32), nullable=True))
    conn = op.get_bind()
    ids = [r[0] for r in conn.execute(sa.text("SELECT id FROM received_ping"))]
    stmt = sa.text("UPDATE received_ping SET token = :token WHERE id = :id")
    for i in range(0, len(ids), 1000):
        conn.execute(
            stmt, [{"id": x, "token": secrets.token_urlsafe(18)} for x in ids[i : i + 1000]]
        )
    op.create_index("ix_received_ping_token", "received_ping", ["token"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_received_ping_token", table_name="received_ping")
    op.drop_column("received_ping", "token")
