"""The evidence rules of one person across platforms (domain/people.py, docs/people.md)."""

from __future__ import annotations

import json

from collectors.mastodon.parse import parse_account
from domain.people import (
    BLUESKY_DOMAIN_HANDLE,
    BRIDGE,
    CLAIM,
    MASTODON_VERIFIED_FIELD,
    MODERATOR_LINK,
    MODERATOR_UNLINK,
    PROFILE_LINK,
    REL_ME_MUTUAL,
    REL_ME_ONE_WAY,
    STRONG,
    AccountName,
    Claim,
    derived_claims,
    evidence,
    group,
    key_of_link,
    mastodon_field_claims,
    owned_keys,
    page_claims,
    rel_me_links,
)
from tests.recordings import cassette, recorded

MASTODON_PY = "halcy/Mastodon.py"

BLOG = AccountName(1, "blog", "www.example.org")
MASTO = AccountName(2, "mastodon", "alice@example.social")
BSKY = AccountName(3, "bluesky", "did:plc:alice", "example.org")


def _strong(ev):
    return {(e.lo, e.hi) for e in ev if e.strength == STRONG}


def test_a_verified_field_of_a_real_mastodon_profile_claims_the_home_page_not_a_shared_host():
    # mastodon.social's contact account as the server returned it (Mastodon.py's cassette):
    # verified links to joinmastodon.org, github.com/mastodon, blog.joinmastodon.org and a
    # donate page deep in joinmastodon.org.
    account = next(
        json.loads(i.body)["contact_account"]
        for i in cassette(MASTODON_PY, "tests/cassettes/test_timeline_disabled.yaml")
        if i.uri.endswith("/api/v1/instance/") and json.loads(i.body).get("contact_account")
    )
    claims = parse_account(account, "mastodon.social").claims
    assert claims is not None
    assert {(c.key, c.kind, c.strength) for c in claims} == {
        ("site:joinmastodon.org", MASTODON_VERIFIED_FIELD, STRONG),
        ("site:blog.joinmastodon.org", MASTODON_VERIFIED_FIELD, STRONG),
    }  # github.com/mastodon proves a page of GitHub, not GitHub


def test_an_unverified_field_is_only_a_claim():
    fields = [{"name": "Web", "value": '<a href="https://example.org/">x</a>', "verified_at": None}]
    assert mastodon_field_claims(fields) == [
        Claim("site:example.org", PROFILE_LINK, CLAIM, "https://example.org/")
    ]


def test_hostile_field_shapes_give_no_claims():
    for fields in (None, "x", [1, None, {"value": 5}], [{"value": "<a href='javascript:x'>"}]):
        assert mastodon_field_claims(fields) == []


def test_links_name_profiles_or_home_pages_never_private_addresses():
    assert key_of_link("https://mastodon.social/@alice") == "mastodon:alice@mastodon.social"
    assert key_of_link("https://mastodon.social/@bob@other.example") == "mastodon:bob@other.example"
    assert key_of_link("https://bsky.app/profile/example.org") == "bluesky:example.org"
    assert key_of_link("https://bsky.app/profile/did:plc:abc") == "did:plc:abc"
    assert key_of_link("https://WWW.Example.org/about") == "site:example.org"
    assert key_of_link("https://example.org/2024/05/a-post") is None
    for private in (
        "http://127.0.0.1/",
        "http://10.0.0.5/",
        "http://[::1]/",
        "http://localhost/",
        "http://router.local/",
        "http://intranet/",
        "ftp://example.org/",
    ):
        assert key_of_link(private) is None, private


