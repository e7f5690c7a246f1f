"""Keep the "what travels with the conversation" rollups (storage/models_shares.py): for each
new match, the domains and canonical URLs its mention links to and the hashtags it carries,
counted per movement, UTC day / hour and platform.

One definition, used three ways so they cannot drift apart: the write path counts the matches
an INSERT added (`bump_shares`), the backfill of migration 0043 and the repair after raw rows
were rewritten (`storage.recount`) count every stored match (`rebuild`).
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import orjson
from sqlalchemy import Connection, Table, delete, func, select

from domain.matching import normalise_hashtag, normalise_url
from storage.bulk import executemany, insert_for
from storage.models import Mention, MentionMatch
from storage.models_shares import (
    SHARE_VALUE_MAX,
    MovementShareDay,
    MovementShareHour,
    MovementShareTotal,
)

_DAY = MovementShareDay.__table__  # type: ignore[attr-defined]
_HOUR = MovementShareHour.__table__  # type: ignore[attr-defined]
_TOTAL = MovementShareTotal.__table__  # type: ignore[attr-defined]
_M = Mention.__table__  # type: ignore[attr-defined]
_MM = MentionMatch.__table__  # type: ignore[attr-defined]
_REBUILD_CHUNK = 5_000


def domain_of(url: str) -> str | None:
    """The host a person would name for a canonical URL: lower-case, no port, no "www."."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    if not host:
        return None
    return host[4:] if host.startswith("www.") and len(host) > 4 else host


def share_keys(links: Iterable[str] | None, hashtags: Iterable[str] | None) -> set[tuple[str, str]]:
    """(kind, value) pairs one mention counts once each: its links' domains and canonical URLs
    (tracking parameters dropped, domain.url_identity's spelling), its normalised hashtags.
    Values that are not http(s) URLs, are empty or longer than the column are left out."""
    out: set[tuple[str, str]] = set()
    for link in links or ():
        if isinstance(link, str):
            out.update(_link_keys(link))
    for tag in hashtags or ():
        if isinstance(tag, str):
            out.update(_tag_keys(tag))
    return out


# Per link and per tag, cached: a movement's links and tags repeat from post to post, and
# parsing them again was a tenth of the write path's Python time (docs/benchmarks/ingest.md).
@functools.lru_cache(maxsize=65_536)
def _link_keys(link: str) -> tuple[tuple[str, str], ...]:
    canon = normalise_url(link)
    if canon is None:
        return ()
    out = []
    host = domain_of(canon)
    if host and len(host) <= SHARE_VALUE_MAX:
        out.append(("domain", host))
    if len(canon) <= SHARE_VALUE_MAX:
        out.append(("url", canon))
    return tuple(out)


@functools.lru_cache(maxsize=65_536)
def _tag_keys(tag: str) -> tuple[tuple[str, str], ...]:
    t = normalise_hashtag(tag)
    return (("tag", t),) if t and len(t) <= SHARE_VALUE_MAX else ()


def stored_share_keys(links: Any, hashtags: Any) -> tuple[tuple[str, str], ...]:
    """`share_keys` of a mention's `links` and `hashtags` columns as the driver returns them:
    the stored JSON text (SQLite, read without the JSON type's parsing) or the parsed lists
    (PostgreSQL's jsonb). Text is decoded once per distinct value (cached): a busy hour's
    posts repeat the same link and tag lists, and one `json.loads` per cell, twice per row,
    was most of what a range's raw minutes cost ("what travels", 2,800 mentions in the
    event window's first minutes: ~40 ms). The same pairs as `share_keys`, by construction."""
    if isinstance(links, str | None) and isinstance(hashtags, str | None):
        return _links_text_keys(links) + _tags_text_keys(hashtags)
    return tuple(share_keys(links, hashtags))


def _loads(stored: str | None) -> Any:
    try:
        return orjson.loads(stored) if stored else None
    except orjson.JSONDecodeError:
        return None


@functools.lru_cache(maxsize=65_536)
def _links_text_keys(stored: str | None) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(share_keys(_loads(stored), None)))


@functools.lru_cache(maxsize=65_536)
def _tags_text_keys(stored: str | None) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(share_keys(None, _loads(stored))))


