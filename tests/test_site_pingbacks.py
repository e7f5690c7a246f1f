"""Pingbacks of a whole followed blog through its site-wide comments feed (issue 22, item 3):
on by default for a followed blog that is not yours, no tracked posts; the feed found from the
home page's `<link rel="alternate">`; one conditional request per poll; WordPress's pingback
items recognised by their shape (also as WordPress's theme-unit-test export recorded them);
only posts of a movement read; robots.txt respected; a blog without such a feed is asked
weekly, not every poll. Real WordPress-shaped feeds from the local blog server, read with httpx
and feedparser."""

from __future__ import annotations

import pytest

from collectors.blogs.site_pingbacks import pinged_posts
from domain.settings.blogs import BlogFeed
from domain.url_identity import canonical_url
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


def test_a_feed_opted_out_with_pingbacks_false_never_reads_the_comments_feed(sqlite_store, blog):
    runner = runner_for(sqlite_store, _following(blog, pingbacks=False))
    runner.run_once()
    assert blog.hits("/comments/feed/") == 0 and blog.hits("/") == 0


def test_a_blog_on_your_owned_sites_is_left_to_the_receiver(sqlite_store, blog):
    settings = _following(blog)
    settings = settings.model_copy(
        update={"receiver": settings.receiver.model_copy(update={"owned_sites": [blog.url]})}
    )
    runner_for(sqlite_store, settings).run_once()
    assert blog.hits("/comments/feed/") == 0


def test_the_comments_feed_is_found_from_the_home_page_s_alternate_link_once(sqlite_store, blog):
    blog.comments_path = "/feeds/all-comments/"  # not WordPress's default address
    runner = runner_for(sqlite_store, _following(blog))
    [outcome] = runner.run_once()
    assert outcome.outcome == "ok", outcome.error
    assert blog.hits("/feeds/all-comments/") == 1 and blog.hits("/comments/feed/") == 0
    assert len(_pingbacks(sqlite_store)) == 1
    runner.run_once(only_due=False)
    assert blog.hits("/") == 1  # discovered once, remembered in the source's cursor
    assert blog.hits("/feeds/all-comments/") == 2


def test_a_blog_without_a_comments_feed_is_asked_weekly_not_every_poll(sqlite_store, blog):
    blog.comments_path = None  # an engine without one: /comments/feed/ is a 404
    runner = runner_for(sqlite_store, _following(blog))
    [outcome] = runner.run_once()
    assert outcome.outcome == "ok", outcome.error
    assert blog.hits("/comments/feed/") == 1
    runner.run_once(only_due=False)
    runner.run_once(only_due=False)
    assert blog.hits("/comments/feed/") == 1 and blog.hits("/") == 1
    assert count(sqlite_store, "SELECT count(*) FROM mention WHERE platform = 'blog'") == 1


def test_a_comments_feed_disallowed_by_robots_txt_is_not_read(sqlite_store, blog):
    blog.pages["/robots.txt"] = (
        200,
        {"Content-Type": "text/plain"},
        b"User-agent: *\nDisallow: /comments/\n",
    )
    runner = runner_for(sqlite_store, _following(blog))
    [outcome] = runner.run_once()
    assert outcome.outcome == "ok", outcome.error  # the blog's own feed is unaffected
    assert blog.hits("/comments/feed/") == 0
    from storage.status import source_status

    with sqlite_store.connect() as conn:
        [status] = source_status(conn)
    assert any("disallowed by robots.txt" in p for p in status["problems"])
    assert count(sqlite_store, "SELECT count(*) FROM mention WHERE platform = 'blog'") == 1


def test_wordpress_s_recorded_pingback_comments_arrive_through_the_comments_feed(
    sqlite_store,
):
    """The pingback comments of WordPress's theme-unit-test export (their authors, sources and
    the excerpts WordPress quoted, "[...] ... [...]"), served as WordPress's comments feed and
    post page render them."""
    from tests.blog_helpers import wordpress_pingbacks

    recorded = wordpress_pingbacks()
    assert recorded
    with BlogServer("Healthcare Radicals") as blog:
        ours = blog.add_post("assembly", "NHS Citizen assembly", "<p>#NHSCitizen</p>")
        ours.pings = [Ping(r.source, r.title, excerpt=r.excerpt) for r in recorded]
        [outcome] = runner_for(sqlite_store, _following(blog)).run_once()
        assert outcome.outcome == "ok", outcome.error
    got = _pingbacks(sqlite_store)
    assert sorted(p.title for p in got) == sorted(r.title for r in recorded)
    assert {p.url for p in got} == {canonical_url(r.source) for r in recorded}
    assert count(sqlite_store, "SELECT count(*) FROM movement_edge WHERE kind = 'pingback'") == (
        len(recorded)
    )


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


def _following(blog: BlogServer, **feed):
    """Settings following `blog`'s feed (the comments feed as by default unless `feed` says
    otherwise), and no tracked posts."""
    settings = blog_settings(feeds=[blog.url + "/feed/"])
    feeds = [BlogFeed(url=blog.url + "/feed/", **feed)]
    return settings.model_copy(update={"blogs": settings.blogs.model_copy(update={"feeds": feeds})})
