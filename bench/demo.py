"""How long `groundswell demo --speed instant` takes, and where the time goes.

    python bench/demo.py [--mentions 20000] [--pg postgresql://postgres@127.0.0.1:5432/test]

Measured in one run, on fresh stores:
- generation alone (pure Python, no store);
- baseline: the same pages written with `write_batch` directly, one transaction per page;
- the demo as users run it: `load_demo` (runner, collector, cursor per page, run records),
  the ratio against the baseline is the price of going through the real pipeline;
- the CLI end to end (`python -m groundswell.cli demo --speed instant`), process start included.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from groundswell.demo import load_demo  # noqa: E402
from groundswell.demo.collector import cached_history  # noqa: E402
from groundswell.demo.generate import generate  # noqa: E402
from storage.catalog import load_rules, upsert_movement  # noqa: E402
from storage.engine import make_engine, write_tx  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.records import Batch  # noqa: E402
from storage.write import write_batch  # noqa: E402


def fresh_sqlite(tmp: str, name: str):  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp}/{name}.db")
    upgrade(engine)
    return engine


def fresh_pg(url: str, name: str):  # type: ignore[no-untyped-def]
    import psycopg

    admin = url.replace("postgresql+psycopg://", "postgresql://")
    db = f"gs_bench_demo_{name}_{os.getpid()}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db}"')
        conn.execute(f'CREATE DATABASE "{db}"')
    engine = make_engine(url.rsplit("/", 1)[0] + "/" + db)
    upgrade(engine)
    return engine, admin, db


def drop_pg(admin: str, db: str) -> None:
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def baseline(engine, data) -> float:  # type: ignore[no-untyped-def]
    with write_tx(engine) as conn:
        upsert_movement(conn, data.movement)
    with engine.connect() as conn:
        rules = load_rules(conn)
    t = time.perf_counter()
    for page in data.pages:
        with write_tx(engine) as conn:
            write_batch(conn, Batch(mentions=page.mentions, edges=page.edges), rules)
    return time.perf_counter() - t


def timed_load(engine, mentions: int, now: datetime) -> float:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    summary = load_demo(engine, mentions=mentions, now=now)
    elapsed = time.perf_counter() - t
    assert summary.new == mentions, summary
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mentions", type=int, default=20_000)
    ap.add_argument("--pg", default=None, help="PostgreSQL admin URL (database `test`)")
    args = ap.parse_args()
    n = args.mentions
    now = datetime.now(UTC).replace(microsecond=0)

    t = time.perf_counter()
    data = generate(mentions=n, now=now)
    gen = time.perf_counter() - t
    items = sum(len(p.mentions) + len(p.edges) for p in data.pages)
    print(
        f"generate {n:,} mentions ({len(data.edges):,} edges, {len(data.pages)} pages): {gen:.2f} s"
    )

    with tempfile.TemporaryDirectory() as tmp:
        base = baseline(fresh_sqlite(tmp, "base"), data)
        cached_history.cache_clear()
        cached_history(7, n, now)  # generation measured above; time the writing alone
        load = timed_load(fresh_sqlite(tmp, "demo"), n, now)
        print(
            f"SQLite  write_batch baseline: {base:.2f} s ({n / base:,.0f} mentions/s, "
            f"{items / base:,.0f} rows/s)"
        )
        print(
            f"SQLite  load_demo (runner):   {load:.2f} s ({n / load:,.0f} mentions/s); "
            f"ratio to baseline {base / load:.2f}"
        )
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        cli_args = ["--speed", "instant", "--mentions", str(n), "--db", f"sqlite:///{tmp}/cli.db"]
        t = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "groundswell.cli", "demo", *cli_args],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        cli = time.perf_counter() - t
        print(f"SQLite  `groundswell demo --speed instant` end to end: {cli:.2f} s")

    if args.pg:
        engine, admin, db = fresh_pg(args.pg, "base")
        try:
            base = baseline(engine, data)
        finally:
            engine.dispose()
            drop_pg(admin, db)
        engine, admin, db = fresh_pg(args.pg, "demo")
        try:
            load = timed_load(engine, n, now)
        finally:
            engine.dispose()
            drop_pg(admin, db)
        print(f"PostgreSQL write_batch baseline: {base:.2f} s ({n / base:,.0f} mentions/s)")
        print(
            f"PostgreSQL load_demo (runner):   {load:.2f} s ({n / load:,.0f} mentions/s); "
            f"ratio to baseline {base / load:.2f}"
        )


if __name__ == "__main__":
    main()