def test_bridgy_fed_accounts_claim_the_account_they_mirror():
    def keys(a):
        return [(c.key, c.kind) for c in derived_claims(a)]

    assert keys(AccountName(9, "bluesky", "did:plc:b", "alice-b.example.social.ap.brid.gy")) == [
        ("mastodon:alice-b@example.social", BRIDGE)
    ]
    assert keys(AccountName(9, "mastodon", "alice.bsky.social@bsky.brid.gy")) == [
        ("bluesky:alice.bsky.social", BRIDGE)
    ]
    assert keys(AccountName(9, "mastodon", "example.org@web.brid.gy")) == [
        ("site:example.org", BRIDGE)
    ]
    assert keys(AccountName(9, "bluesky", "did:plc:c", "example.org.web.brid.gy")) == [
        ("site:example.org", BRIDGE)
    ]
    assert keys(AccountName(9, "bluesky", "did:plc:d", "example.org")) == [
        ("site:example.org", BLUESKY_DOMAIN_HANDLE)
    ]
    assert keys(AccountName(9, "bluesky", "did:plc:e", "alice.bsky.social")) == []


def test_a_handle_on_a_private_name_claims_no_site():
    # A Bluesky handle proves a site only on a public name: never a site on this network.
    for handle in ("nas.local", "printer.home.arpa", "x.internal", "10.0.0.1", "localhost"):
        assert derived_claims(AccountName(9, "bluesky", "did:plc:p", handle)) == [], handle
        assert owned_keys(AccountName(9, "bluesky", "did:plc:p", handle)) == ["did:plc:p"]


def test_blueskys_handle_invalid_proves_no_site_and_merges_no_one():
    # What Bluesky shows for a handle that no longer verifies (RFC 6761's `.invalid`): two
    # strangers whose handles both failed are not one person "proving" one site.
    one = AccountName(1, "bluesky", "did:plc:one", "handle.invalid")
    two = AccountName(2, "bluesky", "did:plc:two", "handle.invalid")
    assert derived_claims(one) == [] and owned_keys(one) == ["did:plc:one"]
    ev = evidence([one, two], {1: derived_claims(one), 2: derived_claims(two)})
    assert group([1, 2], _strong(ev)) == {1: 1, 2: 2}
    assert key_of_link("https://handle.invalid/") is None


def test_a_bridge_of_an_underscored_mastodon_name_meets_its_original():
    original = AccountName(1, "mastodon", "alice_b@example.social")
    bridge = AccountName(2, "bluesky", "did:plc:b", "alice-b.example.social.ap.brid.gy")
    ev = evidence([original, bridge], {2: derived_claims(bridge)})
    assert [(e.lo, e.hi, e.kind, e.strength) for e in ev] == [(1, 2, BRIDGE, STRONG)]


def test_a_verified_field_and_a_domain_handle_make_one_person_of_three_platforms():
    verified = Claim("site:example.org", MASTODON_VERIFIED_FIELD, STRONG, "https://example.org")
    ev = evidence([BLOG, MASTO, BSKY], {2: [verified], 3: derived_claims(BSKY)})
    assert _strong(ev) == {(1, 2), (1, 3), (2, 3)}
    assert group([1, 2, 3], _strong(ev)) == {1: 1, 2: 1, 3: 1}


def test_a_one_way_claim_never_merges():
    claim = Claim("site:example.org", PROFILE_LINK, CLAIM, "https://example.org")
    ev = evidence([BLOG, MASTO], {2: [claim]})
    assert [(e.kind, e.strength) for e in ev] == [(PROFILE_LINK, CLAIM)]
    assert group([1, 2], _strong(ev)) == {1: 1, 2: 2}


def test_rel_me_both_ways_is_strong():
    ev = evidence(
        [BLOG, MASTO],
        {
            1: page_claims(["https://example.social/@alice"]),
            2: [Claim("site:example.org", PROFILE_LINK, CLAIM, "https://example.org")],
        },
    )
    assert (1, 2) in _strong(ev)
    assert REL_ME_MUTUAL in {e.kind for e in ev}


