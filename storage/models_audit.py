"""The audit trail's table (issue 23, migration 0041; docs/access.md, "The audit trail").

`audit_event`: one row per thing staff did that changes what the public sees or what leaves the
store: signing in, wall moderation (hide, approve, pin, block and their undoing), wall settings,
event edits and imports, exports (which datasets, identified or pseudonymised), alert
acknowledgements, linking people. Written by `storage.audit.record_action` in the caller's
transaction, so an action and its audit row commit (or roll back) together.

It names staff (the signed-in identity, "shared password: <name>" or "cli:<os user>"), never
the public: targets are the store's own ids (a mention's or account's row id, a host, a word,
an event slug), and a withheld post's id is blanked whenever rows leave through
`storage.audit` (dashboard view and export). Kept `[ethics].audit_retention_days` (default
400 days), purged by `groundswell purge` and `collect --loop` like the other horizons.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, String
from sqlmodel import Field, SQLModel

from storage.types import JSONType, UTCDateTime


class AuditEvent(SQLModel, table=True):
    """Who (actor, and the role the action was allowed under) did what to which target, when."""

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_at", "at"),
        Index("ix_audit_actor_at", "actor", "at"),
        Index("ix_audit_action_at", "action", "at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    actor: str = Field(sa_column=Column(String(200), nullable=False))
    role: str = Field(sa_column=Column(String(40), nullable=False))
    action: str = Field(sa_column=Column(String(40), nullable=False))
    target_kind: str | None = Field(default=None, sa_column=Column(String(40)))
    target_id: str | None = Field(default=None, sa_column=Column(String(300)))
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONType, nullable=False))
