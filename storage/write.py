"""The bulk write path: one `Batch` (a page and the cursor covering it) in one transaction.

Every collector, the receiver and the demo go through `write_batch`. It is SQLAlchemy Core
`INSERT ... ON CONFLICT` with executemany on both dialects (DESIGN.md section 3), never one ORM
object per row; on PostgreSQL, large pages COPY into staging tables and run the same statement
once as `INSERT ... SELECT` (`storage.bulk.copy_upsert`):

- accounts and mentions are upserted on their stable ids: counters and edits update in place,
  tombstones stay tombstones, known opt-out flags are never overwritten by "unknown";
- matches are inserted with `ON CONFLICT DO NOTHING RETURNING`, so exactly the matches that are
  new in this transaction bump the rollups (hourly volume, per-movement authors). That is what
  keeps replays, overlapping instances and concurrent workers from counting anything twice;
- the source's cursor (and ETag / Last-Modified) is updated in the same transaction, guarded by
  the worker's lease, so a killed worker loses nothing and duplicates nothing.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import chain
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    Connection,
    Table,
    and_,
    bindparam,
    case,
    func,
    literal_column,
    null,
    or_,
    select,
    update,
)

from domain.batch_matching import content_matches
from domain.matching import MovementRule, weaker_vias
from domain.records import AccountRecord, Batch, MentionRecord, account_id, mention_id
from domain.url_identity import URL_PLATFORMS, canonical_native_id, canonical_url
from storage import bulk
from storage.bulk import copy_upsert, executemany, insert_for
from storage.cascades import grow_cascades, shrink_cascades
from storage.id_lists import ids_param as _ids
from storage.id_lists import in_ids_text as _in_ids
from storage.linked_days import add_linked_days
from storage.match_chain import link_previous_matches, plan_links
from storage.models import (
    Account,
    Amplification,
    Mention,
    MentionMatch,
    MentionPayload,
    MentionSeen,
    MovementAuthor,
    RollupHourly,
    Source,
)
from storage.models_deletions import DeletedKey
from storage.models_rollups import (
    AMPLIFIER_DAY_S,
    AMPLIFIER_PERIOD_S,
    MovementAmplifierDay,
    MovementAmplifierPeriod,
    MovementAuthorDay,
    MovementAuthorPlatform,
    MovementEdge,
    MovementInstanceDay,
    MovementInstanceHour,
    MovementPlace,
    MovementPlaceActive,
    MovementPlatformDay,
)
from storage.people_cells import count_people
from storage.people_links import link_written, renamed_accounts, store_profile_claims
from storage.shares import bump_shares
from storage.threads import add_thread_matches

_CHUNK = 500  # ids per IN (...) list
# Tombstone reasons (mention.deleted_reason; docs/blogs.md, "Tombstones")
DELETED = "deleted"  # final: the platform (or its author) deleted it
GONE = "gone"  # reversible: the page or its link was gone when checked

# How long a deletion seen before its post is remembered (storage/models_deletions.py): the
# race it guards against (a search index or a timeline still carrying a post a stream already
# deleted) lasts minutes; three days leave room for a worker that was down meanwhile.
DELETION_MEMORY = timedelta(days=3)


class LeaseLost(RuntimeError):
    """Another worker owns this source now; this worker's batch is rolled back."""


@dataclass(slots=True)
class WriteResult:
    new: int = 0
    updated: int = 0
    unmatched: int = 0
    tombstoned: int = 0
    new_matches: int = 0
    edges: int = 0
    undone: int = 0  # reposts and boosts undone (`undo_edges`)
    people_linked: int = 0  # evidence rows that accounts of the batch brought (people_links)
    skipped: int = 0
    skip_reasons: Counter[str] = field(default_factory=Counter)

    def add(self, other: WriteResult) -> None:
        self.new += other.new
        self.updated += other.updated
        self.unmatched += other.unmatched
        self.tombstoned += other.tombstoned
        self.new_matches += other.new_matches
        self.edges += other.edges
        self.undone += other.undone
        self.people_linked += other.people_linked
        self.skipped += other.skipped
        self.skip_reasons.update(other.skip_reasons)


def _t(model: Any) -> Table:
    return model.__table__  # type: ignore[no-any-return]


def _greatest(conn: Connection, a: Any, b: Any) -> Any:
    # SQLite's two-argument max() is scalar; PostgreSQL spells it GREATEST.
    if conn.dialect.name == "postgresql":
        return func.greatest(a, b)
    return func.max(a, b)


def _least(conn: Connection, a: Any, b: Any) -> Any:
    if conn.dialect.name == "postgresql":
        return func.least(a, b)
    return func.min(a, b)


def _chunks(seq: Sequence[Any], n: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(seq), n):
        yield seq[i : i + n]


def _account_row(a: AccountRecord, now: datetime) -> dict[str, Any]:
    aid = account_id(a.platform, a.native_id)
    return {
        "id": aid,
        "platform": a.platform,
        "native_id": a.native_id,
        "handle": a.handle,
        "display_name": a.display_name,
        "url": a.url,
        "instance": a.instance,
        "avatar_url": a.avatar_url,
        "bot": a.bot,
        "indexable": a.indexable,
        "discoverable": a.discoverable,
        "noindex": a.noindex,
        "no_unauthenticated": a.no_unauthenticated,
        "first_seen_at": now,
        "updated_at": now,
        # A new account is its own person; only the linking pass (storage/people_links.py)
        # moves it, so the upsert below never writes this column of a stored account.
        "person_id": aid,
    }


