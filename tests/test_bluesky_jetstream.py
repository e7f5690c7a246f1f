"""Jetstream: posts and reposts from a local websocket stream, filtered against the movements,
resumable from the cursor saved with the rows. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from storage.models import Mention, RollupHourly
from tests.bluesky_support import HANDLE, Env, bluesky_env, jetstream_env, now
from tests.recordings import recorded
from tests.servers.bluesky_server import profile

KEY = "bluesky:jetstream"
ALICE = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
BOB = "did:plc:z72i7hdynmk6r22z27h6tvur"


class Clock:
    """Event times (µs): just after now, so they come after any cursor already saved."""

    base = 0

    @classmethod
    def reset(cls) -> None:
        cls.base = int(time.time() * 1_000_000)

    @classmethod
    def t(cls, n: int) -> int:
        return cls.base + n  # µs apart: all before the next poll starts


@pytest.fixture
def bsky(store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    with jetstream_env(store, tmp_path, monkeypatch) as env:
        yield env


def post(n: int, text: str = "Live from the floor 🎤 #NHSCitizen", did: str = ALICE) -> dict:
    return {
        "did": did,
        "time_us": Clock.t(n),
        "kind": "commit",
        "commit": {
            "rev": f"3l3qo2vutsw{n:02d}",
            "operation": "create",
            "collection": "app.bsky.feed.post",
            "rkey": f"3l3live{n:06d}",
            "record": {
                "$type": "app.bsky.feed.post",
                "createdAt": "2026-11-02T09:35:02.000Z",
                "langs": ["en"],
                "text": text,
            },
            "cid": "bafyreidwaivazkwu67xztlmuobx35hs2lnfh3kolmgfmucldvhd3sgzcqi",
        },
    }


def uri(n: int, did: str = ALICE) -> str:
    return f"at://{did}/app.bsky.feed.post/3l3live{n:06d}"


def repost(n: int, target: str, did: str = BOB) -> dict:
    return {
        "did": did,
        "time_us": Clock.t(n),
        "kind": "commit",
        "commit": {
            "rev": f"3l3qo2vutsx{n:02d}",
            "operation": "create",
            "collection": "app.bsky.feed.repost",
            "rkey": f"3l3rep{n:07d}",
            "record": {
                "$type": "app.bsky.feed.repost",
                "createdAt": "2026-11-02T09:36:00.000Z",
                "subject": {
                    "cid": "bafyreidc6sydkkbchcyg62v77wbhzvb2mvytlmsychqgwf2xojjtirmzj4",
                    "uri": target,
                },
            },
            "cid": "bafyreidc6sydkkbchcyg62v77wbhzvb2mvytlmsychqgwf2xojjtirmzj4",
        },
    }


def delete(n: int, rkey_of: int, did: str = ALICE) -> dict:
    return {
        "did": did,
        "time_us": Clock.t(n),
        "kind": "commit",
        "commit": {
            "rev": f"3l3qo2vutsy{n:02d}",
            "operation": "delete",
            "collection": "app.bsky.feed.post",
            "rkey": f"3l3live{rkey_of:06d}",
        },
    }


def test_stream_posts_matching_a_movement_are_stored_and_others_ignored(bsky: Env) -> None:
    bsky.run()  # the first run starts at the live tail and records where
    Clock.reset()
    for n in range(1, 4):
        bsky.server.publish(post(n))
    bsky.server.publish(post(4, "Lunch was nice"))
    bsky.server.publish(post(5, "nothing to see"))
    (outcome,) = bsky.run()
    assert outcome.outcome == "ok", outcome.error
    assert bsky.native_ids() == sorted(uri(n) for n in range(1, 4))
    assert bsky.source(KEY).cursor == {"time_us": Clock.t(5)}
    conn = bsky.server.ws_connections[0]
    assert sorted(conn["wanted"]) == [  # profiles: their links are people's claims
        "app.bsky.actor.profile",
        "app.bsky.feed.post",
        "app.bsky.feed.repost",
    ]
    assert conn["cursor"] is None  # first run: live tail, no replay of the past
    assert bsky.account(ALICE).no_unauthenticated is None  # unknown from a stream, not False


def test_a_dropped_stream_resumes_from_its_cursor_without_gap_or_duplicate(bsky: Env) -> None:
    bsky.run()  # first run records where the stream starts
    Clock.reset()
    for n in range(1, 7):
        bsky.server.publish(post(n))
    bsky.server.drop_stream_after(2)
    (outcome,) = bsky.run()
    assert outcome.outcome == "ok", outcome.error
    assert bsky.native_ids() == sorted(uri(n) for n in range(1, 7))
    assert bsky.matches() == 6
    # the reconnect asked for everything after the last event committed before the drop
    assert bsky.server.ws_connections[-1]["cursor"] == Clock.t(2) + 1


def test_a_restart_resumes_from_the_saved_cursor(bsky: Env) -> None:
    bsky.run()
    Clock.reset()
    for n in range(1, 4):
        bsky.server.publish(post(n))
    bsky.run()
    for n in range(4, 6):
        bsky.server.publish(post(n))
    bsky.run()  # a new process: the cursor comes from the store
    assert bsky.server.ws_connections[-1]["cursor"] == Clock.t(3) + 1
    assert bsky.native_ids() == sorted(uri(n) for n in range(1, 6))
    assert bsky.matches() == 5


def test_deletes_on_the_stream_become_tombstones(bsky: Env) -> None:
    bsky.run()
    Clock.reset()
    bsky.server.publish(post(1))
    bsky.server.publish(post(2))
    bsky.run()
    bsky.server.publish(delete(3, rkey_of=1))
    bsky.server.publish(delete(4, rkey_of=99))  # never stored: nothing to do
    bsky.run()
    m = Mention.__table__
    with bsky.engine.connect() as conn:
        rows = {r.native_id: r for r in conn.execute(select(m))}
    assert rows[uri(1)].deleted_at is not None and rows[uri(1)].text is None
    assert rows[uri(2)].deleted_at is None and rows[uri(2)].text
    assert uri(99) not in rows


def _recorded_jetstream() -> list[dict[str, Any]]:
    """Production Jetstream v1 events as Jetstream's own corpus recorded them (MIT or
    Apache-2.0, read where it lies), their times moved to just after now so a cursor taken
    now replays them."""
    raw = recorded("bluesky-social/jetstream", "internal/corpus/testdata/expected_v1.jsonl")
    events = [json.loads(line) for line in raw.decode().splitlines() if line.strip()]
    for n, event in enumerate(events, start=1):
        event["time_us"] = Clock.t(n)
    return events


def test_a_recorded_jetstream_delete_of_a_post_not_stored_keeps_a_later_search_hit_deleted(
    bsky: Env,
) -> None:
    # Issue 15, Bluesky 4: a delete of a post not stored yet was dropped, so the search hit
    # that came after it (the index lags the firehose) stored the deleted post, text and all.
    bsky.configure(
        queries=[{"tag": "NHSCitizen"}],
        jetstream_url=bsky.server.jetstream_url,
        jetstream_rewind_s=0,
        jetstream_flush_s=0.3,
        jetstream_catchup_s=10,
    )
    bsky.run()  # the stream's cursor starts now; the search finds nothing yet
    Clock.reset()
    events = _recorded_jetstream()
    deletes = [
        e
        for e in events
        if e["kind"] == "commit"
        and e["commit"]["operation"] == "delete"
        and e["commit"]["collection"] == "app.bsky.feed.post"
    ]
    assert deletes, "the recording has a post deletion"
    for event in events:
        bsky.server.publish(event)
    bsky.run()
    gone = deletes[0]
    author = profile(gone["did"], "deleter.example.org")
    late = bsky.server.add_post(
        author,
        "Too late to take back #NHSCitizen",
        now() - timedelta(minutes=1),
        rkey=gone["commit"]["rkey"],
    )
    bsky.run()  # the search index still has it
    m = Mention.__table__
    with bsky.engine.connect() as conn:
        row = conn.execute(select(m).where(m.c.native_id == late)).one()
    assert row.deleted_at is not None and row.text is None


@pytest.mark.parametrize(
    "greeting",
    [
        ['{"op": 1, "t": "#info", "name": "OutdatedCursor"}'],  # another stream's frame
        ["Welcome to the echo server"],
        ["{}", "{}", "{}", "{}"],
    ],
    ids=["other-stream", "text", "empty-objects"],
)
def test_an_endpoint_that_is_not_jetstream_is_reported_as_such(
    bsky: Env, greeting: list[str]
) -> None:
    # Issue 15, Bluesky 6: pointed at something else, a run said "ok, 1 fetched, 1 skipped".
    bsky.server.impostor = greeting
    (outcome,) = bsky.run()
    assert outcome.outcome == "fatal"
    assert "does not speak Jetstream" in (outcome.error or "")
    assert "jetstream_url" in (outcome.error or "")
    assert bsky.source(KEY).status == "fatal"


def test_live_mode_says_an_endpoint_is_not_jetstream_instead_of_waiting(bsky: Env) -> None:
    bsky.server.impostor = ["Welcome to the echo server"]
    (outcome,) = bsky.run(live=True)
    assert outcome.outcome == "fatal" and "does not speak Jetstream" in (outcome.error or "")


def test_a_web_page_instead_of_a_websocket_is_reported_as_not_jetstream(bsky: Env) -> None:
    page = bsky.server.base_url.replace("http://", "ws://") + "/subscribe"  # plain HTTP there
    bsky.configure(queries=[], jetstream_url=page, jetstream_flush_s=0.3)
    (outcome,) = bsky.run()
    assert outcome.outcome == "fatal"
    assert "does not speak Jetstream" in (outcome.error or "") and "HTTP" in (outcome.error or "")


def test_reposts_of_stored_mentions_become_edges_and_others_are_dropped(bsky: Env) -> None:
    bsky.run()
    Clock.reset()
    bsky.server.publish(post(1))
    bsky.server.publish(repost(2, uri(1)))
    bsky.server.publish(repost(3, f"at://{ALICE}/app.bsky.feed.post/3unrelated22"))
    bsky.run()
    assert [kind for kind, _, _ in bsky.edges()] == ["repost"]


def test_a_handle_change_on_the_stream_updates_a_known_account(bsky: Env) -> None:
    bsky.run()
    Clock.reset()
    bsky.server.publish(post(1))
    ident = {
        "did": ALICE,
        "time_us": Clock.t(2),
        "kind": "identity",
        "identity": {
            "did": ALICE,
            "handle": "alice.nhs.example",
            "seq": 1,
            "time": "2026-11-02T09:35:06.000Z",
        },
    }
    stranger = dict(ident, did=BOB, identity=dict(ident["identity"], did=BOB))
    bsky.server.publish(ident)
    bsky.server.publish(stranger)
    bsky.run()
    assert bsky.account(ALICE).handle == "alice.nhs.example"
    assert bsky.account(BOB) is None


def test_a_malformed_event_is_skipped_and_counted(bsky: Env) -> None:
    bsky.run()
    Clock.reset()
    bad = post(1)  # it carries the hashtag, so it is parsed, and its date is nonsense
    bad["commit"]["record"]["createdAt"] = "yesterday-ish"
    bsky.server.publish(bad)
    bsky.server.publish(post(2))
    (outcome,) = bsky.run()
    assert outcome.outcome == "ok"
    assert bsky.native_ids() == [uri(2)]
    assert bsky.last_run().skip_reasons == {"bad_date": 1}


def _cli(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "groundswell.cli", *args],
        cwd=Path(__file__).resolve().parents[1],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_the_live_command_follows_the_stream_through_a_drop(
    sqlite_store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with bluesky_env(sqlite_store, tmp_path, monkeypatch) as env:
        config = tmp_path / "groundswell.toml"
        config.write_text(
            f"""
