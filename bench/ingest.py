"""Ingest speed of our write path against raw driver baselines, measured in one run.

    python bench/ingest.py [--n 100000] [--batch 1000] [--pg URL | --no-pg]
    python bench/ingest.py --compare REV [--rounds 3] [--n 20000] [--no-pg]

DESIGN.md section 7: through our own write path, SQLite, at least 50% of raw `sqlite3`
executemany of the same rows into the same tables and at least 4,500 mentions/s on one core;
PostgreSQL at least 4,500 mentions/s from one worker.

`--compare REV` measures this tree and git revision REV (checked out in a temporary worktree)
in one invocation: rounds alternate which tree goes first, each a fresh process running this
script with `--root` pointing at the tree, and the medians and ratios are printed together.

What is timed (N generated mentions by N/10 authors, all matching the movement by hashtag, a
raw payload each, and one amplification edge (reply, boost or quote) per five mentions):

- ours: per page of `--batch` mentions what the runner does: match the page against the
  movement (`domain.batch_matching.match_batch`, before the transaction; in trees older than
  issue 21 inside `write_batch`), then `storage.write.write_batch` in its own transaction with
  its cursor. It upserts accounts and mentions (`ON CONFLICT DO UPDATE`), payloads, matches
  (`ON CONFLICT DO NOTHING RETURNING`), the hourly and per-author rollups, edges, and the cursor.
- baseline "mention rows": the same mention rows, already built as tuples (JSON already
  serialised), with raw `sqlite3` executemany `INSERT ... ON CONFLICT DO NOTHING` into an
  identical `mention` table (the migrated schema, same indexes, same pragmas), one transaction
  per page. This is the DESIGN.md baseline; it does no matching and writes one table.
- baseline "all rows": raw executemany of every row our path writes (accounts, mentions,
  payloads, matches, edges) into the identical tables; still no matching, no rollups.
- PostgreSQL: ours against psycopg `executemany` and `COPY` of the same mention rows.

Wall-clock and CPU seconds are both printed: on a shared machine the CPU figure is the stable
one (the process is single-threaded; the database server's CPU is not in it for PostgreSQL).
"""

from __future__ import annotations

import argparse
import json
import secrets
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if "--root" in sys.argv:  # --compare runs this script against another tree's code
    ROOT = Path(sys.argv[sys.argv.index("--root") + 1]).resolve()
    # ...and only that tree's: the editable install's finder would add this tree's modules.
    sys.meta_path[:] = [f for f in sys.meta_path if "__editable__" not in f.__module__]
sys.path.insert(0, str(ROOT))

import storage.engine  # noqa: E402
from domain.records import (  # noqa: E402
    AccountRecord,
    Batch,
    EdgeRecord,
    MentionRecord,
)
from domain.settings.config import MovementSettings  # noqa: E402
from storage.catalog import load_rules, sync_sources, upsert_movement  # noqa: E402
from storage.engine import make_engine, write_tx  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.write import _account_row, _mention_row, write_batch  # noqa: E402

try:  # SourceSpec moved from collectors.base to domain.records in issue 21
    from domain.records import SourceSpec
except ImportError:  # pragma: no cover - only when comparing with an older tree
    from collectors.base import SourceSpec  # type: ignore[no-redef]
try:  # parse -> match -> write (issue 21); older trees match inside write_batch
    from domain.batch_matching import match_batch
except ImportError:  # pragma: no cover - only when comparing with an older tree
    match_batch = None  # type: ignore[assignment]

T0 = datetime(2026, 3, 1, tzinfo=UTC)
WORDS = [
    *("pledge", "assembly", "citizens", "voice", "ward", "listening", "change", "patients"),
    *("staff", "community", "trust", "local", "care", "health", "together", "meeting"),
    *("question", "answer", "today"),
]
MOVEMENT = MovementSettings(
    slug="nhscitizen",
    name="NHS Citizen",
    hashtags=["NHSCitizen", "NHSCitizenAssembly"],
    terms=["NHS Citizen", "citizens' assembly"],
    urls=["https://www.nhscitizen.org.uk/pledge"],
)


