"""Large pages on PostgreSQL go through COPY into a staging table and one INSERT ... SELECT
per table (storage.write.COPY_MIN_ROWS): they must store exactly what the row-by-row upserts
store, with the same conflict rules. Runs on both dialects (SQLite always takes executemany)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text

import storage.write
from storage.engine import write_tx
from storage.records import EdgeRecord
from storage.write import write_batch
from tests.conftest import _truncate
from tests.factories import T0, account, batch, mention, movement

N = 300  # above COPY_MIN_ROWS for mentions, payloads, accounts, seen and edges
TABLES = {
    "account": "id",
    "mention": "id",
    "mention_payload": "mention_id",
    "mention_seen": "mention_id, seen_on",
    "amplification": "id",
    "mention_match": "movement_id, mention_id",
    "rollup_hourly": "movement_id, platform, hour",
    "movement_author": "movement_id, account_id",
    "movement_author_platform": "1, 2, 3",
    "movement_author_day": "1, 2, 3",
    "movement_edge": "1, 2",
}


def _pages(first: bool) -> list:
    """A first sighting, deletions, then a stale copy from another instance."""
    if first:
        mentions = [
            mention(
                i,
                author=account(i, indexable=True, bot=False),
                like_count=5,
                seen_on="a.social",
                created_at=T0 + timedelta(minutes=i),
            )
            for i in range(1, N + 1)
        ]
        edges = [
            EdgeRecord(
                kind="boost",
                platform="mastodon",
                source=account(1000 + i),
                target=(m.platform, m.native_id),
                created_at=T0 + timedelta(hours=1),
            )
            for i, m in enumerate(mentions)
        ]
        return [batch(*mentions, edges=edges)]
    gone = [mention(i) for i in range(1, 11)]
    stale = [
        mention(
            i,
            author=account(i, indexable=None, bot=None, display_name=None),
            like_count=2,
            text="Edited: pledged #NHSCitizen",
            seen_on="b.social",
            created_at=T0 + timedelta(minutes=i),
        )
        for i in range(1, N + 1)
    ]
    return [batch(deletions=[(m.platform, m.native_id) for m in gone]), batch(*stale)]


def _write_and_snapshot(store) -> dict[str, list]:
    rules = movement(store)
    now = T0 + timedelta(days=1)
    with write_tx(store) as conn:
        for page in _pages(first=True):
            write_batch(conn, page, rules, now=now)
    # Several large pages in one transaction: the staging tables must not collide.
    with write_tx(store) as conn:
        for page in _pages(first=False):
            write_batch(conn, page, rules, now=now + timedelta(hours=1))
    snap: dict[str, list] = {}
    with store.connect() as conn:
        for table, key in TABLES.items():
            snap[table] = [
                tuple(r) for r in conn.execute(text(f"SELECT * FROM {table} ORDER BY {key}"))
            ]
    return snap


def test_large_pages_store_exactly_what_row_by_row_upserts_store(store, monkeypatch):
    bulk = _write_and_snapshot(store)
    _truncate(store)
    monkeypatch.setattr(storage.write, "COPY_MIN_ROWS", 10**9)
    rowwise = _write_and_snapshot(store)
    for table in TABLES:
        assert bulk[table] == rowwise[table], table
    assert len(bulk["mention"]) == N
    assert len(bulk["mention_seen"]) == 2 * N
    assert len(bulk["amplification"]) == N


def test_large_pages_keep_counters_tombstones_and_opt_out_flags(store):
    _write_and_snapshot(store)
    with store.connect() as conn:
        likes = conn.execute(text("SELECT min(like_count) FROM mention")).scalar()
        revived = conn.execute(
            text("SELECT count(*) FROM mention WHERE deleted_at IS NOT NULL AND text IS NOT NULL")
        ).scalar()
        tombstones = conn.execute(
            text("SELECT count(*) FROM mention WHERE deleted_at IS NOT NULL")
        ).scalar()
        edited = conn.execute(
            text("SELECT count(*) FROM mention WHERE text LIKE 'Edited%'")
        ).scalar()
        flags = conn.execute(
            text(
                "SELECT count(*) FROM account WHERE indexable IS NOT TRUE AND id IN "
                "(SELECT account_id FROM mention)"
            )
        ).scalar()
        mentions = conn.execute(text("SELECT sum(mentions) FROM rollup_hourly")).scalar()
    assert likes == 5
    assert (tombstones, revived, edited) == (10, 0, N - 10)
    assert flags == 0
    assert mentions == N
