"""One view of the linked accounts per page (issue 20, DESIGN.md 7): the person counts of a
page share one read of the linked accounts and their rows (`persons.linked_view`), and the
counts it gives equal a recount by `person_id` over every match. On SQLite and PostgreSQL."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select

from domain.records import AccountRecord
from storage.engine import write_tx
from storage.models import Account, MentionMatch
from storage.people_links import move_accounts
from storage.queries import amplifiers, overview, persons
from storage.queries.scope import Scope, list_movements
from storage.write import write_batch
from tests.factories import T0, account, batch, mention, movement

H = 3600
T0_TS = int(T0.timestamp())
MM = MentionMatch.__table__
ACC = Account.__table__


def _store_with_persons(store) -> int:
    """40 accounts on Mastodon and Bluesky, 300 mentions over four days at random hours, and
    seven persons of two or three accounts (some of them among the busiest); and a blog that
    also sends pingbacks (two platforms from one account), linked to a Mastodon account."""
    rng = random.Random(11)
    rules = movement(store)
    people = [account(i, platform=("mastodon", "bluesky")[i % 2]) for i in range(1, 41)]
    posts = []
    for n in range(1, 301):
        who = people[min(len(people) - 1, int(len(people) * rng.random() ** 2))]
        at = T0 + timedelta(seconds=rng.randrange(4 * 24 * H))
        posts.append(mention(n, platform=who.platform, author=who, created_at=at))
    blog = AccountRecord(platform="blog", native_id="charity.org.uk", handle="charity.org.uk")
    for n in range(301, 321):
        at = T0 + timedelta(seconds=rng.randrange(4 * 24 * H))
        posts.append(mention(n, platform=("blog", "pingback")[n % 2], author=blog, created_at=at))
    with write_tx(store) as conn:
        write_batch(conn, batch(*posts), rules)
    people.append(blog)  # number 41
    groups = [(1, 2), (3, 4, 5), (6, 9), (10, 11), (20, 33, 34), (7, 40), (15, 16), (8, 41)]
    with write_tx(store) as conn:
        ids = {
            r.native_id: r.id
            for r in conn.execute(select(ACC.c.id, ACC.c.native_id, ACC.c.platform))
        }
        for group in groups:
            accs = sorted(ids[people[i - 1].native_id] for i in group)
            move_accounts(conn, {a: accs[0] for a in accs})
    with store.connect() as conn:
        return list_movements(conn)[0]["id"]


def _persons_in(conn, scope: Scope) -> int:
    """Distinct persons among the authors of the scope's matches: the definition."""
    where = [
        MM.c.movement_id == scope.movement_id,
        MM.c.created_ts >= scope.start_ts,
        MM.c.created_ts < scope.end_ts,
    ]
    if scope.platforms:
        where.append(MM.c.platform.in_(scope.platforms))
    return int(
        conn.execute(
            select(func.count(func.distinct(ACC.c.person_id)))
            .select_from(MM.join(ACC, ACC.c.id == MM.c.account_id))
            .where(*where)
        ).scalar()
    )


def _new_persons_in(conn, scope: Scope) -> int:
    """Persons whose first match of the movement ever falls in the scope: the definition."""
    firsts = (
        select(ACC.c.person_id, func.min(MM.c.created_ts).label("first"))
        .select_from(MM.join(ACC, ACC.c.id == MM.c.account_id))
        .where(MM.c.movement_id == scope.movement_id)
        .group_by(ACC.c.person_id)
        .subquery()
    )
    return int(
        conn.execute(
            select(func.count()).where(
                firsts.c.first >= scope.start_ts, firsts.c.first < scope.end_ts
            )
        ).scalar()
    )


@pytest.fixture(params=[0, 256], ids=["part-days-from-linked-days", "part-days-from-view"])
def part_candidates(request, monkeypatch):
    """Both ways of choosing a part-day's candidate accounts (`PART_FROM_VIEW_MAX`): the store
    here has few linked accounts, so 0 forces the read of `movement_linked_day`."""
    monkeypatch.setattr(persons, "PART_FROM_VIEW_MAX", request.param)
    return request.param


RANGES = [  # (start hour, end hour, platforms): ending after the newest match or not
    (0, 200, ()),
    (30, 200, ()),
    (30, 200, ("bluesky",)),
    (13.5, 61.25, ()),
    (13.5, 61.25, ("mastodon",)),
    (48, 72, ()),
    (70.5, 71, ()),
]


