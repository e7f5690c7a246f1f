"""The collector runtime: claim due sources, poll them, commit each page with its cursor.

- Each batch and the cursor covering it are one transaction (`storage.write.write_batch`).
- A failing source backs off on its own (exponential with jitter, or the server's Retry-After),
  so one bad instance never stops the others.
- On PostgreSQL, several `groundswell collect --loop` workers share the sources through leases
  claimed with `SELECT ... FOR UPDATE SKIP LOCKED`; every batch renews the lease and is refused
  if the lease was lost, so exactly one worker polls a source at a time.
- Every poll is recorded in `collector_run` (fetched, new, updated, skipped, errors, duration,
  and the completeness signals its batches and its final error carried).
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, or_, select, update
from sqlalchemy.exc import OperationalError

from collectors.base import (
    Collector,
    CollectorContext,
    FatalSourceError,
    SourceState,
    TransientError,
)
from domain.batch_matching import match_batch
from domain.records import merge_signals
from storage.catalog import RETRIED_PARKED_STATUSES, RUNNABLE_STATUSES, load_rules
from storage.engine import write_tx
from storage.models import CollectorRun, Source
from storage.statistics import refresh_statistics
from storage.write import LeaseLost, WriteResult, write_batch

# Its own logger: the CLI prints one outcome line per source and shows these only with -v.
log = logging.getLogger("groundswell.runner")

# Source statuses the runner polls (storage.catalog); any other status was set by a
# FatalSourceError and parks the source. Parked sources in RETRIED_PARKED_STATUSES are polled
# again when due, after a long back-off (PARKED_RETRY_*), the rest wait for the config to
# change or for `groundswell init`.
PARKED_RETRY_BASE_S = 3600.0  # a refused login is tried again within an hour, then 2 h, 4 h...
PARKED_RETRY_MAX_S = 6 * 3600.0  # ... at most 6 h apart: well inside Bluesky's 300 logins a day


def _table(model: Any) -> Any:
    """The Core table of a SQLModel class (typed loosely: SQLModel hides `__table__`)."""
    return model.__table__


def _process_alive(pid: int) -> bool:
    """Whether a process with this id exists on this machine (signal 0 checks, sends none)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, owned by someone else; else cannot tell
        return True
    return True


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 10_000}"


