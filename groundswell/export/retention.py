"""Retention: raw payloads older than the configured horizon are purged (DESIGN.md section 6).

The mention rows stay (they are what the dashboards count); only the platform's raw JSON goes,
in short transactions of a few thousand rows so collectors are never blocked for long.
`collect --loop` starts `start_retention_thread`, which purges at start and then hourly.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from storage.engine import write_tx
from storage.queries.export import purge_payloads

log = logging.getLogger("groundswell.retention")
PURGE_EVERY_S = 3600.0


def purge(engine: Engine, *, days: int, now: datetime | None = None, batch: int = 5_000) -> int:
    """Delete raw payloads fetched more than `days` ago; returns how many went."""
    horizon = (now or datetime.now(UTC)) - timedelta(days=days)
    total = 0
    while True:
        with write_tx(engine) as conn:
            n = purge_payloads(conn, horizon, batch=batch, max_batches=1)
        total += n
        if n < batch:
            return total


def start_retention_thread(
    engine: Engine, days: int | None, stop: threading.Event, *, every_s: float = PURGE_EVERY_S
) -> threading.Thread | None:
    """Purge now and then every `every_s` until `stop` is set (no-op without a horizon)."""
    if not days:
        return None

    def run() -> None:
        while not stop.is_set():
            try:
                n = purge(engine, days=days)
                if n:
                    log.info("retention: purged %d raw payloads older than %d days", n, days)
            except Exception:  # never let housekeeping kill the collector
                log.exception("retention purge failed; will retry in %.0f s", every_s)
            stop.wait(every_s)

    thread = threading.Thread(target=run, name="groundswell-retention", daemon=True)
    thread.start()
    return thread
