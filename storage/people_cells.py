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

Tombstones and opt-outs do not touch cells: deleted and opted-out mentions keep their matches
and are counted in every aggregate (docs/dashboard.md, "Ethics").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, text

from storage.bulk import insert_for
from storage.models_rollups import MovementCrossDay, MovementPeopleCell

DAY = 86400
NO_PREV = -1  # prev_day of an author's first match of the movement on the platform

CellKey = tuple[int, str, int, int]  # movement, platform, day, prev_day

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


def cell_of(movement_id: int, platform: str, created_ts: int, prev_ts: int | None) -> CellKey:
    return (
        movement_id,
        platform,
        created_ts // DAY,
        NO_PREV if prev_ts is None else prev_ts // DAY,
    )


def inserted_cells(new_matches: Iterable[Mapping[str, Any]]) -> Counter[CellKey]:
    """+1 per match new in this transaction, in the cell of the link it was inserted with
    (`plan_links` set it; NULL for those `link_previous_matches` searches afterwards, which
    reports their move)."""
    out: Counter[CellKey] = Counter()
    for r in new_matches:
        if r["account_id"] is not None:
            out[cell_of(r["movement_id"], r["platform"], r["created_ts"], r["prev_ts"])] += 1
    return out


def moved_cells(
    changes: Iterable[tuple[int, str, int, int | None, int | None]],
) -> Counter[CellKey]:
    """-1 from the old cell, +1 to the new, per (movement, platform, created_ts, old prev_ts,
    new prev_ts) of a relinked match (`link_previous_matches`' report)."""
    out: Counter[CellKey] = Counter()
    for mv, platform, ts, old, new in changes:
        before, after = cell_of(mv, platform, ts, old), cell_of(mv, platform, ts, new)
        if before != after:
            out[before] -= 1
            out[after] += 1
    return out


def bump_people_cells(conn: Connection, deltas: Counter[CellKey]) -> None:
    """Add `deltas` to the cells: one `n = n + excluded.n` upsert in key order (a delta of 0,
    a move there and back within the batch, writes nothing)."""
    rows = [
        {"movement_id": mv, "platform": p, "day": d, "prev_day": pd, "n": n}
        for (mv, p, d, pd), n in sorted(deltas.items())
        if n
    ]
    if not rows:
        return
    table = MovementPeopleCell.__table__  # type: ignore[attr-defined]
    ins = insert_for(conn, table)
    stmt = ins.on_conflict_do_update(
        index_elements=[table.c.movement_id, table.c.platform, table.c.day, table.c.prev_day],
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
    for sql in REBUILD:
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
