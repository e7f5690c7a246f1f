"""The demo conversation, generated: pure and deterministic for (seed, mentions, anchor).

`generate()` returns every mention, edge and repeated sighting of three weeks of #NHSCitizen
ending at `anchor` (normally now), already cut into pages the way a collector would hand them
to the write path. Nothing here touches the store: `groundswell.demo.collector` replays the
pages through `collectors.runner.Runner` like any real source.

The shape is what the dashboard is meant to reveal:

- rhythm: quiet nights, weekday peaks, slow growth over the three weeks (UK time);
- a two-day event (the NHS Citizen Assembly) with a build-up, a spike of 4-7x, new voices who
  first appear there, and an after-glow decaying over a few days;
- amplifier hubs (a few accounts whose posts get most reposts and boosts);
- bridges (people with a Bluesky and a Mastodon account, in two communities, who amplify
  across them) and blogs linking both ways;
- replies, quotes, reposts, boosts, blog-to-blog links and their pingbacks;
- a Mastodon status seen through several instances is one mention with several `seen_on`.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from collections import deque
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from typing import Any
from zoneinfo import ZoneInfo

from domain.records import AccountRecord, EdgeRecord, MentionRecord
from domain.sanitize import html_to_text, sanitize_html
from domain.settings.config import EventSettings, MovementSettings
from groundswell.demo import text as words
from groundswell.demo.cast import (
    BLOGS,
    TRACKED_INSTANCES,
    Blog,
    Cast,
    Person,
    make_cast,
    tid,
)

LONDON = ZoneInfo("Europe/London")
MOVEMENT_SLUG = "nhscitizen"
EVENT_SLUG = "nhs-citizen-assembly"
EVENT_NAME = "NHS Citizen Assembly"
DAYS = 21
PAGE_MENTIONS = 1000  # mentions per page, like a collector's page (plus the edges around them)
MIN_MENTIONS = 100

# Relative posting intensity per local hour: quiet nights, a morning climb, lunch and evening
# peaks.
DIURNAL = (
    0.08, 0.05, 0.03, 0.03, 0.04, 0.08, 0.2, 0.45, 0.8, 1.0, 1.05, 1.0,
    1.1, 1.0, 0.9, 0.85, 0.85, 0.8, 0.75, 0.9, 1.0, 0.85, 0.55, 0.25,
)  # fmt: skip


def movement_settings() -> MovementSettings:
    return MovementSettings(
        slug=MOVEMENT_SLUG,
        name="NHS Citizen",
        hashtags=["NHSCitizen"],
        terms=["NHS Citizen"],
        urls=[words.PLEDGE_URL],
    )


def event_window(anchor: datetime) -> tuple[datetime, datetime]:
    """09:30 six days before `anchor` to 17:00 the next day (London): inside the dashboard's
    default "last 7 days", with a baseline before it and days of after-glow after it."""
    day = (anchor.astimezone(LONDON) - timedelta(days=6)).date()
    starts = datetime(day.year, day.month, day.day, 9, 30, tzinfo=LONDON)
    ends = starts + timedelta(days=1, hours=7, minutes=30)
    return starts.astimezone(UTC), ends.astimezone(UTC)


def event_settings(anchor: datetime) -> EventSettings:
    starts, ends = event_window(anchor)
    return EventSettings(
        slug=EVENT_SLUG,
        name=EVENT_NAME,
        movement=MOVEMENT_SLUG,
        starts=starts.astimezone(LONDON),
        ends=ends.astimezone(LONDON),
        timezone="Europe/London",
        hashtags=["NHSCitizenAssembly"],
        place="The ICC, Birmingham",
    )


def pingback_native_id(source_url: str, target_url: str) -> str:
    """A pingback's natural key: the linking page and the page it pinged (DESIGN.md s.2)."""
    return f"{source_url} {target_url}"


@dataclass(slots=True)
class _Entry:
    """A blog entry before its content is written (other entries and posts link to it)."""

    blog: Blog
    t: datetime
    title: str
    url: str
    event: bool


@dataclass(slots=True)
class Page:
    """What one poll of the demo source hands to the write path."""

    mentions: list[MentionRecord] = field(default_factory=list)
    edges: list[EdgeRecord] = field(default_factory=list)


