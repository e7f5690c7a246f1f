"""Spread queries on hand-built conversations with known answers (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

from domain.records import EdgeRecord
from storage.engine import write_tx
from storage.queries import spread
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


def _key(m):
    return (m.platform, m.native_id)


def test_first_appearance_per_platform_gives_the_crossing_delays(store):
    _write(
        store,
        mention(1, created_at=_at(1)),
        mention(2, created_at=_at(0.5)),
        mention(3, platform="bluesky", created_at=_at(3)),
        mention(4, platform="blog", author=account(4, platform="blog"), created_at=_at(4.5)),
    )
    with store.connect() as conn:
        rows = spread.first_appearance(conn, _scope(store, 0, 10))
    assert [(r["platform"], r["after_first_s"], r["after_previous_s"]) for r in rows] == [
        ("mastodon", 0, 0),
        ("bluesky", int(2.5 * H), int(2.5 * H)),
        ("blog", 4 * H, int(1.5 * H)),
    ]
    # Second in time is no evidence of a crossing (tests/test_dashboard_crossing.py)
    assert [r["from_platform"] for r in rows] == [None, None, None]


def test_cumulative_authors_start_from_everyone_seen_before_and_add_each_at_their_first(store):
    a, b, c = account(1), account(2), account(3)
    _write(
        store,
        mention(1, author=a, created_at=_at(0.1)),
        mention(2, author=a, created_at=_at(1.1)),
        mention(3, author=b, created_at=_at(1.2)),
        mention(4, author=c, created_at=_at(2.5)),
        mention(5, author=b, created_at=_at(2.6)),
    )
    with store.connect() as conn:
        rows = spread.cumulative_authors(conn, _scope(store, 1, 3), 3600)
    assert [(r["bucket_ts"] - T0_TS, r["new"], r["cumulative"]) for r in rows] == [
        (H, 0, 1),  # alice, first seen before the range
        (H, 1, 2),  # bob
        (2 * H, 1, 3),  # carol; alice and bob coming back add nobody
    ]


def test_footprint_starts_from_places_reached_before_the_range(store):
    _write(
        store,
        mention(1, author=account(1, instance="a.social"), created_at=_at(0)),
        mention(2, author=account(2, instance="a.social"), created_at=_at(2)),
        mention(3, author=account(3, instance="b.social"), created_at=_at(2.5)),
        mention(4, author=account(4, instance="c.social"), created_at=_at(3.5)),
        mention(
            5,
            platform="blog",
            author=account(5, platform="blog", instance="blog.org"),
            created_at=_at(3.2),
        ),
    )
    with store.connect() as conn:
        fp = spread.footprint(conn, _scope(store, 2, 4), 3600)
    assert fp["before"] == {"mastodon": 1, "blog": 0}
    assert [(r["kind"], r["cumulative"]) for r in fp["rows"]] == [
        ("mastodon", 2),
        ("blog", 1),
        ("mastodon", 3),
    ]
    assert [p["place"] for p in fp["places"]] == ["b.social", "blog.org", "c.social"]


def _link(kind, src, target, at, via=None):
    return EdgeRecord(kind=kind, platform=target.platform, source=src, target=_key(target),
                      via=via and _key(via), created_at=at)  # fmt: skip


def test_cascades_measure_size_and_depth(store):
    # 1 <- 2 <- 3 (reply chain), 1 <- 4 (quote), two boosts of 3; 10 <- 11 alone; 20 reposted
    # four times (a lone star). Same answers as before the definition change (every root is
    # in the range).
    m = {i: mention(i, author=account(i), created_at=_at(i / 10)) for i in (1, 2, 3, 4, 10, 11, 20)}
    edges = [
        _link("reply", m[2].author, m[1], _at(1), via=m[2]),
        _link("reply", m[3].author, m[2], _at(1), via=m[3]),
        _link("quote", m[4].author, m[1], _at(1), via=m[4]),
        _link("reply", m[11].author, m[10], _at(2), via=m[11]),
        *(_link("boost", account(40 + i), m[3], _at(3)) for i in range(2)),
        *(_link("repost", account(50 + i), m[20], _at(3)) for i in range(4)),
    ]
    _write(store, *m.values(), edges=edges)
    with store.connect() as conn:
        cas = spread.cascades(conn, _scope(store, 0, 5))
    ids = {i: m[i].id for i in m}
    assert [(t["root"], t["size"], t["depth"]) for t in cas["largest"]] == [
        (ids[1], 6, 3),
        (ids[20], 5, 1),
        (ids[10], 2, 1),
    ]
    assert cas["count"] == 3
    assert {(h["size"], h["depth"]): h["cascades"] for h in cas["histogram"]} == {
        (6, 3): 1,
        (5, 1): 1,
        (2, 1): 1,
    }


def test_cascades_survive_a_reply_cycle_in_hostile_data(store):
    a = mention(1, author=account(1), created_at=_at(0.1))
    b = mention(2, author=account(2), created_at=_at(0.2))
    _write(store, a, b, edges=[_link("reply", a.author, b, _at(1), via=a),
                               _link("reply", b.author, a, _at(1), via=b)])  # fmt: skip
    with store.connect() as conn:
        cas = spread.cascades(conn, _scope(store, 0, 5))
    # the cycle is cut above its smallest post id, which becomes the root
    assert cas["largest"] == [{"root": min(a.id, b.id), "size": 2, "depth": 1}]


def test_a_cascade_belongs_to_its_root_posts_time_and_keeps_growing(store):
    """The definition change of 26 Nov 2026: a tree is in the range of its root post, with
    every reply and repost stored since (before, it was the edges created in the range)."""
    root = mention(1, author=account(1), created_at=_at(0.5))
    reply = mention(2, author=account(2), created_at=_at(30))
    _write(store, root, reply, edges=[_link("reply", reply.author, root, _at(30), via=reply)])
    with store.connect() as conn:
        assert spread.cascades(conn, _scope(store, 0, 1))["largest"] == [
            {"root": root.id, "size": 2, "depth": 1}
        ]
        assert spread.cascades(conn, _scope(store, 29, 31))["count"] == 0
    _write(store, edges=[_link("boost", account(3), reply, _at(40))])
    with store.connect() as conn:
        assert spread.cascades(conn, _scope(store, 0, 1))["largest"] == [
            {"root": root.id, "size": 3, "depth": 2}
        ]


def test_cascades_are_built_from_the_amplification_edges_in_the_store(store):
    root = mention(1, author=account(1), created_at=_at(0))
    reply = mention(2, author=account(2), created_at=_at(0.5), reply_to=_key(root))
    quote = mention(3, author=account(3), created_at=_at(1))
    lone = mention(4, author=account(4), created_at=_at(1))
    edges = [
        EdgeRecord(
            kind="reply",
            platform="mastodon",
            source=account(2),
            target=_key(root),
            via=_key(reply),
            created_at=_at(0.5),
        ),
        EdgeRecord(
            kind="quote",
            platform="mastodon",
            source=account(3),
            target=_key(root),
            via=_key(quote),
            created_at=_at(1),
        ),
        EdgeRecord(
            kind="boost",
            platform="mastodon",
            source=account(5),
            target=_key(reply),
            created_at=_at(1.5),
        ),
        EdgeRecord(
            kind="boost",
            platform="mastodon",
            source=account(6),
            target=_key(reply),
            created_at=_at(1.6),
        ),
    ]
    _write(store, root, reply, quote, lone, edges=edges)
    with store.connect() as conn:
        cas = spread.cascades(conn, _scope(store, 0, 5))
    assert cas["count"] == 1
    assert cas["largest"] == [{"root": root.id, "size": 5, "depth": 2}]


def test_streamed_rows_equal_the_whole_result_across_chunk_boundaries(store):
    from sqlalchemy import literal_column, select, union_all

    from storage.queries.scope import plain_rows, stream_rows

    stmt = union_all(*(select(literal_column(str(i)).label("n")) for i in range(10)))
    with store.connect() as conn:
        whole = sorted(plain_rows(conn, stmt))
        streamed = list(stream_rows(conn, stmt, chunk=3))
        assert sorted(streamed) == whole and len(streamed) == 10
        # two streams open at once on one connection (cascades read links, then reposts)
        a, b = stream_rows(conn, stmt, chunk=4), stream_rows(conn, stmt, chunk=4)
        assert next(a) is not None and next(b) is not None
        assert len(list(a)) == 9 and len(list(b)) == 9
