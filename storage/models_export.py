"""Tables and indexes the export area adds (migration 0006).

- `export_log`: one row per export written (filters, options, counts, key fingerprint, never
  the key): the audit trail an ethics committee asks for ("who exported what, when, how
  protected").
- an index on `mention_payload.fetched_at`, so the retention purge (`groundswell purge`, run
  by `collect --loop`) finds expired payloads without scanning the table;
- `requested_by` and `reason` on `export_log`, and an index on `collector_run.started_at` for
  the run-log horizon (migration 0030).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, String, Text
from sqlmodel import Field, SQLModel

from storage.models import CollectorRun, MentionPayload
from storage.types import JSONType, UTCDateTime

Index("ix_payload_fetched", MentionPayload.__table__.c.fetched_at)  # type: ignore[attr-defined]
# The run-log retention horizon deletes by age across sources (migration 0030).
Index("ix_run_started", CollectorRun.__table__.c.started_at)  # type: ignore[attr-defined]


class ExportLog(SQLModel, table=True):
    """An export that was written: what was asked and how it was protected."""

    __tablename__ = "export_log"
    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    destination: str = Field(sa_column=Column(Text, nullable=False))
    filters: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSONType, nullable=False)
    )
    options: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSONType, nullable=False)
    )
    counts: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONType, nullable=False))
    tool: str = Field(default="cli", sa_column=Column(String(20), nullable=False))
    # Who asked (the OS user, or the dashboard's signed-in viewer) and, for an identified
    # export, the reason they gave (migration 0030).
    requested_by: str | None = Field(default=None, sa_column=Column(String(200)))
    reason: str | None = Field(default=None, sa_column=Column(Text))
