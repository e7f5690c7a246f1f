"""Edges to pages never stored (issue 22, item 4): the tracked post a polled pingback points
at is stored as a blog mention (title, site and time from its markup, through the guarded
fetcher), so the pingback edge resolves: it is linked into the movement's edges and exported."""

from __future__ import annotations

import pytest

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
        post = server.add_post("assembly", "Notes from the NHS Citizen assembly", "<p>Hi</p>")
        post.pings = [Ping(sources.post_url(sources.posts[0]), "Why I pledged")]
        yield server


@pytest.mark.parametrize("xmlrpc", ["on", "off"])
def test_a_pingback_to_a_tracked_post_never_stored_stores_the_post_and_resolves(
    store, blog, sources, xmlrpc
):
    blog.xmlrpc = xmlrpc
    target = blog.post_url(blog.posts[0])
    runner = runner_for(store, blog_settings(posts=[target]))
    [outcome] = runner.run_once()
    assert outcome.outcome == "ok", outcome.error
    [page] = rows(store, "SELECT id, title, url FROM mention WHERE platform = 'blog'")
    assert page.url == canonical_url(target)
    assert page.title == "Notes from the NHS Citizen assembly"
    [edge] = rows(store, "SELECT target_mention_id FROM amplification")
    assert edge.target_mention_id == page.id
    assert count(store, "SELECT count(*) FROM movement_edge") == 1
