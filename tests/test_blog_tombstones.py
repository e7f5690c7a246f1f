"""Reversible and final tombstones (issue 16 item 4, docs/blogs.md "Tombstones").

A final deletion (the platform deleted the post) is never undone. A reversible one (the page
or its link was gone when checked) is restored when the evidence returns: a webmention verified
again after a temporary 404, a link put back. Real receiver queue, real httpx against a local
blog. Both stores."""

from __future__ import annotations

from datetime import timedelta

import pytest

from collectors.blogs.queue import VerifyWorker, accept
from domain.records import Batch
from storage.catalog import load_rules, upsert_movement
from storage.engine import write_tx
from storage.write import write_batch
from tests.blog_helpers import NHS, count, rows
from tests.factories import T0, mention
from tests.servers.blog_server import BlogServer
from tests.test_blog_receiver import PLEDGE, receiver_settings


@pytest.fixture
def blog():
    with BlogServer("Patient Voices") as server:
        server.add_post("pledged", "Why I pledged", f'<p><a href="{PLEDGE}">pledge</a></p>')
        yield server


def _webmention(store) -> tuple:
    [m] = rows(
        store,
        "SELECT m.deleted_at, m.deleted_reason, m.title, m.url, "
        "(SELECT count(*) FROM mention_payload p WHERE p.mention_id = m.id) AS payloads "
        "FROM mention m WHERE m.platform = 'webmention'",
    )
    return m


def _verify_again(store, worker: VerifyWorker, source: str) -> None:
    accept(store, "webmention", source, PLEDGE)  # the sender re-sends: verified again
    assert worker.run_once() == 1


def test_a_webmention_verified_again_after_a_temporary_404_comes_back(store, blog):
    with write_tx(store) as conn:
        upsert_movement(conn, NHS)
    worker = VerifyWorker(store, receiver_settings())
    source = blog.post_url(blog.posts[0])
    _verify_again(store, worker, source)
    assert _webmention(store).deleted_at is None

    blog.pages[blog.posts[0].path] = (404, {}, b"not found")  # the page is down for a while
    _verify_again(store, worker, source)
    gone = _webmention(store)
    assert gone.deleted_at is not None and gone.deleted_reason == "gone"
    assert gone.title is None and gone.payloads == 0

    del blog.pages[blog.posts[0].path]  # and back
    _verify_again(store, worker, source)
    back = _webmention(store)
    assert back.deleted_at is None and back.deleted_reason is None
    assert back.title == "Why I pledged" and back.url and back.payloads == 1
    assert count(store, "SELECT count(*) FROM received_ping WHERE status = 'verified'") == 1


def test_a_link_put_back_restores_the_mention(store, blog):
    with write_tx(store) as conn:
        upsert_movement(conn, NHS)
    worker = VerifyWorker(store, receiver_settings())
    source = blog.post_url(blog.posts[0])
    _verify_again(store, worker, source)
    content = blog.posts[0].content
    blog.posts[0].content = "<p>I changed my mind.</p>"
    assert worker.recheck(older_than=timedelta(0)) == 1
    worker.run_once()
    assert _webmention(store).deleted_reason == "gone"

    blog.posts[0].content = content
    _verify_again(store, worker, source)
    assert _webmention(store).deleted_at is None


def _store_status(store):
    rules = []
    with write_tx(store) as conn:
        upsert_movement(conn, NHS)
        rules = load_rules(conn)
        toot = mention(1)
        write_batch(conn, Batch(mentions=[toot]), rules, now=T0)
    return toot, rules


def test_a_final_deletion_stays_final_when_the_post_is_seen_again(store):
    toot, rules = _store_status(store)
    with write_tx(store) as conn:
        write_batch(conn, Batch(deletions=[(toot.platform, toot.native_id)]), rules)
        write_batch(conn, Batch(mentions=[toot]), rules)  # e.g. an instance that lags behind
    [m] = rows(store, "SELECT deleted_at, deleted_reason, text FROM mention")
    assert m.deleted_at is not None and m.deleted_reason == "deleted" and m.text is None


def test_a_final_deletion_makes_a_reversible_tombstone_final(store):
    toot, rules = _store_status(store)
    key = (toot.platform, toot.native_id)
    with write_tx(store) as conn:
        write_batch(conn, Batch(gone=[key]), rules)
        write_batch(conn, Batch(deletions=[key]), rules)
        write_batch(conn, Batch(mentions=[toot]), rules)
    [m] = rows(store, "SELECT deleted_at, deleted_reason, text FROM mention")
    assert m.deleted_at is not None and m.deleted_reason == "deleted" and m.text is None