def backoff_delay(
    failures: int,
    *,
    base_s: float,
    max_s: float,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait after `failures` consecutive failures (1 = the first).

    Exponential with full jitter between 50% and 100% of the step, capped at `max_s`; a
    server's Retry-After is a floor, never shortened by jitter.
    """
    rng = rng or random.Random()
    step = min(max_s, base_s * (2 ** max(0, failures - 1)))
    delay = step * (0.5 + rng.random() / 2)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return min(delay, max(max_s, retry_after or 0.0))


@dataclass(slots=True)
class RunOutcome:
    source_key: str
    outcome: str  # ok | transient | fatal | error | lease_lost
    result: WriteResult = field(default_factory=WriteResult)
    batches: int = 0
    fetched: int = 0
    error: str | None = None
    signals: dict[str, float] = field(default_factory=dict)


class Runner:
    """Schedules and runs sources against one store."""

    def __init__(
        self,
        engine: Engine,
        context: CollectorContext,
        collectors: Mapping[str, Collector],
        *,
        worker_id: str | None = None,
        lease_s: int = 300,
        backoff_base_s: float = 30.0,
        max_backoff_s: float = 3600.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        rng: random.Random | None = None,
    ) -> None:
        self.engine = engine
        self.context = context
        self.collectors = dict(collectors)
        self.worker_id = worker_id or default_worker_id()
        self.lease_s = lease_s
        self.backoff_base_s = backoff_base_s
        self.max_backoff_s = max_backoff_s
        self.clock = clock
        self.rng = rng or random.Random()
        self._first_claim = True
        self._stats_checked: float | None = None
        # Set by run_loop's stop event: finish the batch in hand, then stop.
        self.stopping = threading.Event()

    # -- leases -------------------------------------------------------------------------

    def claim(self, limit: int = 10, *, only_due: bool = True) -> list[SourceState]:
        """Lease up to `limit` sources that are due and not leased by a live worker."""
        table: Any = _table(Source)
        now = self.clock()
        until = now + timedelta(seconds=self.lease_s)
        platforms = list(self.collectors)
        free = [table.c.lease_until.is_(None), table.c.lease_until < now]
        if self._first_claim:
            # A worker restarted under the same name (e.g. after kill -9) takes its own
            # sources back at once instead of waiting for their leases to expire.
            free.append(table.c.lease_owner == self.worker_id)
            self._first_claim = False
        dead = self._dead_local_owners(now)
        if dead:
            # A worker on this machine whose process is gone (kill -9 of `groundswell demo`
            # or `collect`) will never renew: its sources are free now, not in `lease_s`.
            free.append(table.c.lease_owner.in_(dead))
        with write_tx(self.engine) as conn:
            q = (
                select(table.c.id)
                .where(
                    table.c.enabled.is_(True),
                    table.c.platform.in_(platforms),
                    # Fatal statuses (whatever FatalSourceError named them) wait for the config
                    # to change or for `groundswell init` (storage.catalog.sync_sources); a
                    # refused login or a missing token is retried when its long back-off is
                    # over, even by `collect --once` (it never hammers a login endpoint).
                    or_(
                        table.c.status.in_(RUNNABLE_STATUSES),
                        and_(
                            table.c.status.in_(RETRIED_PARKED_STATUSES),
                            table.c.next_due_at <= now,
                        ),
                    ),
                    or_(*free),
                )
                .order_by(table.c.next_due_at.asc().nulls_first(), table.c.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            if only_due:
                q = q.where(or_(table.c.next_due_at.is_(None), table.c.next_due_at <= now))
            ids = [r[0] for r in conn.execute(q)]
            if not ids:
                return []
            conn.execute(
                update(table)
                .where(table.c.id.in_(ids))
                .values(lease_owner=self.worker_id, lease_until=until)
            )
            # Whoever held these sources before is gone (its lease expired, or it is this
            # worker before a restart): its unfinished runs will never finish.
            runs: Any = _table(CollectorRun)
            conn.execute(
                update(runs)
                .where(runs.c.source_id.in_(ids), runs.c.outcome == "running")
                .values(outcome="abandoned", error="worker stopped before the run finished")
            )
            rows = conn.execute(select(table).where(table.c.id.in_(ids)).order_by(table.c.id))
            return [
                SourceState(
                    id=r.id,
                    key=r.key,
                    platform=r.platform,
                    kind=r.kind,
                    target=r.target or {},
                    cursor=r.cursor,
                    etag=r.etag,
                    last_modified=r.last_modified,
                )
                for r in rows
            ]

    def _dead_local_owners(self, now: datetime) -> list[str]:
        """Holders of live leases named `<this host>:<pid>:...` (`default_worker_id`) whose
        process no longer exists. Only this machine's processes can be checked; a worker
        elsewhere keeps its lease until it expires. A pid reused by another process reads as
        alive: the lease then expires as before (never taken from a live worker)."""
        table: Any = _table(Source)
        prefix = f"{socket.gethostname()}:"
        with self.engine.connect() as conn:
            owners = conn.execute(
                select(table.c.lease_owner)
                .where(table.c.lease_until >= now, table.c.lease_owner.startswith(prefix))
                .distinct()
            ).scalars()
            dead = []
            for owner in owners:
                pid = owner[len(prefix) :].split(":", 1)[0]
                if pid.isdigit() and int(pid) != os.getpid() and not _process_alive(int(pid)):
                    dead.append(owner)
        return dead

    def _renew(self, conn: Any, source_id: int) -> None:
        table: Any = _table(Source)
        until = self.clock() + timedelta(seconds=self.lease_s)
        res = conn.execute(
            update(table)
            .where(table.c.id == source_id, table.c.lease_owner == self.worker_id)
            .values(lease_until=until)
        )
        if res.rowcount == 0:
            raise LeaseLost(f"source {source_id}: lease lost to another worker")

    # -- running ------------------------------------------------------------------------

    def run_source(self, state: SourceState) -> RunOutcome:
        """Poll one claimed source to the end of its pages (or its first error)."""
        outcome = RunOutcome(source_key=state.key, outcome="ok")
        started = self.clock()
        t0 = time.monotonic()
        run_id = self._start_run(state, started)
        collector = self.collectors.get(state.platform)
        status, delay, error_kind = "ok", None, None
        try:
            if collector is None:
                raise FatalSourceError(f"no collector for platform {state.platform!r}")
            with self.engine.connect() as conn:
                rules = load_rules(conn)
            self.context.rules = rules
            for batch in collector.poll(state):
                match_batch(rules, batch)  # parse -> match -> write: outside the transaction
                with write_tx(self.engine) as conn:
                    self._renew(conn, state.id)
                    res = write_batch(
                        conn, batch, rules, source_id=state.id, lease_owner=self.worker_id
                    )
                outcome.result.add(res)
                outcome.batches += 1
                outcome.fetched += batch.fetched or (len(batch.mentions) + len(batch.skipped))
                merge_signals(outcome.signals, batch.signals)
                if batch.cursor is not None:
                    state.cursor = batch.cursor
                if batch.etag is not None:
                    state.etag = batch.etag
                if batch.last_modified is not None:
                    state.last_modified = batch.last_modified
                if self.stopping.is_set():
                    # SIGTERM/Ctrl-C: stop after the page just committed; the cursor says
                    # where the next run resumes. (Closes the collector's generator.)
                    log.info("source %s: stopping after batch %d", state.key, outcome.batches)
                    break
        except TransientError as exc:
            merge_signals(outcome.signals, exc.signals)
            outcome.outcome, outcome.error = "transient", str(exc)
            status, error_kind = "backoff", "transient"
            delay = exc.retry_after
            log.warning("source %s: transient error, will retry: %s", state.key, exc)
        except FatalSourceError as exc:
            merge_signals(outcome.signals, exc.signals)
            outcome.outcome, outcome.error = "fatal", str(exc)
            status, error_kind = exc.status, "fatal"
            log.error("source %s: %s (not retried until the config changes)", state.key, exc)
        except LeaseLost as exc:
            outcome.outcome, outcome.error = "lease_lost", str(exc)
            log.warning("source %s: %s", state.key, exc)
            self._finish_run(run_id, outcome, t0)
            return outcome
        except Exception as exc:  # a bug or an unexpected reply: keep the other sources going
            outcome.outcome, outcome.error = "error", f"{type(exc).__name__}: {exc}"
            status, error_kind = "backoff", "transient"
            log.exception("source %s: unexpected error", state.key)
        self._finish_source(state, status, error_kind, outcome.error, delay)
        self._finish_run(run_id, outcome, t0)
        if outcome.result.new:
            self._refresh_statistics()
        return outcome

    # How often a worker that wrote new mentions checks whether SQLite's planner statistics
    # are missing or stale (the check is a count; ANALYZE runs only when needed).
    stats_every_s: float = 600.0

    def _refresh_statistics(self) -> None:
        """Keep SQLite's planner statistics current (storage/statistics.py), at most every
        `stats_every_s`; a busy store is left for the next time, never an error."""
        now = time.monotonic()
        if self._stats_checked is not None and now - self._stats_checked < self.stats_every_s:
            return
        self._stats_checked = now
        try:
            refresh_statistics(self.engine)
        except OperationalError as exc:
            log.warning("could not refresh the store's statistics (will retry): %s", exc)

    def run_once(self, *, only_due: bool = False, limit: int = 1000) -> list[RunOutcome]:
        """One pass: every enabled source not leased by another worker (or only the due ones)."""
        return [self.run_source(state) for state in self.claim(limit=limit, only_due=only_due)]

    def run_loop(
        self,
        stop: threading.Event,
        *,
        idle_sleep_s: float = 1.0,
        on_outcome: Callable[[RunOutcome], None] | None = None,
        claim_batch: int = 1,
    ) -> None:
        """Poll due sources until `stop` is set.

        Claims one source at a time by default, so a due source never waits in this worker's
        queue while another worker is idle. A store that is briefly unreachable (PostgreSQL
        restarting, a network blip) is waited out with backoff instead of ending the loop.
        """
        self.stopping = stop
        store_failures = 0
        while not stop.is_set():
            try:
                claimed = self.claim(limit=claim_batch, only_due=True)
                for i, state in enumerate(claimed):
                    if stop.is_set():
                        for rest in claimed[i:]:
                            self._release(rest.id)
                        break
                    out = self.run_source(state)
                    if on_outcome:
                        on_outcome(out)
                store_failures = 0
            except OperationalError as exc:
                store_failures += 1
                delay = backoff_delay(store_failures, base_s=1.0, max_s=60.0, rng=self.rng)
                reason = str(exc.orig or exc).strip().splitlines()[0]
                log.error("store unreachable, retrying in %.0f s: %s", delay, reason)
                stop.wait(delay)
                continue
            if not claimed:
                stop.wait(idle_sleep_s)

    # -- bookkeeping --------------------------------------------------------------------

    def _start_run(self, state: SourceState, started: datetime) -> int:
        table: Any = _table(CollectorRun)
        with write_tx(self.engine) as conn:
            res = conn.execute(
                table.insert().values(
                    source_id=state.id,
                    worker=self.worker_id,
                    started_at=started,
                    outcome="running",
                    skip_reasons={},
                    signals={},
                )
            )
            return int(res.inserted_primary_key[0])  # type: ignore[index]

    def _finish_run(self, run_id: int, outcome: RunOutcome, t0: float) -> None:
        table: Any = _table(CollectorRun)
        r = outcome.result
        with write_tx(self.engine) as conn:
            conn.execute(
                update(table)
                .where(table.c.id == run_id)
                .values(
                    finished_at=self.clock(),
                    batches=outcome.batches,
                    fetched=outcome.fetched,
                    new=r.new,
                    updated=r.updated,
                    skipped=r.skipped,
                    errors=0 if outcome.outcome == "ok" else 1,
                    outcome=outcome.outcome,
                    error=outcome.error,
                    skip_reasons=dict(r.skip_reasons),
                    signals=dict(outcome.signals),
                    duration_ms=int((time.monotonic() - t0) * 1000),
                )
            )

    def _finish_source(
        self,
        state: SourceState,
        status: str,
        error_kind: str | None,
        error: str | None,
        retry_after: float | None,
    ) -> None:
        table: Any = _table(Source)
        now = self.clock()
        with write_tx(self.engine) as conn:
            row = conn.execute(
                select(table.c.interval_s, table.c.consecutive_failures).where(
                    table.c.id == state.id
                )
            ).one()
            values: dict[str, Any] = {"lease_owner": None, "lease_until": None, "status": status}
            if error_kind is None:
                values.update(
                    consecutive_failures=0,
                    last_success_at=now,
                    next_due_at=now + timedelta(seconds=row.interval_s),
                )
            else:
                failures = (row.consecutive_failures or 0) + 1
                if status in RETRIED_PARKED_STATUSES:
                    # Parked, but retried: each attempt costs a login (rate-limited per
                    # account), so the wait is hours, not the transient back-off's seconds.
                    delay = backoff_delay(
                        failures,
                        base_s=PARKED_RETRY_BASE_S,
                        max_s=PARKED_RETRY_MAX_S,
                        rng=self.rng,
                    )
                else:
                    delay = backoff_delay(
                        failures,
                        base_s=min(self.backoff_base_s, row.interval_s),
                        max_s=self.max_backoff_s,
                        retry_after=retry_after,
                        rng=self.rng,
                    )
                values.update(
                    consecutive_failures=failures,
                    last_error=error,
                    last_error_at=now,
                    next_due_at=now + timedelta(seconds=delay),
                )
            conn.execute(
                update(table)
                .where(table.c.id == state.id, table.c.lease_owner == self.worker_id)
                .values(**values)
            )

    def _release(self, source_id: int) -> None:
        table: Any = _table(Source)
        with write_tx(self.engine) as conn:
            conn.execute(
                update(table)
                .where(table.c.id == source_id, table.c.lease_owner == self.worker_id)
                .values(lease_owner=None, lease_until=None)
            )
