"""What the thread readers need from the store: the reply counts already stored."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, select

from domain.records import mention_id
from storage.id_lists import among
from storage.models import Mention


def stored_reply_counts(
    conn: Connection, platform: str, native_ids: Iterable[str]
) -> dict[str, int]:
    """native_id -> reply_count of the mentions already stored (the highest count seen)."""
    by_id = {mention_id(platform, n): n for n in native_ids}
    if not by_id:
        return {}
    m = Mention.__table__  # type: ignore[attr-defined]
    rows = conn.execute(select(m.c.id, m.c.reply_count).where(among(conn, m.c.id, by_id)))
    return {by_id[r.id]: int(r.reply_count or 0) for r in rows}
