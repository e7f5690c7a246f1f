"""An id list against a freshly loaded PostgreSQL table: `= ANY(array)` vs `IN (SELECT unnest)`.

    python bench/id_lists.py [--pg postgresql+psycopg://postgres@127.0.0.1:5432/test]
                             [--rows 200000] [--ids 50000] [--timeout 60]

Issue 21's cliff: `storage.id_lists.among` sent an id list as `= ANY(CAST(:ids AS BIGINT[]))`.
On a table just bulk-loaded, with autovacuum off and no ANALYZE yet, the planner believes the
table empty and picks a sequential scan; the array is then searched linearly once per row
(rows x ids comparisons). `cascades.rebuild` sat for minutes on one 50,000-id chunk of a
200,000-mention store. This script loads `--rows` rows into `mention_match` of a new database
(autovacuum disabled on it, no statistics), then times one query selecting `--ids` of them in
the old form (the baseline, written out here) and in the form `storage.id_lists.among` builds
now, in the same run. The old form is cut off after `--timeout` seconds (statement_timeout).
"""

from __future__ import annotations

import argparse
import secrets
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from sqlalchemy import ARRAY, BigInteger, any_, cast, literal, select  # noqa: E402

from storage.engine import make_engine  # noqa: E402
from storage.id_lists import among, encode_ids  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import MentionMatch  # noqa: E402

MM = MentionMatch.__table__


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--ids", type=int, default=50_000)
    ap.add_argument("--timeout", type=int, default=60)
    a = ap.parse_args()
    admin = a.pg.replace("postgresql+psycopg://", "postgresql://")
    name = f"gs_bench_ids_{secrets.token_hex(3)}"
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    url = a.pg.rsplit("/", 1)[0] + "/" + name
    engine = make_engine(url)
    try:
        upgrade(engine)
        with engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE mention_match SET (autovacuum_enabled = false)")
            conn.exec_driver_sql(
                "INSERT INTO movement (id, slug, name, hashtags, terms, urls) "
                "VALUES (1, 'm', 'M', '[]', '[]', '[]')"
            )
            # Only mention_match is read; its foreign key to mention is not what is measured.
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
            conn.exec_driver_sql(
                "INSERT INTO mention_match (movement_id, mention_id, via, platform, created_ts) "
                f"SELECT 1, g, 'term', 'blog', 0 FROM generate_series(1, {a.rows}) g"
            )
        ids = list(range(1, a.rows + 1, max(1, a.rows // a.ids)))[: a.ids]
        print(f"{a.rows:,} rows loaded, no statistics; selecting {len(ids):,} ids", flush=True)
        results = {}
        for label in ("old = ANY(array)", "new IN (SELECT unnest)"):
            with engine.begin() as conn:
                conn.exec_driver_sql(f"SET LOCAL statement_timeout = '{a.timeout}s'")
                if label.startswith("old"):
                    value = literal(encode_ids(conn, sorted(ids)))
                    cond = MM.c.mention_id == any_(cast(value, ARRAY(BigInteger)))
                else:
                    cond = among(conn, MM.c.mention_id, ids)
                stmt = select(MM.c.mention_id).where(MM.c.movement_id == 1, cond)
                t = time.perf_counter()
                try:
                    n = len(conn.execute(stmt).all())
                    results[label] = time.perf_counter() - t
                    print(f"  {label:<24} {results[label]:8.3f} s  ({n:,} rows)", flush=True)
                except Exception as exc:  # the statement timeout
                    results[label] = float("inf")
                    print(f"  {label:<24} > {a.timeout} s  ({type(exc).__name__})", flush=True)
        old, new = results["old = ANY(array)"], results["new IN (SELECT unnest)"]
        ratio = (
            "more than " + f"{a.timeout / new:,.0f}" if old == float("inf") else f"{old / new:,.0f}"
        )
        print(f"old / new: {ratio}x")
    finally:
        engine.dispose()
        with psycopg.connect(admin, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