@dataclass(slots=True)
class DemoData:
    seed: int
    anchor: datetime
    start: datetime
    end: datetime
    movement: MovementSettings
    event: EventSettings
    cast: Cast
    mentions: list[MentionRecord]  # unique, in time order
    edges: list[EdgeRecord]
    sightings: list[MentionRecord]  # repeated sightings via other instances
    pages: list[Page]
    blog_entries: list[_Entry] = field(default_factory=list)

    @property
    def hub_accounts(self) -> list[AccountRecord]:
        return [a for p in self.cast.people if p.hub for a in p.accounts]

    @property
    def bridges(self) -> list[Person]:
        return [p for p in self.cast.people if p.bridge]


def anchor_of(now: datetime | None) -> datetime:
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(UTC).replace(microsecond=0)


def _allocate(total: int, weights: list[float]) -> list[int]:
    """Split `total` into integer counts proportional to `weights` (largest remainder)."""
    s = sum(weights)
    exact = [total * w / s for w in weights]
    counts = [int(x) for x in exact]
    rest = total - sum(counts)
    order = sorted(range(len(weights)), key=lambda i: (exact[i] - counts[i], -i), reverse=True)
    for i in order[:rest]:
        counts[i] += 1
    return counts


def hourly_weights(anchor: datetime, days: int = DAYS) -> list[float]:
    start = anchor - timedelta(days=days)
    ev_start, ev_end = event_window(anchor)
    hours = days * 24
    out = []
    for h in range(hours):
        t = start + timedelta(hours=h)
        local = t.astimezone(LONDON)
        w = DIURNAL[local.hour] * (0.55 if local.weekday() >= 5 else 1.0)
        w *= 1 + 0.5 * h / hours  # the movement grows
        if ev_start <= t < ev_end:
            w *= 7.0 if 9 <= local.hour < 18 else 3.5
        elif ev_start - timedelta(hours=48) <= t < ev_start:
            w *= 1.3
        elif t >= ev_end:
            w *= 1 + 1.8 * math.exp(-(t - ev_end).total_seconds() / (20 * 3600))
        out.append(w)
    return out


class _Picker:
    """Weighted choice by bisecting cumulative weights: O(log n) per draw."""

    def __init__(self, items: list[Person], weights: list[float]) -> None:
        self.items = items
        self.cum = list(accumulate(weights))

    def __call__(self, rng: random.Random) -> Person:
        return self.items[bisect_right(self.cum, rng.random() * self.cum[-1])]


