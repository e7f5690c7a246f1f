"""Pingbacks of a whole followed blog through its site-wide comments feed (issue 22, item 3).

WordPress (and most blog engines) publish `/comments/feed/`: every comment of every post,
pingbacks and trackbacks included. One conditional request per poll tells whether any post of
the blog got one, instead of one request per tracked post. It is read by default for every
followed blog that is not on one of your `[receiver] owned_sites` (`pingbacks = false` opts a
feed out). The feed is found once per blog (`discover`): the home page's
`<link rel="alternate">` named "... Comments Feed" (WordPress prints it on every page), else
WordPress's `/comments/feed/`; both read through robots.txt, as crawled pages are. A blog with
no comments feed (404/410) is asked again only after `ABSENT_RETRY_S`, so engines without one
cost nothing per poll and keep per-post tracking. WordPress marks a pingback there
only by its shape: no comment type, the source blog's title as author, and an excerpt that
starts with "[…]"; nor does the item carry the source's URL. So a post whose feed items have
that shape, and that is a stored mention of a movement, is read once: its page lists pingbacks
and trackbacks (`li.pingback` / `li.trackback`) with the source's link (`pingbacks.fetch_page`),
read through robots.txt. A pingback found so belongs to the pinged post's movements.

Engines without such a feed keep per-post tracking (`[[blogs.tracked_posts]]`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urldefrag

import feedparser

from collectors.base import SourceState
from collectors.blogs.feeds import site_host
from collectors.blogs.pingbacks import fetch_page, ping_edge, ping_mention
from collectors.blogs.reading import moved_problem
from domain.matching import normalise_url
from domain.records import Batch
from net.fetcher import FetchError, PermanentFetchError
from storage.queries.blogs import mentions_by_url

if TYPE_CHECKING:
    from collectors.blogs.reading import BlogReader

MAX_SEEN = 500  # comment ids remembered per blog (the feed carries the latest few dozen)
ABSENT_RETRY_S = 7 * 86_400  # a blog without a (readable, allowed) comments feed: asked weekly
# A pingback's excerpt as WordPress renders it: "[…] text […]" (the ellipsis as U+2026, an
# entity, or three dots).
_EXCERPT = re.compile(r"^\s*(<p>)?\s*\[(\u2026|&#8230;|&hellip;|\.\.\.)\]")


def comments_feed_url(feed_url: str) -> str | None:
    """`<scheme>://<host>/comments/feed/` of the blog whose feed is `feed_url`."""
    host = site_host(feed_url)
    return f"{feed_url.split('://', 1)[0]}://{host}/comments/feed/" if host else None


def discover(collector: BlogReader, feed_url: str) -> str | None:
    """The comments feed of the blog whose feed is `feed_url`: the `<link rel="alternate">` of
    its home page whose title ends in "Comments Feed" (WordPress: "<blog> » Comments Feed") or
    whose address ends in `/comments/feed/`, on the blog's own host; else `/comments/feed/`.
    The home page is read through robots.txt; when it cannot be read the fallback is used."""
    fallback = comments_feed_url(feed_url)
    host = site_host(feed_url)
    if fallback is None or host is None:
        return None
    home = f"{feed_url.split('://', 1)[0]}://{host}/"
    try:
        collector.robots.check(home)
        page, _ = fetch_page(collector.fetcher, home)
    except FetchError as exc:
        collector.context.log.info("%s: home page unreadable (%s); trying %s", home, exc, fallback)
        return fallback
    for href, _kind, title in page.feeds:
        named = (title or "").strip().lower().endswith("comments feed")
        if site_host(href) == host and (named or href.rstrip("/").endswith("/comments/feed")):
            return href
    return fallback


def pinged_posts(content: Any, seen: set[str]) -> tuple[dict[str, list[str]], list[str]]:
    """Of a comments feed (its bytes, or feedparser's result): the posts with new
    pingback-shaped items (post URL -> the items' ids, in feed order) and the ids of every
    other item."""
    parsed = feedparser.parse(content) if isinstance(content, bytes) else content
    posts: dict[str, list[str]] = {}
    others: list[str] = []
    for entry in parsed.entries:
        cid = str(entry.get("id") or entry.get("link") or "")
        if not cid or cid in seen:
            continue
        summary = str(entry.get("summary") or "")
        content_value = entry.get("content")
        body = str(content_value[0].get("value", "")) if content_value else summary
        link = str(entry.get("link") or "")
        if not link or not (_EXCERPT.match(summary) or _EXCERPT.match(body)):
            others.append(cid)  # an ordinary comment
            continue
        posts.setdefault(urldefrag(link)[0], []).append(cid)
    return posts, others


def poll_site_pingbacks(
    collector: BlogReader, source: SourceState, cursor: dict[str, Any]
) -> Iterator[Batch]:
    """One conditional GET of the blog's comments feed; the pages of posts it shows new
    pingback-shaped comments on are read for their pingbacks and trackbacks."""
    state: dict[str, Any] = dict(cursor.get("comments") or {})
    log = collector.context.log
    now = datetime.now(UTC)

    def absent(why: str) -> Iterator[Batch]:
        # no comments feed here (or not for us): not asked again for a week; the blog's own
        # feed is unaffected
        log.info("%s: no comments feed read (%s)", source.target["url"], why)
        state.update(url=None, absent=why, retry_ts=int(now.timestamp()) + ABSENT_RETRY_S)
        new = {**cursor, "comments": state}
        notes = moved_problem(str(source.target["url"]), new)
        yield Batch(cursor=new, problems=notes or None)

    if int(state.get("retry_ts") or 0) > now.timestamp():
        return
    url = state.get("url") or discover(collector, str(source.target["url"]))
    if url is None:
        return
    if url != state.get("url"):
        state = {"url": url, "seen": state.get("seen") or []}  # validators of another URL
    try:
        collector.robots.check(url)
        res = collector.fetcher.get(
            url, etag=state.get("etag"), last_modified=state.get("last_modified")
        )
    except PermanentFetchError as exc:  # 404/410, disallowed by robots.txt, not a feed
        yield from absent(str(exc))
        return
    except FetchError as exc:  # transient: asked again next poll
        log.info("%s: comments feed unreadable (%s)", url, exc)
        return
    if res.not_modified:
        return
    parsed = feedparser.parse(res.content)
    if not parsed.version:
        yield from absent(f"{url} is not a feed")
        return
    state.pop("absent", None)
    state.pop("retry_ts", None)
    seen_list: list[str] = list(state.get("seen") or [])
    posts, done = pinged_posts(parsed, set(seen_list))
    movement = source.target.get("movement")
    batch = Batch(fetched=len(done) + sum(len(v) for v in posts.values()))
    budget = collector.settings.max_enrich_per_poll
    deferred = False
    stored: dict[str, Any] = {}
    if posts and collector.context.engine is not None:
        with collector.context.engine.connect() as conn:
            stored = mentions_by_url(conn, list(posts))
    read = 0
    for post, items in posts.items():
        hit = stored.get(normalise_url(post) or post)
        if hit is None:
            done += items  # a post of no movement: its pingbacks are not ours to keep
            continue
        if read >= budget:
            deferred = True  # the rest next poll
            continue
        read += 1
        try:
            collector.robots.check(post)
            page, _ = fetch_page(collector.fetcher, post)
        except FetchError as exc:
            log.info("%s: cannot read pinged post %s: %s", url, post, exc)
            deferred = True
            continue
        done += items
        for ping in page.pings:
            m = ping_mention(
                "pingback",
                ping.source,
                post,
                None,
                now=now,
                fallback_title=ping.title,
                movement=movement,
                method="comments_feed",
            )
            if not movement:  # the pinged post's movements (storage/threads.py)
                m.thread_of = (hit.platform, hit.native_id)
            batch.mentions.append(m)
            edge = ping_edge("pingback", m, post, stored)
            if edge is not None:
                batch.edges.append(edge)
    # Validators only when nothing waits: a 304 next time must not hide what was deferred.
    state.update(
        etag=None if deferred else res.headers.get("etag"),
        last_modified=None if deferred else res.headers.get("last-modified"),
        seen=(seen_list + done)[-MAX_SEEN:],
    )
    batch.cursor = {**cursor, "comments": state}
    yield batch