def _mention_row(m: MentionRecord, now: datetime) -> dict[str, Any]:
    ts = int(m.created_at.timestamp())
    native_id, url, links = m.native_id, m.url, m.links
    if m.platform in URL_PLATFORMS:  # one page, one identity (domain/url_identity.py)
        native_id = canonical_native_id(m.platform, native_id)
        url = canonical_url(url) if url else None
        links = list(dict.fromkeys(canonical_url(x) for x in links))
    return {
        "id": mention_id(m.platform, native_id),
        "platform": m.platform,
        "native_id": native_id,
        "url": url,
        "account_id": m.author.id if m.author else None,
        "created_at": m.created_at,
        "created_ts": ts,
        "created_hour": ts // 3600,
        "title": m.title,
        "text": m.text,
        "html": m.html,
        "lang": m.lang,
        "instance": m.instance,
        "reply_to_id": mention_id(*m.reply_to) if m.reply_to else None,
        "quote_of_id": mention_id(*m.quote_of) if m.quote_of else None,
        "like_count": m.like_count,
        "repost_count": m.repost_count,
        "reply_count": m.reply_count,
        "quote_count": m.quote_count,
        "sensitive": bool(m.sensitive),
        "spoiler_text": m.spoiler_text,
        "media": m.media,
        "links": links or None,
        "hashtags": m.hashtags or None,
        "first_seen_at": now,
        "updated_at": now,
        "edited_at": m.edited_at,
        "deleted_at": None,
    }


def _existing(conn: Connection, ids: Sequence[int]) -> dict[int, bool]:
    """id -> is a final tombstone (never written again), for the ids already in the store. A
    reversible tombstone (`deleted_reason` "gone") is not final: seeing it again restores it."""
    mention = _t(Mention)
    stmt = select(mention.c.id, mention.c.deleted_at, mention.c.deleted_reason).where(
        _in_ids(conn, "mention.id")
    )
    return {
        row[0]: row[1] is not None and row[2] != GONE for row in conn.execute(stmt, _ids(conn, ids))
    }


def upsert_accounts(conn: Connection, accounts: Iterable[AccountRecord], now: datetime) -> int:
    rows: dict[int, dict[str, Any]] = {}
    for a in accounts:
        row = _account_row(a, now)
        prev = rows.get(row["id"])
        if prev is not None:  # keep what an earlier sighting in this batch knew
            for k, v in row.items():
                if v is None and prev.get(k) is not None:
                    row[k] = prev[k]
        rows[row["id"]] = row
    if not rows:
        return 0
    table = _t(Account)

    def stmt() -> Any:
        ins = insert_for(conn, table)
        ex = ins.excluded
        keep = ("handle", "display_name", "url", "instance", "avatar_url", "bot")
        flags = ("indexable", "discoverable", "noindex", "no_unauthenticated")
        set_: dict[str, Any] = {k: func.coalesce(ex[k], table.c[k]) for k in keep + flags}
        set_["updated_at"] = ex.updated_at
        # Rewritten only when the profile says something new or the row was last written
        # over an hour ago (`updated_at`: last seen, to the hour; retention reads it in
        # days). A prolific author is in every page: rewriting an unchanged row each time
        # was a new row version and four index entries on PostgreSQL, a page write on
        # SQLite (docs/benchmarks/ingest.md).
        if conn.dialect.name == "postgresql":
            stale = table.c.updated_at < ex.updated_at - literal_column("interval '1 hour'")
        else:  # times are ISO text; datetime() drops the microseconds: to the second
            stale = table.c.updated_at < func.datetime(ex.updated_at, literal_column("'-1 hour'"))
        changed = [ex[k].is_not(None) & ex[k].is_distinct_from(table.c[k]) for k in keep + flags]
        return ins.on_conflict_do_update(
            index_elements=[table.c.id],
            set_=set_,
            where=or_(table.c.updated_at.is_(None), stale, *changed),
        )

    executemany(conn, stmt, table, "accounts", [rows[k] for k in sorted(rows)])
    return len(rows)


