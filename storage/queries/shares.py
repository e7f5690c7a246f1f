"""What travels with the conversation: the top linked domains, linked URLs and co-occurring
hashtags of a movement in a scope (docs/dashboard.md, "What travels with it").

Counts are mentions: a mention linking twice to one page counts once for it. They are summed
from the rollups (storage/models_shares.py): whole UTC days from `movement_share_day`, the
whole hours of the part-days at the ends from `movement_share_hour`, and the minutes left at
either end (a rolling range ends on the minute) from the raw matches, so a range's counts are
exact. The top N stays exact with the raw part added: the rollups' top K is read, then the
rollup counts of the few values seen in the raw minutes; a value in neither cannot pass the
K-th (its count is its rollup count, at most the K-th's).

Deleted and opted-out posts are counted, as in every aggregate; a URL that is itself the
address of a withheld post (deleted, opted out, or shown only with consent the author did not
give: storage/queries/ethics.py) is never listed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Text, cast, func, select, union_all

from domain.matching import normalise_hashtag
from domain.records import mention_id
from storage.id_lists import texts_table
from storage.models import Account, Mention, MentionMatch, Movement
from storage.models_shares import MovementShareDay, MovementShareHour, MovementShareTotal
from storage.queries.blogs import _native_candidates
from storage.queries.ethics import mention_displayable
from storage.queries.overview import ends_after_data
from storage.queries.scope import Scope, in_scope
from storage.shares import stored_share_keys

DAY_T = MovementShareDay.__table__  # type: ignore[attr-defined]
HOUR_T = MovementShareHour.__table__  # type: ignore[attr-defined]
TOTAL_T = MovementShareTotal.__table__  # type: ignore[attr-defined]
M = Mention.__table__  # type: ignore[attr-defined]
MM = MentionMatch.__table__  # type: ignore[attr-defined]
A = Account.__table__  # type: ignore[attr-defined]
MV = Movement.__table__  # type: ignore[attr-defined]

# How many more URLs than asked for are read, so a few withheld ones leave the list full.
_URL_SLACK = 10


# A rollup piece: (table, first bucket, last bucket exclusive, +1 to add its rows or -1 to
# take them away).
Piece = tuple[Any, int, int, int]


def _pieces(
    start: int, end: int, tail_empty: bool = False
) -> tuple[list[Piece], list[tuple[int, int]]]:
    """Split `[start, end)` into rollup pieces (whole UTC days, then hours) and the raw
    stretches shorter than an hour at the ends.

    A part-day at either end is read as its whole hours, or as its day less the day's other
    hours when those are fewer (a day's counts are the sum of its hours' in both rollups, kept
    in one transaction): an event from 14:00 to 22:00 the next day reads 9 hours, then that
    day less 2 hours, not 31 busy hours. `tail_empty`: the movement has no match at or after
    `end` (a range ending now), so the last hour and day are read whole: no raw minutes at
    the end and none of their later hours to take away."""
    rolled: list[Piece] = []
    raw: list[tuple[int, int]] = []
    d1, d2 = -(-start // 86400), end // 86400
    if d1 <= d2:
        if d1 < d2:
            rolled.append((DAY_T, d1, d2, 1))
        parts = [(start, d1 * 86400), (d2 * 86400, end)]
    else:
        parts = [(start, end)]
    for lo, hi in parts:
        if lo >= hi:
            continue
        last = tail_empty and hi == end
        h1 = -(-lo // 3600)
        h2 = -(-hi // 3600) if last else hi // 3600
        if h1 >= h2:
            raw.append((lo, hi))
            continue
        raw.append((lo, h1 * 3600))
        if not last:
            raw.append((h2 * 3600, hi))
        day = (h1 // 24) * 24
        direct = h2 - h1
        before, after = h1 - day, (0 if last else day + 24 - h2)
        if before + after + 1 < direct:
            rolled.append((DAY_T, day // 24, day // 24 + 1, 1))
            away = ((day, h1),) if last else ((day, h1), (h2, day + 24))
            rolled += [(HOUR_T, a, b, -1) for a, b in away if a < b]
        else:
            rolled.append((HOUR_T, h1, h2, 1))
    return _merged(rolled), [(a, b) for a, b in raw if a < b]


def _merged(pieces: list[Piece]) -> list[Piece]:
    """Adjacent pieces of one table and sign as one (a week ending now: one run of days)."""
    out: list[Piece] = []
    for piece in sorted(pieces, key=lambda p: (p[0].name, p[3], p[1])):
        table, lo, hi, sign = piece
        if out and out[-1][0] is table and out[-1][3] == sign and out[-1][2] == lo:
            out[-1] = (table, out[-1][1], hi, sign)
        else:
            out.append(piece)
    return out


def _among_texts(conn: Connection, column: Any, values: Iterable[str]) -> Any:
    """`column IN values` with the values bound as ONE parameter (`texts_table`): an expanding
    IN of the thousands of values seen in a busy range's raw minutes cost more to compile and
    bind than the lookups themselves."""
    return column.in_(select(texts_table(conn, sorted(values)).c.value))


def _rolled_select(
    conn: Connection,
    scope: Scope,
    kind: str,
    pieces: list[Piece],
    values: Sequence[str] | None,
) -> Any:
    parts = []
    for table, lo, hi, sign in pieces:
        bucket = table.c.day if table is DAY_T else table.c.hour
        where = [
            table.c.movement_id == scope.movement_id,
            table.c.kind == kind,
            bucket >= lo,
            bucket < hi,
        ]
        if scope.platforms:
            where.append(table.c.platform.in_(scope.platforms))
        if values is not None:
            where.append(_among_texts(conn, table.c.value, values))
        n = table.c.n if sign > 0 else -table.c.n
        parts.append(select(table.c.value, n.label("n")).where(*where))
    return parts[0] if len(parts) == 1 else union_all(*parts)


# How many values, largest all-time count first, are counted exactly before the bound is
# tried: deep enough that the first value not read is rarely shared as often as the N-th; and
# how deep a second try reads when the first fell short but the deeper bound already holds.
_CANDIDATES = 300
_DEEPER = 1000
# Ranges of this many hours or more try the bound (an event's day or two: 32 hours at 1M
# mentions grouped 35k-100k hour rows per kind).
_BOUND_MIN_HOURS = 24


def _rolled_top(
    conn: Connection,
    scope: Scope,
    kind: str,
    pieces: list[Piece],
    k: int,
    exclude: Sequence[str],
    read_all: bool = False,
) -> tuple[list[tuple[str, int]], dict[str, int], int | None]:
    """The exact top `k` of the rollups over `pieces`, with what the proof counted on the way:
    the exact range count of every candidate counted (`known`) and the all-time count that
    bounds every value not counted (`cut`; None when every row was grouped).

    First without grouping the long tail: the `_CANDIDATES` values with the largest all-time
    counts (`movement_share_total`) are counted in the range by value. A value not read has
    an all-time count, hence a range count, of at most the last one read (`bound`); when the
    k-th range count beats it, nothing else can enter the list. When it does not, but already
    beats the all-time count of the `_DEEPER`-th value, the values down to that one are
    counted too and the list stands. Otherwise (a short range, a filter that leaves little, a
    young movement) every row of the range is grouped; for a short range with `read_all`
    (raw minutes to add) every grouped value comes back as `known`, with a cut of 0."""
    if not pieces:
        return [], {}, None
    cands = select(TOTAL_T.c.value, TOTAL_T.c.n).where(
        TOTAL_T.c.movement_id == scope.movement_id, TOTAL_T.c.kind == kind
    )
    if exclude:
        cands = cands.where(TOTAL_T.c.value.not_in(list(exclude)))
    # A range of a few hours is few rows: grouping them is cheaper than proving the bound,
    # which rarely holds for so few mentions (the range's own length: a range ending now
    # reads its last day whole, which holds no more than the range).
    worth = scope.seconds >= _BOUND_MIN_HOURS * 3600
    ordered = cands.order_by(TOTAL_T.c.n.desc())
    read = conn.execute(ordered.limit(_CANDIDATES)).all() if worth else []
    if len(read) == _CANDIDATES:
        bound = int(read[-1][1])
        exact = _rolled_counts(conn, scope, kind, pieces, {v for v, _ in read})
        top = sorted(exact.items(), key=lambda x: (-x[1], x[0]))[:k]
        if len(top) == k and top[-1][1] > bound:
            return top, {v: exact.get(v, 0) for v, _ in read}, bound
        # The k-th found can only grow with more values counted: when it already beats the
        # `_DEEPER`-th all-time count, counting down to that value settles the list.
        more = conn.execute(ordered.limit(_DEEPER)).all() if len(top) == k else []
        if len(more) == _DEEPER and top[-1][1] > int(more[-1][1]):
            counted = {v for v, _ in read}
            rest = {v for v, _ in more if v not in counted}
            exact.update(_rolled_counts(conn, scope, kind, pieces, rest))
            known = {v: exact.get(v, 0) for v, _ in more}
            return sorted(exact.items(), key=lambda x: (-x[1], x[0]))[:k], known, int(more[-1][1])
    u = _rolled_select(conn, scope, kind, pieces, None).subquery("u")
    total = func.sum(u.c.n)
    # `having`: a value whose rows were all taken away again (a day less its other hours).
    stmt = select(u.c.value, total).group_by(u.c.value).having(total > 0)
    if exclude:
        stmt = stmt.where(u.c.value.not_in(list(exclude)))
    stmt = stmt.order_by(total.desc(), u.c.value)
    if worth or not read_all:
        return [(v, int(n)) for v, n in conn.execute(stmt.limit(k))], {}, None
    # A short range's few hours hold few values: all of them are read, so the values of its
    # raw minutes need no lookup (every value not read has no row: a cut of 0). The last
    # hour's ~1,500 raw values were ~25 ms of lookups at 1M; its one whole hour a few rows.
    every = [(v, int(n)) for v, n in conn.execute(stmt)]
    return every[:k], dict(every), 0


def _rolled_counts(
    conn: Connection, scope: Scope, kind: str, pieces: list[Piece], values: set[str]
) -> dict[str, int]:
    if not pieces or not values:
        return {}
    u = _rolled_select(conn, scope, kind, pieces, sorted(values)).subquery("u")
    stmt = select(u.c.value, func.sum(u.c.n)).group_by(u.c.value)
    return {v: int(n) for v, n in conn.execute(stmt)}


def _raw_counts(
    conn: Connection, scope: Scope, stretches: list[tuple[int, int]]
) -> dict[str, Counter[str]]:
    """Per kind, the values of the matches in stretches shorter than an hour, counted by the
    write path's own definition (`storage.shares.stored_share_keys`, from the stored JSON
    text: decoded once per distinct list, not once per cell)."""
    keys: list[tuple[str, str]] = []
    for lo, hi in stretches:
        part = scope.shifted(lo, hi)
        stmt = (
            # CAST, not only a coerced type: PostgreSQL then sends jsonb as text, so each
            # distinct list is decoded once (cached) rather than parsed per cell by the driver.
            select(cast(M.c.links, Text), cast(M.c.hashtags, Text))
            .select_from(MM.join(M, M.c.id == MM.c.mention_id))
            .where(*in_scope(MM, part))
        )
        for links, tags in conn.execute(stmt).all():
            keys.extend(stored_share_keys(links, tags))
    out: dict[str, Counter[str]] = {"domain": Counter(), "url": Counter(), "tag": Counter()}
    for (kind, value), n in Counter(keys).items():
        out[kind][value] = n
    return out


def _top(
    conn: Connection,
    scope: Scope,
    kind: str,
    k: int,
    exclude: Sequence[str],
    pieces: list[Piece],
    raw: Counter[str],
) -> list[tuple[str, int]]:
    """The exact top `k` of the rollups plus the raw minutes at the ends of the range.

    A value seen only in the raw minutes is counted in the rollups only when it could enter
    the list: its rollup count is at most the k-th rollup count (it is not in the rollups'
    top k) and at most its all-time count, so with its raw count it must reach the k-th total
    so far. Most of a busy hour's values are shared once ever and are never looked up: a
    value the rollups' proof already counted has its exact count, and one it did not has at
    most the proof's all-time cut, so only values whose raw count could lift them over the
    k-th total are looked up at all; when the rollups were read whole (a short range, cut 0),
    none is."""
    rolled, known, cut = _rolled_top(conn, scope, kind, pieces, k, exclude, read_all=bool(raw))
    totals = dict(rolled)
    for v, n in raw.items():
        if v in totals:
            totals[v] += n
    extra = {v for v in raw if v not in totals and v not in exclude}
    if extra:
        so_far = sorted(totals.values(), reverse=True)
        floor = so_far[k - 1] if len(so_far) >= k else 0
        kth = rolled[-1][1] if len(rolled) == k else 0  # fewer: the rollups hold no others
        for v in extra.intersection(known):
            totals[v] = known[v] + raw[v]
        cap = kth if cut is None else min(kth, cut)
        extra = {v for v in extra if v not in known and cap + raw[v] >= floor}
        if cut == 0:  # every value with a rollup row was read: the others have none
            totals.update((v, raw[v]) for v in extra)
            extra = set()
        ever = _all_time(conn, scope.movement_id, kind, extra) if extra else {}
        need = {v for v in extra if min(kth, ever.get(v, 0)) + raw[v] >= floor}
        counted = _rolled_counts(conn, scope, kind, pieces, need)
        for v in need:
            totals[v] = counted.get(v, 0) + raw[v]
    return sorted(totals.items(), key=lambda x: (-x[1], x[0]))[:k]


def _all_time(conn: Connection, movement_id: int, kind: str, values: set[str]) -> dict[str, int]:
    stmt = select(TOTAL_T.c.value, TOTAL_T.c.n).where(
        TOTAL_T.c.movement_id == movement_id,
        TOTAL_T.c.kind == kind,
        _among_texts(conn, TOTAL_T.c.value, values),
    )
    return {v: int(n) for v, n in conn.execute(stmt)}


def tracked_tags(conn: Connection, movement_id: int) -> list[str]:
    """The movement's own hashtags, normalised: they are on every post, so not "co-occurring"."""
    tags = conn.execute(select(MV.c.hashtags).where(MV.c.id == movement_id)).scalar() or []
    return sorted({normalise_hashtag(t) for t in tags if isinstance(t, str)})


