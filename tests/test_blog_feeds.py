"""Blog feeds: every format, conditional GET, bozo feeds, XML bombs, link edges, faults.

The collector runs through the real runner against a local WordPress-like blog; feedparser and
httpx are real."""

from __future__ import annotations

from datetime import UTC, datetime

import feedparser
import pytest

from collectors.blogs.feeds import parse_feed
from domain.url_identity import canonical_url
from storage.status import source_status
from tests.blog_helpers import blog_settings, count, rows, runner_for
from tests.factories import mention
from tests.servers.blog_server import T0, BlogServer

NOW = datetime(2026, 11, 3, tzinfo=UTC)


@pytest.fixture
def blog():
    with BlogServer("Healthcare Radicals") as server:
        server.add_post(
            "assembly",
            "Notes from the NHS Citizen assembly",
            '<p>We met in Leeds. <a href="https://www.nhscitizen.org.uk/pledge?utm_source=x">'
            "Pledge here</a> #NHSCitizen</p>",
            tags=["NHSCitizen", "assemblies"],
        )
        server.add_post(
            "gardening",
            "My allotment",
            "<p>Leeks <script>alert(1)</script>and beans</p>",
            published=T0.replace(hour=12),
        )
        yield server


@pytest.fixture
def parse_calls(monkeypatch):
    """Count feedparser.parse calls (the library, called through)."""
    calls = []
    real = feedparser.parse

    def spy(*args, **kwargs):
        calls.append(args[0][:20])
        return real(*args, **kwargs)

    monkeypatch.setattr(feedparser, "parse", spy)
    return calls


def _fetch(blog: BlogServer, path: str) -> tuple[bytes, dict[str, str]]:
    import httpx

    res = httpx.get(blog.url + path)
    return res.content, dict(res.headers)


@pytest.mark.parametrize("path", ["/feed/", "/feed/atom/", "/feed/rdf/", "/feed/rss/"])
def test_every_feed_format_gives_the_same_entries(blog, path):
    content, headers = _fetch(blog, path)
    parsed = parse_feed(content, headers, feed_url=blog.url + path, fetched_at=NOW)
    assert parsed.problem is None
    by_title = {e.title: e for e in parsed.entries}
    assert set(by_title) == {"Notes from the NHS Citizen assembly", "My allotment"}
    e = by_title["Notes from the NHS Citizen assembly"]
    assert e.url == blog.url + "/2026/11/assembly/"
    assert e.author is not None and e.author.native_id == blog.host
    assert "Healthcare Radicals" in (e.author.display_name or "")
    assert "#NHSCitizen" in (e.text or "")


@pytest.mark.parametrize("path", ["/feed/", "/feed/atom/", "/feed/rdf/"])
def test_dates_links_and_html_are_read_and_sanitised(blog, path):
    content, headers = _fetch(blog, path)
    entries = parse_feed(content, headers, feed_url=blog.url + path, fetched_at=NOW).entries
    by_title = {e.title: e for e in entries}
    assert by_title["Notes from the NHS Citizen assembly"].created_at == T0
    # links in their canonical spelling, the one every id and lookup uses (docs/blogs.md)
    assert by_title["Notes from the NHS Citizen assembly"].links == [
        "https://www.nhscitizen.org.uk/pledge"
    ]
    allotment = by_title["My allotment"]
    assert "<script" not in (allotment.html or "") and "alert" not in (allotment.text or "")


def test_entries_are_keyed_by_id_else_by_link(blog):
    rss2, h2 = _fetch(blog, "/feed/")
    rss092, h092 = _fetch(blog, "/feed/rss/")
    with_guid = parse_feed(rss2, h2, feed_url=blog.url + "/feed/", fetched_at=NOW).entries
    without = parse_feed(rss092, h092, feed_url=blog.url + "/feed/rss/", fetched_at=NOW).entries
    assert {e.native_id for e in with_guid} == {f"{blog.url}/?p=100", f"{blog.url}/?p=101"}
    assert {e.native_id for e in without} == {
        canonical_url(f"{blog.url}/2026/11/assembly/"),
        canonical_url(f"{blog.url}/2026/11/gardening/"),
    }


