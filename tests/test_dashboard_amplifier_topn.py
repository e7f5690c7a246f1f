"""Amplifier rankings and network without aggregating every edge of the range
(`storage.queries.amplifiers`: upper bounds from `movement_amplifier_period` or, for a range
of a few days, `movement_amplifier_day`, exact counts of the candidates): the same answers as
straight GROUP BYs over the raw edges, on randomised data with part-days, platform filters,
replays and tombstones (SQLite and PostgreSQL); and both rollups equal their recomputation
after replays, undone edges, a recount and a migration."""

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
from storage.recount import recount
from storage.write import tombstone, undo_edges, write_batch
from tests.factories import T0, account, batch, mention, movement

H = 3600
D = 86400
T0_TS = int(T0.timestamp())
_VERSIONS = Path(__file__).parents[1] / "storage/migrations/versions"
PLATFORMS = ("mastodon", "bluesky")
KINDS = ("boost", "repost", "quote", "reply", "link", "pingback")


# Each bounds table and the migration that creates and backfills it.
ROLLUPS = {
    "movement_amplifier_period": "0023_amplifier_periods",
    "movement_amplifier_day": "0057_amplifier_days",
}


def _migration(name: str = "0023_amplifier_periods"):
    spec = importlib.util.spec_from_file_location(f"m{name}", _VERSIONS / f"{name}.py")
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


# T0 is 09:00 UTC: hour h of the store is UTC day T0_DAY + (h + 9) // 24.
SCOPES = [
    (0, 41 * 24, ()),  # everything
    (30.5, 30 * 24 + 7, ("bluesky", "mastodon")),  # 30 days, part-days at both ends
    (24 * 10 + 3, 24 * 17 - 5, ()),  # a week across a period boundary
    (24 * 5, 24 * 12, ("bluesky",)),
    # ranges of at most DAY_LISTS_MAX days, bounded by the day table:
    (24 * 20 + 1, 24 * 20 + 13, ("mastodon",)),  # inside one day
    (24 * 6 + 2, 24 * 7 + 8, ()),  # two days, part-days at both ends (an event window)
    (24 * 8 - 9, 24 * 10 - 9, ()),  # two whole UTC days
    (24 * 13 + 1, 24 * 16 + 10, ("bluesky",)),  # four days, part-days at both ends
    (24 * 33 + 15, 24 * 33 + 15.5, ()),  # half an hour
]


def _days_touched(scope: Scope) -> int:
    return (scope.end_ts - 1) // D - scope.start_ts // D + 1


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


def test_ranges_of_a_few_days_are_bounded_by_their_days_and_longer_ones_by_periods(store):
    """The bounds of a range touching at most `DAY_LISTS_MAX` UTC days are its days' counts:
    each account's exact count when the range is whole days, at least it otherwise; longer
    ranges sum their periods."""
    _write_random_store(store)
    short = 0
    with store.connect() as conn:
        for start, end, platforms in [*SCOPES, (24 * 9 - 9, 24 * 12 - 9, ())]:
            scope = _scope(store, start, end, platforms)
            table = amplifiers._buckets(scope)[0]
            if _days_touched(scope) > amplifiers.DAY_LISTS_MAX:
                assert table.name == "movement_amplifier_period", (start, end)
                continue
            short += 1
            assert table.name == "movement_amplifier_day", (start, end)
            whole = not platforms and scope.start_ts % D == 0 and scope.end_ts % D == 0
            for side in ("dst", "src"):
                exact = {r["a"]: r["total"] for r in _reference(conn, scope, side)}
                bounds = amplifiers._period_bounds(conn, scope, side, _all_accounts(conn))
                bounds = {a: b for a, b in bounds.items() if b}
                if whole:
                    assert bounds == exact, (start, end, side)
                else:
                    assert all(bounds.get(a, 0) >= k for a, k in exact.items()), (start, end)
                    assert sum(bounds.values()) > sum(exact.values())  # part-days cut off
    assert short == 6


def _all_accounts(conn) -> list[int]:
    return [int(a) for (a,) in conn.execute(text("SELECT id FROM account"))]


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


