"""The demo's one source row: the replay is a source like any other (cursor, runs, leases).

`sync_sources` (config-driven) disables every source the config does not list, the demo's
included; `ensure_demo_source` re-enables it when a demo is loaded. Only one demo source is
enabled at a time, so the runner replays exactly the conversation that was asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select, update

from storage.models import Source

DEMO_PLATFORM = "demo"


@dataclass(slots=True)
class DemoSourceRow:
    id: int
    key: str
    target: dict[str, Any]
    cursor: dict[str, Any] | None


def _t() -> Any:
    return Source.__table__  # type: ignore[attr-defined]


def get_demo_source(conn: Connection, key: str) -> DemoSourceRow | None:
    table = _t()
    row = conn.execute(
        select(table.c.id, table.c.key, table.c.target, table.c.cursor).where(table.c.key == key)
    ).first()
    if row is None:
        return None
    return DemoSourceRow(row.id, row.key, dict(row.target or {}), row.cursor)


def ensure_demo_source(
    conn: Connection, key: str, target: dict[str, Any], *, interval_s: int
) -> DemoSourceRow:
    """Create or re-enable the demo source `key` with `target`; disable other demo sources.

    An existing row keeps its cursor (the replay resumes where it stopped).
    """
    table = _t()
    now = datetime.now(UTC)
    conn.execute(
        update(table)
        .where(table.c.platform == DEMO_PLATFORM, table.c.key != key, table.c.enabled.is_(True))
        .values(enabled=False, status="replaced")
    )
    existing = get_demo_source(conn, key)
    values = {
        "platform": DEMO_PLATFORM,
        "kind": "replay",
        "target": target,
        "interval_s": interval_s,
        "enabled": True,
        "next_due_at": now,
    }
    if existing is None:
        res = conn.execute(table.insert().values(key=key, status="new", problems=[], **values))
        new_id = res.inserted_primary_key
        assert new_id is not None
        return DemoSourceRow(int(new_id[0]), key, target, None)
    conn.execute(
        update(table)
        .where(table.c.id == existing.id)
        .values(
            # A source left "fatal" by an old replay is given a fresh start.
            status="ok" if existing.cursor else "new",
            consecutive_failures=0,
            **values,
        )
    )
    return DemoSourceRow(existing.id, key, target, existing.cursor)