def test_an_entry_without_id_or_link_is_skipped_not_fatal():
    feed = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
    <item><title>no id #NHSCitizen</title><description>x</description></item>
    <item><title>ok</title><link>https://b.example/1</link></item></channel></rss>"""
    parsed = parse_feed(feed, {}, feed_url="https://b.example/feed", fetched_at=NOW)
    assert [e.native_id for e in parsed.entries] == ["https://b.example/1"]
    assert [s.reason for s in parsed.skipped] == ["no_id"]


def test_a_feed_declaring_entities_is_refused_as_an_xml_bomb():
    bomb = b"""<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa">
    <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>
    <rss version="2.0"><channel><title>&c;</title><item><link>https://x.example/</link>
    </item></channel></rss>"""
    parsed = parse_feed(bomb, {}, feed_url="https://x.example/feed", fetched_at=NOW)
    assert parsed.entries == [] and "XML bomb" in (parsed.problem or "")


def test_future_and_ancient_dates_fall_back_to_when_the_entry_was_seen():
    feed = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
    <item><guid>a</guid><link>https://b.example/a</link><pubDate>Sat, 01 Jan 2199 00:00:00 GMT
    </pubDate></item><item><guid>b</guid><link>https://b.example/b</link>
    <pubDate>not a date</pubDate></item></channel></rss>"""
    entries = parse_feed(feed, {}, feed_url="https://b.example/f", fetched_at=NOW).entries
    assert [e.created_at for e in entries] == [NOW, NOW]


# -- through the runner -------------------------------------------------------------------------


def test_matching_entries_are_stored_and_others_are_not(sqlite_store, blog):
    runner = runner_for(sqlite_store, blog_settings(feeds=[blog.url + "/feed/"]))
    [outcome] = runner.run_once()
    assert outcome.outcome == "ok", outcome.error
    assert [r.title for r in rows(sqlite_store, "SELECT title FROM mention")] == [
        "Notes from the NHS Citizen assembly"
    ]
    assert outcome.result.unmatched == 1


def test_an_unchanged_feed_costs_one_request_and_no_parsing(sqlite_store, blog, parse_calls):
    settings = blog_settings(feeds=[blog.url + "/feed/"], comments_feed=False)  # the feed alone
    runner = runner_for(sqlite_store, settings)
    runner.run_once()
    assert len(parse_calls) == 1
    requests_before, bytes_before = blog.hits("/feed/"), blog.body_bytes

    [outcome] = runner.run_once()

    assert outcome.outcome == "ok" and outcome.batches == 0
    assert blog.hits("/feed/") == requests_before + 1
    assert blog.requests[-1].headers.get("if-none-match", "").startswith('"')
    assert blog.body_bytes == bytes_before  # the 304 carried no body
    assert len(parse_calls) == 1  # nothing parsed


def test_a_new_post_is_fetched_after_the_304s(sqlite_store, blog):
    runner = runner_for(sqlite_store, blog_settings(feeds=[blog.url + "/feed/"]))
    runner.run_once()
    runner.run_once()
    blog.add_post("day2", "Day two #NHSCitizen", "<p>more</p>", published=T0.replace(day=3))
    [outcome] = runner.run_once()
    assert outcome.result.new == 1
    assert count(sqlite_store, "SELECT count(*) FROM mention") == 2


def test_a_server_ignoring_validators_resending_the_same_bytes_is_not_parsed_again(
    sqlite_store, blog, parse_calls
):
    body = blog.rss2().encode()
    blog.pages["/plain/feed/"] = (200, {"Content-Type": "application/rss+xml"}, body)
    settings = blog_settings(feeds=[blog.url + "/plain/feed/"], comments_feed=False)
    runner = runner_for(sqlite_store, settings)
    runner.run_once()
    runner.run_once()
    assert len(parse_calls) == 1


def test_a_bozo_feed_is_harvested_and_its_problem_shown_by_status(store, blog):
    runner = runner_for(store, blog_settings(feeds=[blog.url + "/bozo/feed/"]))
    [outcome] = runner.run_once()
    assert outcome.outcome == "ok"
    assert count(store, "SELECT count(*) FROM mention") == 2
    with store.connect() as conn:
        [status] = source_status(conn)
    assert status["problems"] and "malformed feed" in status["problems"][0]


def test_link_edges_join_blog_to_blog_and_blog_to_post(store, blog):
    with BlogServer("Other Blog") as other:
        target = blog.post_url(blog.posts[0])
        other.add_post(
            "reply",
            "Replying about NHS Citizen",
            f'<p>See <a href="{target}">Ruth\'s notes</a> and '
            '<a href="https://example.social/@u/1">this toot</a></p>',
            published=T0.replace(day=4),
        )
        from storage.engine import write_tx
        from storage.write import write_batch
        from tests.factories import batch, movement

        rules = movement(store)
        toot = mention(1, url="https://example.social/@u/1")
        with write_tx(store) as conn:
            write_batch(conn, batch(toot), rules)
        runner = runner_for(store, blog_settings(feeds=[blog.url + "/feed/", other.url + "/feed/"]))
        runner.run_once()
        runner.run_once()  # the second poll of `other` is a 304: the edges came in the first
    edges = rows(
        store,
        "SELECT a.native_id AS src, m.platform, m.url FROM amplification e "
        "JOIN account a ON a.id = e.source_account_id "
        "JOIN mention m ON m.id = e.target_mention_id WHERE e.kind = 'link' ORDER BY m.platform",
    )
    assert [(e.src, e.platform, e.url) for e in edges] == [
        (other.host, "blog", canonical_url(target)),
        (other.host, "mastodon", "https://example.social/@u/1"),
    ]


def test_a_failing_feed_backs_off_and_the_other_feeds_still_run(sqlite_store, blog):
    runner = runner_for(
        sqlite_store, blog_settings(feeds=[blog.url + "/error", blog.url + "/feed/"])
    )
    outcomes = {o.source_key: o.outcome for o in runner.run_once()}
    assert outcomes == {
        f"blog:feed:{blog.url}/error": "transient",
        f"blog:feed:{blog.url}/feed/": "ok",
    }
    assert count(sqlite_store, "SELECT count(*) FROM mention") == 1


@pytest.mark.parametrize(
    ("path", "reason"), [("/redirect-private", "SSRF"), ("/huge", "cap"), ("/gone", "410")]
)
def test_ssrf_huge_and_gone_feeds_fail_the_source_with_a_clear_error(
    sqlite_store, blog, path, reason
):
    runner = runner_for(sqlite_store, blog_settings(feeds=[blog.url + path], max_bytes=200_000))
    [outcome] = runner.run_once()
    assert outcome.outcome == "fatal" and reason in (outcome.error or "")
    with sqlite_store.connect() as conn:
        [status] = source_status(conn)
    assert status["status"] == "fatal" and path in status["last_error"]


def test_a_link_to_an_entry_stored_later_becomes_an_edge_when_that_entry_arrives(store, blog):
    with BlogServer("Early Linker") as early:
        target = blog.post_url(blog.posts[0])
        early.add_post(
            "first",
            "NHS Citizen, first thoughts",
            f'<p>I will write more after <a href="{target}?utm_source=feed">the assembly</a></p>',
        )
        runner = runner_for(store, blog_settings(feeds=[early.url + "/feed/"]))
        runner.run_once()  # the linker is stored first; its link points at nothing stored yet
        assert count(store, "SELECT count(*) FROM amplification") == 0
        runner = runner_for(store, blog_settings(feeds=[early.url + "/feed/", blog.url + "/feed/"]))
        runner.run_once()
        runner.run_once()  # and nothing is counted twice
    edges = rows(
        store,
        "SELECT a.native_id AS src, m.url FROM amplification e "
        "JOIN account a ON a.id = e.source_account_id "
        "JOIN mention m ON m.id = e.target_mention_id WHERE e.kind = 'link'",
    )
    assert [(e.src, e.url) for e in edges] == [(early.host, canonical_url(target))]


def test_an_entry_link_too_long_for_the_url_index_is_kept_without_its_url():
    long_link = "https://b.example/" + "a" * 2100
    feed = f"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
    <item><guid isPermaLink="false">post-1</guid><link>{long_link}</link>
    <title>#NHSCitizen</title></item></channel></rss>""".encode()
    [entry] = parse_feed(feed, {}, feed_url="https://b.example/f", fetched_at=NOW).entries
    assert entry.native_id == "post-1" and entry.url is None
