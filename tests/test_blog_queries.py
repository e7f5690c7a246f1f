"""Finding the mentions a blog links to: blog-like rows by URL (partial index), Mastodon and
Bluesky posts by the native id their page URL encodes. Both stores."""

from __future__ import annotations

from domain.records import AccountRecord, MentionRecord
from storage.engine import write_tx
from storage.queries.blogs import mentions_by_url
from storage.write import write_batch
from tests.factories import T0, batch, mention, movement


def _store_posts(store):
    rules = movement(store)
    toot = mention(1)  # native id https://example.social/users/u/statuses/1
    skeet = MentionRecord(
        platform="bluesky",
        native_id="at://did:plc:abc123/app.bsky.feed.post/3kxyz",
        created_at=T0,
        author=AccountRecord("bluesky", "did:plc:abc123", handle="ruth.bsky.social"),
        url="https://bsky.app/profile/did:plc:abc123/post/3kxyz",
        text="#NHSCitizen",
    )
    entry = MentionRecord(
        platform="blog",
        native_id="https://blog.example/?p=7",
        created_at=T0,
        author=AccountRecord("blog", "blog.example"),
        url="https://blog.example/2026/11/notes/",
        text="#NHSCitizen",
    )
    with write_tx(store) as conn:
        write_batch(conn, batch(toot, skeet, entry), rules)


def test_links_find_blog_entries_toots_and_bluesky_posts(store):
    _store_posts(store)
    links = [
        "https://blog.example/2026/11/notes?utm_source=rss",
        "https://example.social/@u/1",
        "https://bsky.app/profile/Ruth.bsky.social/post/3kxyz",
        "https://bsky.app/profile/did:plc:abc123/post/3kxyz/",
        "https://nowhere.example/",
    ]
    with store.connect() as conn:
        found = mentions_by_url(conn, links)
    assert {k: (v.platform, v.native_id) for k, v in found.items()} == {
        "https://blog.example/2026/11/notes": ("blog", "https://blog.example/?p=7"),
        "https://example.social/@u/1": ("mastodon", "https://example.social/users/u/statuses/1"),
        "https://bsky.app/profile/Ruth.bsky.social/post/3kxyz": (
            "bluesky",
            "at://did:plc:abc123/app.bsky.feed.post/3kxyz",
        ),
        "https://bsky.app/profile/did:plc:abc123/post/3kxyz": (
            "bluesky",
            "at://did:plc:abc123/app.bsky.feed.post/3kxyz",
        ),
    }
    assert found["https://example.social/@u/1"].account is not None


def test_a_pair_received_twice_is_one_queue_row_back_to_pending(store):
    from datetime import timedelta

    from storage.queries.blogs import enqueue, finish, get_ping

    with write_tx(store) as conn:
        first = enqueue(conn, "webmention", "https://a.example/1", "https://b.example/", T0)
        assert first is not None
        finish(conn, first.id, T0, status="verified", result="verified")
    later = T0 + timedelta(hours=1)
    with write_tx(store) as conn:
        again = enqueue(conn, "webmention", "https://a.example/1", "https://b.example/", later)
        assert again is not None
        row = get_ping(conn, again.id)
    assert (first.id, first.new) == (again.id, True) and not again.new and again.resent
    assert again.token == first.token
    assert row is not None and row["status"] == "pending" and row["verified_at"] == T0
