"""Where each status was seen and its id there, for `recheck` (ask an instance that carried it,
by its own id: a status's URI names no id most instances' APIs take), and the other way round:
which stored status an instance's id names, for the stream's deletions."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, select

from domain.records import mention_id
from storage.id_lists import among
from storage.models import Mention, MentionSeen


def sightings(
    conn: Connection, platform: str, native_ids: Iterable[str]
) -> dict[str, list[tuple[str, str | None]]]:
    """native_id -> [(instance, its local id there or None)], earliest sighting first."""
    by_id = {mention_id(platform, n): n for n in native_ids}
    if not by_id:
        return {}
    s = MentionSeen.__table__  # type: ignore[attr-defined]
    rows = conn.execute(
        select(s.c.mention_id, s.c.seen_on, s.c.local_id)
        .where(among(conn, s.c.mention_id, by_id))
        .order_by(s.c.mention_id, s.c.first_seen_at, s.c.seen_on)
    )
    out: dict[str, list[tuple[str, str | None]]] = {}
    for r in rows:
        out.setdefault(by_id[r.mention_id], []).append((r.seen_on, r.local_id))
    return out


def seen_as(conn: Connection, instance: str, local_id: str) -> tuple[str, str] | None:
    """The (platform, native_id) of the stored mention `instance` calls `local_id`, or None.

    A streaming `delete` carries only the instance's id of the status; a status this process
    has not met since it started is found here (`ix_seen_local`, migration 0055)."""
    s = MentionSeen.__table__  # type: ignore[attr-defined]
    m = Mention.__table__  # type: ignore[attr-defined]
    row = conn.execute(
        select(m.c.platform, m.c.native_id)
        .join(s, s.c.mention_id == m.c.id)
        .where(s.c.seen_on == instance, s.c.local_id == local_id)
        .limit(1)
    ).first()
    return (row.platform, row.native_id) if row is not None else None
