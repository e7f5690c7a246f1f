"""What the wall's pulse indexes (migration 0010) cost the write path, measured in one run.

    python bench/wall_index_cost.py [--n 50000] [--rounds 3]

`bench/ingest.py`'s generated mentions go through `storage.write.write_batch` page by page
into a fresh SQLite store, alternately with the migrated schema (with) and with
`ix_mention_place` and `ix_mauthor_last` dropped (without), `--rounds` times each. CPU seconds
of this process are the stable figure on a shared machine; wall-clock is printed too.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from storage.engine import write_tx  # noqa: E402
from storage.write import write_batch  # noqa: E402


def _ingest_module() -> Any:
    spec = importlib.util.spec_from_file_location("bench_ingest", ROOT / "bench" / "ingest.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def run(ingest: Any, batches: list[Any], *, with_indexes: bool) -> tuple[float, float]:
    path = Path(tempfile.mkdtemp(prefix="gs-wall-idx-")) / "s.db"
    engine, rules, source_id = ingest.prepare_store(f"sqlite:///{path}")
    if not with_indexes:
        with write_tx(engine) as conn:
            conn.exec_driver_sql("DROP INDEX ix_mention_place")
            conn.exec_driver_sql("DROP INDEX ix_mauthor_last")
    wall, cpu = time.perf_counter(), time.process_time()
    for b in batches:
        with write_tx(engine) as conn:
            write_batch(conn, b, rules, source_id=source_id)
    out = time.perf_counter() - wall, time.process_time() - cpu
    engine.dispose()
    for f in path.parent.iterdir():
        f.unlink()
    path.parent.rmdir()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    ingest = _ingest_module()
    mentions, edges = ingest.generate(args.n)
    batches = ingest.pages(mentions, edges, args.batch)
    times: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    for _ in range(args.rounds):
        for with_indexes in (False, True):
            times[with_indexes].append(run(ingest, batches, with_indexes=with_indexes))
    print(f"{args.n:,} mentions through write_batch, SQLite, {args.rounds} rounds, median")
    base_cpu = statistics.median(c for _, c in times[False])
    for with_indexes, label in ((False, "without 0010's indexes"), (True, "with them")):
        wall = statistics.median(w for w, _ in times[with_indexes])
        cpu = statistics.median(c for _, c in times[with_indexes])
        print(
            f"{label:24} wall {wall:6.2f} s  cpu {cpu:6.2f} s  {args.n / cpu:8,.0f} mentions/cpu-s"
            f"  cpu ratio {cpu / base_cpu:.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
