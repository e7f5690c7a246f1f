"""The verification worker of the receiver: received items live in the store, not in memory.

`accept` commits the item before the sender hears "accepted"; `VerifyWorker` claims due items
with a lease (expired leases are claimed again, so a receiver killed mid-verification loses
nothing), verifies each, and commits the mention (or tombstone) and the item's new state in one
transaction. Several receivers on PostgreSQL share the queue (`SKIP LOCKED`).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from collectors.blogs.feeds import site_host
from collectors.blogs.pingbacks import fetch_page, page_mention
from collectors.blogs.verify import Verdict, add_edges, verify
from domain.batch_matching import match_batch
from domain.matching import normalise_url
from domain.records import Batch, MentionRecord
from net.fetcher import Fetcher, FetchError, FetchPolicy
from storage.catalog import load_rules
from storage.engine import write_tx
from storage.models_blogs import ReceivedPing
from storage.queries.blogs import (
    Admission,
    QueuedPing,
    claim_due,
    enqueue,
    finish,
    mentions_by_url,
    requeue,
    verified_before,
)
from storage.write import write_batch

log = logging.getLogger("groundswell.receiver")
LEASE_S = 120.0
UNREADABLE_RETRY_S = 600.0  # an owned page that could not be read is not asked again sooner
# SQLite has one writer at a time; its busy handler waits by sleeping (up to 100 ms a try), so
# a burst of request threads all writing at once spends most of its time asleep. Taking turns
# in the process first keeps a burst of 1,000 requests fast. PostgreSQL needs no such turn.
_SQLITE_WRITES = threading.Lock()


def _table(model: Any) -> Any:
    """A model's Core table (typed Any: SQLModel's stubs do not declare `__table__`)."""
    return model.__table__


@contextlib.contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """`write_tx`, taking turns with this process's other writers on SQLite."""
    if engine.dialect.name != "sqlite":
        with write_tx(engine) as conn:
            yield conn
        return
    with _SQLITE_WRITES, write_tx(engine) as conn:
        yield conn


def receiver_policy(settings: Any) -> FetchPolicy:
    """The fetch policy of `[receiver]` settings."""
    from domain.settings.blogs import BlogsSettings

    return FetchPolicy(
        user_agent=BlogsSettings().user_agent,
        timeout_s=settings.fetch_timeout_s,
        max_bytes=settings.max_source_bytes,
        max_redirects=5,
        allow_loopback=settings.allow_loopback,
        allow_private=settings.allow_private_addresses,
    )


def accept(
    engine: Engine,
    kind: str,
    source: str,
    target: str,
    *,
    max_pending: int | None = None,
    reverify_after_s: float = 0.0,
    hold_s: float = 0.0,
) -> Admission | None:
    """Commit a received item to the queue (`storage.queries.blogs.enqueue`); None when the
    queue is full. `hold_s` keeps the background worker off a new item while the request
    handler verifies it itself (pingback.ping)."""
    with writing(engine) as conn:
        return enqueue(
            conn,
            kind,
            source,
            target,
            datetime.now(UTC),
            max_pending=max_pending,
            reverify_after=timedelta(seconds=reverify_after_s),
            hold=timedelta(seconds=hold_s),
        )


