"""One page, one identity (issue 16 item 1): every id, key, lookup and edge of blog entries,
pingbacks and webmentions uses the canonical URL, and migration 0029's merge brings a store
written before that to the state a canonical writer would have produced. Both stores."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import Engine, text

import domain.records
import storage.write
from collectors.blogs.pingbacks import ping_edge, ping_mention
from collectors.blogs.receiver import create_app
from domain.records import AccountRecord, Batch, EdgeRecord, MentionRecord
from storage.catalog import load_rules, upsert_movement
from storage.engine import write_tx
from storage.recount import _TABLES
from storage.url_merge import merge_url_duplicates
from storage.write import write_batch
from tests.blog_helpers import NHS, count, serve, wait_for
from tests.conftest import _truncate
from tests.factories import T0
from tests.servers.blog_server import BlogServer
from tests.test_blog_receiver import receiver_settings

PLEDGE = "https://www.nhscitizen.org.uk/pledge"
# one page, written five ways (issue 16)
SPELLINGS = [
    PLEDGE + "#sign",
    PLEDGE + "?utm_source=newsletter&utm_medium=email",
    PLEDGE + "/",
    "HTTPS://WWW.NHSCITIZEN.ORG.UK/pledge",
    PLEDGE,
]


def test_five_spellings_of_a_webmention_target_give_one_mention_and_one_edge(store):
    with write_tx(store) as conn:
        upsert_movement(conn, NHS)
    with BlogServer("Patient Voices") as blog:
        blog.add_post("pledged", "Why I pledged", f'<p><a href="{PLEDGE}">pledge</a></p>')
        source = blog.post_url(blog.posts[0])
        with serve(create_app(store, receiver_settings(reverify_interval_s=0))) as receiver:
            for target in SPELLINGS:
                res = httpx.post(
                    receiver + "/webmention", data={"source": source, "target": target}
                )
                assert res.status_code in (201, 202), res.text
            assert wait_for(
                lambda: (
                    count(
                        store,
                        "SELECT count(*) FROM received_ping "
                        "WHERE status IN ('pending', 'verifying')",
                    )
                    == 0
                )
            )
    assert count(store, "SELECT count(*) FROM mention WHERE platform = 'webmention'") == 1
    assert count(store, "SELECT count(*) FROM amplification WHERE kind = 'webmention'") == 1
    assert count(store, "SELECT count(*) FROM received_ping") == 1


# -- the merge of a store written before (migration 0029) ---------------------------------------


@contextlib.contextmanager
def written_as_before_issue_16() -> Iterator[None]:
    """The write path as it was before issue 16 (keys as written): only to produce the store
    an older Groundswell left behind, which the merge must repair."""
    patch = pytest.MonkeyPatch()
    as_written = lambda platform, native_id: native_id  # noqa: E731
    patch.setattr(domain.records, "canonical_native_id", as_written)
    patch.setattr(storage.write, "canonical_native_id", as_written)
    patch.setattr(storage.write, "canonical_url", lambda url: url)
    try:
        yield
    finally:
        patch.undo()


def _conversation(as_before: bool = False) -> list[Batch]:
    """A blog entry linking the pledge page, then the same webmention received five times with
    its target spelled five ways, a day apart, each with its webmention edge."""
    blog = AccountRecord("blog", "patient.example", handle="patient.example")
    source = "https://patient.example/2026/11/pledged/"
    entry = MentionRecord(
        platform="blog",
        native_id="https://patient.example/?p=7",
        created_at=T0,
        author=blog,
        url=source,
        title="Why I pledged",
        text="I signed the pledge #NHSCitizen",
        links=[PLEDGE],
    )
    batches = [Batch(mentions=[entry])]
    for i, target in enumerate(SPELLINGS):
        m = ping_mention(
            "webmention",
            source,
            target,
            None,
            now=T0 + timedelta(days=i + 1),
            movement="nhscitizen",
            method="received",
        )
        edge = ping_edge("webmention", m, target, {})
        assert edge is not None
        if as_before:  # as written before: the raw pair, the raw link, the raw target key
            m.native_id, m.links = f"{source} {target}", [target]
            edge = EdgeRecord(
                edge.kind,
                edge.platform,
                edge.source,
                ("blog", target),
                edge.created_at,
                via=(m.platform, m.native_id),
                target_account=edge.target_account,
            )
        batches.append(Batch(mentions=[m], edges=[edge]))
    return batches


_KEYS = {
    "mention": "id, platform, native_id, url, account_id, created_ts, deleted_at",
    "mention_match": "*",
    "mention_seen": "mention_id, seen_on",
    "mention_payload": "mention_id",
    "amplification": "*",
    "cascade_node": "*",
    "cascade_root": "*",
    "cascade_day": "*",
}


def _snapshot(engine: Engine) -> dict[str, list[tuple]]:
    out = {}
    with engine.connect() as conn:
        for table in (*_KEYS, *_TABLES):
            cols = _KEYS.get(table, "*")
            out[table] = sorted(
                tuple(str(v) for v in r) for r in conn.execute(text(f"SELECT {cols} FROM {table}"))
            )
    return out


def _write(engine: Engine, batches: list[Batch]) -> None:
    for i, b in enumerate(batches):
        with write_tx(engine) as conn:
            write_batch(conn, b, load_rules(conn), now=T0 + timedelta(days=i, hours=1))


def test_the_merge_gives_the_store_a_canonical_writer_would_have_written(store):
    with write_tx(store) as conn:
        upsert_movement(conn, NHS)
    with written_as_before_issue_16():
        _write(store, _conversation(as_before=True))
    assert count(store, "SELECT count(*) FROM mention WHERE platform = 'webmention'") == 5
    with write_tx(store) as conn:
        report = merge_url_duplicates(conn)
    assert (report.merged, report.movements) == (4, 1)
    merged = _snapshot(store)

    _truncate(store)
    with write_tx(store) as conn:
        upsert_movement(conn, NHS)
    _write(store, _conversation())
    canonical = _snapshot(store)

    assert len(merged["mention"]) == 2 and len(merged["amplification"]) == 1
    for table in canonical:
        assert merged[table] == canonical[table], table


def test_the_merge_of_a_canonical_store_changes_nothing(store):
    with write_tx(store) as conn:
        upsert_movement(conn, NHS)
    _write(store, _conversation())
    before = _snapshot(store)
    with write_tx(store) as conn:
        report = merge_url_duplicates(conn)
    assert (report.renamed, report.merged, report.edges) == (0, 0, 0)
    assert _snapshot(store) == before


def test_entry_ids_that_differ_only_by_fragment_stay_two_entries():
    """feedparser's recorded Delicious feed (kurtmckee/feedparser, BSD-2-Clause): its guid
    `http://delicious.com/url/<hash>#wearehugh` names one user's bookmark of a page; another
    user's bookmark of the same page differs by the fragment alone. The page URL rule must
    not fold two entries into one."""
    from datetime import UTC, datetime

    from collectors.blogs.feeds import parse_feed
    from tests.recordings import recorded

    feed = recorded("kurtmckee/feedparser", "tests/wellformed/namespace/rss2.0withAtomNS.xml")
    item = feed[feed.index(b"<item>") : feed.index(b"</item>") + len(b"</item>")]
    other = item.replace(b"#wearehugh</guid>", b"#someoneelse</guid>")
    assert other != item
    two = feed.replace(item, item + other)
    parsed = parse_feed(
        two,
        {"content-type": "application/rss+xml"},
        feed_url="http://feeds.delicious.com/v2/rss/wearehugh",
        fetched_at=datetime(2026, 11, 3, tzinfo=UTC),
    )
    assert [e.native_id for e in parsed.entries] == [
        "http://delicious.com/url/174603f9d836a1aafac49e28ace1c19e#wearehugh",
        "http://delicious.com/url/174603f9d836a1aafac49e28ace1c19e#someoneelse",
    ]
    # both are bookmarks of one page
    assert {e.url for e in parsed.entries} == {"http://www.kylev.com/2005/03/29/rsync-and-vfat/"}


def test_received_items_of_one_pair_spelled_two_ways_become_one_queue_row(store):
    from sqlalchemy import insert

    from domain.ids import stable_id
    from storage.models_blogs import ReceivedPing
    from storage.queries.blogs import ping_key
    from storage.url_merge import rekey_received

    table = ReceivedPing.__table__  # type: ignore[attr-defined]
    source = "https://patient.example/2026/11/pledged/"
    with write_tx(store) as conn:
        for i, target in enumerate([PLEDGE + "/", PLEDGE + "#sign"]):
            conn.execute(  # keyed as before issue 16: the pair as written
                insert(table).values(
                    key=stable_id("received", "webmention", source, target),
                    token=f"t{i}",
                    kind="webmention",
                    source=source,
                    target=target,
                    status="verified",
                    attempts=1,
                    received_at=T0 + timedelta(hours=i),
                    updated_at=T0 + timedelta(hours=i),
                )
            )
    with write_tx(store) as conn:
        assert rekey_received(conn) == 1
    [row] = [r for r in _rows(store, "SELECT key, target FROM received_ping")]
    assert (row[0], row[1]) == (ping_key("webmention", source, PLEDGE), PLEDGE + "/")


def _rows(engine: Engine, sql: str) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]
