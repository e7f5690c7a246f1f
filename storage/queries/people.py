"""People of a range and per day from the people cells (storage/people_cells.py, migration 0028):
reads that do not grow with the window.

Definitions (docs/dashboard.md): Overview's *people* of a range are the distinct authors of its
mentions per platform, summed (`mention_match.prev_ts` links an author's matches per platform);
*blogs* the distinct authors of its blog entries; widening's *active* authors of a day the
distinct authors of the day's mentions on the chosen platforms.

The people of `[a, b)` are its matches whose previous match lies before `a` (or is absent):
each author's first match in the range, once per platform (storage/match_chain.py). Split at
the UTC days `A = ceil(a)`, `B = floor(b)`:

- matches in the whole days `[A, B)` with the previous match on a day before `a`'s day: the
  cells, a few thousand rows whatever the window;
- when `a` falls inside a day, the matches in `[A, B)` whose previous match lies in that day
  before `a`: `ix_match_prev`, an index range over the matches of that part-day;
- matches in the part-days `[a, A)` and `[B, b)` with the previous match before `a`: the
  covering index `ix_match_cover` as before.

So a range costs at most about two days of index entries plus the cells, instead of every
match in it. A range that ends after the movement's newest mention has nothing after `b` on
its last day, which then counts as a whole day.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select

from storage.models import Mention, MentionMatch
from storage.models_rollups import (
    MovementAuthorDay,
    MovementCrossDay,
    MovementPeopleCell,
    MovementPeopleHour,
)
from storage.people_cells import DAY, HOUR, HOUR_REACH
from storage.queries.scope import Scope, in_scope

MM = MentionMatch.__table__
M = Mention.__table__
CELL = MovementPeopleCell.__table__
HCELL = MovementPeopleHour.__table__
MAD = MovementAuthorDay.__table__
CROSS = MovementCrossDay.__table__


def _by_platform(conn: Connection, where: list[Any], table: Any = MM) -> Counter[str]:
    """Matches `where` selects, per platform."""
    stmt = select(table.c.platform, func.count()).where(*where).group_by(table.c.platform)
    return Counter({p: int(n) for p, n in conn.execute(stmt)})


def firsts_per_platform(
    conn: Connection, scope: Scope, lo: int, hi: int, a: int, *, whole_last_hour: bool = False
) -> Counter[str]:
    """Per platform, the matches (with an author) in `[lo, hi)` whose previous match lies
    before `a` (`a <= lo`): the people of `[lo, hi)` counted from `a`, for the part-days of a
    range (within one day, or a range with no whole day in it).

    The whole hours `[H1, H2)` inside come from the hour cells (`movement_people_hour`) with
    `prev_hour` before `a`'s hour, plus the matches of those hours whose previous match lies
    in `a`'s hour before `a` (`ix_match_prev`); only the minutes before `H1` and after `H2`
    are read from the matches. The cells keep a previous hour only 48 hours back, so hours
    further from `a` than that (the end of a long range) are read from the matches.
    `whole_last_hour`: no match of the movement at or after `hi`, so its hour is read whole."""
    first = and_(MM.c.account_id.is_not(None), or_(MM.c.prev_ts.is_(None), MM.c.prev_ts < a))
    h1 = -(-lo // HOUR)
    h2 = -(-hi // HOUR) if whole_last_hour else hi // HOUR
    if h1 >= h2 or h2 - 1 - a // HOUR > HOUR_REACH:
        return _by_platform(conn, [*in_scope(MM, scope.shifted(lo, hi)), first])
    out: Counter[str] = Counter()
    for x, y in ((lo, h1 * HOUR), (h2 * HOUR, hi)):
        if x < y:
            out.update(_by_platform(conn, [*in_scope(MM, scope.shifted(x, y)), first]))
    out.update(_cells(conn, scope, HCELL.c.hour, HCELL.c.prev_hour, h1, h2, a // HOUR))
    if a % HOUR:  # ... and those whose previous match is in a's hour, before a
        out.update(_linked_into(conn, scope, a // HOUR * HOUR, a, h1 * HOUR, h2 * HOUR))
    return +out


def _cells(
    conn: Connection, scope: Scope, bucket: Any, prev: Any, lo: int, hi: int, before: int
) -> Counter[str]:
    """Per platform, the people cells (day or hour: `bucket` and `prev` are the table's
    columns) of buckets `[lo, hi)` whose previous match's bucket is before `before`."""
    t = bucket.table
    where = [t.c.movement_id == scope.movement_id, bucket >= lo, bucket < hi, prev < before]
    if scope.platforms:
        where.append(t.c.platform.in_(scope.platforms))
    stmt = select(t.c.platform, func.sum(t.c.n)).where(*where).group_by(t.c.platform)
    return Counter({p: int(n) for p, n in conn.execute(stmt)})


