"""Jetstream (v1, JSON over a websocket) as batches: posts and reposts as they happen.

Jetstream has no content filter, so posts are matched here against the movements and only
matching ones are kept; reposts, deletions and handle changes are kept only when they concern
a stored mention or account (or a matching post in the same batch); deletions are all kept, so
a post deleted before any search stored it stays deleted. Every batch carries the
`time_us` of the last event it covers, and the runner commits both in one transaction, so a
dropped connection or a killed process resumes from the saved cursor (rewound by
`jetstream_rewind_s`, as the Jetstream README advises; writes are idempotent).

Two ways to run it: `groundswell collect` polls it like any source (reads until caught up or
`jetstream_catchup_s`), and `groundswell bluesky-live` follows it without end, reconnecting
after drops with a growing pause.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI
from websockets.sync.client import connect

from collectors.base import CollectorContext, FatalSourceError, SourceState, TransientError
from collectors.bluesky.parse import (
    PLATFORM,
    POST_COLLECTION,
    PROFILE_COLLECTION,
    REPOST_COLLECTION,
    MalformedPost,
    StreamItem,
    is_jetstream_event,
    match_fields,
    parse_jetstream_event,
)
from domain.matching import match_post
from domain.records import UNREACHABLE, AccountRecord, Batch, EdgeRecord, MentionRecord, Skip
from net.fetcher import guarded_socket, operator_policy, tls_context
from storage.queries.bluesky import stored_accounts, stored_mentions

log = logging.getLogger("groundswell.collect.bluesky")

WANTED = (POST_COLLECTION, REPOST_COLLECTION, PROFILE_COLLECTION)  # profiles: people's claims
# Messages without Jetstream's envelope, on a connection that has sent none with it, before
# the endpoint is declared not to be Jetstream (a real one sends dozens of events a second).
STRANGERS = 3
EXAMPLE_URL = "wss://jetstream2.us-east.bsky.network/subscribe"
HEARTBEAT_S = 60.0  # live mode: commit the cursor (and renew the lease) at least this often
CATCHUP_RECONNECTS = 3


@dataclass(slots=True)
class _Pending:
    """Events received since the last batch."""

    events: int = 0
    last_us: int | None = None
    mentions: list[MentionRecord] = field(default_factory=list)
    edges: list[EdgeRecord] = field(default_factory=list)
    reposts: list[EdgeRecord] = field(default_factory=list)
    deletions: list[tuple[str, str]] = field(default_factory=list)
    handles: list[AccountRecord] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)


@dataclass(slots=True)
class _Report:
    """Live mode's periodic status line: what arrived, what was kept, how far behind."""

    every_s: float = 60.0
    events: int = 0
    kept: int = 0
    since: float = field(default_factory=time.monotonic)

    def add(self, batch: Batch, last_us: int | None) -> None:
        self.events += batch.fetched
        # Deletions are not counted: every post deletion on the network is passed on (the
        # write path keeps only those of stored posts, and a one-way id of the rest).
        self.kept += len(batch.mentions) + len(batch.edges)
        if time.monotonic() - self.since < self.every_s:
            return
        lag = f"{(now_us() - last_us) / 1e6:.1f} s behind" if last_us else "no cursor yet"
        log.info(
            "Jetstream: %d events in the last %.0f s, %d kept for the movements; %s",
            self.events,
            time.monotonic() - self.since,
            self.kept,
            lag,
        )
        self.events, self.kept, self.since = 0, 0, time.monotonic()


def stream_url(base: str, cursor_us: int | None) -> str:
    params: list[tuple[str, str]] = [("wantedCollections", c) for c in WANTED]
    if cursor_us is not None:
        params.append(("cursor", str(cursor_us)))
    return f"{base}{'&' if '?' in base else '?'}{urlencode(params)}"


def now_us() -> int:
    return int(time.time() * 1_000_000)


