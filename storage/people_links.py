"""The people store: evidence, claims, moderator decisions and `account.person_id` (issue 20).

The rules are `domain/people.py`; this module owns their SQL (tables: storage/models_people.py,
migration 0040; docs/people.md):

- `store_profile_claims` keeps what the profiles of a written batch claim (a Mastodon field's
  link, verified or not), replacing what the same profile claimed before;
- `link_accounts` is the incremental linking pass for some accounts: their derived claims
  (bridges, domain handles), the evidence between them and every account their keys and
  claims meet, and then `regroup` of the groups that evidence touches;
- `regroup` recomputes `person_id` over the connected groups of some accounts, in one
  transaction, writing only the accounts whose person changed;
- `moderator_link` / `moderator_unlink`: a moderator's decision, an audit row with who and
  why; the newest decision on a pair wins;
- `suggestions`, `counts_by_kind`, `people_count`: what pages, status and exports read.

Every evidence row has a stable id (`stable_id` of the pair, kind and source), so recording it
again only moves `checked_at`. Writes go in id order (PostgreSQL workers lock in one order),
and on PostgreSQL a transaction that changes evidence takes one advisory lock first, so two
workers never regroup one person from two half views.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import (
    Connection,
    Engine,
    and_,
    bindparam,
    delete,
    func,
    or_,
    select,
    text,
    true,
    update,
)

from domain.ids import stable_id
from domain.people import (
    CLAIM,
    DERIVED_KINDS,
    HANDLE_NAMED_PLATFORMS,
    MODERATOR_KINDS,
    MODERATOR_LINK,
    MODERATOR_UNLINK,
    PAGE_KINDS,
    PROFILE_KINDS,
    STRONG,
    AccountName,
    Claim,
    derived_claims,
    evidence,
    group,
    owned_keys,
)
from domain.records import AccountRecord, account_id
from storage.bulk import insert_for
from storage.engine import write_tx
from storage.id_lists import among, ids_param, in_ids_text, texts_table
from storage.linked_days import lock_accounts, rewrite_linked_days
from storage.models import Account
from storage.models_people import PeoplePass, PersonClaim, PersonLink, ProfilePage

log = logging.getLogger(__name__)

A = Account.__table__  # type: ignore[attr-defined]
LINK = PersonLink.__table__  # type: ignore[attr-defined]
CLAIMS = PersonClaim.__table__  # type: ignore[attr-defined]

# A linked group larger than this is not one person: something (a directory page, a bug) is
# chaining unrelated accounts, so regrouping stops growing it and says so in the log.
MAX_GROUP_WALK = 50_000
_LOCK_KEY = 2020_0040  # pg_advisory_xact_lock key of the people linking pass


@dataclass(slots=True)
class LinkResult:
    """What one linking pass changed."""

    evidence_added: int = 0
    evidence_removed: int = 0
    accounts_moved: int = 0

    def add(self, other: LinkResult) -> None:
        self.evidence_added += other.evidence_added
        self.evidence_removed += other.evidence_removed
        self.accounts_moved += other.accounts_moved


def claim_id(account_id: int, c: Claim) -> int:
    return stable_id("person_claim", str(account_id), c.key, c.kind, c.source)


def link_id(lo: int, hi: int, kind: str, source: str) -> int:
    return stable_id("person_link", str(lo), str(hi), kind, source)


def _lock(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})


# -- claims -------------------------------------------------------------------------------------


def _replace_claims(
    conn: Connection,
    wanted: Mapping[int, Sequence[Claim]],
    kinds: frozenset[str],
    now: datetime,
) -> set[int]:
    """Make the stored claims of kinds `kinds` of the accounts in `wanted` exactly these;
    returns the accounts whose claims changed (stale rows deleted, new ones inserted)."""
    if not wanted:
        return set()
    have = {
        int(r[0]): int(r[1])
        for r in conn.execute(
            select(CLAIMS.c.id, CLAIMS.c.account_id).where(
                among(conn, CLAIMS.c.account_id, wanted), CLAIMS.c.kind.in_(sorted(kinds))
            )
        )
    }
    rows = {
        claim_id(acc, c): {
            "id": claim_id(acc, c),
            "account_id": acc,
            "key": c.key,
            "kind": c.kind,
            "strength": c.strength,
            "source": c.source,
            "checked_at": now,
        }
        for acc, cs in wanted.items()
        for c in cs
        if c.kind in kinds
    }
    stale = sorted(set(have) - set(rows))
    new = [rows[k] for k in sorted(set(rows) - set(have))]
    if stale:
        conn.execute(delete(CLAIMS).where(among(conn, CLAIMS.c.id, stale)))
    if new:
        conn.execute(insert_for(conn, CLAIMS).on_conflict_do_nothing(), new)
    return {have[i] for i in stale} | {r["account_id"] for r in new}


def store_profile_claims(
    conn: Connection, claims: Mapping[int, Sequence[Claim]], now: datetime
) -> set[int]:
    """The claims profiles make of themselves (account id -> claims; an account absent from
    `claims` is left as it was, an account with [] claims nothing any more)."""
    return _replace_claims(conn, claims, PROFILE_KINDS, now)


def store_page_claims(
    conn: Connection, account_id: int, claims: Sequence[Claim], now: datetime
) -> set[int]:
    """A fetched page's rel=me claims for the account (a blog), replacing the last fetch's."""
    return _replace_claims(conn, {account_id: list(claims)}, PAGE_KINDS, now)


# -- linking ------------------------------------------------------------------------------------


def _names(conn: Connection, where: Any) -> dict[int, AccountName]:
    return {
        int(r[0]): AccountName(int(r[0]), r[1], r[2], r[3])
        for r in conn.execute(select(A.c.id, A.c.platform, A.c.native_id, A.c.handle).where(where))
    }


def _owners_of(conn: Connection, keys: Iterable[str]) -> dict[int, AccountName]:
    """The stored accounts owning any of `keys` (by native id or Bluesky handle)."""
    natives: set[tuple[str, str]] = set()
    handles: set[str] = set()
    dids: set[str] = set()
    for k in keys:
        kind, _, value = k.partition(":")
        if kind == "site":
            natives |= {("blog", value), ("blog", f"www.{value}")}
            handles.add(value)  # a domain-handle Bluesky account names the site too
        elif kind == "mastodon":
            user, _, domain = value.partition("@")
            natives |= {
                ("mastodon", f"{user}@{domain}"),
                ("mastodon", f"{user.replace('-', '_')}@{domain}"),
            }
        elif kind == "bluesky":
            handles.add(value)
        elif kind == "did":
            dids.add(f"did:{value}")
    out: dict[int, AccountName] = {}
    if natives:
        out |= _names(conn, among(conn, A.c.id, [account_id(p, n) for p, n in natives]))
    if dids:
        out |= _names(conn, among(conn, A.c.id, [account_id("bluesky", d) for d in dids]))
    if handles:
        t = texts_table(conn, sorted(handles))
        found = _names(conn, and_(A.c.platform == "bluesky", A.c.handle.in_(select(t.c.value))))
        # A handle names a site only if it is a domain handle (not a bridge's or bsky.social):
        # `evidence` checks ownership by keys, so extra rows only cost a little.
        out |= found
    return out


def _claims_of(conn: Connection, where: Any) -> dict[int, list[Claim]]:
    out: dict[int, list[Claim]] = {}
    for acc, key, kind, strength, source in conn.execute(
        select(CLAIMS.c.account_id, CLAIMS.c.key, CLAIMS.c.kind, CLAIMS.c.strength, CLAIMS.c.source)
        .where(where)
        .order_by(CLAIMS.c.id)
    ):
        out.setdefault(int(acc), []).append(Claim(key, kind, strength, source or ""))
    return out


def _links_touching(conn: Connection, ids: Iterable[int]) -> list[Any]:
    ids = sorted(set(ids))
    if not ids:
        return []
    cols = (
        LINK.c.id,
        LINK.c.account_lo,
        LINK.c.account_hi,
        LINK.c.kind,
        LINK.c.strength,
        LINK.c.created_at,
    )
    return list(conn.execute(select(*cols).where(among(conn, LINK.c.account_lo, ids)))) + list(
        conn.execute(
            select(*cols).where(
                among(conn, LINK.c.account_hi, ids), ~among(conn, LINK.c.account_lo, ids)
            )
        )
    )


_FRESH: dict[str, Any] = {}


def _fresh_statement(conn: Connection) -> Any:
    """Accounts of a batch first stored by this write, as one cached statement (the id list is
    one bound parameter, storage/id_lists.py)."""
    dialect = conn.dialect.name
    if dialect not in _FRESH:
        _FRESH[dialect] = select(A.c.id, A.c.platform, A.c.native_id, A.c.handle).where(
            in_ids_text(conn, "account.id"), A.c.first_seen_at == bindparam("now")
        )
    return _FRESH[dialect]


_RENAMED: dict[str, Any] = {}


def _renamed_statement(conn: Connection) -> Any:
    """Accounts whose stored handle differs from the batch's, the comparison made by the
    database: the batch's (id, handle) pairs are one JSON parameter, each probes the account's
    primary key, and only renamed accounts come back (a batch of known authors returns
    nothing; reading every author's handle back cost the write path ~1.4% CPU)."""
    dialect = conn.dialect.name
    if dialect not in _RENAMED:
        if dialect == "postgresql":
            sql = (
                "SELECT a.id FROM json_to_recordset(CAST(:pairs AS json)) AS p(id bigint, "
                "handle text) JOIN account AS a ON a.id = p.id "
                "WHERE lower(coalesce(a.handle, '')) <> p.handle"
            )
        else:
            sql = (
                "SELECT a.id FROM json_each(:pairs) AS p CROSS JOIN account AS a "
                "ON a.id = json_extract(p.value, '$.id') "
                "WHERE lower(coalesce(a.handle, '')) <> json_extract(p.value, '$.handle')"
            )
        _RENAMED[dialect] = text(sql)
    return _RENAMED[dialect]


def renamed_accounts(conn: Connection, accounts: Iterable[AccountRecord]) -> set[int]:
    """The stored accounts among `accounts` whose record brings a handle other than the one
    stored; read before the upsert overwrites it. A Bluesky identity event, or a post's author
    seen under a new handle in a search result, a repost, a profile: the account's derived
    claims (a domain handle, a bridge's address) and owned keys change, so the write path
    links it again in the same write, withdrawing the old handle's evidence and adding the new
    one's. Only platforms whose handle names the account (`HANDLE_NAMED_PLATFORMS`) can be
    renamed; a record without a handle renames nothing. One indexed lookup per batch."""
    wanted: dict[int, str] = {}
    for a in accounts:
        if a.handle and a.platform in HANDLE_NAMED_PLATFORMS:
            wanted[a.id] = a.handle.lower()  # the batch's last sighting, as the upsert keeps
    if not wanted:
        return set()
    pairs = orjson.dumps([{"id": i, "handle": h} for i, h in wanted.items()]).decode()
    return {int(r[0]) for r in conn.execute(_renamed_statement(conn), {"pairs": pairs})}


def link_written(
    conn: Connection, account_ids: Iterable[int], changed: Iterable[int], now: datetime
) -> LinkResult:
    """The write path's linking step for a batch's accounts: only the accounts first stored by
    this write (`first_seen_at` is its `now`) or whose profile claims changed can bring new
    evidence, so only those go through `link_accounts`; a batch of known authors costs one
    indexed lookup, a batch of new authors that claim nothing two. A handle that changes on a
    known account, on an identity event or a post's author alike, comes in `changed`
    (`renamed_accounts`)."""
    ids = sorted(set(account_ids))
    if not ids:
        return LinkResult()
    fresh = {
        int(r[0]): AccountName(int(r[0]), r[1], r[2], r[3])
        for r in conn.execute(_fresh_statement(conn), {**ids_param(conn, ids), "now": now})
    }
    changed = set(changed)
    if not fresh and not changed:
        return LinkResult()
    # PostgreSQL: wait for any other transaction linking right now to commit, so that what it
    # stored (the other side of our evidence) is seen by the reads below (READ COMMITTED).
    # Held to commit; taken before the cascades' per-movement locks in every transaction.
    _lock(conn)
    return link_accounts(conn, set(fresh) | changed, now, fresh=fresh, changed=changed)


def link_accounts(
    conn: Connection,
    account_ids: Iterable[int],
    now: datetime | None = None,
    *,
    fresh: Mapping[int, AccountName] | None = None,
    changed: set[int] | None = None,
) -> LinkResult:
    """The incremental linking pass for these accounts, inside the caller's transaction.

    `fresh`: accounts the caller knows were first stored in this transaction (they have no
    evidence and no stored claims yet, except the profile claims of those in `changed`), so
    nothing is read back for them. Cheap when there is nothing to link (most accounts: no
    claims, no keys anyone claims): one indexed lookup and no writes."""
    now = now or datetime.now(UTC)
    result = LinkResult()
    fresh = fresh or {}
    changed = changed or set()
    ids = sorted(set(account_ids))
    if not ids:
        return result
    known = [i for i in ids if i not in fresh]
    names = dict(fresh)
    if known:
        names |= _names(conn, among(conn, A.c.id, known))
    if not names:
        return result
    derived = {i: derived_claims(n) for i, n in names.items()}
    _replace_claims(
        conn, {i: cs for i, cs in derived.items() if cs or i not in fresh}, DERIVED_KINDS, now
    )
    reread = [i for i in names if i not in fresh or i in changed]
    mine = _claims_of(conn, among(conn, CLAIMS.c.account_id, reread)) if reread else {}
    for i, cs in derived.items():
        if i in fresh and cs:
            mine.setdefault(i, []).extend(c for c in cs if c not in mine.get(i, []))
    own = {k for n in names.values() for k in owned_keys(n)}
    claimed = {c.key for cs in mine.values() for c in cs}
    probe = own | claimed
    neighbours: dict[int, AccountName] = {}
    if probe:
        t = texts_table(conn, sorted(probe))
        other_ids = {
            int(r[0])
            for r in conn.execute(
                select(CLAIMS.c.account_id).where(CLAIMS.c.key.in_(select(t.c.value)))
            )
        } - set(names)
        if other_ids:
            neighbours |= _names(conn, among(conn, A.c.id, other_ids))
    # Owners of what these claim, and other blogs on a blog's own site (www. or not).
    sites = {k for n in names.values() if n.platform == "blog" for k in owned_keys(n)}
    if claimed or sites:
        found_owners = _owners_of(conn, claimed | sites)
        neighbours |= {i: n for i, n in found_owners.items() if i not in names}
    old = [i for i in names if i not in fresh]
    existing = [r for r in _links_touching(conn, old) if r[3] not in MODERATOR_KINDS]
    if not neighbours and not existing and not any(mine.values()):
        return result
    group_names = {**names, **neighbours}
    claims = (
        mine | _claims_of(conn, among(conn, CLAIMS.c.account_id, neighbours))
        if neighbours
        else mine
    )
    found = evidence(list(group_names.values()), claims)
    wanted = {link_id(e.lo, e.hi, e.kind, e.source): e for e in found}
    touched = set(names)
    # Rows this pass answers for: the evidence touching the accounts it was given.
    stale = sorted(
        {
            int(r[0])
            for r in existing
            if int(r[0]) not in wanted and (r[1] in touched or r[2] in touched)
        }
    )
    have = {int(r[0]) for r in _links_touching(conn, group_names)}
    new = [wanted[k] for k in sorted(set(wanted) - have)]
    if not stale and not new:
        if wanted:
            conn.execute(
                update(LINK).where(among(conn, LINK.c.id, sorted(wanted))).values(checked_at=now)
            )
        return result
    _lock(conn)
    if stale:
        conn.execute(delete(LINK).where(among(conn, LINK.c.id, stale)))
    if new:
        conn.execute(
            insert_for(conn, LINK).on_conflict_do_nothing(),
            [
                {
                    "id": link_id(e.lo, e.hi, e.kind, e.source),
                    "account_lo": e.lo,
                    "account_hi": e.hi,
                    "kind": e.kind,
                    "strength": e.strength,
                    "source": e.source,
                    "created_at": now,
                    "checked_at": now,
                }
                for e in new
            ],
        )
    result.evidence_added, result.evidence_removed = len(new), len(stale)
    seeds = set(group_names) | {int(r[1]) for r in existing} | {int(r[2]) for r in existing}
    result.accounts_moved = regroup(conn, seeds)
    return result


def regroup(conn: Connection, seeds: Iterable[int]) -> int:
    """Recompute `person_id` for the whole groups (old and new) of `seeds`; returns how many
    accounts moved. The walk follows strong and moderator links and the seeds' current persons
    (so a split is seen), and stops at `MAX_GROUP_WALK` accounts."""
    nodes: set[int] = set()
    frontier = set(seeds)
    rows: dict[int, Any] = {}
    while frontier and len(nodes) < MAX_GROUP_WALK:
        nodes |= frontier
        batch = sorted(frontier)
        frontier = set()
        for r in _links_touching(conn, batch):
            if r[4] == STRONG or r[3] in MODERATOR_KINDS:
                rows[int(r[0])] = r
                frontier |= {int(r[1]), int(r[2])}
        persons = select(A.c.person_id).where(among(conn, A.c.id, batch))
        frontier |= {
            int(x[0]) for x in conn.execute(select(A.c.id).where(A.c.person_id.in_(persons)))
        }
        frontier -= nodes
    if frontier:
        log.warning("people: a linked group passed %d accounts; not grown further", MAX_GROUP_WALK)
    current = {
        int(r[0]): int(r[1])
        for r in conn.execute(select(A.c.id, A.c.person_id).where(among(conn, A.c.id, nodes)))
    }
    decisions: dict[tuple[int, int], tuple[Any, int, str]] = {}
    strong: list[tuple[int, int]] = []
    for r in rows.values():
        lo, hi = int(r[1]), int(r[2])
        if lo not in current or hi not in current:
            continue  # an account no longer stored (retention) links nothing
        if r[3] in MODERATOR_KINDS:
            key = (r[5], int(r[0]), r[3])
            if (lo, hi) not in decisions or decisions[(lo, hi)][:2] < key[:2]:
                decisions[(lo, hi)] = key
        else:
            strong.append((lo, hi))
    persons = group(current, strong, {p: d[2] for p, d in decisions.items()})
    moved = sorted((a, p) for a, p in persons.items() if current.get(a) != p)
    if moved:
        move_accounts(conn, dict(moved), current)
    return len(moved)


def move_accounts(
    conn: Connection, moved: Mapping[int, int], groups: Iterable[int] | None = None
) -> None:
    """Give each account of `moved` its new person, and keep `movement_linked_day` with them.

    Every account of the groups touched can change whether it is linked (a group's first
    account when the second joins or leaves), so all of them are locked (PostgreSQL) before
    the move and their linked days rewritten after it (storage/linked_days.py). `groups`:
    those accounts when the caller walked them (`regroup`); by default the moved accounts and
    every account of their old and new persons."""
    if not moved:
        return
    _lock(conn)
    if groups is None:
        ids = sorted(moved)
        olds = select(A.c.person_id).where(among(conn, A.c.id, ids))
        persons = sorted(set(moved.values()) | set(ids))
        groups = set(moved) | {
            int(r[0])
            for r in conn.execute(
                select(A.c.id).where(
                    or_(A.c.person_id.in_(olds), among(conn, A.c.person_id, persons))
                )
            )
        }
    groups = sorted(set(groups) | set(moved))
    lock_accounts(conn, groups)
    conn.execute(
        update(A).where(A.c.id == bindparam("aid")).values(person_id=bindparam("pid")),
        [{"aid": a, "pid": p} for a, p in sorted(moved.items())],
    )
    rewrite_linked_days(conn, groups)


# -- moderators ---------------------------------------------------------------------------------


def _decision_row(
    lo: int, hi: int, kind: str, by: str, reason: str, now: datetime
) -> dict[str, Any]:
    return {
        "id": stable_id("person_link", str(lo), str(hi), kind, now.isoformat(), by),
        "account_lo": lo,
        "account_hi": hi,
        "kind": kind,
        "strength": STRONG,
        "source": "moderator",
        "created_at": now,
        "checked_at": now,
        "decided_by": by[:200],
        "reason": reason.strip(),
    }


def _check_decision(by: str, reason: str) -> None:
    if not by or not reason or not reason.strip():
        raise ValueError("a moderator's link or unlink needs who decided and a reason")


def _decide(
    conn: Connection, a: int, b: int, kind: str, by: str, reason: str, now: datetime | None
) -> int:
    if a == b:
        raise ValueError("an account is always its own person; pick two accounts")
    _check_decision(by, reason)
    now = now or datetime.now(UTC)
    lo, hi = sorted((int(a), int(b)))
    known = {int(r[0]) for r in conn.execute(select(A.c.id).where(among(conn, A.c.id, [lo, hi])))}
    if known != {lo, hi}:
        raise LookupError(f"no stored account {sorted({lo, hi} - known)}")
    _lock(conn)
    conn.execute(
        insert_for(conn, LINK).on_conflict_do_nothing(),
        [_decision_row(lo, hi, kind, by, reason, now)],
    )
    return regroup(conn, [lo, hi])


def moderator_detach(
    conn: Connection, account: int, *, by: str, reason: str, now: datetime | None = None
) -> list[int]:
    """A moderator takes `account` out of its person: an unlink against every other account of
    the person (so no chain of evidence brings it back), then the regrouping, which also
    splits the rest if only this account joined them. Returns the accounts it was with."""
    _check_decision(by, reason)
    now = now or datetime.now(UTC)
    person = conn.execute(select(A.c.person_id).where(A.c.id == account)).scalar()
    if person is None:
        raise LookupError(f"no stored account {account}")
    others = sorted(
        int(r[0])
        for r in conn.execute(select(A.c.id).where(A.c.person_id == person, A.c.id != account))
    )
    if not others:
        raise ValueError("this account is not linked to any other")
    _lock(conn)
    conn.execute(
        insert_for(conn, LINK).on_conflict_do_nothing(),
        [_decision_row(*sorted((account, o)), MODERATOR_UNLINK, by, reason, now) for o in others],
    )
    regroup(conn, [account, *others])
    return others


def moderator_link(
    conn: Connection, a: int, b: int, *, by: str, reason: str, now: datetime | None = None
) -> int:
    """A moderator says accounts `a` and `b` are one person (kept with who and why); returns
    how many accounts changed person."""
    return _decide(conn, a, b, MODERATOR_LINK, by, reason, now)


def moderator_unlink(
    conn: Connection, a: int, b: int, *, by: str, reason: str, now: datetime | None = None
) -> int:
    """A moderator says `a` and `b` are two people: no evidence joins them again, however it
    chains; returns how many accounts changed person."""
    return _decide(conn, a, b, MODERATOR_UNLINK, by, reason, now)


# -- reads --------------------------------------------------------------------------------------


def moderator_log(conn: Connection, limit: int = 200) -> list[dict[str, Any]]:
    """The moderators' decisions, newest first (the audit log)."""
    q = (
        select(
            LINK.c.account_lo,
            LINK.c.account_hi,
            LINK.c.kind,
            LINK.c.decided_by,
            LINK.c.reason,
            LINK.c.created_at,
        )
        .where(LINK.c.kind.in_(sorted(MODERATOR_KINDS)))
        .order_by(LINK.c.created_at.desc(), LINK.c.id.desc())
        .limit(limit)
    )
    return [dict(r._mapping) for r in conn.execute(q)]


def suggestions(conn: Connection, limit: int = 100) -> list[dict[str, Any]]:
    """One-way claims between accounts that are still two people: for a moderator to look at.
    Pairs a moderator already decided are left out."""
    lo, hi = A.alias("lo"), A.alias("hi")
    s = LINK.alias("s")
    m = LINK.alias("m")
    q = (
        select(
            s.c.account_lo,
            s.c.account_hi,
            s.c.kind,
            s.c.source,
            s.c.checked_at,
            lo.c.platform.label("lo_platform"),
            lo.c.handle.label("lo_handle"),
            hi.c.platform.label("hi_platform"),
            hi.c.handle.label("hi_handle"),
        )
        .select_from(s.join(lo, lo.c.id == s.c.account_lo).join(hi, hi.c.id == s.c.account_hi))
        .where(
            s.c.strength == CLAIM,
            lo.c.person_id != hi.c.person_id,
            ~select(m.c.id)
            .where(
                m.c.account_lo == s.c.account_lo,
                m.c.account_hi == s.c.account_hi,
                m.c.kind.in_(sorted(MODERATOR_KINDS)),
            )
            .exists(),
        )
        .order_by(s.c.checked_at.desc(), s.c.id)
        .limit(limit)
    )
    return [dict(r._mapping) for r in conn.execute(q)]


def counts_by_kind(conn: Connection) -> dict[str, int]:
    """Evidence rows per kind (the data card and `status` print these)."""
    return {
        str(k): int(n)
        for k, n in conn.execute(
            select(LINK.c.kind, func.count()).group_by(LINK.c.kind).order_by(LINK.c.kind)
        )
    }


def people_count(conn: Connection) -> tuple[int, int]:
    """(people, accounts) in the store."""
    n, p = conn.execute(select(func.count(), func.count(func.distinct(A.c.person_id)))).one()
    return int(p), int(n)


def person_accounts(conn: Connection, person_id: int) -> list[dict[str, Any]]:
    """A person's accounts (id, platform, handle), smallest id first."""
    q = (
        select(A.c.id, A.c.platform, A.c.native_id, A.c.handle, A.c.display_name)
        .where(A.c.person_id == person_id)
        .order_by(A.c.id)
    )
    return [dict(r._mapping) for r in conn.execute(q)]


def _relink_chunk(conn: Connection, after: int, chunk: int) -> tuple[list[int], LinkResult]:
    ids = [
        int(r[0])
        for r in conn.execute(select(A.c.id).where(A.c.id > after).order_by(A.c.id).limit(chunk))
    ]
    return ids, (link_accounts(conn, ids) if ids else LinkResult())


def relink_all(
    conn: Connection, *, chunk: int = 2000, progress: Callable[[int, int], None] | None = None
) -> LinkResult:
    """The background pass in the caller's transaction: every account through
    `link_accounts`, in id order and chunks (each chunk's ids are strictly above the last, so
    the pass always progresses). `relink_store` commits chunk by chunk instead."""
    total = int(conn.execute(select(func.count()).select_from(A)).scalar() or 0)
    done, last, out = 0, -1, LinkResult()
    while True:
        ids, r = _relink_chunk(conn, last, chunk)
        if not ids:
            return out
        out.add(r)
        last, done = ids[-1], done + len(ids)
        if progress:
            progress(done, total)


def relink_store(
    engine: Engine, *, chunk: int = 2000, progress: Callable[[int, int], None] | None = None
) -> LinkResult:
    """`relink_all` with one transaction per chunk, so collectors writing at the same time
    wait for one chunk at most (SQLite has one writer), and an interrupted pass keeps what it
    linked."""
    with engine.connect() as conn:
        total = int(conn.execute(select(func.count()).select_from(A)).scalar() or 0)
    done, last, out = 0, -1, LinkResult()
    while True:
        with write_tx(engine) as conn:
            ids, r = _relink_chunk(conn, last, chunk)
        if not ids:
            return out
        out.add(r)
        last, done = ids[-1], done + len(ids)
        if progress:
            progress(done, max(total, done))


__all__ = [
    "LinkResult",
    "counts_by_kind",
    "link_accounts",
    "moderator_detach",
    "moderator_link",
    "moderator_log",
    "moderator_unlink",
    "move_accounts",
    "people_count",
    "person_accounts",
    "regroup",
    "relink_all",
    "relink_store",
    "store_page_claims",
    "store_profile_claims",
    "suggestions",
]


# -- rel=me pages (collectors/relme.py fetches them) ---------------------------------------------

PAGE = ProfilePage.__table__  # type: ignore[attr-defined]


def due_profile_pages(conn: Connection, now: datetime, limit: int) -> list[dict[str, Any]]:
    """Blog accounts whose home page's rel=me links were never read or are due again, oldest
    first: (account id, host, url)."""
    q = (
        select(A.c.id, A.c.native_id, A.c.url)
        .select_from(A.outerjoin(PAGE, PAGE.c.id == A.c.id))
        .where(A.c.platform == "blog", or_(PAGE.c.id.is_(None), PAGE.c.next_check_at <= now))
        .order_by(PAGE.c.next_check_at.is_not(None), PAGE.c.next_check_at, A.c.id)
        .limit(limit)
    )
    return [{"account_id": int(r[0]), "host": r[1], "url": r[2]} for r in conn.execute(q)]


def record_profile_page(
    conn: Connection,
    account_id: int,
    *,
    url: str,
    status: str,
    now: datetime,
    next_check_at: datetime,
    rel_me: Sequence[str] | None = None,
    final_url: str | None = None,
    error: str | None = None,
) -> None:
    """Remember one fetch of an account's page (one row per account, replaced)."""
    row = {
        "id": account_id,
        "account_id": account_id,
        "url": url,
        "final_url": final_url,
        "status": status,
        "error": (error or "")[:1000] or None,
        "rel_me": list(rel_me) if rel_me is not None else None,
        "checked_at": now,
        "next_check_at": next_check_at,
    }
    ins = insert_for(conn, PAGE)
    conn.execute(
        ins.on_conflict_do_update(
            index_elements=[PAGE.c.id], set_={k: ins.excluded[k] for k in row if k != "id"}
        ),
        [row],
    )


def forget_accounts(conn: Connection, account_ids: Sequence[int]) -> int:
    """Retention purged these accounts: drop their claims, pages and evidence (moderator rows
    too: they name the account), and regroup whoever they linked or whose person id was one of
    theirs. Returns how many remaining accounts changed person."""
    ids = sorted(set(account_ids))
    if not ids:
        return 0
    linked = _links_touching(conn, ids)
    others = {int(r[1]) for r in linked} | {int(r[2]) for r in linked}
    others |= {
        int(r[0]) for r in conn.execute(select(A.c.id).where(among(conn, A.c.person_id, ids)))
    }
    conn.execute(delete(CLAIMS).where(among(conn, CLAIMS.c.account_id, ids)))
    conn.execute(delete(PAGE).where(among(conn, PAGE.c.account_id, ids)))
    if linked:
        conn.execute(delete(LINK).where(among(conn, LINK.c.id, [int(r[0]) for r in linked])))
    others -= set(ids)
    return regroup(conn, others) if others else 0


# -- the scheduled pass (collectors/people_pass.py runs it; migration 0053) ---------------------

PASS = PeoplePass.__table__  # type: ignore[attr-defined]
_PASS_ID = 1


def claim_people_pass(
    conn: Connection, now: datetime, *, lease_until: datetime, worker: str, force: bool = False
) -> int | None:
    """Take the scheduled pass if it is due: moves its due time to `lease_until` (so another
    worker, or this one after a restart, does not start it again while it runs) and returns
    where the accounts' walk stopped last time; None when it is not due (or another worker
    has just taken it). One conditional UPDATE: safe between workers on both dialects.
    `force` takes it whatever its due time: `groundswell people link` run by hand is a pass
    too, which the scheduled pass must not start again while it runs."""
    conn.execute(
        insert_for(conn, PASS).on_conflict_do_nothing(),
        [
            {
                "id": _PASS_ID,
                "relink_after": -1,
                "accounts_read": 0,
                "pages_checked": 0,
                "pages_failed": 0,
                "evidence_added": 0,
                "accounts_moved": 0,
            }
        ],
    )
    taken = conn.execute(
        update(PASS)
        .where(
            PASS.c.id == _PASS_ID,
            or_(PASS.c.next_due_at.is_(None), PASS.c.next_due_at <= now) if not force else true(),
        )
        .values(next_due_at=lease_until, started_at=now, worker=worker[:200])
    ).rowcount
    if not taken:
        return None
    return int(conn.execute(select(PASS.c.relink_after).where(PASS.c.id == _PASS_ID)).scalar_one())


def finish_people_pass(
    conn: Connection,
    *,
    now: datetime,
    next_due_at: datetime | None,
    relink_after: int,
    outcome: str,
    error_kind: str | None = None,
    error: str | None = None,
    accounts_read: int = 0,
    pages_checked: int = 0,
    pages_failed: int = 0,
    evidence_added: int = 0,
    accounts_moved: int = 0,
) -> None:
    """Record how the pass went and when the next one is due (None: whenever a scheduled
    pass is switched on)."""
    conn.execute(
        update(PASS)
        .where(PASS.c.id == _PASS_ID)
        .values(
            finished_at=now,
            next_due_at=next_due_at,
            relink_after=relink_after,
            outcome=outcome,
            error_kind=error_kind,
            error=(error or "")[:1000] or None,
            accounts_read=accounts_read,
            pages_checked=pages_checked,
            pages_failed=pages_failed,
            evidence_added=evidence_added,
            accounts_moved=accounts_moved,
        )
    )


def relink_some(conn: Connection, after: int, limit: int) -> tuple[int, int, LinkResult]:
    """The next `limit` accounts after id `after` through `link_accounts`, in the caller's
    transaction: (where to go on next time, -1 after the last account; accounts read; what
    changed)."""
    ids, result = _relink_chunk(conn, after, limit)
    return (ids[-1] if len(ids) == limit else -1), len(ids), result


def profile_page_failures(conn: Connection, limit: int = 5) -> list[dict[str, Any]]:
    """Blogs whose rel=me page could not be read at its last try, newest first (status)."""
    q = (
        select(PAGE.c.url, PAGE.c.status, PAGE.c.error, PAGE.c.checked_at)
        .where(PAGE.c.status != "ok")
        .order_by(PAGE.c.checked_at.desc(), PAGE.c.id)
        .limit(limit)
    )
    return [dict(r._mapping) for r in conn.execute(q)]


def people_pass_status(conn: Connection) -> dict[str, Any] | None:
    """The scheduled pass's row (None before its first run), the rel=me pages by status of
    their last read, and the latest failures: what `groundswell status` shows."""
    row = conn.execute(select(PASS).where(PASS.c.id == _PASS_ID)).first()
    pages = {
        str(s): int(n)
        for s, n in conn.execute(
            select(PAGE.c.status, func.count()).group_by(PAGE.c.status).order_by(PAGE.c.status)
        )
    }
    if row is None and not pages:
        return None
    out: dict[str, Any] = dict(row._mapping) if row is not None else {}
    out.pop("id", None)
    out["pages"] = pages
    out["page_failures"] = profile_page_failures(conn) if set(pages) - {"ok"} else []
    return out


def proved_sites(conn: Connection) -> dict[str, int]:
    """Host -> account id of every site an account proved is its own (a verified Mastodon
    field, a Bluesky domain handle, a web bridge): like a blog's host, such a host names its
    person, so a pseudonymised export keys links into it. The smallest account id wins when
    several proved one site (they are then one person). A one-way claim proves nothing: the
    impersonator's claim on a charity's site leaves the site's links as they are."""
    out: dict[str, int] = {}
    q = (
        select(CLAIMS.c.key, func.min(CLAIMS.c.account_id))
        .where(CLAIMS.c.strength == STRONG, CLAIMS.c.key.like("site:%"))
        .group_by(CLAIMS.c.key)
    )
    for key, acc in conn.execute(q):
        out[str(key)[5:].lower()] = int(acc)
    return out
