"""The collector runtime: batches committed with their cursors, backoff, fatal sources, run
records, skipped items, and leases shared by several workers.

The collectors here are small scripted test doubles of an external platform (they implement the
`Collector` protocol and yield what a platform's pages would produce); the runner, the write
path and the store are the real ones, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import itertools
import json
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select, text, update
from typer.testing import CliRunner

from collectors.base import (
    CollectorContext,
    FatalSourceError,
    SourceState,
    TransientError,
)
from collectors.runner import Runner, backoff_delay
from domain.records import Batch, SourceSpec
from domain.settings.config import Settings
from groundswell.cli import app
from storage.catalog import sync_sources
from storage.engine import make_engine, write_tx
from storage.models import CollectorRun, Mention, Source
from storage.write import write_batch
from tests.factories import account, mention, movement

PLATFORM = "testnet"


class Clock:
    """A clock the test moves by hand, so backoff and lease times are exact."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Scripted:
    """A platform whose pages are scripted per source: each step is a Batch to yield or an
    exception to raise (as a client library would on a 429, a 401, or a garbled reply)."""

    scripts: dict[str, list[Batch | Exception]]
    platform: str = PLATFORM
    polls: list[tuple[str, Any]] = field(default_factory=list)

    def poll(self, source: SourceState) -> Iterator[Batch]:
        self.polls.append((source.key, source.cursor))
        for step in self.scripts.get(source.key, []):
            if isinstance(step, Exception):
                raise step
            yield step


def page(first: int, last: int, **kw: Any) -> Batch:
    """Mentions first..last (all matching #NHSCitizen) and the cursor that covers them."""
    kw.setdefault("cursor", {"after": last})
    return Batch(mentions=[mention(n) for n in range(first, last + 1)], **kw)


def add_sources(engine: Engine, *keys: str, interval_s: int = 60) -> dict[str, int]:
    specs = [SourceSpec(k, PLATFORM, "timeline", {"name": k}, interval_s) for k in keys]
    with write_tx(engine) as conn:
        return sync_sources(conn, specs)


def make_runner(engine: Engine, collector: Any, clock: Clock | None = None, **kw: Any) -> Runner:
    kw.setdefault("worker_id", "w1")
    kw.setdefault("backoff_base_s", 30.0)
    kw.setdefault("max_backoff_s", 3600.0)
    return Runner(
        engine,
        CollectorContext(settings=Settings()),
        {PLATFORM: collector},
        clock=clock or Clock(),
        rng=random.Random(7),
        **kw,
    )


def source_row(engine: Engine, key: str) -> Any:
    with engine.connect() as conn:
        table: Any = Source.__table__
        return conn.execute(select(table).where(table.c.key == key)).one()


def runs(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        table: Any = CollectorRun.__table__
        return list(conn.execute(select(table).order_by(table.c.id)))


def mentions_stored(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(Mention.__table__)).scalar())


def run_all(runner: Runner) -> dict[str, str]:
    return {o.source_key: o.outcome for o in runner.run_once()}


# -- batches and cursors --------------------------------------------------------------------


def test_each_batch_is_committed_with_the_cursor_that_covers_it(store):
    movement(store)
    add_sources(store, "a")
    collector = Scripted({"a": [page(1, 10), page(11, 20), page(21, 25)]})
    assert run_all(make_runner(store, collector)) == {"a": "ok"}
    assert source_row(store, "a").cursor == {"after": 25}
    assert mentions_stored(store) == 25


def test_the_next_poll_starts_from_the_stored_cursor(store):
    movement(store)
    add_sources(store, "a")
    collector = Scripted({"a": [page(1, 10)]})
    run_all(make_runner(store, collector))
    run_all(make_runner(store, collector))
    assert collector.polls == [("a", None), ("a", {"after": 10})]


