"""Overview: headline numbers with their change, volume by platform, top posts.

Definitions (docs/dashboard.md):
- mentions: matches of the movement in the range (one mention counts once per movement);
- people: distinct persons among the authors of those mentions (a person's accounts on
  several platforms count once: `storage.queries.persons`);
- new voices: persons whose first mention of the movement ever falls in the range;
- platforms: distinct platforms with a mention in the range;
- Mastodon instances: distinct home instances of the Mastodon authors in the range;
- blogs: distinct blog sites (a blog's account is its host) with an entry in the range.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Connection,
    and_,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
)

from storage.models import (
    Account,
    Mention,
    MentionMatch,
    MovementAuthor,
    RollupHourly,
)
from storage.models_rollups import (
    MovementInstanceDay,
    MovementInstanceHour,
    MovementPlaceActive,
)
from storage.queries import persons
from storage.queries.ethics import mention_displayable
from storage.queries.people import people_and_blogs
from storage.queries.scope import Scope, in_scope

MM = MentionMatch.__table__
MA = MovementAuthor.__table__
RH = RollupHourly.__table__
M = Mention.__table__
A = Account.__table__
MPA = MovementPlaceActive.__table__
MID = MovementInstanceDay.__table__
MIH = MovementInstanceHour.__table__

HEADLINE_KEYS = ("mentions", "people", "new_voices", "platforms", "instances", "blogs")
# How the headline numbers are named wherever they are shown (the Overview, the digest).
HEADLINE_LABELS = {
    "mentions": "Mentions",
    "people": "People",
    "new_voices": "New voices",
    "platforms": "Platforms",
    "instances": "Mastodon instances",
    "blogs": "Blogs",
}


@dataclass(frozen=True, slots=True)
class Headline:
    mentions: int = 0
    people: int = 0
    new_voices: int = 0
    platforms: int = 0
    instances: int = 0
    blogs: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def headline(conn: Connection, scope: Scope, linked: persons.Linked | None = None) -> Headline:
    """The six headline numbers for one scope.

    Mentions per platform come from the hourly rollup (+ part-hours); people (per platform,
    summed) and blog sites from the people cells and the part-days at the range's ends
    (`storage.queries.people`), for any range: the previous period costs what the current
    one does; then the persons with several accounts or platforms are counted once
    (`storage.queries.persons`); instances from the Mastodon authors' home instances; new
    voices from the per-movement author table, less a person's later accounts. `linked`: the
    page's view of the linked accounts (`persons.linked_view`), else read here.
    """
    mentions: dict[str, int] = {}
    for row in volume_by_platform(conn, scope, 3600):
        mentions[row["platform"]] = mentions.get(row["platform"], 0) + row["mentions"]
    mentions = {p: n for p, n in mentions.items() if n}
    people, blogs = (
        people_and_blogs(conn, scope, ends_after=ends_after_data(conn, scope))
        if mentions
        else (0, 0)
    )
    view = persons.resolve_view(conn, scope.movement_id, linked)
    if people:  # per (account, platform) above; persons here
        people -= persons.people_overcount(conn, scope, linked=view)
    new_voices = int(
        conn.execute(
            select(func.count()).select_from(MA).where(*in_scope(MA, scope, "first_ts"))
        ).scalar()
        or 0
    )
    if new_voices:
        new_voices -= persons.new_voices_overcount(conn, scope, view)
    return Headline(
        mentions=sum(mentions.values()),
        people=people,
        new_voices=new_voices,
        platforms=len(mentions),
        instances=instances_reached(conn, scope) if mentions.get("mastodon") else 0,
        blogs=blogs,
    )


def ends_after_data(conn: Connection, scope: Scope) -> bool:
    """True when the movement has no mention at or after the scope's end (the usual "last 7
    days", "today" ranges ending now): then "active in the range" is "latest mention at or
    after its start", which the rollups of `storage/models_rollups.py` answer by index."""
    hit = conn.execute(
        select(MM.c.created_ts)
        .where(MM.c.movement_id == scope.movement_id, MM.c.created_ts >= scope.end_ts)
        .limit(1)
    ).first()
    return hit is None


def first_in_range(scope: Scope, start: Any = None) -> Any:
    """True for an author's first match in a range starting at `start` (default: the scope's):
    its previous match (`prev_ts`, storage/match_chain.py) is before the start or absent. So
    counting these is counting the range's distinct authors (per platform)."""
    start = scope.start_ts if start is None else start
    return and_(MM.c.account_id.is_not(None), or_(MM.c.prev_ts.is_(None), MM.c.prev_ts < start))


