"""One person across platforms in the store (storage/people_links.py), on SQLite and
PostgreSQL: evidence is recorded as accounts arrive, in whatever order, and `person_id` follows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text, update

from domain.people import CLAIM, MASTODON_VERIFIED_FIELD, PROFILE_LINK, STRONG, Claim
from domain.records import AccountRecord, Batch
from storage.engine import write_tx
from storage.models import Account
from storage.people_links import (
    counts_by_kind,
    moderator_link,
    moderator_log,
    moderator_unlink,
    people_count,
    relink_all,
    suggestions,
)
from storage.write import write_batch
from tests.factories import T0, mention, movement

A = Account.__table__

SITE = "https://charity.example.org/"
VERIFIED = Claim("site:charity.example.org", MASTODON_VERIFIED_FIELD, STRONG, SITE)
ONE_WAY = Claim("site:charity.example.org", PROFILE_LINK, CLAIM, SITE)


def blog() -> AccountRecord:
    return AccountRecord(platform="blog", native_id="charity.example.org", handle="charity")


def masto(claims=None, n: str = "charity") -> AccountRecord:
    return AccountRecord(
        platform="mastodon", native_id=f"{n}@example.social", handle=n, claims=claims
    )


def bsky() -> AccountRecord:
    return AccountRecord(
        platform="bluesky", native_id="did:plc:charity", handle="charity.example.org"
    )


def _write(engine, rules, *accounts: AccountRecord, at=T0):
    with write_tx(engine) as conn:
        return write_batch(conn, Batch(accounts=list(accounts)), rules, now=at)


def persons(engine) -> dict[int, int]:
    with engine.connect() as conn:
        return {int(a): int(p) for a, p in conn.execute(select(A.c.id, A.c.person_id))}


@pytest.fixture
def rules(store):
    return movement(store)


def test_a_new_account_is_its_own_person(store, rules):
    with write_tx(store) as conn:
        write_batch(conn, Batch(mentions=[mention(1)]), rules, now=T0)
    assert all(a == p for a, p in persons(store).items())


@pytest.mark.parametrize("order", ["claim_first", "claim_last"])
def test_three_platforms_become_one_person_in_any_arrival_order(store, rules, order):
    accounts = [masto([VERIFIED]), blog(), bsky()]
    if order == "claim_last":
        accounts.reverse()
    for i, a in enumerate(accounts):
        _write(store, rules, a, at=T0 + timedelta(minutes=i))
    ids = {masto().id, blog().id, bsky().id}
    got = persons(store)
    assert {got[i] for i in ids} == {min(ids)}
    with store.connect() as conn:
        assert people_count(conn) == (1, 3)
        kinds = counts_by_kind(conn)
    assert kinds["mastodon_verified_field"] == 2 and kinds["bluesky_domain_handle"] == 1


def test_an_impersonators_one_way_claim_never_merges_and_is_suggested(store, rules):
    _write(store, rules, blog(), masto([ONE_WAY], n="notthecharity"))
    got = persons(store)
    assert got[blog().id] == blog().id
    assert got[masto(n="notthecharity").id] == masto(n="notthecharity").id
    with store.connect() as conn:
        (s,) = suggestions(conn)
    assert s["kind"] == PROFILE_LINK
    assert {s["lo_platform"], s["hi_platform"]} == {"blog", "mastodon"}


def test_a_loop_of_one_way_claims_between_stored_accounts_merges_nobody(store, rules):
    # a names b's profile, b names c's, c names a's (unverified Mastodon fields), stored in
    # one batch and again by the background pass: three people, three suggestions.
    names = ["a@one.example", "b@two.example", "c@three.example"]
    loop = [
        AccountRecord(
            platform="mastodon",
            native_id=n,
            claims=[Claim(f"mastodon:{names[(i + 1) % 3]}", PROFILE_LINK, CLAIM, f"link {i}")],
        )
        for i, n in enumerate(names)
    ]
    _write(store, rules, *loop)
    with write_tx(store) as conn:
        relink_all(conn)
    got = persons(store)
    assert [got[a.id] for a in loop] == [a.id for a in loop]
    with store.connect() as conn:
        assert len(suggestions(conn)) == 3
        assert counts_by_kind(conn) == {PROFILE_LINK: 3}


def test_a_removed_verified_field_splits_the_person_again(store, rules):
    _write(store, rules, masto([VERIFIED]), blog())
    assert len(set(persons(store).values())) == 1
    _write(store, rules, masto([]), at=T0 + timedelta(hours=1))
    assert len(set(persons(store).values())) == 2
    with store.connect() as conn:
        assert counts_by_kind(conn) == {}


def test_a_profile_seen_without_its_fields_keeps_what_it_claimed(store, rules):
    _write(store, rules, masto([VERIFIED]), blog())
    _write(store, rules, masto(None), at=T0 + timedelta(hours=1))  # a status's account, no fields
    assert len(set(persons(store).values())) == 1


def test_moderators_link_and_unlink_with_an_audit_log(store, rules):
    _write(store, rules, masto([VERIFIED]), blog(), bsky())
    m, b, s = masto().id, blog().id, bsky().id
    with write_tx(store) as conn:
        moderator_unlink(conn, m, b, by="mod@example", reason="a staff member, not the charity")
        moderator_unlink(conn, m, s, by="mod@example", reason="same")
    got = persons(store)
    assert got[b] == got[s] != got[m]
    with write_tx(store) as conn:
        moderator_link(conn, m, b, by="mod2@example", reason="confirmed by email", now=None)
    got = persons(store)  # the newest word on (m, b) is a link; (m, s) stays unlinked
    assert got[m] == got[b] != got[s]
    with store.connect() as conn:
        log = moderator_log(conn)
        assert log[0]["kind"] == "moderator_link"
        assert {r["decided_by"] for r in log} == {"mod@example", "mod2@example"}
    with write_tx(store) as conn, pytest.raises(ValueError):
        moderator_link(conn, m, b, by="mod@example", reason=" ")


def test_the_background_pass_links_accounts_stored_before_people_existed(store, rules):
    _write(store, rules, masto([VERIFIED]), blog(), bsky())
    with write_tx(store) as conn:  # as migration 0040 leaves a store: no evidence yet
        conn.execute(text("DELETE FROM person_link"))
        conn.execute(update(A).values(person_id=A.c.id))
    assert len(set(persons(store).values())) == 3
    seen: list[tuple[int, int]] = []
    with write_tx(store) as conn:
        relink_all(conn, chunk=1, progress=lambda d, t: seen.append((d, t)))
    assert len(set(persons(store).values())) == 1
    assert seen == [(1, 3), (2, 3), (3, 3)]


def test_bridged_accounts_join_their_originals(store, rules):
    original = AccountRecord(platform="mastodon", native_id="alice_b@example.social")
    bridge = AccountRecord(
        platform="bluesky", native_id="did:plc:bridge", handle="alice-b.example.social.ap.brid.gy"
    )
    bsky_alice = AccountRecord(platform="bluesky", native_id="did:plc:al", handle="al.bsky.social")
    fedi_of_bsky = AccountRecord(platform="mastodon", native_id="al.bsky.social@bsky.brid.gy")
    _write(store, rules, bridge, fedi_of_bsky)
    _write(store, rules, original, bsky_alice, at=T0 + timedelta(minutes=5))
    got = persons(store)
    assert got[original.id] == got[bridge.id]
    assert got[bsky_alice.id] == got[fedi_of_bsky.id]
    assert got[original.id] != got[bsky_alice.id]


def test_the_command_line_pass_commits_chunk_by_chunk_and_reports_people(store, rules, capsys):
    from storage.people_links import relink_store

    _write(store, rules, masto([VERIFIED]), blog(), bsky())
    with write_tx(store) as conn:
        conn.execute(text("DELETE FROM person_link"))
        conn.execute(update(A).values(person_id=A.c.id))
    result = relink_store(store, chunk=2)
    assert result.evidence_added == 3 and len(set(persons(store).values())) == 1


def test_purged_accounts_take_their_evidence_with_them_and_the_rest_regroup(store, rules):
    from storage.people_links import forget_accounts

    _write(store, rules, masto([VERIFIED]), blog(), bsky())
    gone = min(masto().id, blog().id, bsky().id)
    with write_tx(store) as conn:
        conn.execute(A.delete().where(A.c.id == gone))
        forget_accounts(conn, [gone])
    got = persons(store)
    assert gone not in got and all(p != gone for p in got.values())
    with store.connect() as conn:
        n = conn.execute(
            text("SELECT count(*) FROM person_link WHERE account_lo = :g OR account_hi = :g"),
            {"g": gone},
        ).scalar()
    assert n == 0


def test_a_blog_seen_with_and_without_www_is_one_person(store, rules):
    bare = AccountRecord(platform="blog", native_id="charity.example.org")
    www = AccountRecord(platform="blog", native_id="www.charity.example.org")
    _write(store, rules, bare)
    _write(store, rules, www, at=T0 + timedelta(minutes=1))
    got = persons(store)
    assert got[bare.id] == got[www.id]


def test_join_and_split_from_the_command_line_are_audited(store, rules):
    from typer.testing import CliRunner

    from groundswell.cli import app

    _write(store, rules, masto([ONE_WAY], n="carer"), blog())
    m, b = masto(n="carer").id, blog().id
    url = store.url.render_as_string(hide_password=False)
    joined = CliRunner().invoke(
        app, ["people", "join", str(m), str(b), "--db", url, "--reason", "asked by email"]
    )
    assert joined.exit_code == 0, joined.output
    assert persons(store)[m] == persons(store)[b]
    split = CliRunner().invoke(
        app, ["people", "split", str(m), str(b), "--db", url, "--reason", "a mistake"]
    )
    assert split.exit_code == 0, split.output
    assert persons(store)[m] != persons(store)[b]
    with store.connect() as conn:
        actions = [r[0] for r in conn.execute(text("SELECT action FROM audit_event ORDER BY id"))]
    assert actions == ["people.link", "people.unlink"]
    refused = CliRunner().invoke(
        app, ["people", "join", str(m), "12345", "--db", url, "--reason", "x"]
    )
    assert refused.exit_code == 2 and "no stored account" in refused.output


def test_taking_an_account_out_of_its_person_holds_when_the_evidence_is_linked_again(store, rules):
    # moderator_detach: the account joined a blog and its own bridge; taken out, the two are
    # not one person (nothing but the account joined them), and the background pass keeps it.
    from storage.people_links import moderator_detach, relink_all

    bridge = AccountRecord(
        platform="bluesky", native_id="did:plc:br", handle="charity.example.social.ap.brid.gy"
    )
    _write(store, rules, masto([VERIFIED]), blog(), bridge)
    m, b, br = masto().id, blog().id, bridge.id
    assert len({persons(store)[x] for x in (m, b, br)}) == 1
    with write_tx(store) as conn:
        assert sorted(moderator_detach(conn, m, by="mod@example", reason="staff")) == sorted(
            [b, br]
        )
    got = persons(store)
    assert len({got[m], got[b], got[br]}) == 3
    with write_tx(store) as conn:
        relink_all(conn)
    assert persons(store) == got


@pytest.mark.postgres
def test_two_workers_storing_both_sides_of_the_evidence_at_once_still_link(pg_store):
    # Worker 1 stores Mastodon profiles that verify a site, worker 2 at the same moment the
    # Bluesky accounts whose handle is that site: neither sees the other's uncommitted rows
    # unless the linking step waits for the other's commit (the people lock).
    from tests.factories import write_concurrently

    rules = movement(pg_store)
    n = 12
    sites = [f"site{i}.example.org" for i in range(n)]
    mastos = [
        AccountRecord(
            platform="mastodon",
            native_id=f"p{i}@example.social",
            claims=[Claim(f"site:{s}", MASTODON_VERIFIED_FIELD, STRONG, f"https://{s}/")],
        )
        for i, s in enumerate(sites)
    ]
    skies = [
        AccountRecord(platform="bluesky", native_id=f"did:plc:p{i}", handle=s)
        for i, s in enumerate(sites)
    ]
    write_concurrently(
        pg_store,
        rules,
        [[Batch(accounts=[a]) for a in mastos], [Batch(accounts=[a]) for a in skies]],
    )
    got = persons(pg_store)
    assert [got[m.id] == got[s.id] for m, s in zip(mastos, skies, strict=True)] == [True] * n
