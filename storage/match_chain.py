"""`mention_match.prev_ts`: each match's link to the same author's previous match.

Per (movement, author, platform), matches are ordered by (created_ts, mention_id); `prev_ts` is
the created_ts of the match before (NULL for the first). Then the distinct authors of any range
`[a, b)` are the matches in it whose `prev_ts` is NULL or before `a`: each author's first match
in the range, exactly once. That makes "people" and "instances" of a range that does not end now
(Overview's previous period, an event window, widening's part-days) a count over the covering
index `ix_match_cover` instead of a distinct count (docs/benchmarks/dashboard.md).

Unlike the min/max rollups this order does not commute, so the write path keeps it with care:

- most links are known before the insert (`plan_links`): `movement_author_platform.last_ts` is
  the latest created_ts of the key's stored matches (every match is written by `write_batch`,
  which bumps it in the same transaction; migration 0011 backfilled it), and no row means no
  stored match. A new match later than that (the usual stream: posts arrive in order) comes
  after everything stored, so its link is that latest time, or the time of the batch's
  previous match of the key; it is inserted with its link set. A replay cannot be such a
  match (a stored match is never later than the latest), so DO NOTHING leaves the chain alone;
- the rest (not later than the stored latest: out of order, or an equal time) go through
  `link_previous_matches` after the insert: each one's successor is looked up in the stored
  rows (the author's mentions by `ix_mention_account`, probed against the movement's
  matches; the batch's own rows included): when there is one, nothing lies between them, so
  the successor's link is the new match's time; every other such match looks up its
  predecessor the same way. Links are set from what is stored, never patched incrementally;
- on PostgreSQL two workers writing the same author's matches are serialised by the author's
  `account` row, upserted (so locked until commit) first thing by `write_batch`, before the
  latest is read and before any match is written; a second worker's statements after that
  upsert start after the first one committed, so (READ COMMITTED) they see its matches and
  its bumped `last_ts` (`tests/test_match_chain.py` runs two workers at once);
- `relink_all` recomputes every link from the rows (migration 0020's backfill, the repair).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, bindparam, or_, select, text, update

from storage import people_cells
from storage.id_lists import ids_param, in_ids_text
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
    in as one parameter (`storage.id_lists`)."""
    built = _BUILT.get(conn.dialect.name)
    if built is not None:
        return built
    new_ones = [MM.c.movement_id == bindparam("mv"), in_ids_text(conn, "mention_match.mention_id")]
    successors = select(MM.c.mention_id, _neighbour(MM, before=False)).where(*new_ones)
    set_known = (
        update(MM)
        .where(MM.c.movement_id == bindparam("mv"), MM.c.mention_id == bindparam("succ"))
        .values(prev_ts=bindparam("prev"))
    )
    search = (
        update(MM)
        .where(*new_ones)
        .values(prev_ts=_neighbour(MM, before=True))
        .returning(MM.c.mention_id, MM.c.prev_ts)
    )
    _BUILT[conn.dialect.name] = (successors, set_known, search)
    return successors, set_known, search


_LATEST: dict[str, Any] = {}


