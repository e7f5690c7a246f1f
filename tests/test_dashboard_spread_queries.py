"""Spread queries on hand-built conversations with known answers (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

from storage.engine import write_tx
from storage.queries import spread
from storage.queries.scope import Scope, list_movements
from storage.records import EdgeRecord
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
    assert rows[2]["from_platform"] == "bluesky"


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


def test_build_cascades_measures_size_and_depth():
    # 1 <- 2 <- 3 (reply chain), 1 <- 4 (quote), two boosts of 3; 10 <- 11 alone.
    links = [(2, 1), (3, 2), (4, 1), (11, 10)]
    reposts = {"boost": {3: 2}, "repost": {20: 4}}  # 20: a lone star
    stats = spread.build_cascades(links, reposts)
    assert [(t.root, t.size, t.depth) for t in stats.largest] == [(1, 6, 3), (20, 5, 1), (10, 2, 1)]
    assert stats.count == 3
    assert stats.histogram == {(6, 3): 1, (5, 1): 1, (2, 1): 1}


def test_build_cascades_survives_a_reply_cycle_in_hostile_data():
    stats = spread.build_cascades([(1, 2), (2, 1)], {})
    assert sum(t.size for t in stats.largest) == 2


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


def _raw_cascades(engine, scope: Scope):
    """The reference: the movement's edges of the range straight from `amplification` (not
    the `movement_edge` rollup, not its index), links with their meta, reposts counted per
    (post, kind), measured by the tree-walking implementation of tests/test_cascade_build.py."""
    from sqlalchemy import text

    from tests.test_cascade_build import _reference

    platforms = scope.platforms or ("mastodon", "bluesky", "blog", "pingback", "webmention")
    sql = text(
        "SELECT via_mention_id, target_mention_id, kind, created_ts, platform FROM amplification "
        "WHERE target_mention_id IN (SELECT mention_id FROM mention_match WHERE movement_id = :mv)"
        " AND created_ts >= :a AND created_ts < :b AND platform IN :p"
    ).bindparams(__import__("sqlalchemy").bindparam("p", expanding=True))
    with engine.connect() as conn:
        rows = conn.execute(
            sql, {"mv": scope.movement_id, "a": scope.start_ts, "b": scope.end_ts, "p": platforms}
        ).all()
    links = sorted(
        (tuple(r) for r in rows if r[2] in spread.THREAD_KINDS and r[0] is not None),
        key=lambda r: spread.THREAD_KINDS.index(r[2]),  # read order: replies, then quotes
    )
    counts: dict[tuple[int, str], int] = {}
    for r in rows:
        if r[2] in spread.REPOST_KINDS:
            counts[(r[1], r[2])] = counts.get((r[1], r[2]), 0) + 1
    reposts = [(t, k, n) for k in spread.REPOST_KINDS for (t, kk), n in counts.items() if kk == k]
    return _reference(links, reposts, draw=3)


def _comparable(largest, trees):
    return largest, [
        (t["root"], t["size"], t["depth"], sorted(map(repr, t["nodes"]))) for t in trees
    ]


def test_cascades_equal_the_reference_on_random_conversations_ranges_and_platforms(store):
    """Random replies, quotes (some posts both reply and quote), reposts and boosts on two
    platforms, written in batches whose edges may come before their posts, one batch replayed;
    every range (part-days included) and platform filter gives what the raw edges give."""
    import random

    rng = random.Random(9)
    people = {p: [account(i, platform=p) for i in range(1, 9)] for p in ("mastodon", "bluesky")}
    posts = []
    for i, h in enumerate(sorted(rng.uniform(0, 70) for _ in range(70))):
        p = rng.choice(("mastodon", "bluesky"))
        posts.append(mention(i, platform=p, author=rng.choice(people[p]), created_at=_at(h)))

    def edge(kind, m, target, at, source=None, via=None):
        source = source or m.author
        return EdgeRecord(kind=kind, platform=m.platform, source=source, target=_key(target),
                          via=via, created_at=at)  # fmt: skip

    edges = []
    for i, m in enumerate(posts[1:], start=1):
        for kind in ("reply", "quote"):
            if rng.random() < 0.45:
                par = posts[rng.randrange(max(0, i - 8), i)]
                edges.append(edge(kind, m, par, m.created_at, via=_key(m)))
    for _ in range(120):
        m = rng.choice(posts)
        at = m.created_at + timedelta(hours=rng.uniform(0, 6))
        kind = rng.choice(("repost", "boost"))
        edges.append(edge(kind, m, m, at, source=rng.choice(people[m.platform])))
    rng.shuffle(edges)
    thirds = [(posts[k::3], edges[k::3]) for k in range(3)]
    for k, (ms, es) in enumerate(thirds):
        _write(store, *ms, edges=es)
        if k == 1:
            _write(store, *ms, edges=es)  # a replay changes nothing
    ranges = [(0, 80), (0, 24), (24, 48)]
    ranges += [(rng.uniform(0, 40), rng.uniform(40, 80)) for _ in range(6)]
    # ranges starting and ending exactly at an edge (the start is in, the end is out)
    stamps = sorted({int(e.created_at.timestamp()) for e in edges})
    cuts = [(stamps[i], stamps[i + 55]) for i in range(5, len(stamps) - 55, 40)]
    ranges += [((a - T0_TS) / H, (b - T0_TS) / H) for a, b in cuts]
    seen_trees = 0
    with store.connect() as conn:
        for start, end in ranges:
            for platforms in ((), ("mastodon",), ("bluesky",), ("bluesky", "mastodon")):
                scope = _scope(store, start, end, platforms)
                scope = scope.shifted(T0_TS + round(start * H), T0_TS + round(end * H))
                got = spread.cascades(conn, scope)
                want = _raw_cascades(store, scope)
                assert got["count"] == want.count
                assert {(h["size"], h["depth"]): h["cascades"] for h in got["histogram"]} == dict(
                    want.histogram
                )
                largest = [{"root": c.root, "size": c.size, "depth": c.depth} for c in want.largest]
                trees = [{"root": c.root, "size": c.size, "depth": c.depth, "nodes": c.nodes}
                         for c in want.drawn]  # fmt: skip
                assert _comparable(got["largest"], got["trees"]) == _comparable(largest, trees)
                seen_trees += sum(t["depth"] > 1 for t in got["trees"])
    assert seen_trees  # the data holds real trees, not only stars
