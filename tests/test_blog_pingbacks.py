"""Polled pingbacks of posts on blogs we do not own: getPingbacks first, page markup when
XML-RPC is off, the comment feed as a cheap change signal, polite bounded enrichment."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.url_identity import canonical_url, ping_native_id
from tests.blog_helpers import blog_settings, count, rows, runner_for
from tests.servers.blog_server import T0, BlogServer, Ping


@pytest.fixture
def sources():
    """A second blog whose posts ping the tracked post."""
    with BlogServer("Patient Voices") as server:
        server.add_post(
            "why-i-pledged",
            "Why I pledged",
            "<p>Read the assembly notes</p>",
            published=T0 + timedelta(hours=3),
        )
        server.add_post(
            "assembly-day-2", "Assembly, day two", "<p>More</p>", published=T0 + timedelta(hours=4)
        )
        yield server


@pytest.fixture
def blog(sources):
    with BlogServer("Healthcare Radicals") as server:
        post = server.add_post(
            "assembly", "Notes from the NHS Citizen assembly", "<p>#NHSCitizen</p>"
        )
        post.pings = [
            Ping(sources.post_url(sources.posts[0]), "Why I pledged « Patient Voices"),
            Ping(sources.post_url(sources.posts[1]), "Assembly, day two", kind="trackback"),
        ]
        yield server


def _pingbacks(engine):
    return rows(
        engine,
        "SELECT m.native_id, m.url, m.title, m.created_ts, a.native_id AS host, a.display_name "
        "FROM mention m JOIN account a ON a.id = m.account_id "
        "WHERE m.platform = 'pingback' ORDER BY m.url",
    )


def test_pingbacks_are_found_through_getpingbacks_and_enriched(store, blog, sources):
    target = blog.post_url(blog.posts[0])
    runner = runner_for(store, blog_settings(posts=[target]))
    [outcome] = runner.run_once()
    assert outcome.outcome == "ok", outcome.error
    assert blog.hits("/xmlrpc.php", "POST") == 1
    [ping] = _pingbacks(store)  # getPingbacks lists pingbacks only, not trackbacks
    source = sources.post_url(sources.posts[0])
    assert ping.native_id == ping_native_id(source, target)
    assert ping.title == "Why I pledged"
    assert ping.display_name == "Patient Voices" and ping.host == sources.host
    assert ping.created_ts == int((T0 + timedelta(hours=3)).timestamp())
    edges = rows(store, "SELECT kind, platform FROM amplification")
    assert [(e.kind, e.platform) for e in edges] == [("pingback", "pingback")]


def test_with_xmlrpc_off_pingbacks_and_trackbacks_come_from_the_page_markup(store, blog, sources):
    blog.xmlrpc = "off"
    runner = runner_for(store, blog_settings(posts=[blog.post_url(blog.posts[0])]))
    [outcome] = runner.run_once()
    assert outcome.outcome == "ok", outcome.error
    assert [p.url for p in _pingbacks(store)] == sorted(
        canonical_url(sources.post_url(p)) for p in sources.posts
    )


def test_a_blog_advertising_no_endpoint_is_read_from_markup(sqlite_store, blog, sources):
    blog.advertise_pingback = False
    runner = runner_for(sqlite_store, blog_settings(posts=[blog.post_url(blog.posts[0])]))
    runner.run_once()
    assert blog.hits("/xmlrpc.php") == 0
    assert len(_pingbacks(sqlite_store)) == 2


def test_an_unchanged_comment_feed_costs_one_request(sqlite_store, blog):
    post = blog.posts[0]
    runner = runner_for(sqlite_store, blog_settings(posts=[blog.post_url(post)]))
    runner.run_once()
    before = len(blog.requests)
    [outcome] = runner.run_once()
    assert outcome.outcome == "ok"
    assert len(blog.requests) == before + 1
    assert blog.requests[-1].path == post.path + "feed/"
    assert blog.hits("/xmlrpc.php") == 1


def test_a_new_pingback_changes_the_comment_feed_and_is_collected(sqlite_store, blog, sources):
    post = blog.posts[0]
    runner = runner_for(sqlite_store, blog_settings(posts=[blog.post_url(post)]))
    runner.run_once()
    post.pings.append(
        Ping(sources.post_url(sources.posts[1]), "Day two", date=T0 + timedelta(days=1))
    )
    [outcome] = runner.run_once()
    assert outcome.result.new == 1
    assert count(sqlite_store, "SELECT count(*) FROM mention WHERE platform='pingback'") == 2


def test_enrichment_is_bounded_per_poll_and_the_rest_waits_for_the_next(
    sqlite_store, blog, sources
):
    blog.xmlrpc = "off"
    settings = blog_settings(posts=[blog.post_url(blog.posts[0])], max_enrich_per_poll=1)
    runner = runner_for(sqlite_store, settings)
    runner.run_once()
    assert len(_pingbacks(sqlite_store)) == 1
    runner.run_once()
    assert len(_pingbacks(sqlite_store)) == 2


def test_a_gone_source_is_skipped_and_the_others_kept(sqlite_store, blog, sources):
    blog.posts[0].pings.append(Ping(sources.url + "/gone", "Deleted post"))
    blog.xmlrpc = "off"
    runner = runner_for(sqlite_store, blog_settings(posts=[blog.post_url(blog.posts[0])]))
    [outcome] = runner.run_once()
    assert outcome.result.skip_reasons == {"source_gone": 1}
    assert len(_pingbacks(sqlite_store)) == 2


def test_an_unreachable_source_page_still_gives_the_pingback_with_its_listed_title(
    sqlite_store, blog, sources
):
    blog.posts[0].pings = [Ping(sources.url + "/error", "Flaky blog post")]
    blog.xmlrpc = "off"
    runner = runner_for(sqlite_store, blog_settings(posts=[blog.post_url(blog.posts[0])]))
    runner.run_once()
    [ping] = _pingbacks(sqlite_store)
    assert ping.title == "Flaky blog post"


def test_a_comment_feed_without_validators_is_compared_by_its_bytes(sqlite_store, blog):
    post = blog.posts[0]
    body = blog.comments_feed(post).encode()
    blog.pages[post.path + "feed/"] = (200, {"Content-Type": "application/rss+xml"}, body)
    runner = runner_for(sqlite_store, blog_settings(posts=[blog.post_url(post)]))
    runner.run_once()
    before = len(blog.requests)
    runner.run_once()
    assert len(blog.requests) == before + 1  # the same bytes: no full check
    assert blog.hits("/xmlrpc.php") == 1
