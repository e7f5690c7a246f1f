"""Deletes that arrive before the post (issue 15: Mastodon 6, Bluesky 4).

A stream can announce a deletion before any poll or search stored the post: Jetstream's delete
of a post the search index still returns, Mastodon's streaming `delete` of a status a timeline
page still carries. The deletion is remembered (`deleted_key`, one-way ids only), and the write
path stores the post as a tombstone whenever it arrives, so nothing resurrects it. Replays
recorded real traffic: a Mastodon 4.x user stream recorded by Mastodon.py (an `update`, then
the `delete` of the same status) read through Mastodon.py's own stream parser.
"""

from __future__ import annotations

import io
import queue
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import requests
from sqlalchemy import Engine, func, select, text

from collectors.base import CollectorContext
from collectors.mastodon.parse import parse_status
from collectors.mastodon.stream import HashtagStream, _Listener
from domain.records import local_status_key
from storage.engine import write_tx
from storage.models import Mention, MentionPayload
from storage.models_deletions import DeletedKey
from storage.queries.sightings import seen_as
from storage.write import DELETION_MEMORY, write_batch
from tests.factories import batch, mention, movement
from tests.mastodon_support import settings_for, sources, sync
from tests.recordings import cassette
from tests.servers.mastodon_server import MastodonServer, make_status, running

MASTODON_PY = "halcy/Mastodon.py"  # MIT; recorded against a real Mastodon 4.x


def _count(engine: Engine, table: Any, *where: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar())


def _only_mention(engine: Engine) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(Mention.__table__)).one()


def test_a_post_deleted_before_it_was_stored_is_stored_as_a_tombstone(store: Engine) -> None:
    rules = movement(store)
    m = mention(1)
    with write_tx(store) as conn:
        res = write_batch(conn, batch(deletions=[(m.platform, m.native_id)]), rules)
    assert res.tombstoned == 0 and _count(store, DeletedKey.__table__) == 1
    with write_tx(store) as conn:
        write_batch(conn, batch(mention(1)), rules)  # the late search hit or poll
    row = _only_mention(store)
    assert row.deleted_at is not None and row.text is None and row.html is None
    assert _count(store, MentionPayload.__table__) == 0
    assert _count(store, text("mention_match")) == 1  # counted, like any tombstone


def test_the_deletion_memory_keeps_no_readable_key_and_forgets_after_its_horizon(
    store: Engine,
) -> None:
    rules = movement(store)
    with write_tx(store) as conn:
        write_batch(conn, batch(deletions=[("mastodon", "https://a.test/users/x/1")]), rules)
    with store.connect() as conn:
        (row,) = conn.execute(select(DeletedKey.__table__)).all()
    assert set(row._mapping) == {"id", "deleted_at"}  # a one-way id, no post address
    later = row.deleted_at + DELETION_MEMORY + timedelta(minutes=1)
    with write_tx(store) as conn:
        write_batch(
            conn, batch(deletions=[("mastodon", "https://a.test/users/x/2")]), rules, now=later
        )
    with store.connect() as conn:
        (kept,) = conn.execute(select(DeletedKey.__table__.c.deleted_at)).all()
    assert kept[0] == later


def _recorded_user_stream() -> list[tuple[str, Any]]:
    """The events of a real Mastodon 4.x user stream, parsed by Mastodon.py's stream reader
    (through our listener) from the bytes Mastodon.py's cassette recorded."""
    (recording,) = [
        i
        for i in cassette(MASTODON_PY, "tests/cassettes/test_stream_user_direct.yaml")
        if i.uri.endswith("/api/v1/streaming/user")
    ]
    response = requests.Response()
    response.status_code = 200
    response.raw = io.BytesIO(recording.body)
    events: queue.Queue[tuple[str, Any]] = queue.Queue()
    _Listener(events).handle_stream(response)
    out = []
    while not events.empty():
        out.append(events.get_nowait())
    return out


