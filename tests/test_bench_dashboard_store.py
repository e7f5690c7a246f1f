"""The dashboard benchmark's generated store holds what the write path would have written: each
match's `prev_ts` (storage/match_chain.py) is the same author's previous match of the movement
on the platform, now written by the generator itself instead of migration 0020's UPDATE of every
match row (most of a 10M generation). On SQLite and PostgreSQL (COPY)."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

from sqlalchemy import text

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
