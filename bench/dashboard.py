"""Dashboard query benchmark (DESIGN.md section 7; issue 5).

Generates a realistic store (default 1,000,000 mentions over 90 days on SQLite; `--postgres URL`
for PostgreSQL), then runs every page's queries, exactly the named query functions the pages
call, for typical filters (last 7 days, last 30 days on two platforms, an event window, today,
the last hour), uncached, and prints p50/p95 per page against the goals, the process's peak
memory, and ratios against a baseline measured in the same run: the naive per-hour GROUP BY
over the raw mention table for the same 7 days (what the rollups and covering indexes replace).

Bulk data goes in with plain executemany (SQLite) or COPY (PostgreSQL), not through the ORM, in
a child process, so the parent's peak memory is the dashboard's alone.

    python bench/dashboard.py                         # 1M mentions, SQLite, temp file
    python bench/dashboard.py --mentions 200000 --plans
    python bench/dashboard.py --db /tmp/b.db --reuse --per-query   # where each page's time goes
    python bench/dashboard.py --postgres postgresql://postgres@127.0.0.1:5432/bench \
        --mentions 10000000
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import Connection, Engine, event, text  # noqa: E402

from dashboard.heap import freeze_start_up_heap  # noqa: E402
from storage.cascades import rebuild as rebuild_cascades  # noqa: E402
from storage.engine import make_engine  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.queries import amplifiers, events, overview, shares, spread  # noqa: E402
from storage.queries.scope import (  # noqa: E402
    Scope,
    data_span,
    list_events,
    list_movements,
    pick_bucket,
    tune_for_dashboard,
)
from storage.shares import stored_share_keys  # noqa: E402

DAY = 86400
PLATFORM_WEIGHTS = {
    "bluesky": 0.46,
    "mastodon": 0.44,
    "blog": 0.05,
    "pingback": 0.03,
    "webmention": 0.02,
}
GOAL_SQLITE_MS = 250
GOAL_PG_MS = 1000
GOAL_MB = 500

# --- generation (child process) ----------------------------------------------------------


def _events(now: int, days: int) -> list[tuple[str, str, int, int]]:
    """A two-day assembly, webinars and sessions spread over the period."""
    out = [("assembly", "Citizen Assembly", now - 12 * DAY + 9 * 3600, now - 11 * DAY + 17 * 3600)]
    for k in range(1, 8):
        s = now - int(days * DAY * k / 8) + 14 * 3600
        out.append((f"webinar-{k}", f"Webinar {k}", s, s + 3600))
    out.append(("today-session", "Today's session", now - 3 * 3600, now - 2 * 3600))
    return out


def _rollup_backfill() -> tuple[str, ...]:
    """Migrations 0011-0013, 0023, 0026, 0028 and 0057-0061: recomputation of the dashboard
    rollups from the rows. Not 0020: `generate` writes each match's `prev_ts` itself (0020's
    UPDATE of every match row was most of a 10M generation: 35 of 48 minutes at load 3-4)."""
    import importlib.util

    out: list[str] = []
    names = ("0011_dashboard_rollups", "0012_dashboard_edges", "0013_dashboard_days")
    later = (
        "0023_amplifier_periods",
        "0026_instance_hours",
        "0028_people_cells",
        "0057_amplifier_days",
        "0058_linked_days",
        "0059_linked_authors",
        "0060_linked_hours",
        "0061_people_hours",
    )
    for name in (*names, *later):
        path = ROOT / f"storage/migrations/versions/{name}.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec and spec.loader
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        out.extend(mod.BACKFILL)
    return tuple(out)


def _shared(rng: random.Random) -> tuple[str | None, str]:
    """A mention's links and hashtags (JSON text), shaped like a campaign's: about 40% link
    somewhere, to a few thousand sites whose popularity is heavily skewed, some pages
    spelled with tracking parameters; each carries the movement's tag and 0-3 others from a
    skewed vocabulary of 5,000."""
    links = []
    for _ in range(2 if rng.random() < 0.05 else 1 if rng.random() < 0.35 else 0):
        site = int(3000 * rng.random() ** 3)
        page = int(400 * rng.random() ** 4) if rng.random() < 0.7 else rng.randrange(10**9)
        utm = "?utm_source=share&utm_medium=social" if rng.random() < 0.3 else ""
        links.append(f'"https://site{site}.example/p/{page}{utm}"')
    tags = ['"NHSCitizen"'] + [
        f'"tag{int(5000 * rng.random() ** 3)}"' for _ in range(rng.choice((0, 1, 1, 2, 3)))
    ]
    return ("[" + ", ".join(links) + "]" if links else None), "[" + ", ".join(tags) + "]"


_SHARE_COLS = "movement_id, kind, %s, platform, value, n"


class _TravelCounts:
    """What travels with the conversation (storage/shares.py), counted as the matches are
    generated instead of by `storage.shares.rebuild` afterwards: at 10M mentions the rebuild's
    2,000 chunks of upserts took about 70 minutes on PostgreSQL, longer than the rows. The
    matches arrive in time order, so an hour's (and a day's) counts are final once a later
    hour (day) begins and can be written then; only the totals stay in memory to the end.
    The same keys as the write path (`stored_share_keys`); tests/test_bench_dashboard_store.py
    compares the result with a rebuild."""

    def __init__(self) -> None:
        self._hour: Counter[tuple[Any, ...]] = Counter()
        self._day: Counter[tuple[Any, ...]] = Counter()
        self._total: Counter[tuple[Any, ...]] = Counter()
        self._hours_done: list[tuple[Any, ...]] = []
        self._days_done: list[tuple[Any, ...]] = []
        self._now_hour = self._now_day = -1

    def add(self, mv: int, platform: str, ts: int, keys: tuple[tuple[str, str], ...]) -> None:
        hour, day = ts // 3600, ts // 86400
        if hour != self._now_hour:
            assert hour > self._now_hour, "matches must arrive in time order"
            self._flush(self._hour, self._hours_done)
            self._now_hour = hour
        if day != self._now_day:
            self._flush(self._day, self._days_done)
            self._now_day = day
        for kind, value in keys:
            self._hour[(mv, kind, hour, platform, value)] += 1
            self._day[(mv, kind, day, platform, value)] += 1
            self._total[(mv, kind, value)] += 1

    @staticmethod
    def _flush(counts: Counter[tuple[Any, ...]], done: list[tuple[Any, ...]]) -> None:
        done.extend((*k, n) for k, n in counts.items())
        counts.clear()

    def close(self) -> None:
        self._flush(self._hour, self._hours_done)
        self._flush(self._day, self._days_done)

    def take_hours(self) -> list[tuple[Any, ...]]:
        out, self._hours_done = self._hours_done, []
        return out

    def take_days(self) -> list[tuple[Any, ...]]:
        out, self._days_done = self._days_done, []
        return out

    def totals(self) -> list[tuple[Any, ...]]:
        return [(*k, n) for k, n in self._total.items()]


def generate(url: str, n: int, days: int, seed: int, now: int, linked: float = 0.03) -> None:
    rng = random.Random(seed)
    engine = make_engine(url)
    upgrade(engine)
    pg = engine.dialect.name == "postgresql"
    evs = _events(now, days)
    start = now - days * DAY
    n_accounts = max(100, n // 10)
    instances = [f"inst{i}.social" for i in range(300)]
    platforms = list(PLATFORM_WEIGHTS)
    weights = list(PLATFORM_WEIGHTS.values())
    accounts = []
    acc_platform = []
    for i in range(n_accounts):
        p = rng.choices(platforms, weights)[0]
        inst = instances[int(300 * rng.random() ** 2.5)] if p == "mastodon" else None
        if p in ("blog", "pingback", "webmention"):
            inst = f"blog{i % 2000}.example"
        native = (
            f"user{i}@{inst}" if p == "mastodon" else f"did:plc:{i}" if p == "bluesky" else inst
        )
        noindex = rng.random() < 0.02
        accounts.append(
            [i + 1, p, f"{native}#{i}", f"handle{i}", f"Person {i}", inst, noindex, i + 1]
        )
        acc_platform.append(p)
    # Persons (issue 20): `linked` of the accounts belong to groups of two or three accounts
    # (a person's id is the group's smallest account id); the rest are their own person.
    free = list(range(1, n_accounts + 1))
    rng.shuffle(free)
    while len(free) > 3 and (n_accounts - len(free)) < linked * n_accounts:
        group = [free.pop() for _ in range(rng.choice((2, 2, 3)))]
        for acc in group:
            accounts[acc - 1][7] = min(group)

    # Timestamps: 80% spread, 15% in events, 5% in the last day; sorted so parents precede.
    ts = []
    for _ in range(n):
        r = rng.random()
        if r < 0.15:
            e = evs[0] if rng.random() < 0.6 else rng.choice(evs)
            ts.append(rng.randint(e[2], e[3] - 1))
        elif r < 0.20:
            ts.append(rng.randint(now - DAY, now - 1))
        else:
            ts.append(rng.randint(start, now - 1))
    ts.sort()

    def fmt(t: int) -> Any:
        d = datetime.fromtimestamp(t, UTC)
        return d if pg else d.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")

    mention_cols = (
        "id, platform, native_id, url, account_id, created_at, created_ts, created_hour, text, "
        "instance, reply_to_id, quote_of_id, like_count, repost_count, reply_count, quote_count, "
        "sensitive, links, hashtags"
    )
    match_cols = "movement_id, mention_id, via, platform, account_id, created_ts, prev_ts"
    amp_cols = (
        "id, kind, platform, source_account_id, target_mention_id, target_account_id, "
        "via_mention_id, created_at, created_ts"
    )
    hourly: dict[tuple[int, str, int], int] = defaultdict(int)
    authors: dict[tuple[int, int], list[Any]] = {}
    travels = _TravelCounts()
    raw = engine.raw_connection()
    cur = raw.cursor()

    def begin() -> None:
        if not pg:  # the engine runs pysqlite in autocommit mode; batch each chunk explicitly
            cur.execute("BEGIN")

    begin()
    if pg:
        cur.execute(
            "INSERT INTO movement (id, slug, name, hashtags, terms, urls) VALUES "
            "(1, 'nhscitizen', 'NHS Citizen', '[]', '[]', '[]'), "
            "(2, 'changeday', 'NHS Change Day', '[]', '[]', '[]')"
        )
    else:
        cur.execute(
            "INSERT INTO movement (id, slug, name, hashtags, terms, urls) VALUES "
            "(1, 'nhscitizen', 'NHS Citizen', '[]', '[]', '[]'), "
            "(2, 'changeday', 'NHS Change Day', '[]', '[]', '[]')"
        )
    for slug, name, s, e in evs:
        cur.execute(
            "INSERT INTO event (slug, name, movement_id, starts_at, ends_at, timezone, hashtags, "
            "origin) VALUES (%s, %s, 1, %s, %s, 'Europe/London', '[]', 'bench')".replace(
                "%s", "%s" if pg else "?"
            ),
            (slug, name, fmt(s), fmt(e)),
        )

    def put(table: str, cols: str, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        if pg:
            with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as cp:
                for r in rows:
                    cp.write_row(r)
        else:
            marks = ", ".join("?" * len(cols.split(",")))
            cur.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", rows)

    put(
        "account",
        "id, platform, native_id, handle, display_name, instance, noindex, person_id",
        [tuple(a) for a in accounts],
    )
    chunk = 100_000
    edge_id = 0
    for lo in range(0, n, chunk):
        mentions, matches, edges = [], [], []
        for i in range(lo, min(n, lo + chunk)):
            mid = i + 1
            t = ts[i]
            acc = 1 + int(n_accounts * rng.random() ** 2.2)
            p = acc_platform[acc - 1]
            reply_to = quote_of = None
            if i > 10 and rng.random() < 0.12:
                reply_to = max(1, mid - 1 - int(rng.expovariate(1 / 200)))
            elif i > 10 and rng.random() < 0.03:
                quote_of = max(1, mid - 1 - int(rng.expovariate(1 / 500)))
            likes = int(rng.paretovariate(1.3)) - 1
            links, tags = _shared(rng)
            keys = stored_share_keys(links, tags)
            mentions.append(
                (mid, p, f"{p}:{mid}", f"https://ex.org/{mid}", acc, fmt(t), t, t // 3600,
                 f"Post {mid} #NHSCitizen", accounts[acc - 1][5], reply_to, quote_of,
                 likes, likes // 3, int(rng.random() < 0.2), int(rng.random() < 0.05),
                 False, links, tags)
            )  # fmt: skip
            for mv in (1, 2) if rng.random() < 0.15 else (1,):
                # prev_ts (migration 0020, storage/match_chain.py): the same author's previous
                # match on the platform in (created_ts, mention_id) order, which is the order
                # generated here (an account posts on its own platform only): its latest so far.
                a = authors.get((mv, acc))
                matches.append((mv, mid, "hashtag", p, acc, t, None if a is None else a[2]))
                travels.add(mv, p, t, keys)
                hourly[(mv, p, t // 3600)] += 1
                if a is None:
                    authors[(mv, acc)] = [p, t, t, 1]
                else:
                    a[2] = t
                    a[3] += 1
            for _ in range(min(40, int(rng.paretovariate(1.6)) - 1) if rng.random() < 0.3 else 0):
                edge_id += 1
                kind = rng.choices(("repost", "boost", "quote", "link"), (5, 4, 0.5, 0.5))[0]
                src = 1 + int(n_accounts * rng.random() ** 1.5)
                et = min(now - 1, t + int(rng.expovariate(1 / 7200)))
                edges.append((edge_id, kind, p, src, mid, acc, None, fmt(et), et))
            if reply_to is not None:
                edge_id += 1
                edges.append((edge_id, "reply", p, acc, reply_to, None, mid, fmt(t), t))
        put("mention", mention_cols, mentions)
        put("mention_match", match_cols, matches)
        put("amplification", amp_cols, edges)
        put("movement_share_day", _SHARE_COLS % "day", travels.take_days())
        put("movement_share_hour", _SHARE_COLS % "hour", travels.take_hours())
        raw.commit()
        begin()
        print(f"  generated {min(n, lo + chunk):,} mentions, {edge_id:,} edges", flush=True)
    travels.close()
    put("movement_share_day", _SHARE_COLS % "day", travels.take_days())
    put("movement_share_hour", _SHARE_COLS % "hour", travels.take_hours())
    put("movement_share_total", "movement_id, kind, value, n", travels.totals())
    put(
        "rollup_hourly",
        "movement_id, platform, hour, mentions",
        [(mv, p, h, c) for (mv, p, h), c in hourly.items()],
    )
    put(
        "movement_author",
        "movement_id, account_id, platform, first_ts, last_ts, mentions",
        [(mv, acc, v[0], v[1], v[2], v[3]) for (mv, acc), v in authors.items()],
    )
    if pg:
        # The backfills' DISTINCT and GROUP BY run over every match and edge row (11.5M and
        # 4.5M at 10M mentions): with the server's default 4 MB of work_mem each sorted on
        # disk, and the backfill took longer than the rows (docs/benchmarks/dashboard.md,
        # "second attempt"). This session only; the server's settings are left alone.
        cur.execute("SET work_mem = '1GB'")
        cur.execute("SET maintenance_work_mem = '1GB'")
    for sql in _rollup_backfill():  # the dashboard rollups of migration 0011, from the rows
        cur.execute(sql)
    raw.commit()
    with engine.begin() as conn:  # the cascades, measured once (migration 0027's backfill)
        if pg:
            conn.exec_driver_sql("SET LOCAL work_mem = '1GB'")
        rebuild_cascades(conn)
    if pg:
        # Index-only scans need the visibility map that VACUUM sets (autovacuum would, later).
        raw.driver_connection.autocommit = True
        cur = raw.driver_connection.cursor()
        cur.execute("VACUUM ANALYZE")
    else:
        cur.execute("ANALYZE")
        raw.commit()
    raw.close()
    engine.dispose()


# --- the pages' queries ------------------------------------------------------------------

PageFn = Callable[[Connection, Scope, dict[str, Any]], None]


def _linked(conn: Connection, s: Scope, ctx: dict[str, Any]) -> dict[str, Any]:
    """`linked=`: the page's one view of the linked accounts, read here as the dashboard reads
    it once per scope (`dashboard/data.py`); nothing for code before that view or `--by none`."""
    from storage.queries import persons

    if ctx.get("by", "person") == "none" or not hasattr(persons, "linked_view"):
        return {}
    return {"linked": persons.linked_view(conn, s)}


def _overview(conn: Connection, s: Scope, ctx: dict[str, Any]) -> None:
    list_movements(conn)
    list_events(conn, s.movement_id)
    data_span(conn, s.movement_id)
    linked = _linked(conn, s, ctx)
    overview.headline_with_change(conn, s, **linked)
    overview.volume_by_platform(conn, s, pick_bucket(s.seconds))
    overview.top_posts(conn, s, limit=10)
    shares.travels(conn, s, limit=10)
    _last_hour(conn, s, ctx, linked)


def _spread(conn: Connection, s: Scope, ctx: dict[str, Any]) -> None:
    b = pick_bucket(s.seconds)
    linked = _linked(conn, s, ctx)
    overview.volume_by_platform(conn, s, b)
    spread.cumulative_authors(conn, s, b, **_by(ctx.get("by", "person")), **linked)
    spread.footprint(conn, s, b)
    spread.first_appearance(conn, s)
    if ctx.get("by", "person") != "none":
        from storage.queries import persons

        persons.carriers(conn, s, **linked)
    spread.cascades(conn, s, top=3)


def _amplifiers(conn: Connection, s: Scope, ctx: dict[str, Any]) -> None:
    by = ctx.get("by", "person")  # the page's default since issue 20
    linked = _linked(conn, s, ctx)
    amplifiers.summary(conn, s, limit=20, max_nodes=120, **_by(by), **linked)
    amplifiers.new_voices_per_day(conn, s, **_by(by), **linked)
    amplifiers.widening(conn, s, bucket_s=86400, **_by(by), **linked)


def _by(by: str) -> dict[str, str]:
    """`by=` for code that has it (this file also measures the code before issue 20)."""
    return {} if by == "none" else {"by": by}


def _events_page(conn: Connection, s: Scope, ctx: dict[str, Any]) -> None:
    evs = list_events(conn, s.movement_id)
    events.compare_events(conn, s.movement_id, s.platforms)
    e = ctx["event"]
    events.hourly_around(conn, s.movement_id, e, s.platforms)
    overview.top_posts(conn, s.shifted(e["start_ts"], e["end_ts"]), limit=10)
    assert evs


# The heavier named queries one by one (`--per-query`): where each page's time goes. The
# person counts take the scope's view as the pages do (`x["linked"]`, read once per filter
# outside the timing; the view's own cost is its line).
QUERIES: dict[str, PageFn] = {
    "linked view (persons)": lambda c, s, x: _linked(c, s, x),
    "headline (now + previous)": lambda c, s, x: overview.headline_with_change(
        c, s, **x.get("linked", {})
    ),
    "volume by platform": lambda c, s, x: overview.volume_by_platform(c, s, pick_bucket(s.seconds)),
    "top posts": lambda c, s, x: overview.top_posts(c, s, limit=10),
    "what travels (shares)": lambda c, s, x: shares.travels(c, s, limit=10),
    "last hour (overview)": lambda c, s, x: _last_hour(c, s, x, x.get("linked")),
    "cumulative authors": lambda c, s, x: spread.cumulative_authors(
        c, s, pick_bucket(s.seconds), **_by(x.get("by", "person")), **x.get("linked", {})
    ),
    "footprint": lambda c, s, x: spread.footprint(c, s, pick_bucket(s.seconds)),
    "first appearance": lambda c, s, x: spread.first_appearance(c, s),
    "carriers (persons)": lambda c, s, x: _carriers(c, s, x),
    "cascades": lambda c, s, x: spread.cascades(c, s, top=3),
    "amplifiers summary": lambda c, s, x: amplifiers.summary(
        c, s, limit=20, max_nodes=120, **_by(x.get("by", "person")), **x.get("linked", {})
    ),
    "new voices per day": lambda c, s, x: amplifiers.new_voices_per_day(
        c, s, **_by(x.get("by", "person")), **x.get("linked", {})
    ),
    "widening": lambda c, s, x: amplifiers.widening(
        c, s, bucket_s=86400, **_by(x.get("by", "person")), **x.get("linked", {})
    ),
}


def _carriers(conn: Connection, s: Scope, ctx: dict[str, Any]) -> None:
    if ctx.get("by", "person") != "none":
        from storage.queries import persons

        persons.carriers(conn, s, **ctx.get("linked", {}))


def _last_hour(
    conn: Connection, s: Scope, ctx: dict[str, Any], linked: dict[str, Any] | None = None
) -> None:
    """The Overview's last-hour block, with the page's view of the linked accounts when given
    (the dashboard caches the view per movement, so the block shares the page's)."""
    hour = Scope(s.movement_id, ctx["now"] - 3600, ctx["now"], s.platforms)
    if linked is None:
        linked = _linked(conn, hour, ctx)
    overview.headline_with_change(conn, hour, **linked)
    overview.first_seen_places(conn, hour)
    overview.new_voices(conn, hour, limit=10, **linked)


PAGES: dict[str, PageFn] = {
    "overview": _overview,
    "spread": _spread,
    "amplifiers": _amplifiers,
    "events": _events_page,
}


def baseline(conn: Connection, s: Scope) -> None:
    """The naive query the rollups replace: per-hour counts by platform from raw mentions."""
    conn.execute(
        text(
            "SELECT m.created_hour, m.platform, count(*) FROM mention m "
            "JOIN mention_match mm ON mm.mention_id = m.id AND mm.movement_id = :mv "
            "WHERE m.created_at >= :a AND m.created_at < :b GROUP BY m.created_hour, m.platform"
        ),
        {
            "mv": s.movement_id,
            "a": datetime.fromtimestamp(s.start_ts, UTC).replace(tzinfo=None),
            "b": datetime.fromtimestamp(s.end_ts, UTC).replace(tzinfo=None),
        },
    ).all()


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))]


