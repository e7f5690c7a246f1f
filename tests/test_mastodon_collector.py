"""The Mastodon collector driving the real Mastodon.py client against local instances."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.mastodon_support import rows, runner_for, scalar, settings_for, sources
from tests.servers.mastodon_server import MastodonServer, make_account, make_status, running

PAGE = {"page_limit": 5}


@pytest.fixture
def alpha() -> Iterator[MastodonServer]:
    with running(MastodonServer("alpha.test", seq_salt=10)) as (a,):
        yield a


@pytest.fixture
def pair() -> Iterator[tuple[MastodonServer, MastodonServer]]:
    with running(
        MastodonServer("alpha.test", seq_salt=10), MastodonServer("beta.test", seq_salt=900)
    ) as (a, b):
        yield a, b


def post(server: MastodonServer, n: int, *, user: str = "ann", **kw) -> dict:
    return server.carry(make_status(server.domain, user, n, **kw))


def test_one_status_seen_on_two_instances_is_one_mention_with_both_instances(store, pair):
    a, b = pair
    for n in range(1, 13):
        s = post(a, n)
        b.carry(s, origin="alpha.test")
    runner, _ = runner_for(store, settings_for(a, b, mastodon=PAGE))
    outcomes = runner.run_once()
    assert [o.outcome for o in outcomes] == ["ok", "ok"]
    assert a.local_id(s["uri"]) != b.local_id(s["uri"])  # same uri, different ids
    assert scalar(store, "SELECT count(*) FROM mention") == 12
    assert scalar(store, "SELECT count(*) FROM mention_seen") == 24
    seen = {r[0] for r in rows(store, "SELECT DISTINCT seen_on FROM mention_seen")}
    assert seen == {"alpha.test", "beta.test"}
    assert scalar(store, "SELECT sum(mentions) FROM rollup_hourly") == 12
    assert scalar(store, "SELECT count(*) FROM account") == 1


def test_a_restart_mid_backfill_resumes_with_no_gap_and_no_duplicate(store, alpha):
    for n in range(1, 24):
        post(alpha, n)
    settings = settings_for(alpha, mastodon=PAGE)
    runner, _ = runner_for(store, settings)
    alpha.fail_next("500", after=2)  # two backfill pages commit, then the worker "dies"
    [first] = runner.run_once()
    assert first.outcome == "transient"
    assert scalar(store, "SELECT count(*) FROM mention") == 10
    cursor = next(iter(sources(store).values())).cursor
    assert cursor["backfill_done"] is False
    for n in range(24, 30):  # new statuses arrive while the worker is down
        post(alpha, n)

    restarted, _ = runner_for(store, settings)  # a fresh process: new client and caches
    before = len(alpha.requests)
    [second] = restarted.run_once()
    assert second.outcome == "ok"
    resumed = next(r for r in alpha.requests[before:] if r.path.startswith("/api/v1/timelines"))
    assert resumed.query["max_id"] == [cursor["backfill_max_id"]]
    assert scalar(store, "SELECT count(*) FROM mention") == 29
    assert scalar(store, "SELECT sum(mentions) FROM rollup_hourly") == 29
    assert scalar(store, "SELECT count(*) FROM mention_seen") == 29


def test_a_second_poll_pages_forward_with_min_id_from_the_stored_cursor(sqlite_store, alpha):
    for n in range(1, 4):
        post(alpha, n)
    runner, _ = runner_for(sqlite_store, settings_for(alpha, mastodon=PAGE))
    runner.run_once()
    cursor = next(iter(sources(sqlite_store).values())).cursor
    assert isinstance(cursor["min_id"], str)
    for n in range(4, 16):
        post(alpha, n)
    before = len(alpha.requests)
    runner.run_once()
    forward = [r for r in alpha.requests[before:] if "min_id" in r.query]
    assert forward[0].query["min_id"] == [cursor["min_id"]]
    assert scalar(sqlite_store, "SELECT count(*) FROM mention") == 15


def test_the_first_run_stops_walking_back_at_the_backfill_horizon(sqlite_store, alpha):
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    for n in range(1, 31):
        post(alpha, n, created_at=now - timedelta(hours=31 - n, minutes=30))  # hourly, oldest first
    runner, _ = runner_for(
        sqlite_store, settings_for(alpha, backfill_days=0.25, mastodon={"page_limit": 4})
    )
    [out] = runner.run_once()
    stored = scalar(sqlite_store, "SELECT count(*) FROM mention")
    assert stored == 5  # the five of the last six hours; the page's older ones left out...
    assert out.signals["backfill_horizon"] >= 1  # ...and said
    assert next(iter(sources(sqlite_store).values())).cursor["backfill_done"] is True


def test_an_instance_answering_401_marks_the_source_as_needing_a_token(sqlite_store):
    with running(MastodonServer("closed.test", timelines_access="authenticated")) as (s,):
        post(s, 1)
        runner, _ = runner_for(sqlite_store, settings_for(s, token_env="GS_TEST_CLOSED_TOKEN"))
        [out] = runner.run_once()
        [src] = sources(sqlite_store).values()
        assert out.outcome == "fatal"
        assert src.status == "needs_token"
        assert "needs a token" in src.last_error and "GS_TEST_CLOSED_TOKEN" in src.last_error
        assert runner.run_once() == []  # not retried until the config changes


def test_exporting_the_token_gives_a_needs_token_source_a_fresh_start(sqlite_store, monkeypatch):
    with running(
        MastodonServer("closed.test", timelines_access="authenticated", tokens=("t0k",))
    ) as (s,):
        post(s, 1)
        settings = settings_for(s, token_env="GS_TEST_LATE_TOKEN")
        runner, _ = runner_for(sqlite_store, settings)
        [out] = runner.run_once()
        assert out.outcome == "fatal"
        monkeypatch.setenv("GS_TEST_LATE_TOKEN", "t0k")
        runner, _ = runner_for(sqlite_store, settings)  # `groundswell collect` syncs the config
        [out] = runner.run_once()
        assert out.outcome == "ok"
        assert next(iter(sources(sqlite_store).values())).status == "ok"


def test_an_empty_anonymous_timeline_with_timelines_access_off_needs_a_token(sqlite_store):
    server = MastodonServer(
        "quiet.test", timelines_access="authenticated", anonymous_refusal="empty"
    )
    with running(server) as (s,):
        post(s, 1)
        runner, _ = runner_for(sqlite_store, settings_for(s))
        [out] = runner.run_once()
        assert out.outcome == "fatal"
        assert next(iter(sources(sqlite_store).values())).status == "needs_token"


def test_a_token_from_the_environment_opens_a_closed_instance(sqlite_store, monkeypatch):
    with running(
        MastodonServer("closed.test", timelines_access="authenticated", tokens=("t0k",))
    ) as (s,):
        post(s, 1)
        monkeypatch.setenv("GS_TEST_TOKEN", "t0k")
        runner, _ = runner_for(sqlite_store, settings_for(s, token_env="GS_TEST_TOKEN"))
        [out] = runner.run_once()
        assert out.outcome == "ok"
        assert all(r.authorized for r in s.requests_to("/api/v1/timelines"))
        assert scalar(sqlite_store, "SELECT count(*) FROM mention") == 1


@pytest.mark.parametrize("fault", ["500", "502", "slow", "truncated", "html"])
def test_a_failing_page_is_transient_and_leaves_the_cursor_where_it_was(sqlite_store, alpha, fault):
    for n in range(1, 4):
        post(alpha, n)
    settings = settings_for(alpha, timeout_s=0.5, mastodon=PAGE)
    runner, _ = runner_for(sqlite_store, settings)
    runner.run_once()
    before = next(iter(sources(sqlite_store).values())).cursor
    for n in range(4, 9):
        post(alpha, n)
    alpha.fail_next(fault, delay=1.5)
    [out] = runner.run_once()
    assert out.outcome == "transient"
    src = next(iter(sources(sqlite_store).values()))
    assert src.cursor["min_id"] == before["min_id"]
    assert src.status == "backoff" and src.last_error
    [again] = runner.run_once()
    assert again.outcome == "ok"
    assert scalar(sqlite_store, "SELECT count(*) FROM mention") == 8


def test_a_malformed_status_is_skipped_and_counted_and_the_rest_of_the_page_stored(
    sqlite_store, alpha
):
    import json
    from pathlib import Path

    bad = json.loads(
        (Path(__file__).parent / "payloads/mastodon/page_with_malformed.json").read_text()
    )
    for i, item in enumerate(bad):
        alpha.carry_raw(item, local_id=117546064281600100 + i)
    runner, _ = runner_for(sqlite_store, settings_for(alpha))
    [out] = runner.run_once()
    assert out.outcome == "ok"
    # Mastodon.py itself turns a numeric `content` into text, so that one is kept.
    assert scalar(sqlite_store, "SELECT count(*) FROM mention") == 2
    assert out.result.skip_reasons == {"missing_uri": 2, "bad_date": 1, "missing_account": 2}
    [run] = rows(sqlite_store, "SELECT skipped FROM collector_run")
    assert run.skipped == 5


def test_opt_out_flags_reach_the_account_table(sqlite_store, alpha):
    shy = make_account("shy", "alpha.test", discoverable=False, indexable=False, noindex=True)
    post(alpha, 1, user="shy", account=shy)
    runner, _ = runner_for(sqlite_store, settings_for(alpha))
    runner.run_once()
    [acc] = rows(sqlite_store, "SELECT native_id, discoverable, indexable, noindex FROM account")
    assert acc.native_id == "shy@alpha.test"
    assert (bool(acc.discoverable), bool(acc.indexable), bool(acc.noindex)) == (False, False, True)


# -- amplification ------------------------------------------------------------------------------


def edges(engine, kind: str) -> list:
    return rows(
        engine,
        "SELECT e.*, a.native_id AS source FROM amplification e "
        "JOIN account a ON a.id = e.source_account_id WHERE e.kind = :k ORDER BY a.native_id",
        k=kind,
    )


@pytest.mark.parametrize("header_case", ["lower", "canonical"])
def test_every_page_of_boosters_is_followed_by_the_link_header_whatever_its_case(
    sqlite_store, header_case
):
    with running(MastodonServer("alpha.test", header_case=header_case)) as (a,):
        s = post(a, 1)
        for i in range(85):  # three reblogged_by pages (40, 40, 5)
            a.boost(s["uri"], make_account(f"fan{i:02d}", "beta.test"), origin="beta.test")
        runner, _ = runner_for(sqlite_store, settings_for(a))
        runner.run_once()
        assert len(edges(sqlite_store, "boost")) == 85
        assert len(a.requests_to("/api/v1/statuses")) == 3


def test_boosts_are_fetched_when_reblogs_count_grows_and_only_then(store, alpha):
    s = post(alpha, 1)
    other = post(alpha, 2)
    runner, _ = runner_for(store, settings_for(alpha))
    runner.run_once()
    assert alpha.requests_to("/api/v1/statuses") == []  # nothing boosted yet: no lookups
    for i in range(45):  # more than one reblogged_by page (40)
        alpha.boost(s["uri"], make_account(f"fan{i:02d}", "beta.test"), origin="beta.test")
    runner.run_once()
    assert len(edges(store, "boost")) == 45
    looked_up = {r.path for r in alpha.requests_to("/api/v1/statuses")}
    assert looked_up == {f"/api/v1/statuses/{alpha.local_id(s['uri'])}/reblogged_by"}
    assert len(alpha.requests_to("/api/v1/statuses")) == 2  # two Link pages
    assert other["uri"] != s["uri"]

    alpha.boost(s["uri"], make_account("late", "gamma.test"), origin="gamma.test")
    runner.run_once()
    boosts = edges(store, "boost")
    assert len(boosts) == 46
    assert "late@gamma.test" in {b.source for b in boosts}
    runner.run_once()  # no growth: no more lookups
    assert len(alpha.requests_to("/api/v1/statuses")) == 4


def test_a_boost_edge_points_at_the_original_and_its_author(sqlite_store, alpha):
    s = post(alpha, 1)
    alpha.boost(s["uri"], make_account("dan", "alpha.test"))
    runner, _ = runner_for(sqlite_store, settings_for(alpha))
    runner.run_once()
    [b] = edges(sqlite_store, "boost")
    assert b.source == "dan@alpha.test"
    target = scalar(sqlite_store, "SELECT id FROM mention WHERE native_id = :u", u=s["uri"])
    author = scalar(sqlite_store, "SELECT id FROM account WHERE native_id = 'ann@alpha.test'")
    assert (b.target_mention_id, b.target_account_id) == (target, author)


def test_a_reply_becomes_a_reply_edge_to_its_parent_uri(sqlite_store, alpha):
    parent = post(alpha, 1, tags=())  # not on the hashtag timeline: resolved by lookup
    bob = make_account("bob", "beta.test")
    reply = alpha.carry(
        make_status(
            "beta.test",
            "bob",
            2,
            account=bob,
            in_reply_to_id=parent["id"],
            in_reply_to_account_id=parent["account"]["id"],
        ),
        origin="beta.test",
    )
    runner, _ = runner_for(sqlite_store, settings_for(alpha))
    runner.run_once()
    [e] = edges(sqlite_store, "reply")
    assert e.source == "bob@beta.test"
    ids = {r.native_id: r.id for r in rows(sqlite_store, "SELECT id, native_id FROM mention")}
    assert e.via_mention_id == ids[reply["uri"]]
    assert e.target_mention_id != ids[reply["uri"]]
    assert (
        scalar(sqlite_store, "SELECT reply_to_id FROM mention WHERE native_id = :u", u=reply["uri"])
        == e.target_mention_id
    )
    assert [r.path for r in alpha.requests_to("/api/v1/statuses/")] == [
        f"/api/v1/statuses/{parent['id']}"
    ]


def test_quotes_full_and_shallow_become_quote_edges(sqlite_store, alpha):
    quoted = post(alpha, 1)
    cara = make_account("cara", "alpha.test")
    post(alpha, 2, user="cara", account=cara, quote={"state": "accepted", "quoted_status": quoted})
    post(
        alpha,
        3,
        user="cara",
        account=cara,
        quote={"state": "accepted", "quoted_status_id": quoted["id"]},
    )
    runner, _ = runner_for(sqlite_store, settings_for(alpha))
    runner.run_once()
    quotes = edges(sqlite_store, "quote")
    assert len(quotes) == 2
    target = scalar(sqlite_store, "SELECT id FROM mention WHERE native_id = :u", u=quoted["uri"])
    assert {q.target_mention_id for q in quotes} == {target}
    # The shallow quote's target was already on the page: no lookup needed.
    assert alpha.requests_to("/api/v1/statuses/") == []


# -- rate limits --------------------------------------------------------------------------------


@pytest.mark.parametrize("header_case", ["lower", "canonical"])
def test_requests_are_paced_within_the_advertised_limit_whatever_the_header_case(
    sqlite_store, header_case
):
    # Real Mastodon sends `x-ratelimit-remaining` in lower case (Mastodon.py's cassettes).
    server = MastodonServer("tight.test", rate_limit=6, rate_window_s=2.0, header_case=header_case)
    with running(server) as (s,):
        for n in range(1, 27):
            post(s, n)
        runner, _ = runner_for(sqlite_store, settings_for(s, mastodon={"page_limit": 2}))
        [out] = runner.run_once()
        assert out.outcome == "ok"
        assert len(s.requests) > 12  # several windows' worth of requests
        assert s.max_requests_per_window() <= 6
        assert [r for r in s.requests if r.status == 429] == []
        assert scalar(sqlite_store, "SELECT count(*) FROM mention") == 26


def test_twelve_hashtags_on_one_instance_share_its_lower_case_advertised_limit(sqlite_store):
    tags = tuple(f"Tag{i:02d}" for i in range(12))
    with running(MastodonServer("tight.test", rate_limit=5, rate_window_s=2.0)) as (s,):
        for n, tag in enumerate(tags, start=1):
            post(s, n, tags=(tag,))
        settings = settings_for(s, hashtags=tags, mastodon={"refresh_latest": False})
        runner, _ = runner_for(sqlite_store, settings)
        outcomes = runner.run_once()
        assert [o.outcome for o in outcomes] == ["ok"] * 12
        assert [r for r in s.requests if r.status == 429] == []
        assert s.max_requests_per_window() <= 5


def test_a_429_with_a_short_reset_waits_and_loses_no_page(sqlite_store, alpha):
    for n in range(1, 13):
        post(alpha, n)
    alpha.fail_next("429", reset_in=0.3, after=1)
    runner, _ = runner_for(sqlite_store, settings_for(alpha, mastodon=PAGE))
    [out] = runner.run_once()
    assert out.outcome == "ok"
    assert [r.status for r in alpha.requests_to("/api/v1/timelines")][:3] == [200, 429, 200]
    assert (
        alpha.requests_to("/api/v1/timelines")[1].query
        == alpha.requests_to("/api/v1/timelines")[2].query
    )  # the same page asked again
    assert scalar(sqlite_store, "SELECT count(*) FROM mention") == 12


def test_a_429_with_a_long_reset_ends_the_poll_with_the_cursor_untouched(store, alpha):
    for n in range(1, 13):
        post(alpha, n)
    alpha.fail_next("429", reset_in=30, after=1)
    runner, _ = runner_for(store, settings_for(alpha, max_wait_s=1.0, mastodon=PAGE))
    [out] = runner.run_once()
    assert out.outcome == "transient" and "429" in (out.error or "")
    src = next(iter(sources(store).values()))
    assert src.cursor["backfill_max_id"] is not None  # the page before the 429 is committed
    due_in = (src.next_due_at - src.last_error_at).total_seconds()
    assert due_in >= 29  # retried after the reset, not before
    # The same client also refuses to ask again before the reset:
    [early] = runner.run_once()
    assert early.outcome == "transient" and len(alpha.requests_to("/api/v1/timelines")) == 2
    later, _ = runner_for(store, settings_for(alpha, max_wait_s=1.0, mastodon=PAGE))
    [again] = later.run_once()  # after the reset (a new window on the server)
    assert again.outcome == "ok"
    assert scalar(store, "SELECT count(*) FROM mention") == 12


def test_the_paging_budget_is_never_exceeded(sqlite_store, alpha):
    for n in range(1, 30):
        post(alpha, n)
    settings = settings_for(
        alpha, paging_budget=3, paging_window_s=60, max_wait_s=0.5, mastodon=PAGE
    )
    runner, _ = runner_for(sqlite_store, settings)
    [out] = runner.run_once()
    paged = [r for r in alpha.requests if {"min_id", "max_id", "since_id"} & set(r.query)]
    assert len(paged) == 3
    assert out.outcome == "transient" and "paging budget" in (out.error or "")
    assert scalar(sqlite_store, "SELECT count(*) FROM mention") == 20  # four whole pages


def test_a_server_that_ignores_paging_ids_cannot_trap_the_collector_in_a_loop(sqlite_store, alpha):
    for n in range(1, 31):
        post(alpha, n)
    alpha.ignore_paging_ids = True
    runner, _ = runner_for(sqlite_store, settings_for(alpha, mastodon=PAGE))
    [first] = runner.run_once()
    [second] = runner.run_once()
    assert (first.outcome, second.outcome) == ("ok", "ok")
    assert len(alpha.requests_to("/api/v1/timelines")) < 10


def test_a_status_that_federates_in_late_below_the_cursor_is_still_collected(sqlite_store, alpha):
    from datetime import timedelta

    from tests.servers.mastodon_server import T0

    for n in range(1, 6):
        post(alpha, n)
    runner, _ = runner_for(sqlite_store, settings_for(alpha, mastodon={"fetch_boosts": False}))
    runner.run_once()
    # Published before the newest status we saw, so its id sorts below our cursor.
    late = make_status("gamma.test", "gil", 3, created_at=T0 + timedelta(minutes=2, seconds=30))
    alpha.carry(late, origin="gamma.test")
    assert alpha.local_id(late["uri"]) < next(iter(sources(sqlite_store).values())).cursor["min_id"]
    runner.run_once()
    assert scalar(sqlite_store, "SELECT count(*) FROM mention") == 6


def test_a_quiet_poll_rewrites_nothing_but_a_grown_counter_is_updated(sqlite_store, alpha):
    s = post(alpha, 1)
    post(alpha, 2)
    runner, _ = runner_for(sqlite_store, settings_for(alpha))
    runner.run_once()
    [quiet] = runner.run_once()
    assert (quiet.result.new, quiet.result.updated) == (0, 0)
    alpha.status(s["uri"])["favourites_count"] = 9
    [liked] = runner.run_once()
    assert (liked.result.new, liked.result.updated) == (0, 1)
    likes = scalar(sqlite_store, "SELECT like_count FROM mention WHERE native_id = :u", u=s["uri"])
    assert likes == 9
