"""What the Bluesky collector reads back from the store (read-only, small `IN` lookups).

The collector decides from these which posts need their reposters and quotes fetched (only
those whose counts grew since the last poll) and which stream events concern stored mentions.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, select

from storage.models import Mention
from storage.records import mention_id

_CHUNK = 500


def _t() -> Any:
    return Mention.__table__


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