def explain(engine: Engine, statements: list[tuple[str, Any]]) -> list[str]:
    out = []
    pg = engine.dialect.name == "postgresql"
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        seen = set()
        for sql, params in statements:
            if sql in seen or not sql.lstrip().upper().startswith(("SELECT", "WITH")):
                continue
            seen.add(sql)
            cur = raw.cursor()
            try:
                if pg:
                    cur.execute("EXPLAIN " + sql, params)
                    plan = [r[0] for r in cur.fetchall()]
                else:
                    cur.execute("EXPLAIN QUERY PLAN " + sql, params)
                    plan = [r[-1] for r in cur.fetchall()]
            except Exception as exc:
                plan = [f"(no plan: {exc})"]
            bad = [p for p in plan if ("SCAN mention" in p and "USING" not in p) or
                   "Seq Scan on mention " in p]  # fmt: skip
            flag = "  <-- FULL SCAN OF mention" if bad else ""
            out.append(" ".join(sql.split())[:160] + flag)
            out.extend("      " + p for p in plan)
    return out


def per_query(engine: Engine, filters: dict[str, Scope], ctx: dict[str, Any]) -> None:
    """Each heavy query's CPU ms (this process: Python) and wall ms (with the database's time),
    best of 3 after a warm-up, person counts with the filter's view as the pages hand it."""
    print("\nper query, best of 3 after a warm-up, CPU ms / wall ms:")
    print(f"{'query':<27}" + "".join(f"{f[:13]:>14}" for f in filters))
    with engine.connect() as conn:
        linked = {name: _linked(conn, scope, ctx) for name, scope in filters.items()}
        for name, qfn in QUERIES.items():
            row = []
            for fname, scope in filters.items():
                x = {**ctx, "linked": linked[fname]}
                qfn(conn, scope, x)
                best_cpu = best_wall = float("inf")
                for _ in range(3):
                    t0, c0 = time.perf_counter(), time.process_time()
                    qfn(conn, scope, x)
                    best_cpu = min(best_cpu, (time.process_time() - c0) * 1000)
                    best_wall = min(best_wall, (time.perf_counter() - t0) * 1000)
                row.append(f"{best_cpu:.0f}/{best_wall:.0f}")
            print(f"{name:<27}" + "".join(f"{v:>14}" for v in row))