def _periods(conn, table: str = "movement_amplifier_period") -> set[tuple]:
    """The rollup's rows; rows counted down to 0 by undone edges are left out (a
    recomputation writes none, and a bound of 0 bounds nothing)."""
    return {tuple(r) for r in conn.execute(text(f"SELECT * FROM {table} WHERE edges <> 0"))}


def _recomputed(conn, table: str = "movement_amplifier_period") -> set[tuple]:
    """The rollup by its definition: the migration's backfill, run over `movement_edge`."""
    out: set[tuple] = set()
    for sql in _migration(ROLLUPS[table]).BACKFILL:
        out |= {tuple(r) for r in conn.execute(text(sql[sql.index("SELECT") :]))}
    return out


@pytest.mark.parametrize("table", ROLLUPS)
def test_the_rollup_equals_its_recomputation_after_replays_and_tombstones(store, table):
    _write_random_store(store)
    with store.connect() as conn:
        got = _periods(conn, table)
        assert got == _recomputed(conn, table)
    assert {r[1] for r in got} == {"dst", "src"}
    # the data spans three periods, forty days
    assert len({r[2] for r in got}) >= (3 if table == "movement_amplifier_period" else 40)
    _write_random_store(store)  # every batch once more: nothing is counted twice
    with store.connect() as conn:
        assert _periods(conn, table) == got


def test_both_rollups_equal_their_recomputation_after_undone_edges_and_a_repost_again(store):
    """Undone reposts and boosts leave `movement_edge`; both rollups are counted down by
    exactly them, and up again when the edges are seen again."""
    _write_random_store(store)
    with store.connect() as conn:
        before = {t: _periods(conn, t) for t in ROLLUPS}
        ids = [int(e) for (e,) in conn.execute(text("SELECT edge_id FROM movement_edge"))]
    with write_tx(store) as conn:
        removed = undo_edges(conn, [], sorted(ids)[::4], _at(42 * 24))
    assert len(removed) >= 150
    with store.connect() as conn:
        for t in ROLLUPS:
            after = _periods(conn, t)
            assert after == _recomputed(conn, t), t
            assert sum(r[-1] for r in after) < sum(r[-1] for r in before[t])
    _write_random_store(store)  # seen again: the edges hold again
    with store.connect() as conn:
        for t in ROLLUPS:
            assert _periods(conn, t) == _recomputed(conn, t) == before[t], t


def test_a_recount_rebuilds_both_rollups(store):
    """The repair after raw rows were rewritten (`storage.recount`) recomputes the rollups
    from `movement_edge`, whatever they held."""
    _write_random_store(store)
    with store.connect() as conn:
        kept = {t: _periods(conn, t) for t in ROLLUPS}
        mv = list_movements(conn)[0]["id"]
    with write_tx(store) as conn:
        for t in ROLLUPS:
            conn.execute(text(f"UPDATE {t} SET edges = edges + 3 WHERE account_id % 2 = 0"))
            conn.execute(text(f"DELETE FROM {t} WHERE account_id % 3 = 0"))
    with store.connect() as conn:
        assert all(_periods(conn, t) != kept[t] for t in ROLLUPS)
    with write_tx(store) as conn:
        recount(conn, [mv])
    with store.connect() as conn:
        for t in ROLLUPS:
            assert _periods(conn, t) == kept[t], t
            assert kept[t]


@pytest.mark.parametrize("table", ROLLUPS)
def test_the_migration_backfills_a_store_written_before_it(store, table):
    """Downgrade a written store to the revision before the rollup's migration (table and
    indexes gone), upgrade again: the backfilled rollup is what the write path had kept."""
    from alembic import command

    _write_random_store(store)
    with store.connect() as conn:
        kept = _periods(conn, table)
    cfg = alembic_config(store)
    try:
        with store.connect() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, _migration(ROLLUPS[table]).down_revision)
            conn.commit()
        with store.connect() as conn:
            assert table not in inspect(conn).get_table_names()
            assert conn.execute(text("SELECT count(*) FROM movement_edge")).scalar()
    finally:
        upgrade(store)
    with store.connect() as conn:
        assert _periods(conn, table) == kept
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
