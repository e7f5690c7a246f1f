"""Amplifier rankings and network without aggregating every edge of the range
(`storage.queries.amplifiers`: period upper bounds from `movement_amplifier_period`, exact
counts of the candidates): the same answers as straight GROUP BYs over the raw edges, on
randomised data with part-days, platform filters, replays and tombstones (SQLite and
PostgreSQL); and the period rollup equals its recomputation, also after a migration."""

from __future__ import annotations

import importlib.util
import random
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from domain.records import EdgeRecord
from storage.engine import write_tx
from storage.migrate import alembic_config, upgrade
from storage.queries import amplifiers
from storage.queries.scope import Scope, list_movements
from storage.write import tombstone, write_batch
from tests.factories import T0, account, batch, mention, movement

H = 3600
D = 86400
T0_TS = int(T0.timestamp())
_VERSIONS = Path(__file__).parents[1] / "storage/migrations/versions"
PLATFORMS = ("mastodon", "bluesky")
KINDS = ("boost", "repost", "quote", "reply", "link", "pingback")


def _migration():
    spec = importlib.util.spec_from_file_location("m0023", _VERSIONS / "0023_amplifier_periods.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _at(hours: float):
    return T0 + timedelta(hours=hours)


def _write_random_store(engine, seed: int = 11) -> None:
    """~40 days (three 16-day periods) of a skewed amplification network: edges stored before
    and after their targets, pages replayed, a target tombstoned, self-amplification and
    edges whose target no movement matches."""
    rules = movement(engine)
    rng = random.Random(seed)
    people = [account(i, platform=PLATFORMS[i % 2]) for i in range(1, 41)]
    posts = [
        mention(
            i,
            platform=people[i % 40].platform,
            author=people[i % 40],
            created_at=_at(rng.uniform(0, 40 * 24)),
        )
        for i in range(120)
    ]
    # A few accounts receive and give most: weights by rank, as on the benchmark store.
    weights = [1 / (k + 1) for k in range(40)]
    edges = []
    for _ in range(900):
        src = rng.choices(people, weights)[0]
        target = rng.choices(posts, [weights[i % 40] for i in range(120)])[0]
        edges.append(
            EdgeRecord(
                rng.choice(KINDS),
                rng.choice(PLATFORMS),
                src,
                (target.platform, target.native_id),
                _at(rng.uniform(0, 40 * 24)),
                target_account=target.author if rng.random() < 0.5 else None,
            )
        )
    edges.append(
        EdgeRecord("link", "bluesky", people[0], ("blog", "https://else.example/x"), _at(3))
    )
    pages = [edges[i : i + 150] for i in range(0, len(edges), 150)]
    with write_tx(engine) as conn:  # edges before their targets
        write_batch(conn, batch(edges=pages[0]), rules)
    for k in range(0, 120, 30):
        with write_tx(engine) as conn:
            write_batch(conn, batch(*posts[k : k + 30], edges=pages[1 + k // 30]), rules)
    with write_tx(engine) as conn:  # every page again, and the rest
        for page in pages:
            write_batch(conn, batch(*posts[:10], edges=page), rules)
        tombstone(conn, [(posts[1].platform, posts[1].native_id)], _at(41 * 24))


def _scope(engine, start_h: float, end_h: float, platforms=()) -> Scope:
    with engine.connect() as conn:
        mv = list_movements(conn)[0]["id"]
    return Scope(mv, T0_TS + int(start_h * H), T0_TS + int(end_h * H), tuple(platforms))


SCOPES = [
    (0, 41 * 24, ()),  # everything
    (30.5, 30 * 24 + 7, ("bluesky", "mastodon")),  # 30 days, part-days at both ends
    (24 * 10 + 3, 24 * 17 - 5, ()),  # a week across a period boundary
    (24 * 20 + 1, 24 * 20 + 13, ("mastodon",)),  # inside one day
    (24 * 5, 24 * 12, ("bluesky",)),
]

_GROUPS = {
    "reposts": "('repost', 'boost')",
    "quotes": "('quote')",
    "replies": "('reply')",
    "links": "('link', 'pingback', 'webmention')",
}


def _reference(conn, scope: Scope, side: str) -> list[dict]:
    """GROUP BY account over the raw edges of the scope (amplification -> the target's match
    -> its mention), self-amplification and unknown targets left out; ties by account id."""
    dst = "coalesce(a.target_account_id, m.account_id)"
    who = dst if side == "dst" else "a.source_account_id"
    plat = ""
    if scope.platforms:
        plat = "AND a.platform IN (" + ", ".join(f"'{p}'" for p in scope.platforms) + ")"
    split = ", ".join(
        f"sum(CASE WHEN a.kind IN {k} THEN 1 ELSE 0 END) AS {g}" for g, k in _GROUPS.items()
    )
    rows = conn.execute(
        text(
            f"SELECT {who} AS who, count(*) AS total, {split} "
            "FROM amplification a JOIN mention_match mm ON mm.mention_id = a.target_mention_id "
            "JOIN mention m ON m.id = a.target_mention_id "
            f"WHERE mm.movement_id = :mv AND a.created_ts >= :s AND a.created_ts < :e {plat} "
            f"AND {dst} IS NOT NULL AND a.source_account_id <> {dst} "
            f"GROUP BY {who} ORDER BY count(*) DESC, {who}"
        ),
        {"mv": scope.movement_id, "s": scope.start_ts, "e": scope.end_ts},
    )
    return [
        {"a": r.who, "total": r.total, **{g: int(r._mapping[g]) for g in _GROUPS}} for r in rows
    ]


def _reference_pairs(conn, scope: Scope, chosen: set[int]) -> set[tuple[int, int, int]]:
    dst = "coalesce(a.target_account_id, m.account_id)"
    plat = ""
    if scope.platforms:
        plat = "AND a.platform IN (" + ", ".join(f"'{p}'" for p in scope.platforms) + ")"
    rows = conn.execute(
        text(
            f"SELECT a.source_account_id, {dst}, count(*) "
            "FROM amplification a JOIN mention_match mm ON mm.mention_id = a.target_mention_id "
            "JOIN mention m ON m.id = a.target_mention_id "
            f"WHERE mm.movement_id = :mv AND a.created_ts >= :s AND a.created_ts < :e {plat} "
            f"AND {dst} IS NOT NULL AND a.source_account_id <> {dst} "
            f"GROUP BY a.source_account_id, {dst}"
        ),
        {"mv": scope.movement_id, "s": scope.start_ts, "e": scope.end_ts},
    )
    return {(s, t, n) for s, t, n in rows if s in chosen and t in chosen}


def _no_direct_ranking(monkeypatch) -> None:
    """Every range through the period bounds, however few edges it holds."""
    monkeypatch.setattr(amplifiers, "DIRECT_MAX_EDGES", {"sqlite": 0, "postgresql": 0})


@pytest.mark.parametrize("first_depth", [1, 3, 256, None])
def test_rankings_equal_a_group_by_over_the_raw_edges(store, monkeypatch, first_depth):
    """Whatever depth the period lists are first read to (1: many rounds, ties at the bound),
    the top n is the GROUP BY's first n rows, kind split included; and so is the direct
    grouping of a range with few edges (None)."""
    _write_random_store(store)
    if first_depth is not None:
        _no_direct_ranking(monkeypatch)
        monkeypatch.setattr(amplifiers, "FIRST_DEPTH", first_depth)
    with store.connect() as conn:
        for start, end, platforms in SCOPES:
            scope = _scope(store, start, end, platforms)
            for side in ("dst", "src"):
                want = _reference(conn, scope, side)
                assert want, (scope, side)
                for n in (1, 5, 17, 60):
                    assert amplifiers._top_accounts(conn, scope, side, n) == want[:n]


def test_the_network_is_the_edges_among_the_top_of_both_rankings(store):
    _write_random_store(store)
    with store.connect() as conn:
        for start, end, platforms in SCOPES:
            scope = _scope(store, start, end, platforms)
            chosen = {r["a"] for side in ("dst", "src") for r in _reference(conn, scope, side)[:6]}
            net = amplifiers.summary(conn, scope, limit=3, max_nodes=12)["network"]
            want = _reference_pairs(conn, scope, chosen)
            got = {(e["source"], e["target"], e["weight"]) for e in net["edges"]}
            assert got == want
            assert {n["id"] for n in net["nodes"]} == {x for s, t, _ in want for x in (s, t)}


def _periods(conn) -> set[tuple]:
    return {tuple(r) for r in conn.execute(text("SELECT * FROM movement_amplifier_period"))}


def _recomputed(conn) -> set[tuple]:
    out: set[tuple] = set()
    for sql in _migration().BACKFILL:
        out |= {tuple(r) for r in conn.execute(text(sql[sql.index("SELECT") :]))}
    return out


def test_the_period_rollup_equals_its_recomputation_after_replays_and_tombstones(store):
    _write_random_store(store)
    with store.connect() as conn:
        got = _periods(conn)
        assert got == _recomputed(conn)
    assert {r[1] for r in got} == {"dst", "src"}
    assert len({r[2] for r in got}) >= 3  # the data spans three periods
    _write_random_store(store)  # every batch once more: nothing is counted twice
    with store.connect() as conn:
        assert _periods(conn) == got


def test_migration_0023_backfills_a_store_written_before_it(store):
    """Downgrade a written store to the revision before 0023 (table and indexes gone),
    upgrade again: the backfilled rollup is what the write path had kept."""
    from alembic import command

    _write_random_store(store)
    with store.connect() as conn:
        kept = _periods(conn)
    cfg = alembic_config(store)
    try:
        with store.connect() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, _migration().down_revision)
            conn.commit()
        with store.connect() as conn:
            assert "movement_amplifier_period" not in inspect(conn).get_table_names()
            assert conn.execute(text("SELECT count(*) FROM movement_edge")).scalar()
    finally:
        upgrade(store)
    with store.connect() as conn:
        assert _periods(conn) == kept
    assert kept


def test_an_unread_account_tied_with_the_last_read_one_wins_by_its_smaller_id(store, monkeypatch):
    """Two accounts received two edges each; a list read one row deep shows the larger id
    first, and only a strict comparison with the bound goes on to find the smaller one."""
    rules = movement(store)
    a, b, fan = account(1), account(2), [account(i) for i in range(3, 7)]
    pa, pb = mention(1, author=a, created_at=_at(0)), mention(2, author=b, created_at=_at(0))

    def boost(src, post):
        return EdgeRecord("boost", "mastodon", src, (post.platform, post.native_id), _at(1))

    edges = [boost(fan[0], pa), boost(fan[1], pa), boost(fan[2], pb), boost(fan[3], pb)]
    with write_tx(store) as conn:
        write_batch(conn, batch(pa, pb, edges=edges), rules)
    _no_direct_ranking(monkeypatch)
    monkeypatch.setattr(amplifiers, "FIRST_DEPTH", 1)
    scope = _scope(store, 0, 5)
    with store.connect() as conn:
        top = amplifiers._top_accounts(conn, scope, "dst", 1)
    assert [(r["a"], r["total"]) for r in top] == [(min(a.id, b.id), 2)]