def test_headline_with_one_shared_view_counts_persons_and_new_persons_as_a_recount_does(
    store, part_candidates
):
    mv = _store_with_persons(store)
    with store.connect() as conn:
        view = persons.linked_view(conn, movement_id=mv)
        assert len(view.person_of) == 18
        # Only the blog's account, matched as blog and pingback, has its platforms read.
        assert [len(v) for v in view.platforms.values()] == [2]
        assert all(len(view.platforms_of(a)) == 1 for a in view.authors if a not in view.platforms)
        for start_h, end_h, platforms in RANGES:
            scope = Scope(mv, T0_TS + int(start_h * H), T0_TS + int(end_h * H), platforms)
            for linked in (view, None):
                got = overview.headline_with_change(conn, scope, linked=linked)
                for when, s in (("value", scope), ("previous", scope.previous())):
                    assert got["people"][when] == _persons_in(conn, s), (start_h, end_h, when)
                    if not platforms:
                        assert got["new_voices"][when] == _new_persons_in(conn, s), (
                            start_h,
                            end_h,
                            when,
                        )


def test_widening_and_new_voices_per_day_with_the_view_equal_a_recount_per_day(
    store, part_candidates
):
    mv = _store_with_persons(store)
    with store.connect() as conn:
        view = persons.linked_view(conn, movement_id=mv)
        for start_h, end_h, platforms in RANGES:
            scope = Scope(mv, T0_TS + int(start_h * H), T0_TS + int(end_h * H), platforms)
            wide = amplifiers.widening(conn, scope, by="person", linked=view)
            assert wide == amplifiers.widening(conn, scope, by="person")
            for row in wide:
                day = scope.shifted(
                    max(scope.start_ts, row["bucket_ts"]),
                    min(scope.end_ts, row["bucket_ts"] + 86400),
                )
                assert row["active"] == _persons_in(conn, day), (start_h, end_h, row)
            if not platforms:
                voices = amplifiers.new_voices_per_day(conn, scope, by="person", linked=view)
                assert sum(r["authors"] for r in voices) == _new_persons_in(conn, scope)


def _linked_reads(store, fn) -> int:
    """How many statements `fn` sends that read the linked accounts (`ix_account_linked`)."""
    seen: list[str] = []

    def count(_c, _cur, statement, _p, _ctx, _many) -> None:
        if "person_id != account.id" in " ".join(statement.split()):
            seen.append(statement)

    event.listen(store, "before_cursor_execute", count)
    try:
        fn()
    finally:
        event.remove(store, "before_cursor_execute", count)
    return len(seen)


def test_a_headline_reads_the_linked_accounts_once_and_a_page_with_its_view_not_again(store):
    mv = _store_with_persons(store)
    scope = Scope(mv, T0_TS + 30 * H, T0_TS + 61 * H)
    with store.connect() as conn:
        # Four person counts (people and new voices, now and before) share one read.
        assert _linked_reads(store, lambda: overview.headline_with_change(conn, scope)) == 1
        view = persons.linked_view(conn, scope)

        def page() -> None:
            overview.headline_with_change(conn, scope, linked=view)
            overview.new_voices(conn, scope, linked=view)
            amplifiers.summary(conn, scope, by="person", linked=view)
            amplifiers.new_voices_per_day(conn, scope, by="person", linked=view)
            amplifiers.widening(conn, scope, by="person", linked=view)
            persons.carriers(conn, scope, linked=view)

        assert _linked_reads(store, page) == 0


def _carriers_in(conn, scope: Scope) -> dict[int, list[tuple[str, int]]]:
    """Persons with matches on two or more platforms in the scope, each platform with its
    first match there: the definition."""
    where = [
        MM.c.movement_id == scope.movement_id,
        MM.c.created_ts >= scope.start_ts,
        MM.c.created_ts < scope.end_ts,
    ]
    if scope.platforms:
        where.append(MM.c.platform.in_(scope.platforms))
    firsts: dict[int, dict[str, int]] = {}
    for person, platform, first in conn.execute(
        select(ACC.c.person_id, MM.c.platform, func.min(MM.c.created_ts))
        .select_from(MM.join(ACC, ACC.c.id == MM.c.account_id))
        .where(*where)
        .group_by(ACC.c.person_id, MM.c.platform)
    ):
        firsts.setdefault(int(person), {})[platform] = int(first)
    return {
        p: sorted(f.items(), key=lambda kv: (kv[1], kv[0])) for p, f in firsts.items() if len(f) > 1
    }


def test_people_who_carried_it_across_equal_the_definition_for_any_range_and_length(
    store, part_candidates
):
    mv = _store_with_persons(store)
    with store.connect() as conn:
        view = persons.linked_view(conn, movement_id=mv)
        for start_h, end_h, platforms in RANGES:
            scope = Scope(mv, T0_TS + int(start_h * H), T0_TS + int(end_h * H), platforms)
            want = _carriers_in(conn, scope)
            order = sorted(want, key=lambda p: (-len(want[p]), want[p][0][1], p))
            for limit in (1, 2, 3, 20):
                got = persons.carriers(conn, scope, limit=limit, linked=view)
                assert got["count"] == len(want), (start_h, end_h, platforms)
                assert [(r["person_id"], r["platforms"]) for r in got["people"]] == [
                    (p, want[p]) for p in order[:limit]
                ], (start_h, end_h, platforms, limit)
