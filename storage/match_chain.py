"""`mention_match.prev_ts`: each match's link to the same author's previous match.

Per (movement, author, platform), matches are ordered by (created_ts, mention_id); `prev_ts` is
the created_ts of the match before (NULL for the first). Then the distinct authors of any range
`[a, b)` are the matches in it whose `prev_ts` is NULL or before `a`: each author's first match
in the range, exactly once. That makes "people" and "instances" of a range that does not end now
(Overview's previous period, an event window, widening's part-days) a count over the covering
index `ix_match_cover` instead of a distinct count (docs/benchmarks/dashboard.md).

Unlike the min/max rollups this order does not commute, so the write path keeps it with care:

- each new match's successor is looked up in the stored rows (the author's mentions by
  `ix_mention_account`, probed against the movement's matches; the batch's own rows included):
  when there is one (the match arrived out of order: search APIs page newest first), nothing
  lies between them, so the successor's link is the new match's time; every other new match
  looks up its predecessor the same way. Links are set from what is stored, never patched
  incrementally, so a replay (no new match: nothing to do) or a repair cannot make them worse;
- on PostgreSQL two workers writing the same author's matches are serialised by row locks held
  until commit: the author's `account` row (upserted first by `write_batch`) and its
  `movement_author_platform` row (upserted by `bump_dashboard_rollups`, before the links are
  set). The second worker's statements start after the first one committed, so (READ
  COMMITTED) they see its matches (`tests/test_match_chain.py` runs two workers at once);
- `relink_all` recomputes every link from the rows (migration 0020's backfill, the repair).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, bindparam, or_, select, text, update

from storage.models import Mention, MentionMatch

MM = MentionMatch.__table__
M = Mention.__table__


def _neighbour(target: Any, *, before: bool) -> Any:
    """Correlated subquery: the created_ts (before) or mention id (after) of `target`'s
    neighbour in its (movement, author, platform) order."""
    other = MM.alias("chain_other")
    ts, mid = target.c.created_ts, target.c.mention_id
    if before:
        side = [M.c.created_ts <= ts, or_(M.c.created_ts < ts, M.c.id < mid)]
        order = (M.c.created_ts.desc(), M.c.id.desc())
        col = M.c.created_ts
    else:
        side = [M.c.created_ts >= ts, or_(M.c.created_ts > ts, M.c.id > mid)]
        order = (M.c.created_ts, M.c.id)
        col = M.c.id
    # The platform is checked on the (narrow) match row, not on the mention: then the walk
    # over the author's mentions reads only `ix_mention_account` (account_id, created_ts, id),
    # never the wide mention rows (half the cost of linking a batch on SQLite).
    # A scalar lookup by the primary key (movement_id, mention_id), not EXISTS: PostgreSQL
    # turned EXISTS into a semi-join that scanned every match of the movement on the platform
    # (ix_match_cover) for each mention walked, quadratic in the store (57 mentions/s at 20k,
    # docs/benchmarks/ingest.md). A correlated scalar subquery is always a per-row probe.
    in_movement = (
        select(other.c.platform)
        .where(other.c.movement_id == target.c.movement_id, other.c.mention_id == M.c.id)
        .correlate_except(other)
        .scalar_subquery()
        == target.c.platform
    )
    return (
        select(col)
        .where(M.c.account_id == target.c.account_id, *side, in_movement)
        .order_by(*order)
        .limit(1)
        .scalar_subquery()
    )


_BUILT: dict[str, tuple[Any, Any, Any]] = {}


def _statements(conn: Connection) -> tuple[Any, Any, Any]:
    """The three statements of `link_previous_matches`, built once per dialect (building the
    correlated subqueries and an IN list per batch cost more than running them); the ids go
    in as one parameter (`storage.write._in_ids`)."""
    from storage.write import _in_ids

    built = _BUILT.get(conn.dialect.name)
    if built is not None:
        return built
    new_ones = [MM.c.movement_id == bindparam("mv"), _in_ids(conn, "mention_match.mention_id")]
    successors = select(MM.c.mention_id, _neighbour(MM, before=False)).where(*new_ones)
    set_known = (
        update(MM)
        .where(MM.c.movement_id == bindparam("mv"), MM.c.mention_id == bindparam("succ"))
        .values(prev_ts=bindparam("prev"))
    )
    search = update(MM).where(*new_ones).values(prev_ts=_neighbour(MM, before=True))
    _BUILT[conn.dialect.name] = (successors, set_known, search)
    return successors, set_known, search


def link_previous_matches(conn: Connection, new_matches: list[dict[str, Any]]) -> None:
    """Set `prev_ts` of the matches new in this transaction and re-link their successors.

    Call after `bump_dashboard_rollups` (whose upsert of `movement_author_platform` holds the
    per-author row locks that serialise concurrent PostgreSQL writers). First each new match's
    successor is found (in-order arrivals, the usual stream, have none: the probe stops at the
    index's end); a successor's link is then simply the new match's time. Only the new matches
    that are nobody's successor (typically the first of their author in the batch) need the
    search for their predecessor.
    """
    from storage.write import _ids

    by_movement: dict[int, dict[int, int]] = defaultdict(dict)
    for r in new_matches:
        if r["account_id"] is not None:
            by_movement[r["movement_id"]][r["mention_id"]] = r["created_ts"]
    successors, set_known, search = _statements(conn)
    for mv, ts_of in sorted(by_movement.items()):
        ids = sorted(ts_of)
        known: dict[int, int] = {}  # successor -> the time of the new match just before it
        for x, succ in conn.execute(successors, {"mv": mv, **_ids(conn, ids)}).all():
            if succ is not None:
                known[succ] = ts_of[x]
        if known:
            conn.execute(
                set_known, [{"mv": mv, "succ": k, "prev": v} for k, v in sorted(known.items())]
            )
        todo = [i for i in ids if i not in known]
        if todo:
            conn.execute(search, {"mv": mv, **_ids(conn, todo)})


# The definition, as a query: per (movement, author, platform) in (created_ts, mention_id) order,
# the created_ts of the match before. Migration 0020 backfills with the same statement.
ORDERED = (
    "SELECT movement_id AS mv, mention_id AS mid, lag(created_ts) OVER ("
    "PARTITION BY movement_id, account_id, platform ORDER BY created_ts, mention_id) AS prev "
    "FROM mention_match WHERE account_id IS NOT NULL"
)


def relink_all(conn: Connection) -> None:
    """Recompute every `prev_ts` from the rows: the repair for a store written by anything
    that bypassed the write path (bulk loads; both dialects run UPDATE ... FROM)."""
    conn.execute(update(MM).values(prev_ts=None))
    conn.execute(
        text(
            f"UPDATE mention_match SET prev_ts = o.prev FROM ({ORDERED}) AS o "
            "WHERE mention_match.movement_id = o.mv AND mention_match.mention_id = o.mid "
            "AND o.prev IS NOT NULL"
        )
    )
