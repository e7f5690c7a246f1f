"""run signals: structured completeness signals on collector_run

Rate-limit waits, result-cap splits, unreachable servers and refused anonymous reads are
recorded as counts (`signals`) instead of being inferred from error wording. Nullable: runs
recorded before this revision keep NULL, which tells readers to use the wording fallback.

Revision ID: 0016
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0016"
down_revision = "0001"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("collector_run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("signals", _JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("collector_run", schema=None) as batch_op:
        batch_op.drop_column("signals")