def test_a_collector_that_raises_mid_stream_keeps_the_cursor_of_the_last_committed_batch(store):
    movement(store)
    add_sources(store, "a")
    collector = Scripted({"a": [page(1, 10), page(11, 20), RuntimeError("connection reset")]})
    assert run_all(make_runner(store, collector)) == {"a": "error"}
    row = source_row(store, "a")
    assert row.cursor == {"after": 20}
    assert row.status == "backoff" and "connection reset" in row.last_error
    assert mentions_stored(store) == 20


def test_a_batch_that_cannot_be_written_is_rolled_back_with_its_cursor(store):
    movement(store)
    add_sources(store, "a")
    bad = page(11, 20)
    bad.mentions[3].created_at = datetime(2026, 11, 2, 9, 0)  # naive: the store refuses it
    collector = Scripted({"a": [page(1, 10), bad, page(21, 30)]})
    assert run_all(make_runner(store, collector)) == {"a": "error"}
    assert source_row(store, "a").cursor == {"after": 10}
    assert mentions_stored(store) == 10


# -- backoff --------------------------------------------------------------------------------


def test_a_transient_error_backs_off_exponentially_with_jitter(store):
    add_sources(store, "flaky")
    clock = Clock()
    runner = make_runner(store, Scripted({"flaky": [TransientError("503")]}), clock)
    delays = []
    for _ in range(6):
        run_all(runner)
        row = source_row(store, "flaky")
        delays.append((row.next_due_at - clock.now).total_seconds())
        clock.advance(delays[-1])
    for n, delay in enumerate(delays, start=1):
        step = min(3600, 30 * 2 ** (n - 1))
        assert step / 2 <= delay <= step, (n, delays)
    assert source_row(store, "flaky").consecutive_failures == 6
    assert len({round(d / min(3600, 30 * 2**i), 3) for i, d in enumerate(delays)}) > 1  # jitter


def test_a_servers_retry_after_is_honoured(store):
    add_sources(store, "limited")
    clock = Clock()
    err = TransientError("429 Too Many Requests", retry_after=900)
    run_all(make_runner(store, Scripted({"limited": [err]}), clock))
    row = source_row(store, "limited")
    assert (row.next_due_at - clock.now).total_seconds() >= 900
    assert row.status == "backoff"


def test_a_success_after_failures_resets_the_backoff(store):
    movement(store)
    add_sources(store, "a")
    clock = Clock()
    run_all(make_runner(store, Scripted({"a": [TransientError("timeout")]}), clock))
    clock.advance(120)
    run_all(make_runner(store, Scripted({"a": [page(1, 2)]}), clock))
    row = source_row(store, "a")
    assert (row.status, row.consecutive_failures) == ("ok", 0)
    assert row.next_due_at == clock.now + timedelta(seconds=60)


@given(
    failures=st.integers(1, 40),
    base=st.floats(1, 120),
    max_s=st.floats(10, 86_400),
    retry_after=st.none() | st.floats(0, 100_000),
    seed=st.integers(0, 2**32),
)
def test_backoff_delay_stays_within_its_bounds(failures, base, max_s, retry_after, seed):
    delay = backoff_delay(
        failures, base_s=base, max_s=max_s, retry_after=retry_after, rng=random.Random(seed)
    )
    step = min(max_s, base * 2 ** (failures - 1))
    if retry_after is None:
        assert step / 2 <= delay <= step
    else:
        assert delay >= retry_after  # a server's Retry-After is never shortened
        assert delay <= max(step, retry_after)


# -- fatal errors, isolation ----------------------------------------------------------------


def test_a_fatal_error_is_recorded_on_the_source_and_not_retried(store):
    add_sources(store, "private")
    err = FatalSourceError("401: this instance requires a token", status="needs_token")
    runner = make_runner(store, Scripted({"private": [err]}))
    assert run_all(runner) == {"private": "fatal"}
    row = source_row(store, "private")
    assert row.status == "needs_token"
    assert "requires a token" in row.last_error
    assert run_all(runner) == {}  # not polled again


