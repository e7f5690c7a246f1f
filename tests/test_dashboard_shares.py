"""What travels with the conversation (storage/shares.py, storage/queries/shares.py): the
rollups equal their own recount whatever order and repetition the writes came in, the top
lists equal a count over the raw mentions for ranges cut anywhere, URLs count by their
canonical identity, and a link to a withheld post is never listed (SQLite and PostgreSQL)."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta

from sqlalchemy import event, text

from domain.matching import normalise_hashtag
from storage.engine import write_tx
from storage.queries.scope import Scope, list_movements
from storage.queries.shares import travels
from storage.recount import recount
from storage.shares import rebuild, share_keys
from storage.write import tombstone, write_batch
from tests.factories import T0, account, batch, mention, movement

H = 3600
T0_TS = int(T0.timestamp())
TABLES = ("movement_share_day", "movement_share_hour", "movement_share_total")
DOMAINS = ("nhs.uk", "www.bbc.co.uk", "theguardian.com", "pledge.example.org", "a.example")
TAGS = ("NHS", "nhs", "Health", "CareNotCuts", "ＮＨＳ", "vote", "NHSCitizen")


def _rows(conn) -> dict[str, set[tuple]]:
    return {t: {tuple(r) for r in conn.execute(text(f"SELECT * FROM {t}"))} for t in TABLES}


def _conversation(n: int = 80, seed: int = 3):
    """`n` mentions over three days on three platforms, linking to a few pages (spelled
    several ways) and carrying a few hashtags."""
    rng = random.Random(seed)
    out = []
    for i in range(1, n + 1):
        platform = rng.choice(("mastodon", "bluesky", "mastodon", "blog"))
        author = account(i % 9, platform=platform, instance="mastodon.social")
        if platform == "blog":
            author = account(i % 9, platform="blog", instance=f"blog{i % 3}.example")
        links = [
            f"https://{rng.choice(DOMAINS)}/page{rng.randint(1, 4)}"
            + rng.choice(("", "/", "?utm_source=x", "#top"))
            for _ in range(rng.randint(0, 2))
        ]
        tags = ["NHSCitizen", *rng.sample(TAGS, rng.randint(0, 3))]
        m = mention(
            i,
            platform=platform,
            author=author,
            created_at=T0 + timedelta(seconds=rng.randint(0, 3 * 86400)),
            links=links,
            hashtags=tags,
        )
        if platform == "blog":
            m.native_id = f"https://blog{i % 3}.example/entry/{i}"
        out.append(m)
    return out


def _write(store, rules, *batches) -> None:
    for ms in batches:
        with write_tx(store) as conn:
            write_batch(conn, batch(*ms), rules)


def test_share_rollups_equal_their_recount_after_replays_reordering_and_other_instances(store):
    rules = movement(store)
    ms = _conversation()
    _write(store, rules, ms[40:], ms[:50], list(reversed(ms)))
    for m in ms:
        m.seen_on = "another.instance"
    _write(store, rules, ms)
    with store.connect() as conn:
        written = _rows(conn)
    with write_tx(store) as conn:
        rebuild(conn)
    with store.connect() as conn:
        rebuilt = _rows(conn)
    assert written == rebuilt
    assert sum(r[-1] for r in written["movement_share_day"] if r[1] == "tag") == sum(
        len({normalise_hashtag(t) for t in m.hashtags}) for m in ms
    )


def test_the_repair_path_restores_share_rollups_that_were_lost(store):
    rules = movement(store)
    _write(store, rules, _conversation(30))
    with store.connect() as conn:
        before = _rows(conn)
        mv = list_movements(conn)[0]["id"]
    with write_tx(store) as conn:
        conn.execute(text("DELETE FROM movement_share_day WHERE kind = 'url'"))
        conn.execute(text("UPDATE movement_share_hour SET n = n + 5"))
        recount(conn, [mv])
    with store.connect() as conn:
        assert _rows(conn) == before


def _brute(ms, scope: Scope, tracked: set[str]) -> dict[str, Counter]:
    out: dict[str, Counter] = {"domain": Counter(), "url": Counter(), "tag": Counter()}
    for m in ms:
        ts = int(m.created_at.timestamp())
        if not scope.start_ts <= ts < scope.end_ts:
            continue
        if scope.platforms and m.platform not in scope.platforms:
            continue
        for kind, value in share_keys(m.links, m.hashtags):
            if kind == "tag" and value in tracked:
                continue
            out[kind][value] += 1
    return out


def test_top_lists_equal_a_count_over_the_raw_mentions_for_ranges_cut_anywhere(store):
    rules = movement(store)
    ms = _conversation(120, seed=5)
    _write(store, rules, ms)
    with store.connect() as conn:
        mv = list_movements(conn)[0]["id"]
        for start, end, platforms in (
            (T0_TS, T0_TS + 3 * 86400 + 1, ()),  # everything
            (T0_TS + 1234, T0_TS + 2 * 86400 + 4321, ()),  # part-days and part-hours at both ends
            (T0_TS + 15 * H + 59, T0_TS + 16 * H + 1, ()),  # inside one hour and a bit
            (T0_TS + 20 * H, T0_TS + 52 * H, ("mastodon", "blog")),  # whole hours, a whole day
            (T0_TS - 86400, T0_TS + 86400 * 5 - 61, ("bluesky",)),
        ):
            scope = Scope(mv, start, end, platforms)
            got = travels(conn, scope, limit=1000)
            want = _brute(ms, scope, {"nhscitizen"})
            for kind in ("domain", "url", "tag"):
                assert {r["value"]: r["mentions"] for r in got[kind]} == dict(want[kind]), kind
            # A short list is the head of the long one (largest first, ties by value).
            top3 = travels(conn, scope, limit=3)
            for kind in ("domain", "url", "tag"):
                assert top3[kind] == got[kind][:3]


def test_one_page_spelled_many_ways_counts_as_one_url_and_www_as_one_domain(store):
    rules = movement(store)
    spellings = (
        "https://www.BBC.co.uk/news/nhs?utm_source=twitter&utm_medium=social",
        "https://www.bbc.co.uk/news/nhs/",
        "https://www.bbc.co.uk/news/nhs#comments",
        "https://bbc.co.uk/news/nhs?fbclid=abc",
    )
    ms = [
        mention(i, created_at=T0 + timedelta(minutes=i), links=[u], hashtags=["NHSCitizen", "NHS"])
        for i, u in enumerate(spellings, 1)
    ]
    _write(store, rules, ms)
    with store.connect() as conn:
        mv = list_movements(conn)[0]["id"]
        got = travels(conn, Scope(mv, T0_TS, T0_TS + 86400))
    assert got["url"] == [
        {"value": "https://www.bbc.co.uk/news/nhs", "mentions": 3},
        {"value": "https://bbc.co.uk/news/nhs", "mentions": 1},
    ]
    assert got["domain"] == [{"value": "bbc.co.uk", "mentions": 4}]
    # The movement's own hashtag is on every post: only the others co-occur.
    assert got["tag"] == [{"value": "nhs", "mentions": 4}]


def test_a_link_to_a_withheld_post_is_never_listed_but_still_counted_in_its_domain(store):
    rules = movement(store)
    quiet = account(5, instance="example.social", noindex=True)  # opted out of indexing
    loud = account(6, instance="example.social")
    opted = mention(50, author=quiet, created_at=T0)  # .../users/u/statuses/50
    deleted = mention(51, author=loud, created_at=T0)
    shown = mention(52, author=loud, created_at=T0)
    links = [
        "https://example.social/@u/50",  # the opted-out post's page
        "https://example.social/users/u/statuses/51",  # the deleted post's URI
        "https://example.social/@u/52",  # a post that may be shown
    ]
    sharers = [mention(i, created_at=T0 + timedelta(minutes=i), links=links) for i in range(1, 4)]
    _write(store, rules, [opted, deleted, shown], sharers)
    with write_tx(store) as conn:
        tombstone(conn, [("mastodon", deleted.native_id)], T0 + timedelta(hours=1))
    with store.connect() as conn:
        mv = list_movements(conn)[0]["id"]
        got = travels(conn, Scope(mv, T0_TS - 60, T0_TS + 86400))
    assert [r["value"] for r in got["url"]] == ["https://example.social/@u/52"]
    assert got["domain"] == [{"value": "example.social", "mentions": 3}]


def test_a_long_tail_is_not_grouped_when_the_all_time_counts_prove_the_top(store):
    """Three hashtags used often and hundreds used once: the top three are counted by value
    from the values with the largest all-time counts, and equal the count over every mention
    (no ranking of every row of the range)."""
    rules = movement(store)
    shared = {"bigtag": 40, "midtag": 25, "smalltag": 12}
    ms, i = [], 0
    for tag, times in shared.items():
        for _ in range(times):
            i += 1
            at = T0 + timedelta(seconds=(i * 977) % (2 * 86400))
            ms.append(mention(i, created_at=at, hashtags=["NHSCitizen", tag]))
    for j in range(400):  # the tail: one mention each
        i += 1
        at = T0 + timedelta(seconds=(j * 431) % (2 * 86400))
        ms.append(mention(i, created_at=at, hashtags=["NHSCitizen", f"tail{j}"]))
    _write(store, rules, ms)
    ranked: list[str] = []

    def seen(_conn, _cur, statement, parameters, *_args) -> None:
        values = parameters.values() if isinstance(parameters, dict) else parameters
        if "tag" in values and "ORDER BY" in statement and "movement_share_day" in statement:
            ranked.append(statement)

    with store.connect() as conn:
        mv = list_movements(conn)[0]["id"]
        scope = Scope(mv, T0_TS + 1234, T0_TS + 2 * 86400 - 99)
        event.listen(store, "before_cursor_execute", seen)
        try:
            got = travels(conn, scope, limit=3)
        finally:
            event.remove(store, "before_cursor_execute", seen)
        want = _brute(ms, scope, {"nhscitizen"})["tag"]
    assert got["tag"] == [{"value": v, "mentions": n} for v, n in want.most_common(3)]
    assert [r["value"] for r in got["tag"]] == list(shared)
    assert ranked == []  # the rows of the range were never ranked


def _tags_with_a_tail(shared: dict[str, int], outside: dict[str, int], span_s: int):
    """Mentions carrying `shared` tags (each that many times) inside the first `span_s`
    seconds after T0 + 1234, `outside` tags that many times a week later, and 400 tags used
    once each inside."""
    ms, i = [], 0
    for tag, times in shared.items():
        for _ in range(times):
            i += 1
            at = T0 + timedelta(seconds=1234 + (i * 977) % span_s)
            ms.append(mention(i, created_at=at, hashtags=["NHSCitizen", tag]))
    for tag, times in outside.items():
        for _ in range(times):
            i += 1
            at = T0 + timedelta(days=7, seconds=i)
            ms.append(mention(i, created_at=at, hashtags=["NHSCitizen", tag]))
    for j in range(400):
        i += 1
        at = T0 + timedelta(seconds=1234 + (j * 431) % span_s)
        ms.append(mention(i, created_at=at, hashtags=["NHSCitizen", f"tail{j}"]))
    return ms


def _ranked_statements(store, fn) -> list[str]:
    """The statements `fn` sends that rank a range's tag rows (GROUP BY ... ORDER BY)."""
    ranked: list[str] = []

    def seen(_conn, _cur, statement, parameters, *_args) -> None:
        values = parameters.values() if isinstance(parameters, dict) else parameters
        tables = "movement_share_" in statement and "movement_share_total" not in statement
        if "tag" in values and "ORDER BY" in statement and tables:
            ranked.append(statement)

    event.listen(store, "before_cursor_execute", seen)
    try:
        fn()
    finally:
        event.remove(store, "before_cursor_execute", seen)
    return ranked