def test_a_loop_of_one_way_claims_merges_nobody():
    a = AccountName(1, "mastodon", "a@one.example")
    b = AccountName(2, "mastodon", "b@two.example")
    c = AccountName(3, "mastodon", "c@three.example")
    cl = {
        1: [Claim("mastodon:b@two.example", PROFILE_LINK, CLAIM, "x")],
        2: [Claim("mastodon:c@three.example", PROFILE_LINK, CLAIM, "y")],
        3: [Claim("mastodon:a@one.example", PROFILE_LINK, CLAIM, "z")],
    }
    ev = evidence([a, b, c], cl)
    assert len(ev) == 3 and _strong(ev) == set()
    assert group([1, 2, 3], _strong(ev)) == {1: 1, 2: 2, 3: 3}


def test_a_blog_linking_a_hundred_profiles_merges_only_those_that_link_back():
    html = "".join(f'<a rel="me" href="https://m{i}.example/@u{i}">u{i}</a>' for i in range(100))
    blog = AccountName(1000, "blog", "example.org")
    profiles = [AccountName(i + 1, "mastodon", f"u{i}@m{i}.example") for i in range(100)]
    back = Claim("site:example.org", MASTODON_VERIFIED_FIELD, STRONG, "https://example.org")
    claims = {1000: page_claims(rel_me_links(html, "https://example.org/"))}
    claims[4] = [back]  # u3 verified the link back
    ev = evidence([blog, *profiles], claims)
    assert _strong(ev) == {(4, 1000)}
    assert sum(1 for e in ev if e.kind == REL_ME_ONE_WAY) == 100
    persons = group([1000, *(p.id for p in profiles)], _strong(ev))
    assert {a for a, p in persons.items() if p == 4} == {4, 1000}


def test_a_moderator_unlink_holds_against_any_chain_of_evidence():
    strong = [(1, 2), (2, 3), (3, 4)]
    assert set(group([1, 2, 3, 4], strong).values()) == {1}
    split = group([1, 2, 3, 4], strong, {(1, 4): MODERATOR_UNLINK})
    assert split[1] != split[4]
    # and a moderator's link joins what no evidence did
    assert group([1, 5], [], {(1, 5): MODERATOR_LINK}) == {1: 1, 5: 1}


def test_grouping_does_not_depend_on_the_order_evidence_arrived_in():
    strong = [(5, 9), (1, 5), (9, 12), (3, 4)]
    unlink = {(1, 12): MODERATOR_UNLINK}
    assert group(range(1, 13), strong, unlink) == group(range(1, 13), strong[::-1], unlink)


def test_a_one_way_claim_on_a_site_someone_proved_is_only_a_suggestion():
    impostor = AccountName(7, "mastodon", "fan@example.social")
    claim = Claim("site:example.org", PROFILE_LINK, CLAIM, "https://example.org/")
    ev = evidence([BSKY, impostor], {3: derived_claims(BSKY), 7: [claim]})
    assert [(e.lo, e.hi, e.strength) for e in ev] == [(3, 7, CLAIM)]


def test_a_bluesky_profile_view_as_the_lexicon_defines_it_gives_a_domain_handle_claim():
    # app.bsky.actor.defs (atproto's lexicons): a profileViewBasic requires did and handle, a
    # handle in `handle` format; profiles have no verified links, so the handle is the
    # evidence a Bluesky profile carries.
    from collectors.bluesky.parse import parse_author

    defs = json.loads(recorded("MarshalX/atproto", "lexicons/app.bsky.actor.defs.json"))
    basic = defs["defs"]["profileViewBasic"]
    assert set(basic["required"]) == {"did", "handle"}
    assert basic["properties"]["handle"]["format"] == "handle"
    view = {"did": "did:plc:ewvi7nxzyoun6zhxrhs64oiz", "handle": "NHSCitizen.org.uk"}
    author = parse_author(view)
    name = AccountName(author.id, author.platform, author.native_id, author.handle)
    assert [(c.key, c.kind) for c in derived_claims(name)] == [
        ("site:nhscitizen.org.uk", BLUESKY_DOMAIN_HANDLE)
    ]
