"""Live mode: hashtag streaming through the real Mastodon.py client, drops and catch-up."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from collectors.base import CollectorContext
from collectors.mastodon.stream import HashtagStream
from collectors.runner import PARKED_RETRY_BASE_S
from storage.engine import write_tx
from tests.mastodon_support import rows, runner_for, scalar, settings_for, sources, sync
from tests.servers.mastodon_server import MastodonServer, make_status, running


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait for `check()`; a live stream has no other way to say "done"."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


@pytest.fixture
def live(
    sqlite_store, monkeypatch, request
) -> Iterator[tuple[MastodonServer, Callable[[], HashtagStream]]]:
    """A token-protected instance and a `start()` that begins following it in a thread.
    Parametrized indirectly, its parameter is extra `[mastodon]` settings."""
    live_mastodon: dict[str, Any] = getattr(request, "param", {})
    monkeypatch.setenv("GS_TEST_STREAM_TOKEN", "live-token")
    stop = threading.Event()
    threads: list[threading.Thread] = []
    with running(MastodonServer("alpha.test", tokens=("live-token",), heartbeat_s=0.1)) as (s,):
        settings = settings_for(
            s, token_env="GS_TEST_STREAM_TOKEN", stream=True, mastodon=live_mastodon
        )
        sync(sqlite_store, settings)
        [key] = sources(sqlite_store)

        def start() -> HashtagStream:
            stream = HashtagStream(
                sqlite_store,
                CollectorContext(settings=settings, engine=sqlite_store),
                key,
                stop=stop,
                reconnect_base_s=0.1,
                read_timeout_s=1.0,
            )
            threads.append(threading.Thread(target=stream.run, daemon=True))
            threads[-1].start()
            eventually(lambda: s.stream_count() == 1)
            return stream

        try:
            yield s, start
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=10)
                assert not t.is_alive()


def mentions(engine) -> int:
    return int(scalar(engine, "SELECT count(*) FROM mention"))


def test_a_streamed_status_is_stored_as_it_arrives(sqlite_store, live):
    server, start = live
    stream = start()
    s = server.carry(make_status("alpha.test", "ann", 1))
    eventually(lambda: mentions(sqlite_store) == 1)
    assert scalar(sqlite_store, "SELECT native_id FROM mention") == s["uri"]
    assert stream.status == "streaming"


def test_a_dropped_stream_reconnects_and_catches_up_what_it_missed(sqlite_store, live):
    server, start = live
    server.carry(make_status("alpha.test", "ann", 1))  # before: caught up by the first poll
    stream = start()
    assert mentions(sqlite_store) == 1
    cursor = next(iter(sources(sqlite_store).values())).cursor
    timeline_calls = len(server.requests_to("/api/v1/timelines"))
    server.drop_streams()
    for n in range(2, 6):  # posted while nobody listens: only the catch-up can find them
        server.carry(make_status("alpha.test", "ann", n), stream=False)
    eventually(lambda: mentions(sqlite_store) == 5)
    eventually(lambda: server.stream_count() == 1)
    eventually(lambda: stream.connections >= 2)
    assert stream.catch_ups >= 2
    catch_up = server.requests_to("/api/v1/timelines")[timeline_calls]
    assert catch_up.query["min_id"] == [cursor["min_id"]]  # from the stored cursor
    server.carry(make_status("alpha.test", "ann", 6))
    eventually(lambda: mentions(sqlite_store) == 6)
    assert scalar(sqlite_store, "SELECT sum(mentions) FROM rollup_hourly") == 6


def test_an_edit_seen_on_the_stream_updates_the_mention_in_place(sqlite_store, live):
    server, start = live
    start()
    s = server.carry(make_status("alpha.test", "ann", 1, text="Frist"))
    eventually(lambda: mentions(sqlite_store) == 1)
    server.edit(s["uri"], "First")
    eventually(lambda: scalar(sqlite_store, "SELECT edited_at FROM mention") is not None)
    assert scalar(sqlite_store, "SELECT text FROM mention").startswith("First")
    assert mentions(sqlite_store) == 1


def test_a_silent_stream_times_out_and_is_replaced(sqlite_store, live):
    server, start = live
    stream = start()
    server.stall_streams()  # connected, but not a byte: no heartbeat either
    server.carry(make_status("alpha.test", "ann", 1), stream=False)
    eventually(lambda: stream.connections >= 2)  # read timeout -> reconnect
    eventually(lambda: mentions(sqlite_store) == 1)  # and the catch-up found the status
    server.drop_streams()  # release the stalled handler


def test_a_deleted_status_seen_on_the_stream_becomes_a_tombstone(sqlite_store, live):
    server, start = live
    start()
    s = server.carry(make_status("alpha.test", "ann", 1, text="Oops"))
    eventually(lambda: mentions(sqlite_store) == 1)
    server.delete(s["uri"])
    eventually(
        lambda: (
            scalar(sqlite_store, "SELECT count(*) FROM mention WHERE deleted_at IS NOT NULL") == 1
        )
    )
    assert scalar(sqlite_store, "SELECT text FROM mention") is None


def test_streaming_without_a_token_marks_the_source_as_needing_one(sqlite_store):
    with running(MastodonServer("alpha.test")) as (s,):
        settings = settings_for(s, stream=True)
        sync(sqlite_store, settings)
        [key] = sources(sqlite_store)
        stop = threading.Event()
        stream = HashtagStream(
            sqlite_store,
            CollectorContext(settings=settings, engine=sqlite_store),
            key,
            stop=stop,
        )
        thread = threading.Thread(target=stream.run, daemon=True)
        thread.start()
        try:
            eventually(lambda: sources(sqlite_store)[key].status == "needs_token")
            src = sources(sqlite_store)[key]
            assert "needs a token" in src.last_error
            eventually(lambda: stream.status == "needs_token")  # waiting out its back-off
        finally:
            stop.set()
            thread.join(timeout=10)
        assert not thread.is_alive()


def test_a_stream_parked_for_its_token_is_retried_with_a_new_one_after_the_runners_back_off(
    sqlite_store, monkeypatch
):
    """`mastodon-live` retries a source that needs a token as `collect` does (the runner's
    RETRIED_PARKED_STATUSES): after the long back-off, reading the token from the environment
    again, so a token configured or refreshed since is used. The back-off's end is simulated
    by moving the stored due time, not by waiting an hour."""
    monkeypatch.setenv("GS_TEST_STREAM_TOKEN", "expired-token")
    with running(MastodonServer("alpha.test", tokens=("live-token",), heartbeat_s=0.1)) as (s,):
        settings = settings_for(s, token_env="GS_TEST_STREAM_TOKEN", stream=True)
        sync(sqlite_store, settings)
        [key] = sources(sqlite_store)
        stop = threading.Event()
        stream = HashtagStream(
            sqlite_store,
            CollectorContext(settings=settings, engine=sqlite_store),
            key,
            stop=stop,
            reconnect_base_s=0.1,
            read_timeout_s=1.0,
            parked_check_s=0.05,
        )
        thread = threading.Thread(target=stream.run, daemon=True)
        thread.start()
        try:
            eventually(lambda: sources(sqlite_store)[key].status == "needs_token")
            src = sources(sqlite_store)[key]
            assert "was refused" in src.last_error and src.consecutive_failures == 1
            parked_at = src.last_error_at
            # the runner's first parked back-off: between half and all of PARKED_RETRY_BASE_S
            assert src.next_due_at - parked_at >= timedelta(seconds=PARKED_RETRY_BASE_S / 2)
            assert thread.is_alive() and s.stream_count() == 0

            monkeypatch.setenv("GS_TEST_STREAM_TOKEN", "live-token")  # the refreshed token
            with write_tx(sqlite_store) as conn:  # ... and the back-off is over
                conn.execute(
                    text("UPDATE source SET next_due_at = :t WHERE key = :k"),
                    {"t": parked_at - timedelta(seconds=1), "k": key},
                )
            eventually(lambda: s.stream_count() == 1)
            carried = s.carry(make_status("alpha.test", "ann", 1))
            eventually(lambda: mentions(sqlite_store) == 1)
            assert scalar(sqlite_store, "SELECT native_id FROM mention") == carried["uri"]
            assert sources(sqlite_store)[key].status == "ok"
            assert stream.status == "streaming"
        finally:
            stop.set()
            thread.join(timeout=10)
        assert not thread.is_alive()


@pytest.mark.parametrize("live", [{"page_limit": 2}], indirect=True)
def test_a_stored_status_deleted_on_the_stream_after_a_restart_becomes_a_tombstone(
    sqlite_store, live
):
    """The stream's `delete` names a status by its id on this instance only. A status stored by
    an earlier process (here the one-pass collector) and older than the newest page is unknown
    to a new stream's memory, so the store must map (instance, local id) to the mention seen
    there: found by the index on `mention_seen (seen_on, local_id)`."""
    server, start = live
    s = server.carry(make_status("alpha.test", "ann", 1, text="Oops https://example.org/x"))
    for n in (2, 3):  # newer: the catch-up's refresh of the latest page lists these only
        server.carry(make_status("alpha.test", "ann", n))
    settings = settings_for(
        server, token_env="GS_TEST_STREAM_TOKEN", stream=True, mastodon={"page_limit": 2}
    )
    runner, _ = runner_for(sqlite_store, settings)
    runner.run_once()
    assert mentions(sqlite_store) == 3
    start()  # a fresh process
    server.delete(s["uri"])
    eventually(
        lambda: (
            scalar(sqlite_store, "SELECT count(*) FROM mention WHERE deleted_at IS NOT NULL") == 1
        )
    )
    row = rows(sqlite_store, "SELECT * FROM mention WHERE deleted_at IS NOT NULL")[0]._mapping
    assert row["native_id"] == s["uri"] and row["deleted_reason"] == "deleted"
    assert row["text"] is None and row["html"] is None and row["url"] is None
    assert row["media"] in (None, "null") and row["links"] in (None, "null")  # JSON null
    assert (
        scalar(
            sqlite_store, "SELECT count(*) FROM mention_payload WHERE mention_id = :i", i=row["id"]
        )
        == 0
    )
    assert scalar(sqlite_store, "SELECT count(*) FROM mention_match") == 3  # still counted
