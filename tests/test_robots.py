"""A polite crawler (issue 22, item 3): crawled pages (a tracked post's markup, the pages of
pingback sources) respect the site's robots.txt for our user agent, read once per site and
again after a day; a disallowed tracked post shows "disallowed by robots.txt" in its status;
configured feeds and XML-RPC are not crawling. Real sites: the local blog server, httpx."""

from __future__ import annotations

import pytest

from domain.settings.config import parse_settings
from net.fetcher import Fetcher, FetchPolicy, use_contact_url
from net.robots import DisallowedByRobots, RobotsCache
from storage.status import parked_fix
from tests.blog_helpers import blog_settings, count, pinging_blog, rows, runner_for
from tests.servers.blog_server import BlogServer, Ping

TEXT = {"Content-Type": "text/plain"}


def robots(server: BlogServer, body: str) -> None:
    server.pages["/robots.txt"] = (200, TEXT, body.encode())


@pytest.fixture
def sources():
    with pinging_blog() as server:
        yield server


@pytest.fixture
def blog(sources):
    with BlogServer("Healthcare Radicals") as server:
        post = server.add_post("assembly", "NHS Citizen assembly", "<p>#NHSCitizen</p>")
        post.pings = [Ping(sources.post_url(sources.posts[0]), "Why I pledged")]
        server.xmlrpc = "off"  # pingbacks come from the page markup: crawling
        yield server


def test_a_tracked_post_disallowed_by_robots_txt_is_not_read_and_says_so(sqlite_store, blog):
    robots(blog, "User-agent: Groundswell\nDisallow: /\n")
    runner = runner_for(sqlite_store, blog_settings(posts=[blog.post_url(blog.posts[0])]))
    [outcome] = runner.run_once()
    assert "disallowed by robots.txt" in str(outcome.error)
    assert blog.hits(blog.posts[0].path) == 0
    [src] = rows(sqlite_store, "SELECT status, last_error FROM source")
    assert src.status == "robots_disallowed" and "disallowed by robots.txt" in src.last_error
    assert "robots.txt" in parked_fix(src.status, None)


def test_rules_for_other_crawlers_do_not_stop_us(sqlite_store, blog, sources):
    robots(blog, "User-agent: BadBot\nDisallow: /\n\nUser-agent: *\nDisallow: /wp-admin/\n")
    runner = runner_for(sqlite_store, blog_settings(posts=[blog.post_url(blog.posts[0])]))
    [outcome] = runner.run_once()
    assert outcome.outcome == "ok", outcome.error
    assert count(sqlite_store, "SELECT count(*) FROM mention WHERE platform = 'pingback'") == 1


def test_a_pingback_source_disallowing_us_is_kept_but_not_read(sqlite_store, blog, sources):
    robots(sources, "User-agent: *\nDisallow: /\n")
    runner = runner_for(sqlite_store, blog_settings(posts=[blog.post_url(blog.posts[0])]))
    [outcome] = runner.run_once()
    assert outcome.outcome == "ok", outcome.error
    assert sources.hits(sources.posts[0].path) == 0  # not enriched
    [ping] = rows(sqlite_store, "SELECT title FROM mention WHERE platform = 'pingback'")
    assert ping.title == "Why I pledged"  # the title the tracked page gave


def test_robots_txt_is_read_once_per_site_and_again_after_a_day(blog):
    robots(blog, "User-agent: *\nDisallow: /private/\n")
    now = [0.0]
    with Fetcher(FetchPolicy(allow_loopback=True)) as fetcher:
        cache = RobotsCache(fetcher, clock=lambda: now[0])
        cache.check(blog.url + "/a")
        cache.check(blog.url + "/b")
        assert blog.hits("/robots.txt") == 1
        robots(blog, "User-agent: *\nDisallow: /\n")
        now[0] += 86_401
        with pytest.raises(DisallowedByRobots):
            cache.check(blog.url + "/a")
        assert blog.hits("/robots.txt") == 2


def test_a_missing_robots_txt_allows_everything(blog):
    with Fetcher(FetchPolicy(allow_loopback=True)) as fetcher:
        RobotsCache(fetcher).check(blog.url + "/anything")


def test_a_configured_feed_is_not_crawling_and_ignores_robots_txt(sqlite_store, blog):
    """The feed you configured is read whatever robots.txt says; its comments feed, found by
    crawling, is not (tests/test_site_pingbacks.py)."""
    robots(blog, "User-agent: *\nDisallow: /\n")
    runner = runner_for(sqlite_store, blog_settings(feeds=[blog.url + "/feed/"]))
    [outcome] = runner.run_once()
    assert outcome.outcome == "ok", outcome.error
    assert blog.hits("/feed/") == 1
    assert blog.hits("/comments/feed/") == 0 and blog.hits("/") == 0


def test_our_user_agent_names_the_configured_contact_url(blog) -> None:
    settings = parse_settings({"network": {"contact_url": "https://movement.example/about"}})
    use_contact_url(settings.network.contact_url)  # what load_settings does
    try:
        with Fetcher(FetchPolicy(allow_loopback=True)) as fetcher:
            fetcher.get(blog.url + "/")
    finally:
        use_contact_url(None)
    agent = blog.requests[-1].headers.get("user-agent", "")
    assert agent.startswith("Groundswell/") and "+https://movement.example/about" in agent
