"""Recompute a movement's write-time rollups from its raw rows (matches, edges, accounts).

The write path keeps every rollup incrementally, in the transaction of the rows (storage/write.py,
storage/people_cells.py, storage/cascades.py). A repair that rewrites raw rows (migration 0029
merging one page stored under several URL spellings, `storage/url_merge.py`) cannot adjust
minima, maxima and distinct counts by subtraction, so it recounts the movements it touched with
the same definitions the backfill migrations used (0011-0028), which are the write path's.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, inspect, text

# Per movement; `{mv}` is the movement filter on the statement's match table alias.
_TABLES = (
    "rollup_hourly",
    "movement_author",
    "movement_author_platform",
    "movement_place",
    "movement_place_active",
    "movement_author_day",
    "movement_platform_day",
    "movement_instance_day",
    "movement_instance_hour",
    "movement_edge",
    "movement_amplifier_period",
    "movement_amplifier_day",
    "movement_people_cell",
    "movement_cross_day",
    "movement_people_hour",
    "movement_linked_day",
    "movement_linked_author",
    "movement_linked_hour",
)
_RECOUNT = (
    "INSERT INTO rollup_hourly (movement_id, platform, hour, mentions) "
    "SELECT movement_id, platform, created_ts / 3600, count(*) FROM mention_match mm "
    "WHERE {mv} GROUP BY movement_id, platform, created_ts / 3600",
    # the platform of the earliest match, ties broken by platform name (migration 0022)
    "INSERT INTO movement_author (movement_id, account_id, platform, first_ts, last_ts, mentions) "
    "SELECT g.movement_id, g.account_id, f.platform, g.first_ts, g.last_ts, g.n FROM ("
    "SELECT movement_id, account_id, min(created_ts) AS first_ts, max(created_ts) AS last_ts, "
    "count(*) AS n FROM mention_match mm WHERE {mv} AND account_id IS NOT NULL "
    "GROUP BY movement_id, account_id) g JOIN ("
    "SELECT movement_id, account_id, platform, row_number() OVER ("
    "PARTITION BY movement_id, account_id ORDER BY created_ts, platform) AS n "
    "FROM mention_match mm WHERE {mv} AND account_id IS NOT NULL) f "
    "ON f.movement_id = g.movement_id AND f.account_id = g.account_id AND f.n = 1",
    "INSERT INTO movement_author_platform (movement_id, platform, account_id, last_ts) "
    "SELECT movement_id, platform, account_id, max(created_ts) FROM mention_match mm "
    "WHERE {mv} AND account_id IS NOT NULL GROUP BY movement_id, platform, account_id",
    "INSERT INTO movement_place (movement_id, platform, place, first_ts) "
    "SELECT ma.movement_id, a.platform, coalesce(a.instance, a.native_id), min(ma.first_ts) "
    "FROM movement_author ma JOIN account a ON a.id = ma.account_id "
    "WHERE {ma} AND a.platform IN ('mastodon', 'blog') "
    "GROUP BY ma.movement_id, a.platform, coalesce(a.instance, a.native_id)",
    "INSERT INTO movement_place_active (movement_id, platform, place, last_ts) "
    "SELECT mm.movement_id, 'mastodon', coalesce(a.instance, a.native_id), max(mm.created_ts) "
    "FROM mention_match mm JOIN account a ON a.id = mm.account_id "
    "WHERE {mv} AND mm.platform = 'mastodon' "
    "GROUP BY mm.movement_id, coalesce(a.instance, a.native_id)",
    "INSERT INTO movement_author_day (movement_id, day, account_id, platform) "
    "SELECT DISTINCT movement_id, created_ts / 86400, account_id, platform FROM mention_match mm "
    "WHERE {mv} AND account_id IS NOT NULL",
    "INSERT INTO movement_platform_day (movement_id, day, platform) "
    "SELECT DISTINCT movement_id, created_ts / 86400, platform FROM mention_match mm "
    "WHERE {mv} AND account_id IS NOT NULL",
    "INSERT INTO movement_instance_day (movement_id, day, place) "
    "SELECT DISTINCT mm.movement_id, mm.created_ts / 86400, coalesce(a.instance, a.native_id) "
    "FROM mention_match mm JOIN account a ON a.id = mm.account_id "
    "WHERE {mv} AND mm.platform = 'mastodon'",
    "INSERT INTO movement_instance_hour (movement_id, hour, place) "
    "SELECT DISTINCT mm.movement_id, mm.created_ts / 3600, coalesce(a.instance, a.native_id) "
    "FROM mention_match mm JOIN account a ON a.id = mm.account_id "
    "WHERE {mv} AND mm.platform = 'mastodon'",
    "INSERT INTO movement_edge (movement_id, edge_id, created_ts, kind, platform, "
    "source_account_id, dst_account_id, target_mention_id, via_mention_id) "
    "SELECT mm.movement_id, a.id, a.created_ts, a.kind, a.platform, a.source_account_id, "
    "coalesce(a.target_account_id, m.account_id), a.target_mention_id, a.via_mention_id "
    "FROM amplification a JOIN mention_match mm ON mm.mention_id = a.target_mention_id "
    "JOIN mention m ON m.id = a.target_mention_id WHERE {mv}{live_edges}",
    *(
        "INSERT INTO movement_amplifier_period (movement_id, side, period, account_id, edges) "
        f"SELECT movement_id, '{side}', created_ts / 1382400, {column}, count(*) "
        "FROM movement_edge me WHERE {me} AND "
        "dst_account_id IS NOT NULL AND source_account_id <> dst_account_id "
        f"GROUP BY movement_id, created_ts / 1382400, {column}"
        for side, column in (("dst", "dst_account_id"), ("src", "source_account_id"))
    ),
)
# The same per UTC day (migration 0057; migration 0029 recounts before the table exists).
_DAYS = tuple(
    (
        "INSERT INTO movement_amplifier_day (movement_id, side, day, account_id, edges) "
        f"SELECT movement_id, '{side}', created_ts / 86400, {column}, count(*) "
        "FROM movement_edge me WHERE {me} AND "
        "dst_account_id IS NOT NULL AND source_account_id <> dst_account_id "
        f"GROUP BY movement_id, created_ts / 86400, {column}"
    )
    for side, column in (("dst", "dst_account_id"), ("src", "source_account_id"))
)
# mention_match.prev_ts (storage/match_chain.py, migration 0020), before the people cells
_PREV = (
    "UPDATE mention_match SET prev_ts = NULL WHERE {bare}",
    "UPDATE mention_match SET prev_ts = o.prev FROM ("
    "SELECT movement_id AS mv, mention_id AS mid, lag(created_ts) OVER ("
    "PARTITION BY movement_id, account_id, platform ORDER BY created_ts, mention_id) AS prev "
    "FROM mention_match mm WHERE {mv} AND account_id IS NOT NULL) AS o "
    "WHERE mention_match.movement_id = o.mv AND mention_match.mention_id = o.mid "
    "AND o.prev IS NOT NULL",
)
_PEOPLE = (
    "INSERT INTO movement_people_cell (movement_id, platform, day, prev_day, n) "
    "SELECT movement_id, platform, created_ts / 86400, coalesce(prev_ts / 86400, -1), count(*) "
    "FROM mention_match mm WHERE {mv} AND account_id IS NOT NULL "
    "GROUP BY movement_id, platform, created_ts / 86400, coalesce(prev_ts / 86400, -1)",
    "INSERT INTO movement_cross_day (movement_id, day, account_id) "
    "SELECT DISTINCT mm.movement_id, mm.created_ts / 86400, mm.account_id "
    "FROM mention_match mm JOIN account a ON a.id = mm.account_id "
    "WHERE {mv} AND mm.platform <> a.platform",
)


def recount(conn: Connection, movement_ids: Iterable[int]) -> None:
    """Delete and recompute every write-time rollup of these movements, cascades and shared
    links and hashtags (storage/shares.py) included."""
    from storage.cascades import rebuild
    from storage.linked_days import REBUILD as LINKED_DAYS
    from storage.linked_days import REBUILD_AUTHORS as LINKED_AUTHORS
    from storage.linked_days import REBUILD_HOURS as LINKED_HOURS
    from storage.people_cells import HOURS_SQL as PEOPLE_HOURS
    from storage.shares import rebuild as rebuild_shares

    movements = sorted({int(m) for m in movement_ids})
    if not movements:
        return
    ids = ", ".join(map(str, movements))  # integers only: nothing to escape

    # undone reposts and boosts are left out of every rollup (migration 0038), once it ran
    columns = {c["name"] for c in inspect(conn).get_columns("amplification")}
    live_edges = " AND a.undone_at IS NULL" if "undone_at" in columns else ""

    def fmt(sql: str) -> str:
        return sql.format(
            live_edges=live_edges,
            mv=f"mm.movement_id IN ({ids})",
            ma=f"ma.movement_id IN ({ids})",
            me=f"me.movement_id IN ({ids})",
            bare=f"movement_id IN ({ids})",
        )

    # Migrations before 0043 (0029's URL merge) recount before the shares tables exist, and
    # before 0057-0060's tables.
    tables = set(inspect(conn).get_table_names())
    days = _DAYS if "movement_amplifier_day" in tables else ()
    for table in _TABLES:
        if table in tables:
            conn.execute(text(f"DELETE FROM {table} WHERE movement_id IN ({ids})"))
    for sql in (*_PREV, *_RECOUNT, *days, *_PEOPLE):
        conn.execute(text(fmt(sql)))
    if "movement_people_hour" in tables:  # the people cells per hour (migration 0061)
        conn.execute(text(fmt(PEOPLE_HOURS)))
    if "movement_linked_day" in tables:  # after movement_author_day, from it (migration 0058)
        conn.execute(text(LINKED_DAYS.format(mv=f"mad.movement_id IN ({ids})")))
    if "movement_linked_hour" in tables:  # from the matches (migration 0060)
        conn.execute(text(fmt(LINKED_HOURS)))
    if "movement_linked_author" in tables:  # after movement_author, from it (migration 0059)
        conn.execute(text(LINKED_AUTHORS.format(ma=f"ma.movement_id IN ({ids})")))
    for mv in movements:
        rebuild(conn, mv)
    if "movement_share_day" in tables:
        rebuild_shares(conn, movements, totals="movement_share_total" in tables)
