"""One alerts cycle (evaluate, queue a due digest, deliver) and the thread that runs it beside
`collect --loop` and `up`, once per collect interval."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from sqlalchemy import Engine

from domain.settings.config import Settings
from groundswell.alerts.deliver import DeliveryReport, deliver_due
from groundswell.alerts.evaluate import evaluate

log = logging.getLogger("groundswell.alerts")


def run_cycle(
    engine: Engine, settings: Settings, *, at: datetime | None = None
) -> tuple[list[int], DeliveryReport]:
    """Evaluate every rule as of `at` (default now), queue a scheduled digest that is due, and
    send what the outbox holds. Returns the new alerts' ids and what delivery did."""
    now = datetime.now(UTC)
    new = evaluate(engine, settings, at=at or now, now=now)
    if at is None:
        from groundswell.alerts.digest import queue_scheduled_digest

        digest_id = queue_scheduled_digest(engine, settings, now=now)
        if digest_id is not None:
            new.append(digest_id)
    return new, deliver_due(engine, settings.alerts, now=now)


def start_alerts_thread(
    engine: Engine, settings: Settings, stop: threading.Event, *, every_s: float | None = None
) -> threading.Thread | None:
    """Run a cycle now and then every `every_s` (default `[collect].default_interval_s`) until
    `stop`; nothing when alerts are disabled or nothing is configured."""
    cfg = settings.alerts
    if not cfg.enabled or not (cfg.rules or cfg.digest.schedule):
        return None
    interval = every_s or float(settings.collect.default_interval_s)

    def run() -> None:
        while not stop.is_set():
            try:
                new, report = run_cycle(engine, settings)
                if new or report.delivered or report.failed:
                    log.info(
                        "alerts: %d new, %d delivered, %d retrying, %d failed",
                        len(new),
                        len(report.delivered),
                        len(report.retrying),
                        len(report.failed),
                    )
            except Exception:  # never let alerting kill the collector
                log.exception("alerts cycle failed; will retry in %.0f s", interval)
            stop.wait(interval)

    thread = threading.Thread(target=run, name="groundswell-alerts", daemon=True)
    thread.start()
    return thread