def analyze(engine: Engine, fn: PageFn, scope: Scope, ctx: dict[str, Any], top: int) -> list[str]:
    """The page's statements for one filter by the database's own execution time: each SELECT
    the page ran (after a warm-up run) under `EXPLAIN (ANALYZE, BUFFERS)` on a dashboard
    session, the `top` slowest with their plan's root and buffer counts. Separates the
    server's time from the process's when the machine's load makes wall times noisy.
    Statements through a server-side cursor (`stream_rows`) are not seen."""
    import json

    captured: list[tuple[str, Any]] = []

    def capture(_c: Any, _cur: Any, statement: str, parameters: Any, *_: Any) -> None:
        captured.append((statement, parameters))

    with engine.connect() as conn:
        fn(conn, scope, ctx)
        event.listen(engine, "before_cursor_execute", capture)
        try:
            fn(conn, scope, ctx)
        finally:
            event.remove(engine, "before_cursor_execute", capture)
        conn.rollback()
        raw = conn.connection.driver_connection
        timed: list[tuple[float, float, str, str]] = []
        for sql, params in captured:
            if not sql.lstrip().upper().startswith(("SELECT", "WITH")):
                continue
            with raw.cursor() as cur:
                try:
                    cur.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql, params)
                    doc = cur.fetchone()[0]
                    doc = json.loads(doc) if isinstance(doc, str) else doc
                except Exception as exc:  # a temporary table gone, a driver-only form
                    raw.rollback()
                    timed.append((0.0, 0.0, " ".join(sql.split())[:150], f"(no plan: {exc})"))
                    continue
            root = doc[0]["Plan"]
            node = (
                f"{root['Node Type']} rows={root.get('Actual Rows')} "
                f"hit={root.get('Shared Hit Blocks', 0)} read={root.get('Shared Read Blocks', 0)}"
                f" temp={root.get('Temp Written Blocks', 0)}"
            )
            timed.append(
                (doc[0]["Execution Time"], doc[0]["Planning Time"], " ".join(sql.split()), node)
            )
        raw.rollback()
    total = sum(t[0] + t[1] for t in timed)
    out = [f"{len(timed)} statements, server {total:.0f} ms (execution + planning)"]
    for ex, pl, sql, node in sorted(timed, reverse=True)[:top]:
        out.append(f"  {ex:8.1f} ms (+{pl:.1f} planning)  {node}")
        out.append(f"      {sql[:300]}")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--mentions", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--repeat", type=int, default=15, help="runs per page and filter")
    ap.add_argument("--postgres", metavar="URL", help="benchmark this PostgreSQL database")
    ap.add_argument("--db", help="SQLite file to (re)use; generated if missing")
    ap.add_argument("--reuse", action="store_true", help="do not regenerate an existing store")
    ap.add_argument("--plans", action="store_true", help="print each page query's plan")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument(
        "--per-query", action="store_true", help="also print each heavy query's CPU ms (best of 3)"
    )
    ap.add_argument(
        "--analyze",
        type=int,
        nargs="?",
        const=5,
        default=0,
        metavar="N",
        help="PostgreSQL: each page and filter's N slowest statements by the server's own "
        "time (EXPLAIN ANALYZE, BUFFERS)",
    )
    ap.add_argument(
        "--linked",
        type=float,
        default=0.03,
        help="share of accounts in persons of 2-3 accounts (generation; issue 20)",
    )
    ap.add_argument(
        "--by",
        choices=("person", "account", "none"),
        default="person",
        help="Amplifiers/Spread by person (the pages' default) or account; none: code before "
        "issue 20",
    )
    args = ap.parse_args()

    now = int(time.time()) // 60 * 60
    if args.postgres:
        url = args.postgres.replace("postgresql://", "postgresql+psycopg://", 1)
        goal = GOAL_PG_MS
    else:
        path = Path(args.db or Path(tempfile.mkdtemp()) / "bench.db")
        url = f"sqlite:///{path}"
        goal = GOAL_SQLITE_MS
    engine = make_engine(url)
    fresh = not args.reuse
    if args.reuse:
        upgrade(engine)  # pick up new indexes and rollups (0007, 0011-0013) on a reused store
        with engine.connect() as conn:  # fresh statistics (and PG's visibility map) for them
            if engine.dialect.name == "postgresql":
                conn.connection.driver_connection.autocommit = True
                conn.exec_driver_sql("VACUUM ANALYZE")
                conn.connection.driver_connection.autocommit = False
            else:
                conn.exec_driver_sql("ANALYZE")
                conn.commit()
        with engine.connect() as conn:
            try:
                n = conn.execute(text("SELECT count(*) FROM mention")).scalar()
                now = int(conn.execute(text("SELECT max(created_ts) FROM mention")).scalar()) + 60
                print(f"reusing {n:,} mentions")
            except Exception:
                fresh = True
    if fresh:
        if args.postgres:
            with engine.connect() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
                conn.commit()
        elif path.exists():
            path.unlink()
        engine.dispose()
        print(f"generating {args.mentions:,} mentions over {args.days} days in {url} ...")
        t0 = time.perf_counter()
        proc = mp.get_context("spawn").Process(
            target=generate, args=(url, args.mentions, args.days, args.seed, now, args.linked)
        )
        proc.start()
        proc.join()
        if proc.exitcode:
            print("generation failed", file=sys.stderr)
            return 1
        print(f"generated in {time.perf_counter() - t0:.0f} s")
        engine = make_engine(url)
    # The same session settings as the dashboard's, on every connection: the pool's connection
    # from the migration and VACUUM above would otherwise be measured without them.
    engine.dispose()
    engine = tune_for_dashboard(engine)
    # As the dashboard process does after its first page (dashboard/heap.py): what is alive
    # now (modules, the engine) is left out of the collector's full passes.
    freeze_start_up_heap()

    with engine.connect() as conn:
        mv = list_movements(conn)[0]["id"]
        evs = list_events(conn, mv)
    assembly = next(e for e in evs if e["slug"] == "assembly")
    midnight = now // DAY * DAY
    filters = {
        "7 days": Scope(mv, now - 7 * DAY, now),
        "30 days, bluesky+mastodon": Scope(mv, now - 30 * DAY, now, ("bluesky", "mastodon")),
        "event window (2 days)": Scope(mv, assembly["start_ts"], assembly["end_ts"]),
        "today": Scope(mv, midnight, now),
        # A preset too, and the shortest range: what "today" is just after midnight UTC.
        "last hour": Scope(mv, now - 3600, now),
    }
    ctx = {"now": now, "event": assembly, "by": args.by}

    statements: list[tuple[str, Any]] = []

    def capture(
        _c: Any, _cur: Any, statement: str, parameters: Any, _ctx: Any, _many: bool
    ) -> None:
        statements.append((statement, parameters))

    # Baseline, measured in this run.
    with engine.connect() as conn:
        base, base_cpu = [], []
        for _ in range(max(3, args.repeat // 3)):
            t0, c0 = time.perf_counter(), time.process_time()
            baseline(conn, filters["7 days"])
            base.append((time.perf_counter() - t0) * 1000)
            base_cpu.append((time.process_time() - c0) * 1000)
    base_ms = statistics.median(base)
    base_cpu_ms = statistics.median(base_cpu)
    print(
        f"\nbaseline (raw per-hour GROUP BY over 7 days of mentions): {base_ms:.0f} ms wall, "
        f"{base_cpu_ms:.0f} ms CPU; load average {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} cores\n"
    )

    print(
        f"{'page':<11} {'filter':<27} {'p50 ms':>8} {'p95 ms':>8} {'cpu p50':>8} {'cpu p95':>8}"
        f" {'goal':>6}"
        "  ok   p95/base  cpu95/base"
    )
    worst: dict[str, float] = {}
    plans: dict[str, list[tuple[str, Any]]] = {}
    for page, fn in PAGES.items():
        for fname, scope in filters.items():
            times, cpu = [], []
            with engine.connect() as conn:
                if args.plans and fname == "7 days":
                    event.listen(engine, "before_cursor_execute", capture)
                    fn(conn, scope, ctx)
                    event.remove(engine, "before_cursor_execute", capture)
                    plans[page] = list(statements)
                    statements.clear()
                fn(conn, scope, ctx)  # warm the page cache of the database, as a live view is
                for _ in range(args.repeat):
                    t0, c0 = time.perf_counter(), time.process_time()
                    fn(conn, scope, ctx)
                    times.append((time.perf_counter() - t0) * 1000)
                    cpu.append((time.process_time() - c0) * 1000)
            p50, p95, cpu95 = pct(times, 0.5), pct(times, 0.95), pct(cpu, 0.95)
            cpu50 = pct(cpu, 0.5)  # at a high load average p95 of a few runs is their worst
            worst[page] = max(worst.get(page, 0), p95)
            ok = "yes" if p95 <= goal else "NO"
            print(
                f"{page:<11} {fname:<27} {p50:>8.1f} {p95:>8.1f} {cpu50:>8.1f} {cpu95:>8.1f}"
                f" {goal:>6}  {ok:<4}"
                f" {p95 / base_ms:>7.2f} {cpu95 / base_cpu_ms:>11.2f}"
            )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("\nworst p95 per page: " + ", ".join(f"{k} {v:.0f} ms" for k, v in worst.items()))
    print(
        f"peak memory of the dashboard process (queries only): {peak_mb:.0f} MB (goal {GOAL_MB} MB)"
    )
    if args.per_query:
        per_query(engine, filters, ctx)
    if args.analyze:
        if engine.dialect.name != "postgresql":
            print("\n--analyze: PostgreSQL only (EXPLAIN ANALYZE)")
        else:
            for page, fn in PAGES.items():
                for fname, scope in filters.items():
                    print(f"\n== server time: {page}, {fname} ==")
                    print("\n".join(analyze(engine, fn, scope, ctx, top=args.analyze)))
    if args.plans:
        for page, stmts in plans.items():
            print(f"\n== plans: {page} (7 days) ==")
            print("\n".join(explain(engine, stmts)))
    return 0 if all(v <= goal for v in worst.values()) and peak_mb <= GOAL_MB else 1


if __name__ == "__main__":
    raise SystemExit(main())
