"""'Crossing between platforms' says only what the data shows: the first mention ever (or
that it was before the range), and where a platform's conversation came from only when an
edge shows the crossing."""

from __future__ import annotations

from storage.queries import spread
from tests.factories import account, mention
from tests.test_dashboard_spread_queries import _at, _link, _scope, _write


def test_no_platform_is_said_to_come_from_another_without_an_edge(store):
    _write(
        store,
        mention(1, created_at=_at(1)),
        mention(2, platform="bluesky", author=account(2, platform="bluesky"), created_at=_at(3)),
    )
    with store.connect() as conn:
        rows = spread.first_appearance(conn, _scope(store, 0, 10))
    assert [(r["platform"], r["from_platform"]) for r in rows] == [
        ("mastodon", None),
        ("bluesky", None),
    ]


def test_a_platform_comes_from_the_one_its_first_amplifier_linked_to(store):
    toot = mention(1, created_at=_at(1))
    blogger = account(4, platform="blog")
    post = mention(4, platform="blog", author=blogger, created_at=_at(4.5))
    _write(store, toot, post, edges=[_link("link", blogger, toot, _at(4))])
    with store.connect() as conn:
        rows = spread.first_appearance(conn, _scope(store, 0, 10))
    assert [(r["platform"], r["from_platform"]) for r in rows] == [
        ("mastodon", None),
        ("blog", "mastodon"),
    ]


def test_a_range_that_starts_after_the_first_mention_says_it_started_before(store):
    _write(store, mention(1, created_at=_at(1)), mention(2, created_at=_at(6)))
    with store.connect() as conn:
        (row,) = spread.first_appearance(conn, _scope(store, 5, 10))
    assert row["first_ts"] == int(_at(6).timestamp())
    assert row["before_range"] is True
    assert row["first_ever_ts"] == int(_at(1).timestamp())
