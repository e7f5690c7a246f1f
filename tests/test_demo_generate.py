"""The demo generator, in memory: deterministic, and at the default size shaped as issue 2 asks
(platforms, instances, blogs, pingbacks, an event spike, hubs, bridges, every edge kind)."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.matching import MovementRule, match_post
from groundswell.demo.generate import DemoData, generate
from storage.models import EDGE_KINDS

NOW = datetime(2026, 11, 25, 15, 30, tzinfo=UTC)
LONDON = ZoneInfo("Europe/London")


def _fingerprint(d: DemoData) -> list[tuple[object, ...]]:
    return [
        (m.platform, m.native_id, m.created_at, m.text, m.seen_on, m.repost_count)
        for page in d.pages
        for m in page.mentions
    ] + [(e.id, e.created_at) for page in d.pages for e in page.edges]


@pytest.fixture(scope="module")
def full() -> DemoData:
    """The default size, generated once for the module (no store involved)."""
    return generate(seed=7, mentions=20_000, now=NOW)


def test_same_seed_gives_the_same_records_and_pages() -> None:
    assert _fingerprint(generate(seed=11, mentions=500, now=NOW)) == _fingerprint(
        generate(seed=11, mentions=500, now=NOW)
    )


def test_a_different_seed_gives_a_different_conversation() -> None:
    a = {m.native_id for m in generate(seed=11, mentions=500, now=NOW).mentions}
    b = {m.native_id for m in generate(seed=12, mentions=500, now=NOW).mentions}
    assert not a & b


def test_too_small_a_demo_is_refused_with_the_minimum() -> None:
    with pytest.raises(ValueError, match="at least 100"):
        generate(mentions=10, now=NOW)


def test_default_size_has_twenty_thousand_unique_mentions_over_three_weeks_ending_now(
    full: DemoData,
) -> None:
    assert len(full.mentions) == 20_000
    assert len({(m.platform, m.native_id) for m in full.mentions}) == 20_000
    assert min(m.created_at for m in full.mentions) >= NOW - timedelta(days=21)
    assert max(m.created_at for m in full.mentions) < NOW
    # anchored on now: the last hour has posts (the dashboard's "last hour" is not empty)
    assert any(m.created_at > NOW - timedelta(hours=1) for m in full.mentions)


def test_every_mention_matches_the_movement(full: DemoData) -> None:
    mv = full.movement
    rule = MovementRule.compile(1, mv.slug, mv.hashtags, mv.terms, mv.urls)
    vias = Counter()
    for m in full.mentions:
        text = f"{m.title}\n{m.text}" if m.title else m.text
        found = match_post(
            [rule], hashtags=m.hashtags, text=text, links=m.links, forced=m.movements
        )
        assert found, m
        vias[found[0].via] += 1
    assert {"hashtag", "term", "url", "source"} <= set(vias)


def test_platforms_instances_blogs_and_pingbacks(full: DemoData) -> None:
    platforms = Counter(m.platform for m in full.mentions)
    assert platforms["bluesky"] > 5000 and platforms["mastodon"] > 5000
    seen_on = {m.seen_on for m in full.mentions + full.sightings if m.platform == "mastodon"}
    assert len(seen_on) >= 4
    blogs = {m.author.native_id for m in full.mentions if m.platform == "blog"}
    assert len(blogs) >= 15
    entries = {m.native_id for m in full.mentions if m.platform == "blog"}
    pingbacks = [m for m in full.mentions if m.platform == "pingback"]
    assert len(pingbacks) >= 50
    assert all(m.links[0] in entries for m in pingbacks)  # they ping tracked posts


def test_bluesky_and_mastodon_identifiers_look_like_the_real_ones(full: DemoData) -> None:
    for m in full.mentions[:2000]:
        if m.platform == "bluesky":
            assert m.native_id.startswith("at://did:plc:")
            assert "/app.bsky.feed.post/" in m.native_id
            assert m.author.native_id.startswith("did:plc:")
        elif m.platform == "mastodon":
            host = m.author.native_id.split("@")[1]
            assert m.native_id.startswith(f"https://{host}/users/")
            assert m.instance == host


def test_a_status_is_seen_through_several_instances(full: DemoData) -> None:
    seen = defaultdict(set)
    for m in full.mentions + full.sightings:
        if m.platform == "mastodon":
            seen[m.native_id].add(m.seen_on)
    assert sum(1 for s in seen.values() if len(s) >= 3) > 100


def test_no_page_carries_the_same_mention_twice(full: DemoData) -> None:
    for page in full.pages:
        ids = [m.id for m in page.mentions]
        assert len(ids) == len(set(ids))
    assert sum(len(p.edges) for p in full.pages) == len(full.edges)
    assert sum(len(p.mentions) for p in full.pages) == len(full.mentions) + len(full.sightings)


def test_every_edge_kind_but_webmention_is_present(full: DemoData) -> None:
    kinds = Counter(e.kind for e in full.edges)
    assert set(kinds) == set(EDGE_KINDS) - {"webmention"}
    assert all(kinds[k] >= 50 for k in kinds)


def test_the_event_spikes_above_twice_the_baseline_and_brings_new_voices(
    full: DemoData,
) -> None:
    starts = full.event.starts.astimezone(UTC)
    ends = full.event.ends.astimezone(UTC)
    length = ends - starts
    during = sum(1 for m in full.mentions if starts <= m.created_at < ends)
    before = sum(1 for m in full.mentions if starts - length <= m.created_at < starts)
    assert during > 2 * before
    first: dict[int, datetime] = {}
    for m in full.mentions:
        first.setdefault(m.author.id, m.created_at)
    new_at_event = sum(1 for t in first.values() if starts <= t < ends)
    new_before = sum(1 for t in first.values() if starts - length <= t < starts)
    assert new_at_event > 2 * new_before


def test_a_few_hubs_receive_most_reposts_and_boosts(full: DemoData) -> None:
    received = Counter(e.target_account.id for e in full.edges if e.kind in ("repost", "boost"))
    total = sum(received.values())
    top = sum(n for _, n in received.most_common(10))
    assert top > 0.5 * total
    assert {a.id for a in full.hub_accounts} & {a for a, _ in received.most_common(5)}


def test_bridges_are_on_two_platforms_and_amplify_into_two_communities(full: DemoData) -> None:
    community = {a.id: p.community for p in full.cast.people for a in p.accounts}
    assert len(full.bridges) >= 4
    assert len({p.name for p in full.bridges}) == len(full.bridges)
    for person in full.bridges:
        assert {a.platform for a in person.accounts} == {"bluesky", "mastodon"}
        mine = {a.id for a in person.accounts}
        reached = {
            community.get(e.target_account.id)
            for e in full.edges
            if e.source.id in mine and e.target_account is not None
        }
        assert len(reached - {None}) >= 2


def test_nights_are_quieter_than_weekday_mornings(full: DemoData) -> None:
    by_hour = Counter()
    for m in full.mentions:
        local = m.created_at.astimezone(LONDON)
        if local.weekday() < 5:
            by_hour[local.hour] += 1
    assert sum(by_hour[h] for h in (2, 3, 4)) * 5 < sum(by_hour[h] for h in (10, 11, 12))


def test_sensitive_media_content_warnings_opt_outs_and_sanitised_html(full: DemoData) -> None:
    assert any(m.spoiler_text for m in full.mentions)
    assert any(m.sensitive and m.media for m in full.mentions)
    accounts = {a.id: a for m in full.mentions for a in [m.author]}.values()
    assert any(a.no_unauthenticated for a in accounts if a.platform == "bluesky")
    assert any(a.noindex and a.indexable is False for a in accounts if a.platform == "mastodon")
    blog_raw = [m.raw["content"][0]["value"] for m in full.mentions if m.platform == "blog"]
    assert any("<script" in raw for raw in blog_raw)  # the feeds carry junk...
    for m in full.mentions:
        if m.html:
            assert "<script" not in m.html and "onerror" not in m.html  # ...never stored
    assert any(m.lang == "cy" for m in full.mentions)


@pytest.mark.parametrize("now", [datetime(2026, 11, 28, 7, 0, tzinfo=UTC), NOW])
def test_the_event_sits_inside_the_last_seven_days_and_spikes_whatever_the_weekday(
    now: datetime,
) -> None:
    d = generate(seed=5, mentions=3000, now=now)
    starts, ends = d.event.starts.astimezone(UTC), d.event.ends.astimezone(UTC)
    assert now - timedelta(days=7) < starts < ends < now - timedelta(days=4)
    during = sum(1 for m in d.mentions if starts <= m.created_at < ends)
    before = sum(1 for m in d.mentions if starts - (ends - starts) <= m.created_at < starts)
    assert during > 2 * before


def test_stored_html_is_exactly_what_the_sanitiser_makes_of_the_raw_content() -> None:
    from domain.sanitize import sanitize_html

    d = generate(seed=9, mentions=1000, now=NOW)
    statuses = [m for m in d.mentions if m.platform == "mastodon"]
    assert statuses
    for m in statuses:
        assert m.html == sanitize_html(m.raw["content"])


def test_another_process_with_other_hash_seeds_generates_the_same_conversation() -> None:
    """A resumed replay regenerates the pages in a new process: nothing may depend on
    Python's per-process hash randomisation (set or dict-of-str iteration order)."""
    import hashlib
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import hashlib, sys\n"
        "from datetime import datetime, UTC\n"
        "from groundswell.demo.generate import generate\n"
        "from groundswell.demo.live import LiveStream\n"
        "d = generate(seed=11, mentions=300, now=datetime(2026, 11, 25, 15, 30, tzinfo=UTC))\n"
        "s = LiveStream(d, 10.0)\n"
        "ids = [m.id for p in d.pages for m in p.mentions] + [e.id for e in d.edges]\n"
        "ids += [m.id for i in range(40) for m in s.page(d.anchor + i * s.window).mentions]\n"
        "print(hashlib.sha256(repr(ids).encode()).hexdigest())\n"
    )
    root = str(Path(__file__).resolve().parents[1])
    digests = {
        subprocess.run(
            [sys.executable, "-c", code],
            env=dict(os.environ, PYTHONHASHSEED=str(hs), PYTHONPATH=root),
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for hs in (1, 2)
    }
    from groundswell.demo.live import LiveStream

    d = generate(seed=11, mentions=300, now=NOW)
    s = LiveStream(d, 10.0)
    ids = [m.id for p in d.pages for m in p.mentions] + [e.id for e in d.edges]
    ids += [m.id for i in range(40) for m in s.page(d.anchor + i * s.window).mentions]
    assert digests == {hashlib.sha256(repr(ids).encode()).hexdigest()}
