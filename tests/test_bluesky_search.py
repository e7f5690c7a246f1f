"""The Bluesky search collector against a local XRPC server, through the real atproto client.

Every test runs on SQLite and PostgreSQL (`store` fixture).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from storage.models import Account, RollupHourly
from tests.bluesky_support import Env, add_posts, bluesky_env, now
from tests.servers.bluesky_server import profile

SEARCH = "app.bsky.feed.searchPosts"
LOGIN = "com.atproto.server.createSession"
REFRESH = "com.atproto.server.refreshSession"


@pytest.fixture
def bsky(store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    with bluesky_env(store, tmp_path, monkeypatch) as env:
        yield env


def test_a_tag_search_stores_every_post_once_across_pages(bsky: Env) -> None:
    uris = add_posts(bsky.server, 25)
    (outcome,) = bsky.run()
    assert outcome.outcome == "ok", outcome.error
    assert bsky.native_ids() == sorted(uris)
    assert bsky.server.calls[SEARCH] == 3  # 10 + 10 + 5
    call = bsky.server.log[-1]
    assert call.params["tag"] == ["NHSCitizen"] and call.params["sort"] == ["latest"]


def test_the_session_is_saved_and_reused_instead_of_logging_in_again(bsky: Env) -> None:
    add_posts(bsky.server, 3)
    bsky.run()
    bsky.run()  # a new collector and client, as after a restart
    bsky.run()
    assert bsky.server.calls[LOGIN] == 1
    assert (bsky.tmp / "session.json").stat().st_mode & 0o777 == 0o600


def test_a_token_the_server_calls_expired_is_refreshed_without_a_new_login(bsky: Env) -> None:
    add_posts(bsky.server, 3)
    bsky.run()
    bsky.server.expire_access_tokens()
    (outcome,) = bsky.run()
    assert outcome.outcome == "ok", outcome.error
    assert (bsky.server.calls[LOGIN], bsky.server.calls[REFRESH]) == (1, 1)


def test_a_short_lived_access_token_is_refreshed_before_it_expires(bsky: Env) -> None:
    bsky.server.access_ttl_s = 120  # inside the SDK's 15-minute refresh margin
    add_posts(bsky.server, 3)
    (outcome,) = bsky.run()
    assert outcome.outcome == "ok", outcome.error
    assert bsky.server.calls[LOGIN] == 1 and bsky.server.calls[REFRESH] >= 1


def test_a_refused_refresh_falls_back_to_one_password_login(bsky: Env) -> None:
    add_posts(bsky.server, 3)
    bsky.run()
    bsky.server._refresh.clear()  # every refresh token revoked
    bsky.server.expire_access_tokens()
    (outcome,) = bsky.run()
    assert outcome.outcome == "ok", outcome.error
    assert bsky.server.calls[LOGIN] == 2


def test_a_rate_limited_login_waits_for_the_reset(bsky: Env) -> None:
    add_posts(bsky.server, 3)
    bsky.server.fail_next(LOGIN, "429", reset_in=120)
    (outcome,) = bsky.run()
    assert outcome.outcome == "transient" and "429" in (outcome.error or "")
    assert bsky.source().next_due_at >= datetime.now(UTC) + timedelta(seconds=100)
    (outcome,) = bsky.run()
    assert outcome.outcome == "ok" and bsky.mentions() == 3


@pytest.mark.parametrize("fault", ["500", "truncated", "timeout"])
def test_a_failing_login_is_transient_and_retried(bsky: Env, fault: str) -> None:
    add_posts(bsky.server, 3)
    bsky.server.fail_next(LOGIN, fault, delay_s=1.5)
    (outcome,) = bsky.run()
    assert outcome.outcome == "transient", outcome
    (outcome,) = bsky.run()
    assert outcome.outcome == "ok" and bsky.mentions() == 3


def test_a_session_saved_for_another_account_is_not_reused(
    bsky: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_posts(bsky.server, 3)
    bsky.run()
    bsky.server.add_account("second.bsky.social", "wxyz-wxyz-wxyz-wxyz")
    monkeypatch.setenv("GROUNDSWELL_BSKY_HANDLE", "second.bsky.social")
    monkeypatch.setenv("GROUNDSWELL_BSKY_APP_PASSWORD", "wxyz-wxyz-wxyz-wxyz")
    bsky.run()
    assert bsky.server.calls[LOGIN] == 2
    assert "second.bsky.social" in (bsky.tmp / "session.json").read_text()


def test_a_damaged_session_file_costs_one_login_not_the_source(bsky: Env) -> None:
    add_posts(bsky.server, 3)
    bsky.run()
    path = bsky.tmp / "session.json"
    data = json.loads(path.read_text())
    parts = data["session"].split(":::")
    parts[2] = "not-a-jwt"  # the access token
    data["session"] = ":::".join(parts)
    path.write_text(json.dumps(data))
    (outcome,) = bsky.run()
    assert outcome.outcome == "ok", outcome.error
    assert bsky.server.calls[LOGIN] == 2


def test_a_changed_handle_updates_the_one_account_keyed_on_its_did(bsky: Env) -> None:
    did = "did:plc:renamed00000000000000000"
    bsky.server.add_post(
        profile(did, "old.bsky.social"), "#NHSCitizen one", now() - timedelta(minutes=5)
    )
    bsky.run()
    bsky.server.add_post(profile(did, "new.example.org"), "#NHSCitizen two", now())
    bsky.run()
    assert bsky.account(did).handle == "new.example.org"
    assert bsky.scalar(select(func.count()).select_from(Account.__table__)) == 1


def test_a_wrong_app_password_stops_the_source_with_a_clear_status(
    bsky: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GROUNDSWELL_BSKY_APP_PASSWORD", "wrong-wrong-wrong")
    (outcome,) = bsky.run()
    assert outcome.outcome == "fatal"
    src = bsky.source()
    assert src.status == "auth_failed" and "GROUNDSWELL_BSKY_APP_PASSWORD" in src.last_error


def test_missing_credentials_are_reported_as_needing_a_token(
    bsky: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GROUNDSWELL_BSKY_HANDLE")
    (outcome,) = bsky.run()
    assert outcome.outcome == "fatal" and bsky.source().status == "needs_token"
    assert "GROUNDSWELL_BSKY_HANDLE" in (outcome.error or "")
    assert bsky.server.calls[LOGIN] == 0


def test_a_429_keeps_the_cursor_waits_for_the_reset_and_loses_nothing(bsky: Env) -> None:
    uris = add_posts(bsky.server, 25)
    bsky.server.fail_next(SEARCH, "429", reset_in=40, after=1)
    (first,) = bsky.run()
    assert first.outcome == "transient" and "429" in (first.error or "")
    src = bsky.source()
    assert src.next_due_at >= datetime.now(UTC) + timedelta(seconds=30)
    assert bsky.mentions() == 10 and src.cursor["sweep"]["page"] == "10"
    (second,) = bsky.run()
    assert second.outcome == "ok", second.error
    assert bsky.native_ids() == sorted(uris) and bsky.matches() == 25
    # page 1, the refused page 2, pages 2 and 3 again (no restart from page 1), then one
    # fresh sweep from the end of the resumed one up to now
    assert [c.params.get("cursor", [None])[0] for c in bsky.server.log if c.nsid == SEARCH] == [
        None,
        "10",
        "10",
        "20",
        None,
    ]


def test_the_advertised_rate_limit_is_never_exceeded(bsky: Env) -> None:
    bsky.server.rate_limit = 3  # app.bsky.* requests per 5-minute window
    uris = add_posts(bsky.server, 45)
    (first,) = bsky.run()
    assert first.outcome == "transient" and "rate-limit window spent" in (first.error or "")
    assert bsky.server.calls[SEARCH] == 3  # it stopped itself: the 4th was never sent
    assert 429 not in {c.status for c in bsky.server.log}
    assert bsky.source().next_due_at >= datetime.now(UTC) + timedelta(seconds=250)
    assert bsky.mentions() == 30
    bsky.server.reset_rate_window()  # five minutes later
    bsky.server.rate_limit = 100
    (second,) = bsky.run()
    assert second.outcome == "ok", second.error
    assert bsky.native_ids() == sorted(uris)


@pytest.mark.parametrize("fault", ["500", "502", "timeout", "truncated"])
def test_a_failing_page_is_retried_from_the_same_page_without_duplicates(
    bsky: Env, fault: str
) -> None:
    uris = add_posts(bsky.server, 25)
    bsky.server.fail_next(SEARCH, fault, after=1, delay_s=1.5)
    (first,) = bsky.run()
    assert first.outcome == "transient", first
    assert bsky.mentions() == 10 and bsky.source().cursor["sweep"]["page"] == "10"
    (second,) = bsky.run()
    assert second.outcome == "ok", second.error
    assert bsky.native_ids() == sorted(uris)
    assert bsky.matches() == 25


def test_a_token_expiring_mid_sweep_is_refreshed_and_the_sweep_goes_on(bsky: Env) -> None:
    uris = add_posts(bsky.server, 25)
    bsky.server.fail_next(SEARCH, "expired", after=1)
    (outcome,) = bsky.run()
    assert outcome.outcome == "ok", outcome.error
    assert bsky.native_ids() == sorted(uris)
    assert (bsky.server.calls[LOGIN], bsky.server.calls[REFRESH]) == (1, 1)


def test_resume_after_restart_has_no_gap_and_no_duplicate(bsky: Env) -> None:
    first = add_posts(bsky.server, 12, start=now() - timedelta(minutes=30))
    bsky.run()
    assert bsky.mentions() == 12
    # New posts arrive, one of them indexed late: sorted before the last sweep ended.
    later = add_posts(bsky.server, 5, start=now(), step_s=1)
    late = bsky.server.add_post(
        profile("did:plc:latecomer000000000000", "late.bsky.social"),
        "Indexed late #NHSCitizen",
        now() - timedelta(seconds=90),
    )
    (outcome,) = bsky.run()
    assert outcome.outcome == "ok", outcome.error
    assert bsky.native_ids() == sorted([*first, *later, late])
    assert bsky.matches() == 18
    rolled = bsky.scalar(select(func.sum(RollupHourly.__table__.c.mentions)))
    assert rolled == 18  # re-read overlap never counted twice


def test_a_query_reaching_the_result_cap_is_split_into_time_windows(bsky: Env) -> None:
    bsky.configure(result_cap=10, page_limit=4)
    bsky.server.result_cap = 10
    uris = add_posts(bsky.server, 30, step_s=7)
    # Two posts in the same millisecond straddle a window boundary.
    twin_time = now() - timedelta(seconds=7 * 9, milliseconds=500)
    twins = [
        bsky.server.add_post(
            profile(f"did:plc:twin{i:020d}", f"twin{i}.bsky.social"),
            f"Twin {i} #NHSCitizen",
            twin_time,
            indexed_at=twin_time,
        )
        for i in range(2)
    ]
    (outcome,) = bsky.run()
    assert outcome.outcome == "ok", outcome.error
    assert bsky.native_ids() == sorted([*uris, *twins])
    untils = {c.params.get("until", [""])[0] for c in bsky.server.log if c.nsid == SEARCH}
    assert len(untils) >= 4  # the sweep was split several times
    assert bsky.source().cursor["sweep"] is None


@pytest.mark.parametrize("refuse_deep_cursor", [True, False], ids=["400-past-cap", "pages-end"])
def test_a_service_cap_below_the_configured_one_is_still_detected(
    bsky: Env, refuse_deep_cursor: bool
) -> None:
    # The service stops at 10 and either refuses the next page or just ends the pages (its
    # hitsTotal still counts everything); our configured cap is higher.
    bsky.configure(result_cap=50, page_limit=4)
    bsky.server.result_cap = 10
    bsky.server.refuse_deep_cursor = refuse_deep_cursor
    uris = add_posts(bsky.server, 30, step_s=7)
    (outcome,) = bsky.run()
    assert outcome.outcome == "ok", outcome.error
    assert bsky.native_ids() == sorted(uris)
    assert (400 in {c.status for c in bsky.server.log}) == refuse_deep_cursor


def test_an_inflated_hits_total_costs_a_query_or_two_but_no_false_problem(bsky: Env) -> None:
    bsky.server.loose_hits_total = True  # "may be rounded/truncated", says the lexicon
    uris = add_posts(bsky.server, 12)
    other = profile("did:plc:other000000000000000000", "other.bsky.social")
    for n in range(5):
        bsky.server.add_post(other, f"Lunch {n}", now() - timedelta(minutes=n))
    (outcome,) = bsky.run()
    assert outcome.outcome == "ok", outcome.error
    assert bsky.native_ids() == sorted(uris)
    assert bsky.source().problems == []
    assert 3 <= bsky.server.calls[SEARCH] <= 4  # 2 pages, then one narrower query


def test_a_service_ignoring_until_ends_in_bounded_requests_with_a_recorded_problem(
    bsky: Env,
) -> None:
    # Issue 15, Bluesky 1: against an AppView that ignores `until`, every split window got
    # the same newest posts back; one `collect --once` sent the same request ~640 times and
    # recorded a false "over N posts" problem.
    bsky.configure(result_cap=10, page_limit=4)
    bsky.server.result_cap = 10
    bsky.server.ignore_until = True
    uris = add_posts(bsky.server, 30, step_s=7)
    (outcome,) = bsky.run()
    assert outcome.outcome == "ok", outcome.error
    assert bsky.server.calls[SEARCH] <= 4  # 3 pages to the cap, one split query
    (problem,) = bsky.source().problems
    assert "ignored the search window" in problem and "over 10 posts" not in problem
    assert bsky.source().cursor["sweep"] is None  # the next poll starts a fresh sweep
    assert set(uris[:10]) <= set(bsky.native_ids())
    assert bsky.last_run().signals.get("gap") == 1


def test_a_repeated_page_cursor_stops_the_sweep_with_a_recorded_problem(bsky: Env) -> None:
    bsky.server.repeat_cursor = True
    add_posts(bsky.server, 25)
    (outcome,) = bsky.run()
    assert outcome.outcome == "ok", outcome.error
    assert bsky.server.calls[SEARCH] <= 2
    (problem,) = bsky.source().problems
    assert "repeated the page cursor" in problem


def test_grown_repost_and_quote_counts_become_edges(bsky: Env) -> None:
    (uri,) = add_posts(bsky.server, 1)
    fans = [profile(f"did:plc:fan{i:021d}", f"fan{i}.bsky.social") for i in range(3)]
    bsky.server.add_reposts(uri, fans[:2])
    quote = bsky.server.add_post(fans[2], "So true", now() - timedelta(seconds=5), quote_of=uri)
    bsky.server.sync_quote_count(uri)
    bsky.run()
    kinds = sorted(kind for kind, _, _ in bsky.edges())
    assert kinds == ["quote", "repost", "repost"]
    assert bsky.server.calls["app.bsky.feed.getRepostedBy"] == 1
    assert quote not in bsky.native_ids()  # the quote itself does not match the movement

    bsky.run()  # nothing grew: no more edge requests
    assert bsky.server.calls["app.bsky.feed.getRepostedBy"] == 1

    bsky.server.add_reposts(uri, [profile("did:plc:fan999999999999999999999", "late.fan")])
    bsky.run()
    assert bsky.server.calls["app.bsky.feed.getRepostedBy"] == 2
    assert sorted(kind for kind, _, _ in bsky.edges()) == ["quote", "repost", "repost", "repost"]


def test_reposts_of_a_post_older_than_the_search_window_still_become_edges(bsky: Env) -> None:
    (uri,) = add_posts(bsky.server, 1, start=now() - timedelta(hours=3))
    bsky.run()
    assert bsky.edges() == []
    bsky.server.add_reposts(uri, [profile("did:plc:latefan000000000000000", "late.fan")])
    bsky.run()  # the sweep no longer reaches the post; the recount does
    assert [kind for kind, _, _ in bsky.edges()] == ["repost"]
    assert bsky.server.calls["app.bsky.feed.getPosts"] >= 1


def test_the_opt_out_self_label_is_stored_on_the_account(bsky: Env) -> None:
    quiet = profile("did:plc:quiet00000000000000000", "quiet.bsky.social", opt_out=True)
    loud = profile("did:plc:loud000000000000000000", "loud.bsky.social")
    bsky.server.add_post(quiet, "Quietly #NHSCitizen", now() - timedelta(minutes=3))
    bsky.server.add_post(loud, "Loudly #NHSCitizen", now() - timedelta(minutes=2))
    bsky.run()
    assert bsky.account(quiet["did"]).no_unauthenticated is True
    assert bsky.account(loud["did"]).no_unauthenticated is False


def test_multibyte_text_keeps_its_hashtag_facet_and_matches(bsky: Env) -> None:
    author = profile("did:plc:multibyte0000000000000", "mb.bsky.social")
    uri = bsky.server.add_post(
        author, "👩🏽‍⚕️ Привет 世界 #NHSCitizen ✨", now() - timedelta(minutes=2)
    )
    bsky.run()
    assert bsky.native_ids() == [uri]


def test_a_malformed_post_is_skipped_and_counted_and_the_page_is_stored(bsky: Env) -> None:
    uris = add_posts(bsky.server, 3)
    bad = dict(bsky.server.posts[uris[0]].view, uri="at://nonsense", indexedAt="never")
    bsky.server.add_post(
        profile("did:plc:x000000000000000000000", "x.bsky.social"),
        "#NHSCitizen",
        now() - timedelta(minutes=5),
        view=bad,
    )
    (outcome,) = bsky.run()
    assert outcome.outcome == "ok"
    assert bsky.mentions() == 3
    run = bsky.last_run()
    assert run.skipped == 1 and run.skip_reasons == {"invalid_uri": 1}
