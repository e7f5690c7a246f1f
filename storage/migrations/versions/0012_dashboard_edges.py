"""dashboard: movement_edge, each amplification edge of a movement with its amplified account
resolved (storage/models_rollups.py), backfilled from the rows already stored

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

BACKFILL = (
    "INSERT INTO movement_edge (movement_id, edge_id, created_ts, kind, platform, "
    "source_account_id, dst_account_id, target_mention_id, via_mention_id) "
    "SELECT mm.movement_id, a.id, a.created_ts, a.kind, a.platform, a.source_account_id, "
    "coalesce(a.target_account_id, m.account_id), a.target_mention_id, a.via_mention_id "
    "FROM amplification a JOIN mention_match mm ON mm.mention_id = a.target_mention_id "
    "JOIN mention m ON m.id = a.target_mention_id",
)
COVER = [
    "movement_id",
    "created_ts",
    "kind",
    "platform",
    "source_account_id",
    "dst_account_id",
    "target_mention_id",
    "via_mention_id",
]


def upgrade() -> None:
    op.create_table(
        "movement_edge",
        sa.Column("movement_id", sa.Integer(), nullable=False),
        sa.Column("edge_id", sa.BigInteger(), nullable=False),
        sa.Column("created_ts", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("platform", sa.String(20), nullable=False),
        sa.Column("source_account_id", sa.BigInteger(), nullable=False),
        sa.Column("dst_account_id", sa.BigInteger(), nullable=True),
        sa.Column("target_mention_id", sa.BigInteger(), nullable=False),
        sa.Column("via_mention_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("movement_id", "edge_id"),
    )
    for sql in BACKFILL:
        op.execute(sql)
    op.create_index("ix_medge_cover", "movement_edge", COVER)


def downgrade() -> None:
    op.drop_index("ix_medge_cover", table_name="movement_edge")
    op.drop_table("movement_edge")
