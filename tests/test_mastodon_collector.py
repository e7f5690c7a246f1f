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


def test_a_restart_mid_backfill_resumes_with_no_gap_and_no_duplicate(sqlite_store, alpha):
    for n in range(1, 24):
        post(alpha, n)
    settings = settings_for(alpha, mastodon=PAGE)
    runner, _ = runner_for(sqlite_store, settings)
    alpha.fail_next("500", after=2)  # two backfill pages commit, then the worker "dies"
    [first] = runner.run_once()
    assert first.outcome == "transient"
    assert scalar(sqlite_store, "SELECT count(*) FROM mention") == 10
    cursor = next(iter(sources(sqlite_store).values())).cursor
    assert cursor["backfill_done"] is False
    for n in range(24, 30):  # new statuses arrive while the worker is down
        post(alpha, n)

    restarted, _ = runner_for(sqlite_store, settings)  # a fresh process: new client and caches
    before = len(alpha.requests)
    [second] = restarted.run_once()
    assert second.outcome == "ok"
    resumed = next(r for r in alpha.requests[before:] if r.path.startswith("/api/v1/timelines"))
    assert resumed.query["max_id"] == [cursor["backfill_max_id"]]
    assert scalar(sqlite_store, "SELECT count(*) FROM mention") == 29
    assert scalar(sqlite_store, "SELECT sum(mentions) FROM rollup_hourly") == 29
    assert scalar(sqlite_store, "SELECT count(*) FROM mention_seen") == 29


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
        post(alpha, n, created_at=now - timedelta(hours=31 - n))  # one an hour, oldest first
    runner, _ = runner_for(
        sqlite_store, settings_for(alpha, backfill_days=0.25, mastodon={"page_limit": 4})
    )
    runner.run_once()
    stored = scalar(sqlite_store, "SELECT count(*) FROM mention")
    # Six hours back, rounded up to the page that crosses the horizon.
    assert 6 <= stored < 6 + 4 + 1
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
