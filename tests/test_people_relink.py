"""Incremental re-linking when what an account proves changes (storage/write.py,
`storage.people_links.renamed_accounts`; docs/people.md, "When linking runs").

- A Bluesky handle change arrives as a Jetstream `identity` event (the shape of the recorded
  real stream in bluesky-social/jetstream's corpus, `Identity.handle` set as event.go defines
  it): taking a site's domain as handle adds the domain-handle evidence at once, giving it up
  withdraws it, and an identity event that carries no handle changes nothing.
- The same when the new handle is seen only on a post's author (a search result, a reposter):
  the write that stores the post links the account again.
- A Mastodon account whose profile fields changed is linked again in the same write: a
  verified field that now names another site moves the account to that site's person.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from collectors.bluesky.parse import parse_jetstream_event
from domain.people import mastodon_field_claims
from domain.records import AccountRecord, Batch, EdgeRecord
from storage.engine import write_tx
from storage.models import Account
from storage.people_links import counts_by_kind
from storage.write import write_batch
from tests.bluesky_support import Env, bluesky_env, jetstream_env
from tests.factories import T0, mention, movement
from tests.recordings import recorded

A = Account.__table__


def _recorded_identity() -> dict:
    """The one identity event of Jetstream's recorded v1 corpus (it carries no handle)."""
    path = "internal/corpus/testdata/expected_v1.jsonl"
    corpus = recorded("bluesky-social/jetstream", path).decode()
    events = [json.loads(line) for line in corpus.splitlines() if '"kind":"identity"' in line]
    (event,) = events
    return event


def _identity(handle: str | None, n: int = 0) -> dict:
    event = _recorded_identity()
    event = {**event, "time_us": event["time_us"] + n, "identity": dict(event["identity"])}
    if handle is not None:
        event["identity"]["handle"] = handle
    return event


def _write(store: Engine, rules, *accounts: AccountRecord, minutes: int = 0) -> None:
    with write_tx(store) as conn:
        write_batch(
            conn, Batch(accounts=list(accounts)), rules, now=T0 + timedelta(minutes=minutes)
        )


def _stream(store: Engine, rules, event: dict, minutes: int) -> None:
    item = parse_jetstream_event(event)
    assert item is not None
    _write(store, rules, *([item.handle] if item.handle else []), minutes=minutes)


def _person(store: Engine, platform: str, native_id: str) -> int:
    with store.connect() as conn:
        return int(
            conn.execute(
                select(A.c.person_id).where(A.c.platform == platform, A.c.native_id == native_id)
            ).scalar_one()
        )


@pytest.fixture
def rules(store):
    return movement(store)


def test_a_handle_change_on_the_stream_adds_and_withdraws_domain_handle_evidence(store, rules):
    did = _recorded_identity()["did"]
    blog = AccountRecord(platform="blog", native_id="charity.example.org")
    bsky = AccountRecord(platform="bluesky", native_id=did, handle="charity.bsky.social")
    _write(store, rules, blog, bsky)
    assert _person(store, "bluesky", did) != _person(store, "blog", "charity.example.org")

    _stream(store, rules, _identity("charity.example.org", 1), minutes=1)
    assert _person(store, "bluesky", did) == _person(store, "blog", "charity.example.org")
    with store.connect() as conn:
        assert counts_by_kind(conn) == {"bluesky_domain_handle": 1}

    _stream(store, rules, _identity(None, 2), minutes=2)  # as recorded: no handle in it
    assert _person(store, "bluesky", did) == _person(store, "blog", "charity.example.org")

    _stream(store, rules, _identity("charity-archive.bsky.social", 3), minutes=3)
    assert _person(store, "bluesky", did) != _person(store, "blog", "charity.example.org")
    with store.connect() as conn:
        assert counts_by_kind(conn) == {}


def test_a_new_handle_seen_only_on_a_posts_author_adds_and_withdraws_domain_evidence(store, rules):
    did = "did:plc:charity"
    blog = AccountRecord(platform="blog", native_id="charity.example.org")
    _write(store, rules, blog, AccountRecord("bluesky", did, handle="charity.bsky.social"))

    def post(n: int, handle: str) -> None:  # a search hit: the author as its view names it
        author = AccountRecord(platform="bluesky", native_id=did, handle=handle)
        hit = mention(n, platform="bluesky", author=author, hashtags=["NHSCitizen"])
        with write_tx(store) as conn:
            write_batch(conn, Batch(mentions=[hit]), rules, now=T0 + timedelta(minutes=n))

    post(1, "Charity.Example.org")
    assert _person(store, "bluesky", did) == _person(store, "blog", "charity.example.org")
    with store.connect() as conn:
        assert counts_by_kind(conn) == {"bluesky_domain_handle": 1}

    post(2, "charity.example.org")  # the same handle again: nothing changes
    post(3, "charity-archive.bsky.social")
    assert _person(store, "bluesky", did) != _person(store, "blog", "charity.example.org")
    with store.connect() as conn:
        assert counts_by_kind(conn) == {}


