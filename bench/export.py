"""Benchmark: research exports of 1M mentions in bounded memory (issue 7, DESIGN.md section 7).

    python bench/export.py                    # 1,000,000 mentions, SQLite, in /tmp/gs-bench-export
    python bench/export.py --mentions 200000  # quicker
    python bench/export.py --mentions 200000 --compare ../old-checkout  # CPU s, before/after

What it does:
1. builds a migrated SQLite store with N mentions (plus accounts, matches, edges), written with
   plain `sqlite3` executemany (fast; cached between runs for the same N);
2. runs each case in a fresh subprocess and records wall time and the process's peak RSS
   (`ru_maxrss`, which includes the interpreter and libraries):
   - baseline: raw `sqlite3` streaming fetch (fetchmany) + `csv.writer`, the same columns, the
     same order: the fastest simple way to dump the table, measured in this run;
   - groundswell export of the mentions table as CSV, JSONL and Parquet (ethics SQL, row
     shaping, data card included);
   - the mentions as CSV pseudonymised (the CLI's default since issue 17: keyed ids, links
     to people keyed, free text scanned for person-links and @handles);
   - the same CSV export restricted to a quarter of the time range: if memory were not
     bounded, peak RSS would grow with the rows; it does not;
   - a full export (all tables + GEXF network) for completeness;
3. prints a table with throughput ratios against the baseline and peak memory against the size
   of the data exported; copy it into docs/benchmarks/export.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if "--root" in sys.argv:  # --compare runs a case against another tree's code
    ROOT = Path(sys.argv[sys.argv.index("--root") + 1]).resolve()
    # ...and only that tree's: the editable install's finder would add this tree's modules.
    sys.meta_path[:] = [f for f in sys.meta_path if "__editable__" not in f.__module__]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SPAN_S = 90 * 86400
ACCOUNTS = 50_000
EDGE_RATIO = 0.2
WORDS = [
    "pledge",
    "assembly",
    "citizens",
    "listening",
    "patients",
    "staff",
    "change",
    "day",
    "healthcare",
    "radicals",
    "community",
    "practice",
    "voice",
    "together",
    "NHS",
    "improve",
    "care",
    "share",
    "learn",
]


def _ts_text(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def build(db: Path, n: int) -> None:
    """A migrated store with n mentions, written fast with executemany."""
    from domain.records import account_id, mention_id
    from storage.engine import make_engine
    from storage.migrate import upgrade

    if db.exists():
        db.unlink()
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    engine.dispose()
    rnd = random.Random(7)
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    now = _ts_text(int(time.time()))
    con.execute(
        "INSERT INTO movement (id, slug, name, hashtags, terms, urls, created_at) "
        "VALUES (1, 'nhscitizen', 'NHS Citizen', '[\"NHSCitizen\"]', '[]', '[]', ?)",
        (now,),
    )
    platforms = ("mastodon", "bluesky", "blog")
    accounts = []
    for i in range(ACCOUNTS):
        platform = platforms[i % 3]
        native = (
            f"user{i}@inst{i % 40}.example"
            if platform == "mastodon"
            else (f"did:plc:{i:024d}" if platform == "bluesky" else f"blog{i}.example")
        )
        # about 3% opted out, as a realistic share that must be withheld
        noindex = 1 if platform == "mastodon" and i % 33 == 0 else 0
        accounts.append(
            (account_id(platform, native), platform, native, native, f"User {i}", noindex, now)
        )
    con.executemany(
        "INSERT INTO account (id, platform, native_id, handle, display_name, noindex, "
        "first_seen_at, updated_at, person_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(*a, now, a[0]) for a in accounts],
    )
    step = 50_000
    for start in range(0, n, step):
        mentions, matches = [], []
        for k in range(start, min(n, start + step)):
            acc = accounts[rnd.randrange(ACCOUNTS)]
            platform = acc[1]
            native = f"https://{platform}.example/post/{k}"
            mid = mention_id(platform, native)
            ts = int(T0.timestamp()) + (k * SPAN_S) // n
            text = " ".join(rnd.choice(WORDS) for _ in range(18)) + " #NHSCitizen"
            mentions.append(
                (
                    mid,
                    platform,
                    native,
                    native,
                    acc[0],
                    _ts_text(ts),
                    ts,
                    ts // 3600,
                    text,
                    "en",
                    rnd.randrange(50),
                    rnd.randrange(20),
                    rnd.randrange(10),
                    0,
                    0,
                    '["NHSCitizen"]',
                    f'["https://www.nhscitizen.org.uk/p/{k % 100}"]',
                    now,
                    now,
                )
            )
            matches.append((1, mid, "hashtag", platform, acc[0], ts))
        con.executemany(
            "INSERT INTO mention (id, platform, native_id, url, account_id, created_at, "
            "created_ts, created_hour, text, lang, like_count, repost_count, reply_count, "
            "quote_count, sensitive, hashtags, links, first_seen_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            mentions,
        )
        con.executemany(
            "INSERT INTO mention_match (movement_id, mention_id, via, platform, account_id, "
            "created_ts) VALUES (?, ?, ?, ?, ?, ?)",
            matches,
        )
        edges = []
        for m in rnd.sample(mentions, int(len(mentions) * EDGE_RATIO)):
            src = accounts[rnd.randrange(ACCOUNTS)]
            kind = "boost" if m[1] == "mastodon" else ("repost" if m[1] == "bluesky" else "link")
            edges.append(
                (
                    rnd.getrandbits(62),
                    kind,
                    m[1],
                    src[0],
                    m[0],
                    m[4],
                    _ts_text(m[6] + 60),
                    m[6] + 60,
                )
            )
        con.executemany(
            "INSERT OR IGNORE INTO amplification (id, kind, platform, source_account_id, "
            "target_mention_id, target_account_id, created_at, created_ts) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            edges,
        )
        con.commit()
    con.execute("ANALYZE")
    con.commit()
    con.close()


BASELINE_SQL = (
    "SELECT id, platform, native_id, url, account_id, created_at, title, text, lang, instance, "
    "reply_to_id, quote_of_id, like_count, repost_count, reply_count, quote_count, sensitive, "
    "spoiler_text, links, hashtags, edited_at FROM mention ORDER BY created_ts, id"
)


def run_case(case: str, db: Path, out: Path) -> dict[str, float]:
    """One measurement, inside this (fresh) process."""
    t0 = time.perf_counter()
    rows = 0
    if case == "baseline":
        con = sqlite3.connect(db)
        cur = con.execute(BASELINE_SQL)
        with (out / "baseline.csv").open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            while batch := cur.fetchmany(5000):
                w.writerows(batch)
                rows += len(batch)
        con.close()
    elif case == "imports":
        # The interpreter plus Groundswell, SQLAlchemy, pyarrow...: the floor under every
        # export case's peak RSS; what an export adds is its peak minus this.
        import groundswell.export  # noqa: F401
        from storage.engine import make_engine

        make_engine(f"sqlite:///{db}").connect().close()
    else:
        from groundswell.export import ExportFilters, ExportOptions, export_dataset
        from storage.engine import make_engine

        engine = make_engine(f"sqlite:///{db}")
        filters = ExportFilters()
        if case == "csv-quarter":
            filters = ExportFilters(until=T0 + timedelta(seconds=SPAN_S // 4))
        if case == "full":
            options = ExportOptions(formats=("parquet",), network=("gexf",))
        elif case.endswith("-pseudonymised"):  # the CLI's default since issue 17
            options = ExportOptions(
                formats=(case.split("-")[0],),
                datasets=("mentions",),
                pseudonym_key=b"bench-key" * 4,
            )
        else:
            fmt = case.split("-")[0]
            options = ExportOptions(formats=(fmt,), datasets=("mentions",))
        summary = export_dataset(engine, out / case, filters, options)
        rows = summary.counts["mentions"]["exported"]
    seconds = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak_mb = usage.ru_maxrss / 1024
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return {
        "rows": rows,
        "seconds": seconds,
        "cpu_s": usage.ru_utime + usage.ru_stime,  # the process's, imports included
        "peak_rss_mb": peak_mb,
        "output_mb": size / 2**20,
    }


def compare(args: argparse.Namespace, db: Path) -> None:
    """CPU seconds of each case in this tree and in `args.compare` (another checkout),
    alternated for `args.rounds` rounds, so both see the same load; prints the ratios."""
    other = args.compare.resolve()
    trees = {"before": other, "after": ROOT}
    cpu: dict[tuple[str, str], list[float]] = {}
    for rnd in range(args.rounds):
        for case in args.cases.split(","):
            for side, tree in trees.items():
                out = args.workdir / f"out-{side}-{case}"
                subprocess.run(["rm", "-rf", str(out)], check=True)
                out.mkdir()
                cmd = [sys.executable, __file__, "--case", case, "--db", str(db), "--out"]
                proc = subprocess.run(
                    [*cmd, str(out), "--root", str(tree)],
                    capture_output=True,
                    text=True,
                    cwd=tree,
                )
                if proc.returncode != 0:
                    print(proc.stderr[-3000:])
                    raise SystemExit(f"case {case} ({side}) failed")
                r = json.loads(proc.stdout.strip().splitlines()[-1])
                cpu.setdefault((case, side), []).append(r["cpu_s"])
                print(
                    f"  round {rnd + 1} {case:<22} {side:<6} CPU {r['cpu_s']:6.2f} s "
                    f"({r['rows']:,} rows, load {os.getloadavg()[0]:.1f})",
                    flush=True,
                )
                subprocess.run(["rm", "-rf", str(out)], check=True)
    print(f"\n| case | before CPU s (best of {args.rounds}) | after CPU s | after / before |")
    print("|---|---:|---:|---:|")
    for case in args.cases.split(","):
        before, after = min(cpu[(case, "before")]), min(cpu[(case, "after")])
        print(f"| {case} | {before:.2f} | {after:.2f} | {after / before:.2f}x |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--mentions", type=int, default=1_000_000)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/gs-bench-export"))
    ap.add_argument("--case", help=argparse.SUPPRESS)
    ap.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--root", help=argparse.SUPPRESS)  # read before the imports, above
    ap.add_argument(
        "--compare",
        type=Path,
        metavar="DIR",
        help="also run the cases on the checkout in DIR, alternated; print CPU seconds",
    )
    ap.add_argument("--rounds", type=int, default=3, help="--compare: runs of each tree")
    ap.add_argument(
        "--cases",
        default="parquet,csv,parquet-pseudonymised",
        help="--compare: comma-separated cases",
    )
    args = ap.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case, args.db, args.out)))
        return

    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    db = work / f"bench-{args.mentions}.db"
    if not db.exists():
        t = time.perf_counter()
        print(f"building a store with {args.mentions:,} mentions ...", flush=True)
        build(db, args.mentions)
        print(f"  built in {time.perf_counter() - t:.1f} s", flush=True)
    db_mb = db.stat().st_size / 2**20
    if args.compare:
        compare(args, db)
        return
    cases = [
        "baseline",
        "imports",
        "csv",
        "csv-pseudonymised",
        "jsonl",
        "parquet",
        "csv-quarter",
        "full",
    ]
    results = {}
    for case in cases:
        out = work / f"out-{case}"
        subprocess.run(["rm", "-rf", str(out)], check=True)
        out.mkdir()
        proc = subprocess.run(
            [sys.executable, __file__, "--case", case, "--db", str(db), "--out", str(out)],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        if proc.returncode != 0:
            print(proc.stderr[-3000:])
            raise SystemExit(f"case {case} failed")
        results[case] = json.loads(proc.stdout.strip().splitlines()[-1])
        r = results[case]
        print(
            f"  {case:<12} {r['rows']:>10,} rows {r['seconds']:>7.1f} s "
            f"{r['rows'] / max(r['seconds'], 1e-9):>9,.0f} rows/s  "
            f"peak RSS {r['peak_rss_mb']:>6.0f} MB  "
            f"output {r['output_mb']:>7.1f} MB",
            flush=True,
        )
        subprocess.run(["rm", "-rf", str(out)], check=True)
    base = results["baseline"]
    base_rate = base["rows"] / base["seconds"]
    print()
    print(f"store: {args.mentions:,} mentions, SQLite file {db_mb:,.0f} MB")
    print("| case | rows | seconds | rows/s | vs baseline | peak RSS MB | output MB |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for case, r in results.items():
        rate = r["rows"] / r["seconds"] if r["rows"] else 0.0
        print(
            f"| {case} | {r['rows']:,} | {r['seconds']:.1f} | {rate:,.0f} | "
            f"{rate / base_rate:.2f}x | {r['peak_rss_mb']:.0f} | {r['output_mb']:.1f} |"
        )
    growth = results["csv"]["peak_rss_mb"] / results["csv-quarter"]["peak_rss_mb"]
    print(
        f"\npeak RSS, all rows vs a quarter of them (CSV): {growth:.2f}x "
        f"(4x the rows; 1.00x = memory independent of size)"
    )


if __name__ == "__main__":
    main()
