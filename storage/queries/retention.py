"""Retention horizons (DESIGN.md section 6): what each horizon removes, counted or purged in
short batches so collectors are never blocked for long.

- payloads (`mention_payload`): raw JSON fetched before the horizon;
- text (`mention`): text, HTML, title, content warning, media and links of posts created
  before the horizon, redacted like a tombstone (the row, its keys and counts stay, so the
  dashboards are unchanged); their raw payloads go too, since those hold the same text;
- accounts (`account`): accounts no mention or amplification refers to any more, last
  updated before the horizon;
- pings (`received_ping`): settled (verified, rejected, deleted) received pingbacks and
  webmentions last updated before the horizon; the mentions they made stay;
- run log (`collector_run`): runs started before the horizon;
- export log (`export_log`): exports logged before the horizon;
- audit trail (`audit_event`): staff actions recorded before the horizon.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, exists, func, not_, null, or_, select

from storage.models import Account, Amplification, CollectorRun, Mention, MentionPayload
from storage.models_audit import AuditEvent
from storage.models_blogs import ReceivedPing
from storage.models_export import ExportLog

SETTLED_PINGS = ("verified", "rejected", "deleted")
REDACTED = ("text", "html", "title", "spoiler_text", "media", "links")
# horizon name -> the table it purges (the order `purge` runs them in)
HORIZON_TABLES = {
    "payloads": "mention_payload",
    "text": "mention (text redacted)",
    "accounts": "account",
    "pings": "received_ping",
    "run_log": "collector_run",
    "export_log": "export_log",
    "audit": "audit_event",
}


def _t(model: Any) -> Any:
    return model.__table__


def _text_candidates(cutoff: datetime) -> tuple[Any, list[Any]]:
    m = _t(Mention)
    ts = int(cutoff.astimezone(UTC).timestamp())
    return m.c.id, [
        m.c.created_ts < ts,
        m.c.deleted_at.is_(None),
        or_(*(m.c[c].is_not(None) for c in REDACTED)),
    ]


def _account_candidates(cutoff: datetime) -> tuple[Any, list[Any]]:
    a, m, e = _t(Account), _t(Mention), _t(Amplification)
    return a.c.id, [
        func.coalesce(a.c.updated_at, a.c.first_seen_at) < cutoff,
        not_(exists(select(m.c.id).where(m.c.account_id == a.c.id))),
        not_(exists(select(e.c.id).where(e.c.source_account_id == a.c.id))),
        not_(exists(select(e.c.id).where(e.c.target_account_id == a.c.id))),
    ]


def _simple(model: Any, key: str, column: str, *extra: Any) -> Callable[[datetime], Any]:
    def candidates(cutoff: datetime) -> tuple[Any, list[Any]]:
        t = _t(model)
        return t.c[key], [t.c[column] < cutoff, *extra]

    return candidates


def _candidates(horizon: str, cutoff: datetime) -> tuple[Any, list[Any]]:
    if horizon == "text":
        return _text_candidates(cutoff)
    if horizon == "accounts":
        return _account_candidates(cutoff)
    if horizon == "pings":
        p = _t(ReceivedPing)
        return _simple(ReceivedPing, "id", "updated_at", p.c.status.in_(SETTLED_PINGS))(cutoff)
    table = {
        "payloads": (MentionPayload, "mention_id", "fetched_at"),
        "run_log": (CollectorRun, "id", "started_at"),
        "export_log": (ExportLog, "id", "created_at"),
        "audit": (AuditEvent, "id", "at"),
    }[horizon]
    return _simple(*table)(cutoff)


def count_expired(conn: Connection, horizon: str, cutoff: datetime) -> int:
    """How many rows this horizon would purge now (for `purge --dry-run`)."""
    key, where = _candidates(horizon, cutoff)
    return int(conn.execute(select(func.count(key)).where(*where)).scalar() or 0)


def purge_expired(
    conn: Connection, horizon: str, cutoff: datetime, *, batch: int, now: datetime
) -> int:
    """Purge at most `batch` rows past this horizon; returns how many went (the caller
    repeats in fresh transactions until fewer than `batch` go)."""
    key, where = _candidates(horizon, cutoff)
    ids = [row[0] for row in conn.execute(select(key).where(*where).limit(batch))]
    if not ids:
        return 0
    table = key.table
    if horizon == "text":
        conn.execute(
            table.update()
            .where(key.in_(ids))
            .values(updated_at=now, **{c: null() for c in REDACTED})  # SQL NULL, not JSON null
        )
        p = _t(MentionPayload)
        conn.execute(p.delete().where(p.c.mention_id.in_(ids)))
    else:
        conn.execute(table.delete().where(key.in_(ids)))
        if horizon == "accounts":  # their people evidence goes with them (docs/people.md)
            from storage.people_links import forget_accounts

            forget_accounts(conn, ids)
    return len(ids)


__all__ = ["HORIZON_TABLES", "count_expired", "purge_expired"]
