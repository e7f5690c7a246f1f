"""The audit trail's SQL (issue 23; docs/access.md, "The audit trail").

Callers record an action with `record_action` inside the transaction that performs it, so the
action and its audit row commit together: a rolled-back hide leaves no audit row, and a hide
that committed always has one. Reading goes through `list_actions` (the moderators' view,
newest first, bounded) and `iter_actions` (the auditors' export, keyset pages, any size);
both blank the target of a withheld post or an opted-out account, so no id of withheld
content leaves the store through the trail (DESIGN.md section 6).

The trail names staff, never the public: `actor` is the signed-in identity (OIDC subject and
email or name), "shared password: <name>" or "cli:<os user>"; targets are the store's own row
ids, hosts, words and event slugs, and `detail` holds small facts about the action (which
datasets, identified or pseudonymised, how many rows), not content.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select

from storage.models import Account, Mention
from storage.models_audit import AuditEvent
from storage.queries.ethics import account_opted_out, func_coalesce, mention_displayable

AE = AuditEvent.__table__  # type: ignore[attr-defined]

# The actions the application records, with what the moderators' view calls them. Others may
# be recorded (the name only has to be well formed), but these are the ones documented.
ACTIONS: dict[str, str] = {
    "sign_in": "signed in",
    "sign_out": "signed out",
    "wall.hide": "hid on the wall",
    "wall.show": "showed again",
    "wall.approve": "approved",
    "wall.pin": "pinned",
    "wall.unpin": "unpinned",
    "wall.unhide": "unhid",
    "wall.block": "blocked a word",
    "wall.unblock": "unblocked a word",
    "wall.settings": "changed wall settings",
    "events.save": "edited events",
    "events.import": "imported events",
    "export": "exported",
    "alerts.acknowledge": "acknowledged an alert",
    "people.link": "linked accounts to a person",
    "people.unlink": "unlinked an account from a person",
    "audit.export": "exported the audit trail",
}
# Targets whose ids name content that can be withheld (opted out or deleted), and the detail
# keys that list more of them (e.g. the accounts a moderator linked into one person).
WITHHELD_KINDS = ("mention", "account")
DETAIL_REFS = {"mention": "mentions", "account": "accounts"}
MAX_DETAIL_CHARS = 4_000
TRUNCATED_ITEMS, TRUNCATED_CHARS = 20, 200  # what an oversized detail keeps of each value
_ACTION = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
COLUMNS = ("id", "at", "actor", "role", "action", "target_kind", "target_id", "detail")
# The columns of an exported row (`flat_row`), in file order.
EXPORT_FIELDS = (*COLUMNS[:-1], "withheld", "detail")

Scalar = str | int | float | bool | None


class AuditError(ValueError):
    """A caller passed something the trail cannot record (a programming error, not input)."""


def _clean(value: str | None, what: str, limit: int, *, required: bool) -> str | None:
    text = " ".join(str(value).split()) if value is not None else ""
    if not text:
        if required:
            raise AuditError(f"an audit row needs {what}")
        return None
    return text[:limit]


def _detail(detail: Mapping[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in (detail or {}).items():
        ok = isinstance(value, Scalar) or (  # type: ignore[arg-type]
            isinstance(value, list | tuple) and all(isinstance(v, Scalar) for v in value)  # type: ignore[arg-type]
        )
        if not isinstance(key, str) or not ok:
            raise AuditError(
                f"audit detail {key!r}: only strings, numbers, booleans and lists of them "
                "(the trail records facts about an action, not content)"
            )
        out[key] = list(value) if isinstance(value, list | tuple) else value
    if _size(out) <= MAX_DETAIL_CHARS:
        return out
    # Too big (a programme of hundreds of events saved at once): shortened, never refused,
    # since refusing would roll back the action the row records.
    short: dict[str, Any] = {"truncated": True}
    for key, value in out.items():
        if isinstance(value, list):
            short[key] = [_cut(v) for v in value[:TRUNCATED_ITEMS]]
            if len(value) > TRUNCATED_ITEMS:
                short[f"{key}_count"] = len(value)
        else:
            short[key] = _cut(value)
    return short if _size(short) <= MAX_DETAIL_CHARS else {"truncated": True}


def _size(detail: dict[str, Any]) -> int:
    return len(json.dumps(detail, default=str))


def _cut(value: Any) -> Any:
    return value[:TRUNCATED_CHARS] if isinstance(value, str) else value


def record_action(
    conn: Connection,
    *,
    actor: str,
    role: str,
    action: str,
    target_kind: str | None = None,
    target_id: str | int | None = None,
    detail: Mapping[str, Any] | None = None,
    at: datetime | None = None,
) -> int:
    """Append one audit row in the caller's transaction and return its id.

    `actor` is who did it (never empty), `role` the role the action was allowed under
    (viewer, moderator, editor, researcher, auditor; "operator" for the CLI), `action` a
    dotted name (see `ACTIONS`). Raises `AuditError` for a malformed call.
    """
    name = _clean(action, "an action", 40, required=True) or ""
    if not _ACTION.match(name):
        raise AuditError(f"audit action {action!r} is not a dotted lower-case name")
    values = {
        "at": at or datetime.now(UTC),
        "actor": _clean(actor, "an actor", 200, required=True),
        "role": _clean(role, "a role", 40, required=True),
        "action": name,
        "target_kind": _clean(target_kind, "a target kind", 40, required=False),
        "target_id": _clean(
            None if target_id is None else str(target_id), "a target", 300, required=False
        ),
        "detail": _detail(detail),
    }
    return int(conn.execute(AE.insert().values(**values).returning(AE.c.id)).scalar_one())


def already_recorded(
    conn: Connection, *, actor: str, action: str, target_kind: str, target_id: str
) -> bool:
    """Whether this actor's `action` on this target is in the trail already (one provider
    sign-in, known by its ID token's issue time, is recorded once however many tabs open)."""
    query = select(AE.c.id).where(
        AE.c.actor == actor[:200],
        AE.c.action == action,
        AE.c.target_kind == target_kind,
        AE.c.target_id == target_id[:300],
    )
    return conn.execute(query.limit(1)).first() is not None


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which rows: by actor, action and time (`since` inclusive, `until` exclusive)."""

    actor: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def where(self) -> list[Any]:
        clauses: list[Any] = []
        if self.actor:
            clauses.append(AE.c.actor == self.actor)
        if self.action:
            clauses.append(AE.c.action == self.action)
        if self.since is not None:
            clauses.append(AE.c.at >= self.since)
        if self.until is not None:
            clauses.append(AE.c.at < self.until)
        return clauses


def _digits(value: Any) -> int | None:
    return int(value) if isinstance(value, int | str) and str(value).isdigit() else None


def _ids(rows: list[dict[str, Any]], kind: str) -> set[int]:
    """Row ids of `kind` named by the rows: their targets and their detail's id lists."""
    out: set[int] = set()
    for r in rows:
        if r["target_kind"] == kind and (n := _digits(r["target_id"])) is not None:
            out.add(n)
        listed = (r["detail"] or {}).get(DETAIL_REFS[kind])
        for value in listed if isinstance(listed, list) else []:  # a count is no list of ids
            if (n := _digits(value)) is not None:
                out.add(n)
    return out


