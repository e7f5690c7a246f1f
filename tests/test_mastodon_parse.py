"""Mastodon status JSON -> records, on recorded payloads (tests/payloads/mastodon/)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from collectors.mastodon.parse import (
    MalformedStatus,
    absolute_acct,
    boost_edges,
    parse_account,
    parse_status,
    reply_edge,
)

PAYLOADS = Path(__file__).parent / "payloads" / "mastodon"


def load(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text(encoding="utf-8"))


def test_a_status_is_keyed_by_its_uri_not_its_local_id():
    p = parse_status(load("status_tagged.json"), "alpha.test")
    assert p.mention.native_id == "https://alpha.test/users/ann/statuses/117546028892160001"
    assert p.local_id == "117546028892160001"
    assert p.mention.platform == "mastodon"


def test_a_local_account_is_made_absolute_with_the_instance_domain():
    p = parse_status(load("status_tagged.json"), "alpha.test")
    assert p.mention.author is not None
    assert p.mention.author.native_id == "ann@alpha.test"
    assert p.mention.author.instance == "alpha.test"
    assert absolute_acct("Bob@Beta.TEST", "alpha.test") == "Bob@beta.test"


def test_content_is_stored_as_plain_text_and_sanitised_html():
    m = parse_status(load("status_tagged.json"), "alpha.test").mention
    assert m.text is not None and m.text.startswith("Signed the pledge! Read why:")
    assert "#NHSCitizen" in m.text
    assert m.html is not None and 'target="_blank"' not in m.html
    assert 'rel="nofollow noopener noreferrer ugc"' in m.html


def test_tags_links_and_card_are_collected_but_mentions_and_hashtag_links_are_not():
    m = parse_status(load("status_tagged.json"), "alpha.test").mention
    assert m.hashtags == ["nhscitizen", "changeday"]
    assert m.links == [
        "https://www.nhscitizen.org.uk/pledge?utm_source=masto",
        "https://www.nhscitizen.org.uk/pledge",
    ]


def test_content_warning_sensitive_media_counts_and_edit_time_are_kept():
    m = parse_status(load("status_tagged.json"), "alpha.test").mention
    assert m.spoiler_text == "NHS politics"
    assert m.sensitive is True
    assert m.media == [
        {
            "type": "image",
            "url": "https://files.alpha.test/media/original/pledge.jpg",
            "preview_url": "https://files.alpha.test/media/small/pledge.jpg",
            "description": "A handwritten pledge card",
        }
    ]
    assert (m.like_count, m.repost_count, m.reply_count, m.quote_count) == (7, 3, 2, 1)
    assert m.edited_at == datetime(2026, 11, 2, 9, 15, 2, tzinfo=UTC)
    assert m.created_at.tzinfo is not None
    assert m.lang == "en"
    assert m.seen_on == "alpha.test"
    assert m.raw is not None and m.raw["id"] == "117546028892160001"


def test_opt_out_flags_are_stored_and_missing_means_unknown():
    a = parse_status(load("status_hostile.json"), "alpha.test").mention.author
    assert a is not None
    assert (a.noindex, a.discoverable, a.indexable) == (True, False, None)
    b = parse_status(load("status_tagged.json"), "alpha.test").mention.author
    assert b is not None
    assert (b.noindex, b.discoverable, b.indexable) == (False, True, True)


def test_script_and_event_handlers_never_survive_and_display_names_lose_bidi_tricks():
    m = parse_status(load("status_hostile.json"), "alpha.test").mention
    assert m.html is not None
    for bad in ("<script", "onerror", "onclick", "javascript:", "<img"):
        assert bad not in m.html.lower()
    assert m.author is not None and m.author.display_name is not None
    assert "\u202e" not in m.author.display_name and "\u200b" not in m.author.display_name


def test_a_boost_makes_the_original_the_mention_and_the_booster_an_amplifier():
    p = parse_status(load("status_boost.json"), "alpha.test")
    assert p.mention.native_id == "https://alpha.test/users/ann/statuses/117546028892160001"
    assert p.local_id == "117546048552960006"  # the boost's own id: the paging cursor
    assert p.mention_local_id == "117546028892160001"
    [edge] = p.edges
    assert edge.kind == "boost"
    assert edge.source.native_id == "dan@alpha.test"
    assert edge.target == ("mastodon", p.mention.native_id)
    assert edge.target_account is not None and edge.target_account.native_id == "ann@alpha.test"


def test_a_reply_names_its_parent_by_local_id_until_resolved():
    reply = load("status_reply.json")
    p = parse_status(reply, "alpha.test")
    assert p.reply_to_local_id == "117546028892160001"
    edge = reply_edge(p.mention, load("status_tagged.json"), "alpha.test")
    assert edge.kind == "reply"
    assert edge.source.native_id == "bob@beta.test"
    assert edge.target == ("mastodon", "https://alpha.test/users/ann/statuses/117546028892160001")
    assert edge.via == ("mastodon", p.mention.native_id)
    assert p.mention.reply_to == edge.target


def test_an_accepted_quote_becomes_a_quote_edge_with_the_quoted_uri():
    p = parse_status(load("status_quote.json"), "alpha.test")
    [edge] = p.edges
    assert edge.kind == "quote"
    assert edge.source.native_id == "cara@alpha.test"
    assert edge.target == ("mastodon", "https://alpha.test/users/ann/statuses/117546028892160001")
    assert p.mention.quote_of == edge.target


def test_a_shallow_quote_asks_for_its_quoted_status_to_be_resolved():
    p = parse_status(load("status_shallow_quote.json"), "alpha.test")
    assert p.edges == []
    assert p.quote_local_id == "117546028892160001"


def test_a_pending_quote_is_not_an_amplification():
    p = parse_status(load("status_quote_pending.json"), "alpha.test")
    assert p.edges == [] and p.quote_local_id is None and p.mention.quote_of is None


@pytest.mark.parametrize(
    ("index", "reason"),
    [
        (0, "missing_uri"),
        (1, "bad_date"),
        (2, "missing_account"),
        (3, "bad_content"),
        (4, "missing_uri"),
        (5, "missing_account"),
        (6, "not_an_object"),
    ],
)
def test_a_malformed_status_is_rejected_with_a_reason(index: int, reason: str):
    with pytest.raises(MalformedStatus) as info:
        parse_status(load("page_with_malformed.json")[index], "alpha.test")
    assert info.value.reason == reason


def test_the_good_status_on_a_page_of_bad_ones_still_parses():
    good = load("page_with_malformed.json")[-1]
    assert parse_status(good, "alpha.test").mention.native_id.endswith("/117546064281600010")


def test_boosters_from_reblogged_by_become_boost_edges_and_bad_accounts_are_counted():
    m = parse_status(load("status_tagged.json"), "alpha.test").mention
    boosters = [load("status_boost.json")["account"], {"acct": ""}, "junk"]
    edges, bad = boost_edges(m, boosters, "alpha.test", seen_at=datetime(2026, 11, 3, tzinfo=UTC))
    assert [e.source.native_id for e in edges] == ["dan@alpha.test"]
    assert bad == 2
    assert edges[0].created_at == datetime(2026, 11, 3, tzinfo=UTC)


def test_an_account_url_that_is_not_http_is_dropped():
    acc = dict(load("status_tagged.json")["account"], url="javascript:alert(1)", avatar="data:x")
    a = parse_account(acc, "alpha.test")
    assert a.url is None
    assert a.avatar_url == "https://alpha.test/system/accounts/avatars/ann.png"