[[movements]]
slug = "nhscitizen"
name = "NHS Citizen"
hashtags = ["NHSCitizen"]

[bluesky]
jetstream_url = "{env.server.jetstream_url}"
jetstream_rewind_s = 0
jetstream_flush_s = 0.2
""",
            encoding="utf-8",
        )
        db = f"sqlite:///{tmp_path / 'gs.db'}"
        env.engine = _engine(db)
        env_vars = {**os.environ, "GROUNDSWELL_BSKY_HANDLE": HANDLE}
        proc = _cli("bluesky-live", "-c", str(config), "--db", db, "--duration", "60", env=env_vars)
        try:
            _wait_for(lambda: len(env.server.ws_connections) == 1)
            Clock.reset()
            env.server.publish(post(101, did=BOB))
            _wait_for(lambda: env.native_ids() == [uri(101, did=BOB)])
            env.server.kick()  # the network drops mid-stream
            env.server.publish(post(102, did=BOB))
            env.server.publish(post(103, did=BOB))
            _wait_for(lambda: len(env.native_ids()) == 3)
            proc.send_signal(signal.SIGINT)  # Ctrl-C: stop after the current batch
            out, _ = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 0, out
        assert env.server.ws_connections[1]["cursor"] == Clock.t(101) + 1
        assert env.native_ids() == sorted(uri(n, did=BOB) for n in (101, 102, 103))
        assert env.matches() == 3


def _engine(url: str) -> Any:
    from storage.engine import make_engine

    return make_engine(url)


def _wait_for(check: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:
            pass
        time.sleep(0.1)
    raise AssertionError("condition not reached in time")


@pytest.mark.slow
def test_a_live_worker_killed_mid_stream_restarts_without_loss_or_duplicates(
    sqlite_store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with bluesky_env(sqlite_store, tmp_path, monkeypatch) as env:
        config = tmp_path / "groundswell.toml"
        config.write_text(
            f"""
