"""`timelines = ["local", "public"]`: an instance's own timelines as sources, paged, paced and
budgeted like hashtags, and stopped (not polled in a loop) when the instance disabled them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.mastodon_support import rows, runner_for, settings_for, sources
from tests.servers.mastodon_server import MastodonServer, make_status, running


@pytest.fixture
def event() -> Iterator[MastodonServer]:
    with running(MastodonServer("event.test", seq_salt=10)) as (s,):
        yield s


def post(server: MastodonServer, n: int, *, origin: str | None = None, **kw) -> dict:
    domain = origin or server.domain
    return server.carry(make_status(domain, "ann", n, **kw), origin=domain)


def local_settings(server: MastodonServer, timeline: str = "local", **kw):
    # The instance's one hashtag source reads a tag nobody uses: what is stored came through
    # the timeline.
    return settings_for(
        server, hashtags=("Unused",), timelines=[timeline], mastodon={"page_limit": 3}, **kw
    )


def timeline_runs(runner) -> list:
    return [o for o in runner.run_once() if o.source_key.endswith("timeline")]


def timeline_source(engine):
    [src] = [s for s in sources(engine).values() if s.key.endswith("timeline")]
    return src


def stored(engine) -> set[str]:
    return {r.native_id for r in rows(engine, "SELECT native_id FROM mention")}


def test_a_local_timeline_source_keeps_its_users_statuses_that_match_a_movement(
    sqlite_store, event
):
    mine = [post(event, n, text="Pledged", tags=("NHSCitizen",)) for n in range(1, 6)]
    post(event, 6, text="Lunch", tags=())  # local, but no movement's
    post(event, 7, origin="elsewhere.test")  # a remote status: not on the local timeline
    runner, _ = runner_for(sqlite_store, local_settings(event))
    [out] = timeline_runs(runner)
    assert out.source_key.endswith("local timeline") and out.outcome == "ok"
    assert stored(sqlite_store) == {s["uri"] for s in mine}
    asked = event.requests_to("/api/v1/timelines/public")
    assert asked and all(r.query.get("local") == ["1"] for r in asked)


def test_a_local_timeline_pages_forward_from_its_cursor_on_the_next_poll(sqlite_store, event):
    for n in range(1, 5):
        post(event, n)
    runner, _ = runner_for(sqlite_store, local_settings(event))
    runner.run_once()
    cursor = timeline_source(sqlite_store).cursor
    late = [post(event, n) for n in range(5, 12)]
    before = len(event.requests_to("/api/v1/timelines/public"))
    runner.run_once()
    forward = event.requests_to("/api/v1/timelines/public")[before:]
    assert forward[0].query.get("min_id") == [cursor["min_id"]]
    assert {s["uri"] for s in late} <= stored(sqlite_store)
    assert len(stored(sqlite_store)) == 11


def test_the_federated_public_timeline_is_a_source_too(sqlite_store, event):
    remote = post(event, 1, origin="elsewhere.test")
    runner, _ = runner_for(sqlite_store, local_settings(event, "public"))
    [out] = timeline_runs(runner)
    assert out.source_key.endswith("public timeline") and out.outcome == "ok"
    assert stored(sqlite_store) == {remote["uri"]}


def test_a_disabled_local_timeline_stops_its_source_with_the_reason_in_status(sqlite_store):
    with running(MastodonServer("event.test", live_feeds="disabled")) as (s,):
        post(s, 1)
        runner, _ = runner_for(sqlite_store, local_settings(s))
        [out] = timeline_runs(runner)
        assert out.outcome == "fatal"
        assert "disabled this timeline" in (out.error or "")
        assert timeline_runs(runner) == []  # not polled again (nor in a loop)
        assert s.requests_to("/api/v1/timelines/public") == []
        src = timeline_source(sqlite_store)
        assert src.status == "timeline_disabled"
        assert "timelines_access.live_feeds.local = disabled" in src.last_error


def test_a_timeline_for_signed_in_users_only_needs_a_token(sqlite_store):
    with running(MastodonServer("event.test", live_feeds="authenticated")) as (s,):
        post(s, 1)
        runner, _ = runner_for(sqlite_store, local_settings(s))
        [out] = timeline_runs(runner)
        assert out.outcome == "fatal" and "needs a token" in (out.error or "")
        assert s.requests_to("/api/v1/timelines/public") == []