class _Generator:
    """One generation's state: the cast, the random stream and what has been said so far.

    The history runs it once over three weeks (`run`); the live stream reuses one instance per
    window with a fresh random stream, horizon and empty output lists (`groundswell.demo.live`).
    """

    def __init__(
        self, seed: int, mentions: int, anchor: datetime, cast: Cast | None = None
    ) -> None:
        if mentions < MIN_MENTIONS:
            raise ValueError(f"mentions must be at least {MIN_MENTIONS}, got {mentions}")
        self.seed = seed
        self.n = mentions
        self.anchor = anchor
        # Nothing (reposts, sightings) is generated at or after the horizon; in the live
        # stream delays are compressed by `delay_scale`.
        self.horizon = anchor
        self.delay_scale = 1.0
        self.start = anchor - timedelta(days=DAYS)
        self.ev_start, self.ev_end = event_window(anchor)
        self.rng = random.Random(f"groundswell-demo-{seed}-{mentions}")
        self.cast = cast or make_cast(seed, mentions)
        self.mentions: list[MentionRecord] = []
        self.edges: list[EdgeRecord] = []
        self.sightings: list[tuple[datetime, MentionRecord]] = []
        self._own: set[int] = set()  # id() of the mentions generated here
        self.blog_entries: list[_Entry] = []
        self.person_of: dict[int, Person] = {}
        for p in self.cast.people:
            for a in p.accounts:
                self.person_of[a.id] = p
        self._pools()

    # -- who ------------------------------------------------------------------------------

    def _pools(self) -> None:
        people = self.cast.people
        self.before = _Picker(
            [p for p in people if not p.new_voice], [p.activity for p in people if not p.new_voice]
        )
        self.during = _Picker(people, [p.activity * (3.0 if p.new_voice else 1) for p in people])
        self.after = _Picker(people, [p.activity * (0.5 if p.new_voice else 1) for p in people])
        # Amplifiers by platform and community (new voices amplify too, once they have arrived).
        self.amp: dict[tuple[str, str], _Picker] = {}
        self.amp_any: dict[str, _Picker] = {}
        for platform in ("bluesky", "mastodon"):
            on = [p for p in people if any(a.platform == platform for a in p.accounts)]
            self.amp_any[platform] = _Picker(on, [1.0 + p.activity for p in on])
            for c in {p.community for p in people}:
                group = [p for p in on if c in p.communities]
                if group:
                    self.amp[(platform, c)] = _Picker(group, [1.0 + p.activity for p in group])
        self.bridges = [p for p in people if p.bridge]

    def author_at(self, t: datetime) -> Person:
        if t < self.ev_start:
            return self.before(self.rng)
        if t < self.ev_end:
            return self.during(self.rng)
        return self.after(self.rng)

    def account_on(self, person: Person, platform: str | None = None) -> AccountRecord:
        if platform is not None:
            for a in person.accounts:
                if a.platform == platform:
                    return a
        return person.accounts[0] if len(person.accounts) == 1 else self.rng.choice(person.accounts)

    def in_event(self, t: datetime) -> bool:
        return self.ev_start <= t < self.ev_end + timedelta(hours=12)

    # -- what -----------------------------------------------------------------------------

    def run(self) -> DemoData:
        n_blog = max(len(BLOGS), round(self.n * 0.012))
        n_ping = max(10, round(self.n * 0.008))
        n_social = self.n - n_blog - n_ping
        weights = hourly_weights(self.anchor)
        blog_times = self._blog_times(n_blog, weights)
        self.blog_entries = self._blog_skeletons(blog_times)
        self._social(n_social, weights)
        self._blogs_and_pingbacks(n_ping)
        self.mentions.sort(key=lambda m: m.created_at)
        return DemoData(
            seed=self.seed,
            anchor=self.anchor,
            start=self.start,
            end=self.anchor,
            movement=movement_settings(),
            event=event_settings(self.anchor),
            cast=self.cast,
            mentions=self.mentions,
            edges=self.edges,
            sightings=[m for _, m in self.sightings],
            pages=self._paginate(),
            blog_entries=self.blog_entries,
        )

    def _blog_times(self, count: int, weights: list[float]) -> list[datetime]:
        # Blogs publish in working hours; every blog at least once.
        day_w = [
            w if 8 <= (self.start + timedelta(hours=h)).astimezone(LONDON).hour < 21 else 0.0
            for h, w in enumerate(weights)
        ]
        hours = self.rng.choices(range(len(day_w)), weights=day_w, k=count)
        return sorted(
            self.start + timedelta(hours=h, seconds=self.rng.randrange(3600)) for h in hours
        )

    def _blog_skeletons(self, times: list[datetime]) -> list[_Entry]:
        rng = self.rng
        prolific = [1.0 + 3 * rng.random() for _ in BLOGS]
        order = list(range(len(BLOGS)))
        rng.shuffle(order)
        entries = []
        used: set[str] = set()
        for i, t in enumerate(times):
            b = BLOGS[order[i]] if i < len(BLOGS) else rng.choices(BLOGS, weights=prolific)[0]
            event = self.in_event(t) or (t > self.ev_end and rng.random() < 0.4)
            title = rng.choice(words.BLOG_TITLES[8:10] if event else words.BLOG_TITLES)
            slug = "-".join(title.lower().replace("'", "").replace(":", "").split())[:60]
            local = t.astimezone(LONDON)
            url = ""
            while not url or url in used:  # a blog never reuses a permalink
                n = rng.randrange(100, 9999)
                if b.cms == "wordpress":
                    url = f"https://{b.host}/{local:%Y/%m/%d}/{slug}-{n}/"
                elif b.cms == "ghost":
                    url = f"https://{b.host}/{slug}-{n}/"
                else:
                    url = f"https://{b.host}/posts/{slug}-{n}/"
            used.add(url)
            entries.append(_Entry(blog=b, t=t, title=title, url=url, event=event))
        entries.sort(key=lambda e: e.t)
        return entries

    def _social(self, count: int, weights: list[float]) -> None:
        rng = self.rng
        counts = _allocate(count, weights)
        recent: dict[str, deque[MentionRecord]] = {
            "bluesky": deque(maxlen=400),
            "mastodon": deque(maxlen=400),
        }
        hub_recent: dict[str, deque[MentionRecord]] = {
            "bluesky": deque(maxlen=12),
            "mastodon": deque(maxlen=12),
        }
        blog_i = 0
        published: list[_Entry] = []
        for h, k in enumerate(counts):
            base = self.start + timedelta(hours=h)
            for sec in sorted(rng.randrange(3600) for _ in range(k)):
                t = base + timedelta(seconds=sec)
                while blog_i < len(self.blog_entries) and self.blog_entries[blog_i].t <= t:
                    published.append(self.blog_entries[blog_i])
                    blog_i += 1
                person = self.author_at(t)
                account = self.account_on(person)
                m = self._post(t, person, account, recent, hub_recent, published)
                recent[account.platform].append(m)
                if person.hub:
                    hub_recent[account.platform].append(m)

    def _parent(
        self,
        person: Person,
        platform: str,
        recent: dict[str, deque[MentionRecord]],
        hub_recent: dict[str, deque[MentionRecord]],
    ) -> MentionRecord | None:
        rng = self.rng
        if hub_recent[platform] and rng.random() < 0.4:
            return rng.choice(hub_recent[platform])
        pool = recent[platform]
        if not pool:
            return None
        pick = pool[rng.randrange(len(pool))]
        for _ in range(2):  # people mostly answer their own community
            if self.person_of[pick.author.id].community in person.communities:  # type: ignore[union-attr]
                break
            pick = pool[rng.randrange(len(pool))]
        return pick

    def _post(
        self,
        t: datetime,
        person: Person,
        account: AccountRecord,
        recent: dict[str, deque[MentionRecord]],
        hub_recent: dict[str, deque[MentionRecord]],
        published: list[_Entry],
    ) -> MentionRecord:
        rng = self.rng
        platform = account.platform
        r = rng.random()
        kind = "post"
        if person.hub:
            kind = "post" if r < 0.85 else "reply"
        elif r < 0.22:
            kind = "reply"
        elif r < 0.3 and platform == "bluesky":
            kind = "quote"
        parent = self._parent(person, platform, recent, hub_recent) if kind != "post" else None
        if parent is None:
            kind = "post"
        event = self.in_event(t)
        mr = rng.random()
        matching = "hashtag" if mr < 0.85 else ("term" if mr < 0.95 else "url")
        blog_link = None
        if published and rng.random() < 0.05:
            blog_link = rng.choice(published[-20:])
        lead = None
        if kind == "reply":
            lead = rng.choice(words.REPLIES)
        elif kind == "quote":
            lead = rng.choice(words.QUOTES)
        if rng.random() < 0.015:
            body, tags_, links = rng.choice(words.WELSH), ["NHSCitizen"], list[str]()
            lang = "cy"
        else:
            body, tags_, links = words.post_text(
                rng,
                person.community,
                event=event,
                lead=lead,
                link=blog_link.url if blog_link else None,
                matching=matching,
            )
            lang = "en"
        if platform == "bluesky":
            m = self._bluesky(t, account, body, tags_, links, lang)
        else:
            m = self._mastodon(t, account, body, tags_, links, lang, person)
        if kind in ("reply", "quote") and parent is not None:
            key = (parent.platform, parent.native_id)
            # Counters only on parents this generator owns: the live stream answers history
            # posts, which are already written and shared with other windows.
            own = id(parent) in self._own
            if kind == "reply":
                m.reply_to = key
                parent.reply_count += own
            else:
                m.quote_of = key
                parent.quote_count += own
            self.edges.append(
                EdgeRecord(
                    kind=kind,
                    platform=platform,
                    source=account,
                    target=key,
                    created_at=t,
                    via=(platform, m.native_id),
                    target_account=parent.author,
                )
            )
        if blog_link is not None:
            self.edges.append(
                EdgeRecord(
                    kind="link",
                    platform=platform,
                    source=account,
                    target=("blog", blog_link.url),
                    created_at=t,
                    via=(platform, m.native_id),
                    target_account=self.cast.blog_accounts[blog_link.blog.host],
                )
            )
        if kind != "reply":
            self._amplify(m, person, t)
        self.mentions.append(m)
        self._own.add(id(m))
        return m

    def _amplify(self, m: MentionRecord, person: Person, t: datetime) -> None:
        """Reposts (Bluesky) or boosts (Mastodon) of `m`, heavy-tailed, mostly from its
        community, some from bridges and strangers; none after the end of the history."""
        rng = self.rng
        platform = m.platform
        if person.hub:
            n = int(rng.paretovariate(1.6) * 1.2 * person.reach)
        else:
            n = int(rng.paretovariate(2.0) * 0.25 * person.reach)
        # Smaller movements have smaller audiences: hubs' reach shrinks with the history size.
        n = min(int(n * min(1.0, (self.n / 20_000) ** 0.5)) if person.hub else n, 400)
        kind = "repost" if platform == "bluesky" else "boost"
        seen: set[int] = {m.author.id}  # type: ignore[union-attr]
        for _ in range(n):
            r = rng.random()
            if r < 0.06 and self.bridges:
                amplifier = rng.choice(self.bridges)
            elif r < 0.8 and (platform, person.community) in self.amp:
                amplifier = self.amp[(platform, person.community)](rng)
            else:
                amplifier = self.amp_any[platform](rng)
            acc = self.account_on(amplifier, platform)
            if acc.platform != platform or acc.id in seen:
                continue
            delay = (30 + rng.expovariate(1 / 5400)) * self.delay_scale
            when = t + timedelta(seconds=delay)
            if when >= self.horizon or (amplifier.new_voice and when < self.ev_start):
                continue
            seen.add(acc.id)
            self.edges.append(
                EdgeRecord(
                    kind=kind,
                    platform=platform,
                    source=acc,
                    target=(platform, m.native_id),
                    created_at=when,
                    target_account=m.author,
                )
            )
        m.repost_count = len(seen) - 1
        m.like_count = m.repost_count * rng.randint(2, 4) + rng.randrange(6)

    def _media(self, instance: str) -> tuple[list[dict[str, Any]] | None, bool]:
        rng = self.rng
        if rng.random() >= 0.06:
            return None, False
        i = rng.randrange(len(words.IMAGE_DESCRIPTIONS))
        sensitive = i in words.SENSITIVE_IMAGE
        return [
            {
                "type": "image",
                "url": f"https://{instance}/media/{rng.getrandbits(64):016x}.jpg",
                "preview_url": f"https://{instance}/media/small/{rng.getrandbits(64):016x}.jpg",
                "description": words.IMAGE_DESCRIPTIONS[i],
                "sensitive": sensitive,
            }
        ], sensitive

    def _bluesky(
        self,
        t: datetime,
        account: AccountRecord,
        text: str,
        hashtags: list[str],
        links: list[str],
        lang: str,
    ) -> MentionRecord:
        rng = self.rng
        rkey = tid(int(t.timestamp() * 1_000_000) + rng.randrange(1_000_000), rng)
        uri = f"at://{account.native_id}/app.bsky.feed.post/{rkey}"
        media, sensitive = self._media("cdn.bsky.app")
        iso = t.isoformat().replace("+00:00", "Z")
        return MentionRecord(
            platform="bluesky",
            native_id=uri,
            created_at=t,
            author=account,
            url=f"https://bsky.app/profile/{account.handle}/post/{rkey}",
            text=text,
            lang=lang,
            sensitive=sensitive,
            media=media,
            links=links,
            hashtags=hashtags,
            raw={
                "uri": uri,
                "cid": f"bafyrei{rng.getrandbits(128):032x}",
                "author": {
                    "did": account.native_id,
                    "handle": account.handle,
                    "displayName": account.display_name,
                },
                "record": {
                    "$type": "app.bsky.feed.post",
                    "text": text,
                    "createdAt": iso,
                    "langs": [lang],
                },
                "indexedAt": iso,
                "labels": [{"val": "graphic-media"}] if sensitive else [],
            },
            seen_on="bsky.social",
        )

    def _mastodon(
        self,
        t: datetime,
        account: AccountRecord,
        text: str,
        hashtags: list[str],
        links: list[str],
        lang: str,
        person: Person,
    ) -> MentionRecord:
        rng = self.rng
        home = account.instance or "mastodon.social"
        user = account.native_id.split("@", 1)[0]
        local_id = (int(t.timestamp() * 1000) << 16) | rng.getrandbits(16)
        uri = f"https://{home}/users/{user}/statuses/{local_id}"
        raw_html = words.mastodon_html(text, home)
        media, sensitive = self._media(home)
        spoiler = None
        if rng.random() < 0.04:
            spoiler = rng.choice(words.CONTENT_WARNINGS)
            sensitive = True
        seen = [home] if home in TRACKED_INSTANCES else [rng.choice(TRACKED_INSTANCES)]
        m = MentionRecord(
            platform="mastodon",
            native_id=uri,
            created_at=t,
            author=account,
            url=f"https://{home}/@{user}/{local_id}",
            text=text,
            html=words.mastodon_html(text, home, sanitised=True),
            lang=lang,
            instance=home,
            sensitive=sensitive,
            spoiler_text=spoiler,
            media=media,
            links=links,
            hashtags=hashtags,
            raw={
                "id": str(local_id),
                "uri": uri,
                "created_at": t.isoformat().replace("+00:00", ".000Z"),
                "content": raw_html,
                "spoiler_text": spoiler or "",
                "sensitive": sensitive,
                "language": lang,
                "account": {"acct": account.native_id, "display_name": account.display_name},
                "tags": [{"name": h.lower()} for h in hashtags],
            },
            seen_on=seen[0],
        )
        # Federation: the same status arrives through other tracked instances a little later.
        p_more = 0.9 if person.hub else (0.5 if person.bridge else 0.3)
        if rng.random() < p_more:
            others = [i for i in TRACKED_INSTANCES if i != seen[0]]
            for inst in rng.sample(others, rng.randint(1, 3)):
                when = t + timedelta(seconds=rng.uniform(20, 1800) * self.delay_scale)
                if when < self.horizon:
                    self.sightings.append((when, replace(m, seen_on=inst)))
        return m

    def _blogs_and_pingbacks(self, n_ping: int) -> None:
        rng = self.rng
        hub_posts = [m for m in self.mentions if self.person_of[m.author.id].hub]  # type: ignore[union-attr]
        hub_times = [m.created_at for m in hub_posts]
        links_between: list[tuple[_Entry, _Entry]] = []
        for i, e in enumerate(self.blog_entries):
            b: Blog = e.blog
            earlier = [x for x in self.blog_entries[:i] if x.blog is not b]
            targets: list[_Entry] = []
            if earlier and rng.random() < 0.8:
                k = min(len(earlier), rng.randint(1, 3))
                same = [x for x in earlier if x.blog.community == b.community]
                for _ in range(k):
                    pool = same if same and rng.random() < 0.5 else earlier
                    x = rng.choice(pool[-15:])
                    if x not in targets:
                        targets.append(x)
            social: MentionRecord | None = None
            j = bisect_right(hub_times, e.t)
            if j and rng.random() < 0.3:
                social = hub_posts[rng.randrange(max(0, j - 30), j)]
            self._blog_entry(e, targets, social)
            links_between.extend((e, x) for x in targets)
        # Pingbacks: most from tracked blogs linking each other, the rest from other sites.
        n_ext = max(3, n_ping // 4)
        pings: list[tuple[AccountRecord, str, str, _Entry, datetime]] = []
        for src, dst in links_between[: n_ping - n_ext]:
            acc = self.cast.blog_accounts[src.blog.host]
            pings.append((acc, src.url, src.title, dst, src.t))
        pingers = list(self.cast.pinger_accounts.values())
        while len(pings) < n_ping:
            dst = rng.choice(self.blog_entries)
            acc = rng.choice(pingers)
            when = dst.t + timedelta(hours=rng.uniform(1, 72))
            if when >= self.anchor:
                when = dst.t + (self.anchor - dst.t) * rng.random()
            day = when.astimezone(LONDON)
            src_url = f"https://{acc.native_id}/{day:%Y/%m/%d}/nhs-citizen-{len(pings)}/"
            pings.append((acc, src_url, "NHS Citizen in the news", dst, when))
        for acc, src_url, src_title, dst, when in pings:
            self._pingback(acc, src_url, src_title, dst, when)

    def _blog_entry(
        self, e: _Entry, targets: list[_Entry], social: MentionRecord | None
    ) -> MentionRecord:
        """The entry as its feed carries it, with `link` edges to what it links."""
        b = e.blog
        account = self.cast.blog_accounts[b.host]
        links: list[tuple[str, str]] = [(x.url, x.title) for x in targets]
        if social is not None:
            links.append((social.url or social.native_id, "this post"))
        raw_html, summary = words.blog_html(self.rng, b.community, event=e.event, links=links)
        clean = sanitize_html(raw_html)
        m = MentionRecord(
            platform="blog",
            native_id=e.url,
            created_at=e.t,
            author=account,
            url=e.url,
            title=e.title,
            text=html_to_text(clean),
            html=clean,
            lang="en",
            instance=b.host,
            links=[words.PLEDGE_URL] + [u for u, _ in links],
            hashtags=["NHSCitizen"],
            raw={
                "id": e.url,
                "link": e.url,
                "title": e.title,
                "summary": summary,
                "content": [{"type": "text/html", "value": raw_html}],
                "published": e.t.isoformat(),
                "feed": b.feed_url,
            },
            seen_on=b.feed_url,
        )
        self.mentions.append(m)
        for x in targets:
            self.edges.append(
                EdgeRecord(
                    kind="link",
                    platform="blog",
                    source=account,
                    target=("blog", x.url),
                    created_at=e.t,
                    via=("blog", e.url),
                    target_account=self.cast.blog_accounts[x.blog.host],
                )
            )
        if social is not None:
            self.edges.append(
                EdgeRecord(
                    kind="link",
                    platform="blog",
                    source=account,
                    target=(social.platform, social.native_id),
                    created_at=e.t,
                    via=("blog", e.url),
                    target_account=social.author,
                )
            )
        return m

    def _pingback(
        self, acc: AccountRecord, src_url: str, src_title: str, dst: _Entry, when: datetime
    ) -> MentionRecord:
        """`src_url` pinged `dst` (seconds after linking it): a mention and its edge."""
        when = when + timedelta(seconds=self.rng.randint(2, 90))
        if when >= self.horizon:
            when = self.horizon - timedelta(seconds=1)
        native = pingback_native_id(src_url, dst.url)
        excerpt = f"[…] {self.rng.choice(words.BODIES)} […]"
        m = MentionRecord(
            platform="pingback",
            native_id=native,
            created_at=when,
            author=acc,
            url=src_url,
            title=src_title,
            text=excerpt,
            lang="en",
            instance=acc.native_id,
            links=[dst.url],
            movements=(MOVEMENT_SLUG,),
            raw={"source": src_url, "target": dst.url, "excerpt": excerpt},
            seen_on=dst.blog.host,
        )
        self.mentions.append(m)
        self.edges.append(
            EdgeRecord(
                kind="pingback",
                platform="pingback",
                source=acc,
                target=("blog", dst.url),
                created_at=when,
                via=("pingback", native),
                target_account=self.cast.blog_accounts[dst.blog.host],
            )
        )
        return m

    def _paginate(self) -> list[Page]:
        """Cut the time-ordered stream into pages; a repeated sighting never shares a page
        with another sighting of the same status (each page records one `seen_on` per
        mention), so it moves to the next page, as it would arrive in a later poll."""
        items: list[tuple[datetime, int, MentionRecord | EdgeRecord]] = []
        seq = 0
        for m in self.mentions:
            items.append((m.created_at, seq, m))
            seq += 1
        for when, m in self.sightings:
            items.append((when, seq, m))
            seq += 1
        for e in self.edges:
            items.append((e.created_at, seq, e))
            seq += 1
        items.sort(key=lambda x: (x[0], x[1]))
        pages: list[Page] = []
        page, ids = Page(), set()
        carry: list[MentionRecord] = []
        for _, _, item in items:
            if isinstance(item, EdgeRecord):
                page.edges.append(item)
                continue
            if item.id in ids:
                carry.append(item)
                continue
            ids.add(item.id)
            page.mentions.append(item)
            if len(page.mentions) >= PAGE_MENTIONS:
                pages.append(page)
                page, ids = Page(), set()
                rest, carry = carry, []
                for c in rest:
                    if c.id in ids:
                        carry.append(c)
                    else:
                        ids.add(c.id)
                        page.mentions.append(c)
        while carry:
            rest, carry = carry, []
            for c in rest:
                if c.id in ids:
                    carry.append(c)
                else:
                    ids.add(c.id)
                    page.mentions.append(c)
            if carry or page.mentions or page.edges:
                pages.append(page)
                page, ids = Page(), set()
        if page.mentions or page.edges:
            pages.append(page)
        return pages


def generate(seed: int = 7, mentions: int = 20_000, now: datetime | None = None) -> DemoData:
    """Three weeks of the #NHSCitizen conversation ending at `now` (default: the current time).

    Pure: the same (seed, mentions, now) always gives the same records, ids and pages.
    """
    return _Generator(seed, mentions, anchor_of(now)).run()
