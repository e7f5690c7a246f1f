"""Persons on the dashboard: one human or organisation behind several accounts (DESIGN.md
section 2, "Person"; issue 20; docs/people.md, "On the dashboard").

`account.person_id` names each account's person (an unlinked account is its own person; a
linked group's id is its smallest account id; the linking pass rewrites a group in one
transaction). Pages count persons where they say "people".

How the counts stay fast without a per-person rollup: every people rollup of the store
(the people cells, `movement_author`, the amplifier periods, `storage/people_cells.py`)
stays per account, and a person count is the account count **minus the overcount of the
few persons with more than one account** (and of an account active on a second platform,
a blog that also sends pingbacks). Those persons' own presence rows are kept apart, with
their person (`storage/linked_days.py`, migrations 0058-0060: their days, hours, and first
and last match), so a range's overcount is counted by the server over its whole days and
hours (`Cover`) and only the minutes at its ends read mentions, of the few linked accounts
active in those hours. A link found or undone rewrites `person_id` and those rows of the
accounts concerned in one transaction; no other rollup needs a repair, and a count is exact
for the groups as they are when it is read. The cost grows with the linked persons' activity
in the range, not with the store or the number of linked accounts
(docs/benchmarks/dashboard.md, "Linked presence rows").
"""

from __future__ import annotations

import hashlib
import heapq
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection, and_, exists, func, literal, or_, select, union

from domain.amplification import GROUP_OF, KIND_GROUPS
from storage.id_lists import among, ids_table
from storage.models import PLATFORMS, Account, Mention, MentionMatch, MovementAuthor
from storage.models_rollups import (
    MovementAuthorPlatform,
    MovementCrossDay,
    MovementLinkedAuthor,
    MovementLinkedDay,
    MovementLinkedHour,
)
from storage.queries.ethics import person_opted_out
from storage.queries.scope import Scope

A = Account.__table__
M = Mention.__table__
MM = MentionMatch.__table__
MA = MovementAuthor.__table__
CROSS = MovementCrossDay.__table__
MAP = MovementAuthorPlatform.__table__
MLD = MovementLinkedDay.__table__
MLA = MovementLinkedAuthor.__table__
MLH = MovementLinkedHour.__table__
DAY = 86400

Key = tuple[int, str]  # (account id, platform of the mention)


def linked_accounts(conn: Connection) -> dict[int, int]:
    """account id -> person id, for every account of a person with more than one account.

    The non-first accounts of each group are exactly the rows whose `person_id` is not their
    own id (`ix_account_linked` holds only those); the first account is the person id itself.
    """
    out = {
        int(i): int(p)
        for i, p in conn.execute(select(A.c.id, A.c.person_id).where(A.c.person_id != A.c.id)).all()
    }
    for p in set(out.values()):
        out[p] = p
    return out


@dataclass(frozen=True, eq=False)
class Linked:
    """The linked accounts and their rows in one movement, read once per page view (one
    `linked_view`) and shared by every person count of the view: a headline alone needs them
    four times (people and new voices, now and in the previous period), Amplifiers three
    times, and each read was one probe per linked account.

    `person_of`: every account of a person with more than one account -> its person.
    `authors`: those accounts' `movement_author` rows (account -> (first_ts, last_ts,
    platform)); `platforms`: the `movement_author_platform` rows (account -> ((platform,
    last_ts), ...)) of those ever matched on a second platform (`platforms_of` gives every
    account's). An account with no row has no mention of the movement. `digest` names the
    content (the dashboard's cache keys the queries that take a view on it, not on its rows).
    Few objects per view: a page's full garbage collections (+80 ms each) came with the
    objects a view kept alive, one per ~9 pages when every account carried its own tuples.
    """

    movement_id: int
    person_of: Mapping[int, int]
    authors: Mapping[int, tuple[int, int, str]] = field(default_factory=dict)
    platforms: Mapping[int, tuple[tuple[str, int], ...]] = field(default_factory=dict)
    digest: str = ""
    # Derived once from `authors` (`__post_init__`): the first mentions of the linked accounts
    # whose person was heard earlier through another account, in time order (`later_firsts`
    # of any range is a slice), and each person's first voice (`earliest_accounts`). A page
    # asks for them up to five times per view; each answer walked every linked account.
    later_ts: tuple[int, ...] = field(init=False, default=())
    later_platforms: tuple[str, ...] = field(init=False, default=())
    first_voices: frozenset[int] = field(init=False, default=frozenset())
    # The accounts in the order of their latest match (`last_ts`, ascending): those active
    # since a time are a slice (`active_since`), not a walk over every linked account.
    by_last: tuple[int, ...] = field(init=False, default=())
    lasts: tuple[int, ...] = field(init=False, default=())

    def __post_init__(self) -> None:
        # One pass per derived field, no intermediate maps: at 10M mentions (30,000 linked
        # accounts) this was 84 ms of the view's 190 ms of CPU.
        authors = self.authors
        by_last = sorted(authors, key=lambda a: (authors[a][1], a))
        object.__setattr__(self, "by_last", tuple(by_last))
        object.__setattr__(self, "lasts", tuple(authors[a][1] for a in by_last))
        person = self.person_of.get
        earliest: dict[int, tuple[int, int]] = {}
        for a, row in authors.items():
            p = person(a, a)
            cur = earliest.get(p)
            if cur is None or (row[0], a) < cur:
                earliest[p] = (row[0], a)
        voices = frozenset(a for _, a in earliest.values())
        later = sorted((row[0], row[2]) for a, row in authors.items() if a not in voices)
        object.__setattr__(self, "later_ts", tuple(ts for ts, _ in later))
        object.__setattr__(self, "later_platforms", tuple(p for _, p in later))
        object.__setattr__(self, "first_voices", voices)

    def active_since(self, ts: int) -> tuple[int, ...]:
        """The accounts whose latest match of the movement is at or after `ts`."""
        return self.by_last[bisect_left(self.lasts, ts) :]

    def platforms_of(self, account: int) -> tuple[tuple[str, int], ...]:
        """(platform, last_ts) of each platform the account was matched on."""
        rows = self.platforms.get(account)
        if rows is not None:
            return rows
        row = self.authors.get(account)
        return ((row[2], row[1]),) if row is not None else ()