def withheld_urls(conn: Connection, urls: Iterable[str]) -> set[str]:
    """Which of these canonical URLs are the address of a stored post whose content may not be
    shown (deleted, opted out, no consent): found by the ids their shapes name (a blog entry
    is keyed by its canonical URL; Mastodon and Bluesky post pages name their status / at://
    URI), so no index on every mention's URL is needed."""
    wanted = sorted(set(urls))
    if not wanted:
        return set()
    ids: dict[int, set[str]] = {}
    for u in wanted:
        ids.setdefault(mention_id("blog", u), set()).add(u)
    for (platform, native), links in _native_candidates(conn, wanted).items():
        ids.setdefault(mention_id(platform, native), set()).update(links)
    stmt = (
        select(M.c.id)
        .select_from(M.outerjoin(A, A.c.id == M.c.account_id))
        .where(M.c.id.in_(sorted(ids)), ~mention_displayable(M, A))
    )
    out: set[str] = set()
    for (mid,) in conn.execute(stmt):
        out |= ids[mid]
    return out


def travels(conn: Connection, scope: Scope, limit: int = 10) -> dict[str, list[dict[str, Any]]]:
    """`{"domain": [...], "url": [...], "tag": [...]}`, each `[{"value", "mentions"}]` largest
    first: the scope's top linked domains, linked URLs (withheld posts' addresses left out) and
    hashtags other than the movement's own."""
    pieces, stretches = _pieces(scope.start_ts, scope.end_ts, ends_after_data(conn, scope))
    raw = _raw_counts(conn, scope, stretches)
    out: dict[str, list[dict[str, Any]]] = {}
    out["domain"] = _rows(_top(conn, scope, "domain", limit, (), pieces, raw["domain"]))
    out["tag"] = _rows(
        _top(conn, scope, "tag", limit, tracked_tags(conn, scope.movement_id), pieces, raw["tag"])
    )
    k = limit + _URL_SLACK
    while True:
        top = _top(conn, scope, "url", k, (), pieces, raw["url"])
        hidden = withheld_urls(conn, [v for v, _ in top])
        shown = [(v, n) for v, n in top if v not in hidden]
        # Fewer than K read means every URL was read; else read deeper while too many hid.
        if len(shown) >= limit or len(top) < k:
            break
        k *= 4
    out["url"] = _rows(shown[:limit])
    return out


def _rows(pairs: list[tuple[str, int]]) -> list[dict[str, Any]]:
    return [{"value": v, "mentions": n} for v, n in pairs]


__all__ = ["tracked_tags", "travels", "withheld_urls"]