def test_a_reposter_seen_under_a_domain_handle_joins_its_blog(store, rules):
    did = "did:plc:nurse"
    blog = AccountRecord(platform="blog", native_id="nurse.example.org")
    _write(store, rules, blog, AccountRecord("bluesky", did, handle="nurse.bsky.social"))
    toot = mention(1, platform="bluesky", hashtags=["NHSCitizen"])
    reposter = AccountRecord(platform="bluesky", native_id=did, handle="nurse.example.org")
    edge = EdgeRecord("repost", "bluesky", reposter, ("bluesky", toot.native_id), T0)
    with write_tx(store) as conn:  # getRepostedBy's profileView, an hour later
        write_batch(conn, Batch(mentions=[toot], edges=[edge]), rules, now=T0 + timedelta(hours=1))
    assert _person(store, "bluesky", did) == _person(store, "blog", "nurse.example.org")


def test_a_mastodon_account_whose_verified_field_names_another_site_moves_to_it(store, rules):
    def masto(site: str) -> AccountRecord:
        fields = [  # an Account's `fields` as Mastodon's API returns them
            {
                "name": "Website",
                "value": f'<a href="https://{site}/" rel="nofollow noopener me" '
                f'target="_blank"><span class="invisible">https://</span>{site}</a>',
                "verified_at": "2026-11-01T10:00:00.000Z",
            }
        ]
        return AccountRecord(
            platform="mastodon",
            native_id="nurse@example.social",
            claims=mastodon_field_claims(fields),
        )

    old = AccountRecord(platform="blog", native_id="old-blog.example.org")
    new = AccountRecord(platform="blog", native_id="new-blog.example.org")
    _write(store, rules, old, new, masto("old-blog.example.org"))
    nurse = ("mastodon", "nurse@example.social")
    assert _person(store, *nurse) == _person(store, "blog", "old-blog.example.org")
    _write(store, rules, masto("new-blog.example.org"), minutes=5)
    assert _person(store, *nurse) == _person(store, "blog", "new-blog.example.org")
    assert _person(store, *nurse) != _person(store, "blog", "old-blog.example.org")


ALICE = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"


@pytest.fixture
def bsky(store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    with jetstream_env(store, tmp_path, monkeypatch) as env:
        yield env


def test_the_jetstream_collector_links_a_known_account_that_takes_a_blogs_domain(
    bsky: Env, store: Engine
) -> None:
    import time

    bsky.run()
    base = int(time.time() * 1_000_000)
    _store_alices_blog_and_bluesky_account(store)
    assert _person(store, "bluesky", ALICE) != _person(store, "blog", "alice.nhs.example")
    event = _identity("alice.nhs.example", 0)
    event["did"] = event["identity"]["did"] = ALICE
    event["time_us"] = base + 1
    bsky.server.publish(event)
    bsky.run()
    assert bsky.account(ALICE).handle == "alice.nhs.example"
    assert _person(store, "bluesky", ALICE) == _person(store, "blog", "alice.nhs.example")


def _store_alices_blog_and_bluesky_account(store: Engine) -> None:
    """Alice's blog and her Bluesky account under a handle that proves nothing yet: two
    people until something links them."""
    with write_tx(store) as conn:
        write_batch(
            conn,
            Batch(
                accounts=[
                    AccountRecord(platform="blog", native_id="alice.nhs.example"),
                    AccountRecord(platform="bluesky", native_id=ALICE, handle="alice.bsky.social"),
                ]
            ),
            [],
            now=T0,
        )


@pytest.fixture
def search(store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    with bluesky_env(store, tmp_path, monkeypatch) as env:  # searchPosts by #NHSCitizen
        yield env


def test_the_search_collector_links_a_known_account_whose_posts_show_a_blogs_domain(
    search: Env, store: Engine
) -> None:
    from tests.bluesky_support import now
    from tests.servers.bluesky_server import profile

    _store_alices_blog_and_bluesky_account(store)
    # The handle changed where the collector never looks (no identity event): the AppView's
    # search results name the author by the new handle.
    search.server.add_post(
        profile(ALICE, "alice.nhs.example"), "Off to the assembly #NHSCitizen", now()
    )
    search.run()
    assert search.account(ALICE).handle == "alice.nhs.example"
    assert _person(store, "bluesky", ALICE) == _person(store, "blog", "alice.nhs.example")
