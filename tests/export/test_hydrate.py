"""`hydrate` refetches an ID-only list through the real platform clients (Mastodon.py,
atproto, the safe fetcher) from local servers, and skips what was deleted or opted out since."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from groundswell.export.hydrate import hydrate
from groundswell.export.lookup import Lookups
from net.fetcher import FetchPolicy
from tests.factories import T0
from tests.servers.blog_server import BlogServer
from tests.servers.lookup_server import LookupServer

LOOPBACK = FetchPolicy(allow_loopback=True, timeout_s=5)


@pytest.fixture
def servers():
    with LookupServer() as platform, BlogServer() as blog:
        yield platform, blog


def _lookups(platform: LookupServer) -> Lookups:
    return Lookups(policy=LOOPBACK, bluesky_base_url=platform.url)


def _hydrated(path) -> dict[str, dict]:
    return {r["native_id"]: r for r in map(json.loads, path.read_text().splitlines())}


def test_hydrate_returns_live_posts_and_skips_deleted_and_opted_out(servers, tmp_path):
    platform, blog = servers
    alive = platform.add_status("111", "alice", "Pledged today")
    optout = platform.add_status("112", "carol", "Private now", noindex=True)
    deleted = platform.status_uri("113")
    gone = platform.status_uri("114")
    platform.gone.add("114")
    b_alive = platform.add_post("3kalive", "bob.bsky.social", "Bluesky pledge #NHSCitizen")
    b_optout = platform.add_post("3koptout", "quiet.bsky.social", "hush", opted_out=True)
    b_deleted = "at://did:plc:abc123/app.bsky.feed.post/3kdeleted"
    post = blog.add_post("pledge", "Why I pledged", "<p>Because #NHSCitizen matters.</p>")
    blog_alive = blog.post_url(post)
    blog_deleted = blog.url + "/2026/11/removed/"
    ids = tmp_path / "ids.csv"
    ids.write_text(
        "platform,native_id\n"
        + "".join(
            f"{p},{n}\n"
            for p, n in [
                ("mastodon", alive),
                ("mastodon", optout),
                ("mastodon", deleted),
                ("mastodon", gone),
                ("bluesky", b_alive),
                ("bluesky", b_optout),
                ("bluesky", b_deleted),
                ("blog", blog_alive),
                ("blog", blog_deleted),
            ]
        )
    )
    with _lookups(platform) as lookups:
        report = hydrate(ids, tmp_path / "out.jsonl", lookups)
    rows = _hydrated(tmp_path / "out.jsonl")
    assert set(rows) == {alive, b_alive, blog_alive}
    assert rows[alive]["text"] == "Pledged today #NHSCitizen"
    assert rows[alive]["author"].startswith("alice@127.0.0.1")
    assert rows[b_alive]["text"] == "Bluesky pledge #NHSCitizen"
    assert rows[blog_alive]["title"].startswith("Why I pledged")
    assert (report.hydrated, report.deleted, report.opted_out) == (3, 4, 2)
    assert report.errors == 0 and not report.bad_lines


def test_malformed_lines_are_reported_with_their_numbers_and_the_rest_is_hydrated(
    servers, tmp_path
):
    platform, _ = servers
    alive = platform.add_status("111", "alice", "Pledged today")
    ids = tmp_path / "ids.csv"
    ids.write_text(
        "platform,native_id\n"
        "myspace,https://example.com/1\n"
        "bluesky,https://not-an-at-uri\n"
        "just one field\n"
        f"mastodon,{alive}\n"
        "mastodon,a,b\n"
    )
    with _lookups(platform) as lookups:
        report = hydrate(ids, tmp_path / "out.jsonl", lookups)
    assert [b.line for b in report.bad_lines] == [2, 3, 4, 6]
    assert "unknown platform" in report.bad_lines[0].reason
    assert "at:// URI" in report.bad_lines[1].reason
    assert set(_hydrated(tmp_path / "out.jsonl")) == {alive}


def test_a_server_error_is_an_error_not_a_deletion(servers, tmp_path):
    platform, _ = servers
    platform.failing.add("115")
    ids = tmp_path / "ids.csv"
    ids.write_text(f"mastodon,{platform.status_uri('115')}\n")
    with _lookups(platform) as lookups:
        report = hydrate(ids, tmp_path / "out.jsonl", lookups)
    assert (report.errors, report.deleted, report.hydrated) == (1, 0, 0)


def test_hosts_on_private_addresses_are_refused_without_the_test_allowance(tmp_path):
    ids = tmp_path / "ids.csv"
    ids.write_text("mastodon,http://169.254.169.254/users/x/statuses/1\n")
    with Lookups() as lookups:
        report = hydrate(ids, tmp_path / "out.jsonl", lookups)
    assert report.errors == 1
    assert "SSRF" in report.problems[0] or "refused" in report.problems[0]


def test_jsonl_id_lists_from_an_ids_only_export_hydrate_too(servers, tmp_path, store, seeded):
    from groundswell.export import ExportOptions, export_dataset

    platform, _ = servers
    export_dataset(
        store, tmp_path / "ids", options=ExportOptions(formats=("jsonl", "parquet"), ids_only=True)
    )
    lines = (tmp_path / "ids" / "mention_ids.jsonl").read_text().splitlines()
    assert len(lines) == 3 and set(json.loads(lines[0])) == {"platform", "native_id"}
    with _lookups(platform) as lookups:
        for name in ("mention_ids.jsonl", "mention_ids.parquet"):
            report = hydrate(tmp_path / "ids" / name, tmp_path / "out.jsonl", lookups)
            # The factory's ids point at example.social (unreachable here): counted as
            # unsupported or errors, never crashing, never written.
            assert report.lines == 3 and not report.bad_lines


def test_the_cli_reports_bad_lines_and_continues(servers, tmp_path):
    from groundswell.cli import app

    platform, _ = servers
    alive = platform.add_status("111", "alice", "Pledged today")
    ids = tmp_path / "ids.csv"
    ids.write_text(f"nonsense\nmastodon,{alive}\n")
    res = CliRunner().invoke(
        app,
        [
            "hydrate",
            str(ids),
            "--out",
            str(tmp_path / "out.jsonl"),
            "--bluesky-appview",
            platform.url,
            "--allow-loopback",
        ],
        catch_exceptions=False,
    )
    assert res.exit_code == 0, res.output
    assert "line 1" in res.output
    assert "1 hydrated" in res.output
    assert set(_hydrated(tmp_path / "out.jsonl")) == {alive}


def test_hydrate_against_the_collectors_servers_skips_a_deleted_post(tmp_path, monkeypatch):
    """The Mastodon and Bluesky servers the collectors are tested on (logged-in getPosts via
    the collector's own Bluesky client, Mastodon by domain mapped to the local port)."""
    from collectors.bluesky.client import BlueskyClient
    from domain.settings.bluesky import BlueskySettings
    from tests.servers.bluesky_server import BlueskyServer, profile
    from tests.servers.mastodon_server import MastodonServer, make_status

    monkeypatch.setenv("GROUNDSWELL_BSKY_HANDLE", "researcher.example.org")
    monkeypatch.setenv("GROUNDSWELL_BSKY_APP_PASSWORD", "app-pass-1234")
    masto = MastodonServer("mastodon.example").start()
    try:
        with BlueskyServer() as bsky:
            bsky.add_account("researcher.example.org", "app-pass-1234")
            author = profile("did:plc:author0000", "author.bsky.social")
            quiet = profile("did:plc:quiet0000", "quiet.bsky.social", opt_out=True)
            b_alive = bsky.add_post(author, "Still here #NHSCitizen", T0)
            b_gone = bsky.add_post(author, "Deleted later #NHSCitizen", T0)
            b_quiet = bsky.add_post(quiet, "Opted out #NHSCitizen", T0)
            del bsky.posts[b_gone]
            alive = masto.carry(make_status("mastodon.example", "alice", 1))["uri"]
            gone = masto.carry(make_status("mastodon.example", "alice", 2))["uri"]
            masto.delete(gone)
            ids = tmp_path / "ids.csv"
            ids.write_text(
                "".join(
                    f"{p},{n}\n"
                    for p, n in [
                        ("mastodon", alive),
                        ("mastodon", gone),
                        ("bluesky", b_alive),
                        ("bluesky", b_gone),
                        ("bluesky", b_quiet),
                    ]
                )
            )
            settings = BlueskySettings(
                base_url=bsky.base_url, session_file=str(tmp_path / "session.json")
            )
            lookups = Lookups(
                policy=LOOPBACK,
                bluesky_client=BlueskyClient(settings),
                instance_urls={"mastodon.example": masto.base_url},
            )
            report = hydrate(ids, tmp_path / "out.jsonl", lookups)
    finally:
        masto.stop()
    assert set(_hydrated(tmp_path / "out.jsonl")) == {alive, b_alive}
    assert (report.hydrated, report.deleted, report.opted_out, report.errors) == (2, 2, 1, 0)
