"""Tables of the blogs area: the queue of received pingbacks and webmentions, and the index
that lets a blog entry's outbound links find the mentions they point at.

Why a queue in the store and not in memory: a pingback or webmention is accepted (HTTP 202 or
an XML-RPC success) before its source is fetched and verified. If the receiver restarts between
the two, the item must still be verified afterwards (DESIGN.md section 8), so "accepted" means
"committed to this table". Verification claims rows with a lease, like collector sources, so a
worker killed mid-verification leaves a row that is claimed again when its lease runs out.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Integer, String, Text
from sqlmodel import Field, SQLModel

from storage.models import Mention
from storage.types import BigId, UTCDateTime

# Blog entries link to other mentions by URL (`link` edges, DESIGN.md section 2): look them up
# by URL without scanning the mention table. A hash index on PostgreSQL (URLs can exceed a
# B-tree entry's size limit; only equality is needed), a plain index on SQLite.
MENTION_URL_INDEX = Index(
    "ix_mention_url",
    Mention.__table__.c.url,  # type: ignore[attr-defined]
    postgresql_using="hash",
)

RECEIVED_STATUSES = ("pending", "verifying", "verified", "rejected", "deleted")


class ReceivedPing(SQLModel, table=True):
    """One received pingback or webmention (source -> target) and its verification state."""

    __tablename__ = "received_ping"
    __table_args__ = (Index("ix_received_due", "status", "next_attempt_at"),)
    id: int | None = Field(default=None, primary_key=True)
    key: int = Field(sa_column=Column(BigId, unique=True, nullable=False))
    kind: str = Field(sa_column=Column(String(12), nullable=False))  # pingback | webmention
    source: str = Field(sa_column=Column(Text, nullable=False))
    target: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(default="pending", sa_column=Column(String(12), nullable=False))
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    result: str | None = Field(default=None, sa_column=Column(String(40)))
    error: str | None = Field(default=None, sa_column=Column(Text))
    received_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    next_attempt_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    lease_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    verified_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
