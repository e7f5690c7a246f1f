"""The Mastodon collector against recorded real traffic: Mastodon.py's VCR cassettes (MIT,
recorded against real Mastodon 4.x servers), replayed on 127.0.0.1 through the real client.

They carry what our hand-written server did not: lower-case `link` and `x-ratelimit-*`
headers, `/ap/users/<id>/statuses/<id>` URIs and real instance metadata.
"""

from __future__ import annotations

from typing import Any

from collectors.mastodon.client import InstanceClient
from groundswell.config import Settings, parse_settings
from tests.mastodon_support import rows, runner_for
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
