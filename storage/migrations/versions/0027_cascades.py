"""dashboard: cascade_node, cascade_root and cascade_day (Spread's reply/quote/repost
cascades kept per root at write time), backfilled by measuring every movement's stored edges
once; movement_edge's kind-first index, which only the old cascade reads used, dropped

Revision ID: 0027
Revises: 0028
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cascade_node",
        sa.Column("movement_id", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.BigInteger(), nullable=False),
        sa.Column("root_id", sa.BigInteger(), nullable=False),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.BigInteger(), nullable=True),
        sa.Column("link_kind", sa.String(12), nullable=True),
        sa.Column("link_ts", sa.BigInteger(), nullable=True),
        sa.Column("link_edge", sa.BigInteger(), nullable=True),
        sa.Column("link_platform", sa.String(20), nullable=True),
        sa.Column("reposts", sa.Integer(), nullable=False),
        sa.Column("boosts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("movement_id", "node_id"),
    )
    op.create_table(
        "cascade_root",
        sa.Column("movement_id", sa.Integer(), nullable=False),
        sa.Column("root_id", sa.BigInteger(), nullable=False),
        sa.Column("root_ts", sa.BigInteger(), nullable=False),
        sa.Column("platform", sa.String(20), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("movement_id", "root_id"),
    )
    op.create_table(
        "cascade_day",
        sa.Column("movement_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(20), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.Column("roots", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("movement_id", "day", "platform", "size", "depth"),
    )
    # The backfill is the definition itself (storage.cascades.measure over each movement's
    # links and reposts): the write path grows exactly these trees from here on.
    from storage.cascades import rebuild

    rebuild(op.get_bind())
    op.create_index("ix_cnode_root", "cascade_node", ["movement_id", "root_id", "depth"])
    op.create_index(
        "ix_croot_time",
        "cascade_root",
        ["movement_id", "root_ts", "platform", "size", "depth", "root_id"],
    )
    # Read only by the cascades' old read path (migration 0024): one index less for every
    # movement_edge row written.
    op.drop_index("ix_medge_kind", table_name="movement_edge")
    op.create_index(
        "ix_croot_size",
        "cascade_root",
        ["movement_id", "size", "depth", "root_ts", "platform", "root_id"],
    )


def downgrade() -> None:
    op.create_index(
        "ix_medge_kind",
        "movement_edge",
        ["movement_id", "kind", "created_ts", "platform", "target_mention_id", "via_mention_id"],
    )
    op.drop_index("ix_croot_size", table_name="cascade_root")
    op.drop_index("ix_croot_time", table_name="cascade_root")
    op.drop_index("ix_cnode_root", table_name="cascade_node")
    op.drop_table("cascade_day")
    op.drop_table("cascade_root")
    op.drop_table("cascade_node")