def instance_key(account: Any = A) -> Any:
    """Where an account lives: its instance (Mastodon) or, failing that, its native id (a
    blog's host)."""
    return func.coalesce(account.c.instance, account.c.native_id)


def instances_reached(conn: Connection, scope: Scope) -> int:
    """Distinct home instances of the Mastodon authors active in the scope.

    Never a distinct count over the matches: a range ending after the newest mention counts
    `movement_place_active`; any other range reads whole days from `movement_instance_day`
    and its part-days from `movement_instance_hour` and the part-hours' authors. (The rollups
    keep the instance an account had when its mention was written; the part-hours read the
    account as it is now.)
    """
    if scope.platforms and "mastodon" not in scope.platforms:
        return 0
    if ends_after_data(conn, scope):
        n = conn.execute(
            select(func.count()).where(
                MPA.c.movement_id == scope.movement_id,
                MPA.c.platform == "mastodon",
                MPA.c.last_ts >= scope.start_ts,
            )
        ).scalar()
        return int(n or 0)
    # Whole UTC days from the per-day instance rollup; the part-days at the ends from the
    # hourly one and their part-hours' authors (`part_day_places`).
    places, parts = _whole_unit_places(conn, scope, MID.c.day, 86400)
    for lo, hi in parts:
        if lo < hi:
            places.update(part_day_places(conn, scope.shifted(lo, hi)))
    return len(places)


