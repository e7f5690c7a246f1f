"""People on the dashboard (issue 20): pages count persons, not accounts; rankings, new voices
and the network by person or by account; an opt-out on any of a person's accounts covers the
person on the wall and the leaderboards. Hand-built stores with known answers, on SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text

from domain.records import AccountRecord, EdgeRecord
from storage.engine import write_tx
from storage.people_links import move_accounts
from storage.queries import amplifiers, overview, persons, spread, wall
from storage.queries.scope import Scope, list_movements
from storage.write import write_batch
from tests.factories import T0, account, batch, mention, movement

H = 3600
T0_TS = int(T0.timestamp())


def _at(hours: float):
    return T0 + timedelta(hours=hours)


def _write(engine, *mentions, edges=()):
    rules = movement(engine)
    with write_tx(engine) as conn:
        write_batch(conn, batch(*mentions, edges=list(edges)), rules)


def _scope(engine, start_h: float, end_h: float, platforms=()) -> Scope:
    with engine.connect() as conn:
        mv = list_movements(conn)[0]["id"]
    return Scope(mv, T0_TS + int(start_h * H), T0_TS + int(end_h * H), tuple(platforms))


def link(engine, *people: AccountRecord) -> None:
    """What the linking pass does to a group (the agreed interface, `move_accounts`): every
    account's person_id becomes the smallest account id of the group, in one transaction."""
    ids = sorted(a.id for a in people)
    with write_tx(engine) as conn:
        move_accounts(conn, {a: ids[0] for a in ids})


def _blog(n: int) -> AccountRecord:
    return AccountRecord(
        platform="blog", native_id=f"charity{n}.org.uk", handle=f"charity{n}.org.uk"
    )


def _boost(src, target_mention, hours, kind="boost"):
    return EdgeRecord(
        kind=kind,
        platform=src.platform,
        source=src,
        target=(target_mention.platform, target_mention.native_id),
        created_at=_at(hours),
    )


# --- counting persons -----------------------------------------------------------------------


def _charity_on_two_platforms(store):
    """The charity posts on Mastodon and Bluesky; dora only on Mastodon."""
    masto = account(1, display_name="The Charity")
    sky = account(1, platform="bluesky", display_name="The Charity")
    dora = account(4)
    _write(
        store,
        mention(1, author=masto, created_at=_at(1)),
        mention(2, platform="bluesky", author=sky, created_at=_at(2)),
        mention(3, author=dora, created_at=_at(3)),
    )
    return masto, sky, dora


def test_a_person_with_accounts_on_two_platforms_counts_once(store):
    masto, sky, _ = _charity_on_two_platforms(store)
    link(store, masto, sky)
    with store.connect() as conn:
        h = overview.headline(conn, _scope(store, 0, 10))
    assert (h.people, h.new_voices, h.platforms) == (2, 2, 2)


def test_unlinked_accounts_such_as_a_one_way_claim_count_twice(store):
    # A one-way claim never rewrites person_id: the two accounts stay two people.
    _charity_on_two_platforms(store)
    with store.connect() as conn:
        h = overview.headline(conn, _scope(store, 0, 10))
    assert (h.people, h.new_voices) == (3, 3)


def test_people_count_persons_in_a_range_starting_mid_day_and_in_the_previous_period(store):
    masto, sky, _ = _charity_on_two_platforms(store)
    link(store, masto, sky)
    with store.connect() as conn:
        scope = _scope(store, 1.5, 30)  # the Mastodon post is before: only bluesky + dora
        h = overview.headline(conn, scope)
        both = overview.headline_with_change(conn, _scope(store, 2, 4))
    assert (h.people, h.new_voices) == (2, 1)  # the charity was heard before the range
    assert both["people"]["value"] == 2 and both["people"]["previous"] == 1


def test_a_person_heard_first_on_one_platform_is_not_a_new_voice_on_another(store):
    masto, sky, dora = _charity_on_two_platforms(store)
    link(store, masto, sky)
    with store.connect() as conn:
        by_person = amplifiers.new_voices_per_day(conn, _scope(store, 0, 48), by="person")
        by_account = amplifiers.new_voices_per_day(conn, _scope(store, 0, 48))
        listed = overview.new_voices(conn, _scope(store, 0, 48))
    assert {(r["platform"], r["authors"]) for r in by_person} == {("mastodon", 2)}
    assert {(r["platform"], r["authors"]) for r in by_account} == {
        ("mastodon", 2),
        ("bluesky", 1),
    }
    assert sorted(r["account_id"] for r in listed) == sorted([masto.id, dora.id])