class JetstreamReader:
    def __init__(
        self,
        context: CollectorContext,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.context = context
        self.settings = context.settings.bluesky
        self.clock = clock
        # Does the endpoint speak Jetstream? Proven by one message with its envelope.
        self._proven = False
        self._strangers = 0
        self._sample = ""

    def _not_jetstream(self, base: str, why: str) -> FatalSourceError:
        return FatalSourceError(
            f"{base} does not speak Jetstream: {why}. Set [bluesky].jetstream_url to a "
            f"Jetstream /subscribe endpoint, e.g. {EXAMPLE_URL}"
        )

    def _check_speaks(self, base: str, *, ended: bool) -> None:
        """Stop, saying so, when the endpoint sends messages that are not Jetstream events
        (`STRANGERS` of them, or any before it goes quiet or closes) and none that is:
        otherwise a wrong URL reads as "ok, 1 fetched, 1 skipped" for ever."""
        if self._proven or not self._strangers:
            return
        if self._strangers >= STRANGERS or ended:
            raise self._not_jetstream(
                base,
                f"{self._strangers} message(s) without Jetstream's kind/time_us envelope, "
                f"the first: {self._sample!r}",
            )

    # -- events -> records ----------------------------------------------------------------

    def _wanted(self, record: dict[str, Any]) -> bool:
        """Could this post match a movement? Asked before the (costly) full parse."""
        tags, text, links = match_fields(record)
        return bool(match_post(self.context.rules, hashtags=tags, text=text, links=links))

    def _take(self, raw: str | bytes, pending: _Pending) -> int | None:
        """Fold one message into `pending`; returns its time_us when it has one."""
        pending.events += 1
        try:
            text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
            event = json.loads(text)
        except (ValueError, UnicodeDecodeError) as exc:
            self._stranger(raw)
            pending.skipped.append(Skip("bad_event", f"not JSON: {exc}"[:200]))
            return None
        if is_jetstream_event(event):
            self._proven = True
        else:
            self._stranger(raw)
        try:
            item: StreamItem | None = parse_jetstream_event(event, wanted=self._wanted)
        except MalformedPost as exc:
            pending.skipped.append(exc.as_skip())
            return None
        if item is None:
            return None
        if item.skip is not None:
            pending.skipped.append(item.skip)
        elif item.post is not None:
            m = item.post.mention
            if match_post(self.context.rules, hashtags=m.hashtags, text=m.text, links=m.links):
                pending.mentions.append(m)
                pending.edges.extend(item.post.edges)
        elif item.repost is not None:
            pending.reposts.append(item.repost)
        elif item.deleted is not None:
            pending.deletions.append(item.deleted)
        elif item.handle is not None:
            pending.handles.append(item.handle)
        if pending.last_us is None or item.time_us > pending.last_us:
            pending.last_us = item.time_us
        return item.time_us

    def _stranger(self, raw: str | bytes) -> None:
        self._strangers += 1
        if not self._sample:
            self._sample = (raw if isinstance(raw, str) else repr(raw))[:80]

    def _batch(self, pending: _Pending) -> Batch:
        """Keep what concerns the movements: stored mentions/accounts or this batch's posts.

        Every post deletion is kept, stored or not: one of a post not stored yet is
        remembered by the write path (as a one-way id only), so a search hit arriving after
        it stores the post as a tombstone instead of bringing it back."""
        mine = {m.native_id for m in pending.mentions}
        targets = {e.target[1] for e in pending.reposts}
        dids = {a.native_id for a in pending.handles}
        stored: set[str] = set()
        known_accounts: set[str] = set()
        dids -= {m.author.native_id for m in pending.mentions if m.author}
        if self.context.engine is not None and (targets - mine or dids):
            with self.context.engine.connect() as conn:
                stored = stored_mentions(conn, PLATFORM, targets - mine)
                known_accounts = stored_accounts(conn, PLATFORM, dids) if dids else set()
        keep = mine | stored
        known_accounts |= {m.author.native_id for m in pending.mentions if m.author}
        return Batch(
            mentions=pending.mentions,
            edges=pending.edges + [e for e in pending.reposts if e.target[1] in keep],
            deletions=pending.deletions,
            accounts=[a for a in pending.handles if a.native_id in known_accounts],
            skipped=pending.skipped,
            cursor={"time_us": pending.last_us} if pending.last_us is not None else None,
            fetched=pending.events,
        )

    # -- the connection -------------------------------------------------------------------

    def poll(self, source: SourceState, *, live: bool, stop: threading.Event) -> Iterator[Batch]:
        base = (source.target or {}).get("url") or self.settings.jetstream_url
        if not base:
            raise TransientError(f"{source.key}: no Jetstream URL configured")
        last_us = (source.cursor or {}).get("time_us")
        last_us = last_us if isinstance(last_us, int) else None
        started_us = now_us()
        deadline = time.monotonic() + self.settings.jetstream_catchup_s
        failures = 0
        report = _Report()
        rewind_us = int(self.settings.jetstream_rewind_s * 1_000_000)
        while not stop.is_set():
            if last_us is None:
                cursor_us = None
            else:
                cursor_us = last_us - rewind_us if rewind_us else last_us + 1
            pending = _Pending()
            self._strangers, self._sample = 0, ""
            try:
                url = stream_url(base, cursor_us)
                timeout = self.settings.timeout_s
                policy = operator_policy(base)
                with connect(
                    url,
                    sock=guarded_socket(url, policy, timeout=timeout),
                    # wss: the configured CA bundle, as every other TLS connection
                    ssl=tls_context(policy) if url.startswith("wss:") else None,
                    open_timeout=self.settings.timeout_s,
                    close_timeout=1,
                    max_size=2**21,
                ) as ws:
                    last_flush = time.monotonic()
                    while not stop.is_set():
                        try:
                            raw = ws.recv(timeout=self.settings.jetstream_flush_s)
                        except TimeoutError:
                            raw = None
                        if raw is not None:
                            self._take(raw, pending)
                            failures = 0
                        self._check_speaks(base, ended=raw is None)
                        waited = time.monotonic() - last_flush
                        caught_up = not live and (
                            raw is None
                            or (pending.last_us or 0) >= started_us
                            or time.monotonic() > deadline
                        )
                        if (
                            len(pending.mentions) + len(pending.reposts)
                            >= self.settings.jetstream_batch
                            or pending.events >= 10 * self.settings.jetstream_batch
                            or (pending.events and waited >= self.settings.jetstream_flush_s)
                            or (live and waited >= HEARTBEAT_S)
                            or caught_up
                        ):
                            if pending.events or pending.skipped:
                                batch = self._batch(pending)
                                if pending.last_us is not None:
                                    last_us = pending.last_us
                                if live:
                                    report.add(batch, last_us)
                                yield batch
                            elif live:
                                yield Batch()  # a quiet stream: still renew the lease
                            pending = _Pending()
                            last_flush = time.monotonic()
                        if caught_up:
                            if last_us is None:  # nothing yet: start here next time
                                yield Batch(cursor={"time_us": started_us})
                            return
                    if pending.events:
                        yield self._batch(pending)
                    return
            except InvalidStatus as exc:
                status = exc.response.status_code
                if status < 500 and status != 429:
                    # A web page, a 404, a redirect: not a websocket endpoint, and retrying
                    # will not make it one.
                    raise self._not_jetstream(
                        base, f"it answered HTTP {status} instead of a websocket upgrade"
                    ) from None
                failures = self._dropped(base, exc, failures, live, last_us)
                stop.wait(min(60.0, 0.5 * 2 ** (failures - 1)))
            except (ConnectionClosed, OSError, InvalidHandshake, InvalidURI, TimeoutError) as exc:
                self._check_speaks(base, ended=True)
                if pending.events or pending.skipped:
                    # What arrived before the drop is kept, with the cursor that covers it.
                    if pending.last_us is not None:
                        last_us = pending.last_us
                    yield self._batch(pending)
                failures = self._dropped(base, exc, failures, live, last_us)
                stop.wait(min(60.0, 0.5 * 2 ** (failures - 1)))

    @staticmethod
    def _dropped(
        base: str, exc: BaseException, failures: int, live: bool, last_us: int | None
    ) -> int:
        """Count a failed or dropped connection; `collect` gives up after a few (live mode
        keeps reconnecting, pausing longer each time)."""
        failures += 1
        if not live and failures > CATCHUP_RECONNECTS:
            raise TransientError(
                f"Jetstream {base}: connection failed {failures} times "
                f"({type(exc).__name__}: {exc}); resuming from the saved cursor later",
                signal=UNREACHABLE,
            ) from None
        log.warning(
            "Jetstream connection dropped (%s: %s); reconnecting in %.1f s from cursor %s",
            type(exc).__name__,
            exc,
            min(60.0, 0.5 * 2 ** (failures - 1)),
            last_us,
        )
        return failures
