"""What alert rules read (docs/alerts.md, "Rules"): the rollups, never a pass over mentions.

- spike: the window's exact count (`storage.queries.events._count`: whole hours from
  `rollup_hourly`, part-hours from the match index) and the hourly rollup of the baseline days;
- new place: `movement_place` (instances and blog sites, first appearance) and the first hour
  of each platform in `rollup_hourly` (its primary key answers min(hour) per platform);
- new amplifier: new authors of the window (`movement_author` by `first_ts`) and the edges
  their posts drew (`movement_edge` by `ix_medge_dst`);
- watched terms: the window's matches (a short range of the match index) joined to their text,
  the one query here that reads mentions; quoting obeys `storage.queries.ethics`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, literal, or_, select

from storage.models import Account, Mention, MentionMatch, MovementAuthor, RollupHourly
from storage.models_rollups import MovementEdge, MovementPlace
from storage.queries.ethics import account_opted_out, func_coalesce, mention_displayable
from storage.queries.events import _count
from storage.queries.scope import Scope, in_scope

RH = RollupHourly.__table__
MP = MovementPlace.__table__
MA = MovementAuthor.__table__
ME = MovementEdge.__table__
MM = MentionMatch.__table__
M = Mention.__table__
A = Account.__table__

window_count = _count  # one exact count definition with the Events page


def hourly(
    conn: Connection, movement_id: int, first_hour: int, end_hour: int, platform: str | None
) -> dict[int, int]:
    """Mentions per UTC hour in `[first_hour, end_hour)` from the hourly rollup."""
    where = [RH.c.movement_id == movement_id, RH.c.hour >= first_hour, RH.c.hour < end_hour]
    if platform:
        where.append(RH.c.platform == platform)
    stmt = select(RH.c.hour, func.sum(RH.c.mentions)).where(*where).group_by(RH.c.hour)
    return {int(h): int(n) for h, n in conn.execute(stmt)}


def first_hour(conn: Connection, movement_id: int, platform: str | None) -> int | None:
    """The movement's first hour with a mention (on `platform`): days before it are no
    baseline."""
    where = [RH.c.movement_id == movement_id]
    if platform:
        where.append(RH.c.platform == platform)
    h = conn.execute(select(func.min(RH.c.hour)).where(*where)).scalar()
    return None if h is None else int(h)


def new_places(conn: Connection, movement_id: int, start_ts: int, end_ts: int) -> list[dict]:
    """Platforms, Mastodon instances and blog sites whose first appearance in the movement
    falls in `[start_ts, end_ts)` (platforms: by their first hour in the rollup)."""
    out: list[dict[str, Any]] = []
    lo_h, hi_h = start_ts // 3600, -(-end_ts // 3600)
    # Only a platform with mentions in the window can be new in it (a short range of the
    # primary key); then its first hour ever is one more probe of the same key.
    active = conn.execute(
        select(RH.c.platform)
        .where(RH.c.movement_id == movement_id, RH.c.hour >= lo_h, RH.c.hour < hi_h)
        .distinct()
    ).scalars()
    for platform in sorted(active):
        hour = conn.execute(
            select(func.min(RH.c.hour)).where(
                RH.c.movement_id == movement_id, RH.c.platform == platform
            )
        ).scalar()
        ts = int(hour) * 3600
        if start_ts <= ts + 3599 and ts < end_ts:
            out.append(
                {"kind": "platform", "platform": platform, "place": platform, "first_ts": ts}
            )
    places = conn.execute(
        select(MP.c.platform, MP.c.place, MP.c.first_ts).where(
            MP.c.movement_id == movement_id, MP.c.first_ts >= start_ts, MP.c.first_ts < end_ts
        )
    )
    for platform, place, ts in places:
        kind = "instance" if platform == "mastodon" else "blog"
        out.append({"kind": kind, "platform": platform, "place": place, "first_ts": int(ts)})
    return sorted(out, key=lambda p: (p["first_ts"], p["place"]))


def new_amplifiers(
    conn: Connection,
    movement_id: int,
    start_ts: int,
    end_ts: int,
    *,
    min_reposts: int,
    discoverable_false_is_opt_out: bool = True,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """Authors first seen in the movement in `[start_ts, end_ts)` whose posts drew at least
    `min_reposts` amplifications (reposts, boosts, quotes, replies...) before `end_ts`.
    Opted-out accounts are counted but named by platform only (DESIGN.md section 6)."""
    cands = conn.execute(
        select(MA.c.account_id, MA.c.platform)
        .where(MA.c.movement_id == movement_id, MA.c.first_ts >= start_ts, MA.c.first_ts < end_ts)
        .limit(limit)
    ).all()
    out = []
    for account_id, platform in cands:
        drew = int(
            conn.execute(
                select(func.count()).where(
                    ME.c.movement_id == movement_id,
                    ME.c.dst_account_id == account_id,
                    ME.c.created_ts < end_ts,
                    ME.c.source_account_id != account_id,
                )
            ).scalar()
            or 0
        )
        if drew < min_reposts:
            continue
        opted = func_coalesce(
            account_opted_out(A, discoverable_false_is_opt_out=discoverable_false_is_opt_out)
        )
        row = conn.execute(
            select(A.c.handle, A.c.url, opted.label("opted")).where(A.c.id == account_id)
        ).first()
        shown = row is not None and not row.opted
        out.append(
            {
                "account_id": int(account_id),
                "platform": platform,
                "handle": row.handle if shown else None,
                "url": row.url if shown else None,
                "amplifications": drew,
            }
        )
    return out


def term_mentions(
    conn: Connection,
    scope: Scope,
    terms: list[str],
    *,
    quote_limit: int = 3,
    discoverable_false_is_opt_out: bool = True,
) -> dict[str, Any]:
    """Matches in the scope whose text contains any term (case-insensitive): how many, and up
    to `quote_limit` that may be quoted (the consent rule of `storage.queries.ethics`:
    opted-out authors, consent-gated matches without `indexable`, tombstones never quoted)."""
    if not terms:
        return {"count": 0, "quotes": []}
    text = func.lower(func.coalesce(M.c.text, literal("")))
    has_term = or_(*(text.contains(t.lower(), autoescape=True) for t in terms))
    mm = MM.alias("mm_window")  # the consent rule correlates on the match table itself
    base = (
        select(M.c.id)
        .select_from(mm.join(M, M.c.id == mm.c.mention_id))
        .where(*in_scope(mm, scope), has_term)
    )
    count = int(conn.execute(select(func.count()).select_from(base.subquery())).scalar() or 0)
    quotes: list[dict[str, Any]] = []
    if count:
        stmt = (
            select(M.c.id, M.c.platform, M.c.text, M.c.url, M.c.created_ts, A.c.handle)
            .select_from(
                mm.join(M, M.c.id == mm.c.mention_id).outerjoin(A, A.c.id == M.c.account_id)
            )
            .where(
                *in_scope(mm, scope),
                has_term,
                mention_displayable(
                    M,
                    A,
                    movement_id=scope.movement_id,
                    discoverable_false_is_opt_out=discoverable_false_is_opt_out,
                ),
            )
            .order_by(M.c.created_ts.desc())
            .limit(quote_limit)
        )
        quotes = [dict(r._mapping) for r in conn.execute(stmt)]
    return {"count": count, "quotes": quotes}


def unacknowledged(conn: Connection, scope: Scope, limit: int = 5) -> list[dict[str, Any]]:
    """The movement's newest alerts nobody acknowledged yet (the Overview's banner)."""
    from storage.alerts import list_alerts

    return list_alerts(conn, unacknowledged=True, movement_id=scope.movement_id, limit=limit)


def displayable_ids(
    conn: Connection,
    ids: list[int],
    movement_id: int | None,
    *,
    discoverable_false_is_opt_out: bool = True,
) -> set[int]:
    """Which of these mentions may still be quoted (not deleted since, author not opted out
    since: the one consent rule of `storage.queries.ethics`)."""
    if not ids:
        return set()
    stmt = (
        select(M.c.id)
        .select_from(M.outerjoin(A, A.c.id == M.c.account_id))
        .where(
            M.c.id.in_(ids),
            mention_displayable(
                M,
                A,
                movement_id=movement_id,
                discoverable_false_is_opt_out=discoverable_false_is_opt_out,
            ),
        )
    )
    return {int(i) for (i,) in conn.execute(stmt)}
