"""Recheck turns deletions into tombstones (and stores new opt-outs); purge removes raw
payloads past the retention horizon, also from `collect --loop`'s housekeeping thread."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update

from groundswell.export.lookup import Lookups
from groundswell.export.recheck import recheck
from groundswell.export.retention import purge, start_retention_thread
from groundswell.net import FetchPolicy
from storage.engine import write_tx
from storage.models import Mention, MentionPayload
from storage.queries.ethics import mention_displayable
from storage.records import Batch
from storage.write import write_batch
from tests.factories import account, movement
from tests.servers.lookup_server import LookupServer

NOW = datetime.now(UTC).replace(microsecond=0)


def _mention(native_id: str, platform: str, author, when=None):
    from storage.records import MentionRecord

    return MentionRecord(
        platform=platform,
        native_id=native_id,
        created_at=when or NOW - timedelta(days=1),
        author=author,
        text="Pledged #NHSCitizen",
        hashtags=["NHSCitizen"],
        raw={"id": native_id},
    )


def _deleted(store) -> set[str]:
    m = Mention.__table__
    with store.connect() as conn:
        return {
            r[0] for r in conn.execute(select(m.c.native_id).where(m.c.deleted_at.is_not(None)))
        }


def test_recheck_tombstones_deleted_posts_and_leaves_errors_alone(store):
    rules = movement(store)
    with LookupServer() as server:
        alive = server.add_status("1", "alice", "Pledged")
        deleted = server.status_uri("2", "alice")
        failing = server.status_uri("3", "alice")
        server.failing.add("3")
        b_alive = server.add_post("3kalive", "bob.bsky.social", "hi")
        b_deleted = "at://did:plc:abc123/app.bsky.feed.post/3kgone"
        old_deleted = server.status_uri("4", "alice")  # outside the recheck window
        alice = account(1)
        bob = account(2, platform="bluesky")
        posts = [
            _mention(alive, "mastodon", alice),
            _mention(deleted, "mastodon", alice),
            _mention(failing, "mastodon", alice),
            _mention(b_alive, "bluesky", bob),
            _mention(b_deleted, "bluesky", bob),
            _mention(old_deleted, "mastodon", alice, when=NOW - timedelta(days=30)),
        ]
        with write_tx(store) as conn:
            write_batch(conn, Batch(mentions=posts), rules)
        lookups = Lookups(policy=FetchPolicy(allow_loopback=True), bluesky_base_url=server.url)
        report = recheck(store, lookups, since=NOW - timedelta(days=7), page_size=2)
    assert _deleted(store) == {deleted, b_deleted}
    assert (report.checked, report.tombstoned, report.errors) == (5, 2, 1)
    with store.connect() as conn:
        payloads = conn.execute(select(func.count()).select_from(MentionPayload.__table__))
        assert payloads.scalar() == 4  # the tombstones' payloads are gone


def test_recheck_stores_an_opt_out_seen_since_so_exports_withhold_the_author(store):
    rules = movement(store)
    with LookupServer() as server:
        uri = server.add_status("9", "carol", "Now private", noindex=True)
        with write_tx(store) as conn:
            from storage.records import Batch

            write_batch(conn, Batch(mentions=[_mention(uri, "mastodon", account(3))]), rules)
        lookups = Lookups(policy=FetchPolicy(allow_loopback=True), bluesky_base_url=server.url)
        report = recheck(store, lookups, since=NOW - timedelta(days=7))
    assert report.opted_out == 1
    m = Mention.__table__
    from storage.models import Account

    a = Account.__table__
    with store.connect() as conn:
        shown = conn.execute(
            select(func.count())
            .select_from(m.outerjoin(a, a.c.id == m.c.account_id))
            .where(mention_displayable(m, a))
        ).scalar()
    assert shown == 0


def _payload_store(store):
    from storage.records import Batch

    rules = movement(store)
    posts = [
        _mention(f"https://x.example/users/a/statuses/{i}", "mastodon", account(1))
        for i in range(4)
    ]
    with write_tx(store) as conn:
        write_batch(conn, Batch(mentions=posts), rules, now=NOW)
        p = MentionPayload.__table__
        old = [posts[0].id, posts[1].id]
        conn.execute(
            update(p).where(p.c.mention_id.in_(old)).values(fetched_at=NOW - timedelta(days=40))
        )
    return posts


def _payload_count(store) -> int:
    with store.connect() as conn:
        return conn.execute(select(func.count()).select_from(MentionPayload.__table__)).scalar()


def test_purge_removes_payloads_past_the_horizon_and_keeps_the_mentions(store):
    _payload_store(store)
    assert purge(store, days=30, now=NOW, batch=1) == 2
    assert _payload_count(store) == 2
    with store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Mention.__table__)).scalar() == 4
    assert purge(store, days=30, now=NOW) == 0


def test_the_collect_loop_housekeeping_thread_purges(store):
    _payload_store(store)
    stop = threading.Event()
    thread = start_retention_thread(store, 30, stop, every_s=3600)
    assert thread is not None
    for _ in range(200):
        if _payload_count(store) == 2:
            break
        stop.wait(0.05)
    stop.set()
    thread.join(timeout=10)
    assert _payload_count(store) == 2
    assert start_retention_thread(store, None, stop) is None


def test_the_purge_command_needs_a_horizon(sqlite_store, tmp_path):
    from typer.testing import CliRunner

    from groundswell.cli import app

    url = str(sqlite_store.url)
    res = CliRunner().invoke(app, ["purge", "--db", url], env={"GROUNDSWELL_CONFIG": ""})
    assert res.exit_code == 2 and "retention_days" in res.output
    _payload_store(sqlite_store)
    res = CliRunner().invoke(app, ["purge", "--db", url, "--days", "30"])
    assert res.exit_code == 0, res.output
    assert "purged 2 raw payloads" in res.output


def test_recheck_visits_blog_entries_by_their_page_url_and_tombstones_removed_ones(store):
    from storage.records import MentionRecord
    from tests.servers.blog_server import BlogServer

    rules = movement(store)
    with BlogServer() as blog:
        post = blog.add_post("pledge", "Why I pledged", "<p>#NHSCitizen</p>")
        kept = MentionRecord(
            platform="blog",
            native_id=f"{blog.host},2026:post-1",  # a feed guid, not a URL
            url=blog.post_url(post),
            created_at=NOW - timedelta(days=1),
            author=account(5, platform="blog"),
            text="Why I pledged #NHSCitizen",
            hashtags=["NHSCitizen"],
        )
        removed = MentionRecord(
            platform="blog",
            native_id=f"{blog.host},2026:post-2",
            url=blog.url + "/gone",
            created_at=NOW - timedelta(days=1),
            author=account(5, platform="blog"),
            text="Second thoughts #NHSCitizen",
            hashtags=["NHSCitizen"],
        )
        with write_tx(store) as conn:
            write_batch(conn, Batch(mentions=[kept, removed]), rules)
        lookups = Lookups(policy=FetchPolicy(allow_loopback=True))
        report = recheck(store, lookups, since=NOW - timedelta(days=7))
    assert _deleted(store) == {removed.native_id}
    assert (report.checked, report.tombstoned, report.errors) == (2, 1, 0)
