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

from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, and_, case, func, or_, select

from storage.models import MentionMatch
from storage.models_rollups import MovementAuthorDay, MovementCrossDay, MovementPeopleCell
from storage.people_cells import DAY
from storage.queries.scope import Scope, in_scope

MM = MentionMatch.__table__
CELL = MovementPeopleCell.__table__
MAD = MovementAuthorDay.__table__
CROSS = MovementCrossDay.__table__


def _counted(conn: Connection, where: list[Any], table: Any = MM) -> tuple[int, int]:
    """(matches, of which on the blog platform) `where` selects."""
    is_blog = case((table.c.platform == "blog", 1), else_=0)
    n, blogs = conn.execute(
        select(func.count(), func.coalesce(func.sum(is_blog), 0)).where(*where)
    ).one()
    return int(n), int(blogs)


def people_and_blogs(conn: Connection, scope: Scope, *, ends_after: bool) -> tuple[int, int]:
    """People (distinct authors per platform, summed) and blog sites (distinct authors of blog
    entries) of the scope; `ends_after`: no match of the movement at or after its end."""
    a, b = scope.start_ts, scope.end_ts
    lo_day = -(-a // DAY)
    hi_day = -(-b // DAY) if ends_after else b // DAY
    first = and_(MM.c.account_id.is_not(None), or_(MM.c.prev_ts.is_(None), MM.c.prev_ts < a))
    if lo_day >= hi_day:  # no whole day inside: the range's own first matches
        return _counted(conn, [*in_scope(MM, scope), first])
    people = blogs = 0
    for lo, hi in ((a, lo_day * DAY), (hi_day * DAY, b)):
        if lo < hi:
            n, k = _counted(conn, [*in_scope(MM, scope.shifted(lo, hi)), first])
            people, blogs = people + n, blogs + k
    # Whole days: the cells whose previous match is on a day before a's (or absent).
    where = [
        CELL.c.movement_id == scope.movement_id,
        CELL.c.day >= lo_day,
        CELL.c.day < hi_day,
        CELL.c.prev_day < a // DAY,
    ]
    if scope.platforms:
        where.append(CELL.c.platform.in_(scope.platforms))
    is_blog = case((CELL.c.platform == "blog", CELL.c.n), else_=0)
    n, k = conn.execute(
        select(func.coalesce(func.sum(CELL.c.n), 0), func.coalesce(func.sum(is_blog), 0)).where(
            *where
        )
    ).one()
    people, blogs = people + int(n), blogs + int(k)
    if a % DAY:
        # ... and those whose previous match is on a's day, before a.
        where = [
            MM.c.movement_id == scope.movement_id,
            MM.c.prev_ts >= a // DAY * DAY,
            MM.c.prev_ts < a,
            MM.c.created_ts >= lo_day * DAY,
            MM.c.created_ts < hi_day * DAY,
        ]
        if scope.platforms:
            where.append(MM.c.platform.in_(scope.platforms))
        n, k = _counted(conn, where)
        people, blogs = people + n, blogs + k
    return people, blogs


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