def linked_view(conn: Connection, scope: Scope | None = None, *, movement_id: int = 0) -> Linked:
    """The `Linked` view of the scope's movement (or `movement_id`): the linked accounts
    (`ix_account_linked`), their `movement_author` rows (`movement_linked_author`), and the few
    of them ever matched on a second platform probed in `movement_author_platform`, whatever
    the range."""
    mv = scope.movement_id if scope is not None else movement_id
    person_of = linked_accounts(conn)
    authors: dict[int, tuple[int, int, str]] = {}
    platforms: dict[int, tuple[tuple[str, int], ...]] = {}
    if person_of:
        # `movement_linked_author`: the linked accounts' `movement_author` rows, one range
        # scan (migration 0059). `.all()`: one fetch of a few thousand rows, not a Python call
        # per row.
        rows = conn.execute(
            select(MLA.c.account_id, MLA.c.first_ts, MLA.c.last_ts, MLA.c.platform).where(
                MLA.c.movement_id == mv
            )
        ).all()
        # The driver gives ints for these BigInteger columns on both stores.
        authors = {a: (first, last, p) for a, first, last, p in rows if a in person_of}
        # An account never matched on a platform other than its account's (no
        # `movement_cross_day` row, ever) has one `movement_author_platform` row: its first
        # mention's platform and its latest match. Only the others' rows are read.
        cross = {
            int(a)
            for (a,) in conn.execute(
                select(CROSS.c.account_id).where(CROSS.c.movement_id == mv).distinct()
            ).all()
        }
        per: dict[int, list[tuple[str, int]]] = defaultdict(list)
        both = sorted(cross.intersection(authors))
        if both:
            for a, p, last in conn.execute(
                select(MAP.c.account_id, MAP.c.platform, MAP.c.last_ts).where(
                    MAP.c.movement_id == mv,
                    MAP.c.platform.in_(PLATFORMS),
                    among(conn, MAP.c.account_id, both),
                )
            ).all():
                per[int(a)].append((p, int(last)))
        platforms = {a: tuple(sorted(v)) for a, v in per.items()}
    body = orjson.dumps(
        [mv, person_of, authors, platforms],
        option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SORT_KEYS,
    )
    digest = hashlib.blake2b(body, digest_size=16).hexdigest()
    return Linked(mv, person_of, authors, platforms, digest)


def resolve_view(conn: Connection, movement_id: int, linked: Linked | None) -> Linked:
    """The given view when it is of this movement, else one read now."""
    if linked is not None and linked.movement_id == movement_id:
        return linked
    return linked_view(conn, movement_id=movement_id)


def _cross_accounts(conn: Connection, scope: Scope) -> set[int]:
    """Accounts of the movement active on a platform other than their own on some UTC day
    the scope touches (a blog that also sent pingbacks: one person, two platforms)."""
    lo, hi = scope.start_ts // DAY, (scope.end_ts - 1) // DAY
    return {
        int(a)
        for (a,) in conn.execute(
            select(CROSS.c.account_id).where(
                CROSS.c.movement_id == scope.movement_id, CROSS.c.day >= lo, CROSS.c.day <= hi
            )
        )
    }


def _ends_after(conn: Connection, scope: Scope) -> bool:
    """No match of the movement at or after the scope's end (a range ending now)."""
    hit = conn.execute(
        select(MM.c.created_ts)
        .where(MM.c.movement_id == scope.movement_id, MM.c.created_ts >= scope.end_ts)
        .limit(1)
    ).first()
    return hit is None