def test_a_recorded_mastodon_stream_delete_ahead_of_its_status_leaves_a_tombstone(
    store: Engine,
) -> None:
    events = _recorded_user_stream()
    (deleted_id,) = [payload for kind, payload in events if kind == "delete"]
    status = next(p for k, p in events if k == "update" and p["id"] == deleted_id)
    domain = "localhost:3000"  # the instance that recorded it
    rules = movement(store, hashtags=[], terms=["real animals", "real cars"], urls=[])
    late_copy = parse_status(status, domain).mention
    assert late_copy.text  # a live status, as a page read before the delete still shows it

    key = ("mastodon", local_status_key(domain, str(deleted_id)))
    with write_tx(store) as conn:  # the stream's delete: only the local id is known
        write_batch(conn, batch(deletions=[key]), rules)
    with write_tx(store) as conn:  # then the page that still carried it
        write_batch(conn, batch(late_copy), rules)
    row = _only_mention(store)
    assert row.native_id == status["uri"] and row.deleted_at is not None and row.text is None


def _eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_a_mastodon_stream_delete_of_an_unseen_status_keeps_the_next_poll_from_reviving_it(
    sqlite_store: Engine, monkeypatch: Any
) -> None:
    monkeypatch.setenv("GS_TEST_STREAM_TOKEN", "live-token")
    stop = threading.Event()
    server = MastodonServer("alpha.test", tokens=("live-token",), heartbeat_s=0.1)
    with running(server) as (s,):
        settings = settings_for(s, token_env="GS_TEST_STREAM_TOKEN", stream=True)
        sync(sqlite_store, settings)
        [key] = sources(sqlite_store)
        stream = HashtagStream(
            sqlite_store,
            CollectorContext(settings=settings, engine=sqlite_store),
            key,
            stop=stop,
            reconnect_base_s=0.1,
            read_timeout_s=1.0,
        )
        thread = threading.Thread(target=stream.run, daemon=True)
        thread.start()
        try:
            _eventually(lambda: s.stream_count() == 1)
            status = s.carry(make_status("alpha.test", "ann", 1, text="Oops"), stream=False)
            s.announce_delete(status["uri"])  # its page still carries it
            _eventually(lambda: _count(sqlite_store, DeletedKey.__table__) == 1)
            s.drop_streams()  # reconnect: the catch-up poll reads the page
            _eventually(lambda: _count(sqlite_store, Mention.__table__) == 1)
        finally:
            stop.set()
            thread.join(timeout=10)
    row = _only_mention(sqlite_store)
    assert row.native_id == status["uri"] and row.deleted_at is not None and row.text is None


def test_a_stored_status_is_found_by_the_id_an_instance_gave_it(store: Engine) -> None:
    """A streaming `delete` names a status by its id on that instance only: the store answers
    which mention that is (a stream's deletions after a restart, test_mastodon_stream.py)."""
    rules = movement(store)
    m = mention(1, seen_on="alpha.test", seen_local_id="1001")
    other = mention(2, seen_on="beta.test", seen_local_id="1001")  # same id, another instance
    with write_tx(store) as conn:
        write_batch(conn, batch(m, other), rules)
    with store.connect() as conn:
        assert seen_as(conn, "alpha.test", "1001") == (m.platform, m.native_id)
        assert seen_as(conn, "beta.test", "1001") == (other.platform, other.native_id)
        assert seen_as(conn, "alpha.test", "1002") is None
        if conn.dialect.name == "sqlite":  # the planner's choice on a small table (PostgreSQL
            # rightly scans a few rows instead) says the index exists and fits the lookup
            plan = " ".join(
                str(r[-1])
                for r in conn.exec_driver_sql(
                    "EXPLAIN QUERY PLAN SELECT mention_id FROM mention_seen "
                    "WHERE seen_on = 'alpha.test' AND local_id = '1001'"
                )
            )
            assert "ix_seen_local" in plan