def write_batch(
    conn: Connection,
    batch: Batch,
    rules: Sequence[MovementRule],
    *,
    source_id: int | None = None,
    lease_owner: str | None = None,
    now: datetime | None = None,
) -> WriteResult:
    """Write `batch` and, when `source_id` is given, its cursor, inside the caller's transaction.

    The caller owns the transaction (`storage.engine.write_tx`): everything here commits or
    rolls back together. Mentions that match no movement are not stored (counted as
    `unmatched`); edges and deletions are applied whatever the matches.
    """
    now = now or datetime.now(UTC)
    result = WriteResult()
    for s in batch.skipped:
        result.skipped += 1
        result.skip_reasons[s.reason] += 1

    # Matching first: only matching mentions become rows.
    mention_rows: dict[int, dict[str, Any]] = {}
    records: dict[int, MentionRecord] = {}
    match_rows: dict[tuple[int, int], dict[str, Any]] = {}
    # Collectors' batches arrive matched (`domain.batch_matching.match_batch`, before the
    # transaction); a batch handed over unmatched (tools, tests, benches) is matched here by the
    # same domain function.
    matched = [
        (m, m.matches if m.matches is not None else content_matches(rules, m))
        for m in batch.mentions
    ]
    matched = add_thread_matches(conn, rules, matched)
    for m, matches in matched:
        if not matches:
            result.unmatched += 1
            continue
        row = _mention_row(m, now)
        mid = row["id"]
        mention_rows[mid] = row
        records[mid] = m
        for match in matches:
            match_rows[(match.movement_id, mid)] = {
                "movement_id": match.movement_id,
                "mention_id": mid,
                "via": match.via,
                "platform": m.platform,
                "account_id": row["account_id"],
                "created_ts": row["created_ts"],
            }

    accounts: list[AccountRecord] = list(batch.accounts)
    for mid in mention_rows:
        author = records[mid].author
        if author is not None:
            accounts.append(author)
    for e in batch.edges:
        accounts.append(e.source)
        if e.target_account is not None:
            accounts.append(e.target_account)
    # A handle that changed on a known account (a Jetstream identity event, or a post's
    # author, a reposter, a profile seen under a new handle) changes what the account proves
    # (a domain handle), so it is linked again below; read before the upsert overwrites it.
    renamed = renamed_accounts(conn, accounts)
    upsert_accounts(conn, accounts, now)
    claimed = store_profile_claims(
        conn, {a.id: a.claims for a in accounts if a.claims is not None}, now
    )
    claimed |= renamed

    if mention_rows:
        existing = _existing(conn, list(mention_rows))
        result.new = sum(1 for mid in mention_rows if mid not in existing)
        result.updated = len(mention_rows) - result.new
        # Rows go in key order: two workers upserting overlapping rows (the same status seen
        # through two instances, the same author) then lock them in the same order and can
        # only wait for each other, never deadlock (PostgreSQL).
        ordered = sorted(mention_rows)
        _upsert_mentions(conn, [mention_rows[k] for k in ordered])
        payloads = [
            {"mention_id": mid, "payload": records[mid].raw, "fetched_at": now}
            for mid in ordered
            if records[mid].raw is not None and not existing.get(mid, False)
        ]
        if payloads:
            executemany(conn, _payload_upsert(conn), _t(MentionPayload), "payloads", payloads)
        seen = [
            {
                "mention_id": mid,
                "seen_on": records[mid].seen_on,
                "first_seen_at": now,
                "local_id": records[mid].seen_local_id,
            }
            for mid in ordered
            if records[mid].seen_on
        ]
        if seen:
            executemany(conn, _seen_upsert(conn), _t(MentionSeen), "seen", seen)

    if match_rows:
        rows = [match_rows[k] for k in sorted(match_rows)]
        # Before the insert and the bump of `last_ts`, under the account locks taken above:
        # in-order matches (most) are inserted with their link; the rest are searched after.
        search = plan_links(conn, rows)
        new_matches = _insert_matches_and_rollups(conn, rows)
        result.new_matches = len(new_matches)
        upgrade_matches(conn, rows, new_matches)
        bump_dashboard_rollups(conn, new_matches)
        bump_shares(
            conn, new_matches, {mid: (rec.links, rec.hashtags) for mid, rec in records.items()}
        )
        relinked = (
            link_previous_matches(
                conn, [r for r in new_matches if (r["movement_id"], r["mention_id"]) in search]
            )
            if search
            else []
        )
        home = {mid: rec.author.platform for mid, rec in records.items() if rec.author}
        count_people(conn, new_matches, relinked, home)
    else:
        new_matches = []

    if batch.edges:
        result.edges = _insert_edges(conn, batch)

    added_edges = (
        link_movement_edges(conn, new_matches, batch) if new_matches or batch.edges else []
    )

    deletions = list(batch.deletions)
    if mention_rows:
        # Deleted before they were stored (a stream's delete ahead of a poll or a search
        # hit): stored as tombstones, never brought back (storage/models_deletions.py).
        deletions += deleted_before(conn, [(mention_rows[mid], records[mid]) for mid in ordered])
    if deletions:
        result.tombstoned = tombstone(conn, deletions, now)
    if batch.gone:
        result.tombstoned += tombstone(conn, batch.gone, now, reason=GONE)

    # Undone reposts and boosts: named by a deletion (Jetstream, the Mastodon stream), by a
    # deletion that came before them, or missing from a complete re-read (`Batch.listed`).
    undo_ids = [mention_id(*k) for k in deletions] + _undone_before(conn, batch)
    removed = undo_edges(conn, undo_ids, unlisted_edges(conn, batch), now)
    result.undone = len({r[1] for r in removed})
    shrink: list[Any] = []
    if removed:
        gone = {(r[0], r[1]) for r in removed}
        fresh = {(r[0], r[1]) for r in added_edges}
        added_edges = [r for r in added_edges if (r[0], r[1]) not in gone]
        shrink = [r[:7] for r in removed if (r[0], r[1]) not in fresh]

    # New accounts and changed profile claims may be evidence that two accounts are one
    # person (storage/people_links.py); known authors cost one indexed lookup.
    result.people_linked = link_written(conn, (a.id for a in accounts), claimed, now).evidence_added

    if source_id is not None:
        save_cursor(conn, source_id, batch, lease_owner=lease_owner)
    if added_edges:
        # Last: on PostgreSQL it takes each movement's cascade lock, held until commit.
        grow_cascades(conn, [r[:7] for r in added_edges])
    if shrink:
        shrink_cascades(conn, shrink)
    return result


def _payload_upsert(conn: Connection) -> Any:
    def build() -> Any:
        table = _t(MentionPayload)
        ins = insert_for(conn, table)
        return ins.on_conflict_do_update(
            index_elements=[table.c.mention_id],
            set_={"payload": ins.excluded.payload, "fetched_at": ins.excluded.fetched_at},
        )

    return build