def test_status_shows_a_fatal_source_and_its_error(store):
    add_sources(store, "private", "fine")
    err = FatalSourceError("401 Unauthorized: set token_env", status="needs_token")
    run_all(make_runner(store, Scripted({"private": [err], "fine": []})))
    url = store.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(app, ["status", "--db", url, "--json"])
    assert result.exit_code == 0, result.output
    shown = {s["key"]: s for s in json.loads(result.stdout)["sources"]}
    assert shown["private"]["status"] == "needs_token"
    assert "401 Unauthorized" in shown["private"]["last_error"]
    assert shown["private"]["last_run"]["outcome"] == "fatal"
    assert shown["fine"]["status"] == "ok"


def test_init_retries_sources_stopped_by_a_fatal_error(store):
    add_sources(store, "private")
    run_all(make_runner(store, Scripted({"private": [FatalSourceError("401")]})))
    assert source_row(store, "private").status == "fatal"
    add_sources(store, "private")  # `collect` re-syncing an unchanged config: still stopped
    assert source_row(store, "private").status == "fatal"
    with write_tx(store) as conn:  # `init`, after the user fixed the cause
        sync_sources(
            conn,
            [SourceSpec("private", PLATFORM, "timeline", {"name": "private"}, 60)],
            retry_fatal=True,
        )
    assert source_row(store, "private").status == "new"


def test_a_changed_target_in_the_config_retries_a_fatal_source(store):
    add_sources(store, "private")
    run_all(make_runner(store, Scripted({"private": [FatalSourceError("401")]})))
    with write_tx(store) as conn:
        spec = SourceSpec("private", PLATFORM, "timeline", {"name": "private", "token": "ENV"}, 60)
        sync_sources(conn, [spec])
    assert source_row(store, "private").status == "new"


def test_one_failing_source_never_stops_the_others(store):
    movement(store)
    add_sources(store, "a", "broken", "limited", "fatal", "z")
    collector = Scripted(
        {
            "a": [page(1, 5)],
            "broken": [page(6, 7), ValueError("unexpected payload")],
            "limited": [TransientError("429", retry_after=60)],
            "fatal": [FatalSourceError("410 Gone", status="gone")],
            "z": [page(8, 12)],
        }
    )
    outcomes = run_all(make_runner(store, collector))
    assert outcomes == {
        "a": "ok",
        "broken": "error",
        "limited": "transient",
        "fatal": "fatal",
        "z": "ok",
    }
    assert mentions_stored(store) == 12
    assert source_row(store, "fatal").status == "gone"


# -- run records, skipped items -------------------------------------------------------------


def test_every_run_is_recorded_with_its_figures(store):
    movement(store)
    add_sources(store, "a", "b")
    first = Scripted({"a": [page(1, 10), page(11, 15)], "b": [TransientError("503")]})
    run_all(make_runner(store, first))
    run_all(make_runner(store, Scripted({"a": [page(11, 20)], "b": []})))
    by = [
        (r.outcome, r.batches, r.fetched, r.new, r.updated, r.skipped, r.errors)
        for r in runs(store)
    ]
    assert sorted(by) == sorted(
        [
            ("ok", 2, 15, 15, 0, 0, 0),
            ("transient", 0, 0, 0, 0, 0, 1),
            ("ok", 1, 10, 5, 5, 0, 0),
            ("ok", 0, 0, 0, 0, 0, 0),
        ]
    )
    for r in runs(store):
        assert r.duration_ms is not None and r.duration_ms >= 0
        assert r.finished_at >= r.started_at
        assert r.worker == "w1"


def test_malformed_items_are_skipped_and_counted_and_the_rest_of_the_page_is_kept(store):
    movement(store)
    add_sources(store, "a")
    p = page(1, 8, fetched=11)
    p.skip("malformed JSON", "unexpected end of data at char 37")
    p.skip("malformed JSON")
    p.skip("missing created_at")
    assert run_all(make_runner(store, Scripted({"a": [p]}))) == {"a": "ok"}
    (run,) = runs(store)
    assert (run.fetched, run.new, run.skipped) == (11, 8, 3)
    assert run.skip_reasons == {"malformed JSON": 2, "missing created_at": 1}
    assert mentions_stored(store) == 8


