"""receiver: re-sends rate-limited per source page (received_ping.source_key); joins the heads

A re-sent pingback or webmention is verified again at most once per `reverify_interval_s`. The
limit was kept per (source, target) pair, so a page linking to many of the site's pages could
make the receiver fetch it once per target; it is now per source page. The rows already stored
get their key here (the same function the receiver uses).

Revision ID: 0039
Revises: 0029, 0038
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0039"
# After both heads of this session (0029 URL identity, 0038 undone edges): one head again.
down_revision = ("0029", "0038")
branch_labels = None
depends_on = None


def upgrade() -> None:
    from storage.queries.blogs import source_key

    op.add_column("received_ping", sa.Column("source_key", sa.BigInteger(), nullable=True))
    conn = op.get_bind()
    rows = list(conn.execute(sa.text("SELECT id, source FROM received_ping")))
    stmt = sa.text("UPDATE received_ping SET source_key = :k WHERE id = :id")
    for i in range(0, len(rows), 1000):
        conn.execute(stmt, [{"id": r[0], "k": source_key(r[1])} for r in rows[i : i + 1000]])
    op.create_index("ix_received_source", "received_ping", ["source_key", "updated_at"])


def downgrade() -> None:
    op.drop_index("ix_received_source", table_name="received_ping")
    op.drop_column("received_ping", "source_key")
