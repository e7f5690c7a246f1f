"""The write side of `movement_linked_day` and `movement_linked_author` (storage/models_rollups.py,
migrations 0058 and 0059): the days on which the accounts of persons with more than one account
were active, and their first and last match of each movement, with their person.

An account is *linked* when its person has another account: its `person_id` is not its own id
(`ix_account_linked`), or another account's `person_id` is its id (the group's first account).
The rows are kept in the transactions that change what they depend on:

- the write path adds, beside each new `movement_author_day` row, the row of a linked author
  (`add_linked_days`), reading who is linked after the batch's account upsert: on PostgreSQL
  that upsert holds the authors' row locks to commit, so a re-link of one of them waits for
  the write to commit, and a write after a re-link reads its outcome. It copies the linked
  authors' `movement_author` rows as its own upsert left them (that upsert holds those rows'
  locks to commit too, so two writers of one author copy in turn, the later one last);
- re-linking (`storage.people_links.regroup`) locks the rows of every account of the groups
  it walked, moves the accounts, then rewrites those accounts' rows from their matches (days
  and hours) and `movement_author` (`rewrite_linked_days`): a group that gains its second
  account gains its first account's rows too, a group split to one account loses them;
- `storage.recount` and the migrations' backfills rebuild them from the same definitions
  (`REBUILD`, `REBUILD_HOURS`, `REBUILD_AUTHORS`), which tests/test_linked_days.py checks
  against what the write path kept.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, and_, delete, exists, or_, select
from sqlalchemy.orm import aliased

from storage.bulk import insert_for
from storage.id_lists import among
from storage.models import Account, Mention, MentionMatch, MovementAuthor
from storage.models_rollups import (
    MovementLinkedAuthor,
    MovementLinkedDay,
    MovementLinkedHour,
)

A = Account.__table__
MLD = MovementLinkedDay.__table__
MLA = MovementLinkedAuthor.__table__
MLH = MovementLinkedHour.__table__
MM = MentionMatch.__table__
MEN = Mention.__table__
MA = MovementAuthor.__table__

# The linked accounts in SQL, for every account at once (the module docstring's definition),
# as two sets read from `ix_account_linked` (which holds only the rows whose person is not
# their own id). Not `WHERE person_id <> id OR id IN (...)`: PostgreSQL estimates the
# partial index at every row (no statistics on `person_id <> id`), so that subquery was not
# hashed but rescanned per account, 1M x 30,000 rows at 10M mentions (stopped after 5 min).
LINKED_SQL = (
    "SELECT a.id, a.person_id FROM account a WHERE a.person_id <> a.id UNION "
    "SELECT a.id, a.person_id FROM account a "
    "WHERE a.id IN (SELECT b.person_id FROM account b WHERE b.person_id <> b.id)"
)

# The definition as a statement: migration 0058's backfill and `storage.recount`'s rebuild
# (`{mv}`: recount's movement filter on `mad`, "1 = 1" for every movement).
REBUILD = (
    "INSERT INTO movement_linked_day (movement_id, day, person_id, account_id, platform) "
    "SELECT mad.movement_id, mad.day, l.person_id, mad.account_id, mad.platform "
    f"FROM ({LINKED_SQL}) l JOIN movement_author_day mad ON mad.account_id = l.id "
    "WHERE {mv}"
)


# The same per UTC hour, from the matches (migration 0060; `{mv}`: the filter on `mm`).
REBUILD_HOURS = (
    "INSERT INTO movement_linked_hour (movement_id, hour, person_id, account_id, platform) "
    "SELECT DISTINCT mm.movement_id, mm.created_ts / 3600, l.person_id, mm.account_id, "
    "mm.platform "
    f"FROM ({LINKED_SQL}) l JOIN mention_match mm ON mm.account_id = l.id "
    "WHERE {mv}"
)

# The same for the authors (migration 0059; `{ma}`: the movement filter on `ma`).
REBUILD_AUTHORS = (
    "INSERT INTO movement_linked_author "
    "(movement_id, account_id, person_id, platform, first_ts, last_ts) "
    "SELECT ma.movement_id, ma.account_id, l.person_id, ma.platform, ma.first_ts, ma.last_ts "
    f"FROM ({LINKED_SQL}) l JOIN movement_author ma ON ma.account_id = l.id "
    "WHERE {ma}"
)


def _linked(alias: Any) -> Any:
    """Whether the account of `alias` is linked, as a probe per account (for a few)."""
    other = aliased(A)
    return or_(
        alias.c.person_id != alias.c.id,
        exists(
            select(other.c.id).where(
                and_(other.c.person_id == alias.c.id, other.c.person_id != other.c.id)
            )
        ),
    )


def linked_persons(conn: Connection, account_ids: Iterable[int]) -> dict[int, int]:
    """account -> person, for those of `account_ids` whose person has another account."""
    ids = sorted(set(account_ids))
    if not ids:
        return {}
    a = A.alias("a")
    rows = conn.execute(
        select(a.c.id, a.c.person_id).where(among(conn, a.c.id, ids), _linked(a))
    ).all()
    return {int(i): int(p) for i, p in rows}


def add_linked_days(
    conn: Connection,
    author_days: Iterable[tuple[int, int, int, str]],
    author_hours: Iterable[tuple[int, int, int, str]] = (),
) -> int:
    """Add the rows of the linked ones among new (movement, day or hour, account, platform)
    presence rows, and copy their `movement_author` rows as this transaction left them. Called
    after the batch's account and `movement_author` upserts (the row locks above). Days and
    hours go in with DO NOTHING: a repeat, or a row a concurrent re-link already wrote, is a
    no-op. Returns the day rows offered."""
    rows = set(author_days)
    hours = set(author_hours)
    person = linked_persons(conn, {acc for _, _, acc, _ in rows | hours})
    out = sorted(
        (mv, day, person[acc], acc, platform) for mv, day, acc, platform in rows if acc in person
    )
    by_hour = sorted(
        (mv, h, person[acc], acc, platform) for mv, h, acc, platform in hours if acc in person
    )
    for table, unit, values in ((MLD, "day", out), (MLH, "hour", by_hour)):
        if values:
            keys = ("movement_id", unit, "person_id", "account_id", "platform")
            conn.execute(
                insert_for(conn, table).on_conflict_do_nothing(),
                [dict(zip(keys, r, strict=True)) for r in values],
            )
    if out:
        _copy_authors(conn, {(mv, acc) for mv, _, _, acc, _ in out}, person)
    return len(out)


def _author_rows(conn: Connection, pairs: Iterable[tuple[int, int]]) -> list[Any]:
    """`movement_author` rows of these (movement, account) pairs, one statement per movement
    (the primary key's seek per account)."""
    by_mv: dict[int, set[int]] = defaultdict(set)
    for mv, acc in pairs:
        by_mv[mv].add(acc)
    out: list[Any] = []
    for mv, accs in sorted(by_mv.items()):
        out += conn.execute(
            select(MA.c.movement_id, MA.c.account_id, MA.c.platform, MA.c.first_ts, MA.c.last_ts)
            .where(MA.c.movement_id == mv, among(conn, MA.c.account_id, accs))
            .order_by(MA.c.account_id)
        ).all()
    return out


def _copy_authors(conn: Connection, pairs: set[tuple[int, int]], person: dict[int, int]) -> None:
    rows = [
        {
            "movement_id": int(mv),
            "account_id": int(acc),
            "person_id": person[int(acc)],
            "platform": p,
            "first_ts": int(first),
            "last_ts": int(last),
        }
        for mv, acc, p, first, last in _author_rows(conn, pairs)
    ]
    if rows:
        ins = insert_for(conn, MLA)
        ex = ins.excluded
        conn.execute(
            ins.on_conflict_do_update(
                index_elements=[MLA.c.movement_id, MLA.c.account_id],
                set_={c: ex[c] for c in ("person_id", "platform", "first_ts", "last_ts")},
            ),
            rows,
        )


def lock_accounts(conn: Connection, account_ids: Iterable[int]) -> None:
    """PostgreSQL: take the row locks of these accounts, in id order, to commit. A write
    holding one of them (its account upsert) is waited for, so its presence rows are seen by
    `rewrite_linked_days`; a write arriving later waits, and then reads the new persons."""
    ids = sorted(set(account_ids))
    if ids and conn.dialect.name == "postgresql":
        conn.execute(
            select(A.c.id).where(among(conn, A.c.id, ids)).order_by(A.c.id).with_for_update()
        ).all()


def rewrite_linked_days(conn: Connection, account_ids: Iterable[int]) -> None:
    """Replace these accounts' rows by what their matches, `movement_author` and their persons
    say now (after a re-link moved some of them; `lock_accounts` first)."""
    ids = sorted(set(account_ids))
    if not ids:
        return
    conn.execute(delete(MLD).where(among(conn, MLD.c.account_id, ids)))
    conn.execute(delete(MLA).where(among(conn, MLA.c.account_id, ids)))
    conn.execute(delete(MLH).where(among(conn, MLH.c.account_id, ids)))
    person = linked_persons(conn, ids)
    if not person:
        return
    # Their hours from their matches (`ix_mention_account`, then each match by mention), and
    # their days from the hours: the same rows `movement_author_day` holds for them.
    hours = conn.execute(
        select(
            MM.c.movement_id,
            (MM.c.created_ts // 3600).label("hour"),
            MM.c.account_id,
            MM.c.platform,
        )
        .select_from(MEN.join(MM, MM.c.mention_id == MEN.c.id))
        .where(among(conn, MEN.c.account_id, person))
        .distinct()
    ).all()
    days = {(int(mv), int(h) // 24, int(acc), p) for mv, h, acc, p in hours}
    for table, unit, rows in (
        (MLH, "hour", [(int(mv), int(h), int(acc), p) for mv, h, acc, p in hours]),
        (MLD, "day", sorted(days)),
    ):
        if rows:
            conn.execute(
                table.insert(),
                [
                    {
                        "movement_id": mv,
                        unit: t,
                        "person_id": person[acc],
                        "account_id": acc,
                        "platform": p,
                    }
                    for mv, t, acc, p in rows
                ],
            )
    movements = {mv for mv, _, _, _ in days}
    _copy_authors(conn, {(mv, acc) for mv in movements for acc in person}, person)


def rebuild(conn: Connection) -> None:
    """Every movement's rows from the presence and author rows and the persons (a full
    repair)."""
    conn.execute(delete(MLD))
    conn.execute(delete(MLA))
    conn.execute(delete(MLH))
    conn.exec_driver_sql(REBUILD.format(mv="1 = 1"))
    conn.exec_driver_sql(REBUILD_HOURS.format(mv="1 = 1"))
    conn.exec_driver_sql(REBUILD_AUTHORS.format(ma="1 = 1"))


__all__ = [
    "LINKED_SQL",
    "REBUILD",
    "REBUILD_AUTHORS",
    "REBUILD_HOURS",
    "add_linked_days",
    "linked_persons",
    "lock_accounts",
    "rebuild",
    "rewrite_linked_days",
]
