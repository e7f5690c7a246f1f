"""Named queries of the blogs area: mentions by URL (for `link` edges) and the queue of
received pingbacks and webmentions. All SQL of the area lives here."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    and_,
    case,
    func,
    insert,
    literal_column,
    or_,
    select,
    update,
)

from domain.ids import stable_id
from domain.matching import normalise_url
from domain.url_identity import canonical_url
from storage.id_lists import texts_table
from storage.models import Account, Mention
from storage.models_blogs import (
    TOKEN_CHARS,
    URL_INDEXED_PLATFORMS,
    WAITING_STATUSES,
    ReceivedPing,
)
from storage.types import UTCDateTime


def _table(model: Any) -> Any:
    """A model's Core table (typed Any: SQLModel's stubs do not declare `__table__`)."""
    return model.__table__


@dataclass(frozen=True, slots=True)
class LinkedMention:
    platform: str
    native_id: str
    account: tuple[str, str] | None  # (platform, native_id) of its author


_MASTODON_WEB = re.compile(r"^https://([^/]+)/@([A-Za-z0-9_]+)/(\d+)$")
_MASTODON_URI = re.compile(r"^https://([^/]+)/users/([A-Za-z0-9_]+)/statuses/(\d+)$")
_BSKY_WEB = re.compile(r"^https://bsky\.app/profile/([^/]+)/post/([A-Za-z0-9]+)$")


def _native_candidates(conn: Connection, norms: Iterable[str]) -> dict[tuple[str, str], list[str]]:
    """(platform, native_id) -> the normalised links naming it, for links whose shape names a
    post directly: a Mastodon status page (`https://host/@user/123` is `https://host/users/user/statuses/123`)
    or a Bluesky post page (`https://bsky.app/profile/<did or handle>/post/<rkey>`). These are
    looked up on the unique (platform, native_id) index, so the URL index can stay small."""
    out: dict[tuple[str, str], list[str]] = {}
    handles: dict[str, list[tuple[str, str]]] = {}
    for n in norms:
        if m := _MASTODON_WEB.match(n):
            out.setdefault(("mastodon", f"https://{m[1]}/users/{m[2]}/statuses/{m[3]}"), []).append(
                n
            )
        elif _MASTODON_URI.match(n):
            out.setdefault(("mastodon", n), []).append(n)
        elif m := _BSKY_WEB.match(n):
            actor, rkey = m[1], m[2]
            if actor.startswith("did:"):
                out.setdefault(("bluesky", f"at://{actor}/app.bsky.feed.post/{rkey}"), []).append(n)
            else:
                handles.setdefault(actor.lower(), []).append((rkey, n))
    if handles:
        a = _table(Account)
        q = select(a.c.handle, a.c.native_id).where(
            a.c.platform == "bluesky", a.c.handle.in_(sorted(handles))
        )
        for handle, did in conn.execute(q):
            for rkey, n in handles.get((handle or "").lower(), []):
                out.setdefault(("bluesky", f"at://{did}/app.bsky.feed.post/{rkey}"), []).append(n)
    return out


def _url_platform() -> Any:
    """`platform IN ('blog', 'pingback', 'webmention')` written out, as the partial index
    `ix_mention_url` is (a planner proves the index usable only from the same literal terms)."""
    quoted = ", ".join(f"'{p}'" for p in URL_INDEXED_PLATFORMS)
    return literal_column("mention.platform").op("IN")(literal_column(f"({quoted})"))


def mentions_by_url(conn: Connection, urls: Iterable[str]) -> dict[str, LinkedMention]:
    """Stored, non-deleted mentions that `urls` point at, keyed by canonical URL.

    Blog entries, pingbacks and webmentions store their canonical URL
    (`domain.url_identity`), so they are found by a join of the wanted canonical URLs, bound
    as one parameter, with the partial index `ix_mention_url`, however many are asked for;
    a blog entry is preferred to a pingback whose source is the same page. Mastodon statuses and
    Bluesky posts by the native id their page URL encodes (`_native_candidates`)."""
    wanted = sorted({n for n in (normalise_url(u) for u in urls) if n})
    if not wanted:
        return {}
    m = _table(Mention)
    a = _table(Account)
    found: dict[str, LinkedMention] = {}
    cols = (m.c.url, m.c.platform, m.c.native_id, a.c.platform, a.c.native_id)
    w = texts_table(conn, wanted)
    q = (
        select(*cols)
        .select_from(m.join(w, w.c.value == m.c.url).outerjoin(a, a.c.id == m.c.account_id))
        .where(_url_platform(), m.c.deleted_at.is_(None))
        .order_by(m.c.url, (m.c.platform != "blog"), m.c.id)
    )
    for url, platform, native_id, a_platform, a_native in conn.execute(q):
        account = (a_platform, a_native) if a_platform else None
        found.setdefault(url, LinkedMention(platform, native_id, account))
    natives = _native_candidates(conn, set(wanted) - set(found))
    by_platform: dict[str, list[str]] = {}
    for platform, native in natives:
        by_platform.setdefault(platform, []).append(native)
    for platform, ids in by_platform.items():
        ids_t = texts_table(conn, sorted(ids))
        q = (
            select(*cols)
            .select_from(
                m.join(ids_t, ids_t.c.value == m.c.native_id).outerjoin(a, a.c.id == m.c.account_id)
            )
            .where(m.c.platform == platform, m.c.deleted_at.is_(None))
        )
        for _url, p, native_id, a_platform, a_native in conn.execute(q):
            account = (a_platform, a_native) if a_platform else None
            for link in natives[(p, native_id)]:
                found.setdefault(link, LinkedMention(p, native_id, account))
    return found


@dataclass(frozen=True, slots=True)
class LinkingMention:
    platform: str
    native_id: str
    account: tuple[str, str]
    created_at: datetime
    targets: tuple[str, ...]  # which of the asked-for (canonical) URLs it links to


def mentions_linking_to(
    conn: Connection, urls: Iterable[str], *, platform: str = "blog", limit: int = 50_000
) -> list[LinkingMention]:
    """Stored `platform` mentions whose outbound links include one of `urls` (canonical).

    For the `link` edges a feed cannot see when it is polled: entry A links to entry B, but A's
    feed was read before B was stored. Set-based: the stored links (canonical since migration
    0029) are unpacked and joined with the wanted URLs bound as one parameter, whatever their
    number (one `LIKE` per URL, OR-ed, failed on SQLite from about 1,000 entries: "Expression
    tree is too large"). At most `limit` (mention, link) pairs."""
    wanted = sorted({n for n in (normalise_url(u) for u in urls) if n})
    if not wanted:
        return []
    m = _table(Mention)
    a = _table(Account)
    w = texts_table(conn, wanted)
    has_links: Any = m.c.links.is_not(None)
    if conn.dialect.name == "postgresql":
        each = func.jsonb_array_elements_text(m.c.links).table_valued("value").lateral()
        # no links is stored as JSON null, which is NOT NULL in SQL
        has_links = func.jsonb_typeof(m.c.links) == "array"
    else:
        each = func.json_each(m.c.links).table_valued("value")
    # The stored links of the platform's live mentions, unpacked once (MATERIALIZED), then
    # probed against the wanted URLs: a hashed semi-join (PostgreSQL) or an ephemeral index
    # (SQLite). Written as one join, both planners looped over the wanted list once per
    # mention (50,000 x 50,000).
    stored = (
        select(m.c.id.label("mid"), each.c.value.label("link"))
        .select_from(m)
        .join(each, literal_column("1") == literal_column("1"))
        .where(m.c.platform == platform, m.c.deleted_at.is_(None), has_links)
        .cte("stored_links")
        .prefix_with("MATERIALIZED")
    )
    q = (
        select(
            m.c.platform, m.c.native_id, m.c.created_at, a.c.platform, a.c.native_id, stored.c.link
        )
        .select_from(stored.join(m, m.c.id == stored.c.mid).join(a, a.c.id == m.c.account_id))
        .where(stored.c.link.in_(select(w.c.value)))
        .order_by(m.c.id, stored.c.link)
        .limit(limit)
    )
    out: dict[tuple[str, str], LinkingMention] = {}
    for platform_, native_id, created_at, a_platform, a_native, target in conn.execute(q):
        key = (platform_, native_id)
        prev = out.get(key)
        targets = (*prev.targets, target) if prev else (target,)
        out[key] = LinkingMention(platform_, native_id, (a_platform, a_native), created_at, targets)
    return list(out.values())


# -- the received queue -----------------------------------------------------------------------


def source_key(source: str) -> int:
    """The key of a received item's source page (canonical), for rate-limiting re-sends per
    source whatever their targets."""
    return stable_id("received-source", canonical_url(source))


def ping_key(kind: str, source: str, target: str) -> int:
    """The queue key of a received pair, canonical: a webmention whose target is spelled
    with a fragment, a tracking parameter, a trailing slash or upper-case letters is the same
    item (domain/url_identity.py)."""
    return stable_id("received", kind, canonical_url(source), canonical_url(target))


# One number for PostgreSQL's transaction-scoped advisory lock that serialises admissions (the
# flood guard's count and the insert it allows must not interleave between receivers).
ADMISSION_LOCK = int.from_bytes(b"gs_ping", "big")


def new_token() -> str:
    """A status URL's name for a received item: 144 random bits, URL-safe."""
    return secrets.token_urlsafe(18)


@dataclass(frozen=True, slots=True)
class Admission:
    """What `enqueue` did with a received item."""

    id: int
    token: str
    new: bool  # first time this pair was received
    resent: bool  # a repeat of a pair already checked (verified, rejected or deleted)
    registered: bool  # its last check verified it (a pingback re-send is then fault 0x30)
    due: datetime | None  # when it is verified (None: a verifier holds it right now)


def enqueue(
    conn: Connection,
    kind: str,
    source: str,
    target: str,
    now: datetime,
    *,
    max_pending: int | None = None,
    reverify_after: timedelta = timedelta(0),
    hold: timedelta = timedelta(0),
) -> Admission | None:
    """Queue (source, target) for verification; None when the queue is full (`max_pending`
    items waiting: the flood guard).

    Admission is atomic: the count and the insert it allows happen under one lock (SQLite's
    write lock, taken by `write_tx`'s BEGIN IMMEDIATE; a transaction-scoped advisory lock on
    PostgreSQL), so a concurrent burst can never overshoot `max_pending` (before, the count was
    read apart from the insert and 500 concurrent requests left 320 pending with a limit of 10).

    A repeat of a pair already checked is a re-send: the sender says the source changed (it may
    now link, no longer link, or be gone), so it is verified again, but at most once per
    `reverify_after` **per source page**, whatever the targets: its last check, or the time
    a re-send of another pair of the same source is already due, whichever is later (a re-send
    sooner waits for that time rather than making us fetch the source again; a page linking to
    many of our pages cannot make us fetch it once per target). A first ping of a new pair is
    verified at once, as the specifications require. A repeat of a pair still waiting changes
    nothing.
    `hold` keeps the background verifier off a new item the caller verifies itself.
    """
    t: Any = _table(ReceivedPing)
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(ADMISSION_LOCK)))
    key = ping_key(kind, source, target)
    skey = source_key(source)
    row = conn.execute(
        select(
            t.c.id, t.c.token, t.c.status, t.c.result, t.c.updated_at, t.c.next_attempt_at
        ).where(t.c.key == key)
    ).first()
    if row is not None and row.status in WAITING_STATUSES:
        due = row.next_attempt_at if row.status == "pending" else None
        return Admission(int(row.id), row.token, False, False, row.result == "verified", due)
    if max_pending is not None and waiting_count(conn) >= max_pending:
        return None
    if row is None:
        token = new_token()
        item_id = conn.execute(
            insert(t)
            .values(
                key=key,
                token=token,
                kind=kind,
                source=source,
                source_key=skey,
                target=target,
                status="pending",
                attempts=0,
                received_at=now,
                updated_at=now,
                next_attempt_at=now + hold,
            )
            .returning(t.c.id)
        ).scalar_one()
        return Admission(int(item_id), token, True, False, False, now)
    # The source's last fetch: this pair's last check, another pair's last check, or a re-send
    # of another pair already scheduled (its due time), whichever is latest.
    last = func.max(
        case((t.c.status.in_(WAITING_STATUSES), t.c.next_attempt_at), else_=t.c.updated_at),
        type_=UTCDateTime(),
    )
    others = conn.execute(select(last).where(t.c.source_key == skey, t.c.id != row.id)).scalar()
    checked_at = max((x for x in (row.updated_at, others) if x is not None), default=None)
    due = max(now, checked_at + reverify_after) if checked_at else now
    token = row.token or new_token()
    conn.execute(
        update(t)
        .where(t.c.id == row.id)
        .values(
            status="pending",
            source_key=skey,
            token=token,
            attempts=0,
            updated_at=now,
            next_attempt_at=due if due > now else now + hold,
        )
    )
    return Admission(int(row.id), token, False, True, row.result == "verified", due)


