"""Pingbacks of a whole followed blog through its site-wide comments feed (issue 22, item 5).

WordPress (and most blog engines) publish `/comments/feed/`: every comment of every post,
pingbacks and trackbacks included. One conditional request per poll tells whether any post of
the blog got one, instead of one request per tracked post. WordPress marks a pingback there
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
from domain.matching import normalise_url
from domain.records import Batch
from net.fetcher import FetchError
from storage.queries.blogs import mentions_by_url

if TYPE_CHECKING:
    from collectors.blogs.collector import BlogCollector

MAX_SEEN = 500  # comment ids remembered per blog (the feed carries the latest few dozen)
# A pingback's excerpt as WordPress renders it: "[…] text […]" (the ellipsis as U+2026, an
# entity, or three dots).
_EXCERPT = re.compile(r"^\s*(<p>)?\s*\[(\u2026|&#8230;|&hellip;|\.\.\.)\]")


def comments_feed_url(feed_url: str) -> str | None:
    """`<scheme>://<host>/comments/feed/` of the blog whose feed is `feed_url`."""
    host = site_host(feed_url)
    return f"{feed_url.split('://', 1)[0]}://{host}/comments/feed/" if host else None


def pinged_posts(content: bytes, seen: set[str]) -> tuple[dict[str, list[str]], list[str]]:
    """Of a comments feed: the posts with new pingback-shaped items (post URL -> the items'
    ids, in feed order) and the ids of every other item."""
    parsed = feedparser.parse(content)
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
    collector: BlogCollector, source: SourceState, cursor: dict[str, Any]
) -> Iterator[Batch]:
    """One conditional GET of the blog's comments feed; the pages of posts it shows new
    pingback-shaped comments on are read for their pingbacks and trackbacks."""
    url = comments_feed_url(str(source.target["url"]))
    if url is None:
        return
    state: dict[str, Any] = dict(cursor.get("comments") or {})
    log = collector.context.log
    try:
        res = collector.fetcher.get(
            url, etag=state.get("etag"), last_modified=state.get("last_modified")
        )
    except FetchError as exc:  # no comments feed: the blog's own feed still works
        log.info("%s: no comments feed (%s)", url, exc)
        return
    if res.not_modified:
        return
    seen_list: list[str] = list(state.get("seen") or [])
    posts, done = pinged_posts(res.content, set(seen_list))
    movement = source.target.get("movement")
    now = datetime.now(UTC)
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
