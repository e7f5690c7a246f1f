"""Audit trail benchmark (issue 23; docs/access.md, "The audit trail").

A year of a busy team's actions (default 200,000 rows, 40 actors, one row every 3 minutes) in a
fresh SQLite store; times what the Audit trail page runs (the filter boxes' distinct actors and
actions, the newest 200 rows of 30 days unfiltered, by actor, by action) and what
`groundswell audit export` runs (every row through `iter_actions`, with the withheld-id checks),
against a baseline measured in the same run: the same rows read with the standard library's
`sqlite3` and their detail parsed with `json` (no ORM, no redaction).

    python bench/audit.py                    # 200k rows in a temporary file
    python bench/audit.py --rows 50000
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from storage.audit import AE, AuditFilter, facets, iter_actions, list_actions  # noqa: E402
from storage.engine import make_engine, write_tx  # noqa: E402
from storage.migrate import upgrade  # noqa: E402

ACTIONS = ["wall.hide", "wall.pin", "sign_in", "export", "events.save", "alerts.acknowledge"]
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def best(fn: Callable[[], object], repeat: int) -> float:
    """The fastest of `repeat` runs in seconds (the least disturbed on a shared machine)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=200_000)
    args = ap.parse_args()
    rng = random.Random(23)
    actors = [f"Person {i} <p{i}@org.example> · sub:{i:08d}" for i in range(40)]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "audit.db"
        engine = make_engine(f"sqlite:///{path}")
        upgrade(engine)
        rows = [
            {
                "at": T0 + timedelta(minutes=3 * i),
                "actor": rng.choice(actors),
                "role": "moderator",
                "action": rng.choice(ACTIONS),
                "target_kind": "mention",
                "target_id": str(rng.randint(1, 10**12)),
                "detail": {"wall": "default"},
            }
            for i in range(args.rows)
        ]
        with write_tx(engine) as conn:
            for i in range(0, len(rows), 10_000):
                conn.execute(AE.insert(), rows[i : i + 10_000])
        end = T0 + timedelta(minutes=3 * args.rows)
        month = {"since": end - timedelta(days=30), "until": end}

        def raw_export() -> int:
            db = sqlite3.connect(path)
            n = 0
            for row in db.execute(
                "SELECT id, at, actor, role, action, target_kind, target_id, detail "
                "FROM audit_event ORDER BY id"
            ):
                json.loads(row[7])
                n += 1
            db.close()
            return n

        with engine.connect() as conn:
            page = {
                "facets": best(lambda: facets(conn), 5),
                "newest 200, 30 days": best(lambda: list_actions(conn, AuditFilter(**month)), 5),
                "by actor": best(
                    lambda: list_actions(conn, AuditFilter(actor=actors[3], **month)), 5
                ),
                "by action": best(
                    lambda: list_actions(conn, AuditFilter(action="export", **month)), 5
                ),
            }
            ours = best(lambda: sum(len(p) for p in iter_actions(conn)), 1)
        baseline = best(raw_export, 1)
    print(f"audit trail benchmark: {args.rows:,} rows, SQLite")
    for name, seconds in page.items():
        print(f"  page query {name:22s} {seconds * 1000:8.1f} ms")
    print(f"  export, iter_actions        {ours:8.2f} s ({args.rows / ours:,.0f} rows/s)")
    print(f"  baseline, sqlite3 + json    {baseline:8.2f} s ({args.rows / baseline:,.0f} rows/s)")
    print(f"  ratio export / baseline     {ours / baseline:8.1f}x")


if __name__ == "__main__":
    main()
