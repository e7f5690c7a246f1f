"""The Bluesky collector: `searchPosts` sweeps (by tag or text) and the Jetstream live stream.

A search source's cursor is a *sweep*: the time window `[since, until)` being read newest
first, the XRPC page cursor inside it, and `done_until`, the time up to which everything has
been stored. Each page is one batch carrying the sweep state that covers it, so a crash or a
429 resumes at the next page: no gap, and nothing stored twice.

The service stops returning results after about 10,000 per query (`result_cap`). A sweep that
reaches the cap is split: the next query ends (`until`) just after the oldest post already
read, so older posts are reached by a fresh query. Posts at the boundary come back twice and
are de-duplicated by URI. The next sweep starts `overlap_s` before `done_until`, because a
post can be indexed a little after the time it is sorted by.

For posts whose repost or quote counts grew since the stored copy, `getRepostedBy` and
`getQuotes` turn the growth into `repost` / `quote` edges in the same batch; for matched posts
whose reply count grew, `getPostThread` brings the replies that do not repeat the hashtag
(`collectors.bluesky.threads`, matched "thread").
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from collectors.base import CollectorContext, FatalSourceError, SourceState
from collectors.bluesky.client import BlueskyClient
from collectors.bluesky.parse import (
    PLATFORM,
    MalformedPost,
    ParsedPost,
    iso,
    parse_datetime,
    parse_posts,
    parse_quotes,
    parse_reposted_by,
    parse_search_page,
)
from collectors.bluesky.threads import add_thread_replies, grown
from domain.matching import match_post
from domain.records import GAP, RESULT_CAP_OVERFLOW, RESULT_CAP_SPLIT, Batch, EdgeRecord
from storage.queries.bluesky import recent_mentions, stored_counts


class BlueskyCollector:
    """One per process; shares one logged-in client between every Bluesky source."""

    platform = PLATFORM

    def __init__(
        self,
        context: CollectorContext,
        *,
        client: BlueskyClient | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        live: bool = False,
        stop: threading.Event | None = None,
    ) -> None:
        self.context = context
        self.settings = context.settings.bluesky
        self.client = client or BlueskyClient(self.settings)
        self.clock = clock
        self.live = live
        self.stop = stop or threading.Event()
        self._last_recount: float | None = None

    def poll(self, source: SourceState) -> Iterator[Batch]:
        if source.kind == "search":
            yield from self._poll_search(source)
        elif source.kind == "jetstream":
            from collectors.bluesky.jetstream import JetstreamReader

            reader = JetstreamReader(self.context, clock=self.clock)
            yield from reader.poll(source, live=self.live, stop=self.stop)
        else:
            raise FatalSourceError(f"unknown Bluesky source kind {source.kind!r} ({source.key})")

    # -- search ---------------------------------------------------------------------------

    def _new_sweep(self, cursor: dict[str, Any]) -> dict[str, Any]:
        now = self.clock()
        done = parse_datetime(cursor.get("done_until"))
        if done is not None:
            since = done - timedelta(seconds=self.settings.overlap_s)
        else:
            since = now - timedelta(days=self.context.settings.collect.backfill_days)
        return {"since": iso(since), "until": iso(now), "end": iso(now), "page": None, "n": 0}

    def _poll_search(self, source: SourceState) -> Iterator[Batch]:
        target = source.target or {}
        tag, q = target.get("tag"), target.get("q")
        if not tag and not q:
            raise FatalSourceError(f"{source.key}: the source names neither a tag nor a query")
        cursor = dict(source.cursor or {})
        resumed = cursor.get("sweep")
        seen: set[str] = set()
        # A sweep resumed from a previous poll ends where that poll started; follow it with a
        # fresh sweep up to now, so one poll always brings the source up to date.
        for sweep_state in (resumed, None) if resumed else (None,):
            sweep = dict(sweep_state or self._new_sweep(cursor))
            for batch in self._sweep(tag, q, sweep, cursor, seen, source.key):
                yield batch
                cursor = batch.cursor or cursor
                if self.stop.is_set():
                    return
        yield from self._recount(cursor, seen)

    # -- later amplification of older posts -----------------------------------------------

    def _recount(self, cursor: dict[str, Any], seen: set[str]) -> Iterator[Batch]:
        """Refresh the counts of recent stored mentions (`getPosts`, 25 a request) so reposts
        and quotes arriving after a post left the search window still become edges. Once per
        `recount_interval_s` per process, whichever search source polls."""
        s = self.settings
        if not (s.fetch_reposts and s.recount_hours) or self.context.engine is None:
            return
        now = time.monotonic()
        if self._last_recount is not None and now - self._last_recount < s.recount_interval_s:
            return
        self._last_recount = now
        since = int((self.clock() - timedelta(hours=s.recount_hours)).timestamp())
        with self.context.engine.connect() as conn:
            rows = recent_mentions(conn, PLATFORM, since, s.recount_max)
        stored = {uri: (r, q) for uri, r, q in rows if uri not in seen}
        uris = list(stored)
        for i in range(0, len(uris), 25):
            payload = self.client.get_posts(uris[i : i + 25])
            posts, skipped = parse_posts(payload.get("posts", []), seen_on="bsky-recount")
            batch = Batch(skipped=skipped, fetched=len(posts), cursor=dict(cursor))
            recounted = []
            for p in posts:
                uri = p.mention.native_id
                if uri not in stored or uri in seen:
                    continue
                seen.add(uri)
                recounted.append(p)
                batch.mentions.append(p.mention)  # the new counts
                old_reposts, old_quotes = stored[uri]
                if p.mention.repost_count != old_reposts:  # grew, or fell: reposts undone
                    self._fetch_reposts(batch, uri, p.mention.repost_count)
                if p.mention.quote_count > old_quotes:
                    self._fetch_quotes(batch, uri, seen)
            self._add_threads(batch, recounted, seen)  # stored, so matched (maybe in thread)
            yield batch
            if self.stop.is_set():
                return

    def _sweep(
        self,
        tag: str | None,
        q: str | None,
        sweep: dict[str, Any],
        cursor: dict[str, Any],
        seen: set[str],
        key: str,
    ) -> Iterator[Batch]:
        cap = self.settings.result_cap
        previous: frozenset[str] = frozenset()  # the URIs of the page before
        idle = 0  # empty pages in a row that still came with a cursor
        while True:
            try:
                payload = self.client.search_posts(
                    q=q or f"#{tag}",
                    tag=[tag] if tag else None,
                    since=sweep["since"],
                    until=sweep["until"],
                    cursor=sweep["page"],
                    limit=self.settings.page_limit,
                    sort="latest",
                )
            except FatalSourceError as exc:
                # Past its cap the service may refuse a deep page cursor (400) instead of
                # ending the pages: that is the cap, not a broken query. Split and go on.
                if not (sweep.get("page") and sweep.get("oldest") and exc.status == "fatal"):
                    raise
                self.context.log.info("%s: deep page refused (%s); splitting", key, exc)
                split = Batch()
                narrower = self._split(sweep, split, key)
                if narrower is None:
                    split.cursor = {"done_until": sweep["end"], "sweep": None}
                    yield split
                    return
                sweep = narrower
                split.cursor = {"done_until": cursor.get("done_until"), "sweep": dict(sweep)}
                yield split
                continue
            posts, skipped, next_page = parse_search_page(payload)
            batch = Batch(skipped=skipped, fetched=len(posts) + len(skipped))
            sweep["n"] = int(sweep.get("n") or 0) + len(posts) + len(skipped)
            page_ids = frozenset(p.mention.native_id for p in posts)
            stalled = self._no_progress(sweep, posts, next_page, previous, idle)
            previous, idle = page_ids, (0 if posts else idle + 1)
            if posts:
                oldest = min(p.sort_at for p in posts)
                prev = parse_datetime(sweep.get("oldest"))
                sweep["oldest"] = iso(min(oldest, prev) if prev else oldest)
            fresh = [p for p in posts if p.mention.native_id not in seen]
            seen.update(p.mention.native_id for p in fresh)
            self._add_posts(batch, fresh)
            self._add_amplification(batch, fresh, seen)
            replied = [p for p in fresh if p.mention.reply_count and self._matches(p)]
            self._add_threads(batch, replied, seen)

            # `hitsTotal` above what the pages gave means the service stopped at its own cap.
            total = payload.get("hitsTotal") if isinstance(payload, dict) else None
            capped = sweep["n"] >= cap or (
                not next_page and isinstance(total, int) and total > sweep["n"]
            )
            finished = False
            if stalled is not None:
                self._give_up(batch, key, sweep, stalled)
                finished = True
            elif next_page and sweep["n"] < cap:
                sweep["page"] = next_page
            elif capped and sweep.get("oldest") and (sweep["n"] >= cap or self._can_split(sweep)):
                narrower = self._split(sweep, batch, key)
                if narrower is None:
                    finished = True
                else:
                    sweep = narrower
            else:
                finished = True
            if finished:
                batch.cursor = {"done_until": sweep["end"], "sweep": None}
                if stalled is None and batch.problems is None:
                    batch.problems = []
            else:
                batch.cursor = {"done_until": cursor.get("done_until"), "sweep": dict(sweep)}
            yield batch
            if finished or self.stop.is_set():
                return

    # Empty pages in a row (each with a new cursor) before the sweep gives up.
    IDLE_PAGES = 3
    # How far past a split window's `until` a post may lie before the service is taken to
    # ignore `until`: a service comparing whole seconds may round our millisecond bound up.
    LATE_SLACK = timedelta(seconds=1)

    def _no_progress(
        self,
        sweep: dict[str, Any],
        posts: list[ParsedPost],
        next_page: str | None,
        previous: frozenset[str],
        idle: int,
    ) -> str | None:
        """Why this page proves the sweep would not move forward, or None when it does.

        Every loop that pages or splits must make progress (a new page, a strictly smaller
        window) or stop: an AppView that ignores `until` answers every narrower window with
        the same newest posts, and one that repeats its cursor or its page serves the same
        posts for ever. Either would send the same request until the process dies."""
        until = parse_datetime(sweep.get("until"))
        if until is not None and sweep.get("until") != sweep.get("end"):
            # A window made by a split: every post must be older than its `until`. (The first
            # window ends "now" and is not checked: our clock may lag the server's.)
            late = [p.sort_at for p in posts if p.sort_at >= until + self.LATE_SLACK]
            if late:
                return (
                    f"the service ignored the search window (asked for posts before "
                    f"{iso(until)}, got one from {iso(max(late))})"
                )
        if next_page is None:
            return None
        if next_page == sweep.get("page"):
            return f"the service repeated the page cursor {next_page[:40]!r}"
        if posts and frozenset(p.mention.native_id for p in posts) == previous:
            return "the service sent the same page again under a new cursor"
        if not posts and idle + 1 >= self.IDLE_PAGES:
            return f"{self.IDLE_PAGES} empty pages in a row, each with a new cursor"
        return None

    def _give_up(self, batch: Batch, key: str, sweep: dict[str, Any], why: str) -> None:
        """Close a sweep that cannot progress, saying what was not read: posts older than the
        oldest one read in this window, down to the sweep's `since`."""
        oldest = sweep.get("oldest") or sweep.get("until")
        batch.signal(GAP)
        batch.problems = [
            f"{key}: {why}; stopped this sweep, so posts from {sweep['since']} to {oldest} "
            "may be missing. Point [bluesky].base_url at a service that honours searchPosts' "
            "since/until and cursor"
        ]
        self.context.log.warning("%s: %s; sweep stopped", key, why)

    @staticmethod
    def _split_point(sweep: dict[str, Any]) -> tuple[datetime, datetime, datetime]:
        """(oldest post read, current until, the next window's until: oldest + 1 ms, so posts
        sharing that millisecond are read again rather than skipped)."""
        oldest = parse_datetime(sweep["oldest"])
        until = parse_datetime(sweep["until"])
        assert oldest is not None and until is not None
        ms = oldest.replace(microsecond=oldest.microsecond // 1000 * 1000)
        return oldest, until, ms + timedelta(milliseconds=1)

    def _can_split(self, sweep: dict[str, Any]) -> bool:
        """A split suggested only by `hitsTotal` (which may be rounded) is worth a query only
        if it narrows the window."""
        _, until, new_until = self._split_point(sweep)
        return new_until < until

    def _split(self, sweep: dict[str, Any], batch: Batch, key: str) -> dict[str, Any] | None:
        """The query reached the result cap: continue with a window ending at the oldest post
        read, so older posts are reached by a fresh query. None (and a recorded problem) when
        no strictly smaller window exists: a split that does not shrink the window would send
        the same query again."""
        oldest, until, new_until = self._split_point(sweep)
        batch.signal(RESULT_CAP_SPLIT)
        if oldest >= until:
            # The service ignored `until` (the oldest post read lies outside the window).
            self._give_up(
                batch,
                key,
                sweep,
                f"the service ignored the search window (asked for posts before {iso(until)}, "
                f"the oldest it gave is from {iso(oldest)})",
            )
            return None
        if new_until >= until:
            # More than `cap` posts in one millisecond: nothing finer to split on.
            batch.signal(RESULT_CAP_OVERFLOW)
            batch.problems = [
                f"{key}: over {self.settings.result_cap} posts at {iso(oldest)}; some were "
                "not reachable through search"
            ]
            new_until = oldest
        self.context.log.info(
            "%s: result cap %d reached; continuing with posts before %s",
            key,
            self.settings.result_cap,
            iso(new_until),
        )
        return {**sweep, "until": iso(new_until), "page": None, "n": 0, "oldest": None}

    def _matches(self, post: ParsedPost) -> bool:
        m = post.mention
        return bool(match_post(self.context.rules, hashtags=m.hashtags, text=m.text, links=m.links))

    def _add_posts(self, batch: Batch, posts: list[ParsedPost]) -> None:
        """Every post goes to the write path (it stores the matching ones); the edges a post
        makes (reply, quote) only when the post itself belongs to a movement."""
        for p in posts:
            batch.mentions.append(p.mention)
            if p.edges and self._matches(p):
                batch.edges.extend(p.edges)

    # -- amplification --------------------------------------------------------------------

    def _add_amplification(self, batch: Batch, posts: list[ParsedPost], seen: set[str]) -> None:
        if not self.settings.fetch_reposts or self.context.engine is None:
            return
        # Every matching post: a repost count that fell to zero is news too (undone reposts).
        candidates = [p for p in posts if self._matches(p)]
        if not candidates:
            return
        with self.context.engine.connect() as conn:
            stored = stored_counts(conn, PLATFORM, [p.mention.native_id for p in candidates])
        for p in candidates:
            uri = p.mention.native_id
            old_reposts, old_quotes = stored.get(uri, (0, 0))
            if p.mention.repost_count != old_reposts:  # grew, or fell: reposts undone
                self._fetch_reposts(batch, uri, p.mention.repost_count)
            if p.mention.quote_count > old_quotes:
                self._fetch_quotes(batch, uri, seen)

    def _add_threads(self, batch: Batch, posts: list[ParsedPost], seen: set[str]) -> None:
        """Replies without the hashtag: threads of `posts` whose reply count grew."""
        if self.settings.fetch_replies and posts:
            add_thread_replies(self, batch, grown(self, posts), seen)

    def _fetch_reposts(self, batch: Batch, uri: str, count: int) -> None:
        """Who reposted `uri`. A re-read that lists exactly `count` (the post's repost count)
        accounts, none malformed, is the whole truth: a stored repost it leaves out was undone
        (`Batch.listed`)."""
        page: str | None = None
        prev: str | None = None
        now = self.clock()
        listed: list[EdgeRecord] = []
        whole = True
        for _ in range(self.settings.max_edge_pages):
            payload = self.client.reposted_by(uri, page)
            try:
                edges, skipped, page = parse_reposted_by(payload, uri, observed_at=now)
            except MalformedPost as exc:
                batch.skipped.append(exc.as_skip())
                return
            batch.edges.extend(edges)
            batch.skipped.extend(skipped)
            listed.extend(edges)
            whole = whole and not skipped
            if not page or page == prev:  # no next page, or one that would repeat this one
                break
            prev = page
        if whole and len({e.id for e in listed}) == count:
            batch.listed.append(("repost", (PLATFORM, uri), [e.id for e in listed]))

    def _fetch_quotes(self, batch: Batch, uri: str, seen: set[str]) -> None:
        page: str | None = None
        prev: str | None = None
        for _ in range(self.settings.max_edge_pages):
            payload = self.client.quotes(uri, page)
            posts, skipped, page = parse_quotes(payload, uri)
            batch.skipped.extend(skipped)
            for p in posts:
                if p.mention.native_id not in seen:  # one row per key in a batch
                    seen.add(p.mention.native_id)
                    batch.mentions.append(p.mention)
                batch.edges.extend(e for e in p.edges if e.kind == "quote" and e.target[1] == uri)
            if not page or page == prev:  # no next page, or one that would repeat this one
                return
            prev = page