def plan_links(conn: Connection, rows: list[dict[str, Any]]) -> set[tuple[int, int]]:
    """Set `prev_ts` on the match rows about to be inserted where it is known already; return
    the (movement_id, mention_id) of those that need `link_previous_matches` after the insert.

    Call after the authors' `account` rows are upserted (the lock that serialises concurrent
    PostgreSQL writers) and before the matches are inserted and `last_ts` is bumped. Per
    (movement, platform, author), the rows later than the stored latest, in (created_ts,
    mention_id) order, link to the stored latest (NULL if none) and then to each other; rows
    not later than it (out of order, equal times, replays) are left to the search.
    """
    stmt = _LATEST.get(conn.dialect.name)
    if stmt is None:
        # A join, so the planner picks per-author primary-key probes (a store with statistics)
        # or one hash over the movement's authors on the platform (a fresh store without):
        # as a correlated subquery per author, PostgreSQL without statistics probed the other
        # index (movement_id, platform, last_ts) and filtered every author of the platform
        # for each one (plan_links took 1.1 s per 1,000 mentions at 100k).
        ids = (
            "unnest(CAST(:ids AS BIGINT[])) AS u(id)"
            if conn.dialect.name == "postgresql"
            else "(SELECT value AS id FROM json_each(:ids)) AS u"
        )
        stmt = _LATEST[conn.dialect.name] = text(
            f"SELECT u.id, a.last_ts FROM {ids} LEFT JOIN movement_author_platform AS a "
            "ON a.movement_id = :mv AND a.platform = :p AND a.account_id = u.id"
        )
    keyed: dict[tuple[int, str], dict[int, list[dict[str, Any]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for r in rows:
        r["prev_ts"] = None
        if r["account_id"] is not None:
            keyed[(r["movement_id"], r["platform"])][r["account_id"]].append(r)
    search: set[tuple[int, int]] = set()
    for (mv, p), by_author in sorted(keyed.items()):
        params = {"mv": mv, "p": p, **ids_param(conn, sorted(by_author))}
        latest: dict[int, int | None] = dict(conn.execute(stmt, params).all())  # type: ignore[arg-type]
        for acc, mine in by_author.items():
            stored = latest.get(acc)
            prev = stored
            for r in sorted(mine, key=lambda r: (r["created_ts"], r["mention_id"])):
                ts = r["created_ts"]
                if stored is not None and ts <= stored:
                    search.add((mv, r["mention_id"]))
                    continue
                r["prev_ts"] = prev
                prev = ts
    return search


def link_previous_matches(
    conn: Connection, new_matches: list[dict[str, Any]]
) -> list[tuple[int, str, int, int | None, int | None]]:
    """Set `prev_ts` of the given matches, new in this transaction, from the stored rows and
    re-link their successors (the matches `plan_links` could not link before the insert; the
    search is exact for any new matches, so it also serves as the general case).

    Call after the matches are inserted, in the transaction that locked their authors (see the
    module docstring). First each new match's successor is found; a successor's link is then
    simply the new match's time. Only the new matches that are nobody's successor need the
    search for their predecessor.
    """
    by_movement: dict[int, dict[int, int]] = defaultdict(dict)
    for r in new_matches:
        if r["account_id"] is not None:
            by_movement[r["movement_id"]][r["mention_id"]] = r["created_ts"]
    successors, set_known, search = _statements(conn)
    row_of = {(r["movement_id"], r["mention_id"]): r for r in new_matches}
    changes: list[tuple[int, str, int, int | None, int | None]] = []
    for mv, ts_of in sorted(by_movement.items()):
        ids = sorted(ts_of)
        known: dict[int, int] = {}  # successor -> the time of the new match just before it
        for x, succ in conn.execute(successors, {"mv": mv, **ids_param(conn, ids)}).all():
            if succ is not None:
                known[succ] = ts_of[x]
        if known:
            before = _current_links(conn, mv, sorted(known))
            conn.execute(
                set_known, [{"mv": mv, "succ": k, "prev": v} for k, v in sorted(known.items())]
            )
            for succ, prev in sorted(known.items()):
                platform, ts, old = before[succ]
                if old != prev:
                    changes.append((mv, platform, ts, old, prev))
        todo = [i for i in ids if i not in known]
        if todo:
            # A searched match is new: its old link is the one it was inserted with.
            for mid, prev in conn.execute(search, {"mv": mv, **ids_param(conn, todo)}).all():
                r = row_of[(mv, mid)]
                if prev != r["prev_ts"]:
                    changes.append((mv, r["platform"], r["created_ts"], r["prev_ts"], prev))
    return changes


_READ_LINKS: dict[str, Any] = {}


def _current_links(conn: Connection, mv: int, ids: list[int]) -> dict[int, tuple[str, int, Any]]:
    """mention id -> (platform, created_ts, prev_ts) of the movement's given matches."""
    stmt = _READ_LINKS.get(conn.dialect.name)
    if stmt is None:
        stmt = _READ_LINKS[conn.dialect.name] = select(
            MM.c.mention_id, MM.c.platform, MM.c.created_ts, MM.c.prev_ts
        ).where(MM.c.movement_id == bindparam("mv"), in_ids_text(conn, "mention_match.mention_id"))
    return {
        int(mid): (p, int(ts), None if prev is None else int(prev))
        for mid, p, ts, prev in conn.execute(stmt, {"mv": mv, **ids_param(conn, ids)})
    }


# The definition, as a query: per (movement, author, platform) in (created_ts, mention_id) order,
# the created_ts of the match before. Migration 0020 backfills with the same statement.
ORDERED = (
    "SELECT movement_id AS mv, mention_id AS mid, lag(created_ts) OVER ("
    "PARTITION BY movement_id, account_id, platform ORDER BY created_ts, mention_id) AS prev "
    "FROM mention_match WHERE account_id IS NOT NULL"
)


def relink_all(conn: Connection) -> None:
    """Recompute every `prev_ts` from the rows: the repair for a store written by anything
    that bypassed the write path (bulk loads; both dialects run UPDATE ... FROM), and the
    people cells counted from them."""
    conn.execute(update(MM).values(prev_ts=None))
    conn.execute(
        text(
            f"UPDATE mention_match SET prev_ts = o.prev FROM ({ORDERED}) AS o "
            "WHERE mention_match.movement_id = o.mv AND mention_match.mention_id = o.mid "
            "AND o.prev IS NOT NULL"
        )
    )
    people_cells.rebuild(conn)  # every link may have moved: count the cells again
