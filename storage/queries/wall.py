"""The live wall's queries: moderation decisions, wall settings, candidate posts and pulse figures.

Moderation state is small (one row per moderator click), so it is read whole and folded in
Python (`domain.moderation`); the candidate query then pushes the cheap exclusions (hidden
posts, authors, instances; opt-outs; pre-moderation's approved set) into SQL and walks the
newest-first index, so a refresh reads a few dozen rows whatever the size of the store. Word
blocklists are applied in Python on those rows (normalised Unicode matching on several fields
is not something SQL does well on both dialects), paging further when many are blocked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, and_, distinct, func, not_, or_, select

from domain.moderation import BLOG_PLATFORMS, Decision, ModerationState, WallPost
from storage.models import (
    Account,
    Amplification,
    Mention,
    MentionMatch,
    Movement,
    MovementAuthor,
    RollupHourly,
    WallModeration,
)
from storage.models_wall import WallSetting
from storage.queries.ethics import func_coalesce, mention_displayable, person_opted_out

_PAGE = 60
_MAX_PAGES = 10


def _t(model: Any) -> Any:
    return model.__table__


# --- decisions and settings -----------------------------------------------------------------


def record_decision(
    conn: Connection,
    *,
    wall: str,
    target_kind: str,
    target: str,
    action: str,
    active: bool = True,
    moderator: str | None = None,
    note: str | None = None,
    now: datetime | None = None,
) -> None:
    """Append a moderation decision; the latest per (kind, target) wins, history stays."""
    conn.execute(
        _t(WallModeration)
        .insert()
        .values(
            wall=wall,
            target_kind=target_kind,
            target=target[:1000],
            action=action,
            active=active,
            moderator=(moderator or None) and moderator[:200],
            note=note,
            created_at=now or datetime.now(UTC),
        )
    )


def load_decisions(conn: Connection, wall: str) -> list[Decision]:
    t = _t(WallModeration)
    rows = conn.execute(
        select(t.c.target_kind, t.c.target, t.c.action, t.c.active)
        .where(t.c.wall == wall)
        .order_by(t.c.id)
    )
    return [Decision(r[0], r[1], r[2], bool(r[3])) for r in rows]


def moderation_log(conn: Connection, wall: str, limit: int = 50) -> list[dict[str, Any]]:
    """The latest decisions, newest first, for the moderators' audit view."""
    t = _t(WallModeration)
    rows = conn.execute(
        select(t.c.created_at, t.c.moderator, t.c.target_kind, t.c.target, t.c.action, t.c.active)
        .where(t.c.wall == wall)
        .order_by(t.c.id.desc())
        .limit(limit)
    )
    return [dict(r._mapping) for r in rows]


def load_wall_overrides(conn: Connection, wall: str) -> dict[str, Any]:
    t = _t(WallSetting)
    value = conn.execute(select(t.c.settings).where(t.c.wall == wall)).scalar()
    return dict(value or {})