def _maybe_active(
    conn: Connection, scope: Scope, accounts: Iterable[int], view: Linked
) -> tuple[set[Key], bool]:
    """The (account, platform) keys of `accounts` whose latest match is at or after the
    scope's start (`movement_author_platform`), kept only for persons with two or more of
    them: the only keys that can make an overcount. Exact when the range ends after the
    movement's newest match (the second value); otherwise a superset to check.

    Linked accounts are read from the view (no query); the others (an unlinked account active
    on a second platform) by primary-key probes."""
    person_of = view.person_of
    ids = sorted(set(accounts))
    if not ids:
        return set(), True
    # First per account (`movement_author`): a person needs two accounts active since the
    # start, or one account on two platforms (those are in `cross`), to count twice.
    known = [a for a in ids if a in person_of]
    others = [a for a in ids if a not in person_of]
    recent = [a for a in known if a in view.authors and view.authors[a][1] >= scope.start_ts]
    if others:
        recent += [
            int(a)
            for (a,) in conn.execute(
                select(MA.c.account_id).where(
                    MA.c.movement_id == scope.movement_id,
                    among(conn, MA.c.account_id, others),
                    MA.c.last_ts >= scope.start_ts,
                )
            )
        ]
    per_person = Counter(person_of.get(a, a) for a in recent)
    ids = sorted(a for a in recent if per_person[person_of.get(a, a)] > 1 or a not in person_of)
    if not ids:
        return set(), True
    platforms = set(scope.platforms or PLATFORMS)
    keys = {
        (a, p)
        for a in ids
        if a in person_of
        for p, last in view.platforms_of(a)
        if p in platforms and last >= scope.start_ts
    }
    others = [a for a in ids if a not in person_of]
    if others:
        keys |= {
            (int(a), p)
            for a, p in conn.execute(
                select(MAP.c.account_id, MAP.c.platform).where(
                    MAP.c.movement_id == scope.movement_id,
                    MAP.c.platform.in_(sorted(platforms)),
                    among(conn, MAP.c.account_id, others),
                    MAP.c.last_ts >= scope.start_ts,
                )
            )
        }
    per = Counter(person_of.get(a, a) for a, _ in keys)
    keys = {(a, p) for a, p in keys if per[person_of.get(a, a)] > 1}
    return keys, _ends_after(conn, scope)


def _own_matches(conn: Connection, scope: Scope, ids: list[int]) -> tuple[Any, list[Any]]:
    """These accounts' mentions in the scope joined to their matches of its movement (found by
    `ix_mention_account`, each match checked on its primary key), and the filters."""
    where = [
        among(conn, M.c.account_id, ids),
        M.c.created_ts >= scope.start_ts,
        M.c.created_ts < scope.end_ts,
    ]
    if scope.platforms:
        where.append(MM.c.platform.in_(scope.platforms))
    joined = M.join(MM, (MM.c.movement_id == scope.movement_id) & (MM.c.mention_id == M.c.id))
    return joined, where