def test_an_event_of_thirty_hours_without_a_whole_day_is_counted_by_value_too(store):
    """An event of 30 hours over midnight has no whole UTC day: its hour rows hold the long
    tail, and the all-time counts prove its top without ranking them (1M store: an event
    grouped 35k-100k hour rows per kind)."""
    rules = movement(store)
    ms = _tags_with_a_tail({"bigtag": 40, "midtag": 25, "smalltag": 12}, {}, 30 * H)
    _write(store, rules, ms)
    with store.connect() as conn:
        mv = list_movements(conn)[0]["id"]
        scope = Scope(mv, T0_TS + 1234, T0_TS + 1234 + 30 * H)
        got: dict = {}
        ranked = _ranked_statements(store, lambda: got.update(travels(conn, scope, limit=3)))
    want = _brute(ms, scope, {"nhscitizen"})["tag"]
    assert got["tag"] == [{"value": v, "mentions": n} for v, n in want.most_common(3)]
    assert [r["value"] for r in got["tag"]] == ["bigtag", "midtag", "smalltag"]
    assert ranked == []


def test_a_top_not_proven_by_the_first_candidates_is_proven_by_deeper_ones(store, monkeypatch):
    """A tag shared often in all time but hardly in the range takes a candidate's place: the
    first candidates' bound does not hold, the deeper one does, and the list is still exact
    without ranking every row (the depths made small here to fit a small store)."""
    from storage.queries import shares

    monkeypatch.setattr(shares, "_CANDIDATES", 3)
    monkeypatch.setattr(shares, "_DEEPER", 6, raising=False)
    rules = movement(store)
    ms = _tags_with_a_tail(
        {"bigtag": 40, "midtag": 25, "smalltag": 12}, {"lasttag": 30}, 2 * 86400 - 2000
    )
    _write(store, rules, ms)
    with store.connect() as conn:
        mv = list_movements(conn)[0]["id"]
        scope = Scope(mv, T0_TS + 1234, T0_TS + 2 * 86400 - 99)
        got: dict = {}
        ranked = _ranked_statements(store, lambda: got.update(travels(conn, scope, limit=2)))
    want = _brute(ms, scope, {"nhscitizen"})["tag"]
    assert got["tag"] == [{"value": v, "mentions": n} for v, n in want.most_common(2)]
    assert [r["value"] for r in got["tag"]] == ["bigtag", "midtag"]
    assert ranked == []


