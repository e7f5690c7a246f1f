"""dashboard: movement_author.platform is the platform of the author's earliest match (it was
whichever match its first batch listed first, and never moved when an earlier match arrived
later, e.g. a blog's backfilled entry after its pingback)

Revision ID: 0022
Revises: 0021
"""

from __future__ import annotations

from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

# Per (movement, author): the platform of the first match in (created_ts, platform) order, the
# order the write path keeps. One window pass; both dialects run UPDATE ... FROM.
FIRSTS = (
    "SELECT movement_id AS mv, account_id AS acc, platform AS p FROM ("
    "SELECT movement_id, account_id, platform, row_number() OVER ("
    "PARTITION BY movement_id, account_id ORDER BY created_ts, platform) AS n "
    "FROM mention_match WHERE account_id IS NOT NULL) AS ranked WHERE n = 1"
)


REPAIR = (
    f"UPDATE movement_author SET platform = f.p FROM ({FIRSTS}) AS f "
    "WHERE movement_author.movement_id = f.mv AND movement_author.account_id = f.acc "
    "AND movement_author.platform <> f.p"
)


def upgrade() -> None:
    op.execute(REPAIR)


def downgrade() -> None:
    """Nothing to undo: the column keeps its meaning, only wrong values were corrected."""
