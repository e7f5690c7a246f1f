"""Live mode: Mastodon hashtag streaming into the same write path, with catch-up.

One `HashtagStream` per source (instance x hashtag). Its loop:

1. catch up through the timeline API from the stored cursor (the ordinary poll, run by the
   `Runner`, so the cursor moves only with the rows it covers);
2. open `stream_hashtag` (Mastodon.py, server-sent events; a token is required since Mastodon
   4.2) and write every `update` as it arrives, every `delete` as a tombstone;
3. when the stream drops, wait (exponential backoff with jitter, reset after a healthy
   connection) and go back to 1, so whatever was posted during the gap is fetched.

A source parked as `needs_token` (no token, or the token refused) is retried like the one-pass
runner retries it (`collectors.runner`, `RETRIED_PARKED_STATUSES`): after the same long
back-off (an hour, doubling up to six), with the token read from the environment again, so a
token configured or refreshed since is used without anyone running `init`. Other fatal
statuses end the stream until the configuration changes, as they park the source for the runner.

Streamed statuses are written without moving the cursor: their ids arrive in delivery order, not
id order, so only the timeline catch-up may advance `min_id`. Writes are idempotent, so a status
seen both on the stream and in the catch-up is stored once.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from mastodon.streaming import StreamListener
from sqlalchemy import Connection, Engine, or_, select, update

from collectors.base import CollectorContext, FatalSourceError, SourceState
from collectors.mastodon.client import InstanceClient
from collectors.mastodon.collector import MastodonCollector
from collectors.mastodon.parse import PLATFORM, to_plain
from collectors.runner import PARKED_RETRY_BASE_S, PARKED_RETRY_MAX_S, Runner, backoff_delay
from domain.batch_matching import match_batch
from domain.records import Batch, local_status_key
from storage.catalog import RETRIED_PARKED_STATUSES, RUNNABLE_STATUSES, load_rules
from storage.engine import write_tx
from storage.models import Source
from storage.queries.sightings import seen_as
from storage.write import WriteResult, write_batch

log = logging.getLogger("groundswell.collect.mastodon.stream")


class _Listener(StreamListener):
    """Hands events to the stream's queue; the writing happens on the owner's thread."""

    def __init__(self, events: queue.Queue[tuple[str, Any]]) -> None:
        self.events = events

    def on_update(self, status: Any) -> None:
        self.events.put(("update", to_plain(status)))

    def on_status_update(self, status: Any) -> None:  # an edit
        self.events.put(("update", to_plain(status)))

    def on_delete(self, status_id: Any) -> None:
        self.events.put(("delete", str(status_id)))

    def handle_heartbeat(self) -> None:
        self.events.put(("heartbeat", None))

    def on_unknown_event(self, name: str, unknown_event: Any = None) -> None:
        log.debug("ignoring stream event %s", name)

    def on_abort(self, err: Exception) -> None:
        log.info("stream aborted: %s", err)

    def handle_stream(self, response: Any) -> None:
        """A broken or silent connection ends the stream like a clean close would; the owner
        notices the ended connection, backs off, catches up and reconnects."""
        try:
            super().handle_stream(response)
        except Exception as exc:
            log.info("stream ended: %s", exc)


class HashtagStream:
    """Follow one instance x hashtag source live until `stop` is set."""

    def __init__(
        self,
        engine: Engine,
        context: CollectorContext,
        source_key: str,
        *,
        stop: threading.Event,
        collector: MastodonCollector | None = None,
        worker_id: str | None = None,
        reconnect_base_s: float = 1.0,
        reconnect_max_s: float | None = None,
        read_timeout_s: float = 90.0,
        on_write: Callable[[str, WriteResult], None] | None = None,
        parked_check_s: float = 60.0,
    ) -> None:
        self.engine = engine
        self.context = context
        self.key = source_key
        self.stop = stop
        self.collector = collector or MastodonCollector(context)
        self.runner = Runner(
            engine, context, {PLATFORM: self.collector}, worker_id=worker_id, lease_s=120
        )
        self.reconnect_base_s = reconnect_base_s
        self.reconnect_max_s = reconnect_max_s or context.settings.mastodon.stream_reconnect_max_s
        self.read_timeout_s = read_timeout_s
        self.on_write = on_write
        # While parked, how often the source row is read again: its back-off may be over, or
        # `groundswell init` may have reset it, before the stored due time.
        self.parked_check_s = parked_check_s
        self.rng = random.Random()
        self.connections = 0
        self.catch_ups = 0
        self.status: str = "starting"
        self.error: str | None = None

    # -- the loop

    def run(self) -> None:
        failures = 0
        while not self.stop.is_set():
            try:
                state = self.catch_up()
                if state is None:
                    if self.status in RETRIED_PARKED_STATUSES:
                        continue  # parked but retried: `_claim` waits out its back-off
                    return  # the source is gone, disabled or parked until the config changes
                healthy = self.listen(state)
                failures = 0 if healthy else failures + 1
            except FatalSourceError as exc:
                self._mark_fatal(exc)
                if exc.status in RETRIED_PARKED_STATUSES:
                    continue
                return
            except Exception as exc:  # network trouble, a bug: keep the stream alive
                failures += 1
                self.error = f"{type(exc).__name__}: {exc}"
                log.warning("%s: stream error: %s", self.key, self.error)
            if self.stop.is_set():
                break
            step = min(self.reconnect_max_s, self.reconnect_base_s * 2 ** max(0, failures - 1))
            delay = step * (0.5 + self.rng.random() / 2)
            self.status = "reconnecting"
            log.info("%s: stream closed; reconnecting in %.1f s", self.key, delay)
            self.stop.wait(delay)
        self.status = "stopped"

    def catch_up(self) -> SourceState | None:
        """Poll the source's timeline from its cursor (through the runner: one transaction per
        page with its cursor). Returns the source, or None when it must not be followed."""
        state = self._claim()
        if state is None:
            return None
        self.catch_ups += 1
        outcome = self.runner.run_source(state)
        if outcome.outcome == "fatal":
            # The runner parked the source under the error's status; a retried one
            # (`needs_token`) is waited out by `run`, as the runner would retry it.
            self.status, self.error = self._stored_status() or "fatal", outcome.error
            return None
        if outcome.outcome != "ok":
            log.warning("%s: catch-up incomplete (%s); streaming anyway", self.key, outcome.error)
        return state

    def listen(self, state: SourceState) -> bool:
        """Stream until it drops or `stop` is set; True when the connection was healthy."""
        client = self.collector.client_for(state.target)
        if not client.has_token:
            raise client.needs_token(
                f"{client.base_url} (stream #{state.target['hashtag']})",
                "streams hashtags to signed-in users only",
            )
        domain = client.domain
        tag = str(state.target["hashtag"]).lstrip("#")
        events: queue.Queue[tuple[str, Any]] = queue.Queue()
        stream_status: dict[str, int] = {}

        def watch(response: Any, *args: Any, **kwargs: Any) -> None:
            if "/api/v1/streaming" in str(getattr(response, "url", "")):
                stream_status["code"] = response.status_code
                if response.status_code == 200:
                    self.connections += 1
                    self.status = "streaming"

        client.session.hooks["response"].append(watch)
        handle = client.api.stream_hashtag(
            tag,
            _Listener(events),
            run_async=True,
            reconnect_async=False,
            reconnect_async_wait_sec=1,
            timeout=self.read_timeout_s,
        )
        started = time.monotonic()
        received = 0
        try:
            while not self.stop.is_set():
                if stream_status.get("code") == 401:
                    raise client.needs_token(f"{client.base_url} (stream #{tag})", "refused (401)")
                try:
                    kind, payload = events.get(timeout=0.1)
                except queue.Empty:
                    if not handle.is_alive():
                        break  # the connection dropped
                    continue
                received += 1
                self._handle(client, domain, kind, payload)
            while not events.empty():  # whatever arrived before the drop
                kind, payload = events.get_nowait()
                self._handle(client, domain, kind, payload)
        finally:
            handle.close()
            client.session.hooks["response"].remove(watch)
        return received > 0 or time.monotonic() - started > 30

    # -- events

    def _handle(self, client: InstanceClient, domain: str, kind: str, payload: Any) -> None:
        if kind == "heartbeat":
            return
        if kind == "delete":
            parent = self.collector._parents.get((domain, str(payload)))
            uri = parent.get("uri") if parent else None
            if isinstance(uri, str):
                self._write(kind, Batch(deletions=[(PLATFORM, uri)]))
            else:
                self._delete_unmet(domain, str(payload))
            return
        batch, _ = self.collector._page(client, domain, [payload], {"boosts": {}})
        self._write(kind, batch)

    def _delete_unmet(self, domain: str, local_id: str) -> None:
        """A `delete` of a status this process has not met: the stream names it by its id on
        this instance only. A stored status (seen before a restart, or by another worker) is
        found by where it was seen and tombstoned; an unknown one is remembered under its local
        key, so a later poll of this instance stores it as a tombstone, never as a live post.
        The lookup runs in the write transaction, so a status stored by a concurrent writer
        before it is found."""
        local = (PLATFORM, local_status_key(domain, local_id))
        with write_tx(self.engine) as conn:
            stored = seen_as(conn, domain, local_id)
            if stored is None:
                log.debug("%s: delete of unknown local id %s", self.key, local_id)
            batch = Batch(deletions=[stored or local])
            result = write_batch(conn, batch, [])
        if self.on_write is not None:
            self.on_write("delete", result)

    def _write(self, kind: str, batch: Batch) -> None:
        with self.engine.connect() as conn:
            rules = load_rules(conn)
        match_batch(rules, batch)  # parse -> match -> write: outside the transaction
        with write_tx(self.engine) as conn:
            result = write_batch(conn, batch, rules)
        if self.on_write is not None:
            self.on_write(kind, result)

    # -- the source row

    def _claim(self) -> SourceState | None:
        """Lease the source for this stream. None when it must not be followed: gone,
        disabled, or parked by a fatal status the runner does not retry either. A source
        parked as `needs_token` (or another retried status) is waited for until its back-off
        is over, as the runner would claim it then."""
        table: Any = Source.__table__  # type: ignore[attr-defined]
        while not self.stop.is_set():
            now = datetime.now(UTC)
            with write_tx(self.engine) as conn:
                row = conn.execute(select(table).where(table.c.key == self.key)).one_or_none()
                if row is None or not row.enabled:
                    self.status = "missing" if row is None else "disabled"
                    return None
                due = row.next_due_at
                parked = row.status in RETRIED_PARKED_STATUSES and due is not None and due > now
                if row.status not in RUNNABLE_STATUSES + RETRIED_PARKED_STATUSES:
                    self.status = row.status
                    return None
                if not parked and self._lease(conn, row.id, now):
                    return SourceState(
                        id=row.id,
                        key=row.key,
                        platform=row.platform,
                        kind=row.kind,
                        target=row.target or {},
                        cursor=row.cursor,
                        etag=row.etag,
                        last_modified=row.last_modified,
                    )
            if parked:  # waited out here, never inside the write transaction
                self.status = row.status
                self.stop.wait(min(self.parked_check_s, (due - now).total_seconds()))
            else:
                self.stop.wait(1.0)  # another worker is polling it right now
        return None

    def _lease(self, conn: Connection, source_id: int, now: datetime) -> bool:
        """Take the source's lease unless another live worker holds it."""
        table: Any = Source.__table__  # type: ignore[attr-defined]
        res = conn.execute(
            update(table)
            .where(
                table.c.id == source_id,
                or_(
                    table.c.lease_until.is_(None),
                    table.c.lease_until < now,
                    table.c.lease_owner == self.runner.worker_id,
                ),
            )
            .values(
                lease_owner=self.runner.worker_id,
                lease_until=now + timedelta(seconds=self.runner.lease_s),
            )
        )
        return bool(res.rowcount)

    def _stored_status(self) -> str | None:
        table: Any = Source.__table__  # type: ignore[attr-defined]
        with self.engine.connect() as conn:
            return conn.execute(select(table.c.status).where(table.c.key == self.key)).scalar()

    def _mark_fatal(self, exc: FatalSourceError) -> None:
        """Park the source as the runner would (`Runner._finish_source`): a retried status
        (`needs_token`) is due again after the runner's long back-off, counted in
        `consecutive_failures`, so `status` shows when it will be tried."""
        self.status, self.error = exc.status, str(exc)
        log.error("%s: %s", self.key, exc)
        table: Any = Source.__table__  # type: ignore[attr-defined]
        now = datetime.now(UTC)
        with write_tx(self.engine) as conn:
            failures = (
                conn.execute(
                    select(table.c.consecutive_failures).where(table.c.key == self.key)
                ).scalar()
                or 0
            ) + 1
            values: dict[str, Any] = {
                "status": exc.status,
                "last_error": str(exc),
                "last_error_at": now,
                "lease_owner": None,
                "lease_until": None,
                "consecutive_failures": failures,
            }
            if exc.status in RETRIED_PARKED_STATUSES:
                delay = backoff_delay(
                    failures, base_s=PARKED_RETRY_BASE_S, max_s=PARKED_RETRY_MAX_S, rng=self.rng
                )
                values["next_due_at"] = now + timedelta(seconds=delay)
            conn.execute(update(table).where(table.c.key == self.key).values(**values))
