"""A moderator's link or unlink of two accounts (issue 20: "a moderator's decision, with a
reason, kept in an audit log"), and the log.

Small on purpose: the evidence model and the linking pass are people-core's. A link merges the
two accounts' persons (every account of both takes the smallest account id as `person_id`, in
the caller's transaction, as the linking pass does); an unlink takes one account out of its
person (it becomes its own person; the rest keep the smallest remaining id). Each decision is
its own `person_link` row (`moderator_link` strong, `moderator_unlink`) naming the moderator
(`decided_by`), the pair and the reason (the people log, storage/models_people.py), and a row
of the store-wide audit trail (`people.link` / `people.unlink`, storage/audit.py), both in the
caller's transaction: a decision that commits is always logged.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select, update

from domain.ids import stable_id
from storage.audit import record_action
from storage.models import Account
from storage.models_people import PersonLink

A = Account.__table__
PL = PersonLink.__table__
KINDS = {"link": "moderator_link", "unlink": "moderator_unlink"}
ACTION_OF = {v: k for k, v in KINDS.items()}


class PersonModerationError(ValueError):
    """A link or unlink that cannot be made; the message says why and what to do."""


def _person(conn: Connection, account_id: int) -> int:
    p = conn.execute(select(A.c.person_id).where(A.c.id == account_id)).scalar()
    if p is None:
        raise PersonModerationError(
            f"No account {account_id} in the store: pick accounts from the list."
        )
    return int(p)


def _check(moderator: str, reason: str) -> str:
    if not moderator:
        raise PersonModerationError("Only a signed-in moderator can link or unlink accounts.")
    reason = " ".join(reason.split())
    if not reason:
        raise PersonModerationError("Say why: a link or unlink needs a reason for the log.")
    return reason[:1000]


def _log(
    conn: Connection, action: str, ids: list[int], moderator: str, reason: str, role: str
) -> None:
    record_action(
        conn,
        actor=moderator,
        role=role,
        action=f"people.{action}",
        target_kind="account",
        target_id=ids[0],
        detail={"accounts": list(ids), "reason": reason},
    )
    lo, hi = sorted(ids)
    now = datetime.now(UTC)
    kind = KINDS[action]
    conn.execute(
        PL.insert().values(
            id=stable_id("person_link", str(lo), str(hi), kind, now.isoformat(), moderator),
            account_lo=lo,
            account_hi=hi,
            kind=kind,
            strength="strong" if action == "link" else "claim",
            source="dashboard",
            created_at=now,
            checked_at=now,
            decided_by=moderator,
            reason=reason,
        )
    )


def link_accounts(
    conn: Connection, a: int, b: int, *, moderator: str, reason: str, role: str = "moderator"
) -> int:
    """Make `a` and `b` (and every account of their persons) one person; returns its id."""
    reason = _check(moderator, reason)
    pa, pb = _person(conn, a), _person(conn, b)
    if pa == pb:
        raise PersonModerationError("These accounts are already one person.")
    group = [int(i) for (i,) in conn.execute(select(A.c.id).where(A.c.person_id.in_([pa, pb])))]
    person = min(group)
    conn.execute(update(A).where(A.c.id.in_(group)).values(person_id=person))
    _log(conn, "link", [a, b], moderator, reason, role)
    return person


def unlink_account(
    conn: Connection, account: int, *, moderator: str, reason: str, role: str = "moderator"
) -> None:
    """Take `account` out of its person: it becomes a person of its own."""
    reason = _check(moderator, reason)
    p = _person(conn, account)
    rest = [
        int(i) for (i,) in conn.execute(select(A.c.id).where(A.c.person_id == p, A.c.id != account))
    ]
    if not rest:
        raise PersonModerationError("This account is not linked to any other.")
    conn.execute(update(A).where(A.c.id == account).values(person_id=account))
    conn.execute(update(A).where(A.c.id.in_(rest)).values(person_id=min(rest)))
    _log(conn, "unlink", [account, min(rest)], moderator, reason, role)


def audit_log(conn: Connection, limit: int = 50) -> list[dict[str, Any]]:
    """The latest moderator links and unlinks, newest first, with the accounts' handles."""
    rows = conn.execute(
        select(PL.c.created_at, PL.c.kind, PL.c.account_lo, PL.c.account_hi, PL.c.decided_by)
        .add_columns(PL.c.reason)
        .where(PL.c.kind.in_(sorted(ACTION_OF)))
        .order_by(PL.c.created_at.desc(), PL.c.id.desc())
        .limit(limit)
    ).all()
    ids = {int(x) for r in rows for x in (r.account_lo, r.account_hi)}
    names = {
        int(i): f"{h or n} ({p})"
        for i, h, n, p in conn.execute(
            select(A.c.id, A.c.handle, A.c.native_id, A.c.platform).where(A.c.id.in_(sorted(ids)))
        )
    }
    return [
        {
            "at": r.created_at,
            "action": ACTION_OF[r.kind],
            "accounts": [names.get(int(x), f"account {x}") for x in (r.account_lo, r.account_hi)],
            "moderator": r.decided_by,
            "reason": r.reason,
        }
        for r in rows
    ]