# -- leases ---------------------------------------------------------------------------------


def test_a_batch_is_refused_when_another_worker_took_the_lease(store):
    movement(store)
    add_sources(store, "a")

    def steal() -> Iterator[Batch]:
        yield page(1, 5)
        with write_tx(store) as conn:  # the lease expired and another worker claimed it
            conn.execute(update(Source.__table__).values(lease_owner="w2"))
        yield page(6, 10)

    class Stolen(Scripted):
        def poll(self, source: SourceState) -> Iterator[Batch]:
            return steal()

    assert run_all(make_runner(store, Stolen({}))) == {"a": "lease_lost"}
    assert source_row(store, "a").cursor == {"after": 5}
    assert mentions_stored(store) == 5


def test_a_source_leased_by_a_live_worker_is_not_claimed_until_the_lease_expires(store):
    add_sources(store, "a")
    clock = Clock()
    w1 = make_runner(store, Scripted({}), clock, worker_id="w1", lease_s=300)
    w2 = make_runner(store, Scripted({}), clock, worker_id="w2", lease_s=300)
    assert [s.key for s in w1.claim()] == ["a"]
    assert w2.claim() == []
    clock.advance(301)
    assert [s.key for s in w2.claim()] == ["a"]


def test_a_restarted_worker_takes_back_its_own_sources_and_closes_its_dead_runs(store):
    add_sources(store, "a")
    clock = Clock()
    before = make_runner(store, Scripted({}), clock, worker_id="host:collector")
    (state,) = before.claim()
    before._start_run(state, clock())  # then the process was killed with SIGKILL
    after = make_runner(store, Scripted({}), clock, worker_id="host:collector")
    assert [s.key for s in after.claim()] == ["a"]
    assert [r.outcome for r in runs(store)] == ["abandoned"]


@pytest.mark.postgres
def test_claims_skip_sources_locked_by_another_workers_open_transaction(pg_store):
    add_sources(pg_store, "a", "b", "c")
    table: Any = Source.__table__
    with pg_store.connect() as other, other.begin():
        other.execute(
            select(table.c.id).where(table.c.key == "a").with_for_update()
        ).all()  # worker 2 is mid-claim, holding the row lock on "a"
        started = time.monotonic()
        claimed = make_runner(pg_store, Scripted({}), worker_id="w1").claim()
        waited = time.monotonic() - started
    assert sorted(s.key for s in claimed) == ["b", "c"]
    assert waited < 5  # SKIP LOCKED: it did not wait for the other transaction


def test_two_workers_share_sources_and_each_source_is_polled_by_one_at_a_time(store):
    """Two runners (own engines, own threads) loop over always-due sources; every poll records
    its interval; no two intervals of one source may overlap, and both workers must work."""
    movement(store)
    keys = [f"s{i}" for i in range(6)]
    add_sources(store, *keys, interval_s=0)
    url = store.url.render_as_string(hide_password=False)
    intervals: list[tuple[str, str, float, float]] = []
    lock = threading.Lock()
    counter = iter(range(1, 1_000_000))

    class Recording:
        platform = PLATFORM

        def __init__(self, worker: str) -> None:
            self.worker = worker

        def poll(self, source: SourceState) -> Iterator[Batch]:
            start = time.monotonic()
            try:
                for _ in range(2):
                    time.sleep(0.01)  # the platform takes a moment to answer
                    with lock:
                        n = next(counter)
                    yield Batch(mentions=[mention(n)], cursor={"after": n})
            finally:
                with lock:
                    intervals.append((source.key, self.worker, start, time.monotonic()))

    stop = threading.Event()
    engines = [make_engine(url), make_engine(url)]
    workers = [
        Runner(e, CollectorContext(settings=Settings()), {PLATFORM: Recording(w)}, worker_id=w)
        for e, w in zip(engines, ("w1", "w2"), strict=True)
    ]
    threads = [
        threading.Thread(target=w.run_loop, args=(stop,), kwargs={"idle_sleep_s": 0.01})
        for w in workers
    ]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with lock:
            done = {w for _, w, _, _ in intervals}
            enough = len(intervals) >= 40 and done == {"w1", "w2"}
        if enough:
            break
        time.sleep(0.05)
    stop.set()
    for t in threads:
        t.join(timeout=30)
    for e in engines:
        e.dispose()

    assert {w for _, w, _, _ in intervals} == {"w1", "w2"}, "both workers must have polled"
    for key in keys:
        spans = sorted((s, e, w) for k, w, s, e in intervals if k == key)
        assert spans, f"{key} was never polled"
        for (_s1, e1, w1), (s2, _e2, w2) in itertools.pairwise(spans):
            assert e1 <= s2, f"{key}: {w1} and {w2} polled it at the same time"
    with store.connect() as conn:
        leased = conn.execute(text("SELECT count(*) FROM source WHERE lease_owner IS NOT NULL"))
        assert leased.scalar() == 0


