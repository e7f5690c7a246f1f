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


# -- received pings to owned pages ------------------------------------------------------------


@pytest.fixture
def owned():
    """The user's own site: a page that others link to and ping."""
    with BlogServer("NHS Citizen") as server:
        server.add_post("pledge", "Take the NHS Citizen pledge", "<p>Pledge with us.</p>")
        yield server


def _received(store, owned, source_blog, kind="webmention", **kw):
    from collectors.blogs.queue import VerifyWorker, accept
    from storage.catalog import upsert_movement
    from storage.engine import write_tx
    from tests.blog_helpers import NHS
    from tests.test_blog_receiver import receiver_settings

    with write_tx(store) as conn:
        upsert_movement(conn, NHS)
    target = owned.post_url(owned.posts[0])
    source_blog.link_target = target
    post = source_blog.add_post("why", "Why I pledged", f'<p><a href="{target}">pledge</a></p>')
    accept(store, kind, source_blog.post_url(post), target)
    worker = VerifyWorker(store, receiver_settings(owned_sites=[owned.url], **kw))
    assert worker.run_once() == 1
    return target


def test_a_received_webmention_to_an_owned_page_never_stored_stores_the_page_and_resolves(
    store, owned, tmp_path
):
    from groundswell.export import ExportOptions, export_dataset

    with BlogServer("Patient Voices") as source_blog:
        target = _received(store, owned, source_blog)
    [page] = rows(store, "SELECT id, title, url, created_at FROM mention WHERE platform = 'blog'")
    assert page.url == canonical_url(target)
    assert page.title == "Take the NHS Citizen pledge"
    [edge] = rows(store, "SELECT target_mention_id FROM amplification")
    assert edge.target_mention_id == page.id
    assert count(store, "SELECT count(*) FROM movement_edge") == 1
    summary = export_dataset(
        store,
        tmp_path / "out",
        options=ExportOptions(datasets=("edges",), network=("graphml",)),
    )
    assert summary.counts["edges"]["exported"] == 1
    assert summary.counts["network"]["edges"] == 1


def test_a_received_ping_to_an_owned_page_already_stored_stores_nothing_more(store, owned):
    with BlogServer("Patient Voices") as source_blog:
        _received(store, owned, source_blog)
        hits = owned.hits(owned.posts[0].path)
        with BlogServer("Healthcare Radicals") as other:
            _received(store, owned, other)
    assert owned.hits(owned.posts[0].path) == hits  # the stored page is not fetched again
    assert count(store, "SELECT count(*) FROM mention WHERE platform = 'blog'") == 1
    assert count(store, "SELECT count(*) FROM movement_edge") == 2


def test_an_owned_page_that_cannot_be_read_leaves_the_ping_verified_and_is_stored_later(
    sqlite_store, owned
):
    from collectors.blogs.queue import VerifyWorker

    owned.pages[owned.posts[0].path] = (503, {}, b"busy")
    with BlogServer("Patient Voices") as source_blog:
        _received(sqlite_store, owned, source_blog)
        assert count(sqlite_store, "SELECT count(*) FROM mention WHERE platform = 'blog'") == 0
        assert rows(sqlite_store, "SELECT status FROM received_ping")[0].status == "verified"
        del owned.pages[owned.posts[0].path]
        from datetime import timedelta

        from tests.test_blog_receiver import receiver_settings

        worker = VerifyWorker(sqlite_store, receiver_settings(owned_sites=[owned.url]))
        assert worker.recheck(older_than=timedelta(0)) == 1
        worker.run_once()
    [page] = rows(sqlite_store, "SELECT id FROM mention WHERE platform = 'blog'")
    [edge] = rows(sqlite_store, "SELECT target_mention_id FROM amplification")
    assert edge.target_mention_id == page.id