def generate(n: int) -> list[Batch]:
    """N realistic mentions (Mastodon-like and Bluesky-like), deterministic."""
    authors = [
        AccountRecord(
            platform="mastodon" if i % 3 else "bluesky",
            native_id=f"user{i}@instance{i % 12}.social" if i % 3 else f"did:plc:user{i:08d}",
            handle=f"user{i}",
            display_name=f"User {i}",
            instance=f"instance{i % 12}.social" if i % 3 else None,
            indexable=True,
        )
        for i in range(max(1, n // 10))
    ]
    mentions: list[MentionRecord] = []
    edges: list[EdgeRecord] = []
    for i in range(n):
        author = authors[(i * 7919) % len(authors)]
        platform = author.platform
        native = (
            f"https://{author.instance}/users/{author.handle}/statuses/{110_000_000 + i}"
            if platform == "mastodon"
            else f"at://{author.native_id}/app.bsky.feed.post/3k{i:010d}"
        )
        words = " ".join(WORDS[(i + k) % len(WORDS)] for k in range(18))
        text = f"{words} #NHSCitizen https://www.nhscitizen.org.uk/pledge?utm_source=post{i}"
        created = T0 + timedelta(seconds=i * 9)
        m = MentionRecord(
            platform=platform,
            native_id=native,
            created_at=created,
            author=author,
            url=native,
            text=text,
            html=f"<p>{text}</p>",
            lang="en",
            instance=author.instance,
            like_count=i % 17,
            repost_count=i % 5,
            reply_count=i % 3,
            links=["https://www.nhscitizen.org.uk/pledge"],
            hashtags=["NHSCitizen"],
            raw={"id": str(i), "content": text, "account": {"acct": author.native_id}},
            seen_on=author.instance,
        )
        mentions.append(m)
        if i % 5 == 4:
            target = mentions[i - 3]
            kind = ("reply", "boost", "quote")[i % 3]
            edges.append(
                EdgeRecord(
                    kind=kind,
                    platform=platform,
                    source=author,
                    target=(target.platform, target.native_id),
                    created_at=created,
                    via=(platform, native) if kind != "boost" else None,
                    target_account=target.author,
                )
            )
    return mentions, edges  # type: ignore[return-value]


def pages(mentions: list[MentionRecord], edges: list[EdgeRecord], size: int) -> list[Batch]:
    out = []
    per_page_edges = max(1, size // 5)
    for p, start in enumerate(range(0, len(mentions), size)):
        out.append(
            Batch(
                mentions=mentions[start : start + size],
                edges=edges[p * per_page_edges : (p + 1) * per_page_edges],
                cursor={"min_id": str(start + size)},
                fetched=len(mentions[start : start + size]),
            )
        )
    return out


def timed(fn: Callable[[], Any]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


# -- ours -----------------------------------------------------------------------------------


def prepare_store(url: str) -> tuple[Any, Any, int]:
    engine = make_engine(url)
    upgrade(engine)
    with write_tx(engine) as conn:
        upsert_movement(conn, MOVEMENT)
        ids = sync_sources(conn, [SourceSpec("bench", "mastodon", "hashtag", {}, 60)])
    with engine.connect() as conn:
        rules = load_rules(conn)
    return engine, rules, ids["bench"]


def ours(url: str, batches: list[Batch], *, write_only: bool = False) -> tuple[float, float, int]:
    """Time the runner's step per page: match (outside the transaction), then write.
    `write_only`: the pages are matched before the clock starts (the store's share alone)."""
    engine, rules, source_id = prepare_store(url)
    match_inside = match_batch is not None and not write_only
    if write_only and match_batch is not None:
        for b in batches:
            match_batch(rules, b)

    def run() -> None:
        for b in batches:
            if match_inside:
                match_batch(rules, b)
            with write_tx(engine) as conn:
                write_batch(conn, b, rules, source_id=source_id)

    wall, cpu = timed(run)
    with engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT count(*) FROM mention").scalar()
    engine.dispose()
    return wall, cpu, int(stored or 0)


# -- baselines ------------------------------------------------------------------------------


def _jsonable(v: Any) -> Any:
    if isinstance(v, (dict, list)):
        return json.dumps(v, separators=(",", ":"))
    if isinstance(v, datetime):
        return v.astimezone(UTC).replace(tzinfo=None).isoformat(" ")
    return v


def tuples(rows: list[dict[str, Any]]) -> tuple[list[str], list[tuple[Any, ...]]]:
    cols = list(rows[0])
    return cols, [tuple(_jsonable(r[c]) for c in cols) for r in rows]


def baseline_rows(batches: list[Batch]) -> dict[str, list[tuple[list[str], list[tuple]]]]:
    """Per page: the rows of each table our path writes, built before the clock starts."""
    now = datetime.now(UTC)
    per_table: dict[str, list[tuple[list[str], list[tuple]]]] = {
        "account": [], "mention": [], "mention_payload": [], "mention_match": [],
        "amplification": [],
    }  # fmt: skip
    for b in batches:
        mrows = [_mention_row(m, now) for m in b.mentions]
        per_table["mention"].append(tuples(mrows))
        accts = {a.id: _account_row(a, now) for a in (m.author for m in b.mentions) if a}
        per_table["account"].append(tuples(list(accts.values())))
        per_table["mention_payload"].append(
            tuples([{"mention_id": r["id"], "payload": m.raw, "fetched_at": now}
                    for r, m in zip(mrows, b.mentions, strict=True)])
        )  # fmt: skip
        per_table["mention_match"].append(
            tuples([{"movement_id": 1, "mention_id": r["id"], "via": "hashtag",
                     "platform": r["platform"], "account_id": r["account_id"],
                     "created_ts": r["created_ts"]} for r in mrows])
        )  # fmt: skip
        if b.edges:
            per_table["amplification"].append(
                tuples([{"id": e.id, "kind": e.kind, "platform": e.platform,
                         "source_account_id": e.source.id, "target_mention_id": 0,
                         "target_account_id": None, "via_mention_id": None,
                         "created_at": e.created_at,
                         "created_ts": int(e.created_at.timestamp())} for e in b.edges])
            )  # fmt: skip
    return per_table


def raw_sqlite(path: Path, per_table: dict[str, list], tables: list[str]) -> tuple[float, float]:
    """Raw sqlite3 executemany into the migrated schema, one transaction per page."""
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with write_tx(engine) as conn:
        upsert_movement(conn, MOVEMENT)
    engine.dispose()
    db = sqlite3.connect(path, isolation_level=None)
    for pragma in storage.engine.SQLITE_PRAGMAS:  # exactly our engine's settings
        db.execute(f"PRAGMA {pragma}")
    sql = {}
    for t in tables:
        cols = per_table[t][0][0]
        marks = ",".join("?" * len(cols))
        sql[t] = f"INSERT INTO {t} ({','.join(cols)}) VALUES ({marks}) ON CONFLICT DO NOTHING"
    n_pages = len(per_table["mention"])

    def run() -> None:
        for p in range(n_pages):
            db.execute("BEGIN IMMEDIATE")
            for t in tables:
                if p < len(per_table[t]):
                    db.executemany(sql[t], per_table[t][p][1])
            db.execute("COMMIT")

    result = timed(run)
    db.close()
    return result


CALIBRATION_COLUMNS = (
    *("id", "platform", "native_id", "url", "account_id", "created_at", "created_ts"),
    *("created_hour", "text", "lang", "like_count", "repost_count", "reply_count"),
)


def raw_calibration(path: Path, per_table: dict[str, list], hashed: bool) -> tuple[float, float]:
    """DESIGN.md section 7's calibration on this machine, same run: raw `sqlite3` executemany
    of 13-column mention rows with `ON CONFLICT DO NOTHING` into a table with only its primary
    key, same pragmas, one transaction per page. `hashed`: our blake2b ids (inserts land on
    random B-tree pages); else sequential ids (appends). Against the all-columns, all-indexes
    baseline it says how much of the gap is the machine and how much the schema."""
    db = sqlite3.connect(path, isolation_level=None)
    for pragma in storage.engine.SQLITE_PRAGMAS:
        db.execute(f"PRAGMA {pragma}")
    cols = ", ".join(CALIBRATION_COLUMNS)
    db.execute(
        f"CREATE TABLE mention13 ({cols}, PRIMARY KEY (id))".replace("id,", "id INTEGER,", 1)
    )
    names, _ = per_table["mention"][0]
    pick = [names.index(c) for c in CALIBRATION_COLUMNS]
    pages_rows, seq = [], 0
    for _, rows in per_table["mention"]:
        page = []
        for r in rows:
            seq += 1
            row = [r[i] for i in pick]
            if not hashed:
                row[0] = seq
            page.append(tuple(row))
        pages_rows.append(page)
    marks = ",".join("?" * len(CALIBRATION_COLUMNS))
    sql = f"INSERT INTO mention13 ({cols}) VALUES ({marks}) ON CONFLICT DO NOTHING"

    def run() -> None:
        for rows in pages_rows:
            db.execute("BEGIN IMMEDIATE")
            db.executemany(sql, rows)
            db.execute("COMMIT")

    result = timed(run)
    db.close()
    return result


def raw_postgres(url: str, per_table: dict[str, list], copy: bool) -> tuple[float, float]:
    import psycopg

    engine, _, _ = prepare_store(url)
    engine.dispose()
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    cols = per_table["mention"][0][0]
    pages_rows = [rows for _, rows in per_table["mention"]]
    with psycopg.connect(dsn) as conn:
        conn.execute("TRUNCATE mention CASCADE")
        conn.commit()

        def run() -> None:
            with conn.cursor() as cur:
                for rows in pages_rows:
                    if copy:
                        with cur.copy(f"COPY mention ({','.join(cols)}) FROM STDIN") as cp:
                            for row in rows:
                                cp.write_row(row)
                    else:
                        marks = ",".join(["%s"] * len(cols))
                        cur.executemany(
                            f"INSERT INTO mention ({','.join(cols)}) VALUES ({marks}) "
                            "ON CONFLICT DO NOTHING",
                            rows,
                        )
                    conn.commit()

        return timed(run)


# -- main -----------------------------------------------------------------------------------


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:>10,.0f}/s"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100_000, help="mentions to ingest")
    ap.add_argument("--batch", type=int, default=1000, help="mentions per page/transaction")
    ap.add_argument(
        "--pg",
        default="postgresql://postgres@127.0.0.1:5432/test",
        help="PostgreSQL admin URL; a scratch database is created and dropped",
    )
    ap.add_argument("--no-pg", action="store_true")
    ap.add_argument("--no-sqlite", action="store_true", help="PostgreSQL figures only")
    ap.add_argument("--compare", metavar="REV", help="also measure git revision REV, alternated")
    ap.add_argument("--rounds", type=int, default=3, help="--compare: runs of each tree")
    ap.add_argument("--root", help=argparse.SUPPRESS)  # read before the imports, above
    ap.add_argument("--json", help=argparse.SUPPRESS)  # --compare: where a run leaves its figures
    args = ap.parse_args()
    if args.compare:
        compare(args)
        return

    mentions, edges = generate(args.n)
    batches = pages(mentions, edges, args.batch)
    per_table = baseline_rows(batches)
    n = args.n
    print(f"{n:,} mentions, {len(edges):,} edges, {n // 10:,} authors, pages of {args.batch}")
    print(f"{'':34}{'wall':>12}{'CPU':>14}")

    results: dict[str, tuple[float, float]] = {}
    if not args.no_sqlite:
        sqlite_part(n, batches, per_table, results)
    if not args.no_pg:
        postgres_part(n, args, batches, per_table, results)
    if args.json:
        Path(args.json).write_text(json.dumps(results), encoding="utf-8")


def compare(args: Any) -> None:
    """This tree against `args.compare`, each run in its own process, alternating the order."""
    import statistics
    import subprocess

    here = Path(__file__).resolve().parents[1]
    script = Path(__file__).resolve()
    passed = ["--n", str(args.n), "--batch", str(args.batch), "--pg", args.pg]
    passed += ["--no-pg"] * args.no_pg + ["--no-sqlite"] * args.no_sqlite
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "old"
        subprocess.run(
            ["git", "-C", str(here), "worktree", "add", "--detach", "-q", str(old), args.compare],
            check=True,
        )
        runs: dict[str, list[dict[str, list[float]]]] = {"old": [], "new": []}
        try:
            for r in range(args.rounds):
                order = [("old", old), ("new", here)]
                for label, root in order if r % 2 == 0 else order[::-1]:
                    out = Path(tmp) / f"{label}{r}.json"
                    cmd = [sys.executable, str(script), *passed, "--json", str(out)]
                    cmd += ["--root", str(root)]
                    print(f"round {r + 1}: {label} ({root})", flush=True)
                    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
                    runs[label].append(json.loads(out.read_text(encoding="utf-8")))
        finally:
            subprocess.run(
                ["git", "-C", str(here), "worktree", "remove", "--force", str(old)], check=False
            )
    n = args.n
    print(
        f"\n{n:,} mentions, pages of {args.batch}, {args.rounds} rounds alternated; old = "
        f"{args.compare}; medians, mentions/s (CPU of the benchmark process; wall for PG)"
    )
    print(f"{'':44}{'old':>12}{'new':>12}{'new/old':>9}")

    def med(label: str, key: str, i: int) -> float | None:
        vals = [run[key][i] for run in runs[label] if key in run]
        return statistics.median(vals) if vals else None

    keys = sorted({k for run in runs["old"] + runs["new"] for k in run})
    for key in keys:
        i = 0 if key.startswith("postgresql") else 1
        o, w = med("old", key, i), med("new", key, i)
        cell = lambda v: f"{n / v:>12,.0f}" if v else f"{'-':>12}"  # noqa: E731
        ratio = f"{o / w:>8.2f}x" if o and w else f"{'':>9}"
        print(f"{key:44}{cell(o)}{cell(w)}{ratio}")
    for label in ("old", "new"):
        ours_c = med(label, "sqlite ours: write_batch", 1)
        raw_c = med(label, "sqlite raw executemany: all rows", 1)
        if ours_c and raw_c:
            print(
                f"{label}: ours / raw executemany of all rows (DESIGN.md 7, >= 50%): "
                f"{raw_c / ours_c:.0%} CPU; {n / ours_c:,.0f} mentions/s (>= 4,500)"
            )
        only = med(label, "sqlite ours: write only (matched before)", 1)
        if only and raw_c:
            print(
                f"{label}: the store's share alone (pages matched before): "
                f"{raw_c / only:.0%} of raw all rows; {n / only:,.0f} mentions/s"
            )


def sqlite_part(n: int, batches: list[Batch], per_table: dict, results: dict) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cal_seq = raw_calibration(Path(tmp) / "cal1.db", per_table, hashed=False)
        cal_hash = raw_calibration(Path(tmp) / "cal2.db", per_table, hashed=True)
        raw_m = raw_sqlite(Path(tmp) / "raw1.db", per_table, ["mention"])
        raw_all = raw_sqlite(
            Path(tmp) / "raw2.db",
            per_table,
            ["account", "mention", "mention_payload", "mention_match", "amplification"],
        )
        wall, cpu, stored = ours(f"sqlite:///{Path(tmp) / 'ours.db'}", batches)
        assert stored == n, f"stored {stored} of {n}"
        if match_batch is not None:
            only = ours(f"sqlite:///{Path(tmp) / 'only.db'}", batches, write_only=True)
            assert only[2] == n, f"stored {only[2]} of {n}"
            results["sqlite ours: write only (matched before)"] = only[:2]
    results["calibration: 13 cols, sequential ids"] = cal_seq
    results["calibration: 13 cols, hashed ids"] = cal_hash
    results["sqlite raw executemany: mention rows"] = raw_m
    results["sqlite raw executemany: all rows"] = raw_all
    results["sqlite ours: write_batch"] = (wall, cpu)
    for name, (w, c) in sorted(results.items()):
        print(f"{name:34}{rate(n, w)}{rate(n, c)}")
    print(f"ratio ours / raw mention rows: {raw_m[0] / wall:.0%} wall, {raw_m[1] / cpu:.0%} CPU ")
    print(
        f"ratio ours / raw all rows:     {raw_all[0] / wall:.0%} wall, {raw_all[1] / cpu:.0%} CPU "
        "(goal >= 50%)"
    )
    print(f"ours on SQLite: {n / wall:,.0f} mentions/s wall, {n / cpu:,.0f}/s CPU (goal >= 4,500)")
    print(
        f"calibration (DESIGN.md: ~95,000/s for 13 columns): {n / cal_seq[1]:,.0f}/s CPU here; "
        f"hashed ids {n / cal_hash[1]:,.0f}/s; 31 columns + indexes {n / raw_m[1]:,.0f}/s"
    )


def _truncate(url: str) -> None:
    import psycopg

    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        conn.execute(
            "TRUNCATE mention, account, mention_match, rollup_hourly, movement_author, "
            "amplification, mention_payload, mention_seen CASCADE"
        )


def postgres_part(n: int, args: Any, batches: list[Batch], per_table: dict, results: dict) -> None:
    import psycopg

    import storage.bulk

    admin = args.pg.replace("postgresql+psycopg://", "postgresql://")
    name = f"gs_bench_{secrets.token_hex(4)}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + "/" + name
    try:
        pg_exec = raw_postgres(url, per_table, copy=False)
        pg_copy = raw_postgres(url, per_table, copy=True)
        # Before/after in the same run: the executemany path (COPY switched off), then COPY.
        copy_min = storage.bulk.COPY_MIN_ROWS
        storage.bulk.COPY_MIN_ROWS = 10**12
        _truncate(url)
        ew, ec, stored = ours(url, batches)
        assert stored == n, f"stored {stored} of {n}"
        storage.bulk.COPY_MIN_ROWS = copy_min
        _truncate(url)
        pw, pc, stored = ours(url, batches)
        assert stored == n, f"stored {stored} of {n}"
        two_wall = two_workers(url, args.n, args.batch)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    for label, (w, c) in (
        ("postgresql psycopg executemany", pg_exec),
        ("postgresql psycopg COPY", pg_copy),
        ("postgresql ours, executemany path", (ew, ec)),
        ("postgresql ours: write_batch", (pw, pc)),
    ):
        print(f"{label:34}{rate(n, w)}{rate(n, c)}")
    print(
        f"ratio ours / executemany: {pg_exec[0] / pw:.0%} wall; ours / COPY: {pg_copy[0] / pw:.0%}"
    )
    print(f"ours on PostgreSQL: {n / pw:,.0f} mentions/s wall (goal >= 4,500)")
    results["postgresql ours: write_batch"] = (pw, pc)
    results["postgresql psycopg executemany"] = pg_exec
    print(f"COPY path / executemany path: {ew / pw:.2f}x wall, {ec / pc:.2f}x CPU")
    print(
        f"two workers on disjoint sources: {n / two_wall:,.0f} mentions/s wall, "
        f"{pw / two_wall:.2f}x one worker (goal >= 1.6x; this machine has 2 cores for the "
        "workers, the server and everyone else)"
    )


def _worker(url: str, n: int, size: int, half: int, barrier: Any, results: Any) -> None:
    mentions, edges = generate(n)
    mine = pages(mentions, edges, size)[half::2]
    engine = make_engine(url)
    with engine.connect() as conn:
        rules = load_rules(conn)
        source_id = conn.exec_driver_sql(
            f"SELECT id FROM source WHERE key = 'bench-{half}'"
        ).scalar()
    barrier.wait()
    started = time.perf_counter()
    for b in mine:
        with write_tx(engine) as conn:
            write_batch(conn, b, rules, source_id=source_id)
    results.put(time.perf_counter() - started)
    engine.dispose()


def two_workers(url: str, n: int, size: int) -> float:
    """Wall seconds for two processes writing alternate pages (two sources) at once."""
    import multiprocessing as mp

    import psycopg

    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        conn.execute(
            "TRUNCATE mention, account, mention_match, rollup_hourly, movement_author, "
            "amplification, mention_payload, mention_seen CASCADE"
        )
    engine = make_engine(url)
    with write_tx(engine) as conn:
        sync_sources(
            conn, [SourceSpec(f"bench-{h}", "mastodon", "hashtag", {}, 60) for h in (0, 1)]
        )
    engine.dispose()
    ctx = mp.get_context("fork")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(url, n, size, h, barrier, results)) for h in (0, 1)]
    for p in procs:
        p.start()
    times = [results.get(timeout=3600) for _ in procs]
    for p in procs:
        p.join()
    return max(times)


if __name__ == "__main__":
    main()
