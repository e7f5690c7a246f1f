"""Amplifier queries on hand-built networks with known answers (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

from domain.records import EdgeRecord
from storage.engine import write_tx
from storage.queries import amplifiers
from storage.queries.scope import Scope, list_movements
from storage.write import write_batch
from tests.factories import T0, account, batch, mention, movement

H = 3600
D = 86400
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


def _boost(src, target_mention, hours, kind="boost"):
    return EdgeRecord(
        kind=kind,
        platform="mastodon",
        source=src,
        target=(target_mention.platform, target_mention.native_id),
        created_at=_at(hours),
    )


def test_received_and_given_rank_accounts_and_skip_self_amplification(store):
    alice, bob, carol = account(1), account(2), account(3)
    a1 = mention(1, author=alice, created_at=_at(0))
    b1 = mention(2, author=bob, created_at=_at(0))
    edges = [
        _boost(bob, a1, 1),
        _boost(carol, a1, 1),
        _boost(carol, b1, 2),
        _boost(alice, a1, 2),  # self-boost: not counted
        _boost(carol, a1, 3, kind="quote"),
    ]
    _write(store, a1, b1, edges=edges)
    with store.connect() as conn:
        received = amplifiers.ranked_received(conn, _scope(store, 0, 5))
        given = amplifiers.ranked_given(conn, _scope(store, 0, 5))
    assert [(r["handle"], r["total"], r["reposts"], r["quotes"]) for r in received] == [
        ("user1@example.social", 3, 2, 1),
        ("user2@example.social", 1, 1, 0),
    ]
    assert [(r["handle"], r["total"]) for r in given] == [
        ("user3@example.social", 3),
        ("user2@example.social", 1),
    ]


def test_opted_out_accounts_are_left_out_of_the_rankings(store):
    hidden = account(9, noindex=True)
    m = mention(1, author=hidden, created_at=_at(0))
    _write(store, m, edges=[_boost(account(2), m, 1)])
    with store.connect() as conn:
        received = amplifiers.ranked_received(conn, _scope(store, 0, 5))
        net = amplifiers.network(conn, _scope(store, 0, 5))
    assert received == []
    assert {n["label"] for n in net["nodes"]} == {"opted-out account", "user2@example.social"}


def test_the_bridge_between_two_groups_has_the_highest_betweenness():
    # Two triangles {1,2,3} and {5,6,7} joined only through account 4.
    pairs = [(1, 2, 1), (2, 3, 1), (3, 1, 1), (5, 6, 1), (6, 7, 1), (7, 5, 1), (3, 4, 1), (4, 5, 1)]
    accounts = {n: {"handle": f"h{n}", "platform": "mastodon"} for n in range(1, 8)}
    accounts[4]["platform"] = "bluesky"
    net = amplifiers.analyse_network(pairs, accounts)
    top = net["bridges"][0]
    assert top["label"] == "h4"
    assert top["betweenness"] == round(9 / 15, 4)  # 9 of 15 shortest paths pass through it
    assert top["platforms"] == 2


def test_the_network_is_bounded_to_the_most_active_accounts():
    pairs = [(i, 0, 1) for i in range(1, 400)]
    net = amplifiers.analyse_network(pairs, {}, max_nodes=50)
    assert len(net["nodes"]) == 50
    assert any(n["id"] == 0 and n["received"] == 49 for n in net["nodes"])


def test_new_voices_per_day_counts_first_appearances(store):
    _write(
        store,
        mention(1, author=account(1), created_at=_at(1)),
        mention(2, author=account(2), created_at=_at(2)),
        mention(3, author=account(1), created_at=_at(25)),
        mention(4, author=account(3), created_at=_at(26)),
    )
    with store.connect() as conn:
        rows = amplifiers.new_voices_per_day(conn, _scope(store, 0, 48))
    day0 = T0_TS // D * D
    assert [(r["bucket_ts"], r["authors"]) for r in rows] == [(day0, 2), (day0 + D, 1)]


def test_widening_splits_first_time_and_returning_authors_per_day(store):
    _write(
        store,
        mention(1, author=account(1, instance="a.social"), created_at=_at(1)),
        mention(2, author=account(2, instance="b.social"), created_at=_at(2)),
        mention(3, author=account(1, instance="a.social"), created_at=_at(25)),
        mention(4, author=account(3, instance="a.social"), created_at=_at(26)),
        mention(5, platform="bluesky", author=account(5, platform="bluesky"), created_at=_at(27)),
    )
    with store.connect() as conn:
        rows = amplifiers.widening(conn, _scope(store, 0, 48))
    assert [
        (r["active"], r["first_time"], r["returning"], r["instances"], r["platforms"]) for r in rows
    ] == [(2, 2, 0, 2, 1), (3, 2, 1, 1, 2)]