def _linked_into(
    conn: Connection, scope: Scope, since: int, a: int, lo: int, hi: int
) -> Counter[str]:
    """Per platform, the matches of `[lo, hi)` whose previous match lies in `[since, a)`: the
    part of a bucket before a range's start, where the cells cannot tell (`ix_match_prev`,
    one index range)."""
    where = [
        MM.c.movement_id == scope.movement_id,
        MM.c.prev_ts >= since,
        MM.c.prev_ts < a,
        MM.c.created_ts >= lo,
        MM.c.created_ts < hi,
    ]
    if scope.platforms:
        where.append(MM.c.platform.in_(scope.platforms))
    return _by_platform(conn, where)


def _people_blogs(per_platform: Counter[str]) -> tuple[int, int]:
    return sum(per_platform.values()), per_platform.get("blog", 0)


def people_and_blogs(conn: Connection, scope: Scope, *, ends_after: bool) -> tuple[int, int]:
    """People (distinct authors per platform, summed) and blog sites (distinct authors of blog
    entries) of the scope; `ends_after`: no match of the movement at or after its end."""
    a, b = scope.start_ts, scope.end_ts
    lo_day = -(-a // DAY)
    hi_day = -(-b // DAY) if ends_after else b // DAY
    if lo_day >= hi_day:  # no whole day inside: the range's own first matches
        return _people_blogs(firsts_per_platform(conn, scope, a, b, a, whole_last_hour=ends_after))
    parts: Counter[str] = Counter()
    for lo, hi in ((a, lo_day * DAY), (hi_day * DAY, b)):
        if lo < hi:
            parts.update(firsts_per_platform(conn, scope, lo, hi, a))
    people, blogs = _people_blogs(parts)
    # Whole days: the cells whose previous match is on a day before a's (or absent).
    n, k = _people_blogs(_cells(conn, scope, CELL.c.day, CELL.c.prev_day, lo_day, hi_day, a // DAY))
    people, blogs = people + n, blogs + k
    if a % DAY:  # ... and those whose previous match is on a's day, before a
        linked = _linked_into(conn, scope, a // DAY * DAY, a, lo_day * DAY, hi_day * DAY)
        n, k = _people_blogs(linked)
        people, blogs = people + n, blogs + k
    return people, blogs


def part_cross_overcount(conn: Connection, scope: Scope) -> int:
    """How many more authors the platforms of the scope (a part-day) count than there are:
    an author with matches on k of its platforms counts k times per platform, once as a
    distinct author. Only the few authors of `movement_cross_day` can match on a platform
    other than their account's; their matches are found through `ix_mention_account`."""
    days = [
        CROSS.c.movement_id == scope.movement_id,
        CROSS.c.day >= scope.start_ts // DAY,
        CROSS.c.day <= (scope.end_ts - 1) // DAY,
    ]
    crossing = select(CROSS.c.account_id).where(*days)
    where = [
        M.c.account_id.in_(crossing),
        M.c.created_ts >= scope.start_ts,
        M.c.created_ts < scope.end_ts,
        *in_scope(MM, scope),
        MM.c.account_id.in_(crossing),
    ]
    joined = M.join(MM, and_(MM.c.movement_id == scope.movement_id, MM.c.mention_id == M.c.id))
    stmt = (
        select(MM.c.account_id, func.count(func.distinct(MM.c.platform)))
        .select_from(joined)
        .where(*where)
        .group_by(MM.c.account_id)
    )
    return sum(int(k) - 1 for _, k in conn.execute(stmt))


def active_per_day(conn: Connection, scope: Scope, lo_day: int, hi_day: int) -> dict[int, int]:
    """Distinct authors of each whole UTC day in `[lo_day, hi_day)` on the scope's platforms:
    per platform, the cells of the day whose previous match is on an earlier day; minus, for
    the authors active that day on a platform other than their account's (`movement_cross_day`,
    a few), the platforms they were counted on beyond the first."""
    where = [
        CELL.c.movement_id == scope.movement_id,
        CELL.c.day >= lo_day,
        CELL.c.day < hi_day,
        CELL.c.prev_day < CELL.c.day,
    ]
    if scope.platforms:
        where.append(CELL.c.platform.in_(scope.platforms))
    out: dict[int, int] = defaultdict(int)
    for d, n in conn.execute(
        select(CELL.c.day, func.sum(CELL.c.n)).where(*where).group_by(CELL.c.day)
    ):
        out[int(d)] += int(n)
    if len(scope.platforms) != 1:
        on_day = [
            CROSS.c.movement_id == scope.movement_id,
            CROSS.c.day >= lo_day,
            CROSS.c.day < hi_day,
        ]
        joined = CROSS.join(
            MAD,
            and_(
                MAD.c.movement_id == CROSS.c.movement_id,
                MAD.c.day == CROSS.c.day,
                MAD.c.account_id == CROSS.c.account_id,
            ),
        )
        if scope.platforms:
            on_day.append(MAD.c.platform.in_(scope.platforms))
        for d, k in conn.execute(
            select(MAD.c.day, func.count())
            .select_from(joined)
            .where(*on_day)
            .group_by(MAD.c.day, MAD.c.account_id)
        ):
            out[int(d)] -= int(k) - 1
    return {d: n for d, n in out.items() if n > 0}