def _seen_upsert(conn: Connection) -> Any:
    def build() -> Any:
        seen_t = _t(MentionSeen)
        ins = insert_for(conn, seen_t)
        # A row stored before local ids were kept gets its id when the status is seen again.
        return ins.on_conflict_do_update(
            index_elements=[seen_t.c.mention_id, seen_t.c.seen_on],
            set_={"local_id": ins.excluded.local_id},
            where=seen_t.c.local_id.is_(None) & ins.excluded.local_id.is_not(None),
        )

    return build


def _upsert_mentions(conn: Connection, rows: list[dict[str, Any]]) -> None:
    executemany(conn, lambda: _mention_upsert(conn), _t(Mention), "mentions", rows)


def _mention_upsert(conn: Connection) -> Any:
    table = _t(Mention)
    ins = insert_for(conn, table)
    ex = ins.excluded
    set_: dict[str, Any] = {
        c: _greatest(conn, table.c[c], ex[c])
        for c in ("like_count", "repost_count", "reply_count", "quote_count")
    }
    for c in ("text", "html", "title", "spoiler_text", "media", "links", "hashtags", "lang"):
        set_[c] = ex[c]
    set_["sensitive"] = ex.sensitive
    set_["url"] = func.coalesce(table.c.url, ex.url)
    set_["edited_at"] = func.coalesce(ex.edited_at, table.c.edited_at)
    set_["updated_at"] = ex.updated_at
    # Seen again: a reversible tombstone comes back (its text, links and URL from this
    # sighting); a final one (the platform deleted it) stays a tombstone.
    set_["deleted_at"] = null()
    set_["deleted_reason"] = null()
    return ins.on_conflict_do_update(
        index_elements=[table.c.id],
        set_=set_,
        # a literal: the statement is compiled once and run with the rows' parameters only
        where=or_(
            table.c.deleted_at.is_(None), table.c.deleted_reason == literal_column(f"'{GONE}'")
        ),
    )