def save_wall_overrides(
    conn: Connection,
    wall: str,
    changes: dict[str, Any],
    *,
    moderator: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Merge `changes` into the stored overrides of `wall` (the caller validates them)."""
    t = _t(WallSetting)
    now = now or datetime.now(UTC)
    current = conn.execute(select(t.c.settings).where(t.c.wall == wall)).scalar()
    merged = {**(current or {}), **changes}
    if current is None:
        conn.execute(
            t.insert().values(wall=wall, settings=merged, updated_at=now, updated_by=moderator)
        )
    else:
        conn.execute(
            t.update()
            .where(t.c.wall == wall)
            .values(settings=merged, updated_at=now, updated_by=moderator)
        )
    return merged


def movement_id_for(conn: Connection, slug: str | None) -> int | None:
    """The movement a wall follows: the named one, else None (every movement)."""
    if not slug:
        return None
    t = _t(Movement)
    return conn.execute(select(t.c.id).where(t.c.slug == slug)).scalar()


# --- candidate posts ------------------------------------------------------------------------


def _post_query(movement_id: int | None, discoverable_false_is_opt_out: bool) -> Any:
    m, a, mm = _t(Mention), _t(Account), _t(MentionMatch)
    cols = (
        m.c.id,
        m.c.platform,
        m.c.created_ts,
        m.c.text,
        m.c.title,
        m.c.spoiler_text,
        m.c.sensitive,
        m.c.media,
        m.c.url,
        m.c.instance,
        m.c.account_id,
        a.c.native_id,
        a.c.handle,
        a.c.display_name,
    )
    joined = m.outerjoin(a, a.c.id == m.c.account_id)
    if movement_id is not None:
        # An alias: the opt-out rule has its own EXISTS over mention_match, which must not be
        # auto-correlated to this join.
        mmj = mm.alias("wall_match")
        joined = joined.join(
            mmj, and_(mmj.c.mention_id == m.c.id, mmj.c.movement_id == movement_id)
        )
    return (
        select(*cols)
        .select_from(joined)
        .where(
            mention_displayable(
                m,
                a,
                movement_id=movement_id,
                discoverable_false_is_opt_out=discoverable_false_is_opt_out,
            )
        )
    )


def _to_post(r: Any) -> WallPost:
    return WallPost(
        id=int(r[0]),
        platform=r[1],
        created_ts=int(r[2]),
        text=r[3],
        title=r[4],
        spoiler_text=r[5],
        sensitive=bool(r[6]),
        media=r[7] if isinstance(r[7], list) else None,
        url=r[8],
        instance=r[9],
        account_id=r[10],
        account_native_id=r[11],
        handle=r[12],
        display_name=r[13],
    )


def _exclusions(state: ModerationState) -> list[Any]:
    m, a = _t(Mention), _t(Account)
    clauses: list[Any] = []
    if state.hidden_mentions:
        clauses.append(m.c.id.not_in(sorted(state.hidden_mentions)))
    if state.hidden_accounts:
        clauses.append(
            or_(m.c.account_id.is_(None), m.c.account_id.not_in(sorted(state.hidden_accounts)))
        )
    if state.hidden_instances:
        clauses.append(
            or_(
                m.c.instance.is_(None),
                m.c.platform.in_(BLOG_PLATFORMS),
                func.lower(m.c.instance).not_in(sorted(state.hidden_instances)),
            )
        )
    if state.hidden_blogs:
        blogs = sorted(state.hidden_blogs)
        clauses.append(
            or_(
                m.c.platform.not_in(BLOG_PLATFORMS),
                and_(
                    func_coalesce(func.lower(m.c.instance).in_(blogs)).is_(False),
                    func_coalesce(func.lower(a.c.native_id).in_(blogs)).is_(False),
                ),
            )
        )
    return clauses


def candidate_posts(
    conn: Connection,
    state: ModerationState,
    *,
    moderation: str,
    movement_id: int | None = None,
    limit: int = 24,
    discoverable_false_is_opt_out: bool = True,
) -> list[WallPost]:
    """Posts the wall may show, newest first, with SQL-side exclusions applied.

    Returns up to `limit` posts that also pass the word blocklist (applied here via the pure
    rules, paging on when blocked posts were filtered out) plus every pinned post; the caller
    orders them with `domain.moderation.select_for_wall`.
    """
    from domain.moderation import blocklist_pattern, on_wall

    m = _t(Mention)
    pattern = blocklist_pattern(state.words)
    base = _post_query(movement_id, discoverable_false_is_opt_out).where(*_exclusions(state))
    out: dict[int, WallPost] = {}
    if state.pinned:
        for r in conn.execute(base.where(m.c.id.in_(sorted(state.pinned)))):
            p = _to_post(r)
            if on_wall(p, state, moderation, pattern):
                out[p.id] = p
    if moderation == "pre":
        approved = sorted(state.approved)
        if not approved:
            return list(out.values())
        base = base.where(m.c.id.in_(approved))
    ordered = base.order_by(m.c.created_ts.desc(), m.c.id.desc())
    found = 0
    for page in range(_MAX_PAGES):
        rows = conn.execute(ordered.limit(_PAGE).offset(page * _PAGE)).all()
        for r in rows:
            p = _to_post(r)
            if p.id not in out and on_wall(p, state, moderation, pattern):
                out[p.id] = p
                found += 1
        if found >= limit or len(rows) < _PAGE:
            break
    return list(out.values())


def recent_posts(
    conn: Connection,
    *,
    movement_id: int | None = None,
    limit: int = 40,
    only_ids: Sequence[int] | None = None,
    exclude_ids: Sequence[int] | None = None,
    discoverable_false_is_opt_out: bool = True,
) -> list[WallPost]:
    """Newest displayable posts regardless of moderation: the moderators' view of the stream
    (opted-out accounts stay invisible here too)."""
    m = _t(Mention)
    q = _post_query(movement_id, discoverable_false_is_opt_out)
    if only_ids is not None:
        if not only_ids:
            return []
        q = q.where(m.c.id.in_(list(only_ids)))
    if exclude_ids:
        q = q.where(m.c.id.not_in(list(exclude_ids)))
    q = q.order_by(m.c.created_ts.desc(), m.c.id.desc()).limit(limit)
    return [_to_post(r) for r in conn.execute(q)]


# --- pulse ----------------------------------------------------------------------------------


@dataclass(slots=True)
class Pulse:
    """The room's live figures. Counts include opted-out accounts (aggregates only)."""

    mentions_10m: int = 0
    mentions_today: int = 0
    people_today: int = 0
    new_voices_today: int = 0
    platforms_today: list[tuple[str, int]] = field(default_factory=list)
    instances_today: int = 0
    top_instances: list[tuple[str, int]] = field(default_factory=list)


def _since(movement_id: int | None, since_ts: int) -> Any:
    """(platform, created_ts) of matching mentions since `since_ts`: a range of
    `ix_mention_created_ts`, or of `ix_match_cover` (which carries platform) for one movement."""
    if movement_id is None:
        m = _t(Mention)
        return select(m.c.platform, m.c.created_ts).where(m.c.created_ts >= since_ts)
    mm = _t(MentionMatch)
    return select(mm.c.platform, mm.c.created_ts).where(
        mm.c.movement_id == movement_id, mm.c.created_ts >= since_ts
    )


def _by_count(counts: dict[str, int]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def pulse(conn: Connection, *, movement_id: int | None, now_ts: int, day_start_ts: int) -> Pulse:
    """Today's figures, each from the cheapest exact source (bench/wall_queries.py):

    - one movement: posts and platforms from `rollup_hourly` (whole hours since the day began)
      plus `ix_match_cover` for the part-hour before the first whole hour (zones that do not
      start the day on the hour); people from `movement_author.last_ts` (an author posted today
      exactly when their latest post is today); instances from `ix_mention_place` with the
      movement's match checked on mention_match's primary key;
    - every movement: the rollup would count a post matching two movements twice, so posts,
      people, platforms and instances come from today's range of covering indexes on
      `created_ts` (`ix_mention_place`, `ix_mention_engagement`), never the wide rows.

    Like the raw rows they replace, the figures count deleted posts (tombstones keep their
    rollup and index entries) and opted-out accounts: aggregates only, no names. Platforms and
    instances are grouped case-insensitively, as before.
    """
    m = _t(Mention)
    out = Pulse()
    out.mentions_10m = int(
        conn.execute(
            select(func.count()).select_from(_since(movement_id, now_ts - 600).subquery())
        ).scalar()
        or 0
    )
    platforms: dict[str, int] = {}
    hosts: dict[str, int] = {}
    pg = conn.dialect.name == "postgresql"
    # PostgreSQL groups on the bare column and the case is folded here: lower() on every row
    # was half the cost there (45 vs 23 ms for 100,000 posts). SQLite keeps lower() in SQL:
    # grouped on the bare platform its planner walks the (platform, native_id) unique index
    # over every row instead of today's range (3 s vs 30 ms at 1M mentions).
    host = m.c.instance if pg else func.lower(m.c.instance)
    inst_q: Any = select(host, func.count()).where(
        m.c.created_ts >= day_start_ts, m.c.instance.is_not(None)
    )
    if movement_id is None and pg:
        # One scan for platforms and instances together.
        for p, h, n in conn.execute(
            select(m.c.platform, m.c.instance, func.count())
            .where(m.c.created_ts >= day_start_ts)
            .group_by(m.c.platform, m.c.instance)
        ):
            platforms[p.lower()] = platforms.get(p.lower(), 0) + int(n)
            if h:
                hosts[h.lower()] = hosts.get(h.lower(), 0) + int(n)
        inst_q = None
    elif movement_id is None:
        platform_ = func.lower(m.c.platform)
        for p, n in conn.execute(
            select(platform_, func.count())
            .where(m.c.created_ts >= day_start_ts)
            .group_by(platform_)
        ):
            platforms[p] = platforms.get(p, 0) + int(n)
    if movement_id is None:
        out.people_today = int(
            conn.execute(
                select(func.count(distinct(m.c.account_id))).where(m.c.created_ts >= day_start_ts)
            ).scalar()
            or 0
        )
    else:
        rh, mm, ma = _t(RollupHourly), _t(MentionMatch), _t(MovementAuthor)
        first_hour = -(-day_start_ts // 3600)  # the first hour that starts at or after midnight
        for p, n in conn.execute(
            select(rh.c.platform, func.sum(rh.c.mentions))
            .where(rh.c.movement_id == movement_id, rh.c.hour >= first_hour)
            .group_by(rh.c.platform)
        ):
            key = p.lower()
            platforms[key] = platforms.get(key, 0) + int(n or 0)
        if first_hour * 3600 > day_start_ts:
            for p, n in conn.execute(
                select(mm.c.platform, func.count())
                .where(
                    mm.c.movement_id == movement_id,
                    mm.c.created_ts >= day_start_ts,
                    mm.c.created_ts < first_hour * 3600,
                )
                .group_by(mm.c.platform)
            ):
                key = p.lower()
                platforms[key] = platforms.get(key, 0) + int(n)
        out.people_today = int(
            conn.execute(
                select(func.count()).where(
                    ma.c.movement_id == movement_id, ma.c.last_ts >= day_start_ts
                )
            ).scalar()
            or 0
        ) - _linked_today(conn, movement_id, day_start_ts)
        inst_q = inst_q.where(
            select(mm.c.mention_id)
            .where(mm.c.movement_id == movement_id, mm.c.mention_id == m.c.id)
            .exists()
        )
    if inst_q is not None:
        for h, n in conn.execute(inst_q.group_by(host)):
            if h:
                hosts[h.lower()] = hosts.get(h.lower(), 0) + int(n)
    platforms = {p: n for p, n in platforms.items() if n}
    out.platforms_today = _by_count(platforms)
    out.mentions_today = sum(platforms.values())
    out.instances_today = len(hosts)
    out.top_instances = _by_count(hosts)[:8]
    out.new_voices_today = new_voices(conn, movement_id=movement_id, since_ts=day_start_ts)
    return out


def _linked_today(conn: Connection, movement_id: int, since_ts: int) -> int:
    """How many more accounts than persons posted since `since_ts`: the linked persons'
    accounts (`storage.queries.persons`) with their latest post since then, less one per
    person."""
    from storage.queries.persons import linked_accounts, overcount

    linked = linked_accounts(conn)
    if not linked:
        return 0
    ma = _t(MovementAuthor)
    active = conn.execute(
        select(ma.c.account_id).where(
            ma.c.movement_id == movement_id,
            ma.c.last_ts >= since_ts,
            ma.c.account_id.in_(sorted(linked)),
        )
    ).all()
    return overcount({(int(a), "") for (a,) in active}, linked)


def new_voices(conn: Connection, *, movement_id: int | None, since_ts: int) -> int:
    """Authors whose first post in the movement (in any movement, for an all-movements wall)
    is at or after `since_ts`. Uses the (movement_id, first_ts) index; the all-movements case
    also checks, per new author, the primary key for an earlier first post elsewhere."""
    ma = _t(MovementAuthor)
    ids = (
        [movement_id]
        if movement_id is not None
        else [r[0] for r in conn.execute(select(_t(Movement).c.id))]
    )
    if not ids:
        return 0
    q = (
        select(ma.c.account_id)
        .distinct()
        .where(ma.c.movement_id.in_(ids), ma.c.first_ts >= since_ts)
    )
    if len(ids) > 1:
        earlier = ma.alias("earlier")
        q = q.where(
            ~select(earlier.c.account_id)
            .where(
                earlier.c.movement_id.in_(ids),
                earlier.c.account_id == ma.c.account_id,
                earlier.c.first_ts < since_ts,
            )
            .exists()
        )
    n = int(conn.execute(select(func.count()).select_from(q.subquery())).scalar() or 0)
    if n and movement_id is not None:  # a person's later account is not a new voice
        from storage.queries.persons import later_firsts
        from storage.queries.scope import Scope

        n -= len(later_firsts(conn, Scope(movement_id, since_ts, 2**62, ())))
    return n


def volume_by_minute(
    conn: Connection, *, movement_id: int | None, now_ts: int, minutes: int = 60
) -> list[tuple[int, str, int]]:
    """(minute start epoch, platform, mentions) over the last `minutes` minutes. The minute is
    integer division (`//`): `/` is true division in SQLAlchemy, NUMERIC on PostgreSQL, which
    grouped every second apart."""
    sq = _since(movement_id, now_ts - minutes * 60).subquery()
    minute = (sq.c.created_ts // 60).label("minute")
    rows = conn.execute(
        select(minute, sq.c.platform, func.count()).group_by(minute, sq.c.platform).order_by(minute)
    )
    return [(int(r[0]) * 60, r[1], int(r[2])) for r in rows]


@dataclass(frozen=True, slots=True)
class Amplifier:
    account_id: int
    platform: str
    native_id: str
    handle: str | None
    display_name: str | None
    amplifications: int


def top_amplifiers(
    conn: Connection,
    *,
    movement_id: int | None,
    since_ts: int,
    limit: int = 5,
    hidden_accounts: Sequence[int] = (),
    discoverable_false_is_opt_out: bool = True,
) -> list[Amplifier]:
    """Accounts that amplified the most since `since_ts` (boosts, reposts, quotes, replies,
    links). Opted-out and hidden accounts are left out: naming them is showing them. Undone
    reposts and boosts (`undone_at`, migration 0038) are left out: the wall names who amplifies
    now, and the rollups the pages read drop them too.

    The day's edges are grouped on `ix_amp_cover` (created_ts first; `undone_at` is in it since
    migration 0042, so the scan stays index-only). The group key is
    `source_account_id + 0` because on the bare column SQLite's planner walks `ix_amp_source`
    over every edge ever stored to get the groups in order (measured 90-200 ms at 1M mentions
    vs 10-30 ms). Only the leaders are then looked up in `account` for the opt-out rule, in
    pages of (count desc, account id), the final order: the first `limit` survivors of the
    leaders are the first `limit` survivors of everyone.
    """
    e, a, mm = _t(Amplification), _t(Account), _t(MentionMatch)
    src = (e.c.source_account_id + 0).label("src")
    n = func.count().label("n")
    q = select(src, n).where(e.c.created_ts >= since_ts, e.c.undone_at.is_(None)).group_by(src)
    if movement_id is not None:
        q = q.where(
            select(mm.c.mention_id)
            .where(mm.c.mention_id == e.c.target_mention_id, mm.c.movement_id == movement_id)
            .exists()
        )
    hidden = list(hidden_accounts)
    opted_out = func_coalesce(
        person_opted_out(a, discoverable_false_is_opt_out=discoverable_false_is_opt_out)
    )
    leaders = limit + len(hidden) + 20
    while True:
        sq = q.order_by(n.desc(), src).limit(leaders).subquery()
        final = (
            select(a.c.id, a.c.platform, a.c.native_id, a.c.handle, a.c.display_name, sq.c.n)
            .select_from(sq.join(a, a.c.id == sq.c.src))
            .where(not_(opted_out))
            .order_by(sq.c.n.desc(), a.c.id)
            .limit(limit)
        )
        if hidden:
            final = final.where(a.c.id.not_in(hidden))
        rows = conn.execute(final).all()
        if len(rows) >= limit:
            break
        groups = conn.execute(select(func.count()).select_from(q.subquery())).scalar() or 0
        if groups <= leaders:
            break
        leaders = max(leaders * 8, groups)
    return [Amplifier(int(r[0]), r[1], r[2], r[3], r[4], int(r[5])) for r in rows]


def account_labels(conn: Connection, ids: Sequence[int]) -> dict[int, str]:
    """A readable name per account id for the moderators' lists of hidden authors."""
    if not ids:
        return {}
    a = _t(Account)
    rows = conn.execute(
        select(a.c.id, a.c.platform, a.c.handle, a.c.display_name, a.c.native_id).where(
            a.c.id.in_(list(ids))
        )
    )
    out = {}
    for r in rows:
        name = r[3] or r[2] or r[4]
        out[int(r[0])] = f"{name} ({r[2] or r[4]}, {r[1]})"
    return out


def wall_version(conn: Connection, wall: str, *, since_ts: int) -> tuple[Any, ...]:
    """A cheap fingerprint of what the wall shows: changes when a post arrives (newest
    timestamp, count in the window, both on the created_ts index), a moderator decides, or the
    wall's settings change. The wall probes it every second and rebuilds only on a change."""
    m, wm, ws = _t(Mention), _t(WallModeration), _t(WallSetting)
    newest, recent = conn.execute(
        select(func.max(m.c.created_ts), func.count()).where(m.c.created_ts >= since_ts)
    ).one()
    decided = conn.execute(select(func.max(wm.c.id)).where(wm.c.wall == wall)).scalar()
    changed = conn.execute(select(ws.c.updated_at).where(ws.c.wall == wall)).scalar()
    return (newest, recent, decided, changed)