class VerifyWorker:
    """Verifies queued items; `run_once` for tests and scripts, `start`/`stop` for the server."""

    def __init__(self, engine: Engine, settings: Any, fetcher: Fetcher | None = None) -> None:
        self.engine = engine
        self.settings = settings  # the whole Settings
        self.receiver = settings.receiver
        self.fetcher = fetcher or Fetcher(receiver_policy(self.receiver))
        only = settings.movements[0].slug if len(settings.movements) == 1 else None
        self.movement: str | None = self.receiver.movement or only
        self.wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        # owned pages that could not be read -> when to try again (monotonic seconds): a site
        # that is down is not fetched again for every batch of pings to it
        self._unreadable: dict[str, float] = {}

    # -- one item ----------------------------------------------------------------------------

    def process(self, item: QueuedPing) -> Verdict:
        return self.process_many([item])[0]

    def _verify(self, item: QueuedPing, now: datetime) -> Verdict:
        try:
            return verify(
                item,
                self.fetcher,
                now=now,
                movement=self.movement,
                max_attempts=self.receiver.max_attempts,
            )
        except Exception as exc:  # a bug must not wedge the queue: retry later, log loudly
            log.exception("verifying %s -> %s failed", item.source, item.target)
            return Verdict(
                "pending",
                "error",
                f"{type(exc).__name__}: {exc}",
                retry_at=now + timedelta(seconds=300),
            )

    def process_many(self, items: list[QueuedPing]) -> list[Verdict]:
        """Verify claimed items (fetching outside any transaction), then commit every mention,
        tombstone and new item state in one transaction."""
        now = datetime.now(UTC)
        verdicts = [self._verify(item, now) for item in items]
        combined = Batch()
        combined.mentions += self._target_pages(items, verdicts, now)
        for verdict in verdicts:
            if verdict.batch is not None:
                combined.mentions += verdict.batch.mentions
                combined.deletions += verdict.batch.deletions
                combined.gone += verdict.batch.gone
        rules = None
        if combined.mentions:  # parse -> match -> write: the rules run outside the transaction
            with self.engine.connect() as conn:
                rules = load_rules(conn)
            match_batch(rules, combined)
        with writing(self.engine) as conn:
            if combined.mentions or combined.deletions or combined.gone:
                for item, verdict in zip(items, verdicts, strict=True):
                    if verdict.batch is not None and verdict.batch.mentions:
                        stored = mentions_by_url(conn, [item.target])
                        add_edges(verdict.batch, item.kind, item.target, stored)
                        combined.edges += verdict.batch.edges
                write_batch(conn, combined, rules or load_rules(conn), now=now)
            for item, verdict in zip(items, verdicts, strict=True):
                finish(
                    conn,
                    item.id,
                    now,
                    status=verdict.status,
                    result=verdict.result,
                    error=verdict.error,
                    retry_at=verdict.retry_at,
                )
        for item, verdict in zip(items, verdicts, strict=True):
            # %r: sources and targets come from strangers (no forged log lines)
            log.info("%s %r -> %r: %s", item.kind, item.source, item.target, verdict.result)
        return verdicts

    def _target_pages(
        self, items: list[QueuedPing], verdicts: list[Verdict], now: datetime
    ) -> list[MentionRecord]:
        """The owned pages verified pings point at that are not stored yet, as blog mentions
        (title and time from their markup, fetched through the guarded fetcher, outside any
        transaction), so every received edge resolves to a mention on every page and in the
        exports. A page of a followed blog is left to its feed, which stores it under its own
        entry id (two mentions of one post otherwise). A page that cannot be read now is tried
        again when a ping to it is next verified (a re-send or the periodic re-check)."""
        targets = sorted(
            {
                i.target
                for i, v in zip(items, verdicts, strict=True)
                if v.batch is not None and v.batch.mentions
            }
        )
        if not targets:
            return []
        followed = {site_host(f.url) for f in self.settings.blogs.feeds}
        with self.engine.connect() as conn:
            stored = mentions_by_url(conn, targets)
        pages: dict[str, MentionRecord] = {}
        for target in targets:
            key = normalise_url(target) or target
            if key in stored or site_host(target) in followed or key in pages:
                continue
            if self._unreadable.get(key, 0.0) > time.monotonic():
                continue
            try:
                page, _ = fetch_page(self.fetcher, target)
            except FetchError as exc:
                self._unreadable[key] = time.monotonic() + UNREADABLE_RETRY_S
                log.info("owned page %r: unreadable, stored later: %s", target, exc)
                continue
            pages[key] = page_mention(target, page, now=now, movement=self.movement)
        return list(pages.values())

    def claim(self, limit: int = 20, *, now: datetime | None = None) -> list[QueuedPing]:
        with writing(self.engine) as conn:
            return claim_due(conn, now or datetime.now(UTC), limit=limit, lease_s=LEASE_S)

    def claim_one(self, item_id: int) -> QueuedPing | None:
        """Claim one specific pending item (pingback.ping verifies its own item)."""
        now = datetime.now(UTC)
        t: Any = _table(ReceivedPing)
        with writing(self.engine) as conn:
            res = conn.execute(
                update(t)
                .where(t.c.id == item_id, t.c.status == "pending")
                .values(status="verifying", lease_until=now + timedelta(seconds=LEASE_S))
            )
            if not res.rowcount:
                return None
            r = conn.execute(
                select(
                    t.c.id,
                    t.c.kind,
                    t.c.source,
                    t.c.target,
                    t.c.status,
                    t.c.attempts,
                    t.c.verified_at,
                ).where(t.c.id == item_id)
            ).one()
            return QueuedPing(*r)

    def run_once(self, limit: int = 10) -> int:
        """Verify every due item (up to `limit` per claim); returns how many were processed."""
        done = 0
        while not self._stop.is_set():
            items = self.claim(limit)  # small claims: other threads share the burst
            if not items:
                break
            self.process_many(items)
            done += len(items)
        return done

    def recheck(self, *, older_than: timedelta) -> int:
        """Queue verified items for a re-check, so deleted or unlinked sources disappear."""
        now = datetime.now(UTC)
        with writing(self.engine) as conn:
            ids = verified_before(conn, now - older_than, limit=500)
            return requeue(conn, ids, now)

    # -- background threads ------------------------------------------------------------------

    def _loop(self) -> None:
        last_recheck = datetime.now(UTC)
        while not self._stop.is_set():
            try:
                self.run_once()
                days = self.receiver.recheck_after_days
                if days and datetime.now(UTC) - last_recheck > timedelta(hours=1):
                    last_recheck = datetime.now(UTC)
                    self.recheck(older_than=timedelta(days=days))
            except Exception:  # the store may be briefly unavailable: keep the loop alive
                log.exception("verification loop error; retrying")
                self._stop.wait(5)
            self.wake.wait(1.0)
            self.wake.clear()

    def start(self) -> None:
        for i in range(self.receiver.verify_threads):
            t = threading.Thread(target=self._loop, name=f"verify-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self.wake.set()
        for t in self._threads:
            t.join(timeout)
        self._threads.clear()
        self.fetcher.close()
