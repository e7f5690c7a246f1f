"""The Mastodon collector against recorded real traffic: Mastodon.py's VCR cassettes (MIT,
recorded against real Mastodon 4.x servers), replayed on 127.0.0.1 through the real client.

They carry what our hand-written server did not: lower-case `link` and `x-ratelimit-*`
headers, `/ap/users/<id>/statuses/<id>` URIs and real instance metadata.
"""

from __future__ import annotations

from typing import Any

from collectors.mastodon.client import InstanceClient
from domain.settings.config import Settings, parse_settings
from tests.mastodon_support import rows, runner_for, sources
from tests.servers.cassette_server import replaying


def settings_on(base_url: str, hashtag: str, **instance: Any) -> Settings:
    return parse_settings(
        {
            "movements": [{"slug": "hoot", "name": "Hoot", "hashtags": [hashtag]}],
            "mastodon": {
                "instances": [
                    {"base_url": base_url, "hashtags": [hashtag], "backfill_days": 3650, **instance}
                ],
                "boost_window_days": 3650,
            },
        }
    )


def test_a_recorded_hashtag_page_is_paged_by_its_lower_case_link_header():
    with replaying("test_hashtag_tl") as server:
        [recorded] = server.recorded_json("GET", "/api/v1/timelines/tag/hoot")
        client = InstanceClient(server.base_url, None)
        page = client.hashtag_page("hoot", limit=40)
        assert [s["id"] for s in page.items] == [recorded["id"]]
        # The server sent `link: <...?max_id=...>; rel="next", <...?min_id=...>; rel="prev"`.
        assert page.link("next", "max_id") == recorded["id"]
        assert page.link("prev", "min_id") == recorded["id"]
        assert server.unmatched == []


def test_a_recorded_hashtag_timeline_is_stored_under_its_ap_users_uri(sqlite_store):
    with replaying("test_hashtag_tl") as server:
        [recorded] = server.recorded_json("GET", "/api/v1/timelines/tag/hoot")
        runner, _ = runner_for(sqlite_store, settings_on(server.base_url, "hoot"))
        [out] = runner.run_once()
        assert out.outcome == "ok", out.error
        stored = rows(sqlite_store, "SELECT native_id FROM mention")
        assert [r.native_id for r in stored] == [recorded["uri"]]
        assert "/ap/users/" in recorded["uri"]


def timeline_settings(base_url: str, timeline: str, **instance: Any) -> Settings:
    """A movement matched by terms of the recorded statuses (they carry no hashtag)."""
    return parse_settings(
        {
            "movements": [{"slug": "tv", "name": "TV", "terms": ["television", "ham"]}],
            "mastodon": {
                "instances": [
                    {
                        "base_url": base_url,
                        "timelines": [timeline],
                        "backfill_days": 3650,
                        **instance,
                    }
                ],
                "fetch_replies": False,
            },
        }
    )


def test_a_recorded_local_timeline_is_collected_as_a_source(sqlite_store):
    with replaying("test_public_tl") as server:
        local = server.recorded_json("GET", "/api/v1/timelines/public")
        runner, _ = runner_for(sqlite_store, timeline_settings(server.base_url, "local"))
        outcomes = {o.source_key: o for o in runner.run_once()}
        out = next(o for k, o in outcomes.items() if k.endswith("local timeline"))
        assert out.outcome == "ok", out.error
        asked = [r for r in server.requests if r.path == "/api/v1/timelines/public"]
        assert asked and all(r.query.get("local") in (["1"], ["True"], ["true"]) for r in asked)
        stored = {r.native_id for r in rows(sqlite_store, "SELECT native_id FROM mention")}
        wanted = {s["uri"] for s in local if "television" in s["content"] or "ham" in s["content"]}
        assert stored == wanted and len(wanted) == 2


def test_a_timeline_the_real_instance_disabled_is_reported_and_never_polled(sqlite_store):
    # mastodon.social's own instance metadata, as recorded: live_feeds local/remote disabled.
    with replaying("test_timeline_disabled", origin="https://mastodon.social") as server:
        runner, _ = runner_for(sqlite_store, timeline_settings(server.base_url, "public"))
        out = next(o for o in runner.run_once() if o.source_key.endswith("public timeline"))
        assert out.outcome == "fatal"
        assert "disabled this timeline" in (out.error or "")
        again = [o for o in runner.run_once() if o.source_key.endswith("public timeline")]
        assert again == []  # stopped, not polled in a loop
        assert [r for r in server.requests if r.path.startswith("/api/v1/timelines")] == []


def test_a_first_run_says_how_many_older_statuses_backfill_days_left_out(sqlite_store):
    # The recorded statuses are from August 2026: a week's horizon hides all eight.
    with replaying("test_public_tl") as server:
        settings = timeline_settings(server.base_url, "local", backfill_days=7)
        runner, _ = runner_for(sqlite_store, settings)
        out = next(o for o in runner.run_once() if o.source_key.endswith("local timeline"))
        assert out.outcome == "ok"
        assert out.signals.get("backfill_horizon") == 8
        assert rows(sqlite_store, "SELECT id FROM mention") == []
        [src] = [s for s in sources(sqlite_store).values() if s.key.endswith("local timeline")]
        assert src.problems == ["8 older statuses left out by backfill_days = 7"]


def test_recorded_boosters_are_read_and_paged_by_the_reblogs_own_ids_in_the_link_header():
    with replaying("test_status_reblogged_by") as server:
        status_id = "117020585505579935"
        [booster] = server.recorded_json("GET", f"/api/v1/statuses/{status_id}/reblogged_by")
        client = InstanceClient(server.base_url, None)
        boosters = client.reblogged_by(status_id)
        assert [a["acct"] for a in boosters] == [booster["acct"]]
        # `link: <...?since_id=...>; rel="prev"` names the reblog's id, not the account's:
        # paging ids stay the server's, read from the lower-case header.
        assert client.link("prev", "since_id") == "117020585512776006"
        asked = [r for r in server.requests if r.path.endswith("/reblogged_by")]
        assert len(asked) == 1  # no rel="next": the last page
