"""The dashboard benchmark's generated store holds what the write path would have written: each
match's `prev_ts` (storage/match_chain.py) is the same author's previous match of the movement
on the platform, now written by the generator itself instead of migration 0020's UPDATE of every
match row (most of a 10M generation); and the counts of what travels with the conversation,
now counted by the generator instead of by `storage.shares.rebuild` afterwards (about 70
minutes at 10M on PostgreSQL). On SQLite and PostgreSQL (COPY)."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

from sqlalchemy import text

from storage.shares import rebuild as rebuild_shares

ROOT = Path(__file__).resolve().parents[1]


def _bench():
    spec = importlib.util.spec_from_file_location("bench_dashboard", ROOT / "bench/dashboard.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# Migration 0020's definition of prev_ts, over the rows as generated.
DEFINITION = (
    "SELECT movement_id, mention_id, lag(created_ts) OVER (PARTITION BY movement_id, "
    "account_id, platform ORDER BY created_ts, mention_id) FROM mention_match"
)


def test_the_generated_store_links_each_match_to_its_authors_previous_one(store):
    bench = _bench()
    url = store.url.render_as_string(hide_password=False)
    now = int(time.time()) // 60 * 60
    bench.generate(url, 3000, 5, seed=3, now=now, linked=0.03)
    with store.connect() as conn:
        stored = {
            (mv, mid): prev
            for mv, mid, prev in conn.execute(
                text("SELECT movement_id, mention_id, prev_ts FROM mention_match")
            )
        }
        expected = {(mv, mid): prev for mv, mid, prev in conn.execute(text(DEFINITION))}
    assert len(stored) >= 3000
    assert sum(p is not None for p in expected.values()) > 1000  # authors post repeatedly
    assert stored == expected


SHARE_TABLES = {
    "movement_share_day": "movement_id, kind, day, platform, value, n",
    "movement_share_hour": "movement_id, kind, hour, platform, value, n",
    "movement_share_total": "movement_id, kind, value, n",
}


def _shares(conn) -> dict[str, set[tuple]]:
    return {
        table: {tuple(r) for r in conn.execute(text(f"SELECT {cols} FROM {table}"))}
        for table, cols in SHARE_TABLES.items()
    }


def test_the_generated_store_counts_what_travels_as_a_rebuild_would(store):
    bench = _bench()
    url = store.url.render_as_string(hide_password=False)
    now = int(time.time()) // 60 * 60
    bench.generate(url, 3000, 5, seed=4, now=now, linked=0.03)
    with store.connect() as conn:
        generated = _shares(conn)
    with store.begin() as conn:
        rebuild_shares(conn)
    with store.connect() as conn:
        rebuilt = _shares(conn)
    assert {t: len(rows) for t, rows in generated.items()} == {
        t: len(rows) for t, rows in rebuilt.items()
    }
    assert all(len(rows) > 100 for rows in rebuilt.values())  # links, pages and tags counted
    assert generated == rebuilt
