"""What the Bluesky collector reads back from the store (read-only, small `IN` lookups).

The collector decides from these which posts need their reposters and quotes fetched (only
those whose counts grew since the last poll) and which stream events concern stored mentions.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, or_, select, update

from domain.records import account_id, mention_id
from storage.models import Account, Mention, Source

_CHUNK = 500


def _table(model: Any) -> Any:
    return model.__table__


def _t() -> Any:
    return _table(Mention)


def stored_counts(
    conn: Connection, platform: str, native_ids: Iterable[str]
) -> dict[str, tuple[int, int]]:
    """native_id -> (repost_count, quote_count) for the mentions already stored."""
    by_id = {mention_id(platform, n): n for n in native_ids}
    m = _t()
    out: dict[str, tuple[int, int]] = {}
    ids = list(by_id)
    for i in range(0, len(ids), _CHUNK):
        rows = conn.execute(
            select(m.c.id, m.c.repost_count, m.c.quote_count).where(m.c.id.in_(ids[i : i + _CHUNK]))
        )
        for row in rows:
            out[by_id[row.id]] = (int(row.repost_count or 0), int(row.quote_count or 0))
    return out


def stored_mentions(conn: Connection, platform: str, native_ids: Iterable[str]) -> set[str]:
    """The subset of `native_ids` stored as mentions (tombstones included)."""
    return set(stored_counts(conn, platform, native_ids))


def stored_accounts(conn: Connection, platform: str, native_ids: Iterable[str]) -> set[str]:
    """The subset of `native_ids` stored as accounts (a stream's handle change concerns us
    only for accounts we already hold)."""
    a = _table(Account)
    by_id = {account_id(platform, n): n for n in native_ids}
    ids = list(by_id)
    found: set[str] = set()
    for i in range(0, len(ids), _CHUNK):
        for row in conn.execute(select(a.c.id).where(a.c.id.in_(ids[i : i + _CHUNK]))):
            found.add(by_id[row.id])
    return found


def lease_source_by_key(
    conn: Connection, key: str, owner: str, lease_s: int, now: datetime | None = None
) -> dict[str, Any] | None:
    """Lease one named source for a long-running reader (the live stream), unless another
    live worker holds it. Returns the source row, or None when it is taken or unknown."""
    s = _table(Source)
    now = now or datetime.now(UTC)
    row = conn.execute(
        select(s)
        .where(
            s.c.key == key,
            s.c.enabled.is_(True),
            or_(s.c.lease_until.is_(None), s.c.lease_until < now, s.c.lease_owner == owner),
        )
        .with_for_update(skip_locked=True)
    ).one_or_none()
    if row is None:
        return None
    conn.execute(
        update(s)
        .where(s.c.id == row.id)
        .values(lease_owner=owner, lease_until=now + timedelta(seconds=lease_s))
    )
    return dict(row._mapping)


def recent_mentions(
    conn: Connection, platform: str, since_ts: int, limit: int
) -> list[tuple[str, int, int]]:
    """(native_id, repost_count, quote_count) of live mentions created since `since_ts`,
    newest first: the ones whose counts are still worth refreshing."""
    m = _t()
    rows = conn.execute(
        select(m.c.native_id, m.c.repost_count, m.c.quote_count)
        .where(m.c.platform == platform, m.c.created_ts >= since_ts, m.c.deleted_at.is_(None))
        .order_by(m.c.created_ts.desc())
        .limit(limit)
    )
    return [(r.native_id, int(r.repost_count or 0), int(r.quote_count or 0)) for r in rows]
