"""Replies without the hashtag, from the threads of matched statuses (issue 15, Mastodon 5):
the real Mastodon.py client against a local instance's `statuses/:id/context`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.mastodon_support import rows, runner_for, scalar, settings_for, sources
from tests.servers.mastodon_server import MastodonServer, make_account, make_status, running

# Test statuses are dated November 2026, older than the default window.
THREADS = {"reply_window_days": 3650}


@pytest.fixture
def alpha() -> Iterator[MastodonServer]:
    with running(MastodonServer("alpha.test", seq_salt=10)) as (a,):
        yield a


def post(server: MastodonServer, n: int, *, user: str = "ann", **kw) -> dict:
    return server.carry(make_status(server.domain, user, n, **kw))


def reply(server: MastodonServer, parent: dict, n: int, user: str, **kw) -> dict:
    """A reply from beta.test that does not repeat the hashtag."""
    acc = make_account(user, "beta.test", **kw)
    status = make_status("beta.test", user, n, text="Count me in", tags=(), account=acc)
    return server.reply(parent["uri"], status, origin="beta.test")


def contexts(server: MastodonServer) -> list[str]:
    return [r.path for r in server.requests if r.path.endswith("/context")]


def vias(engine) -> dict[str, str]:
    return {
        r.native_id: r.via
        for r in rows(
            engine,
            "SELECT m.native_id, mm.via FROM mention m JOIN mention_match mm "
            "ON mm.mention_id = m.id",
        )
    }


def reply_edges(engine) -> set[tuple[str, str]]:
    return {
        (r.via_uri, r.target_uri)
        for r in rows(
            engine,
            "SELECT v.native_id AS via_uri, t.native_id AS target_uri FROM amplification e "
            "JOIN mention v ON v.id = e.via_mention_id "
            "JOIN mention t ON t.id = e.target_mention_id WHERE e.kind = 'reply'",
        )
    }


def test_replies_without_the_hashtag_are_stored_in_thread_with_edges_to_their_parents(store, alpha):
    root = post(alpha, 1)
    first = reply(alpha, root, 2, "bob")
    nested = reply(alpha, first, 3, "cat")  # a reply to the reply
    runner, _ = runner_for(store, settings_for(alpha, mastodon=THREADS))
    [outcome] = runner.run_once()
    assert outcome.outcome == "ok"
    assert vias(store) == {
        root["uri"]: "hashtag",
        first["uri"]: "thread",
        nested["uri"]: "thread",
    }
    assert reply_edges(store) == {(first["uri"], root["uri"]), (nested["uri"], first["uri"])}
    assert scalar(store, "SELECT sum(mentions) FROM rollup_hourly") == 3


def test_a_thread_is_read_only_when_the_reply_count_grew(store, alpha):
    root = post(alpha, 1)
    post(alpha, 2)  # never replied to: never read
    runner, _ = runner_for(store, settings_for(alpha, mastodon=THREADS))
    runner.run_once()
    assert contexts(alpha) == []
    reply(alpha, root, 3, "bob")
    runner.run_once()
    assert contexts(alpha) == [f"/api/v1/statuses/{alpha.local_id(root['uri'])}/context"]
    runner.run_once()  # no growth: no request
    assert len(contexts(alpha)) == 1
    late = reply(alpha, root, 4, "cat")
    runner.run_once()
    assert len(contexts(alpha)) == 2
    assert vias(store)[late["uri"]] == "thread"
    assert scalar(store, "SELECT count(*) FROM mention") == 4


def test_a_failed_thread_read_moves_no_cursor_and_the_next_poll_stores_it_once(store, alpha):
    root = post(alpha, 1)
    settings = settings_for(alpha, mastodon=THREADS)
    runner, _ = runner_for(store, settings)
    runner.run_once()
    before = next(iter(sources(store).values())).cursor
    replies = [reply(alpha, root, n, f"user{n}") for n in range(2, 5)]
    alpha.fail_next("500", path_prefix="/api/v1/statuses/")
    [failed] = runner.run_once()
    assert failed.outcome == "transient"
    assert next(iter(sources(store).values())).cursor == before
    assert scalar(store, "SELECT count(*) FROM mention") == 1

    restarted, _ = runner_for(store, settings)
    [ok] = restarted.run_once()
    assert ok.outcome == "ok"
    assert {r["uri"] for r in replies} <= set(vias(store))
    assert scalar(store, "SELECT count(*) FROM mention") == 4
    assert scalar(store, "SELECT sum(mentions) FROM rollup_hourly") == 4
    restarted.run_once()
    assert len(contexts(alpha)) == 2  # the failed read and the one that committed


def test_threads_beyond_the_per_page_budget_wait_in_the_cursor_and_each_is_read_once(store, alpha):
    roots = [post(alpha, n) for n in range(1, 4)]
    for i, root in enumerate(roots):
        reply(alpha, root, 10 + i, f"fan{i}")
    settings = settings_for(alpha, mastodon={**THREADS, "threads_per_page": 1})
    runner, _ = runner_for(store, settings)
    runner.run_once()
    assert len(contexts(alpha)) <= 2  # a backfill page and a forward page: one thread each
    for _ in range(3):
        runner.run_once()
    assert sorted(contexts(alpha)) == sorted(
        f"/api/v1/statuses/{alpha.local_id(r['uri'])}/context" for r in roots
    )
    assert list(vias(store).values()).count("thread") == 3


def test_replies_are_not_read_when_fetch_replies_is_off(store, alpha):
    root = post(alpha, 1)
    reply(alpha, root, 2, "bob")
    runner, _ = runner_for(store, settings_for(alpha, mastodon={**THREADS, "fetch_replies": False}))
    runner.run_once()
    assert contexts(alpha) == []
    assert scalar(store, "SELECT count(*) FROM mention") == 1


# -- recorded real traffic (Mastodon.py's cassettes, MIT, recorded against Mastodon 4.x) --------

MASTODON_PY = "halcy/Mastodon.py"


def _recorded_scene(parent_cassette: str, *, replies: list[dict] | None = None):
    """Routes for a poll replayed from Mastodon.py's cassettes: the instance (test_instance),
    a hashtag page holding the recorded parent status, and its context. The parent is the
    status as the cassette created it, with `replies_count` as the server reported it last
    (the DELETE reply at the cassette's end). With `replies`, the context's descendants are
    those recorded statuses (no cassette fetched a non-empty context), served with the
    recorded context reply's own headers; without, the recorded context reply as-is."""
    import dataclasses
    import json

    from tests.recordings import cassette

    [instance] = [
        i for i in cassette(MASTODON_PY, "tests/cassettes/test_instance.yaml") if i.method == "GET"
    ]
    ctx_tape = cassette(MASTODON_PY, "tests/cassettes/test_status_context.yaml")
    [context] = [i for i in ctx_tape if i.uri.endswith("/context")]
    tape = cassette(MASTODON_PY, parent_cassette)
    parent = json.loads(tape[0].body)
    last = json.loads(tape[-1].body)
    assert last["id"] == parent["id"]
    parent["replies_count"] = max(int(last["replies_count"]), 1 if replies is None else 0)
    page = dataclasses.replace(context, body=json.dumps([parent]).encode())
    if replies is not None:
        body = {"ancestors": [], "descendants": replies}
        context = dataclasses.replace(context, body=json.dumps(body).encode())
    elif not context.uri.endswith(f"/statuses/{parent['id']}/context"):
        pytest.skip("the recorded context is not the recorded parent's")
    routes = {
        ("GET", "/api/v2/instance"): instance,
        ("GET", "/api/v1/timelines/tag/Toot"): page,
        ("GET", f"/api/v1/statuses/{parent['id']}/context"): context,
    }
    return parent, routes


def _recorded_settings(server):
    from domain.settings.config import parse_settings

    return parse_settings(
        {
            "movements": [{"slug": "toots", "name": "Toots", "terms": ["Toot"]}],
            "mastodon": {
                "instances": [
                    {"base_url": server.base_url, "hashtags": ["Toot"], "backfill_days": 3650}
                ],
                **THREADS,
            },
        }
    )


def test_recorded_reply_is_stored_in_thread_counted_and_withheld_without_consent(store):
    import json

    from sqlalchemy import select

    from storage.models import Account, Mention
    from storage.queries.ethics import mention_displayable
    from tests.recordings import cassette
    from tests.servers.replay_server import replaying

    tape = cassette(MASTODON_PY, "tests/cassettes/test_status_reply.yaml")
    reply_status = json.loads(tape[2].body)  # "@mastodonpy_test_2 same!" by admin
    assert reply_status["in_reply_to_id"] is not None
    parent, routes = _recorded_scene(
        "tests/cassettes/test_status_reply.yaml", replies=[reply_status]
    )
    with replaying(routes) as server:
        runner, _ = runner_for(store, _recorded_settings(server))
        [outcome] = runner.run_once()
    assert outcome.outcome == "ok"
    assert vias(store) == {parent["uri"]: "term", reply_status["uri"]: "thread"}
    assert "/ap/users/" in reply_status["uri"]  # Mastodon 4.4+ URI shape, as recorded
    assert reply_edges(store) == {(reply_status["uri"], parent["uri"])}
    assert scalar(store, "SELECT sum(mentions) FROM rollup_hourly") == 2
    # The recorded author has `indexable: false`: counted, never shown.
    assert reply_status["account"]["indexable"] is False
    m, a = Mention.__table__, Account.__table__
    with store.connect() as conn:
        shown = {
            r[0]
            for r in conn.execute(
                select(m.c.native_id)
                .select_from(m.outerjoin(a, a.c.id == m.c.account_id))
                .where(mention_displayable(m, a))
            )
        }
    assert shown == {parent["uri"]}


def test_recorded_empty_context_settles_the_thread_without_storing_anything(store):
    from tests.servers.replay_server import replaying

    parent, routes = _recorded_scene("tests/cassettes/test_status_context.yaml")
    with replaying(routes) as server:
        runner, _ = runner_for(store, _recorded_settings(server))
        assert [o.outcome for o in runner.run_once()] == ["ok"]
        assert [o.outcome for o in runner.run_once()] == ["ok"]
        reads = [p for _, p in server.requests if p.endswith("/context")]
    assert reads == [f"/api/v1/statuses/{parent['id']}/context"]  # once: settled
    assert scalar(store, "SELECT count(*) FROM mention") == 1


def test_a_malformed_reply_in_a_thread_is_skipped_and_counted_the_rest_stored(store, alpha):
    root = post(alpha, 1)
    good = reply(alpha, root, 2, "bob")
    alpha.carry_raw({"id": "5", "in_reply_to_id": root["id"], "content": "no uri"}, local_id=5)
    alpha.status(root["uri"])["replies_count"] = 2
    runner, _ = runner_for(store, settings_for(alpha, mastodon=THREADS))
    [outcome] = runner.run_once()
    assert outcome.outcome == "ok"
    assert vias(store)[good["uri"]] == "thread"
    assert scalar(store, "SELECT count(*) FROM mention") == 2
    reasons = [r.skip_reasons for r in rows(store, "SELECT skip_reasons FROM collector_run")]
    assert any("missing_uri" in str(r) for r in reasons)


def test_a_context_that_is_not_a_context_stores_nothing() -> None:
    from collectors.mastodon.threads import descendants

    for payload in (None, [], "x", {"descendants": "x"}, {"ancestors": []}):
        assert descendants(payload) == []


def test_thread_reads_are_paced_under_the_advertised_rate_limit(sqlite_store) -> None:
    """Each context read is one request of the instance's limit: with 6 per 3 s advertised and
    more threads than that to read, the client waits instead of drawing a 429."""
    limited = MastodonServer("alpha.test", seq_salt=10, rate_limit=6, rate_window_s=3)
    with running(limited) as (alpha,):
        roots = [post(alpha, n) for n in range(1, 6)]
        for i, root in enumerate(roots):
            reply(alpha, root, 10 + i, f"fan{i}")
        runner, _ = runner_for(sqlite_store, settings_for(alpha, mastodon=THREADS))
        [outcome] = runner.run_once()
    assert outcome.outcome == "ok", outcome.error
    assert len(contexts(alpha)) == 5
    assert [r.path for r in alpha.requests if r.status == 429] == []
    assert scalar(sqlite_store, "SELECT count(*) FROM mention") == 10


def test_the_cursor_tracks_only_statuses_that_have_replies(store, alpha):
    root = post(alpha, 1)
    for n in range(2, 6):
        post(alpha, n)  # never replied to
    reply(alpha, root, 9, "bob")
    runner, _ = runner_for(store, settings_for(alpha, mastodon=THREADS))
    runner.run_once()
    tracked = next(iter(sources(store).values())).cursor["threads"]
    assert list(tracked) == [root["uri"]]
    assert tracked[root["uri"]][1:3] == [1, 1]  # replies read = replies seen


def test_a_thread_gone_since_it_was_listed_is_counted_and_the_source_stays_ok(store, alpha):
    root = post(alpha, 1)
    reply(alpha, root, 2, "bob")
    alpha.fail_next("401", path_prefix=f"/api/v1/statuses/{alpha.local_id(root['uri'])}/context")
    runner, _ = runner_for(store, settings_for(alpha, mastodon=THREADS))
    [outcome] = runner.run_once()
    assert outcome.outcome == "ok", outcome.error
    reasons = [r.skip_reasons for r in rows(store, "SELECT skip_reasons FROM collector_run")]
    assert any("thread_unavailable" in str(r) for r in reasons)
    runner.run_once()  # settled: not asked again until the count grows
    assert len(contexts(alpha)) == 1


def test_statuses_that_belong_to_no_movement_have_no_thread_read(store, alpha):
    elsewhere = post(alpha, 1, tags=("Elsewhere",))  # listed: the instance follows the tag
    reply(alpha, elsewhere, 2, "bob")
    settings = settings_for(alpha, hashtags=("NHSCitizen", "Elsewhere"), mastodon=THREADS)
    runner, _ = runner_for(store, settings)
    runner.run_once()
    assert contexts(alpha) == []
    assert scalar(store, "SELECT count(*) FROM mention") == 0
