"""Overview queries on small hand-built conversations with known answers (SQLite and PG)."""

from __future__ import annotations

from datetime import timedelta

from storage.engine import write_tx
from storage.queries import overview
from storage.queries.scope import Scope
from storage.write import write_batch
from tests.factories import T0, account, batch, mention, movement

H = 3600
T0_TS = int(T0.timestamp())


def _write(engine, *mentions, rules=None):
    rules = rules or movement(engine)
    with write_tx(engine) as conn:
        write_batch(conn, batch(*mentions), rules)
    return rules


def _scope(engine, start: int, end: int, platforms=()) -> Scope:
    from storage.queries.scope import list_movements

    with engine.connect() as conn:
        mv = list_movements(conn)[0]["id"]
    return Scope(mv, start, end, tuple(platforms))


def _at(hours: float):
    return T0 + timedelta(hours=hours)


def test_headline_counts_mentions_people_platforms_instances_and_blogs(store):
    alice = account(1, instance="mastodon.social")
    bob = account(2, instance="kolektiva.social")
    carol = account(3, platform="bluesky")
    blog = account(4, platform="blog")
    _write(
        store,
        mention(1, author=alice, created_at=_at(0)),
        mention(2, author=alice, created_at=_at(1)),
        mention(3, author=bob, created_at=_at(2)),
        mention(4, platform="bluesky", author=carol, created_at=_at(3)),
        mention(5, platform="blog", author=blog, created_at=_at(4)),
    )
    with store.connect() as conn:
        h = overview.headline(conn, _scope(store, T0_TS, T0_TS + 10 * H))
    assert h.as_dict() == {
        "mentions": 5,
        "people": 4,
        "new_voices": 4,
        "platforms": 3,
        "instances": 2,
        "blogs": 1,
    }


def test_new_voices_are_authors_whose_first_mention_ever_is_in_the_range(store):
    alice, bob = account(1), account(2)
    _write(
        store,
        mention(1, author=alice, created_at=_at(0)),  # alice first seen before the range
        mention(2, author=alice, created_at=_at(5)),
        mention(3, author=bob, created_at=_at(6)),
    )
    with store.connect() as conn:
        h = overview.headline(conn, _scope(store, T0_TS + 4 * H, T0_TS + 10 * H))
    assert (h.people, h.new_voices) == (2, 1)


def test_change_is_measured_against_the_equally_long_period_before(store):
    _write(
        store,
        mention(1, created_at=_at(0.5)),  # previous period [0h, 2h)
        mention(2, created_at=_at(2.5)),  # current period [2h, 4h)
        mention(3, created_at=_at(3.0)),
        mention(4, created_at=_at(3.5)),
    )
    with store.connect() as conn:
        ch = overview.headline_with_change(conn, _scope(store, T0_TS + 2 * H, T0_TS + 4 * H))
    assert ch["mentions"] == {"value": 3, "previous": 1, "change": 2}


def test_platform_filter_restricts_every_number(store):
    _write(
        store,
        mention(1, created_at=_at(0)),
        mention(2, platform="bluesky", created_at=_at(1)),
    )
    with store.connect() as conn:
        h = overview.headline(conn, _scope(store, T0_TS, T0_TS + 5 * H, ["bluesky"]))
    assert (h.mentions, h.platforms, h.instances) == (1, 1, 0)


def test_volume_buckets_sum_to_the_headline_even_with_partial_hours_at_the_edges(store):
    _write(store, *(mention(i, created_at=_at(i * 0.25)) for i in range(1, 21)))
    start, end = T0_TS + 1800, T0_TS + 4 * H + 900  # not hour-aligned on purpose
    sc = _scope(store, start, end)
    with store.connect() as conn:
        rows = overview.volume_by_platform(conn, sc, 3600)
        total = overview.headline(conn, sc).mentions
    assert sum(r["mentions"] for r in rows) == total == 15
    assert [r["bucket_ts"] for r in rows] == [T0_TS + k * H for k in range(5)]


def test_top_posts_rank_by_engagement_and_never_show_opted_out_accounts(store):
    hidden = account(9, noindex=True)
    _write(
        store,
        mention(1, like_count=3, created_at=_at(0)),
        mention(2, like_count=50, author=hidden, created_at=_at(1)),
        mention(3, like_count=10, reply_count=2, created_at=_at(2)),
    )
    with store.connect() as conn:
        posts = overview.top_posts(conn, _scope(store, T0_TS, T0_TS + 5 * H))
        counted = overview.headline(conn, _scope(store, T0_TS, T0_TS + 5 * H)).mentions
    assert [p["engagement"] for p in posts] == [12, 3]
    assert counted == 3


def test_first_seen_places_names_platforms_and_instances_new_in_the_range(store):
    _write(
        store,
        mention(1, author=account(1, instance="a.social"), created_at=_at(0)),
        mention(2, author=account(2, instance="b.social"), created_at=_at(3)),
        mention(3, platform="bluesky", author=account(3, platform="bluesky"), created_at=_at(3)),
    )
    with store.connect() as conn:
        places = overview.first_seen_places(conn, _scope(store, T0_TS + 2 * H, T0_TS + 4 * H))
    assert sorted((p["place"], p["kind"]) for p in places) == [
        ("b.social", "mastodon"),
        ("bluesky", "platform"),
    ]


def test_new_voices_list_withholds_opted_out_handles(store):
    _write(
        store,
        mention(1, author=account(1), created_at=_at(0)),
        mention(2, author=account(2, discoverable=False), created_at=_at(1)),
    )
    with store.connect() as conn:
        voices = overview.new_voices(conn, _scope(store, T0_TS, T0_TS + 5 * H))
    assert [v["handle"] for v in voices] == ["user1@example.social"]


def test_dashboard_sessions_get_enough_work_mem_on_postgresql(store):
    from sqlalchemy import text

    from storage.engine import make_engine
    from storage.queries.scope import tune_for_dashboard

    engine = tune_for_dashboard(make_engine(store.url.render_as_string(hide_password=False)))
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            assert conn.execute(text("SHOW work_mem")).scalar() == "64MB"
            assert conn.execute(text("SHOW jit")).scalar() == "off"
        else:
            assert conn.execute(text("SELECT 1")).scalar() == 1  # a no-op on SQLite
    engine.dispose()


def test_dashboard_sessions_plan_every_execution_for_its_own_parameters_on_postgresql(store):
    """A page's statements run many times per connection with other ranges and value lists;
    a generic prepared plan (psycopg prepares from the fifth run) turned "what travels" for
    an event window from 0.3 s into 20-40 s at 1M mentions."""
    from sqlalchemy import text

    from storage.engine import make_engine
    from storage.queries.scope import tune_for_dashboard

    engine = tune_for_dashboard(make_engine(store.url.render_as_string(hide_password=False)))
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            assert conn.execute(text("SHOW plan_cache_mode")).scalar() == "force_custom_plan"
        else:
            assert conn.execute(text("SELECT 1")).scalar() == 1  # a no-op on SQLite
    engine.dispose()
