"""Replies that do not repeat the hashtag: the descendants of matched statuses (issue 15).

A hashtag timeline only lists statuses that carry the tag, but a conversation's replies seldom
repeat it. For a status whose `replies_count` grew since this source last read its thread,
`GET /api/v1/statuses/:id/context` gives its descendants (replies, replies to replies); each
becomes a mention with `thread_of` naming the status (the write path matches it "thread" to
that status's movements, `storage.threads`) and a `reply` edge to its parent.

The same way as boosts (`MastodonCollector._boosts`): the per-status counts live in the
source's cursor (`threads`: uri -> [local id, replies fetched, replies seen, created ts]), so
they move in the transaction of the replies they cover; a crash before the commit fetches the
thread again, and the upserts store nothing twice. `context` has no paging (Mastodon returns
at most 60 descendants to anonymous clients, 4,096 with a token), so there is no page loop; the
rate-limit budget is spent in bounded steps instead: at most `threads_per_page` contexts per
timeline page, newest statuses first, and the rest stay due in the cursor for the next page or
poll. Every fetch settles one due status, so the backlog only shrinks.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from collectors.base import FatalSourceError
from collectors.mastodon.client import InstanceClient
from collectors.mastodon.parse import (
    MalformedStatus,
    ParsedStatus,
    parse_status,
    reply_edge,
    status_key,
    to_plain,
)
from domain.matching import match_post
from domain.records import Batch

if TYPE_CHECKING:
    from collectors.base import CollectorContext
    from domain.settings.mastodon import MastodonSettings


class ThreadReader(Protocol):
    """What reading threads needs of the collector (`MastodonCollector` is one): a protocol,
    so this module does not import the collector that imports it."""

    context: CollectorContext
    settings: MastodonSettings

    def _remember(self, domain: str, local_id: str, status: dict[str, Any]) -> None: ...

    def _parent(
        self, client: InstanceClient, domain: str, local_id: str, resolves: int
    ) -> tuple[dict[str, Any] | None, int]: ...


log = logging.getLogger("groundswell.collect.mastodon")
MAX_TRACKED_THREADS = 500


def descendants(payload: Any) -> list[Any]:
    """The `descendants` of a Context entity; anything else is no descendants (a server that
    answers with an error page or a bare list has told us nothing about replies)."""
    if isinstance(payload, Mapping) and isinstance(payload.get("descendants"), list):
        return list(payload["descendants"])
    return []


def note_growth(tracked: dict[str, list[Any]], parsed: list[ParsedStatus]) -> None:
    """Record each status's reply count as seen; a count above what was fetched is due.
    Statuses without replies are not tracked (the cursor is written with every page)."""
    for p in parsed:
        m = p.mention
        entry = tracked.get(m.native_id)
        if entry is None and m.reply_count <= 0:
            continue
        if entry is None:
            tracked[m.native_id] = [
                p.mention_local_id,
                0,
                m.reply_count,
                int(m.created_at.timestamp()),
            ]
        else:
            entry[0] = p.mention_local_id  # this instance's id for it, as last listed
            entry[2] = max(int(entry[2]), m.reply_count)


def due(tracked: dict[str, list[Any]], since_ts: int) -> list[str]:
    """Statuses whose replies grew since their thread was read, newest first."""
    grown = [
        (int(v[3]), uri)
        for uri, v in tracked.items()
        if int(v[2]) > int(v[1]) and int(v[3]) >= since_ts
    ]
    return [uri for _, uri in sorted(grown, reverse=True)]


def prune(tracked: dict[str, list[Any]], since_ts: int) -> dict[str, list[Any]]:
    """Keep the cursor small: the newest statuses within the window."""
    live = {k: v for k, v in tracked.items() if int(v[3]) >= since_ts}
    if len(live) > MAX_TRACKED_THREADS:
        live = dict(sorted(live.items(), key=lambda kv: int(kv[1][3]))[-MAX_TRACKED_THREADS:])
    return live


def fetch_threads(
    collector: ThreadReader,
    client: InstanceClient,
    domain: str,
    parsed: list[ParsedStatus],
    batch: Batch,
    cursor: dict[str, Any],
    *,
    now: datetime,
) -> None:
    """Add the replies of statuses whose `replies_count` grew to `batch` (see the module)."""
    settings = collector.settings
    since_ts = int((now - timedelta(days=settings.reply_window_days)).timestamp())
    tracked: dict[str, list[Any]] = cursor.setdefault("threads", {})
    note_growth(tracked, [p for p in parsed if _matches(collector, p)])
    in_batch = {m.native_id for m in batch.mentions}
    for uri in due(tracked, since_ts)[: settings.threads_per_page]:
        entry = tracked[uri]
        try:
            payload = client.call(f"context {entry[0]}", client.api.status_context, str(entry[0]))
        except FatalSourceError as exc:
            # Deleted or private since it was listed: nothing to read, and nothing to retry.
            log.info("%s: thread of %s not readable: %s", client.host, uri, exc)
            batch.skip("thread_unavailable", f"{uri}: {exc}"[:300])
            entry[1] = entry[2]
            continue
        items = descendants(to_plain(payload))
        _add_replies(collector, client, domain, uri, items, batch, in_batch)
        entry[1] = entry[2]
    cursor["threads"] = prune(tracked, since_ts)


def _matches(collector: ThreadReader, p: ParsedStatus) -> bool:
    """Whether the status belongs to a movement: only then are its replies worth a request
    (an instance may list hashtags no movement tracks). Without compiled rules (no runner
    has run yet), every status is."""
    rules = collector.context.rules
    if not rules:
        return True
    m = p.mention
    return bool(match_post(rules, hashtags=m.hashtags, text=m.text, links=m.links))


def _add_replies(
    collector: ThreadReader,
    client: InstanceClient,
    domain: str,
    anchor_uri: str,
    items: list[Any],
    batch: Batch,
    in_batch: set[str],
) -> None:
    batch.fetched += len(items)
    replies: list[ParsedStatus] = []
    for item in items:
        try:
            p = parse_status(item, domain)
        except MalformedStatus as exc:
            batch.skip(exc.reason, exc.detail)
            continue
        if p.mention.native_id == anchor_uri or p.local_id != p.mention_local_id:
            continue  # the anchor itself, or a boost (context lists neither as a reply)
        replies.append(p)
        # Parents inside the thread resolve from here, without a request each.
        collector._remember(domain, p.mention_local_id, item)
    resolves = 0
    for p in replies:
        m = p.mention
        if m.native_id in in_batch:
            continue  # already in this batch (one row per key), e.g. it carries the hashtag
        in_batch.add(m.native_id)
        m.thread_of = status_key(anchor_uri)
        batch.mentions.append(m)
        batch.accounts.extend(p.accounts)
        batch.edges.extend(p.edges)  # e.g. the quote a reply makes
        if p.reply_to_local_id is None:
            continue
        parent, fetched = collector._parent(client, domain, p.reply_to_local_id, resolves)
        resolves += fetched
        if parent is not None:
            try:
                batch.edges.append(reply_edge(m, parent, domain))
            except MalformedStatus as exc:
                batch.skip("bad_parent", exc.detail)
