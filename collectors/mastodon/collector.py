"""The Mastodon collector: one source = one instance x one hashtag, or one instance's `local`
or `public` timeline (same paging, cursor and limits; a timeline the instance's
`timelines_access` disables stops its source instead of being polled for empty pages).

A poll, each step yielding one `Batch` per page with the cursor that covers it:

1. Backfill (first run, resumable): walk back with `max_id` from the newest status to the
   horizon (`backfill_days`). The first page also fixes `min_id`, the newest id seen, so new
   statuses arriving meanwhile are picked up by step 2: no gap, no duplicate, even if the
   worker dies half-way (the cursor keeps `backfill_max_id`). Statuses older than the horizon
   are left out and counted ("N older statuses left out by backfill_days").
2. Forward: page with `min_id` (the page immediately after the cursor) until a short page.
3. Refresh: the latest page without paging ids (outside Mastodon's paging budget) to see
   counters grow on recent statuses, and to store statuses that federated in late: Mastodon
   gives a remote status an id from its publication time, which can fall below the cursor.

For every status whose `reblogs_count` grew since the boosts were last fetched *through this
source*, `status_reblogged_by` (paged) gives `boost` edges; the per-uri fetched counts are part
of the cursor, so they move in the same transaction as the edges. Replies and shallow quotes
name their parent by a per-instance id, resolved once per client (cache, then `status(id)`).
Replies that do not carry the hashtag come from the threads of statuses whose `replies_count`
grew (`collectors.mastodon.threads`, tracked in the cursor the same way as boosts).

Paging ids are the server's strings, never cast: the newest id is the first item (Mastodon
lists newest first, also for `min_id`) or the `Link rel="prev"` `min_id`; the next older
page is the `Link rel="next"` `max_id`.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from collectors.base import CollectorContext, CollectorError, FatalSourceError, SourceState
from collectors.mastodon.client import InstanceClient, Page
from collectors.mastodon.parse import (
    MalformedStatus,
    ParsedStatus,
    boost_edges,
    parse_status,
    parse_time,
    quote_edge,
    reply_edge,
)
from collectors.mastodon.threads import fetch_threads
from domain.records import BACKFILL_HORIZON, GAP, Batch, MentionRecord, merge_signals
from domain.settings.checks import secret_from_env
from domain.settings.mastodon import MastodonInstance
from storage.models import Mention

log = logging.getLogger("groundswell.collect.mastodon")
MAX_TRACKED_BOOSTS = 500
MAX_RESOLVES_PER_PAGE = 40
_PARENT_CACHE = 20_000
_UNKNOWN: Any = object()


def timeline_of(target: dict[str, Any]) -> str:
    """The timeline a source reads: `#tag`, or `local` / `public` (the federated timeline)."""
    if target.get("timeline"):
        return str(target["timeline"])
    return "#" + str(target["hashtag"]).lstrip("#")


def _older_than(item: Any, horizon: datetime) -> bool:
    """Whether a listed status was created before `horizon` (unreadable dates: not older;
    the parser skips and counts them)."""
    if not isinstance(item, dict):
        return False
    try:
        return parse_time(item.get("created_at")) < horizon
    except (ValueError, TypeError, OverflowError):
        return False


class MastodonCollector:
    platform = "mastodon"

    def __init__(self, context: CollectorContext) -> None:
        self.context = context
        self.settings = context.settings.mastodon
        self._clients: dict[tuple[str, str | None], InstanceClient] = {}
        # (domain, local id) -> {"uri", "account"} of statuses seen, for reply/quote parents;
        # None marks a parent that cannot be fetched (deleted, private).
        self._parents: OrderedDict[tuple[str, str], dict[str, Any] | None] = OrderedDict()
        self._parents_lock = threading.Lock()
        self.clock = lambda: datetime.now(UTC)

    # -- configuration

    def instance_settings(self, base_url: str) -> MastodonInstance:
        for inst in self.settings.instances:
            if inst.base_url == base_url.rstrip("/"):
                return inst
        return MastodonInstance(base_url=base_url)

    def client_for(self, target: dict[str, Any]) -> InstanceClient:
        base_url = str(target["base_url"]).rstrip("/")
        inst = self.instance_settings(base_url)
        token_env = target.get("token_env") or inst.token_env
        token = secret_from_env(token_env, what=f"Mastodon token for {base_url}")
        key = (base_url, token)
        client = self._clients.get(key)
        if client is None:
            client = InstanceClient(
                base_url,
                token,
                token_env=token_env,
                timeout_s=inst.timeout_s,
                paging_budget=inst.paging_budget,
                paging_window_s=inst.paging_window_s,
                max_wait_s=inst.max_wait_s,
            )
            self._clients[key] = client
        return client

    def _backfill_days(self, base_url: str) -> float:
        days = self.instance_settings(base_url).backfill_days
        return float(self.context.settings.collect.backfill_days if days is None else days)

    def _horizon(self, base_url: str) -> datetime:
        return self.clock() - timedelta(days=self._backfill_days(base_url))

    # -- polling

    def poll(self, source: SourceState) -> Iterator[Batch]:
        """`_poll`, with the client's waits carried as completeness signals: on the batch
        they were waited for, or on the error that ended the poll."""
        client = self.client_for(source.target)
        client.take_signals()  # nothing noted before this poll is ours
        try:
            for batch in self._poll(source, client):
                merge_signals(batch.signals, client.take_signals())
                yield batch
            leftover = client.take_signals()  # e.g. waited for a page with nothing new
            if leftover:
                yield Batch(signals=leftover)
        except CollectorError as exc:
            exc.add_signals(client.take_signals())
            raise

    def _poll(self, source: SourceState, client: InstanceClient) -> Iterator[Batch]:
        target = source.target
        feed = timeline_of(target)
        if not feed.startswith("#"):
            self._check_timeline(client, feed)
        domain = client.domain
        limit = self.settings.page_limit
        cursor: dict[str, Any] = dict(source.cursor or {})
        cursor.setdefault("boosts", {})
        fetched_new = 0
        ran_backfill = False
        saw_latest = False  # this poll already read the newest page without paging ids

        # 1. Backfill, newest to the horizon; resumable from backfill_max_id.
        if not cursor.get("backfill_done"):
            ran_backfill = True
            horizon = self._horizon(client.base_url)
            max_id = cursor.get("backfill_max_id")
            saw_latest = max_id is None
            while True:
                page = client.timeline_page(feed, limit=limit, max_id=max_id)
                items = page.items
                if max_id is None and cursor.get("min_id") is None:
                    self._check_empty(client, feed, items)
                    newest = self._newest(page)
                    if newest is not None:
                        cursor["min_id"] = newest
                # Statuses older than the horizon are left out, counted and said (a quiet
                # instance's first run may store nothing: the user must know why).
                older = [i for i in items if _older_than(i, horizon)]
                kept = [i for i in items if not _older_than(i, horizon)]
                batch, _ = self._page(client, domain, kept, cursor)
                batch.fetched = len(items)
                fetched_new += len(items)
                next_max = page.link("next", "max_id") or self._last_id(items)
                done = (
                    len(items) < limit
                    or next_max is None
                    or next_max == max_id  # a server that ignores max_id: no progress
                    or bool(older)
                )
                if older:
                    self._note_horizon(batch, client.base_url, len(older), more=len(items) >= limit)
                if done and next_max is not None and next_max == max_id and len(items) >= limit:
                    # The server ignored max_id: older statuses up to the horizon were not
                    # reachable. Nothing to retry; counted so the data card can say so.
                    log.warning("%s: %s ignores max_id; backfill stopped early", client.host, feed)
                    batch.signal(GAP)
                cursor["backfill_max_id"] = None if done else next_max
                cursor["backfill_done"] = done
                batch.cursor = self._snapshot(cursor)
                batch.budget = client.budget()
                yield batch
                if done:
                    break
                max_id = next_max

        # 2. Forward from min_id until a short page.
        while not (ran_backfill and cursor.get("min_id") is None):
            min_id = cursor.get("min_id")
            page = client.timeline_page(feed, limit=limit, min_id=min_id)
            items = page.items
            if min_id is None:
                self._check_empty(client, feed, items)
            newest = self._newest(page)
            if newest is not None:
                cursor["min_id"] = newest
            batch, _ = self._page(client, domain, items, cursor)
            fetched_new += len(items)
            batch.cursor = self._snapshot(cursor)
            batch.budget = client.budget()
            if items or min_id is None or batch.mentions:
                yield batch  # (an empty page may carry thread replies read for due statuses)
            if len(items) < limit or newest is None or newest == min_id:
                break  # caught up (or a server that ignores min_id: no progress)

        # 3. Refresh the latest page: counters (and boosts) of recent statuses.
        refresh = self.settings.refresh_latest or self.settings.fetch_boosts
        if refresh and not saw_latest and fetched_new < limit and cursor.get("min_id"):
            items = client.timeline_page(feed, limit=limit).items
            batch, _ = self._page(client, domain, items, cursor)
            batch.skipped = []  # counted when first paged; a refresh only updates counters
            batch.mentions = self._changed(batch.mentions)
            batch.cursor = self._snapshot(cursor)
            batch.budget = client.budget()
            yield batch

    # -- helpers

    def _changed(self, mentions: list[MentionRecord]) -> list[MentionRecord]:
        """Of a refreshed page, the statuses not stored yet or whose counters or edit time
        moved: rewriting the rest would change nothing but cost a write per row per poll."""
        engine = self.context.engine
        if engine is None or not mentions:
            return mentions
        table: Any = Mention.__table__  # type: ignore[attr-defined]
        with engine.connect() as conn:
            stored = {
                r.id: (r.like_count, r.repost_count, r.reply_count, r.quote_count, r.edited_at)
                for r in conn.execute(
                    select(
                        table.c.id,
                        table.c.like_count,
                        table.c.repost_count,
                        table.c.reply_count,
                        table.c.quote_count,
                        table.c.edited_at,
                    ).where(table.c.id.in_([m.id for m in mentions]))
                )
            }
        out = []
        for m in mentions:
            now = (m.like_count, m.repost_count, m.reply_count, m.quote_count, m.edited_at)
            if stored.get(m.id) != now:
                out.append(m)
        return out

    def _check_empty(self, client: InstanceClient, feed: str, items: list[Any]) -> None:
        """An empty anonymous timeline on an instance whose hashtag feeds need a login is a
        refusal, not silence (Mastodon 4.5 `timelines_access`)."""
        if (
            feed.startswith("#")
            and not items
            and not client.has_token
            and client.hashtag_needs_login()
        ):
            raise client.needs_token(
                f"{client.base_url} ({feed})", "serves hashtag timelines to signed-in users only"
            )

    @staticmethod
    def _check_timeline(client: InstanceClient, feed: str) -> None:
        """A local/public timeline the instance disabled (or keeps for signed-in users) is
        reported once and the source stopped, never polled in a loop for empty pages."""
        access = client.timeline_access(feed)
        where = f"{client.base_url} ({feed} timeline)"
        if access == "disabled":
            part = "live_feeds.local" if feed == "local" else "live_feeds (local and remote)"
            raise FatalSourceError(
                f"{where}: the instance has disabled this timeline "
                f"(timelines_access.{part} = disabled); remove the timeline source or ask "
                "its admins",
                status="timeline_disabled",
            )
        if access == "authenticated" and not client.has_token:
            raise client.needs_token(where, "serves this timeline to signed-in users only")

    def _note_horizon(self, batch: Batch, base_url: str, n: int, *, more: bool) -> None:
        """Say on the run (a signal) and in `status` (a problem) what backfill_days hid."""
        days = self._backfill_days(base_url)
        note = f"{n} older statuses left out by backfill_days = {days:g}"
        if more:
            note += " (older pages not read)"
        batch.signal(BACKFILL_HORIZON, n)
        batch.problems = [note]
        log.info("%s: %s", base_url, note)

    @staticmethod
    def _newest(page: Page) -> str | None:
        if not page.items:
            return None
        raw = page.link("prev", "min_id")
        if raw:
            return raw
        for item in page.items:
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                return str(item["id"])
        return None

    @staticmethod
    def _last_id(items: list[Any]) -> str | None:
        for item in reversed(items):
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                return str(item["id"])
        return None

    @staticmethod
    def _snapshot(cursor: dict[str, Any]) -> dict[str, Any]:
        """The cursor as stored: the paging ids first (what `status` shows), then the boosts."""
        snap = {k: cursor.get(k) for k in ("min_id", "backfill_done", "backfill_max_id")}
        snap["boosts"] = dict(cursor.get("boosts") or {})
        if cursor.get("threads"):
            snap["threads"] = {k: list(v) for k, v in cursor["threads"].items()}
        return snap

    def _page(
        self,
        client: InstanceClient,
        domain: str,
        items: list[Any],
        cursor: dict[str, Any],
    ) -> tuple[Batch, list[ParsedStatus]]:
        batch = Batch(fetched=len(items))
        parsed: list[ParsedStatus] = []
        for item in items:
            try:
                p = parse_status(item, domain)
            except MalformedStatus as exc:
                batch.skip(exc.reason, exc.detail)
                log.info("%s: skipped a malformed status: %s", client.host, exc)
                continue
            parsed.append(p)
            self._remember(domain, p.mention_local_id, item.get("reblog") or item)
        resolves = 0
        for p in parsed:
            batch.mentions.append(p.mention)
            batch.edges.extend(p.edges)
            batch.accounts.extend(p.accounts)
            for local, build in (
                (p.reply_to_local_id, reply_edge),
                (p.quote_local_id, quote_edge),
            ):
                if local is None:
                    continue
                parent, fetched = self._parent(client, domain, local, resolves)
                resolves += fetched
                if parent is not None:
                    try:
                        batch.edges.append(build(p.mention, parent, domain))
                    except MalformedStatus as exc:
                        batch.skip("bad_parent", exc.detail)
        if self.settings.fetch_boosts:
            self._boosts(client, domain, parsed, batch, cursor)
        if self.settings.fetch_replies:
            fetch_threads(self, client, domain, parsed, batch, cursor, now=self.clock())
        return batch, parsed

    def _remember(self, domain: str, local_id: str, status: dict[str, Any]) -> None:
        with self._parents_lock:  # live mode shares one collector between stream threads
            self._parents[(domain, local_id)] = {
                "uri": status.get("uri"),
                "account": status.get("account"),
            }
            self._parents.move_to_end((domain, local_id))
            while len(self._parents) > _PARENT_CACHE:
                self._parents.popitem(last=False)

    def _parent(
        self, client: InstanceClient, domain: str, local_id: str, resolves: int
    ) -> tuple[dict[str, Any] | None, int]:
        key = (domain, local_id)
        known = self._parents.get(key, _UNKNOWN)
        if known is not _UNKNOWN:
            return known, 0
        if not self.settings.resolve_parents or resolves >= MAX_RESOLVES_PER_PAGE:
            return None, 0
        status = client.status(local_id)
        if status is None:
            self._parents[key] = None
            return None, 1
        self._remember(domain, local_id, status)
        return self._parents[key], 1

    def _boosts(
        self,
        client: InstanceClient,
        domain: str,
        parsed: list[ParsedStatus],
        batch: Batch,
        cursor: dict[str, Any],
    ) -> None:
        """Boost edges for statuses whose reblogs_count grew since this source last looked."""
        tracked: dict[str, list[Any]] = cursor.setdefault("boosts", {})
        now = self.clock()
        window = timedelta(days=self.settings.boost_window_days)
        for p in parsed:
            m = p.mention
            if m.created_at < now - window:
                continue
            seen = tracked.get(m.native_id)
            known = int(seen[1]) if seen else 0
            if p.reblogs_count == known:
                continue
            boosters = client.reblogged_by(p.mention_local_id)
            edges, bad = boost_edges(m, boosters, domain, seen_at=now)
            batch.edges.extend(edges)
            # Fewer boosts than last time, and the status's own instance lists them all: a
            # stored boost it leaves out was undone (`Batch.listed`). Another instance knows
            # only the boosts that reached it, so its list proves nothing.
            whole = len({e.id for e in edges}) == p.reblogs_count
            if p.reblogs_count < known and not bad and whole and _home(m, domain):
                batch.listed.append(("boost", (m.platform, m.native_id), [e.id for e in edges]))
            for _ in range(bad):
                batch.skip("bad_account", f"booster of {m.native_id}")
            tracked[m.native_id] = [
                p.mention_local_id,
                p.reblogs_count,
                int(m.created_at.timestamp()),
            ]
        # Keep the cursor small: only the newest statuses within the window.
        horizon = int((now - window).timestamp())
        live = {k: v for k, v in tracked.items() if int(v[2]) >= horizon}
        if len(live) > MAX_TRACKED_BOOSTS:
            live = dict(sorted(live.items(), key=lambda kv: kv[1][2])[-MAX_TRACKED_BOOSTS:])
        cursor["boosts"] = live


def _home(mention: MentionRecord, domain: str) -> bool:
    """Whether `domain` is the status's own instance (its author's)."""
    author = mention.author
    return author is not None and (author.instance or "").lower() == domain.lower()
