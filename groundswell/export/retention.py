"""Retention (DESIGN.md section 6): raw payloads, text, accounts no longer referenced,
received pings, run logs and the export log each have their own horizon ([ethics]
`retention_days`, `text_retention_days`, `account_retention_days`, `ping_retention_days`,
`run_log_retention_days`, `export_log_retention_days`, `audit_retention_days`, 400 days by
default).

Mention rows stay (they are what the dashboards count); text past its horizon is redacted like
a tombstone. Each purge runs in short transactions of a few thousand rows so collectors are
never blocked for long. `collect --loop` starts `start_retention_thread`, which purges at start
and then hourly; `groundswell purge --dry-run` prints what would go, per table.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from domain.settings.config import Settings
from storage.engine import write_tx
from storage.queries.retention import HORIZON_TABLES, count_expired, purge_expired

log = logging.getLogger("groundswell.retention")
PURGE_EVERY_S = 3600.0


@dataclass(frozen=True, slots=True)
class Horizons:
    """Days each kind of data is kept (None: kept for ever)."""

    payloads: int | None = None
    text: int | None = None
    accounts: int | None = None
    pings: int | None = None
    run_log: int | None = None
    export_log: int | None = None
    audit: int | None = None

    @classmethod
    def from_settings(cls, settings: Settings, *, payload_days: int | None = None) -> Horizons:
        e = settings.ethics
        return cls(
            payloads=payload_days or e.retention(settings.collect),
            text=e.text_retention_days,
            accounts=e.account_retention_days,
            pings=e.ping_retention_days,
            run_log=e.run_log_retention_days,
            export_log=e.export_log_retention_days,
            audit=e.audit_retention_days,
        )

    def configured(self) -> dict[str, int]:
        return {name: days for name, days in asdict(self).items() if days}


def purge_all(
    engine: Engine,
    horizons: Horizons,
    *,
    now: datetime | None = None,
    batch: int = 5_000,
    dry_run: bool = False,
) -> dict[str, int]:
    """Purge (or with `dry_run` only count) every configured horizon; rows per table."""
    now = now or datetime.now(UTC)
    out: dict[str, int] = {}
    for name, days in horizons.configured().items():
        cutoff = now - timedelta(days=days)
        table = HORIZON_TABLES[name]
        if dry_run:
            with engine.connect() as conn:
                out[table] = count_expired(conn, name, cutoff)
            continue
        total = 0
        while True:
            with write_tx(engine) as conn:
                n = purge_expired(conn, name, cutoff, batch=batch, now=now)
            total += n
            if n < batch:
                break
        out[table] = total
    return out


def purge(engine: Engine, *, days: int, now: datetime | None = None, batch: int = 5_000) -> int:
    """Delete raw payloads fetched more than `days` ago; returns how many went."""
    return purge_all(engine, Horizons(payloads=days), now=now, batch=batch)["mention_payload"]


def start_retention_thread(
    engine: Engine,
    days: int | None,
    stop: threading.Event,
    *,
    every_s: float = PURGE_EVERY_S,
    horizons: Horizons | None = None,
) -> threading.Thread | None:
    """Purge now and then every `every_s` until `stop` is set (no-op without a horizon).
    `horizons` (every kind of data) wins over `days` (raw payloads only)."""
    horizons = horizons or Horizons(payloads=days)
    if not horizons.configured():
        return None

    def run() -> None:
        while not stop.is_set():
            try:
                done = purge_all(engine, horizons)
                if any(done.values()):
                    log.info(
                        "retention: purged %s",
                        ", ".join(f"{n} from {t}" for t, n in done.items() if n),
                    )
            except Exception:  # never let housekeeping kill the collector
                log.exception("retention purge failed; will retry in %.0f s", every_s)
            stop.wait(every_s)

    thread = threading.Thread(target=run, name="groundswell-retention", daemon=True)
    thread.start()
    return thread