def test_widening_and_cumulative_authors_count_persons(store):
    masto, sky, _ = _charity_on_two_platforms(store)
    link(store, masto, sky)
    with store.connect() as conn:
        scope = _scope(store, -9, 15)  # one whole UTC day
        wide = amplifiers.widening(conn, scope, by="person")
        cumul = spread.cumulative_authors(conn, scope, 3600, by="person")
        cumul_acc = spread.cumulative_authors(conn, scope, 3600)
    assert [(r["active"], r["first_time"]) for r in wide] == [(2, 2)]
    assert cumul[-1]["cumulative"] == 2 and cumul_acc[-1]["cumulative"] == 3


def test_a_blog_that_also_sends_pingbacks_is_one_person(store):
    blog = _blog(1)
    _write(
        store,
        mention(1, platform="blog", author=blog, created_at=_at(1)),
        mention(2, platform="pingback", author=blog, created_at=_at(2)),
    )
    with store.connect() as conn:
        h = overview.headline(conn, _scope(store, 0, 10))
    assert (h.people, h.blogs) == (1, 1)


# --- rankings and the network by person -----------------------------------------------------


def _amplified_charity(store):
    """Both charity accounts are boosted; the charity's Bluesky account reposts its own
    Mastodon post (self-amplification once linked)."""
    masto, sky = account(1), account(1, platform="bluesky")
    bob, carol, dan = account(2), account(3), account(5, platform="bluesky")
    m1 = mention(1, author=masto, created_at=_at(0))
    s1 = mention(2, platform="bluesky", author=sky, created_at=_at(0))
    b1 = mention(3, author=bob, created_at=_at(0))
    edges = [
        _boost(bob, m1, 1),
        _boost(carol, m1, 1),
        _boost(dan, s1, 1, kind="repost"),
        _boost(carol, s1, 2, kind="repost"),
        _boost(sky, m1, 2, kind="repost"),  # the charity amplifying itself
        _boost(carol, b1, 2),
        _boost(dan, b1, 3, kind="repost"),
    ]
    _write(store, m1, s1, b1, edges=edges)
    return masto, sky, bob, carol, dan


def test_rankings_by_person_add_a_persons_accounts_and_leave_out_amplifying_oneself(store):
    masto, sky, bob, carol, dan = _amplified_charity(store)
    link(store, masto, sky)
    with store.connect() as conn:
        s = amplifiers.summary(conn, _scope(store, 0, 5), by="person")
        by_account = amplifiers.summary(conn, _scope(store, 0, 5))
    charity = min(masto.id, sky.id)
    assert [(r["person_id"], r["total"]) for r in s["received"]] == [(charity, 4), (bob.id, 2)]
    assert set(s["received"][0]["platforms"]) == {"mastodon", "bluesky"}
    given = {r["person_id"]: r["total"] for r in s["given"]}
    assert given == {carol.id: 3, dan.id: 2, bob.id: 1}  # the charity gave only to itself
    # By account the self-repost across platforms still counts (two accounts).
    assert {r["account_id"]: r["total"] for r in by_account["received"]}[masto.id] == 3
    nodes = {n["id"]: n for n in s["network"]["nodes"]}
    assert nodes[charity]["platform"] == "several platforms"
    assert nodes[charity]["received"] == 4
    assert max(masto.id, sky.id) not in nodes


def test_ranking_by_person_is_exact_against_summing_every_edge(store):
    masto, sky, _, carol, dan = _amplified_charity(store)
    link(store, masto, sky)
    link(store, carol, dan)  # carol and dan are one person too
    with store.connect() as conn:
        s = amplifiers.summary(conn, _scope(store, 0, 5), by="person", limit=2)
        rows = conn.execute(
            text(
                "SELECT sa.person_id, da.person_id FROM movement_edge e "
                "JOIN account sa ON sa.id = e.source_account_id "
                "JOIN account da ON da.id = e.dst_account_id"
            )
        ).all()
    received: dict[int, int] = {}
    for src, dst in rows:
        if src != dst:
            received[dst] = received.get(dst, 0) + 1
    expected = sorted(received.items(), key=lambda kv: (-kv[1], kv[0]))[:2]
    assert [(r["person_id"], r["total"]) for r in s["received"]] == expected


# --- opt-outs cover the person --------------------------------------------------------------