def _count(
    matches: Iterable[Mapping[str, Any]], keys_of: Mapping[int, set[tuple[str, str]]]
) -> tuple[Counter[tuple[Any, ...]], Counter[tuple[Any, ...]]]:
    days: Counter[tuple[Any, ...]] = Counter()
    hours: Counter[tuple[Any, ...]] = Counter()
    for r in matches:
        keys = keys_of.get(r["mention_id"])
        if not keys:
            continue
        mv, platform, ts = r["movement_id"], r["platform"], r["created_ts"]
        for kind, value in keys:
            days[(mv, kind, ts // 86400, platform, value)] += 1
            hours[(mv, kind, ts // 3600, platform, value)] += 1
    return days, hours


def _add(
    conn: Connection,
    table: Table,
    bucket: str | None,
    counts: Counter[tuple[Any, ...]],
) -> None:
    """Count up, in key order (concurrent PostgreSQL writers lock rows in the same order)."""
    if not counts:
        return
    cols = (
        ("movement_id", "kind", "value")
        if bucket is None
        else ("movement_id", "kind", bucket, "platform", "value")
    )

    def stmt() -> Any:
        ins = insert_for(conn, table)
        return ins.on_conflict_do_update(
            index_elements=[table.c[c] for c in cols],
            set_={"n": table.c.n + ins.excluded.n},
        )

    executemany(
        conn,
        stmt,
        table,
        table.name,
        [{**dict(zip(cols, k, strict=True)), "n": n} for k, n in sorted(counts.items())],
    )


def bump_shares(
    conn: Connection,
    new_matches: Sequence[Mapping[str, Any]],
    mentions: Mapping[int, tuple[Iterable[str] | None, Iterable[str] | None]],
) -> None:
    """Count the matches new in this transaction; `mentions` maps a mention id to its
    (links, hashtags) as written."""
    if not new_matches:
        return
    keys_of = {mid: share_keys(*mentions[mid]) for mid in {r["mention_id"] for r in new_matches}}
    days, hours = _count(new_matches, keys_of)
    _add(conn, _DAY, "day", days)
    _add(conn, _HOUR, "hour", hours)
    totals: Counter[tuple[Any, ...]] = Counter()
    for (mv, kind, _day, _platform, value), n in days.items():
        totals[(mv, kind, value)] += n
    _add(conn, _TOTAL, None, totals)


def rebuild(
    conn: Connection, movement_ids: Sequence[int] | None = None, *, totals: bool = True
) -> None:
    """Delete and recount these movements' rows (all movements when None) from the stored
    matches and mentions, in chunks of mentions so memory stays bounded.

    A tombstone keeps its hashtags but not its links, so a rebuild counts no links of posts
    deleted before it ran (the write path counted them when they arrived)."""
    for table in (_DAY, _HOUR, _TOTAL) if totals else (_DAY, _HOUR):
        stmt = delete(table)
        if movement_ids is not None:
            stmt = stmt.where(table.c.movement_id.in_(list(movement_ids)))
        conn.execute(stmt)
    last = None
    while True:
        where = [] if last is None else [_M.c.id > last]
        ids_stmt = (
            select(_M.c.id, _M.c.links, _M.c.hashtags)
            .where(*where)
            .where((_M.c.links.is_not(None)) | (_M.c.hashtags.is_not(None)))
            .order_by(_M.c.id)
            .limit(_REBUILD_CHUNK)
        )
        rows = conn.execute(ids_stmt).all()
        if not rows:
            break
        last = rows[-1][0]
        keys_of = {mid: share_keys(links, tags) for mid, links, tags in rows}
        keys_of = {k: v for k, v in keys_of.items() if v}
        if not keys_of:
            continue
        mstmt = select(_MM.c.movement_id, _MM.c.mention_id, _MM.c.platform, _MM.c.created_ts).where(
            _MM.c.mention_id.in_(list(keys_of))
        )
        if movement_ids is not None:
            mstmt = mstmt.where(_MM.c.movement_id.in_(list(movement_ids)))
        matches = [dict(r._mapping) for r in conn.execute(mstmt)]
        days, hours = _count(matches, keys_of)
        _add(conn, _DAY, "day", days)
        _add(conn, _HOUR, "hour", hours)
    if not totals:  # migration 0043 ran before 0049 made the table
        return
    day = _DAY
    sums = select(day.c.movement_id, day.c.kind, day.c.value, func.sum(day.c.n)).group_by(
        day.c.movement_id, day.c.kind, day.c.value
    )
    if movement_ids is not None:
        sums = sums.where(day.c.movement_id.in_(list(movement_ids)))
    conn.execute(_TOTAL.insert().from_select(["movement_id", "kind", "value", "n"], sums))