def test_a_recount_before_the_shares_tables_exist_recounts_the_rest(sqlite_store):
    """Migration 0029's URL merge recounts rollups long before migration 0043 makes these
    tables: upgrading an old store with duplicate URLs must not fail on them."""
    rules = movement(sqlite_store)
    _write(sqlite_store, rules, _conversation(10))
    with write_tx(sqlite_store) as conn:
        mv = list_movements(conn)[0]["id"]
        for t in ("movement_share_total", "movement_share_day", "movement_share_hour"):
            conn.execute(text(f"DROP TABLE {t}"))
        conn.execute(text("DELETE FROM rollup_hourly"))
        recount(conn, [mv])
        assert conn.execute(text("SELECT sum(mentions) FROM rollup_hourly")).scalar() == 10


def test_top_lists_are_exact_when_part_days_are_read_as_their_day_less_its_other_hours(store):
    """A part-day of many hours is read as its day less the day's other hours, and a range
    ending after the newest match reads its last hour and day whole: the lists still equal a
    count over the raw mentions, and a value shared only in the hours taken away is not
    listed (its day row and its hour rows cancel out)."""
    rules = movement(store)
    ms = _conversation(150, seed=11)
    d1 = (T0_TS // 86400 + 1) * 86400  # the first midnight after T0 (09:00)
    day1 = T0 + timedelta(seconds=d1 - T0_TS)
    ms.append(
        mention(901, created_at=day1 + timedelta(minutes=70), hashtags=["NHSCitizen", "early"])
    )
    ms.append(mention(902, created_at=day1 + timedelta(hours=23, minutes=5), hashtags=["late"]))
    _write(store, rules, ms)
    newest = max(int(m.created_at.timestamp()) for m in ms)
    with store.connect() as conn:
        mv = list_movements(conn)[0]["id"]
        for start, end, platforms in (
            (T0_TS + 5 * H + 17 * 60, newest // 60 * 60 + 120, ()),  # ends after the newest
            (d1 - 10 * H + 180, d1 + 22 * H + 420, ()),  # 9 hours, then a day less 2
            (d1 + 2 * H + 600, d1 + 21 * H + 3000, ()),  # one day less 3 hours at both ends
            (d1 + 2 * H + 600, d1 + 21 * H + 3000, ("mastodon",)),
            (T0_TS + 20 * H, newest + 1, ("bluesky", "blog")),
        ):
            scope = Scope(mv, start, end, platforms)
            got = travels(conn, scope, limit=1000)
            want = _brute(ms, scope, {"nhscitizen"})
            for kind in ("domain", "url", "tag"):
                assert {r["value"]: r["mentions"] for r in got[kind]} == dict(want[kind]), kind
            top2 = travels(conn, scope, limit=2)
            for kind in ("domain", "url", "tag"):
                assert top2[kind] == got[kind][:2]
        inside = travels(conn, Scope(mv, d1 + 2 * H + 600, d1 + 21 * H + 3000), limit=1000)
    assert not {"early", "late"} & {r["value"] for r in inside["tag"]}


def test_raw_minutes_are_counted_from_the_stored_text_as_the_write_path_counts_lists():
    """`stored_share_keys` on the JSON text a SQLite row holds gives what `share_keys` gives
    on the parsed lists (the write path's definition), also for empty and unreadable cells."""
    import json

    from storage.shares import stored_share_keys

    links = ["https://www.NHS.uk/page?utm_source=x", "https://nhs.uk/page/", 7, "mailto:x@y"]
    tags = ["NHS", "ＮＨＳ", None, "CareNotCuts"]
    assert sorted(stored_share_keys(json.dumps(links), json.dumps(tags))) == sorted(
        share_keys(links, tags)
    )
    assert sorted(stored_share_keys(links, tags)) == sorted(share_keys(links, tags))
    assert stored_share_keys(None, "[]") == ()
    assert stored_share_keys("not json", '["ok"]') == (("tag", "ok"),)
