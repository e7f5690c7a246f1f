"""The write side of `movement_linked_day` (storage/models_rollups.py, migration 0058): the days
on which the accounts of persons with more than one account were active, with their person.

An account is *linked* when its person has another account: its `person_id` is not its own id
(`ix_account_linked`), or another account's `person_id` is its id (the group's first account).
The rows are kept in the transactions that change what they depend on:

- the write path adds, beside each new `movement_author_day` row, the row of a linked author
  (`add_linked_days`), reading who is linked after the batch's account upsert: on PostgreSQL
  that upsert holds the authors' row locks to commit, so a re-link of one of them waits for
  the write to commit, and a write after a re-link reads its outcome;
- re-linking (`storage.people_links.regroup`) locks the rows of every account of the groups
  it walked, moves the accounts, then rewrites those accounts' rows from `movement_author_day`
  (`rewrite_linked_days`): a group that gains its second account gains its first account's
  rows too, a group split to one account loses them;
- `storage.recount` and the migration's backfill rebuild them from the same definition
  (`REBUILD`), which tests/test_linked_days.py checks against what the write path kept.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, and_, delete, exists, or_, select
from sqlalchemy.orm import aliased

from storage.bulk import insert_for
from storage.id_lists import among
from storage.models import Account, Movement
from storage.models_rollups import MovementAuthorDay, MovementLinkedDay

A = Account.__table__
MAD = MovementAuthorDay.__table__
MLD = MovementLinkedDay.__table__
M = Movement.__table__

# The linked accounts in SQL, for every account at once (the module docstring's definition;
# the subquery reads `ix_account_linked`, which holds only the rows whose person is not
# their own id).
LINKED_SQL = (
    "SELECT a.id, a.person_id FROM account a WHERE a.person_id <> a.id "
    "OR a.id IN (SELECT b.person_id FROM account b WHERE b.person_id <> b.id)"
)

# The definition as a statement: migration 0058's backfill and `storage.recount`'s rebuild
# (`{mv}`: recount's movement filter on `mad`, "1 = 1" for every movement).
REBUILD = (
    "INSERT INTO movement_linked_day (movement_id, day, person_id, account_id, platform) "
    "SELECT mad.movement_id, mad.day, l.person_id, mad.account_id, mad.platform "
    f"FROM ({LINKED_SQL}) l JOIN movement_author_day mad ON mad.account_id = l.id "
    "WHERE {mv}"
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


def add_linked_days(conn: Connection, author_days: Iterable[tuple[int, int, int, str]]) -> int:
    """Add the rows of the linked ones among new (movement, day, account, platform) presence
    rows. Called after the batch's account upsert (the row locks above). DO NOTHING: a
    repeat, or a row a concurrent re-link already wrote, is a no-op. Returns the rows offered."""
    rows = set(author_days)
    person = linked_persons(conn, {acc for _, _, acc, _ in rows})
    out = sorted(
        (mv, day, person[acc], acc, platform) for mv, day, acc, platform in rows if acc in person
    )
    if out:
        keys = ("movement_id", "day", "person_id", "account_id", "platform")
        conn.execute(
            insert_for(conn, MLD).on_conflict_do_nothing(),
            [dict(zip(keys, r, strict=True)) for r in out],
        )
    return len(out)


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
    """Replace these accounts' rows by what `movement_author_day` and their persons say now
    (after a re-link moved some of them; `lock_accounts` first)."""
    ids = sorted(set(account_ids))
    if not ids:
        return
    conn.execute(delete(MLD).where(among(conn, MLD.c.account_id, ids)))
    person = linked_persons(conn, ids)
    if not person:
        return
    # Per movement: `ix_mauthor_day_account` (movement, account, day, platform) then reads
    # each linked account's days with one seek.
    for (mv,) in conn.execute(select(M.c.id)).all():
        rows = conn.execute(
            select(MAD.c.day, MAD.c.account_id, MAD.c.platform).where(
                MAD.c.movement_id == mv, among(conn, MAD.c.account_id, person)
            )
        ).all()
        if rows:
            conn.execute(
                MLD.insert(),
                [
                    {
                        "movement_id": mv,
                        "day": int(d),
                        "person_id": person[int(acc)],
                        "account_id": int(acc),
                        "platform": p,
                    }
                    for d, acc, p in rows
                ],
            )


def rebuild(conn: Connection) -> None:
    """Every movement's rows from the presence rows and the persons (a full repair)."""
    conn.execute(delete(MLD))
    conn.exec_driver_sql(REBUILD.format(mv="1 = 1"))


__all__ = [
    "LINKED_SQL",
    "REBUILD",
    "add_linked_days",
    "linked_persons",
    "lock_accounts",
    "rebuild",
    "rewrite_linked_days",
]