def test_concurrent_claims_never_hand_out_the_same_source_twice(store):
    add_sources(store, *(f"s{i}" for i in range(40)))
    url = store.url.render_as_string(hide_password=False)
    got: dict[str, list[str]] = {}
    barrier = threading.Barrier(4, timeout=30)
    errors: list[BaseException] = []

    def claim(worker: str) -> None:
        try:
            claim_all(worker)
        except BaseException as exc:
            errors.append(exc)
            raise

    def claim_all(worker: str) -> None:
        engine = make_engine(url)
        runner = Runner(
            engine,
            CollectorContext(settings=Settings()),
            {PLATFORM: Scripted({})},
            worker_id=worker,
        )
        barrier.wait()
        mine: list[str] = []
        while batch := runner.claim(limit=3):
            mine += [s.key for s in batch]
        got[worker] = mine
        engine.dispose()

    threads = [threading.Thread(target=claim, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    everything = [k for ks in got.values() for k in ks]
    assert sorted(everything) == sorted(f"s{i}" for i in range(40))  # each exactly once
    assert len(got) == 4


def test_a_worker_stopped_between_sources_releases_the_ones_it_had_not_started(store):
    add_sources(store, "a", "b", "c")
    stop = threading.Event()
    runner = make_runner(store, Scripted({}), Clock(datetime.now(UTC)))
    seen = []

    def on_outcome(o: Any) -> None:
        seen.append(o.source_key)
        stop.set()

    runner.run_loop(stop, on_outcome=on_outcome, claim_batch=3)
    assert len(seen) == 1
    with store.connect() as conn:
        leased = conn.execute(text("SELECT count(*) FROM source WHERE lease_owner IS NOT NULL"))
        assert leased.scalar() == 0


@pytest.mark.postgres
def test_two_workers_writing_the_same_statuses_in_opposite_orders_never_deadlock(pg_store):
    """The same statuses and authors seen through two instances at once (federation): rows are
    locked in key order, so the two transactions wait for each other instead of deadlocking."""
    rules = movement(pg_store)
    url = pg_store.url.render_as_string(hide_password=False)
    # Different authors (the two instances' own accounts table serialises nothing), the same
    # statuses in opposite orders.
    forward = [mention(n, author=account(1000)) for n in range(1, 301)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(2, timeout=30)

    def write(records: list[Any], seen_on: str) -> None:
        engine = make_engine(url)
        try:
            for r in records:
                r.seen_on = seen_on
            barrier.wait()
            for _ in range(5):
                with write_tx(engine) as conn:
                    write_batch(conn, Batch(mentions=records), rules)
        except BaseException as exc:
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [
        threading.Thread(target=write, args=(forward, "a.social")),
        threading.Thread(
            target=write,
            args=([mention(n, author=account(2000)) for n in range(300, 0, -1)], "b.coop"),
        ),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert mentions_stored(pg_store) == 300
