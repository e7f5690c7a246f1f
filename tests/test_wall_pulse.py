"""The pulse's figures come from rollups and covering indexes; they must equal what the raw rows
say. Each test computes the figure the straightforward way (read the mention, match, edge and
account rows, count in Python) on a small hand-built day and compares it with the query the
wall runs, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import pytest
from sqlalchemy import select

from domain.records import Batch, EdgeRecord, MentionRecord
from groundswell.wall import day_start_ts
from storage.catalog import load_rules
from storage.engine import write_tx
from storage.models import Account, Amplification, Mention, MentionMatch, Movement
from storage.queries import wall as q
from storage.write import tombstone, write_batch
from tests.factories import account, movement

# 09:30 UTC is 15:00 in Kolkata, whose day began at 18:30 UTC the day before: not on the hour,
# so the rollup's whole hours need the part-hour before them from the raw index.
NOW = datetime.fromisoformat("2026-11-02T09:30:00+00:00")
ZONES = ("UTC", "Asia/Kolkata")
WALLS = (None, "nhscitizen", "changeday")

A, B, C = account(1), account(2), account(3, platform="bluesky")
SHY = account(4, noindex=True)  # opted out: counted in aggregates, never named
E = account(5)
AMPS = {k: account(10 + i) for i, k in enumerate("fgijk")}
LOUD_SHY = account(20, noindex=True)
CIT, CHG = ["NHSCitizen"], ["NHSChangeDay"]


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text + "+00:00")


def _post(
    n: int,
    when: str,
    author,
    tags,
    *,
    platform: str = "mastodon",
    instance: str | None = None,
) -> MentionRecord:
    return MentionRecord(
        platform=platform,
        native_id=f"{platform}:post/{n}",
        created_at=_at(when),
        author=author,
        text=f"post {n} " + " ".join(f"#{t}" for t in tags),
        hashtags=list(tags),
        instance=instance,
    )


POSTS = [
    _post(1, "2026-11-01T12:00:00", A, CIT, instance="one.example"),  # before either day
    _post(10, "2026-11-01T18:10:00", C, CIT + CHG, platform="bluesky"),  # same hour, before
    _post(2, "2026-11-01T18:45:00", B, CIT + CHG, instance="Two.Example"),  # Kolkata's part-hour
    _post(3, "2026-11-01T19:10:00", C, CHG, platform="bluesky"),  # Kolkata's today only
    _post(4, "2026-11-02T00:00:00", A, CIT + CHG, instance="two.example"),  # UTC midnight
    _post(5, "2026-11-02T08:00:00", SHY, CIT, instance="three.example"),  # opted out
    _post(6, "2026-11-02T09:22:00", E, CIT, instance="one.example"),  # deleted below
    _post(11, "2026-11-02T09:22:40", B, CIT),  # same minute as 6, other second
    _post(7, "2026-11-02T09:25:00", None, CIT, platform="webmention", instance=""),  # no author
    _post(8, "2026-11-02T09:29:00", B, CHG, instance="ONE.example"),
    _post(9, "2026-11-02T10:05:00", A, CIT, instance="one.example"),  # a clock ahead of ours
]
GONE = [("mastodon", "mastodon:post/6")]


def _edge(src, target: int, when: str, kind: str = "boost") -> EdgeRecord:
    p = next((p for p in POSTS if p.native_id.endswith(f"/{target}")), None)
    key = (p.platform, p.native_id) if p else ("mastodon", f"mastodon:post/{target}")
    return EdgeRecord(kind, "mastodon", src, key, _at(when))


EDGES = [
    _edge(AMPS["f"], 4, "2026-11-02T01:00:00"),
    _edge(AMPS["f"], 5, "2026-11-02T08:10:00"),
    _edge(AMPS["f"], 8, "2026-11-02T09:29:30"),
    _edge(AMPS["g"], 4, "2026-11-02T02:00:00"),
    _edge(AMPS["g"], 6, "2026-11-02T09:23:00"),
    _edge(AMPS["g"], 2, "2026-11-01T18:50:00"),  # today in Kolkata only
    *[_edge(LOUD_SHY, t, "2026-11-02T03:00:00") for t in (1, 2, 4, 5, 6)],
    _edge(AMPS["i"], 1, "2026-11-01T12:30:00"),  # yesterday
    _edge(AMPS["i"], 4, "2026-11-02T04:00:00"),
    _edge(AMPS["j"], 4, "2026-11-02T05:00:00"),  # j is hidden by the moderators
    _edge(AMPS["j"], 5, "2026-11-02T05:00:00"),
    _edge(AMPS["k"], 3, "2026-11-01T19:20:00"),  # Change Day's bluesky post
    _edge(AMPS["k"], 8, "2026-11-02T09:29:40"),
    _edge(AMPS["k"], 99, "2026-11-02T06:00:00"),  # a post we never stored
]


@pytest.fixture
def day(store):
    movement(store)
    movement(store, slug="changeday", name="NHS Change Day", hashtags=CHG, terms=[], urls=[])
    with store.connect() as conn:
        rules = load_rules(conn)
    with write_tx(store) as conn:
        write_batch(conn, Batch(mentions=POSTS[:6]), rules, now=NOW)
        write_batch(conn, Batch(mentions=POSTS[6:], edges=EDGES), rules, now=NOW)
        tombstone(conn, GONE, NOW)
    return store


def _ids(conn, slug):
    mv = {r[1]: r[0] for r in conn.execute(select(Movement.id, Movement.slug))}
    return mv, (mv[slug] if slug else None)


def _raw(conn, movement_id):
    """Every mention of the wall's scope as plain tuples: the oracle's input."""
    m, mm = Mention.__table__, MentionMatch.__table__
    rows = conn.execute(
        select(m.c.id, m.c.platform, m.c.account_id, m.c.instance, m.c.created_ts, m.c.deleted_at)
    ).all()
    matches = conn.execute(select(mm.c.movement_id, mm.c.mention_id)).all()
    wanted = {mid for mv, mid in matches if movement_id is None or mv == movement_id}
    return [r for r in rows if r[0] in wanted], matches, rows


def _raw_pulse(conn, movement_id, now_ts, start):
    mine, matches, rows = _raw(conn, movement_id)
    today = [r for r in mine if r[4] >= start]
    firsts: dict[int, int] = {}
    by_id = {r[0]: r for r in rows}
    for mv, mid in matches:
        r = by_id[mid]
        if r[2] is not None and (movement_id is None or mv == movement_id):
            firsts[r[2]] = min(firsts.get(r[2], r[4]), r[4])
    hosts = Counter(r[3].lower() for r in today if r[3])
    return {
        "mentions_10m": sum(1 for r in mine if r[4] >= now_ts - 600),
        "mentions_today": len(today),
        "people_today": len({r[2] for r in today if r[2] is not None}),
        "new_voices_today": sum(1 for ts in firsts.values() if ts >= start),
        "platforms_today": Counter(r[1].lower() for r in today),
        "instances_today": len(hosts),
        "top_instances": sorted(hosts.items(), key=lambda kv: (-kv[1], kv[0]))[:8],
    }


def _figures(conn, movement_id, now_ts, start):
    f = q.pulse(conn, movement_id=movement_id, now_ts=now_ts, day_start_ts=start)
    return {
        "mentions_10m": f.mentions_10m,
        "mentions_today": f.mentions_today,
        "people_today": f.people_today,
        "new_voices_today": f.new_voices_today,
        "platforms_today": Counter(dict(f.platforms_today)),
        "instances_today": f.instances_today,
        "top_instances": f.top_instances,
    }


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("wall", WALLS)
def test_the_days_figures_equal_a_count_of_the_raw_rows(day, wall, zone):
    now_ts, start = int(NOW.timestamp()), day_start_ts(NOW, zone)
    with day.connect() as conn:
        _, mv = _ids(conn, wall)
        expected = _raw_pulse(conn, mv, now_ts, start)
        assert _figures(conn, mv, now_ts, start) == expected
    assert expected["mentions_today"] > 0 and expected["instances_today"] > 0


@pytest.mark.parametrize("wall", WALLS)
def test_the_rolling_volume_equals_the_raw_rows_per_minute_and_platform(day, wall):
    now_ts = int(NOW.timestamp())
    with day.connect() as conn:
        _, mv = _ids(conn, wall)
        mine, _, _ = _raw(conn, mv)
        expected = Counter((r[4] // 60 * 60, r[1]) for r in mine if r[4] >= now_ts - 3600)
        got = q.volume_by_minute(conn, movement_id=mv, now_ts=now_ts)
    assert len(got) == len(expected)  # one row per minute and platform
    assert Counter({(t, p): n for t, p, n in got}) == expected
    assert [t for t, _, _ in got] == sorted(t for t, _, _ in got)


def _raw_amplifiers(conn, movement_id, start, hidden, limit):
    e, a = Amplification.__table__, Account.__table__
    mine, _, _ = _raw(conn, movement_id)
    in_scope = {r[0] for r in mine}
    shy = {
        r[0]
        for r in conn.execute(select(a.c.id, a.c.noindex, a.c.no_unauthenticated))
        if r[1] or r[2]
    } | {
        r[0]
        for r in conn.execute(select(a.c.id, a.c.platform, a.c.discoverable))
        if r[1] == "mastodon" and r[2] is False
    }
    known = {r[0] for r in conn.execute(select(a.c.id))}
    counts = Counter(
        src
        for src, target, ts in conn.execute(
            select(e.c.source_account_id, e.c.target_mention_id, e.c.created_ts)
        )
        if ts >= start and (movement_id is None or target in in_scope)
    )
    ranked = sorted(
        ((n, acc) for acc, n in counts.items() if acc in known and acc not in shy | hidden),
        key=lambda x: (-x[0], x[1]),
    )
    return [(acc, n) for n, acc in ranked[:limit]]


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("wall", WALLS)
def test_top_amplifiers_equal_the_raw_edges_without_opted_out_or_hidden_accounts(day, wall, zone):
    start = day_start_ts(NOW, zone)
    hidden = {AMPS["j"].id}
    with day.connect() as conn:
        _, mv = _ids(conn, wall)
        for limit in (1, 2, 5):
            got = q.top_amplifiers(
                conn, movement_id=mv, since_ts=start, limit=limit, hidden_accounts=sorted(hidden)
            )
            expected = _raw_amplifiers(conn, mv, start, hidden, limit)
            assert [(x.account_id, x.amplifications) for x in got] == expected
    assert LOUD_SHY.id not in {x.account_id for x in got}


def test_deleted_posts_and_opted_out_authors_still_count_in_the_figures(day):
    start = day_start_ts(NOW, "UTC")
    with day.connect() as conn:
        f = q.pulse(conn, movement_id=None, now_ts=int(NOW.timestamp()), day_start_ts=start)
    # Today (UTC): posts 4, 5 (opted out), 6 (deleted), 11, 7 (no author), 8, 9.
    assert f.mentions_today == 7
    assert f.people_today == 4  # A, SHY, E, B
    assert f.mentions_10m == 5  # 6, 11, 7, 8 and 9 (from a clock ahead)
    assert dict(f.top_instances) == {"one.example": 3, "two.example": 1, "three.example": 1}


def test_leaders_who_opted_out_do_not_push_the_next_amplifier_off_the_list(store):
    """More opted-out leaders than the first page of candidates holds: the query pages on."""
    rules = movement(store)
    target = _post(1, "2026-11-02T08:00:00", A, CIT)
    shy = [account(100 + i, noindex=True) for i in range(30)]
    edges = [
        EdgeRecord(kind, "mastodon", s, (target.platform, target.native_id), NOW)
        for s in shy
        for kind in ("boost", "quote")
    ]
    edges.append(EdgeRecord("boost", "mastodon", E, (target.platform, target.native_id), NOW))
    with write_tx(store) as conn:
        write_batch(conn, Batch(mentions=[target], edges=edges), rules, now=NOW)
    with store.connect() as conn:
        got = q.top_amplifiers(conn, movement_id=None, since_ts=0, limit=1)
    assert [(x.account_id, x.amplifications) for x in got] == [(E.id, 1)]