def test_an_opt_out_on_one_account_hides_the_persons_other_accounts(store):
    masto = account(1, noindex=True)  # opted out on Mastodon
    sky = account(1, platform="bluesky")
    bob = account(2)
    m1 = mention(1, author=masto, created_at=_at(0))
    s1 = mention(2, platform="bluesky", author=sky, created_at=_at(0), text="#NHSCitizen sky")
    b1 = mention(3, author=bob, created_at=_at(0))
    edges = [_boost(sky, b1, 1, kind="repost"), _boost(bob, s1, 1)]
    _write(store, m1, s1, b1, edges=edges)
    scope = _scope(store, 0, 5)
    with store.connect() as conn:
        before = amplifiers.summary(conn, scope)
        shown = wall.recent_posts(conn, movement_id=scope.movement_id)
        shown_before = {p.account_id for p in shown}
    assert sky.id in {r["account_id"] for r in before["given"]}
    assert shown_before == {sky.id, bob.id}
    link(store, masto, sky)
    with store.connect() as conn:
        for by in ("account", "person"):
            s = amplifiers.summary(conn, scope, by=by)
            listed = {r["account_id"] for r in s["received"]} | {
                r["account_id"] for r in s["given"]
            }
            assert not listed & {masto.id, sky.id}, by
            assert {r["account_id"] for r in s["given"]} == {bob.id}
        posts = wall.recent_posts(conn, movement_id=scope.movement_id)
        leaders = wall.top_amplifiers(conn, movement_id=scope.movement_id, since_ts=0)
        top = overview.top_posts(conn, scope)
        h = overview.headline(conn, scope)
    assert {p.account_id for p in posts} == {bob.id}
    assert {a.account_id for a in leaders} == {bob.id}
    assert {r["handle"] for r in top} == {bob.handle}
    assert h.people == 2  # still counted: aggregates only


# --- people who carried it across -----------------------------------------------------------


def test_people_who_carried_it_across_list_persons_on_two_platforms_in_order(store):
    masto, sky, _ = _charity_on_two_platforms(store)
    link(store, masto, sky)
    with store.connect() as conn:
        got = persons.carriers(conn, _scope(store, 0, 10))
        none_yet = persons.carriers(conn, _scope(store, 1.5, 10))
    assert got["count"] == 1
    (row,) = got["people"]
    assert row["person_id"] == min(masto.id, sky.id) and row["name"] == "The Charity"
    assert [p for p, _ in row["platforms"]] == ["mastodon", "bluesky"]
    assert none_yet["count"] == 0


def test_wall_counts_people_today_as_persons(store):
    masto, sky, _ = _charity_on_two_platforms(store)
    link(store, masto, sky)
    with store.connect() as conn:
        mv = list_movements(conn)[0]["id"]
        p = wall.pulse(conn, movement_id=mv, now_ts=T0_TS + 10 * H, day_start_ts=T0_TS)
    assert (p.people_today, p.new_voices_today) == (2, 2)


# --- a moderator's link and unlink ----------------------------------------------------------


def test_a_moderator_links_and_unlinks_with_a_reason_kept_in_the_log(store):
    import pytest

    from storage.audit import list_actions
    from storage.person_moderation import (
        PersonModerationError,
        audit_log,
        link_accounts,
        unlink_accounts,
    )

    masto, sky, dora = _charity_on_two_platforms(store)
    scope = _scope(store, 0, 10)
    with write_tx(store) as conn, pytest.raises(PersonModerationError, match="reason"):
        link_accounts(conn, masto.id, sky.id, moderator="mod@example.org", reason="  ")
    with write_tx(store) as conn:
        person = link_accounts(
            conn, masto.id, sky.id, moderator="mod@example.org", reason="same charity number"
        )
    assert person == min(masto.id, sky.id)
    with store.connect() as conn:
        assert overview.headline(conn, scope).people == 2
        assert [p["accounts"] for p in persons.linked_people(conn)] == [sorted([masto.id, sky.id])]
    with write_tx(store) as conn, pytest.raises(PersonModerationError, match="already"):
        link_accounts(conn, sky.id, masto.id, moderator="mod@example.org", reason="again")
    with write_tx(store) as conn:
        unlink_accounts(
            conn, masto.id, sky.id, moderator="mod2@example.org", reason="impersonation"
        )
    with store.connect() as conn:
        assert overview.headline(conn, scope).people == 3
        log = audit_log(conn)
    assert [(r["action"], r["moderator"], r["reason"]) for r in log] == [
        ("unlink", "mod2@example.org", "impersonation"),
        ("link", "mod@example.org", "same charity number"),
    ]
    assert all(len(r["accounts"]) == 2 for r in log)
    with store.connect() as conn:
        trail = list_actions(conn)
    assert [(r["action"], r["actor"]) for r in trail][:2] == [
        ("people.unlink", "mod2@example.org"),
        ("people.link", "mod@example.org"),
    ]
    with write_tx(store) as conn, pytest.raises(PersonModerationError, match="two different"):
        unlink_accounts(conn, dora.id, dora.id, moderator="mod@example.org", reason="x")


def test_moderator_decisions_never_reach_a_wall(store):
    from storage.person_moderation import link_accounts

    masto, sky, _ = _charity_on_two_platforms(store)
    with write_tx(store) as conn:
        link_accounts(conn, masto.id, sky.id, moderator="m", reason="r")
    with store.connect() as conn:
        assert wall.load_decisions(conn, "default") == []


