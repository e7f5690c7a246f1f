"""`mention_match.prev_ts` (storage/match_chain.py) always equals the definition recomputed from
the rows (a window function), whatever order, repetition, deletion or concurrency the writes
came in; and the people / instances counted from it equal distinct counts over the matches for
ranges that do not end at the newest mention (SQLite and PostgreSQL)."""

from __future__ import annotations

import importlib.util
import random
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

import storage.bulk
from storage.engine import write_tx
from storage.match_chain import ORDERED, relink_all
from storage.models import Account, MentionMatch
from storage.models_rollups import MovementCrossDay, MovementPeopleCell, MovementPeopleHour
from storage.people_cells import cell_of
from storage.queries import amplifiers, overview
from storage.queries.scope import Scope, list_movements
from storage.write import tombstone, write_batch
from tests.factories import T0, account, batch, mention, movement, write_concurrently

H = 3600
T0_TS = int(T0.timestamp())
MM = MentionMatch.__table__
A = Account.__table__
CELL = MovementPeopleCell.__table__
HCELL = MovementPeopleHour.__table__
CROSS = MovementCrossDay.__table__
DAY = 86400


def _migration_backfill(name: str = "0020_match_prev_ts") -> tuple[str, ...]:
    path = Path(__file__).parents[1] / f"storage/migrations/versions/{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return tuple(mod.BACKFILL)


def _links(conn) -> dict[tuple[int, int], int | None]:
    return {
        (mv, mid): p
        for mv, mid, p in conn.execute(select(MM.c.movement_id, MM.c.mention_id, MM.c.prev_ts))
    }


def _expected(conn) -> dict[tuple[int, int], int | None]:
    out = {k: None for k in _links(conn)}
    for mv, mid, p in conn.execute(text(ORDERED)):
        out[(mv, mid)] = None if p is None else int(p)
    return out


def _cells(conn) -> tuple[dict, set, dict]:
    """The stored people cells (without empty ones), cross-platform author days and the
    people cells per hour (without empty ones)."""
    cells = {
        (mv, p, d, pd): n
        for mv, p, d, pd, n in conn.execute(
            select(CELL.c.movement_id, CELL.c.platform, CELL.c.day, CELL.c.prev_day, CELL.c.n)
        )
        if n
    }
    hours = {
        (mv, h, p, ph): n
        for mv, h, p, ph, n in conn.execute(
            select(
                HCELL.c.movement_id, HCELL.c.hour, HCELL.c.platform, HCELL.c.prev_hour, HCELL.c.n
            )
        )
        if n
    }
    return cells, {tuple(r) for r in conn.execute(select(CROSS))}, hours


