"""A Bluesky profile's website and description name the person's other places
(`domain.people.bluesky_profile_claims`; docs/people.md, "Evidence").

Payloads are real: a Jetstream `app.bsky.actor.profile` update recorded from a live server
(bluesky-social/jetstream's golden corpus), and records and views built to atproto's own
lexicons (MarshalX/atproto's `app.bsky.actor.profile` and `app.bsky.actor.defs`), checked
against them. Bluesky verifies none of these links, so each is a one-way claim: a suggestion
for a moderator, never a merge, unless the other side links back.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from collectors.bluesky.parse import parse_author, parse_jetstream_event
from domain.people import CLAIM, PROFILE_LINK, bluesky_profile_claims, page_claims
from domain.records import AccountRecord, Batch
from storage.engine import write_tx
from storage.models import Account
from storage.people_links import link_accounts, store_page_claims, suggestions
from storage.write import write_batch
from tests.factories import T0, movement
from tests.recordings import recorded

A = Account.__table__
DESCRIPTION = "Nurse, Leeds. I write at nurse.example.org · also @nurse@example.social"


def _recorded_profile_update() -> dict:
    golden = recorded("bluesky-social/jetstream", "internal/subscribe/testdata/golden_v1.jsonl")
    (event,) = [
        e
        for e in map(json.loads, golden.decode().splitlines())
        if e.get("commit", {}).get("collection") == "app.bsky.actor.profile"
    ]
    return event


def _lexicon(nsid: str) -> dict:
    return json.loads(recorded("MarshalX/atproto", f"lexicons/{nsid}.json"))


def _fits_profile_lexicon(record: dict) -> None:
    props = _lexicon("app.bsky.actor.profile")["defs"]["main"]["record"]["properties"]
    assert set(record) - {"$type"} <= set(props)
    assert len(record["description"]) <= props["description"]["maxLength"]
    assert props["website"]["format"] == "uri"


def test_the_recorded_profile_update_names_nobody_elsewhere_and_claims_nothing():
    event = _recorded_profile_update()
    item = parse_jetstream_event(event)
    assert item is not None and item.handle is not None
    assert item.handle.native_id == event["did"]
    assert item.handle.claims == []  # its description names no site: it claims nothing now
    assert item.handle.display_name == "Multiversal Lokis Unit🔞"


def test_a_profile_update_whose_description_names_a_site_and_a_mastodon_account_claims_both():
    event = _recorded_profile_update()
    record = dict(event["commit"]["record"], description=DESCRIPTION)
    record["website"] = "https://nurse.example.org/"
    _fits_profile_lexicon(record)
    event = {**event, "commit": {**event["commit"], "record": record}}
    item = parse_jetstream_event(event)
    assert item is not None and item.handle is not None
    assert [(c.key, c.kind, c.strength) for c in item.handle.claims or []] == [
        ("site:nurse.example.org", PROFILE_LINK, CLAIM),
        ("mastodon:nurse@example.social", PROFILE_LINK, CLAIM),
    ]


def test_a_detailed_profile_view_claims_its_links_and_a_posts_basic_view_claims_nothing():
    defs = _lexicon("app.bsky.actor.defs")["defs"]
    detailed = {
        "did": "did:plc:ewvi7nxzyoun6zhxrhs64oiz",
        "handle": "nurse.bsky.social",
        "description": "Blog: https://nurse.example.org/about. Not me: https://github.com/x",
        "website": "https://bsky.app/profile/nurse.example.org",
    }
    assert set(detailed) <= set(defs["profileViewDetailed"]["properties"])
    claims = parse_author(detailed).claims
    assert [c.key for c in claims or []] == ["bluesky:nurse.example.org", "site:nurse.example.org"]
    basic = {"did": "did:plc:ewvi7nxzyoun6zhxrhs64oiz", "handle": "nurse.bsky.social"}
    assert set(basic) <= set(defs["profileViewBasic"]["properties"])
    assert parse_author(basic).claims is None  # unknown: what it claimed before is kept


@pytest.mark.parametrize(
    "text",
    [
        "mail me at nurse@example.org",  # an email address names no site
        "see http://127.0.0.1/ or http://intranet.local/",  # private: never a claim
        "a deeper page https://example.org/2024/a-post",  # a post, not the site
    ],
)
def test_text_that_names_no_one_gives_no_claims(text):
    assert bluesky_profile_claims({"description": text}) == []


def test_hostile_profiles_give_no_claims():
    assert bluesky_profile_claims("nope") is None
    assert bluesky_profile_claims({"description": 7, "website": ["x"]}) == []
    many = " ".join(f"site{i}.example.org" for i in range(100))
    assert len(bluesky_profile_claims({"description": many}) or []) == 16


def test_a_description_naming_a_blog_is_a_suggestion_until_the_blogs_page_links_back(store):
    rules = movement(store)
    did = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
    bsky = parse_author({"did": did, "handle": "nurse.bsky.social", "description": DESCRIPTION})
    blog = AccountRecord(platform="blog", native_id="nurse.example.org")
    with write_tx(store) as conn:
        write_batch(conn, Batch(accounts=[bsky, blog]), rules, now=T0)

    def persons() -> dict[str, int]:
        with store.connect() as conn:
            return {n: int(p) for n, p in conn.execute(select(A.c.native_id, A.c.person_id))}

    assert persons()[did] != persons()["nurse.example.org"]
    with store.connect() as conn:
        (s,) = suggestions(conn)
    assert s["kind"] == PROFILE_LINK
    # The blog's home page links the Bluesky profile back with rel=me: both sides say so.
    later = T0 + timedelta(hours=1)
    with write_tx(store) as conn:
        store_page_claims(
            conn, blog.id, page_claims(["https://bsky.app/profile/nurse.bsky.social"]), later
        )
        link_accounts(conn, [blog.id], later)
    assert persons()[did] == persons()["nurse.example.org"]
