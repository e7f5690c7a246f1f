"""The SQL of alerts, their episode state and the delivery outbox (docs/alerts.md).

Why an outbox: an alert and the deliveries it owes are inserted in one transaction, so a crash
either keeps both or neither; a sender then claims a delivery in its own short transaction
(`sending`, with a claim that expires), talks to the server outside any transaction, and marks
it `delivered` only once the server accepted. A claim left behind by a crash expires and the
delivery is sent again with the same idempotency key: at-least-once on the wire, exactly once
wherever the receiver honours the key (docs/alerts.md, "What exactly-once means here").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select, update

from storage.bulk import insert_for
from storage.models_alerts import Alert, AlertDelivery, AlertRuleState

AL = Alert.__table__  # type: ignore[attr-defined]
AD = AlertDelivery.__table__  # type: ignore[attr-defined]
AS = AlertRuleState.__table__  # type: ignore[attr-defined]

CLAIM_S = 300  # a claim older than this was left by a crashed sender


@dataclass(slots=True)
class NewAlert:
    """What a rule decided to say; `episode` makes it unique per rule."""

    rule: str
    kind: str
    episode: str
    fired_at: datetime
    title: str
    body: str
    movement_id: int | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    link: str | None = None
    html: str | None = None


def record_alert(
    conn: Connection, alert: NewAlert, channels: list[str], *, now: datetime
) -> int | None:
    """Insert the alert and one queued delivery per channel, in the caller's transaction.
    Returns the new id, or None when this rule's episode was already recorded."""
    stmt = (
        insert_for(conn, AL)
        .values(
            rule=alert.rule,
            kind=alert.kind,
            movement_id=alert.movement_id,
            episode=alert.episode,
            fired_at=alert.fired_at,
            created_at=now,
            title=alert.title[:300],
            body=alert.body,
            html=alert.html,
            evidence=alert.evidence,
            link=alert.link,
        )
        .on_conflict_do_nothing(index_elements=["rule", "episode"])
        .returning(AL.c.id)
    )
    alert_id = conn.execute(stmt).scalar()
    if alert_id is None:
        return None
    for channel in channels:
        conn.execute(
            AD.insert().values(
                alert_id=alert_id,
                channel=channel,
                status="queued",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )
    return int(alert_id)


def alert_exists(conn: Connection, rule: str, episode: str) -> bool:
    """This rule's episode was recorded already (one probe of `uq_alert_episode`)."""
    found = conn.execute(select(AL.c.id).where(AL.c.rule == rule, AL.c.episode == episode))
    return found.first() is not None


def quoting_alerts(conn: Connection, *, since: datetime) -> list[dict[str, Any]]:
    """Alerts that quote posts (watched terms, event summaries) fired since `since`."""
    stmt = select(AL.c.id, AL.c.kind, AL.c.movement_id, AL.c.evidence).where(
        AL.c.kind.in_(("watched_terms", "event")), AL.c.fired_at >= since
    )
    return [dict(r) for r in conn.execute(stmt).mappings()]


def rewrite_alert(conn: Connection, alert_id: int, *, evidence: dict[str, Any], body: str) -> None:
    conn.execute(update(AL).where(AL.c.id == alert_id).values(evidence=evidence, body=body))


# -- episode state --------------------------------------------------------------------------


def rule_states(conn: Connection) -> dict[str, dict[str, Any]]:
    """Every rule's state, keyed `rule/movement` (the dashboard's rule status)."""
    return {r["rule"]: dict(r) for r in conn.execute(select(AS)).mappings()}


def rule_state(conn: Connection, key: str) -> dict[str, Any]:
    """One rule's state on one movement (a blank one before its first evaluation). Locked until the
    cycle commits on PostgreSQL, so two workers evaluating at once see each other's episode
    (SQLite's writers are serialised by BEGIN IMMEDIATE already)."""
    # The row exists before it is locked, so the very first evaluation is serialised too.
    conn.execute(
        insert_for(conn, AS)
        .values(rule=key, active=False)
        .on_conflict_do_nothing(index_elements=["rule"])
    )
    stmt = select(AS).where(AS.c.rule == key)
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    row = conn.execute(stmt).mappings().first()
    return dict(row) if row else {}


def save_rule_state(conn: Connection, rule: str, **values: Any) -> None:
    """Upsert one rule's state (only the given columns change)."""
    stmt = insert_for(conn, AS).values(rule=rule, **{"active": False, **values})
    conn.execute(stmt.on_conflict_do_update(index_elements=["rule"], set_=values))


# -- the outbox -----------------------------------------------------------------------------


def claim_due(conn: Connection, *, now: datetime, limit: int = 50) -> list[dict[str, Any]]:
    """Claim due deliveries (queued and due, or `sending` with an expired claim: its sender
    crashed). Committed by the caller before anything is sent. On PostgreSQL rows another
    sender holds are skipped (`FOR UPDATE SKIP LOCKED`)."""
    due = or_(
        and_(AD.c.status == "queued", AD.c.next_attempt_at <= now),
        and_(AD.c.status == "sending", AD.c.claimed_until <= now),
    )
    pick = select(AD.c.id).where(due).order_by(AD.c.next_attempt_at, AD.c.id).limit(limit)
    if conn.dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    ids = [i for (i,) in conn.execute(pick)]
    if not ids:
        return []
    conn.execute(
        update(AD)
        .where(AD.c.id.in_(ids), due)
        .values(
            status="sending",
            claimed_until=now + timedelta(seconds=CLAIM_S),
            attempts=AD.c.attempts + 1,
        )
    )
    rows = conn.execute(
        select(
            AD.c.id,
            AD.c.alert_id,
            AD.c.channel,
            AD.c.attempts,
            AL.c.rule,
            AL.c.kind,
            AL.c.title,
            AL.c.body,
            AL.c.html,
            AL.c.evidence,
            AL.c.link,
            AL.c.fired_at,
            AL.c.episode,
        )
        .select_from(AD.join(AL, AL.c.id == AD.c.alert_id))
        .where(AD.c.id.in_(ids), AD.c.status == "sending")
        .order_by(AD.c.id)
    ).mappings()
    return [dict(r) for r in rows]


def mark_delivered(conn: Connection, delivery_id: int, *, now: datetime) -> None:
    conn.execute(
        update(AD)
        .where(AD.c.id == delivery_id)
        .values(status="delivered", delivered_at=now, claimed_until=None, last_error=None)
    )


def mark_failed_attempt(
    conn: Connection,
    delivery_id: int,
    error: str,
    *,
    now: datetime,
    retry_in_s: float | None,
) -> None:
    """Back to the queue after `retry_in_s`, or `failed` for good when None."""
    values: dict[str, Any] = {"last_error": error[:2000], "claimed_until": None}
    if retry_in_s is None:
        values["status"] = "failed"
    else:
        values.update(status="queued", next_attempt_at=now + timedelta(seconds=retry_in_s))
    conn.execute(update(AD).where(AD.c.id == delivery_id).values(**values))


def outbox_counts(conn: Connection) -> dict[str, int]:
    """Deliveries by status (`status` shows queued, sending and failed ones)."""
    rows = conn.execute(select(AD.c.status, func.count()).group_by(AD.c.status))
    return {s: int(n) for s, n in rows}


def undelivered(conn: Connection, limit: int = 20) -> list[dict[str, Any]]:
    """Deliveries not (yet) accepted by their server, oldest first, with their last error."""
    stmt = (
        select(
            AD.c.id,
            AD.c.channel,
            AD.c.status,
            AD.c.attempts,
            AD.c.next_attempt_at,
            AD.c.last_error,
            AL.c.title,
            AL.c.fired_at,
        )
        .select_from(AD.join(AL, AL.c.id == AD.c.alert_id))
        .where(AD.c.status != "delivered")
        .order_by(AD.c.created_at, AD.c.id)
        .limit(limit)
    )
    return [dict(r) for r in conn.execute(stmt).mappings()]


# -- reading and acknowledging ----------------------------------------------------------------


def list_alerts(
    conn: Connection,
    *,
    unacknowledged: bool = False,
    movement_id: int | None = None,
    limit: int = 50,
    include_digests: bool = False,
) -> list[dict[str, Any]]:
    """Newest alerts first, each with its deliveries' states."""
    stmt = select(AL).order_by(AL.c.fired_at.desc(), AL.c.id.desc()).limit(limit)
    if unacknowledged:
        stmt = stmt.where(AL.c.acknowledged_at.is_(None))
    if movement_id is not None:
        stmt = stmt.where(AL.c.movement_id == movement_id)
    if not include_digests:
        stmt = stmt.where(AL.c.kind != "digest")
    alerts = [dict(r) for r in conn.execute(stmt).mappings()]
    if alerts:
        ids = [a["id"] for a in alerts]
        states: dict[int, list[str]] = {}
        for aid, ch, st in conn.execute(
            select(AD.c.alert_id, AD.c.channel, AD.c.status)
            .where(AD.c.alert_id.in_(ids))
            .order_by(AD.c.id)
        ):
            states.setdefault(aid, []).append(f"{ch}: {st}")
        for a in alerts:
            a["deliveries"] = states.get(a["id"], [])
    return alerts


def acknowledge(conn: Connection, alert_id: int, *, by: str, now: datetime) -> bool:
    """Acknowledge one alert (the first acknowledgement stays); False if there is none."""
    exists = conn.execute(select(AL.c.id).where(AL.c.id == alert_id)).first()
    if exists is None:
        return False
    conn.execute(
        update(AL)
        .where(AL.c.id == alert_id, AL.c.acknowledged_at.is_(None))
        .values(acknowledged_at=now, acknowledged_by=by[:200])
    )
    return True