def _expected_cells(conn) -> tuple[dict, set, dict]:
    """The cells by definition: each match with an author in the cell of its day and of the
    day of its previous match by `ORDERED` (not the stored link); the author days with a
    match on a platform other than the account's; the cells per hour."""
    prev = {(mv, mid): p for mv, mid, p in conn.execute(text(ORDERED))}
    cells: dict = {}
    hours: dict = {}
    for mv, mid, p, ts in conn.execute(
        select(MM.c.movement_id, MM.c.mention_id, MM.c.platform, MM.c.created_ts).where(
            MM.c.account_id.is_not(None)
        )
    ):
        key = cell_of(mv, p, ts, prev[(mv, mid)])
        cells[key] = cells.get(key, 0) + 1
        # per hour: the previous match's hour when at most 48 hours back, else -1
        before = prev[(mv, mid)]
        back = -1 if before is None or ts // H - before // H > 48 else before // H
        hours[(mv, ts // H, p, back)] = hours.get((mv, ts // H, p, back), 0) + 1
    cross = {
        (mv, ts // DAY, acc)
        for mv, ts, acc in conn.execute(
            select(MM.c.movement_id, MM.c.created_ts, MM.c.account_id)
            .select_from(MM.join(A, A.c.id == MM.c.account_id))
            .where(MM.c.platform != A.c.platform)
        )
    }
    return cells, cross, hours


def _people():
    return [
        account(1, instance="mastodon.social"),
        account(2, instance="kolektiva.social"),
        account(3, instance="mastodon.social"),
        account(4, platform="bluesky"),
        account(5, platform="blog", instance="blog.example.org"),
    ]


def _mentions(n: int, seed: int = 3):
    """`n` mentions by five authors (the blog also sends pingbacks), with ties in time."""
    rng = random.Random(seed)
    people = _people()
    out = []
    for i in range(n):
        who = people[rng.randrange(len(people))]
        platform = "pingback" if who.platform == "blog" and rng.random() < 0.4 else who.platform
        at = T0 + timedelta(minutes=37 * rng.randrange(n // 2))  # ties: same minute
        out.append(mention(i, platform=platform, author=who, created_at=at))
    return out


def test_links_equal_the_definition_after_out_of_order_writes_replays_and_tombstones(store):
    rules = movement(store)
    ms = _mentions(120)
    rng = random.Random(5)
    shuffled = ms[:]
    rng.shuffle(shuffled)
    with write_tx(store) as conn:
        write_batch(conn, batch(*sorted(ms[:40], key=lambda m: m.created_at)), rules)
    for lo in range(0, 120, 17):  # out of order, in small batches, overlapping the first
        with write_tx(store) as conn:
            write_batch(conn, batch(*shuffled[lo : lo + 17]), rules)
    with write_tx(store) as conn:
        write_batch(conn, batch(*reversed(ms)), rules)  # a replay moves nothing
        tombstone(conn, [(ms[3].platform, ms[3].native_id)], T0 + timedelta(days=9))
    with store.connect() as conn:
        got, want = _links(conn), _expected(conn)
        assert len(got) == 120
        assert sum(p is None for p in got.values()) >= 5  # each author's first, per platform
    assert got == want


@pytest.mark.parametrize("path", ["executemany", "copy"])
@pytest.mark.parametrize("seed", [1, 2])
def test_links_stay_exact_through_a_random_mix_of_writes(store, monkeypatch, path, seed):
    """In-order, out-of-order, equal-time, replayed and repeated matches of a few authors on two
    movements, one or two batches per transaction: after every transaction each link equals
    the definition (`ORDERED`), whether it was set at insert or searched after."""
    monkeypatch.setattr(storage.bulk, "COPY_MIN_ROWS", 1 if path == "copy" else 10**9)
    movement(store)
    rules = movement(store, slug="other", name="Other", hashtags=["OtherTag"], terms=[], urls=[])
    people = _people()
    tags = (["NHSCitizen"], ["OtherTag"], ["NHSCitizen", "OtherTag"])
    rng = random.Random(seed)
    written: list = []
    newest = 0  # minutes after T0 of the stream's newest post
    kinds: dict[str, int] = dict.fromkeys(("in order", "late", "equal", "replay"), 0)
    for n in range(45):
        pages = []
        for _ in range(rng.choice((1, 1, 2))):  # sometimes two batches in one transaction
            page = []
            for _ in range(rng.randrange(1, 14)):
                roll = rng.random()
                if written and roll < 0.15:
                    kind, m = "replay", rng.choice(written)
                else:
                    if roll < 0.6 or not written:
                        kind, newest = "in order", newest + rng.choice((0, 1, 1, 7, 60))
                        at = newest
                    elif roll < 0.8:
                        kind, at = "late", rng.randrange(newest + 1)
                    else:
                        kind = "equal"
                        at = int((rng.choice(written).created_at - T0).total_seconds()) // 60
                    who = people[rng.randrange(len(people))]
                    platform = who.platform
                    if platform == "blog" and rng.random() < 0.4:
                        platform = "pingback"
                    tag = rng.choice(tags)
                    m = mention(
                        len(written) + 1000 * n,
                        platform=platform,
                        author=who,
                        created_at=T0 + timedelta(minutes=at),
                        text="Pledged today " + " ".join(f"#{t}" for t in tag),
                        hashtags=tag,
                    )
                    written.append(m)
                kinds[kind] += 1
                page.append(m)
            pages.append(page)
        with write_tx(store) as conn:
            for page in pages:
                write_batch(conn, batch(*page), rules)
            if rng.random() < 0.1:
                gone = rng.choice(written)
                tombstone(conn, [(gone.platform, gone.native_id)], T0 + timedelta(days=30))
        with store.connect() as conn:
            got, want = _links(conn), _expected(conn)
            cells, want_cells = _cells(conn), _expected_cells(conn)
        assert got == want, (n, {k: (got[k], want[k]) for k in got if got[k] != want[k]})
        assert cells == want_cells, n
    assert min(kinds.values()) >= 10, kinds
    assert len({(mv, p) for (mv, _), p in got.items()}) > 20  # both movements, many links
    assert len(cells[0]) > 10 and cells[1]  # many cells; the blog's pingbacks cross
    assert any(back >= 0 for _, _, _, back in cells[2])  # hours with their previous hour


def test_the_repair_and_the_migration_backfill_give_the_same_links(store):
    rules = movement(store)
    with write_tx(store) as conn:
        write_batch(conn, batch(*reversed(_mentions(60))), rules)
    with store.connect() as conn:
        written = _links(conn)
        cells = _cells(conn)
        assert cells == _expected_cells(conn)
    with write_tx(store) as conn:
        relink_all(conn)
    with store.connect() as conn:
        assert _links(conn) == written
        assert _cells(conn) == cells
    with write_tx(store) as conn:  # the migration's backfill counts the same cells
        conn.execute(CELL.delete())
        conn.execute(CROSS.delete())
        conn.execute(HCELL.delete())
        for sql in (
            *_migration_backfill("0028_people_cells"),
            *_migration_backfill("0061_people_hours"),
        ):
            conn.execute(text(sql))
    with store.connect() as conn:
        assert _cells(conn) == cells
    with write_tx(store) as conn:
        conn.execute(MM.update().values(prev_ts=None))
        for sql in _migration_backfill():
            conn.execute(text(sql))
    with store.connect() as conn:
        assert _links(conn) == written


def test_people_and_instances_of_any_range_equal_distinct_counts_over_the_matches(store):
    rules = movement(store)
    ms = _mentions(150, seed=11)
    with write_tx(store) as conn:
        write_batch(conn, batch(*reversed(ms[75:])), rules)
        write_batch(conn, batch(*ms), rules)
    last = max(int(m.created_at.timestamp()) for m in ms)
    with store.connect() as conn:
        mv = list_movements(conn)[0]["id"]
        rng = random.Random(2)
        for _ in range(25):
            a = T0_TS + rng.randrange(-2 * H, last - T0_TS)
            b = a + rng.choice((37 * 60, 3 * H, 11 * H, 40 * H))
            platforms = rng.choice(((), ("mastodon",), ("blog", "pingback"), ("bluesky", "blog")))
            scope = Scope(mv, a, min(b, last), platforms)  # never past the newest mention
            assert not overview.ends_after_data(conn, scope)
            h = overview.headline(conn, scope)
            where = [MM.c.movement_id == mv, MM.c.created_ts >= a, MM.c.created_ts < scope.end_ts]
            if platforms:
                where.append(MM.c.platform.in_(platforms))
            # People are persons (issue 20): a blog that also sent pingbacks counts once.
            persons = conn.execute(
                select(func.count(func.distinct(A.c.person_id)))
                .select_from(MM.join(A, A.c.id == MM.c.account_id))
                .where(*where)
            ).scalar()
            assert h.people == persons, scope
            instances = conn.execute(
                select(func.count(func.distinct(A.c.instance)))
                .select_from(MM.join(A, A.c.id == MM.c.account_id))
                .where(*where, MM.c.platform == "mastodon")
            ).scalar()
            assert h.instances == instances, scope
            # Widening over the same range: from first matches vs over every match.
            got: tuple[dict, dict] = ({}, {})
            want: tuple[dict, dict] = ({}, {})
            for bucket in (H, 86400):
                amplifiers._widening_matches(conn, scope, bucket, *got)
                amplifiers._widening_raw(conn, scope, bucket, *want)
                assert got == want, (scope, bucket)


def _expected_people(conn, scope: Scope) -> tuple[int, int]:
    """People (distinct persons of the authors, issue 20) and blog sites of a scope, by
    distinct counts over the raw matches."""
    where = [
        MM.c.movement_id == scope.movement_id,
        MM.c.created_ts >= scope.start_ts,
        MM.c.created_ts < scope.end_ts,
    ]
    if scope.platforms:
        where.append(MM.c.platform.in_(scope.platforms))
    per_platform = dict(
        conn.execute(
            select(MM.c.platform, func.count(func.distinct(MM.c.account_id)))
            .where(*where)
            .group_by(MM.c.platform)
        ).all()
    )
    persons = conn.execute(
        select(func.count(func.distinct(A.c.person_id)))
        .select_from(MM.join(A, A.c.id == MM.c.account_id))
        .where(*where)
    ).scalar()
    return int(persons or 0), per_platform.get("blog", 0)


def test_people_and_widening_of_ranges_over_many_days_equal_distinct_counts(store):
    """Ranges of 40 minutes to 20 days (starting on a day, an hour or anywhere; ending before
    or after the newest mention; platform filters), over two movements written out of order,
    replayed, repaired with `relink_all` and written again: people and blog sites of the
    headline (people cells, their start-of-range correction and part-days) and widening's
    active authors per day (cells minus cross-platform authors) equal distinct counts over the
    matches."""
    movement(store)
    rules = movement(store, slug="other", name="Other", hashtags=["OtherTag"], terms=[], urls=[])
    kinds = ("mastodon", "mastodon", "bluesky", "bluesky", "blog", "blog")
    people = [
        account(i, platform=kinds[i % 6], instance=f"i{i % 3}.social" if i % 6 < 2 else None)
        for i in range(14)
    ]
    tags = (["NHSCitizen"], ["OtherTag"], ["NHSCitizen", "OtherTag"])
    rng = random.Random(21)
    ms = []
    for i in range(420):
        who = people[rng.randrange(len(people))]
        platform = who.platform
        if platform == "blog" and rng.random() < 0.4:
            platform = rng.choice(("pingback", "webmention"))
        tag = rng.choice(tags)
        at = T0 + timedelta(minutes=7 * rng.randrange(12 * 24 * 60 // 7))  # 12 days, ties
        ms.append(
            mention(
                i,
                platform=platform,
                author=who,
                created_at=at,
                text="Pledged today " + " ".join(f"#{t}" for t in tag),
                hashtags=tag,
            )
        )
    shuffled = ms[:]
    rng.shuffle(shuffled)
    with write_tx(store) as conn:
        write_batch(conn, batch(*sorted(ms[:150], key=lambda m: m.created_at)), rules)
    for lo in range(100, 300, 25):  # out of order, overlapping what is stored (replays)
        with write_tx(store) as conn:
            write_batch(conn, batch(*shuffled[lo : lo + 25]), rules)
    with write_tx(store) as conn:
        relink_all(conn)
    for lo in range(0, 420, 60):
        with write_tx(store) as conn:
            write_batch(conn, batch(*reversed(shuffled[lo : lo + 60])), rules)
    last = max(int(m.created_at.timestamp()) for m in ms)
    with store.connect() as conn:
        assert _cells(conn) == _expected_cells(conn)
        checked = dict.fromkeys(("past", "ends after", "cells", "residual", "cross", "hours"), 0)
        for mv in [m["id"] for m in list_movements(conn)]:
            for _ in range(30):
                a = T0_TS + rng.randrange(-DAY, 12 * DAY)
                a -= rng.choice((0, a % DAY, a % H))
                b = a + rng.choice(
                    (40 * 60, 5 * H, DAY, 32 * H + 21 * 60, 3 * DAY + 7 * H, 7 * DAY, 20 * DAY)
                )
                platforms = rng.choice(
                    ((), ("mastodon",), ("blog", "pingback"), ("bluesky", "blog", "webmention"))
                )
                scope = Scope(mv, a, b, platforms)
                ends_after = overview.ends_after_data(conn, scope)
                checked["ends after" if ends_after else "past"] += 1
                checked["cells"] += -(-a // DAY) < (b if ends_after else b // DAY * DAY) // DAY
                checked["residual"] += bool(a % DAY) and b - a > 2 * DAY
                # a range with no whole UTC day but whole hours: the hour cells
                checked["hours"] += -(-a // DAY) >= b // DAY and -(-a // H) < b // H
                h = overview.headline(conn, scope)
                assert (h.people, h.blogs) == _expected_people(conn, scope), scope
                got = {
                    r["bucket_ts"] // DAY: (r["active"], r["platforms"], r["instances"])
                    for r in amplifiers.widening(conn, scope)
                }
                active: dict = {}
                inst: dict = {}
                amplifiers._widening_raw(conn, scope, DAY, active, inst)
                want = {d: (n, p, inst.get(d, 0)) for d, (n, p) in active.items()}
                assert got == want, scope
                for d in want:
                    checked["cross"] += (mv, d) in {(m, dd) for m, dd, _ in _cells(conn)[1]}
        assert last < T0_TS + 12 * DAY
    assert min(checked.values()) >= 5, checked


@pytest.mark.postgres
@pytest.mark.parametrize("order", ["shuffled", "in order"])
def test_two_postgres_workers_writing_the_same_authors_keep_the_links_exact(pg_store, order):
    """Two workers write interleaved batches of the same authors at once, shuffled (links
    searched after the insert) or each in time order (links set at insert from the latest
    each read); the per-author row lock taken first serialises them, so no link is lost."""
    rules = movement(pg_store)
    ms = _mentions(240, seed=17)
    rng = random.Random(9)
    halves = [ms[0::2], ms[1::2]]
    for h in halves:
        if order == "shuffled":
            rng.shuffle(h)
        else:
            h.sort(key=lambda m: m.created_at)
    write_concurrently(
        pg_store,
        rules,
        [[batch(*mine[lo : lo + 6]) for lo in range(0, len(mine), 6)] for mine in halves],
    )
    with pg_store.connect() as conn:
        got, want = _links(conn), _expected(conn)
        cells, want_cells = _cells(conn), _expected_cells(conn)
    assert len(got) == 240
    assert got == want
    assert cells == want_cells
