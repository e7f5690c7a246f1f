"""Live replay: a source like any other, whose cursor moves only with the rows it covers.

The clock is injected (a list we move by hand), so "an hour at 60x" takes no wall time and no
test depends on timing.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from groundswell.demo import load_demo
from groundswell.demo.collector import (
    MAX_CATCH_UP_WINDOWS,
    Committed,
    DemoCollector,
    cached_history,
)
from groundswell.demo.live import LOOKBACK, LiveStream
from groundswell.demo.load import _runner, prepare
from storage.models import CollectorRun, Mention, RollupHourly, Source

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
SIZE = 300


def _scalar(engine: Engine, stmt) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return int(conn.execute(stmt).scalar() or 0)


def _cursor(engine: Engine) -> dict:
    with engine.connect() as conn:
        return conn.execute(select(Source.__table__.c.cursor)).scalar_one()


def _expected_ids(seconds: int, speed: float = 60.0) -> set[int]:
    """Every mention the history plus `seconds` of live replay should have written."""
    data = cached_history(3, SIZE, T0)
    stream = LiveStream(data, speed)
    ids = {m.id for m in data.mentions}
    at = T0
    while at + stream.window <= T0 + timedelta(seconds=seconds):
        ids.update(m.id for m in stream.page(at).mentions)
        at += stream.window
    return ids


def _stored_ids(engine: Engine) -> set[int]:
    with engine.connect() as conn:
        return set(conn.execute(select(Mention.__table__.c.id)).scalars())


def _poll(engine: Engine, clock: list[datetime], **kw) -> list:  # type: ignore[no-untyped-def]
    prepare(engine, seed=3, mentions=SIZE, now=T0, speed="60x")
    collector = DemoCollector(clock=lambda: clock[0], **kw)
    return _runner(engine, collector, clock=lambda: clock[0]).run_once(only_due=False)


@pytest.fixture
def demo_store(store: Engine) -> Engine:
    load_demo(store, seed=3, mentions=SIZE, now=T0)
    return store


def test_replay_at_high_speed_writes_the_live_windows_and_advances_the_cursor(
    demo_store: Engine,
) -> None:
    before = _scalar(demo_store, select(func.count()).select_from(Mention.__table__))
    clock = [T0 + timedelta(seconds=30)]

    (outcome,) = _poll(demo_store, clock)

    assert outcome.outcome == "ok"
    assert _cursor(demo_store)["live"] == (T0 + timedelta(seconds=30)).isoformat()
    after = _scalar(demo_store, select(func.count()).select_from(Mention.__table__))
    assert after > before
    assert _stored_ids(demo_store) == _expected_ids(30)
    # every live post is stamped inside the replayed half minute
    newest = _scalar(demo_store, select(func.max(Mention.__table__.c.created_ts)))
    assert T0.timestamp() < newest < (T0 + timedelta(seconds=30)).timestamp()


def test_nothing_is_written_before_its_window_is_due(demo_store: Engine) -> None:
    clock = [T0 + timedelta(milliseconds=500)]
    _poll(demo_store, clock)
    assert "live" not in _cursor(demo_store)
    assert _stored_ids(demo_store) == _expected_ids(0)


def test_a_stopped_replay_resumes_where_it_stopped_without_loss_or_duplicates(
    demo_store: Engine,
) -> None:
    clock = [T0 + timedelta(seconds=40)]
    stop = threading.Event()
    seen: list[Committed] = []

    def stop_after_five(c: Committed) -> None:
        seen.append(c)
        if len(seen) == 5:
            stop.set()

    _poll(demo_store, clock, on_commit=stop_after_five, stop=stop)
    halfway = _cursor(demo_store)["live"]
    assert T0.isoformat() < halfway < (T0 + timedelta(seconds=40)).isoformat()
    assert _stored_ids(demo_store) < _expected_ids(40)

    _poll(demo_store, clock)  # a new collector, as a restarted process would make

    assert _cursor(demo_store)["live"] == (T0 + timedelta(seconds=40)).isoformat()
    assert _stored_ids(demo_store) == _expected_ids(40)
    rolled_up = _scalar(demo_store, select(func.sum(RollupHourly.__table__.c.mentions)))
    assert rolled_up == len(_expected_ids(40))  # nothing counted twice


def test_a_crash_between_pages_is_recorded_and_the_rerun_completes(demo_store: Engine) -> None:
    clock = [T0 + timedelta(seconds=20)]
    calls = []

    def crash_on_third(c: Committed) -> None:
        calls.append(c)
        if len(calls) == 3:
            raise RuntimeError("worker died")

    (crashed,) = _poll(demo_store, clock, on_commit=crash_on_third)
    assert crashed.outcome == "error"
    assert _cursor(demo_store)["live"] == (T0 + timedelta(seconds=3)).isoformat()

    (rerun,) = _poll(demo_store, clock)

    assert rerun.outcome == "ok"
    assert _stored_ids(demo_store) == _expected_ids(20)
    assert _scalar(demo_store, select(func.count()).select_from(CollectorRun.__table__)) == 3


def test_a_replay_left_for_hours_skips_ahead_instead_of_flooding(demo_store: Engine) -> None:
    clock = [T0 + timedelta(hours=5)]
    _poll(demo_store, clock)
    live_from = _scalar(
        demo_store,
        select(func.min(Mention.__table__.c.created_ts)).where(
            Mention.__table__.c.created_ts >= int(T0.timestamp())
        ),
    )
    window = LiveStream(cached_history(3, SIZE, T0), 60.0).window
    # the skipped stretch's posts may still show up as late sightings, never more than
    # LOOKBACK windows late
    assert live_from >= (clock[0] - (MAX_CATCH_UP_WINDOWS + LOOKBACK) * window).timestamp()
    assert _cursor(demo_store)["live"] == clock[0].isoformat()


def test_the_live_stream_keeps_blogs_and_pingbacks_coming_too() -> None:
    stream = LiveStream(cached_history(3, SIZE, T0), 60.0)
    platforms: set[str] = set()
    kinds: set[str] = set()
    for i in range(600):  # ten minutes at 60x: ten hours of conversation
        page = stream.page(T0 + i * stream.window)
        platforms.update(m.platform for m in page.mentions)
        kinds.update(e.kind for e in page.edges)
    assert platforms == {"bluesky", "mastodon", "blog", "pingback"}
    assert {"repost", "boost", "reply", "quote", "link", "pingback"} <= kinds