def _shown_mentions(
    conn: Connection, ids: set[int], discoverable_false_is_opt_out: bool
) -> set[int]:
    if not ids:
        return set()
    m, a = Mention.__table__, Account.__table__  # type: ignore[attr-defined]
    query = (
        select(m.c.id)
        .select_from(m.outerjoin(a, a.c.id == m.c.account_id))
        .where(
            m.c.id.in_(sorted(ids)),
            mention_displayable(m, a, discoverable_false_is_opt_out=discoverable_false_is_opt_out),
        )
    )
    return {int(r[0]) for r in conn.execute(query)}


def _shown_accounts(
    conn: Connection, ids: set[int], discoverable_false_is_opt_out: bool
) -> set[int]:
    if not ids:
        return set()
    a = Account.__table__  # type: ignore[attr-defined]
    opted = func_coalesce(
        account_opted_out(a, discoverable_false_is_opt_out=discoverable_false_is_opt_out)
    )
    query = select(a.c.id).where(a.c.id.in_(sorted(ids)), ~opted)
    return {int(r[0]) for r in conn.execute(query)}


def _redact(
    conn: Connection, rows: list[dict[str, Any]], discoverable_false_is_opt_out: bool
) -> list[dict[str, Any]]:
    """Blank the target of every row about a withheld post or an opted-out (or gone) account,
    and such ids in the detail's `mentions`/`accounts` lists ("withheld"): the ids are kept in
    the store (the rows still say that something was done) but never shown or exported."""
    shown = {
        "mention": _shown_mentions(conn, _ids(rows, "mention"), discoverable_false_is_opt_out),
        "account": _shown_accounts(conn, _ids(rows, "account"), discoverable_false_is_opt_out),
    }
    for r in rows:
        kind, target = r["target_kind"], r["target_id"]
        r["withheld"] = (
            kind in WITHHELD_KINDS
            and target is not None
            and (not str(target).isdigit() or int(target) not in shown[kind])
        )
        if r["withheld"]:
            r["target_id"] = None
        detail = r["detail"] = dict(r["detail"] or {})
        for kind, key in DETAIL_REFS.items():
            if isinstance(detail.get(key), list):
                detail[key] = [v if _digits(v) in shown[kind] else "withheld" for v in detail[key]]
    return rows