def test_top_persons_equal_a_group_by_person_over_every_edge_for_any_n(store):
    import random

    rng = random.Random(5)
    people = [account(i, platform=("mastodon", "bluesky")[i % 2]) for i in range(1, 13)]
    posts = [
        mention(i, platform=a.platform, author=a, created_at=_at(0))
        for i, a in enumerate(people, start=1)
    ]
    edges = []
    for k in range(80):
        src, target = rng.choice(people), rng.choice(posts)
        edges.append(_boost(src, target, 1 + k / 100, kind=rng.choice(("repost", "quote"))))
    _write(store, *posts, edges=edges)
    link(store, people[0], people[1], people[2])  # the busiest accounts, several linked
    link(store, people[3], people[6])
    scope = _scope(store, 0, 5)
    with store.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT sa.person_id, da.person_id FROM movement_edge e "
                "JOIN account sa ON sa.id = e.source_account_id "
                "JOIN account da ON da.id = e.dst_account_id"
            )
        ).all()
        for side, col in (("dst", 1), ("src", 0)):
            want: dict[int, int] = {}
            for r in rows:
                if r[0] != r[1]:
                    want[r[col]] = want.get(r[col], 0) + 1
            for n in (1, 2, 3, 5, 8):
                got = persons.top_persons(
                    conn,
                    scope,
                    side,
                    n,
                    lambda k, side=side: amplifiers._top_accounts(conn, scope, side, k),
                    lambda ids, side=side: amplifiers._exact(conn, scope, side, ids),
                    lambda ids, side=side: amplifiers._exact_pairs(conn, scope, side, ids),
                    lambda ids, side=side: amplifiers._period_bounds(conn, scope, side, ids),
                )
                expected = sorted(want.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
                assert [(r["a"], r["total"]) for r in got] == expected, (side, n)


def test_a_persons_handles_that_read_the_same_say_their_platform(store):
    """A Bluesky domain handle equal to the person's blog host read "x.blog, x.blog" on the
    People page and the rankings; a repeated handle now says which platform it is on."""
    blog = AccountRecord(platform="blog", native_id="reflections.blog", handle="reflections.blog")
    sky = AccountRecord(platform="bluesky", native_id="did:plc:refl", handle="Reflections.blog")
    masto = account(7)
    _write(
        store,
        mention(1, platform="blog", author=blog, created_at=_at(1)),
        mention(2, platform="bluesky", author=sky, created_at=_at(2)),
        mention(3, author=masto, created_at=_at(3)),
    )
    link(store, blog, sky, masto)
    with store.connect() as conn:
        (p,) = persons.persons(conn, [min(blog.id, sky.id, masto.id)]).values()
    assert sorted(p["handles"]) == sorted(
        ["reflections.blog (blog)", "Reflections.blog (bluesky)", masto.handle]
    )


def test_a_person_whose_accounts_are_each_small_still_enters_the_ranking(store):
    """The ranking by person sums the bounds only of persons with a "hot" account (a bucket of
    at least need / (accounts per person * buckets) edges, read from the top of the lists;
    at 10M mentions probing every linked account cost ~0.5 s per side). A person of three
    accounts with 2, 4 and 4 boosts (10) beats single accounts of 9, 8 and 7, although no
    account of theirs reaches the third single's 7 on its own."""
    singles = [account(30 + i) for i in range(3)]
    mine = [account(40), account(40, platform="bluesky"), account(41)]
    posts = [mention(30 + i, author=a, created_at=_at(0)) for i, a in enumerate(singles)]
    posts += [
        mention(40, author=mine[0], created_at=_at(0)),
        mention(41, platform="bluesky", author=mine[1], created_at=_at(0)),
        mention(42, author=mine[2], created_at=_at(0)),
    ]
    edges, n = [], 100
    for post, count in zip(posts, [9, 8, 7, 2, 4, 4], strict=True):
        for _ in range(count):
            n += 1
            edges.append(_boost(account(n), post, 1))
    # Six more persons of two accounts, never amplified: with them, reading the top of the
    # lists costs less than probing every linked account, so the hot accounts are read.
    idle = [(account(60 + i), account(60 + i, platform="bluesky")) for i in range(6)]
    posts += [mention(60 + i, author=a, created_at=_at(0)) for i, (a, _) in enumerate(idle)]
    posts += [
        mention(70 + i, platform="bluesky", author=b, created_at=_at(0))
        for i, (_, b) in enumerate(idle)
    ]
    _write(store, *posts, edges=edges)
    link(store, *mine)
    for pair in idle:
        link(store, *pair)
    with store.connect() as conn:
        s = amplifiers.summary(conn, _scope(store, 0, 5), by="person", limit=1, max_nodes=2)
    person = min(a.id for a in mine)
    assert [(r["person_id"], r["total"]) for r in s["received"]] == [(person, 10)]