def _insert_matches_and_rollups(
    conn: Connection, rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Insert the matches; bump the hourly and author rollups by the new ones, returned."""
    table = _t(MentionMatch)

    def stmt() -> Any:
        return (
            insert_for(conn, table)
            .on_conflict_do_nothing(index_elements=[table.c.movement_id, table.c.mention_id])
            .returning(table.c.movement_id, table.c.mention_id)
        )

    if conn.dialect.name == "postgresql" and len(rows) >= bulk.COPY_MIN_ROWS:
        # RETURNING of INSERT ... SELECT ... DO NOTHING is exactly the rows it inserted.
        inserted = copy_upsert(conn, stmt, table, "matches", rows, returning=True)
    else:
        inserted = _insert_values_returning(conn, rows)
    if not inserted:
        return []
    by_key = {(r["movement_id"], r["mention_id"]): r for r in rows}
    hourly: Counter[tuple[int, str, int]] = Counter()
    authors: dict[tuple[int, int], list[Any]] = {}
    for movement_id, mid in inserted:
        r = by_key[(movement_id, mid)]
        ts = r["created_ts"]
        hourly[(movement_id, r["platform"], ts // 3600)] += 1
        if r["account_id"] is not None:
            key = (movement_id, r["account_id"])
            cur = authors.get(key)
            if cur is None:
                authors[key] = [r["platform"], ts, ts, 1]
            else:
                if (ts, r["platform"]) < (cur[1], cur[0]):  # "first seen on" the earliest's
                    cur[0] = r["platform"]
                cur[1] = min(cur[1], ts)
                cur[2] = max(cur[2], ts)
                cur[3] += 1

    rt = _t(RollupHourly)

    def hourly_upsert() -> Any:
        ins = insert_for(conn, rt)
        return ins.on_conflict_do_update(
            index_elements=[rt.c.movement_id, rt.c.platform, rt.c.hour],
            set_={"mentions": rt.c.mentions + ins.excluded.mentions},
        )

    executemany(
        conn,
        hourly_upsert,
        rt,
        "hourly",
        [
            {"movement_id": mv, "platform": p, "hour": h, "mentions": n}
            for (mv, p, h), n in sorted(hourly.items())
        ],
    )
    if authors:
        at = _t(MovementAuthor)

        def author_upsert() -> Any:
            ins = insert_for(conn, at)
            ex = ins.excluded
            return ins.on_conflict_do_update(
                index_elements=[at.c.movement_id, at.c.account_id],
                set_={
                    # the platform of the earliest match, whichever batch brought it
                    # ties broken by platform name, as within a batch and in migration 0022
                    "platform": case(
                        (
                            or_(
                                ex.first_ts < at.c.first_ts,
                                and_(ex.first_ts == at.c.first_ts, ex.platform < at.c.platform),
                            ),
                            ex.platform,
                        ),
                        else_=at.c.platform,
                    ),
                    "first_ts": _least(conn, at.c.first_ts, ex.first_ts),
                    "last_ts": _greatest(conn, at.c.last_ts, ex.last_ts),
                    "mentions": at.c.mentions + ex.mentions,
                },
            )

        executemany(
            conn,
            author_upsert,
            at,
            "authors",
            [
                {
                    "movement_id": mv,
                    "account_id": acc,
                    "platform": v[0],
                    "first_ts": v[1],
                    "last_ts": v[2],
                    "mentions": v[3],
                }
                for (mv, acc), v in sorted(authors.items())
            ],
        )
    return [by_key[(movement_id, mid)] for movement_id, mid in inserted]


def upgrade_matches(
    conn: Connection, rows: list[dict[str, Any]], new_matches: list[dict[str, Any]]
) -> None:
    """Stored matches take the stronger way their post matches now (`domain.matching.
    VIA_STRENGTH`): a reply matched "thread" that an edit gave the hashtag becomes "hashtag",
    and so passes the consent gate a hashtag passes. Only ever upwards (an older copy of the
    post from another instance never weakens it), and nothing is counted again: the rollups
    count matches, not how they matched. Costs one indexed read of the batch's already
    matched mentions (ix_match_mention); rows are updated only where the evidence grew."""
    new = {(r["movement_id"], r["mention_id"]) for r in new_matches}
    now = {
        (r["movement_id"], r["mention_id"]): r["via"]
        for r in rows
        if (r["movement_id"], r["mention_id"]) not in new and weaker_vias(r["via"])
    }
    if not now:
        return
    table = _t(MentionMatch)
    stored = conn.execute(
        select(table.c.movement_id, table.c.mention_id, table.c.via).where(
            _in_ids(conn, "mention_match.mention_id")
        ),
        _ids(conn, sorted({mid for _, mid in now})),
    )
    ups = sorted(
        (key, now[key])
        for key, via in (((r[0], r[1]), r[2]) for r in stored)
        if key in now and via in weaker_vias(now[key])
    )
    if ups:
        # Guarded by the weaker vias again: a concurrent writer's upgrade is never undone.
        stmt = (
            update(table)
            .where(
                table.c.movement_id == bindparam("mv"),
                table.c.mention_id == bindparam("mid"),
                table.c.via.in_(bindparam("weaker", expanding=True)),
            )
            .values(via=bindparam("new_via"))
        )
        for (mv, mid), via in ups:
            conn.execute(stmt, {"mv": mv, "mid": mid, "new_via": via, "weaker": weaker_vias(via)})


_MATCH_COLUMNS = (
    "movement_id",
    "mention_id",
    "via",
    "platform",
    "account_id",
    "created_ts",
    "prev_ts",
)
_MATCH_VALUES = itemgetter(*_MATCH_COLUMNS)


def _insert_values_returning(conn: Connection, rows: list[dict[str, Any]]) -> list[Any]:
    """Insert match rows with multi-row VALUES statements (`_CHUNK` rows each), RETURNING the
    (movement_id, mention_id) of the rows that were new. SQLAlchemy's insertmanyvalues did the
    same but processed every row's parameters through the Core machinery on each call."""
    out: list[Any] = []
    mark = "%s" if conn.dialect.name == "postgresql" else "?"
    row = "(" + ", ".join([mark] * len(_MATCH_COLUMNS)) + ")"
    for chunk in _chunks(rows):
        sql = (
            f"INSERT INTO mention_match ({', '.join(_MATCH_COLUMNS)}) "
            f"VALUES {', '.join([row] * len(chunk))} "
            "ON CONFLICT (movement_id, mention_id) DO NOTHING "
            "RETURNING movement_id, mention_id"
        )
        params = tuple(chain.from_iterable(map(_MATCH_VALUES, chunk)))
        out.extend(tuple(r) for r in conn.exec_driver_sql(sql, params).all())
    return out


def bump_dashboard_rollups(conn: Connection, new_matches: list[dict[str, Any]]) -> None:
    """Maintain the dashboard's place and per-platform author rollups
    (`storage/models_rollups.py`) from the matches new in this transaction.

    Runs after `movement_author` is upserted, so it reads each author's first time. A place's
    kind is its account's platform, not the platform of the author's first match: a blog whose
    first match was a pingback it sent is still a blog site reached, at that time. Every column
    is a min or a max: replays and concurrent writers cannot inflate anything.
    """
    if not new_matches:
        return
    last: dict[tuple[int, str, int], int] = {}
    authors: dict[int, set[int]] = defaultdict(set)
    for r in new_matches:
        acc = r["account_id"]
        if acc is None:
            continue
        key = (r["movement_id"], r["platform"], acc)
        last[key] = max(last.get(key, r["created_ts"]), r["created_ts"])
        authors[r["movement_id"]].add(acc)
    if not last:
        return
    _upsert_extreme(
        conn, MovementAuthorPlatform, ("movement_id", "platform", "account_id"), "last_ts", last
    )
    ma, acct = _t(MovementAuthor), _t(Account)
    first: dict[tuple[int, str, str], int] = {}
    place_of: dict[int, str] = {}
    stmt = (
        select(
            ma.c.account_id,
            ma.c.platform,
            ma.c.first_ts,
            func.coalesce(acct.c.instance, acct.c.native_id),
            acct.c.platform,
        )
        .select_from(ma.join(acct, acct.c.id == ma.c.account_id))
        .where(ma.c.movement_id == bindparam("mv"), _in_ids(conn, "movement_author.account_id"))
    )
    for mv, ids in authors.items():
        params = {"mv": mv, **_ids(conn, sorted(ids))}
        for acc, _first_platform, first_ts, place, kind in conn.execute(stmt, params).all():
            place_of[acc] = place
            if kind in ("mastodon", "blog"):
                k = (mv, kind, place)
                first[k] = min(first.get(k, first_ts), first_ts)
    _upsert_extreme(conn, MovementPlace, ("movement_id", "platform", "place"), "first_ts", first)
    _insert_presence(conn, new_matches, place_of)
    active: dict[tuple[int, str, str], int] = {}
    for (mv, platform, acc), ts in last.items():
        place = place_of.get(acc)
        if platform == "mastodon" and place is not None:
            k = (mv, "mastodon", place)
            active[k] = max(active.get(k, ts), ts)
    _upsert_extreme(
        conn, MovementPlaceActive, ("movement_id", "platform", "place"), "last_ts", active
    )


def _upsert_extreme(
    conn: Connection,
    model: Any,
    keys: tuple[str, ...],
    column: str,
    values: dict[tuple[Any, ...], int],
) -> None:
    """Upsert one timestamp per key, keeping the earliest (`first_*`) or latest (`last_*`) ever
    seen: order-free and idempotent, so replays and concurrent workers cannot move it wrongly.
    Rows go in key order (concurrent PostgreSQL writers then lock in the same order)."""
    if not values:
        return
    table = _t(model)

    def stmt() -> Any:
        ins = insert_for(conn, table)
        keep = _least if column.startswith("first") else _greatest
        return ins.on_conflict_do_update(
            index_elements=[table.c[k] for k in keys],
            set_={column: keep(conn, table.c[column], ins.excluded[column])},
        )

    executemany(
        conn,
        stmt,
        table,
        table.name,
        [{**dict(zip(keys, k, strict=True)), column: ts} for k, ts in sorted(values.items())],
    )


def _insert_presence(
    conn: Connection, new_matches: list[dict[str, Any]], place_of: dict[int, str]
) -> None:
    """Per UTC day: which authors (per platform), platforms and Mastodon home instances were
    active, and which of the authors are linked to another account (`movement_linked_day`);
    per UTC hour, the instances too. Presence rows with DO NOTHING: a repeat is a no-op."""
    authors: set[tuple[int, int, int, str]] = set()
    platforms: set[tuple[int, int, str]] = set()
    places: set[tuple[int, int, str]] = set()
    hourly_places: set[tuple[int, int, str]] = set()
    for r in new_matches:
        acc = r["account_id"]
        if acc is None:
            continue
        mv, day, platform = r["movement_id"], r["created_ts"] // 86400, r["platform"]
        authors.add((mv, day, acc, platform))
        platforms.add((mv, day, platform))
        if platform == "mastodon" and acc in place_of:
            places.add((mv, day, place_of[acc]))
            hourly_places.add((mv, r["created_ts"] // 3600, place_of[acc]))
    for model, keys, rows in (
        (MovementAuthorDay, ("movement_id", "day", "account_id", "platform"), authors),
        (MovementPlatformDay, ("movement_id", "day", "platform"), platforms),
        (MovementInstanceDay, ("movement_id", "day", "place"), places),
        (MovementInstanceHour, ("movement_id", "hour", "place"), hourly_places),
    ):
        if rows:
            table = _t(model)
            executemany(
                conn,
                lambda t=table: insert_for(conn, t).on_conflict_do_nothing(),
                table,
                table.name,
                [dict(zip(keys, r, strict=True)) for r in sorted(rows)],
            )
    # The linked authors' days and hours again, with their person (read now: after the
    # batch's account upsert, whose row locks a re-link waits for; storage/linked_days.py).
    add_linked_days(
        conn,
        authors,
        {
            (r["movement_id"], r["created_ts"] // 3600, r["account_id"], r["platform"])
            for r in new_matches
            if r["account_id"] is not None
        },
    )


# A `movement_edge` row as `link_movement_edges` and `undo_edges` return it (the cascades take
# the first seven, the amplifier periods 0, 2, 7 and 8).
_EDGE_ROW = (
    "movement_id",
    "edge_id",
    "created_ts",
    "kind",
    "platform",
    "target_mention_id",
    "via_mention_id",
    "source_account_id",
    "dst_account_id",
)


def link_movement_edges(
    conn: Connection, new_matches: list[dict[str, Any]], batch: Batch
) -> list[Any]:
    """Keep `movement_edge` (storage/models_rollups.py): an edge belongs to a movement once
    both it and its target's match are stored, whichever came last, so both sides are looked
    at: stored edges pointing at this batch's new matches, and this batch's edges pointing at
    matched mentions. Keyed on (movement, edge) with DO NOTHING, so repeats are harmless; the
    rows an INSERT really added (RETURNING: not those another transaction or an earlier batch
    wrote) are counted into the amplifier bounds (`bump_amplifier_periods`) and returned
    (movement, edge, time, kind, platform, target, via, source, target account) for the
    cascades."""
    amp, mm, m, me = _t(Amplification), _t(MentionMatch), _t(Mention), _t(MovementEdge)
    cols = [
        mm.c.movement_id,
        amp.c.id,
        amp.c.created_ts,
        amp.c.kind,
        amp.c.platform,
        amp.c.source_account_id,
        func.coalesce(amp.c.target_account_id, m.c.account_id),
        amp.c.target_mention_id,
        amp.c.via_mention_id,
    ]
    names = [
        "movement_id",
        "edge_id",
        "created_ts",
        "kind",
        "platform",
        "source_account_id",
        "dst_account_id",
        "target_mention_id",
        "via_mention_id",
    ]
    joined = amp.join(
        mm, (mm.c.mention_id == amp.c.target_mention_id) & amp.c.undone_at.is_(None)
    ).join(m, m.c.id == amp.c.target_mention_id)
    added: list[Any] = []
    for column, ids in (
        ("amplification.target_mention_id", {r["mention_id"] for r in new_matches}),
        ("amplification.id", {e.id for e in batch.edges}),
    ):
        if ids:
            sel = select(*cols).select_from(joined).where(_in_ids(conn, column))
            stmt = (
                insert_for(conn, me)
                .from_select(names, sel)
                .on_conflict_do_nothing()
                .returning(*(me.c[c] for c in _EDGE_ROW))
            )
            added.extend(conn.execute(stmt, _ids(conn, sorted(ids))))
    if added:
        bump_amplifier_periods(conn, [(r[0], r[2], r[7], r[8]) for r in added])
    return added


def bump_amplifier_periods(
    conn: Connection, added: Iterable[Sequence[Any]], *, sign: int = 1
) -> None:
    """Count newly stored `movement_edge` rows (movement, created_ts, source, target account)
    into `movement_amplifier_period` and `movement_amplifier_day` (the rankings' bounds for
    long and for short ranges): one row per (movement, side, period or day, account), added
    to with `edges + excluded.edges`, in key order (two PostgreSQL workers lock rows in the
    same order). Both tables' rows are counted in one pass over the edges. Edges without a
    target account and self-amplification are not counted, as in the rankings. `sign=-1`
    counts removed rows (undone reposts and boosts) down."""
    periods: Counter[tuple[int, str, int, int]] = Counter()
    days: Counter[tuple[int, str, int, int]] = Counter()
    for mv, ts, src, dst in added:
        if dst is None or src == dst:
            continue
        period = ts // AMPLIFIER_PERIOD_S
        day = ts // AMPLIFIER_DAY_S
        periods[(mv, "dst", period, dst)] += sign
        periods[(mv, "src", period, src)] += sign
        days[(mv, "dst", day, dst)] += sign
        days[(mv, "src", day, src)] += sign
    if not periods:
        return
    _upsert_edge_counts(conn, _t(MovementAmplifierPeriod), "period", periods)
    _upsert_edge_counts(conn, _t(MovementAmplifierDay), "day", days)


def _upsert_edge_counts(
    conn: Connection, table: Table, bucket: str, counts: Counter[tuple[int, str, int, int]]
) -> None:
    """Add `counts` ((movement, side, `bucket`, account) -> edges) to `table`'s `edges`."""
    keys = ("movement_id", "side", bucket, "account_id")

    def stmt() -> Any:
        ins = insert_for(conn, table)
        return ins.on_conflict_do_update(
            index_elements=[table.c[k] for k in keys],
            set_={"edges": table.c.edges + ins.excluded.edges},
        )

    rows = [{**dict(zip(keys, k, strict=True)), "edges": n} for k, n in sorted(counts.items())]
    executemany(conn, stmt, table, table.name, rows)


def _insert_edges(conn: Connection, batch: Batch) -> int:
    rows: dict[int, dict[str, Any]] = {}
    for e in batch.edges:
        eid = e.id
        rows[eid] = {
            "id": eid,
            "kind": e.kind,
            "platform": e.platform,
            "source_account_id": e.source.id,
            "target_mention_id": mention_id(*e.target),
            "target_account_id": e.target_account.id if e.target_account else None,
            "via_mention_id": mention_id(*e.via) if e.via else None,
            "created_at": e.created_at,
            "created_ts": int(e.created_at.timestamp()),
            "undo_id": mention_id(*e.undo_key) if e.undo_key else None,
        }
    table = _t(Amplification)

    def stmt() -> Any:
        ins = insert_for(conn, table)
        # Seen again (a re-read list, a new repost after an undo): the edge holds again. A new
        # undo key replaces the old one (a repost made again is a new record).
        return ins.on_conflict_do_update(
            index_elements=[table.c.id],
            set_={
                "undone_at": null(),
                "undo_id": func.coalesce(ins.excluded.undo_id, table.c.undo_id),
            },
            where=table.c.undone_at.is_not(None) | ins.excluded.undo_id.is_not(None),
        )

    executemany(conn, stmt, table, "edges", [rows[k] for k in sorted(rows)])
    return len(rows)


def undo_edges(
    conn: Connection, undo_ids: Sequence[int], edge_ids: Sequence[int], now: datetime
) -> list[Any]:
    """Undo reposts and boosts: those named by a deletion's key (`undo_ids`, the one-way ids
    of `EdgeRecord.undo_key`) and those a re-read list no longer carries (`edge_ids`).

    The `amplification` row stays, with `undone_at` (researchers keep the history); its
    `movement_edge` rows go, so Amplifiers, the network export and Spread stop counting it:
    `movement_amplifier_period` and `movement_amplifier_day` are counted down by exactly what
    `bump_amplifier_periods` counted up. Returns the removed `movement_edge` rows (movement,
    edge, time, kind, platform, target, via) for `shrink_cascades`."""
    amp, me = _t(Amplification), _t(MovementEdge)
    undone: set[int] = set()
    for column, ids in (("amplification.undo_id", undo_ids), ("amplification.id", edge_ids)):
        if ids:
            stmt = (
                update(amp)
                .where(_in_ids(conn, column), amp.c.undone_at.is_(None))
                .values(undone_at=now)
                .returning(amp.c.id)
            )
            undone.update(r[0] for r in conn.execute(stmt, _ids(conn, sorted(set(ids)))))
    if not undone:
        return []
    stmt = (
        me.delete()
        .where(_in_ids(conn, "movement_edge.edge_id"))
        .returning(*(me.c[c] for c in _EDGE_ROW))
    )
    removed = list(conn.execute(stmt, _ids(conn, sorted(undone))))
    if removed:
        bump_amplifier_periods(conn, [(r[0], r[2], r[7], r[8]) for r in removed], sign=-1)
    return removed


def unlisted_edges(conn: Connection, batch: Batch) -> list[int]:
    """The stored, not undone edges of each complete re-read's kind and target that the
    re-read no longer lists (`Batch.listed`)."""
    amp, mention = _t(Amplification), _t(Mention)
    out: list[int] = []
    for kind, target, ids in batch.listed:
        mid = mention_id(*target)
        stmt = select(amp.c.id).where(
            amp.c.target_mention_id == mid, amp.c.kind == kind, amp.c.undone_at.is_(None)
        )
        listed = set(ids)
        out.extend(r[0] for r in conn.execute(stmt) if r[0] not in listed)
        # The stored count follows the complete list down (counts are otherwise only ever
        # raised), so the next poll sees no change and does not read the list again.
        conn.execute(update(mention).where(mention.c.id == mid).values(repost_count=len(listed)))
    return out


def _undone_before(conn: Connection, batch: Batch) -> list[int]:
    """The undo ids of this batch's edges whose deletion arrived before them (remembered in
    `deleted_key` like any deletion of something not stored): stored as undone at once."""
    ids = sorted({mention_id(*e.undo_key) for e in batch.edges if e.undo_key})
    if not ids:
        return []
    stmt = select(_t(DeletedKey).c.id).where(_in_ids(conn, "deleted_key.id"))
    return [r[0] for r in conn.execute(stmt, _ids(conn, ids))]


def deleted_before(
    conn: Connection, rows: Sequence[tuple[dict[str, Any], MentionRecord]]
) -> list[tuple[str, str]]:
    """The keys of these mentions whose deletion was seen before they were stored, under
    their own key or one of their aliases (`MentionRecord.aliases`)."""
    ids: dict[int, tuple[str, str]] = {}
    for row, record in rows:
        key = (row["platform"], row["native_id"])
        ids[row["id"]] = key
        for platform, alias in record.aliases:
            ids.setdefault(mention_id(platform, alias), key)
    stmt = select(_t(DeletedKey).c.id).where(_in_ids(conn, "deleted_key.id"))
    return sorted({ids[r[0]] for r in conn.execute(stmt, _ids(conn, sorted(ids)))})


def _remember_deletions(conn: Connection, ids: Sequence[int], now: datetime) -> None:
    """Keep the ids of deleted posts that are not stored (yet), so a later poll or search hit
    stores them as tombstones; forget those older than `DELETION_MEMORY`."""
    table = _t(DeletedKey)
    unknown = sorted(set(ids) - set(_existing(conn, ids)))
    if not unknown:
        return
    stmt = insert_for(conn, table).on_conflict_do_nothing(index_elements=[table.c.id])
    conn.execute(stmt, [{"id": i, "deleted_at": now} for i in unknown])
    conn.execute(table.delete().where(table.c.deleted_at < now - DELETION_MEMORY))


def tombstone(
    conn: Connection, keys: Iterable[tuple[str, str]], now: datetime, *, reason: str = DELETED
) -> int:
    """Honour deletions: purge text, HTML, media and payload; keep what aggregates need.

    `reason` DELETED (the platform deleted it) is final, and also makes a reversible tombstone
    final; a deletion of a post not stored yet is remembered (`deleted_key`), so the post is
    stored as a tombstone whenever a poll or search brings it later (`deleted_before`). GONE
    (the page or its link was missing when checked) is undone when the mention is written
    again (`_upsert_mentions`), and nothing is remembered for it."""
    ids = [mention_id(p, n) for p, n in keys]
    if not ids:
        return 0
    if reason == DELETED:
        _remember_deletions(conn, ids, now)
    mention = _t(Mention)
    payload = _t(MentionPayload)
    count = 0
    live = mention.c.deleted_at.is_(None)
    for chunk in _chunks(ids):
        res = conn.execute(
            update(mention)
            .where(
                mention.c.id.in_(chunk),
                or_(live, mention.c.deleted_reason == GONE) if reason == DELETED else live,
            )
            .values(
                deleted_reason=reason,
                deleted_at=func.coalesce(mention.c.deleted_at, now),
                updated_at=now,
                text=None,
                html=None,
                title=None,
                spoiler_text=None,
                media=None,
                links=None,
                url=None,
            )
        )
        count += res.rowcount or 0
        conn.execute(payload.delete().where(payload.c.mention_id.in_(chunk)))
    return count


def save_cursor(
    conn: Connection, source_id: int, batch: Batch, *, lease_owner: str | None = None
) -> None:
    """Store the batch's cursor and validators; refuse if another worker holds the lease."""
    source = _t(Source)
    values: dict[str, Any] = {}
    if batch.cursor is not None:
        values["cursor"] = batch.cursor
    if batch.etag is not None:
        values["etag"] = batch.etag
    if batch.last_modified is not None:
        values["last_modified"] = batch.last_modified
    if batch.problems is not None:
        values["problems"] = batch.problems
    if batch.budget is not None:
        values["budget"] = batch.budget
    if not values:
        return
    stmt = update(source).where(source.c.id == bindparam("sid")).values(**values)
    params: dict[str, Any] = {"sid": source_id}
    if lease_owner is not None:
        stmt = stmt.where(
            (source.c.lease_owner == bindparam("owner")) | source.c.lease_owner.is_(None)
        )
        params["owner"] = lease_owner
    res = conn.execute(stmt, params)
    if res.rowcount == 0:
        raise LeaseLost(f"source {source_id}: lease is held by another worker; batch rolled back")


def dumps(obj: Any) -> str:
    """JSON for payload columns written outside SQLAlchemy's JSON type (benchmarks)."""
    return json.dumps(obj, separators=(",", ":"), default=str)
