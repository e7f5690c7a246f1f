"""A small, realistic store for export tests: two platforms, an opted-out author, a deleted
post, a term-only post by a Mastodon account that did not opt in to search, amplification
edges and an event."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from domain.records import Batch, EdgeRecord
from domain.settings.config import EventSettings
from storage.catalog import movement_ids, upsert_event
from storage.engine import write_tx
from storage.write import write_batch
from tests.factories import T0, account, mention, movement

SECRET_TEXT = "I would rather this stayed private #NHSCitizen"
DELETED_TEXT = "Regrettable post, deleted later #NHSCitizen"
TERM_ONLY_TEXT = "Thinking about NHS Citizen tonight"


@dataclass
class Seeded:
    visible: list[str]  # native ids expected in exports
    opted_out: str
    deleted: str
    term_only: str
    opted_out_handle: str


def seed(store: Engine) -> Seeded:
    rules = movement(store)
    alice = account(1, indexable=True, handle="alice@example.social")
    bob = account(2, platform="bluesky", handle="bob.bsky.social")
    carol = account(3, noindex=True, handle="carol-optout@example.social")
    dave = account(4, indexable=False, handle="dave@example.social")
    posts = [
        mention(
            1,
            author=alice,
            text="Pledged today #NHSCitizen call me on 07700 900123",
            hashtags=["NHSCitizen"],
            links=["https://www.nhscitizen.org.uk/pledge"],
            url="https://example.social/@alice/1",
        ),
        mention(
            2,
            platform="bluesky",
            author=bob,
            created_at=T0 + timedelta(hours=2),
            hashtags=["NHSCitizen"],
        ),
        mention(
            3,
            author=alice,
            created_at=T0 + timedelta(days=1),
            hashtags=["NHSCitizen"],
            reply_to=("bluesky", "at://did:plc:user/app.bsky.feed.post/2"),
        ),
        mention(4, author=carol, text=SECRET_TEXT, hashtags=["NHSCitizen"]),
        mention(
            5,
            platform="bluesky",
            author=bob,
            text=DELETED_TEXT,
            hashtags=["NHSCitizen"],
            created_at=T0 + timedelta(hours=3),
        ),
        mention(6, author=dave, text=TERM_ONLY_TEXT, created_at=T0 + timedelta(hours=5)),
    ]
    edges = [
        EdgeRecord(
            "boost", "mastodon", alice, ("bluesky", posts[1].native_id), T0 + timedelta(hours=3)
        ),
        EdgeRecord(
            "repost", "bluesky", bob, ("mastodon", posts[0].native_id), T0 + timedelta(hours=4)
        ),
        EdgeRecord(
            "reply",
            "mastodon",
            alice,
            ("bluesky", posts[1].native_id),
            T0 + timedelta(days=1),
            via=("mastodon", posts[2].native_id),
        ),
        # An opted-out account amplifying, and someone amplifying an opted-out post.
        EdgeRecord(
            "boost", "mastodon", carol, ("mastodon", posts[0].native_id), T0 + timedelta(hours=6)
        ),
        EdgeRecord(
            "boost", "mastodon", alice, ("mastodon", posts[3].native_id), T0 + timedelta(hours=6)
        ),
    ]
    with write_tx(store) as conn:
        write_batch(conn, Batch(mentions=posts, edges=edges), rules)
    with write_tx(store) as conn:
        write_batch(conn, Batch(deletions=[("bluesky", posts[4].native_id)]), rules)
        ids = movement_ids(conn)
        upsert_event(
            conn,
            EventSettings(
                slug="assembly",
                name="Citizen Assembly",
                movement="nhscitizen",
                starts=T0,
                ends=T0 + timedelta(hours=12),
                timezone="Europe/London",
            ),
            ids,
        )
    return Seeded(
        visible=[posts[0].native_id, posts[1].native_id, posts[2].native_id],
        opted_out=posts[3].native_id,
        deleted=posts[4].native_id,
        term_only=posts[5].native_id,
        opted_out_handle="carol-optout@example.social",
    )


@pytest.fixture
def seeded(store: Engine) -> Seeded:
    return seed(store)
