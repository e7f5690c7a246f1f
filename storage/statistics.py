"""Keep SQLite's planner statistics current.

SQLite chooses indexes from `sqlite_stat1`, which only ANALYZE writes; a store that was never
analysed is planned from default guesses. Several dashboard queries then pick an index that
reads a whole time range or a whole table: the top posts of 30 days on the 1M benchmark store
take 0.3 ms with statistics and 400-540 ms without (a platform filter sends the planner to the
unique index on (platform, native_id)). PostgreSQL's autovacuum analyses on its own, so this is
SQLite's only.

Policy, like SQLite 3.46's `PRAGMA optimize` (this machine's SQLite is older): analyse when the
store has no statistics for the mention table, or that table has grown more than `GROWTH`-fold
since. A full ANALYZE reads every index (3.3 s per 1M mentions here); `PRAGMA analysis_limit`
would be quicker but its samples told the planner each engagement value held 2 rows instead of
~1,000, which is exactly the statistic the top-posts plan depends on. Growing by doubling keeps
the total analysis work under twice that of one run at the final size.
"""

from __future__ import annotations

import logging
import time

from sqlalchemy import Connection, Engine, text

log = logging.getLogger(__name__)

GROWTH = 2  # re-analyse when the mention table has more than doubled
MIN_ROWS = 1_000  # below this every plan is fast; analysing an empty store records nothing


def analysed_rows(conn: Connection) -> int | None:
    """The mention table's row count when it was last analysed, or None if never."""
    has_stats = conn.execute(
        text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'")
    ).first()
    if not has_stats:
        return None
    # One row per index, each starting with its entry count; partial indexes hold fewer.
    counts = [
        int(str(stat).split()[0])
        for (stat,) in conn.execute(text("SELECT stat FROM sqlite_stat1 WHERE tbl = 'mention'"))
    ]
    return max(counts) if counts else None


def needs_analysis(conn: Connection) -> bool:
    rows = int(conn.execute(text("SELECT count(*) FROM mention")).scalar() or 0)
    if rows < MIN_ROWS:
        return False
    before = analysed_rows(conn)
    return before is None or rows > GROWTH * before


def refresh_statistics(engine: Engine) -> bool:
    """ANALYZE a SQLite store whose statistics are missing or stale; True if it did.

    Called by the collector runner after its runs (at most every `Runner.stats_every_s`) and by
    `groundswell init`, so a store filled by collectors or the demo is planned from real
    statistics. A no-op on PostgreSQL.
    """
    if engine.dialect.name != "sqlite":
        return False
    with engine.connect() as conn:
        if not needs_analysis(conn):
            return False
        t0 = time.monotonic()
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    # Maintenance, not news: `up` and `collect` stay quiet unless -v (issue 18).
    log.debug("analysed the store's statistics in %.1f s", time.monotonic() - t0)
    return True
