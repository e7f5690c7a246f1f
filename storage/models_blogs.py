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
from typing import Any

from sqlalchemy import BigInteger, Column, Index, Integer, String, Text
from sqlmodel import Field, SQLModel

from storage.models import Mention
from storage.types import BigId, UTCDateTime

# Blog entries link to other mentions by URL (`link` edges, DESIGN.md section 2). Blog-like
# mentions are looked up by URL through this index; it is partial so that the write path of
# Mastodon and Bluesky posts (by far the most rows) never maintains it: measured, a full index
# on mention.url cost 15-20% of SQLite ingest. Their posts are found by the native id their
# page URL encodes instead (storage.queries.blogs). A B-tree (a hash index cannot serve
# `url IN (...)`); blog-like URLs are capped at MAX_URL_CHARS before they are stored, far below
# PostgreSQL's B-tree entry limit (~2,700 bytes).
URL_INDEXED_PLATFORMS = ("blog", "pingback", "webmention")
MAX_URL_CHARS = 2000
_mention: Any = Mention.__table__  # type: ignore[attr-defined]
MENTION_URL_INDEX = Index(
    "ix_mention_url",
    _mention.c.url,
    postgresql_where=_mention.c.platform.in_(URL_INDEXED_PLATFORMS),
    sqlite_where=_mention.c.platform.in_(URL_INDEXED_PLATFORMS),
)

RECEIVED_STATUSES = ("pending", "verifying", "verified", "rejected", "deleted")
# Statuses that count against `[receiver].max_pending` (the flood guard).
WAITING_STATUSES = ("pending", "verifying")
TOKEN_CHARS = 32


class ReceivedPing(SQLModel, table=True):
    """One received pingback or webmention (source -> target) and its verification state."""

    __tablename__ = "received_ping"
    __table_args__ = (
        Index("ix_received_due", "status", "next_attempt_at"),
        Index("ix_received_ping_token", "token", unique=True),
        Index("ix_received_source", "source_key", "updated_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    # The status URL's name for the item (`/status/<token>`): random, so nobody can walk the
    # queue by counting (the id is sequential). Nullable only because rows older than migration
    # 0032 were given theirs by it; every row written since has one.
    token: str | None = Field(default=None, sa_column=Column(String(TOKEN_CHARS)))
    key: int = Field(sa_column=Column(BigId, unique=True, nullable=False))
    kind: str = Field(sa_column=Column(String(12), nullable=False))  # pingback | webmention
    source: str = Field(sa_column=Column(Text, nullable=False))
    # `source_key(source)`: re-sends are rate-limited per source page, whatever the target
    # (migration 0039); a hash, because an index on the URL text itself can exceed PostgreSQL's
    # btree row limit for a long URL.
    source_key: int | None = Field(default=None, sa_column=Column(BigInteger))
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
