"""Pingbacks of a whole followed blog through its site-wide comments feed (issue 22, item 5):
no tracked posts; one conditional request per poll; WordPress's pingback items recognised by
their shape; only posts of a movement read. Real WordPress-shaped feeds from the local blog
server, read with httpx and feedparser."""

from __future__ import annotations

import pytest

from collectors.blogs.site_pingbacks import pinged_posts
from domain.settings.blogs import BlogFeed
from tests.blog_helpers import blog_settings, count, pinging_blog, rows, runner_for
from tests.servers.blog_server import BlogServer, Ping


@pytest.fixture
def sources():
    with pinging_blog() as server:
        yield server


@pytest.fixture
def blog(sources):
    with BlogServer("Healthcare Radicals") as server:
        ours = server.add_post("assembly", "NHS Citizen assembly", "<p>#NHSCitizen</p>")
        ours.pings = [Ping(sources.post_url(sources.posts[0]), "Why I pledged")]
        other = server.add_post("recipes", "Soup", "<p>Leek and potato</p>")
        other.pings = [Ping(sources.post_url(sources.posts[0]), "Soup is good")]
        yield server


def _pingbacks(engine):
    return rows(
        engine,
        "SELECT m.url, m.title FROM mention m WHERE m.platform = 'pingback' ORDER BY m.url",
    )


def test_a_followed_blog_s_pingbacks_arrive_through_its_comments_feed(store, blog, sources):
    runner = runner_for(store, _following(blog))
    [outcome] = runner.run_once()
    assert outcome.outcome == "ok", outcome.error
    [ping] = _pingbacks(store)  # the pingback of the movement's post, not the soup's
    assert ping.title == "Why I pledged"
    assert blog.hits("/comments/feed/") == 1
    assert blog.hits(blog.posts[1].path) == 0  # a post of no movement is not read
    edge = rows(store, "SELECT kind FROM amplification WHERE kind = 'pingback'")
    assert len(edge) == 1
    assert count(store, "SELECT count(*) FROM movement_edge WHERE kind = 'pingback'") == 1

    page_reads = blog.hits(blog.posts[0].path)
    runner.run_once(only_due=False)  # nothing new: one conditional request, no page read
    assert blog.hits("/comments/feed/") == 2
    assert blog.hits(blog.posts[0].path) == page_reads


def test_without_the_setting_the_comments_feed_is_not_read(sqlite_store, blog):
    runner = runner_for(sqlite_store, blog_settings(feeds=[blog.url + "/feed/"]))
    runner.run_once()
    assert blog.hits("/comments/feed/") == 0


def test_ordinary_comments_are_not_taken_for_pingbacks() -> None:
    feed = b"""<?xml version="1.0"?><rss version="2.0"
      xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>c</title>
      <item><title>By: Ann</title><link>https://b.example/p/#comment-1</link>
        <guid isPermaLink="false">https://b.example/?p=1#comment-1</guid>
        <description>I agree with this.</description></item>
      <item><title>By: Patient Voices</title><link>https://b.example/p/#comment-2</link>
        <guid isPermaLink="false">https://b.example/?p=1#comment-2</guid>
        <description><![CDATA[[&#8230;] Read the notes [&#8230;]]]></description></item>
    </channel></rss>"""
    posts, others = pinged_posts(feed, set())
    assert posts == {"https://b.example/p/": ["https://b.example/?p=1#comment-2"]}
    assert others == ["https://b.example/?p=1#comment-1"]


def _following(blog: BlogServer):
    """Settings following `blog`'s feed with `pingbacks = true`, and no tracked posts."""
    settings = blog_settings(feeds=[blog.url + "/feed/"])
    feeds = [BlogFeed(url=blog.url + "/feed/", pingbacks=True)]
    return settings.model_copy(update={"blogs": settings.blogs.model_copy(update={"feeds": feeds})})
