"""Events: what each event brought into the room, measured against the time before it.

Definitions (docs/dashboard.md):
- lift = mention rate during the event / rate in the baseline window, an equally long window
  ending where the event starts (both windows have the same length, so the ratio of rates is
  the ratio of counts). No mention in the baseline: lift is undefined (None), shown as "new";
- new authors brought in: authors whose first mention of the movement ever falls in the event;
- after-glow: whole clock hours, from the first full hour after the event ends, during which the
  hourly count stays above the baseline's hourly rate (counted up to 7 days).

Also the event catalogue's writes from the page (edit, import from iCalendar, delete).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, delete, func, select

from storage.catalog import movement_ids, upsert_event
from storage.models import Event, MentionMatch, MovementAuthor, RollupHourly
from storage.queries.scope import Scope, in_scope, list_events

MM = MentionMatch.__table__
MA = MovementAuthor.__table__
EV = Event.__table__
RH = RollupHourly.__table__
AFTERGLOW_MAX_H = 7 * 24


def _count(conn: Connection, scope: Scope) -> int:
    """Mentions in the scope: whole hours summed from the hourly rollup, the part-hours at its
    ends counted over the matches. Exactly the count of its matches; counting them all read
    ~1M index entries per window for the benchmark's two-day assembly at 10M."""
    lo_h, hi_h = -(-scope.start_ts // 3600), scope.end_ts // 3600
    total = 0
    pieces = [(scope.start_ts, scope.end_ts)]
    if lo_h < hi_h:
        where = [RH.c.movement_id == scope.movement_id, RH.c.hour >= lo_h, RH.c.hour < hi_h]
        if scope.platforms:
            where.append(RH.c.platform.in_(scope.platforms))
        total += int(conn.execute(select(func.sum(RH.c.mentions)).where(*where)).scalar() or 0)
        pieces = [(scope.start_ts, lo_h * 3600), (hi_h * 3600, scope.end_ts)]
    for lo, hi in pieces:
        if lo < hi:
            part = scope.shifted(lo, hi)
            total += int(
                conn.execute(select(func.count()).where(*in_scope(MM, part))).scalar() or 0
            )
    return total


def event_report(
    conn: Connection, movement_id: int, event: Mapping[str, Any], platforms: Sequence[str] = ()
) -> dict[str, Any]:
    """Mentions, lift, new authors and after-glow of one event for one movement."""
    start, end = int(event["start_ts"]), int(event["end_ts"])
    during = Scope(movement_id, start, end, tuple(platforms))
    n_during = _count(conn, during)
    n_base = _count(conn, during.previous())
    hours = max(during.seconds, 1) / 3600
    base_rate = n_base / hours
    lift = None if n_base == 0 else n_during / n_base
    new_authors = int(
        conn.execute(select(func.count()).where(*in_scope(MA, during, "first_ts"))).scalar() or 0
    )
    # After-glow on whole clock hours from the first full hour after the end (hourly rollup).
    first_h = -(-end // 3600)
    where = [
        RH.c.movement_id == movement_id,
        RH.c.hour >= first_h,
        RH.c.hour < first_h + AFTERGLOW_MAX_H,
    ]
    if platforms:
        where.append(RH.c.platform.in_(tuple(platforms)))
    per_hour = {
        int(h) - first_h: int(n)
        for h, n in conn.execute(
            select(RH.c.hour, func.sum(RH.c.mentions)).where(*where).group_by(RH.c.hour)
        )
    }
    glow = 0
    while glow < AFTERGLOW_MAX_H and per_hour.get(glow, 0) > base_rate:
        glow += 1
    return {
        "event_id": event.get("id"),
        "slug": event.get("slug"),
        "name": event.get("name"),
        "start_ts": start,
        "end_ts": end,
        "timezone": event.get("timezone") or "UTC",
        "mentions": n_during,
        "baseline_mentions": n_base,
        "rate_per_hour": n_during / hours,
        "baseline_rate_per_hour": base_rate,
        "lift": lift,
        "new_authors": new_authors,
        "afterglow_hours": glow,
    }


def compare_events(
    conn: Connection, movement_id: int, platforms: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """One report per event of the movement, earliest first (the comparison table)."""
    return [event_report(conn, movement_id, e, platforms) for e in list_events(conn, movement_id)]


def hourly_around(
    conn: Connection, movement_id: int, event: Any, platforms: Sequence[str] = ()
) -> dict[str, Any]:
    """Counts per bucket from the baseline start to the end of the after-glow window, for the
    event's chart (bucket sized to the event's length)."""
    from storage.queries.overview import volume_by_platform
    from storage.queries.scope import pick_bucket

    event = dict(event)  # a mapping, or (key, value) pairs when called through the page cache
    start, end = int(event["start_ts"]), int(event["end_ts"])
    length = max(end - start, 60)
    lo, hi = start - length, end + max(length, 6 * 3600)
    bucket = pick_bucket(hi - lo, 80)
    scope = Scope(movement_id, lo, hi, tuple(platforms))
    return {"lo": lo, "hi": hi, "bucket_s": bucket, "rows": volume_by_platform(conn, scope, bucket)}


def save_events(
    conn: Connection, events: Sequence[Any], movement_slug: str | None, origin: str = "dashboard"
) -> list[int]:
    """Create or update events (`domain.settings.config.EventSettings`), tied to the movement."""
    ids = movement_ids(conn)
    out = []
    for e in events:
        if movement_slug and not e.movement:
            e = e.model_copy(update={"movement": movement_slug})
        out.append(upsert_event(conn, e, ids, origin=origin))
    return out


def delete_events(conn: Connection, slugs: Sequence[str]) -> int:
    if not slugs:
        return 0
    res = conn.execute(delete(EV).where(EV.c.slug.in_(list(slugs))))
    return int(res.rowcount or 0)