[[movements]]
slug = "nhscitizen"
name = "NHS Citizen"
hashtags = ["NHSCitizen"]

[bluesky]
jetstream_url = "{env.server.jetstream_url}"
jetstream_rewind_s = 1
jetstream_flush_s = 0.05
jetstream_batch = 5
""",
            encoding="utf-8",
        )
        db = f"sqlite:///{tmp_path / 'gs.db'}"
        env.engine = _engine(db)
        args = ("bluesky-live", "-c", str(config), "--db", db, "--worker-id", "bsky-live-1")
        first = _cli(*args, "--duration", "60", env=dict(os.environ))
        try:
            _wait_for(lambda: len(env.server.ws_connections) == 1)
            Clock.reset()
            for n in range(1, 301):
                env.server.publish(post(n, did=BOB))
            _wait_for(lambda: len(env.native_ids()) >= 20)
            first.kill()  # SIGKILL: no clean-up, the lease stays with "bsky-live-1"
            first.wait(timeout=10)
        finally:
            if first.poll() is None:
                first.kill()
        stored_at_kill = len(env.native_ids())
        assert stored_at_kill < 300, "killed too late to prove anything"
        second = _cli(*args, "--duration", "60", env=dict(os.environ))  # same worker id
        try:
            _wait_for(lambda: len(env.native_ids()) == 300, timeout=40)
            second.send_signal(signal.SIGINT)
            out, _ = second.communicate(timeout=30)
        finally:
            if second.poll() is None:
                second.kill()
        assert second.returncode == 0, out
        assert env.native_ids() == sorted(uri(n, did=BOB) for n in range(1, 301))
        assert env.matches() == 300
        rolled = env.scalar(select(func.sum(RollupHourly.__table__.c.mentions)))
        assert rolled == 300  # the replayed second of events counted nothing twice
