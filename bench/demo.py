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
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from domain.records import Batch  # noqa: E402
from groundswell.demo import load_demo  # noqa: E402
from groundswell.demo.collector import cached_history  # noqa: E402
from groundswell.demo.generate import generate  # noqa: E402
from storage.catalog import load_rules, upsert_movement  # noqa: E402
from storage.engine import make_engine, write_tx  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
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


def baseline(engine, data) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """(wall, CPU of this process) seconds to write the pages with write_batch alone."""
    with write_tx(engine) as conn:
        upsert_movement(conn, data.movement)
    with engine.connect() as conn:
        rules = load_rules(conn)
    t, c = time.perf_counter(), time.process_time()
    for page in data.pages:
        with write_tx(engine) as conn:
            write_batch(conn, Batch(mentions=page.mentions, edges=page.edges), rules)
    return time.perf_counter() - t, time.process_time() - c


def timed_load(engine, mentions: int, now: datetime) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    t, c = time.perf_counter(), time.process_time()
    summary = load_demo(engine, mentions=mentions, now=now)
    elapsed = time.perf_counter() - t, time.process_time() - c
    assert summary.new == mentions, summary
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mentions", type=int, default=20_000)
    ap.add_argument("--pg", default=None, help="PostgreSQL admin URL (database `test`)")
    args = ap.parse_args()
    n = args.mentions
    now = datetime.now(UTC).replace(microsecond=0)

    t, c = time.perf_counter(), time.process_time()
    data = generate(mentions=n, now=now)
    gen, gen_cpu = time.perf_counter() - t, time.process_time() - c
    items = sum(len(p.mentions) + len(p.edges) for p in data.pages)
    print(
        f"generate {n:,} mentions ({len(data.edges):,} edges, {len(data.pages)} pages): "
        f"{gen:.2f} s, CPU {gen_cpu:.2f} s"
    )
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")

    with tempfile.TemporaryDirectory() as tmp:
        base, base_cpu = baseline(fresh_sqlite(tmp, "base"), data)
        cached_history.cache_clear()
        cached_history(7, n, now)  # generation measured above; time the writing alone
        load, load_cpu = timed_load(fresh_sqlite(tmp, "demo"), n, now)
        print(
            f"SQLite  write_batch baseline: {base:.2f} s, CPU {base_cpu:.2f} s "
            f"({n / base:,.0f} mentions/s, {items / base:,.0f} rows/s)"
        )
        print(
            f"SQLite  load_demo (runner):   {load:.2f} s, CPU {load_cpu:.2f} s "
            f"({n / load:,.0f} mentions/s); ratio to baseline {base / load:.2f} "
            f"(CPU {base_cpu / load_cpu:.2f})"
        )
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        cli_args = ["--speed", "instant", "--mentions", str(n), "--db", f"sqlite:///{tmp}/cli.db"]
        t = time.perf_counter()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(
            [sys.executable, "-m", "groundswell.cli", "demo", *cli_args],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        cli = time.perf_counter() - t
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        print(
            f"SQLite  `groundswell demo --speed instant` end to end: {cli:.2f} s, CPU {cpu:.2f} s"
        )

    if args.pg:
        engine, admin, db = fresh_pg(args.pg, "base")
        try:
            base, _ = baseline(engine, data)
        finally:
            engine.dispose()
            drop_pg(admin, db)
        engine, admin, db = fresh_pg(args.pg, "demo")
        try:
            load, _ = timed_load(engine, n, now)
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
