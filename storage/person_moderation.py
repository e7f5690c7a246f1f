"""A moderator's link or unlink of two accounts on the dashboard (issue 20: "a moderator's
decision, with a reason, kept in an audit log"), and the log.

The decision itself is people-core's (`storage.people_links.moderator_link` /
`moderator_unlink`): a `person_link` row naming the moderator (`decided_by`), the pair and the
reason, then the groups regrouped from all their evidence, so an unlink holds against any
evidence that would join the two again. Here it also becomes a row of the store-wide audit
trail (`people.link` / `people.unlink`, storage/audit.py), in the same transaction: a
decision that commits is always in both logs. Errors come back as `PersonModerationError`
with a message a moderator can act on.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from domain.people import MODERATOR_LINK
from storage.audit import record_action
from storage.models import Account
from storage.people_links import moderator_link, moderator_log, moderator_unlink

A = Account.__table__


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


def _decide(
    conn: Connection,
    action: str,
    a: int,
    b: int,
    moderator: str,
    reason: str,
    role: str,
    actor: str | None = None,
) -> int:
    if a == b:
        raise PersonModerationError("Pick two different accounts.")
    try:
        moved = (moderator_link if action == "link" else moderator_unlink)(
            conn, a, b, by=moderator, reason=reason
        )
    except (ValueError, LookupError) as exc:
        raise PersonModerationError(str(exc)) from exc
    record_action(
        conn,
        actor=actor or moderator,
        role=role,
        action=f"people.{action}",
        target_kind="account",
        target_id=a,
        detail={"accounts": [a, b], "reason": reason, "accounts_moved": moved},
    )
    return moved


def link_accounts(
    conn: Connection,
    a: int,
    b: int,
    *,
    moderator: str,
    reason: str,
    role: str = "moderator",
    actor: str | None = None,
) -> int:
    """Make `a` and `b` (and every account of their persons) one person; returns its id.
    `actor` names the moderator in the audit trail when it says more than `moderator` (the
    dashboard gives the provider's subject too); the link log keeps `moderator`."""
    reason = _check(moderator, reason)
    if _person(conn, a) == _person(conn, b):
        raise PersonModerationError("These accounts are already one person.")
    _decide(conn, "link", a, b, moderator, reason, role, actor)
    return _person(conn, a)


def unlink_accounts(
    conn: Connection,
    a: int,
    b: int,
    *,
    moderator: str,
    reason: str,
    role: str = "moderator",
    actor: str | None = None,
) -> int:
    """Make `a` and `b` two people for good (no evidence joins them again, however it chains;
    worth recording before any evidence exists too); returns how many accounts changed
    person."""
    reason = _check(moderator, reason)
    return _decide(conn, "unlink", a, b, moderator, reason, role, actor)


def audit_log(conn: Connection, limit: int = 50) -> list[dict[str, Any]]:
    """The latest moderator links and unlinks, newest first, with the accounts' handles."""
    rows = moderator_log(conn, limit=limit)
    ids = {int(x) for r in rows for x in (r["account_lo"], r["account_hi"])}
    names = {
        int(i): f"{h or n} ({p})"
        for i, h, n, p in conn.execute(
            select(A.c.id, A.c.handle, A.c.native_id, A.c.platform).where(A.c.id.in_(sorted(ids)))
        )
    }
    return [
        {
            "at": r["created_at"],
            "action": "link" if r["kind"] == MODERATOR_LINK else "unlink",
            "accounts": [
                names.get(int(x), f"account {x}") for x in (r["account_lo"], r["account_hi"])
            ],
            "moderator": r["decided_by"],
            "reason": r["reason"],
        }
        for r in rows
    ]