def _rows(
    conn: Connection, query: Any, discoverable_false_is_opt_out: bool
) -> list[dict[str, Any]]:
    rows = [dict(r._mapping) for r in conn.execute(query)]
    return _redact(conn, rows, discoverable_false_is_opt_out)


def list_actions(
    conn: Connection,
    where: AuditFilter | None = None,
    *,
    limit: int = 200,
    discoverable_false_is_opt_out: bool = True,
) -> list[dict[str, Any]]:
    """The newest `limit` rows matching `where`, newest first, withheld targets blanked."""
    query = (
        select(*(AE.c[c] for c in COLUMNS))
        .where(*(where or AuditFilter()).where())
        .order_by(AE.c.at.desc(), AE.c.id.desc())
        .limit(max(1, min(limit, 5_000)))
    )
    return _rows(conn, query, discoverable_false_is_opt_out)


def iter_actions(
    conn: Connection,
    where: AuditFilter | None = None,
    *,
    batch: int = 5_000,
    discoverable_false_is_opt_out: bool = True,
) -> Iterator[list[dict[str, Any]]]:
    """Every row matching `where`, oldest first, in pages of `batch` (keyset on id: each page
    starts after the last id seen, so the loop always advances and ends)."""
    after = 0
    while True:
        query = (
            select(*(AE.c[c] for c in COLUMNS))
            .where(AE.c.id > after, *(where or AuditFilter()).where())
            .order_by(AE.c.id)
            .limit(batch)
        )
        page = _rows(conn, query, discoverable_false_is_opt_out)
        if not page:
            return
        yield page
        after = int(page[-1]["id"])
        if len(page) < batch:
            return


def flat_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """One listed row as an export line: ISO time in UTC, detail as sorted JSON text."""
    out = {k: row.get(k) for k in EXPORT_FIELDS}
    out["at"] = row["at"].astimezone(UTC).isoformat()
    out["detail"] = json.dumps(row["detail"], sort_keys=True, ensure_ascii=False)
    return out


def facets(conn: Connection) -> tuple[list[str], list[str]]:
    """The actors and the actions present, sorted, for the view's filter boxes."""
    actors = [r[0] for r in conn.execute(select(AE.c.actor).distinct().order_by(AE.c.actor))]
    actions = [r[0] for r in conn.execute(select(AE.c.action).distinct().order_by(AE.c.action))]
    return actors, actions


__all__ = [
    "ACTIONS",
    "EXPORT_FIELDS",
    "AuditError",
    "AuditFilter",
    "already_recorded",
    "facets",
    "flat_row",
    "iter_actions",
    "list_actions",
    "record_action",
]
