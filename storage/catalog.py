"""Movements, events and sources: the catalogue the configuration declares.

`sync_catalog` makes the store agree with the config file (idempotent; sources removed from the
config are disabled, never deleted, so their history and cursors survive a typo).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select, update

from domain.matching import MovementRule
from storage.models import Event, Movement, Source

if TYPE_CHECKING:
    from domain.records import SourceSpec
    from domain.settings.config import EventSettings, MovementSettings


def _t(model: Any) -> Any:
    return model.__table__


def upsert_movement(conn: Connection, m: MovementSettings, now: datetime | None = None) -> int:
    table = _t(Movement)
    now = now or datetime.now(UTC)
    values = {"name": m.name, "hashtags": m.hashtags, "terms": m.terms, "urls": m.urls}
    existing = conn.execute(select(table.c.id).where(table.c.slug == m.slug)).scalar()
    if existing is not None:
        conn.execute(update(table).where(table.c.id == existing).values(**values))
        return int(existing)
    res = conn.execute(table.insert().values(slug=m.slug, created_at=now, **values))
    return int(res.inserted_primary_key[0])  # type: ignore[index]


def upsert_event(
    conn: Connection, e: EventSettings, movement_ids: dict[str, int], origin: str = "config"
) -> int:
    table = _t(Event)
    values = {
        "name": e.name,
        "movement_id": movement_ids.get(e.movement) if e.movement else None,
        "starts_at": e.starts.astimezone(UTC),
        "ends_at": e.ends.astimezone(UTC),
        "timezone": e.timezone,
        "hashtags": e.hashtags,
        "place": e.place,
        "origin": origin,
    }
    existing = conn.execute(select(table.c.id).where(table.c.slug == e.slug)).scalar()
    if existing is not None:
        conn.execute(update(table).where(table.c.id == existing).values(**values))
        return int(existing)
    res = conn.execute(table.insert().values(slug=e.slug, **values))
    return int(res.inserted_primary_key[0])  # type: ignore[index]


# Statuses a FatalSourceError leaves are anything but these (collectors.runner polls only these).
RUNNABLE_STATUSES = ("new", "ok", "backoff")
_RUNNABLE = RUNNABLE_STATUSES
# Parked statuses the runner still retries, after a long back-off: a refused login or a server
# asking for credentials may be fixed outside the config (a new app password or token in the
# environment, a server that was down), and nobody should have to notice and run `init` first.
# A site's robots.txt disallowing a crawled page (net/robots.py) may change its mind.
RETRIED_PARKED_STATUSES = ("auth_failed", "needs_token", "robots_disallowed")


def sync_sources(
    conn: Connection, specs: Sequence[SourceSpec], *, retry_fatal: bool = False
) -> dict[str, int]:
    """Create or update a source row per spec; disable rows no longer configured.

    A source stopped by a fatal error (e.g. `needs_token`) is polled again when its target
    changes in the config, or for every source when `retry_fatal` (what `groundswell init`
    asks for after the user fixed the cause, e.g. exported the missing token).
    """
    table = _t(Source)
    now = datetime.now(UTC)
    rows = {
        r.key: r
        for r in conn.execute(
            select(table.c.id, table.c.key, table.c.enabled, table.c.target, table.c.status)
        )
    }
    ids: dict[str, int] = {}
    for spec in specs:
        values = {
            "platform": spec.platform,
            "kind": spec.kind,
            "target": spec.target,
            "interval_s": spec.interval_s,
            "enabled": True,
        }
        if spec.key in rows:
            row = rows[spec.key]
            stopped = row.status not in _RUNNABLE
            if row.status == "removed" or (stopped and (retry_fatal or row.target != spec.target)):
                values.update(status="new", consecutive_failures=0, next_due_at=now)
            conn.execute(update(table).where(table.c.id == row.id).values(**values))
            ids[spec.key] = row.id
        else:
            res = conn.execute(
                table.insert().values(
                    key=spec.key, status="new", next_due_at=now, problems=[], **values
                )
            )
            ids[spec.key] = int(res.inserted_primary_key[0])  # type: ignore[index]
    stale = [r.id for k, r in rows.items() if k not in ids and r.enabled]
    if stale:
        conn.execute(
            update(table).where(table.c.id.in_(stale)).values(enabled=False, status="removed")
        )
    return ids


def load_rules(conn: Connection) -> list[MovementRule]:
    table = _t(Movement)
    return [
        MovementRule.compile(r.id, r.slug, r.hashtags or [], r.terms or [], r.urls or [])
        for r in conn.execute(
            select(table.c.id, table.c.slug, table.c.hashtags, table.c.terms, table.c.urls)
        )
    ]


def movement_ids(conn: Connection) -> dict[str, int]:
    table = _t(Movement)
    return {r.slug: r.id for r in conn.execute(select(table.c.slug, table.c.id))}
