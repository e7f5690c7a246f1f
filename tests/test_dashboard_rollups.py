"""The dashboard rollups (storage/models_rollups.py) always equal a recomputation from the raw
rows, whatever order, repetition or deletion the writes came in (SQLite and PostgreSQL); and
the headline numbers read from them equal the distinct counts over the matches."""

from __future__ import annotations

import importlib.util
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select, text

from domain.records import EdgeRecord
from storage.engine import write_tx
from storage.models import Account, MentionMatch
from storage.queries import amplifiers, overview, spread
from storage.queries.scope import Scope, list_movements
from storage.write import tombstone, write_batch
from tests.factories import T0, account, batch, mention, movement

H = 3600
T0_TS = int(T0.timestamp())
_VERSIONS = Path(__file__).parents[1] / "storage/migrations/versions"


def _backfill(name: str) -> tuple[str, ...]:
    spec = importlib.util.spec_from_file_location(name, _VERSIONS / f"{name}.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return tuple(mod.BACKFILL)


BACKFILL = (
    _backfill("0021_footprint_kind")  # movement_place's current definition (was 0011's first)
    + _backfill("0011_dashboard_rollups")[1:]
    + _backfill("0012_dashboard_edges")
    + _backfill("0013_dashboard_days")
    + _backfill("0026_instance_hours")
)
TABLES = (
    "movement_place",
    "movement_author_platform",
    "movement_place_active",
    "movement_edge",
    "movement_author_day",
    "movement_platform_day",
    "movement_instance_day",
    "movement_instance_hour",
)


def _at(hours: float):
    return T0 + timedelta(hours=hours)


def _rollups(conn) -> dict[str, set[tuple]]:
    return {t: {tuple(r) for r in conn.execute(text(f"SELECT * FROM {t}"))} for t in TABLES}


def _recomputed(conn) -> dict[str, set[tuple]]:
    """What the migration's backfill (the definition) gives from the raw rows now."""
    out = {}
    for t, sql in zip(TABLES, BACKFILL, strict=True):
        query = sql[sql.index("SELECT") :]
        out[t] = {tuple(r) for r in conn.execute(text(query))}
    return out


def _write_separately(store, rules, *batches) -> None:
    """Each list of mentions as its own batch in its own transaction (separate collector runs)."""
    for ms in batches:
        with write_tx(store) as conn:
            write_batch(conn, batch(*ms), rules)


def _conversation():
    alice = account(1, instance="mastodon.social")
    bob = account(2, instance="kolektiva.social")
    carol = account(3, platform="bluesky")
    site = account(4, platform="blog", instance="blog.example.org")
    return [
        mention(1, author=alice, created_at=_at(5)),
        mention(2, author=alice, created_at=_at(1)),
        mention(3, author=bob, created_at=_at(2)),
        mention(4, platform="bluesky", author=carol, created_at=_at(3)),
        mention(5, platform="blog", author=site, created_at=_at(4)),
        mention(6, platform="pingback", author=site, created_at=_at(0.5)),
    ]


def _edges(ms):
    """A boost of alice's post (target account known), a reply to bob's (author from the
    post), a boost by bob of carol's post, and a link to a post no movement matches."""
    alice, bob, carol = ms[0].author, ms[2].author, ms[3].author

    def key(m):
        return (m.platform, m.native_id)

    return [
        EdgeRecord("boost", "mastodon", bob, key(ms[0]), _at(6), target_account=alice),
        EdgeRecord("reply", "mastodon", alice, key(ms[2]), _at(6), via=key(ms[1])),
        EdgeRecord("repost", "bluesky", bob, key(ms[3]), _at(7)),
        EdgeRecord("link", "blog", carol, ("blog", "https://elsewhere.example/x"), _at(7)),
    ]


def test_rollups_equal_the_raw_recomputation_after_replays_reordering_and_tombstones(store):
    rules = movement(store)
    ms = _conversation()
    # Out of order (newest first), replayed, and the same statuses seen through another
    # instance (same native id, another seen_on): only new matches may move the rollups.
    edges = _edges(ms)
    # Edges first (their targets not stored yet), then their targets, then everything again.
    with write_tx(store) as conn:
        write_batch(conn, batch(ms[0], edges=edges), rules)
    with write_tx(store) as conn:
        write_batch(conn, batch(*ms[:3]), rules)
    with write_tx(store) as conn:
        write_batch(conn, batch(*ms, edges=edges), rules)
    for m in ms:
        m.seen_on = "another.instance"
    with write_tx(store) as conn:
        write_batch(conn, batch(*reversed(ms)), rules)
        tombstone(conn, [(ms[0].platform, ms[0].native_id)], _at(9))
    with store.connect() as conn:
        got, want = _rollups(conn), _recomputed(conn)
    assert got == want
    assert len(got["movement_edge"]) == 3  # the edge to an unmatched post is not the movement's
    assert len(got["movement_author_platform"]) == 5  # the blog wrote on blog and pingback


def test_the_footprint_lists_the_places_of_the_raw_author_rows(store):
    rules = movement(store)
    ms = _conversation()
    with write_tx(store) as conn:
        write_batch(conn, batch(*ms[3:]), rules)
    with write_tx(store) as conn:
        write_batch(conn, batch(*ms), rules)
    with store.connect() as conn:
        mv = list_movements(conn)[0]["id"]
        fp = spread.footprint(conn, Scope(mv, T0_TS + H, T0_TS + 10 * H), 3600)
        raw = conn.execute(
            text(
                "SELECT coalesce(a.instance, a.native_id), a.platform, min(ma.first_ts) "
                "FROM movement_author ma JOIN account a ON a.id = ma.account_id "
                "WHERE a.platform IN ('mastodon', 'blog') GROUP BY 1, 2"
            )
        ).all()
    assert fp["before"] == {"mastodon": 0, "blog": 1}  # the site, first seen at 0:30
    assert {(p["place"], p["kind"], p["first_ts"]) for p in fp["places"]} == {
        tuple(r) for r in raw if r[2] >= T0_TS + H
    }
    assert len(fp["places"]) == 2


def test_headline_of_a_range_ending_after_the_newest_mention_equals_distinct_counts(store):
    rules = movement(store)
    with write_tx(store) as conn:
        write_batch(conn, batch(*_conversation()), rules)
    mm = MentionMatch.__table__
    acc = Account.__table__
    with store.connect() as conn:
        mv = list_movements(conn)[0]["id"]
        for start_h, platforms in (
            (0, ()),
            (1.5, ()),
            (3.5, ("blog", "pingback")),
            (2, ("mastodon",)),
        ):
            ending_now = Scope(mv, T0_TS + int(start_h * H), T0_TS + 24 * H, platforms)
            assert overview.ends_after_data(conn, ending_now)
            h = overview.headline(conn, ending_now)
            where = [
                mm.c.movement_id == mv,
                mm.c.created_ts >= ending_now.start_ts,
                *([mm.c.platform.in_(platforms)] if platforms else []),
            ]
            per_platform = conn.execute(
                select(mm.c.platform, func.count(), func.count(func.distinct(mm.c.account_id)))
                .where(*where)
                .group_by(mm.c.platform)
            ).all()
            assert h.mentions == sum(n for _, n, _ in per_platform)
            # People are persons (issue 20): the blog that wrote on blog and pingback is one
            # site, so one person, where the accounts per platform summed count it twice.
            persons = conn.execute(
                select(func.count(func.distinct(acc.c.person_id)))
                .select_from(mm.join(acc, acc.c.id == mm.c.account_id))
                .where(*where)
            ).scalar()
            assert h.people == persons
            assert h.platforms == len(per_platform)
            # The same range cut before the newest mention takes the raw path; it agrees too.
            cut = overview.headline(
                conn, ending_now.shifted(ending_now.start_ts, T0_TS + 5 * H + 1)
            )
            assert cut == h


def test_widening_from_the_day_rollups_equals_distinct_counts_over_the_matches(store):
    rules = movement(store)
    people = [
        account(1, instance="mastodon.social"),
        account(2, instance="kolektiva.social"),
        account(3, platform="bluesky"),
        account(4, platform="blog", instance="blog.example.org"),
    ]
    ms = []
    for i in range(40):  # every 7 hours for ~12 days, people and platforms rotating
        who = people[i % 4]
        platform = "pingback" if i % 8 == 7 else who.platform
        ms.append(mention(i, platform=platform, author=who, created_at=_at(7 * i)))
    with write_tx(store) as conn:
        write_batch(conn, batch(*reversed(ms[10:])), rules)
        write_batch(conn, batch(*ms), rules)
    end_of_data = T0_TS + 7 * 39 * H + 1
    with store.connect() as conn:
        mv = list_movements(conn)[0]["id"]
        for start_h, end_ts, platforms in (
            (5, end_of_data + 3 * H, ()),  # ends after the data: the last day from the rollup
            (5, end_of_data - 20 * H, ()),  # ends mid-day before the last mention
            (-9, end_of_data + 50 * H, ("mastodon", "pingback")),
            (30, T0_TS + 40 * H, ()),  # inside part-days only
        ):
            scope = Scope(mv, T0_TS + start_h * H, end_ts, platforms)
            got = amplifiers.widening(conn, scope)
            raw_active: dict = {}
            raw_inst: dict = {}
            amplifiers._widening_raw(conn, scope, 86400, raw_active, raw_inst)
            assert len(got) == len(raw_active) > 0
            for row in got:
                b = row["bucket_ts"] // 86400
                assert (row["active"], row["platforms"]) == raw_active[b]
                assert row["instances"] == raw_inst.get(b, 0)


def test_a_blog_whose_first_match_was_its_pingback_is_a_blog_site_reached_then(store):
    """The demo's blogs ping first and post later, in separate batches: the footprint must still
    list every blog site (it listed 9 of 16 when the kind came from the first match)."""
    rules = movement(store)
    site = account(4, platform="blog", instance="blog.example.org")
    _write_separately(
        store,
        rules,
        [mention(6, platform="pingback", author=site, created_at=_at(2))],
        [mention(5, platform="blog", author=site, created_at=_at(4))],
    )
    with store.connect() as conn:
        mv = list_movements(conn)[0]["id"]
        fp = spread.footprint(conn, Scope(mv, T0_TS, T0_TS + 10 * H), 3600)
        assert _rollups(conn) == _recomputed(conn)
    assert fp["places"] == [
        {"place": "blog.example.org", "kind": "blog", "first_ts": T0_TS + 2 * H}
    ]


def test_an_author_is_first_seen_on_the_platform_of_its_earliest_match_in_any_order(store):
    """A blog's pingback written first, its older entry backfilled later (and, in one batch,
    listed after a later match): the author was first seen on the blog."""
    from storage.models import MovementAuthor

    rules = movement(store)
    site = account(4, platform="blog", instance="blog.example.org")
    other = account(5, platform="blog", instance="other.example.org")
    _write_separately(
        store,
        rules,
        [mention(6, platform="pingback", author=site, created_at=_at(5))],
        [mention(5, platform="blog", author=site, created_at=_at(2))],
        [
            mention(8, platform="pingback", author=other, created_at=_at(7)),
            mention(7, platform="blog", author=other, created_at=_at(3)),
        ],
    )
    t = MovementAuthor.__table__
    with store.connect() as conn:
        got = dict(conn.execute(select(t.c.account_id, t.c.platform)).all())
    assert set(got.values()) == {"blog"}
    # migration 0022 repairs a store written before: the same answer from the matches
    spec = importlib.util.spec_from_file_location(
        "m0022", _VERSIONS / "0022_author_first_platform.py"
    )
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    with write_tx(store) as conn:
        conn.execute(t.update().values(platform="pingback"))
        conn.execute(text(mod.REPAIR))
    with store.connect() as conn:
        assert set(conn.execute(select(t.c.platform)).scalars()) == {"blog"}
