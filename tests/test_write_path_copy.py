"""Large pages on PostgreSQL go through COPY into a staging table and one INSERT ... SELECT
per table (storage.bulk.COPY_MIN_ROWS): they must store exactly what the row-by-row upserts
store, with the same conflict rules. Runs on both dialects (SQLite always takes executemany)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

import storage.bulk
from domain.records import EdgeRecord
from storage.engine import write_tx
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
    monkeypatch.setattr(storage.bulk, "COPY_MIN_ROWS", 10**9)
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


STAGES = ("mention", "mention_payload", "mention_seen", "mention_match")  # >= COPY_MIN_ROWS


def _page(first: int) -> Any:
    return batch(*(mention(i, seen_on="a.social") for i in range(first, first + N)))


def _staged_rows(conn) -> int:
    return sum(conn.exec_driver_sql(f'SELECT count(*) FROM "_stage_{t}"').scalar() for t in STAGES)


def test_staging_tables_are_made_once_per_session_and_empty_after_every_page(pg_store):
    rules = movement(pg_store)
    oid = "SELECT '_stage_mention'::regclass::oid"
    with pg_store.connect() as conn:
        with conn.begin():
            write_batch(conn, _page(1), rules)
            assert _staged_rows(conn) == 0
            made = conn.exec_driver_sql(oid).scalar()
        with conn.begin():
            # Two pages in one transaction: the second must not see the first one's rows.
            write_batch(conn, _page(1 + N), rules)
            write_batch(conn, _page(1 + 2 * N), rules)
            assert _staged_rows(conn) == 0
            assert conn.exec_driver_sql(oid).scalar() == made
            assert conn.exec_driver_sql("SELECT count(*) FROM mention").scalar() == 3 * N
            assert conn.exec_driver_sql("SELECT count(*) FROM mention_match").scalar() == 3 * N


def test_a_rolled_back_page_leaves_nothing_staged_for_the_next_one(pg_store):
    rules = movement(pg_store)
    with pg_store.connect() as conn:
        # The transaction that creates the staging tables rolls back (they vanish with it),
        # then one that rolls back after they exist: the next pages must still store exactly
        # their own rows.
        for first in (1, 1 + N):
            with pytest.raises(RuntimeError), conn.begin():
                write_batch(conn, _page(first), rules)
                raise RuntimeError("worker killed mid-page")
            with conn.begin():
                write_batch(conn, _page(first + 2 * N), rules)
        with conn.begin():
            assert _staged_rows(conn) == 0
            ids = conn.exec_driver_sql("SELECT native_id FROM mention").scalars().all()
    expected = {mention(i).native_id for i in range(1 + 2 * N, 1 + 4 * N)}
    assert set(ids) == expected


def test_a_page_rolled_back_to_a_savepoint_leaves_the_next_page_whole(pg_store):
    rules = movement(pg_store)
    with pg_store.connect() as conn, conn.begin():
        # The savepoint made the staging tables and takes them away when it rolls back.
        with pytest.raises(RuntimeError), conn.begin_nested():
            write_batch(conn, _page(1), rules)
            raise RuntimeError("page refused")
        write_batch(conn, _page(1 + N), rules)
        assert _staged_rows(conn) == 0
        ids = set(conn.exec_driver_sql("SELECT native_id FROM mention").scalars().all())
    assert ids == {mention(i).native_id for i in range(1 + N, 1 + 2 * N)}


def test_staging_for_a_table_this_store_lacks_is_skipped_not_an_error(pg_store):
    """Each transaction creates the staging tables of every table the process staged before,
    in one round trip; a table known from another store (one at an older migration, in tests
    and tools) that this store lacks is skipped."""
    rules = movement(pg_store)
    storage.bulk._STAGE_TABLES.add("table_of_another_store")
    try:
        with pg_store.connect() as conn:
            for first in (1, 1 + N):
                with conn.begin():
                    write_batch(conn, _page(first), rules)
            with conn.begin():
                assert _staged_rows(conn) == 0
                n = conn.exec_driver_sql("SELECT count(*) FROM mention").scalar()
    finally:
        storage.bulk._STAGE_TABLES.discard("table_of_another_store")
    assert n == 2 * N