def _whole_unit_places(
    conn: Connection, scope: Scope, unit: Any, unit_s: int
) -> tuple[set[str], list[tuple[int, int]]]:
    """The places of the whole days or hours (`unit` of a presence rollup, `unit_s` long)
    inside the scope, and the pieces at its ends that the rollup cannot answer."""
    lo, hi = -(-scope.start_ts // unit_s), scope.end_ts // unit_s
    if lo >= hi:
        return set(), [(scope.start_ts, scope.end_ts)]
    table = unit.table
    rows = conn.execute(
        select(table.c.place)
        .where(table.c.movement_id == scope.movement_id, unit >= lo, unit < hi)
        .distinct()
    )
    return {p for (p,) in rows}, [(scope.start_ts, lo * unit_s), (hi * unit_s, scope.end_ts)]


def part_day_places(conn: Connection, part: Scope) -> set[str]:
    """Home instances of the Mastodon authors active in a scope shorter than a day (a
    range's end): whole hours from `movement_instance_hour`, the part-hours at its ends from
    their authors (`author_places`), so at most two hours of authors are looked up."""
    places, pieces = _whole_unit_places(conn, part, MIH.c.hour, 3600)
    for lo, hi in pieces:
        if lo < hi:
            piece = part.shifted(lo, hi)
            where = [*in_scope(MM, piece), MM.c.platform == "mastodon", first_in_range(piece)]
            places.update(author_places(conn, where))
    return places


def author_places(conn: Connection, where: list[Any]) -> set[str]:
    """The distinct places (`instance_key`) of the authors of the matches `where` selects
    (a part-day's first matches: a few thousand authors at most).

    On PostgreSQL the author ids are gathered into one array first and looked up by primary
    key (`id = ANY(...)`): as an `IN (subquery)` semi-join its planner hashed all 1M accounts of
    the 10M benchmark (a parallel sequential scan, 120-530 ms) for a few thousand authors.
    """
    if conn.dialect.name == "postgresql":
        ids = select(func.array_agg(MM.c.account_id)).where(*where).scalar_subquery()
        # Cast, or `ANY((SELECT ...))` parses as ANY over the subquery's rows (one array).
        chosen = A.c.id == func.any(cast(ids, ARRAY(BigInteger)))
    else:
        chosen = A.c.id.in_(select(MM.c.account_id).where(*where))
    return {p for (p,) in conn.execute(select(instance_key()).where(chosen).distinct())}


def headline_with_change(
    conn: Connection, scope: Scope, linked: persons.Linked | None = None
) -> dict[str, dict[str, int | None]]:
    """Each headline number now, in the previous equally long period, and the difference
    (one view of the linked accounts for both)."""
    view = persons.resolve_view(conn, scope.movement_id, linked)
    now = headline(conn, scope, view).as_dict()
    before = headline(conn, scope.previous(), view).as_dict()
    return {k: {"value": now[k], "previous": before[k], "change": now[k] - before[k]} for k in now}


def volume_by_platform(conn: Connection, scope: Scope, bucket_s: int) -> list[dict[str, Any]]:
    """Mentions per bucket and platform: `[{"bucket_ts", "platform", "mentions"}]`.

    Whole hours come from the hourly rollup (maintained by the write path); the partial hours at
    either end of the range from the match table, so the totals equal the headline count exactly.
    Buckets are aligned to multiples of `bucket_s` since the epoch (UTC).
    """
    counts: dict[tuple[int, str], int] = {}

    def add(bucket: int, platform: str, n: int) -> None:
        key = (int(bucket) * bucket_s, platform)
        counts[key] = counts.get(key, 0) + int(n)

    first_full = -(-scope.start_ts // 3600)  # ceil
    last_full = scope.end_ts // 3600  # exclusive
    if bucket_s % 3600 == 0 and first_full < last_full:
        hour_bucket = (RH.c.hour * 3600) // bucket_s
        clauses = [RH.c.movement_id == scope.movement_id, RH.c.hour >= first_full]
        clauses.append(RH.c.hour < last_full)
        if scope.platforms:
            clauses.append(RH.c.platform.in_(scope.platforms))
        for b, p, n in conn.execute(
            select(hour_bucket, RH.c.platform, func.sum(RH.c.mentions))
            .where(*clauses)
            .group_by(hour_bucket, RH.c.platform)
        ):
            add(b, p, n)
        edges = [(scope.start_ts, first_full * 3600), (last_full * 3600, scope.end_ts)]
    else:
        edges = [(scope.start_ts, scope.end_ts)]
    for lo, hi in edges:
        if lo >= hi:
            continue
        part = scope.shifted(lo, hi)
        b = MM.c.created_ts // bucket_s
        for bb, p, n in conn.execute(
            select(b, MM.c.platform, func.count())
            .where(*in_scope(MM, part))
            .group_by(b, MM.c.platform)
        ):
            add(bb, p, n)
    return [
        {"bucket_ts": ts, "platform": p, "mentions": n} for (ts, p), n in sorted(counts.items())
    ]


def engagement(m: Any = M) -> Any:
    return m.c.like_count + m.c.repost_count + m.c.reply_count + m.c.quote_count


def _post_columns() -> list[Any]:
    return [
        M.c.id,
        M.c.platform,
        M.c.url,
        M.c.title,
        M.c.text,
        M.c.created_ts,
        M.c.like_count,
        M.c.repost_count,
        M.c.reply_count,
        M.c.quote_count,
        engagement().label("engagement"),
        A.c.handle,
        A.c.display_name,
        M.c.instance,
    ]


def top_posts(
    conn: Connection, scope: Scope, limit: int = 10, candidates: int = 200
) -> list[dict[str, Any]]:
    """The most engaged-with displayable mentions in the scope (likes + reposts + replies +
    quotes, as last counted). Opted-out authors, term-only and in-thread matches without
    consent and tombstones never appear (storage/queries/ethics.py).

    Two phases, so no wide mention row is read for the whole range: the `candidates` most
    engaged mentions of the range come from an index, then only those are checked against the
    movement and the ethics rules. If too few survive (a store shared by many movements), the
    exact join over the movement's matches answers.

    The candidates come from `ix_mention_top` (engagement order, then time): PostgreSQL walks
    it in order and stops at the first `candidates` inside the range, SQLite skip-scans each
    engagement value's time range; neither reads and sorts every mention of a wide range (the
    covering time index `ix_mention_engagement` did: 30 days of the 10M benchmark is ~4M
    entries). Both planners need statistics to choose it (storage/statistics.py keeps
    SQLite's current).
    """
    order = TOP_ORDER
    where = _top_where(scope)
    top_ids = top_candidates(scope, candidates).subquery("cand")
    mm = MM.alias("mm_scope")  # the ethics rule correlates on the match table itself
    displayable = mention_displayable(M, A, movement_id=scope.movement_id)
    stmt = (
        select(*_post_columns())
        .select_from(top_ids.join(M, M.c.id == top_ids.c.id).outerjoin(A, A.c.id == M.c.account_id))
        .where(
            exists(
                select(mm.c.mention_id).where(
                    mm.c.movement_id == scope.movement_id, mm.c.mention_id == M.c.id
                )
            ),
            displayable,
        )
        .order_by(*order)
        .limit(limit)
    )
    rows = [dict(r._mapping) for r in conn.execute(stmt)]
    if len(rows) == limit or len(rows) == _count_in_range(conn, where, candidates):
        return rows
    exact = (
        select(*_post_columns())
        .select_from(mm.join(M, M.c.id == mm.c.mention_id).outerjoin(A, A.c.id == M.c.account_id))
        .where(*in_scope(mm, scope), displayable)
        .order_by(*order)
        .limit(limit)
    )
    return [dict(r._mapping) for r in conn.execute(exact)]


TOP_ORDER = (engagement().desc(), M.c.created_ts.desc(), M.c.id)


def _top_where(scope: Scope) -> list[Any]:
    where = [M.c.created_ts >= scope.start_ts, M.c.created_ts < scope.end_ts]
    if scope.platforms:
        where.append(M.c.platform.in_(scope.platforms))
    return where


def top_candidates(scope: Scope, candidates: int) -> Any:
    """The ids of the range's `candidates` most engaged mentions, any movement (phase one of
    `top_posts`; its plan is what `ix_mention_top` is for)."""
    return select(M.c.id).where(*_top_where(scope)).order_by(*TOP_ORDER).limit(candidates)


def _count_in_range(conn: Connection, where: list[Any], cap: int) -> int:
    """How many mentions the candidate phase could see (capped): when it saw them all, its
    answer is already exact."""
    inner = select(M.c.id).where(*where).limit(cap + 1).subquery()
    return int(conn.execute(select(func.count()).select_from(inner)).scalar() or 0)


def new_voices(
    conn: Connection, scope: Scope, limit: int = 20, linked: persons.Linked | None = None
) -> list[dict[str, Any]]:
    """Persons whose first mention of the movement falls in the scope, newest first (a
    person's later account is not a new voice); persons with an opted-out account are
    withheld (they are still counted in `headline`)."""
    from storage.queries.ethics import person_opted_out

    opted = func.coalesce(person_opted_out(A), literal(False))
    view = persons.resolve_view(conn, scope.movement_id, linked)
    later = {ts for ts, _ in persons.later_firsts(conn, scope, view)}
    stmt = (
        select(MA.c.account_id, MA.c.platform, MA.c.first_ts, A.c.handle, A.c.display_name)
        .select_from(MA.outerjoin(A, A.c.id == MA.c.account_id))
        .where(*in_scope(MA, scope, "first_ts"), or_(A.c.id.is_(None), ~opted))
        .order_by(MA.c.first_ts.desc())
        .limit(limit + len(later))
    )
    rows = [dict(r._mapping) for r in conn.execute(stmt)]
    if not later:
        return rows[:limit]
    firsts = persons.earliest_accounts(conn, scope.movement_id, view)
    keep = [r for r in rows if r["account_id"] not in view.person_of or firsts.get(r["account_id"])]
    return keep[:limit]


def first_seen_places(conn: Connection, scope: Scope) -> list[dict[str, Any]]:
    """Platforms and instances/blog sites whose first appearance in the movement falls in the
    scope (e.g. "reached 2 new instances in the last hour").

    Starts from the authors first seen in the scope (a small set), then asks, per candidate
    place, whether anyone there appeared earlier: never a pass over every author.
    """
    place = instance_key()
    cands = conn.execute(
        select(MA.c.platform, place)
        .select_from(MA.join(A, A.c.id == MA.c.account_id))
        .where(*in_scope(MA, scope, "first_ts"))
        .distinct()
    ).all()
    out: list[dict[str, Any]] = []
    for platform in sorted({p for p, _ in cands}):
        earlier = conn.execute(
            select(MA.c.account_id)
            .where(
                MA.c.movement_id == scope.movement_id,
                MA.c.first_ts < scope.start_ts,
                MA.c.platform == platform,
            )
            .limit(1)
        ).first()
        if earlier is None:
            out.append({"place": platform, "kind": "platform"})
    for platform, where in sorted({(p, w) for p, w in cands if p in ("mastodon", "blog")}):
        earlier = conn.execute(
            select(MA.c.account_id)
            .select_from(MA.join(A, A.c.id == MA.c.account_id))
            .where(
                MA.c.movement_id == scope.movement_id,
                MA.c.first_ts < scope.start_ts,
                A.c.platform == platform,
                or_(A.c.instance == where, and_(A.c.instance.is_(None), A.c.native_id == where)),
            )
            .limit(1)
        ).first()
        if earlier is None:
            out.append({"place": where, "kind": platform})
    return out
