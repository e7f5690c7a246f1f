"""Bluesky parse functions on recorded payloads (tests/payloads/bluesky/): pure, no I/O."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from collectors.bluesky.parse import (
    MalformedPost,
    match_fields,
    parse_at_uri,
    parse_facets,
    parse_jetstream_event,
    parse_post_view,
    parse_quotes,
    parse_reposted_by,
    parse_search_page,
)

PAYLOADS = Path(__file__).parent / "payloads" / "bluesky"
ALICE = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
BOB = "did:plc:z72i7hdynmk6r22z27h6tvur"
P1 = f"at://{ALICE}/app.bsky.feed.post/3l3qo2vutsw2b"


def load(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def page() -> dict[str, Any]:
    posts, skips, cursor = parse_search_page(load("search_posts_page.json"))
    return {
        "posts": {p.mention.native_id.rsplit("/", 1)[1]: p for p in posts},
        "skips": skips,
        "cursor": cursor,
    }


def test_tag_link_and_mention_facets_are_read_from_utf8_byte_offsets(page: dict) -> None:
    p = page["posts"]["3l3qo2vutsw2b"]
    assert p.mention.hashtags == ["NHSCitizen"]
    # the link facet's uri is authoritative, not the shortened visible text
    assert p.mention.links == ["https://www.nhscitizen.org.uk/pledge?utm_source=bsky"]
    assert p.mentioned_dids == [BOB]
    assert '<a href="https://www.nhscitizen.org.uk/pledge?utm_source=bsky"' in (
        p.mention.html or ""
    )
    assert ">@bob.bsky.social</a>" in (p.mention.html or "")
    assert p.mention.text is not None and p.mention.text.startswith("🏥 Привет, 世界!")


def test_facet_offsets_count_bytes_not_characters() -> None:
    text = "日本語 🇬🇧 #タグ and #NHSCitizen"
    data = text.encode()
    start = data.index(b"#NHSCitizen")
    facets = [
        {
            "index": {"byteStart": start, "byteEnd": start + 11},
            "features": [{"$type": "app.bsky.richtext.facet#mention", "did": BOB}],
        }
    ]
    parsed = parse_facets(text, facets)
    assert parsed.mentions == [(BOB, "#NHSCitizen")]
    # character offsets would have pointed somewhere else entirely
    assert text[start : start + 11] != "#NHSCitizen"


def test_facets_splitting_a_character_or_out_of_range_are_dropped_not_fatal() -> None:
    text = "🎉 #NHSCitizen"
    facets = [
        {
            "index": {"byteStart": 1, "byteEnd": 6},
            "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "a"}],
        },
        {
            "index": {"byteStart": 5, "byteEnd": 999},
            "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "b"}],
        },
        {"index": {"byteStart": "0", "byteEnd": 3}, "features": []},
        {
            "index": {"byteStart": 5, "byteEnd": 16},
            "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "NHSCitizen"}],
        },
    ]
    assert parse_facets(text, facets).hashtags == ["NHSCitizen"]


def test_record_tags_join_the_facet_hashtags(page: dict) -> None:
    assert page["posts"]["3l3qp4xk2ra2c"].mention.hashtags == ["NHSCitizen", "nhschangeday"]


def test_a_reply_points_at_its_parent_and_makes_a_reply_edge(page: dict) -> None:
    p = page["posts"]["3l3qp4xk2ra2c"]
    assert p.mention.reply_to == ("bluesky", P1)
    (edge,) = p.edges
    assert (edge.kind, edge.source.native_id, edge.target) == ("reply", BOB, ("bluesky", P1))
    assert edge.via == ("bluesky", p.mention.native_id)
    assert edge.target_account is not None and edge.target_account.native_id == ALICE


def test_a_quote_embed_makes_a_quote_edge_to_the_quoted_post(page: dict) -> None:
    p = page["posts"]["3l3qr7bfzzc2k"]
    assert p.mention.quote_of == ("bluesky", P1)
    (edge,) = p.edges
    assert edge.kind == "quote" and edge.target == ("bluesky", P1)
    assert edge.target_account is not None and edge.target_account.handle == "alice.bsky.social"


def test_a_quote_of_a_post_not_found_still_points_at_its_uri(page: dict) -> None:
    p = page["posts"]["3l3qs2mmnnb2x"]
    assert p.mention.quote_of is not None and p.mention.quote_of[1].endswith("/3kgone2xyz22a")
    assert [e.kind for e in p.edges] == ["quote"]


def test_a_detached_quote_is_honoured_no_quote_link_no_edge(page: dict) -> None:
    p = page["posts"]["3l3qt5detach2"]
    assert p.mention.quote_of is None
    assert p.edges == []


def test_a_blocked_quote_keeps_the_uri_and_the_author_did(page: dict) -> None:
    p = page["posts"]["3l3qu6blockd2"]
    assert p.mention.quote_of == ("bluesky", f"at://{BOB}/app.bsky.feed.post/3l3qp4xk2ra2c")
    assert p.edges[0].target_account is not None
    assert p.edges[0].target_account.native_id == BOB


def test_images_keep_alt_text_and_labels_make_the_post_sensitive(page: dict) -> None:
    m = page["posts"]["3l3qs2mmnnb2x"].mention
    assert m.sensitive is True
    assert m.media is not None and m.media[0]["type"] == "image"
    assert m.media[0]["alt"] == "Two surgeons <b>at work</b>"  # plain text, escaped on output
    assert m.media[0]["url"].startswith("https://cdn.bsky.app/img/feed_fullsize/")


def test_counts_are_read(page: dict) -> None:
    m = page["posts"]["3l3qo2vutsw2b"].mention
    assert (m.reply_count, m.repost_count, m.like_count, m.quote_count) == (1, 3, 12, 1)


def test_created_at_is_the_earlier_of_created_at_and_indexed_at(page: dict) -> None:
    normal = page["posts"]["3l3qo2vutsw2b"].mention
    assert normal.created_at == datetime(2026, 11, 2, 9, 15, 2, 102000, tzinfo=UTC)
    future = page["posts"]["3l3qu6blockd2"]  # createdAt claims 2027
    assert future.mention.created_at == datetime(2026, 11, 2, 9, 50, tzinfo=UTC)
    assert future.sort_at == future.mention.created_at


def test_accounts_are_keyed_on_the_did_with_the_handle_as_an_attribute(page: dict) -> None:
    author = page["posts"]["3l3qo2vutsw2b"].mention.author
    assert author is not None
    assert (author.native_id, author.handle) == (ALICE, "alice.bsky.social")
    assert author.display_name == "Alice 🌻"


def test_the_no_unauthenticated_self_label_is_an_opt_out(page: dict) -> None:
    opted = page["posts"]["3l3qu6blockd2"].mention.author
    normal = page["posts"]["3l3qo2vutsw2b"].mention.author
    assert opted is not None and opted.no_unauthenticated is True
    assert normal is not None and normal.no_unauthenticated is False


def test_malformed_posts_are_skipped_with_reasons_and_the_page_survives(page: dict) -> None:
    assert len(page["posts"]) == 6
    assert sorted(s.reason for s in page["skips"]) == [
        "author_mismatch",
        "bad_date",
        "invalid_uri",
        "missing_record",
    ]
    assert page["cursor"] == "7"


def test_html_in_post_text_never_survives_as_markup() -> None:
    view = load("search_posts_page.json")["posts"][5]
    view = json.loads(json.dumps(view))
    view["record"]["text"] = "<img src=x onerror=alert(1)> #NHSCitizen <script>alert(2)</script>"
    view["record"]["facets"] = []
    m = parse_post_view(view).mention
    assert "<script" not in (m.html or "") and "<img" not in (m.html or "")
    assert "&lt;script&gt;" in (m.html or "")


@pytest.mark.parametrize(
    "uri",
    [
        "at://did:plc:abc/app.bsky.feed.post",
        "at://not-a-did/app.bsky.feed.post/3k",
        "at://did:plc:abc/app.bsky.feed.post/bad key",
        "https://example.org/",
        None,
        "at://did:plc:abc/app.bsky.feed.post/..",
    ],
)
def test_invalid_at_uris_are_rejected(uri: Any) -> None:
    with pytest.raises(MalformedPost):
        parse_at_uri(uri)


def test_reposted_by_becomes_repost_edges_and_bad_profiles_are_skipped() -> None:
    seen = datetime(2026, 11, 2, 12, tzinfo=UTC)
    edges, skips, cursor = parse_reposted_by(load("get_reposted_by.json"), P1, observed_at=seen)
    assert [e.source.native_id for e in edges] == [BOB, "did:plc:vwzwgnygau7ed7b7wt5ux7y2"]
    assert {e.kind for e in edges} == {"repost"} and edges[0].target == ("bluesky", P1)
    assert edges[0].created_at == seen
    assert [s.reason for s in skips] == ["bad_author"] and cursor == "3l3qzz"


def test_get_quotes_gives_the_quoting_posts_with_their_quote_edges() -> None:
    posts, skips, cursor = parse_quotes(load("get_quotes.json"), P1)
    assert [p.edges[0].kind for p in posts] == ["quote"] and skips == [] and cursor is None


def _events() -> list[Any]:
    lines = (PAYLOADS / "jetstream_events.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def test_jetstream_post_create_becomes_a_mention_with_multibyte_facets() -> None:
    item = parse_jetstream_event(_events()[0])
    assert item is not None and item.post is not None
    m = item.post.mention
    assert m.native_id == f"at://{ALICE}/app.bsky.feed.post/3l3qo9live0001"
    assert m.hashtags == ["NHSCitizen"] and item.time_us == 1793614502102000
    assert m.author is not None and m.author.no_unauthenticated is None  # unknown, not False


def test_jetstream_repost_becomes_a_repost_edge_with_its_own_time() -> None:
    item = parse_jetstream_event(_events()[1])
    assert item is not None and item.repost is not None
    assert item.repost.target == ("bluesky", P1) and item.repost.source.native_id == BOB
    assert item.repost.created_at == datetime(2026, 11, 2, 9, 35, 3, tzinfo=UTC)


def test_jetstream_delete_becomes_a_tombstone_key() -> None:
    item = parse_jetstream_event(_events()[3])
    assert item is not None and item.deleted == ("bluesky", P1)


def test_jetstream_likes_accounts_and_identities_only_move_the_cursor() -> None:
    _, _, like, _, ident, account, _ = (parse_jetstream_event(e) for e in _events())
    assert like is not None and (like.post, like.repost, like.deleted) == (None, None, None)
    assert (
        ident is not None and ident.handle is not None and ident.handle.handle == "bob.nhs.example"
    )
    assert account is not None and account.time_us == 1793614507000000


def test_jetstream_malformed_post_is_skipped_with_its_cursor() -> None:
    item = parse_jetstream_event(_events()[6])
    assert item is not None and item.skip is not None and item.skip.reason == "missing_text"
    assert item.time_us == 1793614508000000


def _view(**record: Any) -> dict[str, Any]:
    view = json.loads(json.dumps(load("search_posts_page.json")["posts"][5]))  # Alice's post
    view["record"].update(record)
    return view


@pytest.mark.parametrize(
    ("what", "view", "check"),
    [
        (
            "javascript: link facet",
            _view(
                text="click me #NHSCitizen",
                facets=[
                    {
                        "index": {"byteStart": 0, "byteEnd": 8},
                        "features": [
                            {"$type": "app.bsky.richtext.facet#link", "uri": "javascript:alert(1)"}
                        ],
                    }
                ],
            ),
            lambda m: m.links == [] and "javascript" not in (m.html or ""),
        ),
        (
            "bidi override hiding text",
            _view(text="#NHSCitizen \u202eevil\u202c ok"),
            lambda m: "\u202e" not in (m.text or "") and "\u202e" not in (m.html or ""),
        ),
        (
            "a megabyte of text",
            _view(text="#NHSCitizen " + "a" * 1_000_000),
            lambda m: len(m.text or "") <= 20_000,
        ),
        (
            "ten thousand facets",
            _view(
                text="#NHSCitizen",
                facets=[{"index": {"byteStart": 0, "byteEnd": 11}, "features": [{}]}] * 10_000,
            ),
            lambda m: m.text == "#NHSCitizen",
        ),
        (
            "markup in text",
            _view(text='<a href="javascript:x">#NHSCitizen</a><iframe src=//evil>'),
            lambda m: (
                "<iframe" not in (m.html or "") and '<a href="javascript' not in (m.html or "")
            ),
        ),
    ],
)
def test_hostile_post_content_is_rendered_inert(what: str, view: Any, check: Any) -> None:
    assert check(parse_post_view(view).mention), what


def test_hostile_profile_and_media_urls_are_dropped() -> None:
    view = json.loads(json.dumps(load("search_posts_page.json")["posts"][2]))  # Devon, images
    view["author"]["avatar"] = "javascript:alert(1)"
    view["author"]["displayName"] = "<script>alert(1)</script>\u202e"
    view["embed"]["media"]["images"][0]["fullsize"] = "data:image/png;base64,AAAA"
    m = parse_post_view(view).mention
    assert m.author is not None and m.author.avatar_url is None
    assert m.author.display_name == "<script>alert(1)</script>"  # plain text, escaped on pages
    # the data: URL is refused; the image is rebuilt from the record's blob on Bluesky's CDN
    assert m.media is not None
    assert all(x["url"].startswith("https://cdn.bsky.app/") for x in m.media)


def test_the_stream_prefilter_sees_what_the_full_parse_sees() -> None:
    for view in load("search_posts_page.json")["posts"][:6]:
        parsed = parse_post_view(view).mention
        tags, text, links = match_fields(view["record"])
        assert set(tags) == set(parsed.hashtags) and text == parsed.text
        assert set(parsed.links) <= set(links)