@dataclass(slots=True)
class QueuedPing:
    id: int
    kind: str
    source: str
    target: str
    status: str
    attempts: int
    verified_at: datetime | None


def claim_due(conn: Connection, now: datetime, *, limit: int, lease_s: float) -> list[QueuedPing]:
    """Lease due items: pending ones whose time has come, and verifying ones whose worker died
    (lease expired). Uses SKIP LOCKED on PostgreSQL so several receivers share the queue."""
    t: Any = _table(ReceivedPing)
    q = (
        select(t.c.id)
        .where(
            or_(
                and_(
                    t.c.status == "pending",
                    or_(t.c.next_attempt_at.is_(None), t.c.next_attempt_at <= now),
                ),
                and_(t.c.status == "verifying", t.c.lease_until < now),
            )
        )
        .order_by(t.c.next_attempt_at, t.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = [r[0] for r in conn.execute(q)]
    if not ids:
        return []
    conn.execute(
        update(t)
        .where(t.c.id.in_(ids))
        .values(status="verifying", lease_until=now + timedelta(seconds=lease_s), updated_at=now)
    )
    rows = conn.execute(
        select(t.c.id, t.c.kind, t.c.source, t.c.target, t.c.status, t.c.attempts, t.c.verified_at)
        .where(t.c.id.in_(ids))
        .order_by(t.c.id)
    )
    return [QueuedPing(*r) for r in rows]


def finish(
    conn: Connection,
    item_id: int,
    now: datetime,
    *,
    status: str,
    result: str | None = None,
    error: str | None = None,
    retry_at: datetime | None = None,
) -> None:
    """Record the outcome of one verification attempt (in the caller's transaction, together
    with the mention it wrote or tombstoned)."""
    t: Any = _table(ReceivedPing)
    values: dict[str, Any] = {
        "status": status,
        "result": result,
        "error": error,
        "updated_at": now,
        "lease_until": None,
        "attempts": t.c.attempts + 1,
        "next_attempt_at": retry_at,
    }
    if status == "verified":
        values["verified_at"] = now
    conn.execute(update(t).where(t.c.id == item_id).values(**values))


def get_ping(conn: Connection, item_id: int) -> dict[str, Any] | None:
    t: Any = _table(ReceivedPing)
    row = conn.execute(select(t).where(t.c.id == item_id)).mappings().first()
    return dict(row) if row else None


def ping_by_token(conn: Connection, token: str) -> dict[str, Any] | None:
    """The item a status URL names (`/status/<token>`); None for any other string."""
    if not token or len(token) > TOKEN_CHARS:
        return None
    t: Any = _table(ReceivedPing)
    row = conn.execute(select(t).where(t.c.token == token)).mappings().first()
    return dict(row) if row else None


def waiting_count(conn: Connection) -> int:
    """Items waiting for verification (pending or being verified): what `max_pending` bounds."""
    t: Any = _table(ReceivedPing)
    q = select(func.count()).where(t.c.status.in_(WAITING_STATUSES))
    return int(conn.execute(q).scalar() or 0)


def queue_counts(conn: Connection) -> dict[str, int]:
    t: Any = _table(ReceivedPing)
    return {
        status: int(n)
        for status, n in conn.execute(select(t.c.status, func.count()).group_by(t.c.status))
    }


def verified_before(conn: Connection, before: datetime, *, limit: int) -> list[int]:
    """Verified items last checked before `before`: due for a re-check (deleted or unlinked
    sources must disappear)."""
    t: Any = _table(ReceivedPing)
    return [
        r[0]
        for r in conn.execute(
            select(t.c.id)
            .where(t.c.status == "verified", t.c.updated_at < before)
            .order_by(t.c.updated_at)
            .limit(limit)
        )
    ]


def requeue(conn: Connection, ids: list[int], now: datetime) -> int:
    t: Any = _table(ReceivedPing)
    if not ids:
        return 0
    res = conn.execute(
        update(t)
        .where(t.c.id.in_(ids), t.c.status == "verified")
        .values(status="pending", next_attempt_at=now, updated_at=now, attempts=0)
    )
    return int(res.rowcount or 0)
