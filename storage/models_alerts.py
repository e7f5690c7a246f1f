"""Tables the alerts area adds (issue 19, migration 0037; docs/alerts.md).

- `alert`: one row per episode of a rule, with its evidence. `(rule, episode)` is unique, so
  evaluating the same moment twice (two workers, `alerts --once` from cron beside `collect
  --loop`, a replay) records the alert once: the insert is `ON CONFLICT DO NOTHING`.
- `alert_rule_state`: per rule, whether an episode is open (hysteresis) and when it last fired
  (cooldown), plus what the last evaluation saw, for the dashboard's rule status.
- `alert_delivery`: the outbox. One row per alert and channel, inserted in the transaction
  that inserts the alert, so an alert is never recorded without its deliveries nor delivered
  without being recorded. A sender claims a row (`sending`, `claimed_until`) in its own
  transaction, sends, and marks it `delivered` only after the server accepted; failures go back
  to `queued` with a doubled `next_attempt_at`, and to `failed` after the last attempt.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import JSONType, UTCDateTime


class Alert(SQLModel, table=True):
    """A rule fired: what, when (the evaluated moment), why (evidence) and where to look."""

    __tablename__ = "alert"
    __table_args__ = (
        UniqueConstraint("rule", "episode", name="uq_alert_episode"),
        Index("ix_alert_fired", "fired_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    rule: str = Field(sa_column=Column(String(200), nullable=False))
    kind: str = Field(sa_column=Column(String(20), nullable=False))
    movement_id: int | None = Field(default=None, sa_column=Column(Integer))
    episode: str = Field(sa_column=Column(String(300), nullable=False))
    fired_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    title: str = Field(sa_column=Column(String(300), nullable=False))
    body: str = Field(sa_column=Column(Text, nullable=False))
    html: str | None = Field(default=None, sa_column=Column(Text))
    evidence: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSONType, nullable=False)
    )
    link: str | None = Field(default=None, sa_column=Column(Text))
    acknowledged_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    acknowledged_by: str | None = Field(default=None, sa_column=Column(String(200)))


class AlertRuleState(SQLModel, table=True):
    """Episode state of one rule (cooldown and hysteresis) and its last evaluation."""

    __tablename__ = "alert_rule_state"
    rule: str = Field(sa_column=Column(String(200), primary_key=True))
    active: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    episode: str | None = Field(default=None, sa_column=Column(String(300)))
    last_fired_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    last_evaluated_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    last_value: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONType))
    last_error: str | None = Field(default=None, sa_column=Column(Text))


class AlertDelivery(SQLModel, table=True):
    """One alert to one channel: the outbox row (see the module docstring)."""

    __tablename__ = "alert_delivery"
    __table_args__ = (
        UniqueConstraint("alert_id", "channel", name="uq_alert_delivery"),
        Index("ix_alert_delivery_due", "status", "next_attempt_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(
        sa_column=Column(Integer, ForeignKey("alert.id", ondelete="CASCADE"), nullable=False)
    )
    channel: str = Field(sa_column=Column(String(80), nullable=False))
    status: str = Field(default="queued", sa_column=Column(String(12), nullable=False))
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    next_attempt_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    claimed_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    delivered_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