def active_keys(
    conn: Connection, scope: Scope, accounts: Iterable[int], bucket_s: int | None = None
) -> set[tuple[int, int, str]]:
    """(bucket, account, platform) of the given accounts' matches in the scope (bucket 0 when
    `bucket_s` is None): their own mentions by `ix_mention_account`, each checked against the
    movement on the match's primary key."""
    ids = sorted(set(accounts))
    if not ids:
        return set()
    bucket = (M.c.created_ts // bucket_s) if bucket_s else literal(0)
    joined, where = _own_matches(conn, scope, ids)
    stmt = (
        select(bucket, M.c.account_id, MM.c.platform).select_from(joined).where(*where).distinct()
    )
    return {(int(b), int(a), p) for b, a, p in conn.execute(stmt)}


def overcount(keys: Iterable[Key], person_of: Mapping[int, int]) -> int:
    """How many more (account, platform) keys than persons: per person, its keys minus one.
    Pure; `person_of` maps linked accounts (others are their own person)."""
    per = Counter(person_of.get(a, a) for a, _ in set(keys))
    return sum(n - 1 for n in per.values())


HOUR = 3600


@dataclass(frozen=True)
class Cover:
    """A scope as the linked presence rows cover it: whole UTC days `[lo_day, hi_day)` from
    `movement_linked_day`, whole UTC hours (`hours`: `[h0, h1)` ranges, in the part-days at
    the ends) from `movement_linked_hour`, and the minutes left (`parts`, scopes within an
    hour or two) from the mentions of the few accounts active in those hours. A range ending
    after the movement's newest match holds all of its last day's and hour's activity, so
    they count as whole."""

    lo_day: int
    hi_day: int
    hours: tuple[tuple[int, int], ...]
    parts: tuple[Scope, ...]


def _cover(conn: Connection, scope: Scope) -> Cover:
    ends = _ends_after(conn, scope)

    def whole(a: int, b: int, unit: int, last: bool) -> tuple[int, int]:
        lo = -(-a // unit)
        hi = -(-b // unit) if ends and last else b // unit
        return lo, max(lo, hi)

    lo_d, hi_d = whole(scope.start_ts, scope.end_ts, DAY, True)
    if lo_d < hi_d:
        spans = [(scope.start_ts, lo_d * DAY), (hi_d * DAY, scope.end_ts)]
    else:
        spans = [(scope.start_ts, scope.end_ts)]
    hours: list[tuple[int, int]] = []
    parts: list[Scope] = []
    for a, b in spans:
        if a >= b:
            continue
        lo_h, hi_h = whole(a, b, HOUR, b == scope.end_ts)
        if lo_h < hi_h:
            hours.append((lo_h, hi_h))
            cuts = [(a, lo_h * HOUR), (hi_h * HOUR, b)]
        else:
            cuts = [(a, b)]
        parts += [scope.shifted(x, y) for x, y in cuts if x < y]
    return Cover(lo_d, hi_d, tuple(hours), tuple(parts))


def _ranges(cover: Cover) -> tuple[tuple[Any, str, list[tuple[int, int]]], ...]:
    """(table, unit column, ranges) of the cover's whole days and whole hours."""
    days = [(cover.lo_day, cover.hi_day)] if cover.lo_day < cover.hi_day else []
    return ((MLD, "day", days), (MLH, "hour", list(cover.hours)))


def _where(table: Any, unit: str, ranges: list[tuple[int, int]], scope: Scope) -> list[Any]:
    where = [
        table.c.movement_id == scope.movement_id,
        or_(*(and_(table.c[unit] >= lo, table.c[unit] < hi) for lo, hi in ranges)),
    ]
    if scope.platforms:
        where.append(table.c.platform.in_(scope.platforms))
    return where


def _presence(scope: Scope, cover: Cover, *cols: str, accounts: Any = None) -> list[Any]:
    """SELECTs of `cols` over the cover's whole days and whole hours (one per table that has
    any), optionally only where `accounts(table)` holds; union them for distinct rows."""
    out = []
    for table, unit, ranges in _ranges(cover):
        if ranges:
            where = _where(table, unit, ranges, scope)
            if accounts is not None:
                where.append(accounts(table))
            out.append(select(*(table.c[c] for c in cols)).where(*where))
    return out


def _distinct(selects: list[Any]) -> Any:
    """The distinct rows of the SELECTs (a UNION; one SELECT alone is not deduplicated by
    `union`)."""
    return union(*selects) if len(selects) > 1 else selects[0].distinct()


# A part's candidates are taken from the view alone (no query) when at most this many linked
# accounts were active since its start: a range of an hour or a day ending now has a few; the
# minutes at the start of an event window in the past have most linked accounts, and the
# rows of the hours they touch narrow them down.
PART_FROM_VIEW_MAX = 256


def _part_candidates(
    conn: Connection, part: Scope, view: Linked, known: set[Key]
) -> dict[int, set[str]]:
    """The linked accounts that may have a match in `part` (minutes within an hour or two),
    with the platforms to check, less the keys already `known`: those whose latest match on a
    platform of the scope is at or after the part's start (the view's `movement_author`
    rows), and, when that leaves many, only those with a row in the hours the part touches."""
    platforms = set(part.platforms or PLATFORMS)

    def check(a: int) -> set[str]:
        return {
            p
            for p, last in view.platforms_of(a)
            if p in platforms and last >= part.start_ts and (a, p) not in known
        }

    recent = view.active_since(part.start_ts)
    out: dict[int, set[str]] = {}
    if len(recent) <= PART_FROM_VIEW_MAX:
        accounts: Iterable[int] = recent
    else:
        lo, hi = part.start_ts // HOUR, (part.end_ts - 1) // HOUR + 1
        accounts = sorted(
            {
                int(a)
                for (a,) in conn.execute(
                    select(MLH.c.account_id)
                    .where(
                        MLH.c.movement_id == part.movement_id,
                        MLH.c.hour >= lo,
                        MLH.c.hour < hi,
                    )
                    .distinct()
                ).all()
            }
        )
    for a in accounts:
        if ps := check(a):
            out[a] = ps
    return out


def _known(conn: Connection, scope: Scope, cover: Cover, accounts: Iterable[int]) -> set[Key]:
    """Which (account, platform) keys of these accounts have a row in the cover's whole days
    or hours."""
    ids = sorted(set(accounts))
    selects = _presence(
        scope, cover, "account_id", "platform", accounts=lambda t: among(conn, t.c.account_id, ids)
    )
    if not ids or not selects:
        return set()
    return {(int(a), p) for a, p in conn.execute(_distinct(selects)).all()}


def _part_keys(
    conn: Connection, part: Scope, cands: Mapping[int, set[str]], bucket_s: int | None
) -> set[tuple[int, int, str]]:
    """(bucket, account, platform) of these candidates' matches in a part, exactly, on the
    platforms given for each: from their mentions (`active_keys`)."""
    cands = {a: ps for a, ps in cands.items() if ps}
    if not cands:
        return set()
    return {k for k in active_keys(conn, part, cands, bucket_s) if k[2] in cands[k[1]]}


def _linked_overcount(conn: Connection, scope: Scope, view: Linked, per: str) -> int:
    """The linked persons' keys in the scope minus the persons (`per="key"`: (account,
    platform) keys; `per="account"`: accounts). The cover's whole days and hours are counted
    by the server (`movement_linked_day` and `_hour`: range scans, one row back); the minutes
    left add the keys and persons those do not have, from the mentions of the few accounts
    active in their hours."""
    cover = _cover(conn, scope)
    cols = ("person_id", "account_id", "platform") if per == "key" else ("person_id", "account_id")
    selects = _presence(scope, cover, *cols)
    n_keys = n_persons = 0
    if selects:
        keys = _distinct(selects).subquery()
        n_keys, n_persons = conn.execute(
            select(func.count(), func.count(func.distinct(keys.c.person_id)))
        ).one()
    added: set[Key] = set()
    for part in cover.parts:
        cands = _part_candidates(conn, part, view, set())
        # What the whole days and hours already counted is not looked for again.
        known = _known(conn, scope, cover, cands)
        if per == "account":
            counted = {a for a, _ in known}
            cands = {a: ps for a, ps in cands.items() if a not in counted}
        else:
            cands = {a: {p for p in ps if (a, p) not in known} for a, ps in cands.items()}
        for _, a, p in _part_keys(conn, part, cands, None):
            added.add((a, p if per == "key" else ""))
    if added:
        persons = {view.person_of.get(a, a) for a, _ in added}
        selects = _presence(
            scope, cover, "person_id", accounts=lambda t: among(conn, t.c.person_id, persons)
        )
        if selects:
            persons -= {int(p) for (p,) in conn.execute(_distinct(selects)).all()}
        n_keys += len(added)
        n_persons += len(persons)
    return int(n_keys) - int(n_persons)


def keys_in_scope(conn: Connection, scope: Scope, keys: Iterable[Key]) -> set[Key]:
    """Which of the (account, platform) keys have a match of the movement in the scope.

    An account with one key has no match in the scope on another of the scope's platforms
    (its keys are every platform of the scope it posted on since the start), so any match
    decides: one EXISTS per account, which stops at its first mention in the range
    (`ix_mention_account`, the match on its primary key). Reading every mention of the
    candidates instead read a busy account's hundreds (the previous 30 days' overcount:
    ~13,000 mentions at 1M). Accounts with several keys are read in full (`active_keys`)."""
    keys = set(keys)
    platforms: dict[int, set[str]] = defaultdict(set)
    for a, p in keys:
        platforms[a].add(p)
    single = sorted(a for a, ps in platforms.items() if len(ps) == 1)
    several = [a for a, ps in platforms.items() if len(ps) > 1]
    out: set[Key] = set()
    if single:
        ids = ids_table(conn, single)
        where = [
            M.c.account_id == ids.c.value,
            M.c.created_ts >= scope.start_ts,
            M.c.created_ts < scope.end_ts,
        ]
        if scope.platforms:
            where.append(MM.c.platform.in_(scope.platforms))
        hit = exists(
            select(literal(1))
            .select_from(
                M.join(MM, (MM.c.movement_id == scope.movement_id) & (MM.c.mention_id == M.c.id))
            )
            .where(*where)
        )
        for (a,) in conn.execute(select(ids.c.value).where(hit)).all():
            out.add((int(a), next(iter(platforms[int(a)]))))
    if several:
        out |= {(a, p) for _, a, p in active_keys(conn, scope, several)}
    return out & keys


def people_overcount(
    conn: Connection, scope: Scope, *, per: str = "key", linked: Linked | None = None
) -> int:
    """The people of the scope counted per (account, platform) key (`per="key"`, Overview's
    cells) or per account (`per="account"`) minus the persons among them: subtract this from
    the account-level count to count persons. `linked`: the page's view (`linked_view`).

    The linked persons' share is `_linked_overcount`; with `per="key"`, the few unlinked
    accounts active on a second platform in the scope (a blog that sends pingbacks) add their
    extra platforms, probed one by one."""
    view = resolve_view(conn, scope.movement_id, linked)
    out = _linked_overcount(conn, scope, view, per)
    others = _cross_accounts(conn, scope) - set(view.person_of) if per == "key" else set()
    if others:
        found, exact = _maybe_active(conn, scope, others, view)
        if not exact and found:
            found = keys_in_scope(conn, scope, found)
        out += overcount(found, {})
    return out


def active_overcount_per_bucket(
    conn: Connection, scope: Scope, bucket_s: int, linked: Linked | None = None
) -> dict[int, int]:
    """Per bucket: active accounts minus active persons (widening counts accounts per day).

    Daily buckets: whole UTC days counted by the server from `movement_linked_day` (one row
    per day back), the part-days at the ends from the mentions of the few accounts present on
    them; other buckets (hours, for a day or less) read the mentions of the linked accounts
    active since the scope's start."""
    view = resolve_view(conn, scope.movement_id, linked)
    out: dict[int, int] = {}
    by_bucket: dict[int, set[Key]] = defaultdict(set)
    if bucket_s == DAY:
        cover = _cover(conn, scope)
        if cover.lo_day < cover.hi_day:
            for d, n in conn.execute(
                select(
                    MLD.c.day,
                    func.count(func.distinct(MLD.c.account_id))
                    - func.count(func.distinct(MLD.c.person_id)),
                )
                .where(*_where(MLD, "day", [(cover.lo_day, cover.hi_day)], scope))
                .group_by(MLD.c.day)
            ).all():
                out[int(d)] = int(n)
        # The part-days: their whole hours' rows and their minutes' mentions, per day.
        if cover.hours:
            for h, a in conn.execute(
                select(MLH.c.hour, MLH.c.account_id)
                .where(*_where(MLH, "hour", list(cover.hours), scope))
                .distinct()
            ).all():
                by_bucket[int(h) // 24].add((int(a), ""))
        for part in cover.parts:
            cands = _part_candidates(conn, part, view, set())
            for b, a, _ in _part_keys(conn, part, cands, DAY):
                by_bucket[b].add((a, ""))
    else:
        maybe, _ = _maybe_active(conn, scope, view.person_of, view)
        for b, a, _ in active_keys(conn, scope, {a for a, _ in maybe}, bucket_s):
            by_bucket[b].add((a, ""))
    out |= {b: overcount(keys, view.person_of) for b, keys in by_bucket.items()}
    return {b: n for b, n in out.items() if n}


def earliest_accounts(
    conn: Connection, movement_id: int, linked: Linked | None = None
) -> dict[int, bool]:
    """Linked account -> whether it is its person's first voice in the movement."""
    view = resolve_view(conn, movement_id, linked)
    return {a: a in view.first_voices for a in view.authors}


def later_firsts(
    conn: Connection, scope: Scope, linked: Linked | None = None
) -> list[tuple[int, str]]:
    """(first_ts, platform) of each linked account counted as a new voice by account whose
    person was heard earlier through another account: not a new person. Subtract them (per
    range, per day and platform) to count new voices by person.

    Only the linked accounts first heard in the scope can be such, and only their persons'
    other accounts decide it: all in the view's `movement_author` rows, ordered once by the
    view (`Linked.later_ts`), so a range's are a slice of it."""
    view = resolve_view(conn, scope.movement_id, linked)
    lo = bisect_left(view.later_ts, scope.start_ts)
    hi = bisect_left(view.later_ts, scope.end_ts)
    return [
        (view.later_ts[i], view.later_platforms[i])
        for i in range(lo, hi)
        if not scope.platforms or view.later_platforms[i] in scope.platforms
    ]


def new_voices_overcount(conn: Connection, scope: Scope, linked: Linked | None = None) -> int:
    """New voices by account minus new voices by person."""
    return len(later_firsts(conn, scope, linked))


def _first_ts(conn: Connection, scope: Scope, accounts: Iterable[int]) -> dict[Key, int]:
    """(account, platform) -> the account's first match of the movement on the platform in the
    scope, from its own mentions (`ix_mention_account`; for a few accounts)."""
    ids = sorted(set(accounts))
    if not ids:
        return {}
    joined, where = _own_matches(conn, scope, ids)
    stmt = (
        select(M.c.account_id, MM.c.platform, func.min(M.c.created_ts))
        .select_from(joined)
        .where(*where)
        .group_by(M.c.account_id, MM.c.platform)
    )
    return {(int(a), p): int(ts) for a, p, ts in conn.execute(stmt).all()}


def _linked_firsts(conn: Connection, scope: Scope, view: Linked) -> dict[Key, tuple[int, bool]]:
    """(account, platform) -> (first match in the scope, exact?) of the linked accounts: the
    start of its first whole day or hour (`movement_linked_day` and `_hour`; inexact, within
    a day of the truth), or its first match in the minutes at the ends (exact), whichever is
    earlier."""
    cover = _cover(conn, scope)
    out: dict[Key, tuple[int, bool]] = {}

    def put(key: Key, value: tuple[int, bool]) -> None:
        out[key] = min(out.get(key, value), value)

    for (table, unit, ranges), size in zip(_ranges(cover), (DAY, HOUR), strict=True):
        if not ranges:
            continue
        for a, p, first in conn.execute(
            select(table.c.account_id, table.c.platform, func.min(table.c[unit]))
            .where(*_where(table, unit, ranges, scope))
            .group_by(table.c.account_id, table.c.platform)
        ).all():
            put((int(a), p), (int(first) * size, False))
    for part in cover.parts:
        cands = _part_candidates(conn, part, view, set())
        for key, ts in _first_ts(conn, part, cands).items():
            if key[1] in cands[key[0]]:
                put(key, (ts, True))
    return out


def carriers(
    conn: Connection, scope: Scope, limit: int = 20, linked: Linked | None = None
) -> dict[str, Any]:
    """ "People who carried it across": persons who posted in the movement on two or more
    platforms in the scope, each with their platforms in the order they first posted there.
    Most platforms first, then the earliest. Persons with an opted-out account are counted
    (`count`) but not listed by name (`name`/`handles` withheld, `opted_out` true).

    Which persons and platforms: exact (`_linked_firsts`, and the few unlinked accounts active
    on a second platform from their mentions). When: to the day for most; the persons who
    can be listed are read exactly from their mentions before they are ordered.
    """
    view = resolve_view(conn, scope.movement_id, linked)
    person_of = view.person_of
    firsts: dict[Key, tuple[int, bool]] = _linked_firsts(conn, scope, view)
    others = _cross_accounts(conn, scope) - set(person_of)
    if others:
        maybe, _ = _maybe_active(conn, scope, others, view)
        firsts |= {k: (ts, True) for k, ts in _first_ts(conn, scope, {a for a, _ in maybe}).items()}
    per: dict[int, dict[str, tuple[int, bool]]] = defaultdict(dict)
    for (a, p), f in firsts.items():
        mine = per[person_of.get(a, a)]
        mine[p] = min(mine.get(p, f), f)
    across = {p: f for p, f in per.items() if len(f) > 1}

    def bounds(fs: dict[str, tuple[int, bool]]) -> tuple[int, int]:
        lows = [ts for ts, _ in fs.values()]
        highs = [ts if exact else ts + DAY - 1 for ts, exact in fs.values()]
        return min(lows), min(highs)

    order = sorted(across, key=lambda p: (-len(across[p]), bounds(across[p])[0], p))
    if order:
        # Every person that could be listed: those ahead of the `limit`-th by platforms, and
        # those tied with it whose first match can be before its latest possible one.
        last = order[min(limit, len(order)) - 1]
        n_last, high = len(across[last]), bounds(across[last])[1]
        listable = [
            p
            for p in order
            if len(across[p]) > n_last
            or (len(across[p]) == n_last and bounds(across[p])[0] <= high)
        ]
        # An inexact first is on its day: read those days' mentions of those accounts.
        chosen = set(listable)
        days: dict[int, set[int]] = defaultdict(set)
        for (a, _), (ts, exact) in firsts.items():
            if not exact and person_of.get(a, a) in chosen:
                days[ts // DAY].add(a)
        for d, accounts in sorted(days.items()):
            window = scope.shifted(max(scope.start_ts, d * DAY), min(scope.end_ts, (d + 1) * DAY))
            for key, ts in _first_ts(conn, window, accounts).items():
                f = firsts.get(key)
                if f is not None and not f[1] and f[0] // DAY == d:
                    firsts[key] = (ts, True)
        for p in listable:
            across[p] = {}
        for (a, plat), f in firsts.items():
            p = person_of.get(a, a)
            if p in chosen:
                mine = across[p]
                mine[plat] = min(mine.get(plat, f), f)
        order = sorted(across, key=lambda p: (-len(across[p]), bounds(across[p])[0], p))
    shown = order[:limit]
    info = persons(conn, shown)
    rows = []
    for p in shown:
        i = info.get(p, {"name": None, "handles": [], "opted_out": False})
        rows.append(
            {
                "person_id": p,
                "name": i["name"],
                "handles": i["handles"],
                "opted_out": i["opted_out"],
                "platforms": sorted(
                    ((plat, ts) for plat, (ts, _) in across[p].items()),
                    key=lambda kv: (kv[1], kv[0]),
                ),
            }
        )
    return {"count": len(across), "people": rows}


# --- showing a person ---------------------------------------------------------------------


def persons(conn: Connection, person_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Each person's accounts, platforms, name and opt-out (any account opted out covers the
    person): person id -> {"name", "handles", "platforms", "accounts", "opted_out"}."""
    ids = sorted(set(person_ids))
    out: dict[int, dict[str, Any]] = {}
    if not ids:
        return out
    opted = func.coalesce(person_opted_out(A), literal(False))
    rows = conn.execute(
        select(
            A.c.id,
            A.c.person_id,
            A.c.platform,
            A.c.handle,
            A.c.display_name,
            A.c.instance,
            opted.label("opted_out"),
        )
        .where(among(conn, A.c.person_id, ids))
        .order_by(A.c.person_id, A.c.id)
    )
    for r in rows:
        p = out.setdefault(
            int(r.person_id),
            {
                "person_id": int(r.person_id),
                "name": None,
                "handles": [],
                "platforms": [],
                "accounts": [],
                "opted_out": False,
            },
        )
        p["accounts"].append(int(r.id))
        if r.platform not in p["platforms"]:
            p["platforms"].append(r.platform)
        if r.handle:
            p["handles"].append((r.handle, r.platform))
        if p["name"] is None and r.display_name:
            p["name"] = r.display_name
        p["opted_out"] = p["opted_out"] or bool(r.opted_out)
    for p in out.values():
        p["handles"] = [] if p["opted_out"] else _distinct_handles(p["handles"])
        if p["opted_out"]:
            p["name"] = None
    return out


def _distinct_handles(handles: list[tuple[str, str]]) -> list[str]:
    """A person's handles as a reader can tell them apart: a Bluesky domain handle equal to the
    person's blog host would otherwise read "gpreflections.blog, gpreflections.blog", so a
    handle that repeats says its platform."""
    seen = [h.lower() for h, _ in handles]
    return [f"{h} ({platform})" if seen.count(h.lower()) > 1 else h for h, platform in handles]


# --- rankings by person -------------------------------------------------------------------


def top_persons(
    conn: Connection,
    scope: Scope,
    side: str,
    n: int,
    top_accounts: Any,
    exact_counts: Any,
    pairs_among: Any,
    bounds: Any = None,
    linked: Linked | None = None,
    hot: Any = None,
) -> list[dict[str, Any]]:
    """The `n` persons with most amplification received (`side` "dst") or given ("src"):
    exactly `ORDER BY total DESC, person_id LIMIT n`, amplifying oneself (any account of the
    same person) left out.

    A person with one account has its account's count. A linked person's count is the sum of
    its accounts' counts (`exact_counts(ids)`: account -> the row `_exact` gives, one account
    amplifying itself already left out) less the edges between two of its own accounts
    (`pairs_among(ids)`: (account, other account, kind, edges) among linked accounts only).
    The account ranking is one total order, so its first `n` rows that are not linked
    accounts are the top `n` one-account persons: it is read a little deeper than `n`, and
    deeper again only while fewer than `n` of its rows are such (`top_accounts(m)`,
    `storage.queries.amplifiers`). Linked persons are counted only when the sum of their
    accounts' upper bounds (`bounds(ids)`: the amplifier days or periods the range touches)
    reaches the n-th one-account person's count. The answer merges the two. `linked`: the page's
    view (`linked_view`), else read here.
    """

    linked = dict(resolve_view(conn, scope.movement_id, linked).person_of)
    counted: dict[int, dict[str, Any]] = {}
    depth = n + max(8, n // 4)
    while True:
        ranked = top_accounts(depth)
        singles = [r for r in ranked if r["a"] not in linked][:n]
        if len(singles) == n or len(ranked) < depth:
            break
        depth *= 2
    if linked and bounds is not None:
        # Only persons whose accounts' bounds reach the n-th one-account person can
        # enter the list (a tie can too: it may have the smaller id).
        nth = int(singles[-1]["total"]) if len(singles) == n else 0
        need = max(nth, 1)
        ids = sorted(linked)
        if hot is not None:
            # Such a person has an account whose bound is at least need / k (k: the most
            # accounts a person has), so a bucket of that account holds at least
            # need / (k * buckets) edges: `hot(need, k, probes)` reads those accounts from the
            # top of each bucket's list (None when that would read more than probing the
            # linked accounts, or proves nothing), and only the persons
            # with one have their bounds summed. At 10M mentions probing every linked
            # account's buckets cost the server ~0.5 s per side for 30 days.
            members: dict[int, list[int]] = defaultdict(list)
            for a, p in linked.items():
                members[p].append(a)
            found = hot(need, max(len(m) for m in members.values()), len(ids))
            if found is not None:
                ids = sorted({a for h in found if h in linked for a in members[linked[h]]})
        bound: Counter[int] = Counter()
        for a, b in (bounds(ids) if ids else {}).items():
            bound[linked[a]] += int(b)
        linked = {a: p for a, p in linked.items() if bound[p] >= need}

    def add(p: int, kind: str | None, k: int, groups: Mapping[str, int] | None = None) -> None:
        row = counted.setdefault(p, {"a": p, "total": 0, **dict.fromkeys(KIND_GROUPS, 0)})
        row["total"] += k
        if groups is not None:
            for g, v in groups.items():
                row[g] += v
        elif kind is not None and GROUP_OF.get(kind) is not None:
            row[GROUP_OF[kind]] += k

    if linked:
        ids = sorted(linked)
        for a, r in exact_counts(ids).items():
            add(linked[a], None, int(r["total"]), {g: int(r[g] or 0) for g in KIND_GROUPS})
        for who, other, kind, k in pairs_among(ids):
            if who != other and linked.get(other) == linked[who]:
                add(linked[who], kind, -int(k))
    counted = {p: r for p, r in counted.items() if r["total"] > 0}
    merged = [*singles, *counted.values()]
    return heapq.nsmallest(n, merged, key=lambda r: (-r["total"], r["a"]))


# --- the People page ------------------------------------------------------------------------


def linked_people(conn: Connection, limit: int = 200) -> list[dict[str, Any]]:
    """Persons with more than one account, with their accounts and platforms (the People
    page's list; opted-out persons are listed without names)."""
    ids = sorted(set(linked_accounts(conn).values()))[:limit]
    return [p for _, p in sorted(persons(conn, ids).items())]


def find_accounts(conn: Connection, needle: str, limit: int = 20) -> list[dict[str, Any]]:
    """Accounts whose handle, name or native id contains `needle` (case-insensitive), for a
    moderator picking two accounts to link. Opted-out persons are findable by handle (a
    moderator must be able to unlink them) but shown without a display name."""
    needle = needle.strip().lower()
    if len(needle) < 2:
        return []
    pattern = "%" + needle.replace("\\", "").replace("%", "").replace("_", "") + "%"
    opted = func.coalesce(person_opted_out(A), literal(False))
    rows = conn.execute(
        select(
            A.c.id,
            A.c.platform,
            A.c.handle,
            A.c.native_id,
            A.c.display_name,
            A.c.person_id,
            opted.label("opted_out"),
        )
        .where(
            func.lower(A.c.handle).like(pattern)
            | func.lower(A.c.native_id).like(pattern)
            | func.lower(A.c.display_name).like(pattern)
        )
        .order_by(A.c.handle, A.c.id)
        .limit(limit)
    )
    return [
        {
            **r._mapping,
            "display_name": None if r.opted_out else r.display_name,
            "opted_out": bool(r.opted_out),
        }
        for r in rows
    ]
