"""The write side of `movement_people_cell` and `movement_cross_day` (storage/models_rollups.py,
migration 0028): "people" counts that do not grow with the window.

A cell is (movement, platform, day, prev_day) with a count `n` of matches with a known author:
`day` the UTC day of the match, `prev_day` the UTC day of its `prev_ts` (the same author's
previous match of the movement on the platform, storage/match_chain.py), -1 when there is none.
Both the link and the cell of a match are fixed by the stored rows, so the cells are kept by
deltas, in the write transaction:

- every match an INSERT really added (RETURNING: a replay adds nothing) adds 1 to the cell of
  the link it was inserted with (`inserted_cells`);
- every later change of a stored link (`link_previous_matches`: a late match becomes the
  successor's new predecessor, and the late match's own search) moves 1 from the old cell to
  the new (`moved_cells`, from the old and new values it read);
- `bump_people_cells` writes the sum of a batch's deltas as `n = n + delta` upserts in key
  order, once per batch, so two PostgreSQL workers add up instead of overwriting each other
  and lock the cells in one order;
- `relink_all` (the repair) recomputes every link, so it rebuilds the cells from the rows
  (`rebuild`, the same statement as migration 0028's backfill).

The same deltas keep `movement_people_hour` (migration 0061): the cells per UTC hour, with the
previous match's hour when it is at most `HOUR_REACH` hours earlier and -1 otherwise
(`hour_cell_of`), for the part-days at a range's ends (storage/queries/people.py).

Tombstones and opt-outs do not touch cells: deleted and opted-out mentions keep their matches
and are counted in every aggregate (docs/dashboard.md, "Ethics").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, text

from storage.bulk import insert_for
from storage.models_rollups import MovementCrossDay, MovementPeopleCell, MovementPeopleHour

DAY = 86400
HOUR = 3600
NO_PREV = -1  # prev_day of an author's first match of the movement on the platform
# How many hours back an hour cell keeps its previous match's hour: ranges of up to two days
# (an event window) read their hours; an older previous match is -1, like none.
HOUR_REACH = 48

CellKey = tuple[int, str, int, int]  # movement, platform, day, prev_day
HourKey = tuple[int, int, str, int]  # movement, hour, platform, prev_hour
# A batch's deltas of both tables: ("day", CellKey) and ("hour", HourKey).
Deltas = Counter[tuple[str, tuple[Any, ...]]]

# The definition as statements (`rebuild`; migration 0028 backfills with the same text, and
# tests/test_match_chain.py checks both give the cells the write path kept).
REBUILD = (
    "INSERT INTO movement_people_cell (movement_id, platform, day, prev_day, n) "
    "SELECT movement_id, platform, created_ts / 86400, coalesce(prev_ts / 86400, -1), count(*) "
    "FROM mention_match WHERE account_id IS NOT NULL "
    "GROUP BY movement_id, platform, created_ts / 86400, coalesce(prev_ts / 86400, -1)",
    "INSERT INTO movement_cross_day (movement_id, day, account_id) "
    "SELECT DISTINCT mm.movement_id, mm.created_ts / 86400, mm.account_id "
    "FROM mention_match mm JOIN account a ON a.id = mm.account_id "
    "WHERE mm.platform <> a.platform",
)
_PREV_HOUR = (
    f"CASE WHEN prev_ts IS NULL OR created_ts / 3600 - prev_ts / 3600 > {HOUR_REACH} "
    f"THEN {NO_PREV} ELSE prev_ts / 3600 END"
)
# Per movement (`{mv}`: a filter on `mm`, as storage/recount.py gives it); migration 0061's
# backfill is `REBUILD_HOURS` (tests/test_match_chain.py checks both give the cells kept).
HOURS_SQL = (
    "INSERT INTO movement_people_hour (movement_id, hour, platform, prev_hour, n) "
    f"SELECT movement_id, created_ts / 3600, platform, {_PREV_HOUR}, count(*) "
    "FROM mention_match mm WHERE {mv} AND account_id IS NOT NULL "
    f"GROUP BY movement_id, created_ts / 3600, platform, {_PREV_HOUR}"
)
REBUILD_HOURS = HOURS_SQL.format(mv="1 = 1")


def cell_of(movement_id: int, platform: str, created_ts: int, prev_ts: int | None) -> CellKey:
    return (
        movement_id,
        platform,
        created_ts // DAY,
        NO_PREV if prev_ts is None else prev_ts // DAY,
    )


def hour_cell_of(movement_id: int, platform: str, created_ts: int, prev_ts: int | None) -> HourKey:
    """The hour cell of a match: its previous match's hour only within `HOUR_REACH` hours,
    so an hour has at most 50 cells per platform, not one per earlier hour of the store."""
    hour = created_ts // HOUR
    if prev_ts is None or hour - prev_ts // HOUR > HOUR_REACH:
        return (movement_id, hour, platform, NO_PREV)
    return (movement_id, hour, platform, prev_ts // HOUR)


def _keys(
    movement_id: int, platform: str, created_ts: int, prev_ts: int | None
) -> tuple[tuple[str, CellKey], tuple[str, HourKey]]:
    return (
        ("day", cell_of(movement_id, platform, created_ts, prev_ts)),
        ("hour", hour_cell_of(movement_id, platform, created_ts, prev_ts)),
    )


def inserted_cells(new_matches: Iterable[Mapping[str, Any]]) -> Deltas:
    """+1 per match new in this transaction, in the cells of the link it was inserted with
    (`plan_links` set it; NULL for those `link_previous_matches` searches afterwards, which
    reports their move)."""
    out: Deltas = Counter()
    for r in new_matches:
        if r["account_id"] is not None:
            out.update(_keys(r["movement_id"], r["platform"], r["created_ts"], r["prev_ts"]))
    return out


def moved_cells(changes: Iterable[tuple[int, str, int, int | None, int | None]]) -> Deltas:
    """-1 from the old cells, +1 to the new, per (movement, platform, created_ts, old prev_ts,
    new prev_ts) of a relinked match (`link_previous_matches`' report)."""
    out: Deltas = Counter()
    for mv, platform, ts, old, new in changes:
        for before, after in zip(
            _keys(mv, platform, ts, old), _keys(mv, platform, ts, new), strict=True
        ):
            if before != after:
                out[before] -= 1
                out[after] += 1
    return out


_DAY_T = MovementPeopleCell.__table__  # type: ignore[attr-defined]
_HOUR_T = MovementPeopleHour.__table__  # type: ignore[attr-defined]
_CELL_TABLES = {
    "day": (_DAY_T, ("movement_id", "platform", "day", "prev_day")),
    "hour": (_HOUR_T, ("movement_id", "hour", "platform", "prev_hour")),
}


def bump_people_cells(conn: Connection, deltas: Deltas) -> None:
    """Add `deltas` to the cells: per table one `n = n + excluded.n` upsert in key order (a
    delta of 0, a move there and back within the batch, writes nothing)."""
    for grain, (table, names) in _CELL_TABLES.items():
        rows = [
            {**dict(zip(names, key, strict=True)), "n": n}
            for (g, key), n in sorted(deltas.items())
            if g == grain and n
        ]
        if not rows:
            continue
        ins = insert_for(conn, table)
        stmt = ins.on_conflict_do_update(
            index_elements=[table.c[c] for c in names],
            set_={"n": table.c.n + ins.excluded.n},
        )
        conn.execute(stmt, rows)


def mark_cross_days(
    conn: Connection, new_matches: Iterable[Mapping[str, Any]], home: Mapping[int, str]
) -> None:
    """Presence rows for the authors of new matches on a platform other than their account's
    (`home`: mention id -> its author account's platform); DO NOTHING, so repeats are no-ops."""
    rows = sorted(
        {
            (r["movement_id"], r["created_ts"] // DAY, r["account_id"])
            for r in new_matches
            if r["account_id"] is not None and home[r["mention_id"]] != r["platform"]
        }
    )
    if not rows:
        return
    table = MovementCrossDay.__table__  # type: ignore[attr-defined]
    conn.execute(
        insert_for(conn, table).on_conflict_do_nothing(),
        [{"movement_id": mv, "day": d, "account_id": a} for mv, d, a in rows],
    )


def rebuild(conn: Connection) -> None:
    """Recompute the cells and cross days from the stored matches (after `relink_all`)."""
    conn.execute(text("DELETE FROM movement_people_cell"))
    conn.execute(text("DELETE FROM movement_cross_day"))
    conn.execute(text("DELETE FROM movement_people_hour"))
    for sql in (*REBUILD, REBUILD_HOURS):
        conn.execute(text(sql))


def count_people(
    conn: Connection,
    new_matches: list[dict[str, Any]],
    relinked: Iterable[tuple[int, str, int, int | None, int | None]],
    home: Mapping[int, str],
) -> None:
    """The people rollups of one written batch, in its transaction: the cells of the matches
    the INSERT added and of the links `link_previous_matches` changed (one upsert), and the
    cross-platform author days of the new matches."""
    deltas = inserted_cells(new_matches)
    deltas.update(moved_cells(relinked))
    bump_people_cells(conn, deltas)
    mark_cross_days(conn, new_matches, home)
