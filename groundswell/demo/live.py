"""The live continuation of the demo: the conversation keeps going after the history ends.

Time after the anchor is cut into short windows on a fixed grid. Each window's new posts are
generated from a seed made of (seed, mentions, speed, window start), so any process can
regenerate any window: a replay interrupted at any point resumes from its cursor and writes
exactly what an uninterrupted one would have. Reposts, boosts and sightings via other instances
of a window's posts land in later windows (up to `LOOKBACK` windows on), as they would arrive in
later polls. Replies and quotes answer the last posts of the history as well as each other.

Speed scales the conversation's clock: at 10x, ten times as many posts arrive per minute and
reposts follow ten times sooner. Everything is stamped with the wall-clock time it arrives, so
"last hour" and "today" views stay truthful.
"""

from __future__ import annotations

import random
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from domain.records import EdgeRecord, MentionRecord
from groundswell.demo import text as words
from groundswell.demo.cast import BLOGS
from groundswell.demo.generate import LONDON, DemoData, Page, _Entry, _Generator

SPEEDS = {"1x": 1.0, "10x": 10.0, "60x": 60.0}
POSTS_PER_MINUTE = 12.0  # at 1x: a new post every 5 s on average
BLOG_ENTRIES_PER_MINUTE = 0.1  # at 1x: a blog entry (and its pingbacks) every ten minutes
LOOKBACK = 60  # windows after a post in which its reposts and sightings may still arrive


def window_seconds(speed: float) -> float:
    """Short windows at high speed so the wall moves smoothly; never below one second."""
    return max(1.0, 5.0 / speed)


@dataclass(slots=True)
class _Primary:
    mentions: list[MentionRecord] = field(default_factory=list)
    later: list[tuple[datetime, MentionRecord | EdgeRecord]] = field(default_factory=list)


class LiveStream:
    """Windows of live conversation continuing `history` at `speed`."""

    def __init__(self, history: DemoData, speed: float) -> None:
        self.history = history
        self.speed = speed
        self.window = timedelta(seconds=window_seconds(speed))
        self._cache: OrderedDict[datetime, _Primary] = OrderedDict()
        # One generator reused for every window (its pools of people are the costly part);
        # each window gets its own seeded random stream, so windows stay independent.
        self._gen = _Generator(history.seed, len(history.mentions), history.anchor, history.cast)
        self._gen.delay_scale = 1.0 / (30.0 * speed)
        tail = {"bluesky": [], "mastodon": []}  # type: dict[str, list[MentionRecord]]
        hubs = {"bluesky": [], "mastodon": []}  # type: dict[str, list[MentionRecord]]
        hub_ids = {a.id for a in history.hub_accounts}
        for m in reversed(history.mentions):
            if m.platform in tail and len(tail[m.platform]) < 200:
                tail[m.platform].append(m)
            if (
                m.platform in hubs
                and m.author
                and m.author.id in hub_ids
                and len(hubs[m.platform]) < 12
            ):
                hubs[m.platform].append(m)
        self._tail = {p: list(reversed(v)) for p, v in tail.items()}
        self._hubs = {p: list(reversed(v)) for p, v in hubs.items()}

    def window_start(self, when: datetime) -> datetime:
        """The start of the grid window containing `when` (grid anchored at the history end)."""
        n = int((when - self.history.anchor) / self.window)
        return self.history.anchor + n * self.window

    def _primary(self, start: datetime) -> _Primary:
        cached = self._cache.get(start)
        if cached is not None:
            return cached
        h = self.history
        if start < h.anchor:  # before the live stream: the history covers it
            return _Primary()
        g = self._gen
        g.rng = random.Random(
            f"groundswell-demo-live-{h.seed}-{len(h.mentions)}-{self.speed}-{start.isoformat()}"
        )
        g.mentions, g.edges, g.sightings, g._own = [], [], [], set()
        g.horizon = start + LOOKBACK * self.window
        recent = {p: deque(v, maxlen=400) for p, v in self._tail.items()}
        hub_recent = {p: deque(v, maxlen=12) for p, v in self._hubs.items()}
        rate = POSTS_PER_MINUTE * self.speed / 60.0
        end = start + self.window
        t = start + timedelta(seconds=g.rng.expovariate(rate))
        while t < end:
            person = g.after(g.rng)
            account = g.account_on(person)
            m = g._post(t, person, account, recent, hub_recent, [])
            recent[account.platform].append(m)
            if person.hub:
                hub_recent[account.platform].append(m)
            t += timedelta(seconds=g.rng.expovariate(rate))
        if g.rng.random() < BLOG_ENTRIES_PER_MINUTE * self.speed * self.window.total_seconds() / 60:
            self._blog_entry(g, start + (end - start) * g.rng.random())
        # Pingbacks follow their entry by seconds: they belong to later windows.
        primary = _Primary(mentions=[m for m in g.mentions if m.created_at < end])
        primary.later = [(e.created_at, e) for e in g.edges]
        primary.later.extend(g.sightings)
        primary.later.extend((m.created_at, m) for m in g.mentions if m.created_at >= end)
        self._cache[start] = primary
        while len(self._cache) > LOOKBACK + 8:
            self._cache.popitem(last=False)
        return primary

    def _blog_entry(self, g: _Generator, t: datetime) -> None:
        """A new entry on a tracked blog, linking recent entries (which it pings) and a hub."""
        rng = g.rng
        blog = rng.choice(BLOGS)
        title = rng.choice(words.BLOG_TITLES)
        slug = "-".join(title.lower().replace("'", "").replace(":", "").split())[:60]
        url = f"https://{blog.host}/{t.astimezone(LONDON):%Y/%m/%d}/{slug}-{t:%H%M%S}/"
        entry = _Entry(blog=blog, t=t, title=title, url=url, event=False)
        pool = [x for x in self.history.blog_entries[-15:] if x.blog is not blog]
        targets = rng.sample(pool, min(len(pool), rng.randint(1, 2)))
        hubs = self._hubs["bluesky"] + self._hubs["mastodon"]
        social = rng.choice(hubs) if hubs and rng.random() < 0.5 else None
        g._blog_entry(entry, targets, social)
        for dst in targets:
            g._pingback(g.cast.blog_accounts[blog.host], url, title, dst, t)

    def page(self, start: datetime) -> Page:
        """Everything that arrives in the window starting at `start`."""
        end = start + self.window
        page = Page()
        ids: set[int] = set()
        for m in self._primary(start).mentions:
            page.mentions.append(m)
            ids.add(m.id)
        for j in range(LOOKBACK, -1, -1):
            for when, item in self._primary(start - j * self.window).later:
                if not (start <= when < end):
                    continue
                if isinstance(item, EdgeRecord):
                    page.edges.append(item)
                elif item.id not in ids:  # one sighting per status per page
                    ids.add(item.id)
                    page.mentions.append(item)
        return page
