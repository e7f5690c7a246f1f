"""Reads for research exports: the dashboard's filters, streamed in keyset-paginated chunks.

Why keyset pagination (`WHERE (created_ts, id) > (:last_ts, :last_id) ORDER BY ... LIMIT n`)
rather than one long server-side cursor: every chunk is a short, index-driven query, so an
export of 10M mentions holds one chunk in memory at a time on both dialects, never blocks a
SQLite writer for the whole export, and never keeps a PostgreSQL transaction open for minutes.

Ethics (DESIGN.md section 6) is applied here, in SQL, so no writer can forget it:
- tombstoned mentions are never returned;
- mentions whose content may not be shown (`storage.queries.ethics.mention_displayable`:
  opted-out authors, term-only or in-thread matches of non-indexable Mastodon accounts) are
  never returned;
  they are only counted (`withheld_counts`);
- opted-out accounts never appear in the account list, and edges touching them are withheld.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Connection,
    String,
    and_,
    case,
    exists,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
    tuple_,
    type_coerce,
)
from sqlalchemy.engine import Row

from domain.matching import VIA_STRENGTH
from storage.models import (
    Account,
    Amplification,
    CollectorRun,
    Event,
    Mention,
    MentionMatch,
    MentionPayload,
    Movement,
    Source,
)
from storage.queries.ethics import account_opted_out, func_coalesce, mention_displayable
from storage.queries.scope import Scope

DEFAULT_CHUNK = 5_000


class FilterError(ValueError):
    """A filter names something the store does not have (phrased for the user)."""


@dataclass(frozen=True, slots=True)
class ExportFilters:
    """The dashboard's filters: movement, time range, platforms, event (and a text search).

    `since` is inclusive, `until` exclusive. An event narrows the window to the event's.
    """

    movement: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    platforms: tuple[str, ...] = ()
    event: str | None = None
    search: str | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "movement": self.movement,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "platforms": list(self.platforms),
            "event": self.event,
            "search": self.search,
        }


@dataclass(frozen=True, slots=True)
class Resolved:
    """Filters resolved against the store: ids and integer epoch bounds."""

    filters: ExportFilters
    movement_id: int | None = None
    ts_from: int | None = None
    ts_to: int | None = None  # exclusive
    platforms: tuple[str, ...] = ()
    event_id: int | None = None
    discoverable_false_is_opt_out: bool = True
    empty: bool = False  # e.g. the event's window does not meet the time range


def _t(model: Any) -> Any:
    return model.__table__


def _ts(when: datetime | None) -> int | None:
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp())


def resolve(
    conn: Connection, filters: ExportFilters, *, discoverable_false_is_opt_out: bool = True
) -> Resolved:
    """Look up the movement and event slugs; errors name the slug and list the known ones."""
    movement_id = None
    if filters.movement:
        mv = _t(Movement)
        movement_id = conn.execute(select(mv.c.id).where(mv.c.slug == filters.movement)).scalar()
        if movement_id is None:
            known = sorted(r[0] for r in conn.execute(select(mv.c.slug)))
            raise FilterError(
                f"movement {filters.movement!r} is not in the store; known: "
                f"{', '.join(known) or 'none (run groundswell init)'}"
            )
    ts_from, ts_to = _ts(filters.since), _ts(filters.until)
    event_id = None
    empty = False
    if filters.event:
        ev = _t(Event)
        row = conn.execute(
            select(ev.c.id, ev.c.starts_at, ev.c.ends_at).where(ev.c.slug == filters.event)
        ).first()
        if row is None:
            known = sorted(r[0] for r in conn.execute(select(ev.c.slug)))
            raise FilterError(
                f"event {filters.event!r} is not in the store; known: {', '.join(known) or 'none'}"
            )
        event_id = row.id
        e_from, e_to = _ts(row.starts_at), _ts(row.ends_at)
        ts_from = e_from if ts_from is None else max(ts_from, e_from or ts_from)
        ts_to = e_to if ts_to is None else min(ts_to, e_to or ts_to)
    if ts_from is not None and ts_to is not None and ts_from >= ts_to:
        empty = True
    platforms = tuple(sorted({p.strip().lower() for p in filters.platforms if p.strip()}))
    return Resolved(
        filters=filters,
        movement_id=movement_id,
        ts_from=ts_from,
        ts_to=ts_to,
        platforms=platforms,
        event_id=event_id,
        discoverable_false_is_opt_out=discoverable_false_is_opt_out,
        empty=empty,
    )


# -- mentions ---------------------------------------------------------------------------------


def _shared_scope(r: Resolved, ts: Any, platform: Any, mention_id: Any) -> list[Any]:
    """The dashboard's filters (time, platforms, movement) on any table with a time, a
    platform and a mention it belongs to: mentions themselves, or edges by their target."""
    mm = _t(MentionMatch)
    clauses: list[Any] = []
    if r.empty:
        clauses.append(literal(False))
    if r.ts_from is not None:
        clauses.append(ts >= r.ts_from)
    if r.ts_to is not None:
        clauses.append(ts < r.ts_to)
    if r.platforms:
        clauses.append(platform.in_(r.platforms))
    if r.movement_id is not None:
        clauses.append(
            exists(
                select(mm.c.mention_id).where(
                    mm.c.movement_id == r.movement_id, mm.c.mention_id == mention_id
                )
            )
        )
    return clauses


def _mention_scope(r: Resolved, m: Any) -> list[Any]:
    """Filter clauses on the mention table (time, platform, movement, search)."""
    clauses = _shared_scope(r, m.c.created_ts, m.c.platform, m.c.id)
    if r.filters.search:
        pattern = f"%{_escape_like(r.filters.search.strip())}%"
        clauses.append(
            or_(
                func.lower(m.c.text).like(pattern.lower(), escape="\\"),
                func.lower(m.c.title).like(pattern.lower(), escape="\\"),
            )
        )
    return clauses


def _escape_like(s: str) -> str:
    return s.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


MENTION_COLUMNS = (
    "id",
    "platform",
    "native_id",
    "url",
    "account_id",
    "created_at",
    "created_ts",
    "title",
    "text",
    "lang",
    "instance",
    "reply_to_id",
    "quote_of_id",
    "like_count",
    "repost_count",
    "reply_count",
    "quote_count",
    "sensitive",
    "spoiler_text",
    "links",
    "hashtags",
    "edited_at",
)


def _withheld_references(
    table: Any, columns: Sequence[str], discoverable_false_is_opt_out: bool
) -> tuple[Any, dict[str, Any]]:
    """Blank references to withheld posts (DESIGN.md section 6: no export carries any id of
    an opted-out or deleted post; ids are an unkeyed hash anyone can recompute).

    For each id column of `table` that points at another mention, outer-join that mention
    and its author: when the referenced post is in the store and may not be shown, the
    column becomes NULL and `<column>_withheld` is true. A referenced post the store never
    saw is unknown, which is not an opt-out. Returns a function that adds the joins to a
    FROM clause, and the replacement columns by name.
    """
    joins: list[tuple[Any, Any, Any]] = []
    out: dict[str, Any] = {}
    for name in columns:
        ref = _t(Mention).alias(f"ref_{name}")
        ref_author = _t(Account).alias(f"ref_{name}_author")
        withheld = and_(
            ref.c.id.is_not(None),
            not_(
                mention_displayable(
                    ref, ref_author, discoverable_false_is_opt_out=discoverable_false_is_opt_out
                )
            ),
        )
        joins.append((ref, ref_author, table.c[name]))
        out[name] = case((withheld, None), else_=table.c[name]).label(name)
        out[f"{name}_withheld"] = case((withheld, true()), else_=false()).label(f"{name}_withheld")

    def add(frm: Any) -> Any:
        for ref, ref_author, col in joins:
            frm = frm.outerjoin(ref, ref.c.id == col).outerjoin(
                ref_author, ref_author.c.id == ref.c.account_id
            )
        return frm

    return add, out


def iter_mentions(
    conn: Connection,
    r: Resolved,
    *,
    chunk_size: int = DEFAULT_CHUNK,
    limit: int | None = None,
) -> Iterator[list[Row[Any]]]:
    """Displayable, non-deleted mentions in the filter, oldest first, `chunk_size` at a time.

    Each row has MENTION_COLUMNS plus `account_native_id` and `account_handle`.
    """
    m, a = _t(Mention), _t(Account)
    refs, ref_cols = _withheld_references(
        m, ("reply_to_id", "quote_of_id"), r.discoverable_false_is_opt_out
    )
    cols = [ref_cols.get(c) if c in ref_cols else _fast(conn, m.c[c]) for c in MENTION_COLUMNS] + [
        a.c.native_id.label("account_native_id"),
        a.c.handle.label("account_handle"),
        a.c.person_id.label("account_person_id"),
        *(ref_cols[f"{c}_withheld"] for c in ("reply_to_id", "quote_of_id")),
        matched_by(m, r.movement_id),
    ]
    base = (
        select(*cols)
        .select_from(refs(m.outerjoin(a, a.c.id == m.c.account_id)))
        .where(
            *_mention_scope(r, m),
            mention_displayable(
                m,
                a,
                movement_id=r.movement_id,
                discoverable_false_is_opt_out=r.discoverable_false_is_opt_out,
            ),
        )
        .order_by(m.c.created_ts, m.c.id)
    )
    yield from _keyset(conn, base, (m.c.created_ts, m.c.id), chunk_size, limit)


MENTION_QUERY_COLUMNS = (
    *MENTION_COLUMNS,
    "account_native_id",
    "account_handle",
    "account_person_id",
    "reply_to_id_withheld",
    "quote_of_id_withheld",
    "matched_by",
)

# How a post matched, strongest evidence first (the domain's order, which stored matches also
# follow when an edit upgrades them).
MATCH_STRENGTH = VIA_STRENGTH


def matched_by(m: Any, movement_id: int | None) -> Any:
    """The strongest way mention `m` matched the movement (any movement when None): one
    index probe per row (ix_match_mention), so researchers can filter "thread" replies."""
    mm = _t(MentionMatch).alias("matched_by")
    rank = case({v: i for i, v in enumerate(MATCH_STRENGTH)}, value=mm.c.via, else_=99)
    return (
        select(mm.c.via)
        .where(
            mm.c.mention_id == m.c.id,
            *([mm.c.movement_id == movement_id] if movement_id is not None else []),
        )
        .order_by(rank)
        .limit(1)
        .scalar_subquery()
        .label("matched_by")
    )


EDGE_QUERY_COLUMNS = (
    "id",
    "kind",
    "platform",
    "source_account_id",
    "target_mention_id",
    "target_account_id",
    "via_mention_id",
    "via_mention_id_withheld",
    "created_at",
    "created_ts",
    "target_native_id",
    "source_person_id",
    "target_person_id",
)
_RAW_ON_SQLITE = {"created_at", "edited_at", "links", "hashtags"}


def _fast(conn: Connection, col: Any) -> Any:
    """On SQLite, times and JSON lists come back as their stored text: parsing them in the
    export (C `fromisoformat`, and no JSON round trip for CSV) is several times faster than
    SQLAlchemy's per-value processors, which measurably dominated an export. PostgreSQL's
    driver already returns native values."""
    if conn.dialect.name == "sqlite" and col.name in _RAW_ON_SQLITE:
        return type_coerce(col, String).label(col.name)
    return col


def _keyset(
    conn: Connection,
    base: Any,
    key_cols: tuple[Any, Any],
    chunk_size: int,
    limit: int | None,
    key_names: tuple[str, str] | None = None,
) -> Iterator[list[Row[Any]]]:
    names = key_names or (key_cols[0].name, key_cols[1].name)
    last: tuple[Any, Any] | None = None
    remaining = limit
    while remaining is None or remaining > 0:
        n = chunk_size if remaining is None else min(chunk_size, remaining)
        q = base
        if last is not None:
            # The redundant `first >= last_first` lets both planners range-scan the index on
            # the first key column; the row comparison alone is not always used for that.
            q = q.where(
                key_cols[0] >= last[0],
                tuple_(*key_cols) > tuple_(literal(last[0]), literal(last[1])),
            )
        rows = list(conn.execute(q.limit(n)).all())
        if not rows:
            return
        yield rows
        if remaining is not None:
            remaining -= len(rows)
        if len(rows) < n:
            return
        tail = rows[-1]._mapping
        last = (tail[names[0]], tail[names[1]])


@dataclass(slots=True)
class ScopeCounts:
    """How many mentions the filter covers, and how many are withheld and why."""

    in_scope: int = 0
    exportable: int = 0
    withheld_opt_out: int = 0
    deleted: int = 0
    by_platform: dict[str, int] = field(default_factory=dict)


def scope_counts(conn: Connection, r: Resolved) -> ScopeCounts:
    """One grouped aggregate: counted (never exported) opt-outs and deletions per the filter."""
    m, a = _t(Mention), _t(Account)
    shown = mention_displayable(
        m,
        a,
        movement_id=r.movement_id,
        discoverable_false_is_opt_out=r.discoverable_false_is_opt_out,
    )
    q = (
        select(
            m.c.platform,
            func.count().label("n"),
            func.sum(case((m.c.deleted_at.is_not(None), 1), else_=0)).label("deleted"),
            func.sum(case((shown, 1), else_=0)).label("shown"),
        )
        .select_from(m.outerjoin(a, a.c.id == m.c.account_id))
        .where(*_mention_scope(r, m))
        .group_by(m.c.platform)
    )
    out = ScopeCounts()
    for row in conn.execute(q):
        n, deleted, shown_n = int(row.n), int(row.deleted or 0), int(row.shown or 0)
        out.in_scope += n
        out.deleted += deleted
        out.exportable += shown_n
        out.withheld_opt_out += n - deleted - shown_n
        out.by_platform[row.platform] = shown_n
    return out


def preview_mentions(conn: Connection, r: Resolved, limit: int = 200) -> list[dict[str, Any]]:
    """The newest `limit` exportable mentions, for the Explore page (bounded)."""
    m, a = _t(Mention), _t(Account)
    q = (
        select(
            m.c.created_at,
            m.c.platform,
            a.c.handle.label("author"),
            m.c.title,
            m.c.text,
            m.c.url,
            m.c.like_count,
            m.c.repost_count,
            m.c.reply_count,
        )
        .select_from(m.outerjoin(a, a.c.id == m.c.account_id))
        .where(
            *_mention_scope(r, m),
            mention_displayable(
                m,
                a,
                movement_id=r.movement_id,
                discoverable_false_is_opt_out=r.discoverable_false_is_opt_out,
            ),
        )
        .order_by(m.c.created_ts.desc(), m.c.id.desc())
        .limit(limit)
    )
    return [dict(row._mapping) for row in conn.execute(q)]


def preview(
    conn: Connection,
    scope: Scope,
    *,
    movement: str,
    event: str | None = None,
    search: str | None = None,
    limit: int = 200,
) -> dict[str, Any]:
    """The Explore page's counts and newest `limit` exportable mentions for the dashboard's
    filters (`scope`, plus the movement's slug, the event and a text search): one named query,
    so the dashboard caches it, and runs it ahead of the minute, as any other."""
    r = resolve(
        conn,
        ExportFilters(
            movement=movement,
            since=datetime.fromtimestamp(scope.start_ts, UTC),
            until=datetime.fromtimestamp(scope.end_ts, UTC),
            platforms=tuple(scope.platforms),
            event=event,
            search=search,
        ),
    )
    counts = scope_counts(conn, r)
    return {
        "in_filter": counts.in_scope,
        "exportable": counts.exportable,
        "withheld": counts.withheld_opt_out,
        "deleted": counts.deleted,
        "rows": preview_mentions(conn, r, limit=limit),
    }


# -- accounts ---------------------------------------------------------------------------------


def _not_opted_out(r: Resolved, a: Any) -> Any:
    return not_(
        func_coalesce(
            account_opted_out(a, discoverable_false_is_opt_out=r.discoverable_false_is_opt_out)
        )
    )


def _edge_scope(r: Resolved, e: Any, tm: Any) -> list[Any]:
    """Edges whose target mention is in the filter's movement/platforms and whose time is in
    the window; `tm` is the target mention (inner-joined). An edge whose own post (the reply,
    quote or linking entry) was deleted is withheld with it: the author took it back. So is
    an undone repost or boost (`amplification.undone_at`, migration 0038)."""
    vm = _t(Mention).alias("vm")
    clauses: list[Any] = [
        e.c.undone_at.is_(None),
        not_(
            exists(
                select(vm.c.id).where(vm.c.id == e.c.via_mention_id, vm.c.deleted_at.is_not(None))
            )
        ),
    ]
    clauses.extend(_shared_scope(r, e.c.created_ts, e.c.platform, tm.c.id))
    return clauses


def iter_accounts(
    conn: Connection, r: Resolved, *, chunk_size: int = DEFAULT_CHUNK
) -> Iterator[list[dict[str, Any]]]:
    """Accounts that wrote an exportable mention or gave an exportable edge in the filter,
    by id, with their counts inside the filter. Opted-out accounts never appear."""
    a, m = _t(Account), _t(Mention)
    e, tm, ta = _t(Amplification), _t(Mention).alias("tm"), _t(Account).alias("ta")
    am = _t(Account).alias("am")
    authored = exists(
        select(m.c.id)
        .select_from(m.outerjoin(am, am.c.id == m.c.account_id))
        .where(
            m.c.account_id == a.c.id,
            *_mention_scope(r, m),
            mention_displayable(
                m,
                am,
                movement_id=r.movement_id,
                discoverable_false_is_opt_out=r.discoverable_false_is_opt_out,
            ),
        )
    )
    amplified = exists(
        select(e.c.id)
        .select_from(
            e.join(tm, tm.c.id == e.c.target_mention_id).outerjoin(ta, ta.c.id == tm.c.account_id)
        )
        .where(
            e.c.source_account_id == a.c.id,
            *_edge_scope(r, e, tm),
            mention_displayable(
                tm,
                ta,
                movement_id=r.movement_id,
                discoverable_false_is_opt_out=r.discoverable_false_is_opt_out,
            ),
        )
    )
    base = (
        select(
            a.c.id,
            a.c.platform,
            a.c.native_id,
            a.c.handle,
            a.c.display_name,
            a.c.url,
            a.c.instance,
            a.c.bot,
            a.c.first_seen_at,
            a.c.person_id,
        )
        .where(_not_opted_out(r, a), or_(authored, amplified))
        .order_by(a.c.id)
    )
    last: int | None = None
    while True:
        q = base if last is None else base.where(a.c.id > last)
        rows = [dict(x._mapping) for x in conn.execute(q.limit(chunk_size))]
        if not rows:
            return
        _add_account_counts(conn, r, rows)
        yield rows
        if len(rows) < chunk_size:
            return
        last = rows[-1]["id"]


def _add_account_counts(conn: Connection, r: Resolved, rows: list[dict[str, Any]]) -> None:
    """Per-account counts within the filter, for one chunk of accounts (grouped queries)."""
    ids = [row["id"] for row in rows]
    m, am = _t(Mention), _t(Account).alias("am")
    e, tm, ta = _t(Amplification), _t(Mention).alias("tm"), _t(Account).alias("ta")
    shown_m = mention_displayable(
        m,
        am,
        movement_id=r.movement_id,
        discoverable_false_is_opt_out=r.discoverable_false_is_opt_out,
    )
    shown_t = mention_displayable(
        tm,
        ta,
        movement_id=r.movement_id,
        discoverable_false_is_opt_out=r.discoverable_false_is_opt_out,
    )
    authored = {
        row[0]: (int(row[1]), row[2])
        for row in conn.execute(
            select(m.c.account_id, func.count(), func.min(m.c.created_ts))
            .select_from(m.outerjoin(am, am.c.id == m.c.account_id))
            .where(m.c.account_id.in_(ids), *_mention_scope(r, m), shown_m)
            .group_by(m.c.account_id)
        )
    }
    given = {
        row[0]: (int(row[1]), row[2])
        for row in conn.execute(
            select(e.c.source_account_id, func.count(), func.min(e.c.created_ts))
            .select_from(
                e.join(tm, tm.c.id == e.c.target_mention_id).outerjoin(
                    ta, ta.c.id == tm.c.account_id
                )
            )
            .where(e.c.source_account_id.in_(ids), *_edge_scope(r, e, tm), shown_t)
            .group_by(e.c.source_account_id)
        )
    }
    sa = _t(Account).alias("sa")
    received = {
        row[0]: int(row[1])
        for row in conn.execute(
            select(tm.c.account_id, func.count())
            .select_from(
                e.join(tm, tm.c.id == e.c.target_mention_id)
                .outerjoin(ta, ta.c.id == tm.c.account_id)
                .join(sa, sa.c.id == e.c.source_account_id)
            )
            .where(tm.c.account_id.in_(ids), *_edge_scope(r, e, tm), shown_t, _not_opted_out(r, sa))
            .group_by(tm.c.account_id)
        )
    }
    for row in rows:
        n, first_m = authored.get(row["id"], (0, None))
        g, first_e = given.get(row["id"], (0, None))
        row["mentions"] = n
        row["amplifications_given"] = g
        row["amplifications_received"] = received.get(row["id"], 0)
        firsts = [t for t in (first_m, first_e) if t is not None]
        row["first_seen_ts"] = min(firsts) if firsts else None


def opted_out_account_count(conn: Connection, r: Resolved) -> int:
    """Opted-out authors of mentions in the filter: counted, never listed."""
    m, a = _t(Mention), _t(Account)
    q = (
        select(func.count(func.distinct(a.c.id)))
        .select_from(m.join(a, a.c.id == m.c.account_id))
        .where(
            *_mention_scope(r, m),
            func_coalesce(
                account_opted_out(a, discoverable_false_is_opt_out=r.discoverable_false_is_opt_out)
            ),
        )
    )
    return int(conn.execute(q).scalar() or 0)


# -- amplification edges ----------------------------------------------------------------------


def _edge_select(r: Resolved) -> tuple[Any, list[Any], Any, Any]:
    """FROM, WHERE, the edge's target account and the aliased target mention for exportable
    edges: target mention exportable, source account not opted out."""
    e, tm, ta, sa = (
        _t(Amplification),
        _t(Mention).alias("tm"),
        _t(Account).alias("ta"),
        _t(Account).alias("sa"),
    )
    target_account = func.coalesce(e.c.target_account_id, tm.c.account_id)
    frm = (
        e.join(tm, tm.c.id == e.c.target_mention_id)
        .outerjoin(ta, ta.c.id == tm.c.account_id)
        .join(sa, sa.c.id == e.c.source_account_id)
    )
    where = [
        *_edge_scope(r, e, tm),
        mention_displayable(
            tm,
            ta,
            movement_id=r.movement_id,
            discoverable_false_is_opt_out=r.discoverable_false_is_opt_out,
        ),
        _not_opted_out(r, sa),
    ]
    return frm, where, target_account, tm


def _person_of(account_id: Any) -> Any:
    """The person of an account id (a primary-key probe; NULL for no account)."""
    pa = _t(Account).alias("person_of")
    return select(pa.c.person_id).where(pa.c.id == account_id).scalar_subquery()


def iter_edges(
    conn: Connection, r: Resolved, *, chunk_size: int = DEFAULT_CHUNK
) -> Iterator[list[Row[Any]]]:
    """Amplification edges into exportable mentions of the filter, from accounts that did not
    opt out, oldest first."""
    e = _t(Amplification)
    frm, where, target_account, tm = _edge_select(r)
    refs, ref_cols = _withheld_references(e, ("via_mention_id",), r.discoverable_false_is_opt_out)
    base = (
        select(
            e.c.id,
            e.c.kind,
            e.c.platform,
            e.c.source_account_id,
            e.c.target_mention_id,
            target_account.label("target_account_id"),
            ref_cols["via_mention_id"],
            ref_cols["via_mention_id_withheld"],
            _fast(conn, e.c.created_at),
            e.c.created_ts,
            tm.c.native_id.label("target_native_id"),
            _person_of(e.c.source_account_id).label("source_person_id"),
            _person_of(target_account).label("target_person_id"),
        )
        .select_from(refs(frm))
        .where(*where)
        .order_by(e.c.created_ts, e.c.id)
    )
    yield from _keyset(conn, base, (e.c.created_ts, e.c.id), chunk_size, None)


def edge_counts(conn: Connection, r: Resolved) -> dict[str, int]:
    """All edges in the filter vs. exportable ones (the rest touch opted-out or deleted)."""
    e, tm = _t(Amplification), _t(Mention).alias("tm")
    total = conn.execute(
        select(func.count())
        .select_from(e.join(tm, tm.c.id == e.c.target_mention_id))
        .where(*_edge_scope(r, e, tm))
    ).scalar()
    frm, where, _, _ = _edge_select(r)
    shown = conn.execute(select(func.count()).select_from(frm).where(*where)).scalar()
    return {"in_scope": int(total or 0), "exportable": int(shown or 0)}


def iter_network_edges(conn: Connection, r: Resolved) -> Iterator[Row[Any]]:
    """Account -> account amplification, aggregated per (source, target, kind) in SQL and
    ordered by pair, so the network writer aggregates pairs while streaming."""
    e = _t(Amplification)
    frm, where, target_account, _ = _edge_select(r)
    q = (
        select(
            e.c.source_account_id,
            target_account.label("target_account_id"),
            e.c.kind,
            e.c.platform,
            func.count().label("n"),
            func.min(e.c.created_ts).label("first_ts"),
        )
        .select_from(frm)
        .where(*where, target_account.is_not(None))
        .group_by(e.c.source_account_id, target_account, e.c.kind, e.c.platform)
        .order_by(e.c.source_account_id, target_account, e.c.kind, e.c.platform)
    )
    yield from conn.execute(q.execution_options(yield_per=DEFAULT_CHUNK))


# -- events -----------------------------------------------------------------------------------


def events(conn: Connection, r: Resolved) -> list[dict[str, Any]]:
    """Events in the filter (few rows), with the exportable mentions inside each window."""
    ev, mv, m, a = _t(Event), _t(Movement), _t(Mention), _t(Account)
    q = select(
        ev.c.id,
        ev.c.slug,
        ev.c.name,
        mv.c.slug.label("movement"),
        ev.c.starts_at,
        ev.c.ends_at,
        ev.c.timezone,
        ev.c.hashtags,
        ev.c.place,
    ).select_from(ev.outerjoin(mv, mv.c.id == ev.c.movement_id))
    if r.event_id is not None:
        q = q.where(ev.c.id == r.event_id)
    if r.movement_id is not None:
        q = q.where(or_(ev.c.movement_id.is_(None), ev.c.movement_id == r.movement_id))
    out = []
    for row in conn.execute(q.order_by(ev.c.starts_at, ev.c.id)):
        start, end = _ts(row.starts_at), _ts(row.ends_at)
        if r.ts_from is not None and end is not None and end <= r.ts_from:
            continue
        if r.ts_to is not None and start is not None and start >= r.ts_to:
            continue
        d = dict(row._mapping)
        lo = max(x for x in (start, r.ts_from) if x is not None)
        hi = min(x for x in (end, r.ts_to) if x is not None)
        inner = Resolved(
            filters=r.filters,
            movement_id=r.movement_id,
            ts_from=lo,
            ts_to=hi,
            platforms=r.platforms,
            discoverable_false_is_opt_out=r.discoverable_false_is_opt_out,
            empty=lo >= hi,
        )
        d["mentions"] = int(
            conn.execute(
                select(func.count())
                .select_from(m.outerjoin(a, a.c.id == m.c.account_id))
                .where(
                    *_mention_scope(inner, m),
                    m.c.deleted_at.is_(None),
                )
            ).scalar()
            or 0
        )
        out.append(d)
    return out


# -- collection record: sources and runs (for the data card) ----------------------------------


def sources_in_scope(conn: Connection, r: Resolved) -> list[dict[str, Any]]:
    s = _t(Source)
    q = select(s).order_by(s.c.platform, s.c.key)
    if r.platforms:
        plat = set(r.platforms)
        # Pingbacks and webmentions are collected by the blog collectors.
        if plat & {"pingback", "webmention"}:
            plat.add("blog")
        q = q.where(s.c.platform.in_(sorted(plat)))
    return [dict(row._mapping) for row in conn.execute(q)]


def iter_runs(
    conn: Connection, source_id: int, ts_from: datetime | None, ts_to: datetime | None
) -> Iterator[Any]:
    """The runs of one source in a window, oldest first, streamed (a loop makes many)."""
    run = _t(CollectorRun)
    q = select(
        run.c.started_at,
        run.c.finished_at,
        run.c.outcome,
        run.c.error,
        run.c.fetched,
        run.c.new,
        run.c.skipped,
        run.c.skip_reasons,
        run.c.signals,
    ).where(run.c.source_id == source_id)
    if ts_from is not None:
        q = q.where(run.c.started_at >= ts_from)
    if ts_to is not None:
        q = q.where(run.c.started_at < ts_to)
    yield from conn.execute(
        q.order_by(run.c.started_at, run.c.id).execution_options(yield_per=DEFAULT_CHUNK)
    )


def exported_period(conn: Connection, r: Resolved) -> tuple[datetime | None, datetime | None]:
    """First and last creation time of exportable mentions in the filter."""
    m, a = _t(Mention), _t(Account)
    row = conn.execute(
        select(func.min(m.c.created_ts), func.max(m.c.created_ts))
        .select_from(m.outerjoin(a, a.c.id == m.c.account_id))
        .where(*_mention_scope(r, m), m.c.deleted_at.is_(None))
    ).first()
    if row is None or row[0] is None:
        return None, None
    return (
        datetime.fromtimestamp(row[0], UTC),
        datetime.fromtimestamp(row[1], UTC),
    )


# -- retention and recheck ---------------------------------------------------------------------


def store_opt_out_flags(conn: Connection, account_id: int, flags: dict[str, bool | None]) -> None:
    """Record opt-out flags a recheck saw on the author's profile (unknown never overwrites)."""
    known = {k: v for k, v in flags.items() if v is not None}
    if known:
        a = _t(Account)
        conn.execute(a.update().where(a.c.id == account_id).values(**known))


def purge_payloads(
    conn: Connection, older_than: datetime, *, batch: int = 5_000, max_batches: int | None = None
) -> int:
    """Delete raw payloads fetched before `older_than`, in bounded batches; returns the count."""
    p = _t(MentionPayload)
    total = 0
    rounds = 0
    while max_batches is None or rounds < max_batches:
        rounds += 1
        ids = [
            row[0]
            for row in conn.execute(
                select(p.c.mention_id).where(p.c.fetched_at < older_than).limit(batch)
            )
        ]
        if not ids:
            return total
        conn.execute(p.delete().where(p.c.mention_id.in_(ids)))
        total += len(ids)
        if len(ids) < batch:
            return total
    return total


def recent_mentions(
    conn: Connection,
    *,
    since: datetime,
    platforms: Sequence[str] = (),
    after: tuple[int, int] | None = None,
    limit: int = 500,
) -> list[Row[Any]]:
    """One page of non-deleted mentions created since `since`, oldest first, after the
    (created_ts, id) key `after` (for `recheck`, which opens a short connection per page)."""
    m = _t(Mention)
    q = select(m.c.id, m.c.platform, m.c.native_id, m.c.url, m.c.account_id, m.c.created_ts).where(
        m.c.created_ts >= _ts(since), m.c.deleted_at.is_(None)
    )
    if platforms:
        q = q.where(m.c.platform.in_(list(platforms)))
    if after is not None:
        q = q.where(
            m.c.created_ts >= after[0],
            tuple_(m.c.created_ts, m.c.id) > tuple_(literal(after[0]), literal(after[1])),
        )
    return list(conn.execute(q.order_by(m.c.created_ts, m.c.id).limit(limit)))


def mention_states(
    conn: Connection, keys: Sequence[tuple[str, str]], *, discoverable_false_is_opt_out: bool = True
) -> dict[tuple[str, str], str]:
    """For (platform, native_id) keys known to the store: 'deleted', 'opted_out' or 'ok'."""
    m, a = _t(Mention), _t(Account)
    out: dict[tuple[str, str], str] = {}
    by_platform: dict[str, list[str]] = {}
    for p, n in keys:
        by_platform.setdefault(p, []).append(n)
    opted = func_coalesce(
        account_opted_out(a, discoverable_false_is_opt_out=discoverable_false_is_opt_out)
    )
    for platform, natives in by_platform.items():
        for i in range(0, len(natives), 500):
            chunk = natives[i : i + 500]
            q = (
                select(
                    m.c.native_id,
                    m.c.deleted_at.is_not(None).label("deleted"),
                    opted.label("opted_out"),
                )
                .select_from(m.outerjoin(a, a.c.id == m.c.account_id))
                .where(m.c.platform == platform, m.c.native_id.in_(chunk))
            )
            for row in conn.execute(q):
                state = "deleted" if row.deleted else ("opted_out" if row.opted_out else "ok")
                out[(platform, row.native_id)] = state
    return out


# -- references to people inside links (groundswell.export.links) ------------------------------


def blog_hosts(conn: Connection) -> dict[str, int]:
    """Host -> account id of every blog-like account: a blog's account *is* its host, so a
    link into that host leads to its author (few rows: one per tracked or linking blog)."""
    from storage.models_blogs import URL_INDEXED_PLATFORMS

    a = _t(Account)
    q = select(a.c.native_id, a.c.id).where(a.c.platform.in_(URL_INDEXED_PLATFORMS))
    return {str(host).lower(): int(i) for host, i in conn.execute(q)}


def bluesky_dids_by_handle(conn: Connection) -> dict[str, str]:
    """Lower-case handle -> DID of the Bluesky accounts in the store (bsky.app links name
    the handle, the store's ids the DID)."""
    a = _t(Account)
    q = select(a.c.handle, a.c.native_id).where(a.c.platform == "bluesky", a.c.handle.is_not(None))
    return {str(h).lower(): str(did) for h, did in conn.execute(q)}


def blog_mentions_by_url(conn: Connection, urls: Sequence[str]) -> dict[str, int]:
    """URL -> mention id for blog-like mentions with one of these page URLs (served by the
    partial index on mention.url)."""
    from storage.models_blogs import URL_INDEXED_PLATFORMS

    m = _t(Mention)
    out: dict[str, int] = {}
    wanted = sorted(set(urls))
    for i in range(0, len(wanted), 500):
        q = select(m.c.url, m.c.id).where(
            m.c.platform.in_(URL_INDEXED_PLATFORMS), m.c.url.in_(wanted[i : i + 500])
        )
        out.update({str(u): int(x) for u, x in conn.execute(q)})
    return out


def withheld_among(
    conn: Connection,
    mention_ids: Sequence[int],
    account_ids: Sequence[int],
    *,
    discoverable_false_is_opt_out: bool = True,
) -> tuple[set[int], set[int]]:
    """Of these ids, the stored mentions that may not be shown (deleted, opted-out author,
    consent-gated match) and the accounts that opted out. Ids the store does not know are in
    neither set: unknown is not an opt-out."""
    m, a = _t(Mention), _t(Account)
    mentions: set[int] = set()
    accounts: set[int] = set()
    shown = mention_displayable(m, a, discoverable_false_is_opt_out=discoverable_false_is_opt_out)
    wanted = sorted(set(mention_ids))
    for i in range(0, len(wanted), 500):
        q = (
            select(m.c.id)
            .select_from(m.outerjoin(a, a.c.id == m.c.account_id))
            .where(m.c.id.in_(wanted[i : i + 500]), not_(shown))
        )
        mentions.update(int(x) for x in conn.execute(q).scalars())
    opted = func_coalesce(
        account_opted_out(a, discoverable_false_is_opt_out=discoverable_false_is_opt_out)
    )
    wanted = sorted(set(account_ids))
    for i in range(0, len(wanted), 500):
        q = select(a.c.id).where(a.c.id.in_(wanted[i : i + 500]), opted)
        accounts.update(int(x) for x in conn.execute(q).scalars())
    return mentions, accounts


__all__ = [
    "DEFAULT_CHUNK",
    "ExportFilters",
    "FilterError",
    "Resolved",
    "ScopeCounts",
    "blog_hosts",
    "blog_mentions_by_url",
    "bluesky_dids_by_handle",
    "edge_counts",
    "events",
    "exported_period",
    "iter_accounts",
    "iter_edges",
    "iter_mentions",
    "iter_network_edges",
    "iter_runs",
    "mention_states",
    "opted_out_account_count",
    "preview_mentions",
    "purge_payloads",
    "recent_mentions",
    "resolve",
    "scope_counts",
    "sources_in_scope",
    "withheld_among",
]
