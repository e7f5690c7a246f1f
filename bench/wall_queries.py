"""Live wall query cost on a big store (DESIGN.md section 7: a page's queries p95 <= 250 ms at
1M mentions on SQLite, <= 1 s at 10M on PostgreSQL).

The wall runs three kinds of work: a probe every second (`wall_version`); a cards rebuild on
change or every `refresh_s` (moderation state, candidate posts with opt-outs and moderation in
SQL, blocklist in Python); and a pulse rebuild every 10 s (the day's figures for the header,
and for pulse/both modes the chart and the amplifiers). All are timed here, uncached, on the
dashboard benchmark's generated store
(`bench/dashboard.py`'s generator: 1M mentions over 90 days, 5% in the last day, 2% opted-out
accounts), with realistic moderation (hundreds of hidden posts, hidden authors and instances, a
blocklist) and a worst case (a blocked word in every recent post, so the candidate query pages
to its limit). Baselines, measured in the same run: the bare newest-24 query over the mention
table with no moderation or opt-outs (the least any wall can do), and the pulse's figures
computed from the raw mention rows as the wall did before it read the rollups and covering
indexes (`raw_pulse` below); the run checks that both give the same figures.

    python bench/wall_queries.py [--mentions 1000000] [--postgres URL] [--plans] [--reuse [PATH]]
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import distinct, event, func, select, text  # noqa: E402

from domain.settings.config import WallSettings  # noqa: E402
from groundswell.wall import day_start_ts, moderation_state, pulse_view, wall_cards  # noqa: E402
from storage.engine import make_engine, write_tx  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import Mention, MentionMatch  # noqa: E402
from storage.queries import wall as q  # noqa: E402

GOAL_SQLITE_MS = 250.0
GOAL_PG_MS = 1000.0


def _dashboard_generator() -> Any:
    spec = importlib.util.spec_from_file_location(
        "bench_dashboard", ROOT / "bench" / "dashboard.py"
    )
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.generate


def timed(fn: Any, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def interleaved(sets: list[tuple[str, Any]], runs: int) -> list[tuple[str, list[float]]]:
    """Time each set once per round, `runs` rounds: on a machine shared with other work the
    load then falls on every set alike, so the ratios between them hold."""
    times: dict[str, list[float]] = {name: [] for name, _ in sets}
    for _ in range(runs):
        for name, fn in sets:
            t = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - t) * 1000)
    return [(name, times[name]) for name, _ in sets]


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, math.ceil(p / 100 * len(xs)) - 1))]


def raw_pulse(conn: Any, movement_id: int | None, now_ts: int, start: int) -> q.Pulse:
    """The pulse as the wall computed it before (commit 424ca3b): every figure from today's
    mention rows (joined to the match for one movement). The baseline the rollups replace."""
    m, mm = Mention.__table__, MentionMatch.__table__

    def since(ts: int) -> Any:
        if movement_id is None:
            return select(m.c.id, m.c.platform, m.c.account_id, m.c.instance, m.c.created_ts).where(
                m.c.created_ts >= ts
            )
        return (
            select(m.c.id, m.c.platform, m.c.account_id, m.c.instance, mm.c.created_ts)
            .select_from(mm.join(m, m.c.id == mm.c.mention_id))
            .where(mm.c.movement_id == movement_id, mm.c.created_ts >= ts)
        )

    today, last10 = since(start).subquery(), since(now_ts - 600).subquery()
    out = q.Pulse()
    row = conn.execute(select(func.count(), func.count(distinct(today.c.account_id)))).one()
    out.mentions_today, out.people_today = int(row[0]), int(row[1])
    out.mentions_10m = int(conn.execute(select(func.count()).select_from(last10)).scalar() or 0)
    host, platform_ = func.lower(today.c.instance), func.lower(today.c.platform)
    platforms: dict[str, int] = {}
    hosts: dict[str, int] = {}
    for platform, h, n in conn.execute(
        select(platform_, host, func.count()).group_by(platform_, host)
    ):
        platforms[platform] = platforms.get(platform, 0) + int(n)
        if h:
            hosts[h] = hosts.get(h, 0) + int(n)
    out.platforms_today = sorted(platforms.items(), key=lambda kv: (-kv[1], kv[0]))
    out.instances_today = len(hosts)
    out.top_instances = sorted(hosts.items(), key=lambda kv: (-kv[1], kv[0]))[:8]
    out.new_voices_today = q.new_voices(conn, movement_id=movement_id, since_ts=start)
    return out


def print_plans(engine: Any, settings: WallSettings, nowdt: datetime) -> None:
    """EXPLAIN every statement one full pulse rebuild runs (DESIGN.md section 7: a windowed
    aggregate that scans the whole mention table is a bug)."""
    seen: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, params))

    pg = engine.dialect.name == "postgresql"
    with engine.connect() as conn:
        state = moderation_state(conn, settings)
        event.listen(engine, "before_cursor_execute", capture)
        try:
            pulse_view(conn, settings, now=nowdt, state=state)
        finally:
            event.remove(engine, "before_cursor_execute", capture)
        print(f"\nplans of the pulse, movement={settings.movement or 'all'}:")
        for statement, params in seen:
            print("  " + " ".join(statement.split())[:300])
            prefix = "EXPLAIN " if pg else "EXPLAIN QUERY PLAN "
            for r in conn.exec_driver_sql(prefix + statement, params):
                print("     ", r[-1] if not pg else r[0])


def moderate(engine: Any, now: int, *, worst: bool) -> None:
    """Hundreds of decisions, as a busy day of moderation leaves them."""
    m = Mention.__table__
    with engine.connect() as conn:
        recent = [
            r[0]
            for r in conn.execute(
                select(m.c.id, m.c.account_id).order_by(m.c.created_ts.desc()).limit(2000)
            )
        ]
        accounts = [
            r[0]
            for r in conn.execute(select(m.c.account_id).order_by(m.c.created_ts.desc()).limit(400))
        ]
    with write_tx(engine) as conn:
        for i, mid in enumerate(recent[:600]):
            action = "hide" if i % 3 == 0 else "approve"
            q.record_decision(
                conn, wall="bench", target_kind="mention", target=str(mid), action=action
            )
        for mid in recent[600:610]:
            q.record_decision(conn, wall="bench", target_kind="mention", target=str(mid),
                              action="pin")  # fmt: skip
        for acc in accounts[::20]:
            q.record_decision(conn, wall="bench", target_kind="account", target=str(acc),
                              action="hide")  # fmt: skip
        for inst in ("inst0.social", "inst1.social", "inst7.social"):
            q.record_decision(conn, wall="bench", target_kind="instance", target=inst,
                              action="hide")  # fmt: skip
        for word in ("spam", "scam*", "rude phrase", "badword"):
            q.record_decision(conn, wall="bench", target_kind="word", target=word,
                              action="block")  # fmt: skip
        q.record_decision(conn, wall="bench", target_kind="word", target="NHSCitizen",
                          action="block", active=worst)  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mentions", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--postgres", help="PostgreSQL URL (an empty database)")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--plans", action="store_true")
    ap.add_argument(
        "--reuse",
        help="use a store an earlier run generated: its SQLite path, or no value with "
        "--postgres URL (the database then already holds the generated store)",
        nargs="?",
        const="",
    )
    args = ap.parse_args()
    now = int(time.time())
    reuse = args.reuse is not None
    url = args.postgres or (
        f"sqlite:///{args.reuse}"
        if args.reuse
        else f"sqlite:///{tempfile.mkdtemp(prefix='gs-wall-q-')}/bench.db"
    )
    t = time.perf_counter()
    if not reuse:
        _dashboard_generator()(url, args.mentions, args.days, 7, now)
        print(f"generated {args.mentions:,} mentions in {time.perf_counter() - t:.0f} s")
    engine = make_engine(url)
    if reuse:
        upgrade(engine)  # the store may predate an index migration
        with engine.connect() as conn:  # the generator's clock: its newest post is now - 1
            now = int(conn.execute(select(func.max(Mention.__table__.c.created_ts))).scalar()) + 1
    goal = GOAL_PG_MS if engine.dialect.name == "postgresql" else GOAL_SQLITE_MS
    moderate(engine, now, worst=False)
    nowdt = datetime.fromtimestamp(now, UTC)
    rows: list[tuple[str, list[float]]] = []
    sets: list[tuple[str, Any]] = []  # timed round-robin, so a shared machine's load hits all

    def bare() -> None:
        with engine.connect() as conn:
            conn.execute(
                text("SELECT id, text FROM mention ORDER BY created_ts DESC LIMIT 24")
            ).all()

    sets.append(("baseline: bare newest 24", bare))

    def probe() -> None:
        with engine.connect() as conn:
            q.wall_version(conn, "bench", since_ts=now - 3600)

    sets.append(("probe (every second)", probe))

    def cards(settings: WallSettings) -> Any:
        def run() -> None:
            with engine.connect() as conn:
                state = moderation_state(conn, settings)
                assert wall_cards(conn, settings, now=nowdt, state=state), "empty wall"

        return run

    def pulse(settings: WallSettings, *, full: bool) -> Any:
        def run() -> None:
            with engine.connect() as conn:
                state = moderation_state(conn, settings)
                pulse_view(conn, settings, now=nowdt, state=state, figures_only=not full)

        return run

    post_all = WallSettings(id="bench")
    post_mv = WallSettings(id="bench", movement="nhscitizen")
    pre = WallSettings(id="bench", moderation="pre")
    sets.append(("cards, post-moderation, all", cards(post_all)))
    sets.append(("cards, post-moderation, movement", cards(post_mv)))
    sets.append(("cards, pre-moderation", cards(pre)))
    sets.append(("pulse figures (header), all", pulse(post_all, full=False)))
    sets.append(("pulse figures (header), movement", pulse(post_mv, full=False)))
    sets.append(("pulse full, all", pulse(post_all, full=True)))
    sets.append(("pulse full, movement", pulse(post_mv, full=True)))
    start = day_start_ts(nowdt, "UTC")

    def raw(mv_slug: str | None) -> Any:
        def run() -> None:
            with engine.connect() as conn:
                raw_pulse(conn, q.movement_id_for(conn, mv_slug), now, start)

        return run

    sets.append(("before: raw-row figures, all", raw(None)))
    sets.append(("before: raw-row figures, movement", raw("nhscitizen")))
    rows.extend(interleaved(sets, args.runs))
    with engine.connect() as conn:
        for slug in (None, "nhscitizen"):
            mv = q.movement_id_for(conn, slug)
            new = q.pulse(conn, movement_id=mv, now_ts=now, day_start_ts=start)
            old = raw_pulse(conn, mv, now, start)
            assert new == old, f"pulse differs from the raw rows for {slug or 'all'}: {new} {old}"
            print(
                f"pulse == raw rows ({slug or 'all movements'}): {new.mentions_today:,} posts, "
                f"{new.people_today:,} people, {new.instances_today} instances today"
            )
    moderate(engine, now, worst=True)

    def worst() -> None:
        with engine.connect() as conn:
            state = moderation_state(conn, post_all)
            wall_cards(conn, post_all, now=nowdt, state=state)

    rows.append(("worst: every post blocked", timed(worst, max(5, args.runs // 3))))

    base = statistics.median(rows[0][1])
    load = os.getloadavg()
    print(f"\n{engine.dialect.name}, {args.mentions:,} mentions, goal p95 <= {goal:.0f} ms")
    print(f"load average at the end (1, 5, 15 min): {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    print(f"{'query set':36} {'p50 ms':>8} {'p95 ms':>8} {'p95/goal':>9} {'p50/baseline':>13}")
    for name, xs in rows:
        p50, p95 = statistics.median(xs), pct(xs, 95)
        print(f"{name:36} {p50:8.1f} {p95:8.1f} {p95 / goal:9.2f} {p50 / base:13.1f}")
    if args.plans:
        from domain.moderation import ModerationState

        with engine.connect() as conn:
            state = moderation_state(conn, post_all)
            query = q._post_query(None, True).where(*q._exclusions(state))
            query = query.order_by(Mention.__table__.c.created_ts.desc()).limit(60)
            compiled = query.compile(conn, compile_kwargs={"literal_binds": True})
            prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
            print("\nplan of the candidate query:")
            for r in conn.execute(text(prefix + str(compiled))):
                print("  ", " ".join(str(c) for c in r))
        del ModerationState
        print_plans(engine, post_all, nowdt)
        print_plans(engine, post_mv, nowdt)
    engine.dispose()
    if not args.postgres:
        print(f"\nstore kept for --reuse: {url.removeprefix('sqlite:///')} (delete when done)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
