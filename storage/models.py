"""The SQL data model (DESIGN.md sections 2 and 3).

Natural keys are `(platform, native_id)`; the primary keys of mentions, accounts and edges are
`stable_id(...)` of that natural key so every writer computes them without a round trip.

Hot tables carry integer epoch columns (`created_ts`, `created_hour`) next to the aware
datetimes: the dashboard buckets and filters on integers (DESIGN.md section 7 measured text
timestamps as far too slow), and rollup tables maintained by the write path answer the charts.

Foreign keys are declared where they document a real ownership (a match belongs to a mention and
a movement); edges may point at mentions not stored yet (a reply to a post collected later), so
they carry plain ids.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from storage.types import BigId, JSONType, UTCDateTime

# Platforms a mention can come from. Kept as strings (not a DB enum) so adding one needs no
# migration of a type.
PLATFORMS = ("bluesky", "mastodon", "blog", "pingback", "webmention")
EDGE_KINDS = ("repost", "boost", "quote", "reply", "link", "pingback", "webmention")


def _ts(nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


class Movement(SQLModel, table=True):
    """What is tracked: hashtags, free-text terms and URLs (e.g. a pledge page)."""

    __tablename__ = "movement"
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(sa_column=Column(String(80), unique=True, nullable=False))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    hashtags: list[str] = Field(default_factory=list, sa_column=Column(JSONType, nullable=False))
    terms: list[str] = Field(default_factory=list, sa_column=Column(JSONType, nullable=False))
    urls: list[str] = Field(default_factory=list, sa_column=Column(JSONType, nullable=False))
    created_at: datetime | None = _ts()


class Event(SQLModel, table=True):
    """A named time window (with its zone), measured for lift against a baseline before it."""

    __tablename__ = "event"
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(sa_column=Column(String(120), unique=True, nullable=False))
    name: str = Field(sa_column=Column(String(300), nullable=False))
    movement_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("movement.id", ondelete="CASCADE"))
    )
    starts_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    ends_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    timezone: str = Field(default="UTC", sa_column=Column(String(64), nullable=False))
    hashtags: list[str] = Field(default_factory=list, sa_column=Column(JSONType, nullable=False))
    place: str | None = Field(default=None, sa_column=Column(String(300)))
    origin: str = Field(default="config", sa_column=Column(String(20), nullable=False))


class Source(SQLModel, table=True):
    """One configured collector target and its cursor state.

    `cursor` is opaque to the runner (each collector owns its shape); it is written only in the
    same transaction as the rows it covers. `lease_owner`/`lease_until` let several workers on
    PostgreSQL share sources (`SELECT ... FOR UPDATE SKIP LOCKED`).
    """

    __tablename__ = "source"
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(sa_column=Column(String(500), unique=True, nullable=False))
    platform: str = Field(sa_column=Column(String(20), nullable=False))
    kind: str = Field(sa_column=Column(String(40), nullable=False))
    target: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONType, nullable=False))
    enabled: bool = Field(default=True)
    interval_s: int = Field(default=60)
    cursor: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONType))
    etag: str | None = Field(default=None, sa_column=Column(String(500)))
    last_modified: str | None = Field(default=None, sa_column=Column(String(100)))
    status: str = Field(default="new", sa_column=Column(String(20), nullable=False))
    last_success_at: datetime | None = _ts()
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    last_error_at: datetime | None = _ts()
    problems: list[str] = Field(default_factory=list, sa_column=Column(JSONType, nullable=False))
    consecutive_failures: int = Field(default=0)
    next_due_at: datetime | None = _ts(index=True)
    lease_owner: str | None = Field(default=None, sa_column=Column(String(200)))
    lease_until: datetime | None = _ts()
    budget: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONType))


class Account(SQLModel, table=True):
    """Who wrote a mention: Bluesky DID, absolute Mastodon acct, or a blog's host."""

    __tablename__ = "account"
    __table_args__ = (
        UniqueConstraint("platform", "native_id", name="uq_account_natural"),
        Index("ix_account_person", "person_id"),
        # Bridges and profile links name Bluesky accounts by handle (domain/people.py).
        Index("ix_account_handle", "handle"),
    )
    id: int = Field(sa_column=Column(BigId, primary_key=True, autoincrement=False))
    platform: str = Field(sa_column=Column(String(20), nullable=False))
    native_id: str = Field(sa_column=Column(String(500), nullable=False))
    handle: str | None = Field(default=None, sa_column=Column(String(500)))
    display_name: str | None = Field(default=None, sa_column=Column(String(500)))
    url: str | None = Field(default=None, sa_column=Column(Text))
    instance: str | None = Field(default=None, sa_column=Column(String(255)))
    avatar_url: str | None = Field(default=None, sa_column=Column(Text))
    bot: bool | None = Field(default=None)
    # Opt-out signals (DESIGN.md section 6). None means unknown, which is not an opt-out.
    indexable: bool | None = Field(default=None)
    discoverable: bool | None = Field(default=None)
    noindex: bool | None = Field(default=None)
    no_unauthenticated: bool | None = Field(default=None)
    first_seen_at: datetime | None = _ts()
    updated_at: datetime | None = _ts()
    # The person this account belongs to (storage/models_people.py): the smallest account id of
    # its linked group, its own id while nothing links it (the write path sets it so).
    person_id: int = Field(sa_column=Column(BigInteger, nullable=False))


class Mention(SQLModel, table=True):
    """One piece of content that matches a movement.

    A deletion turns the row into a tombstone: text, html, media and the raw payload are purged,
    the keys and counters that aggregates need stay.
    """

    __tablename__ = "mention"
    __table_args__ = (
        UniqueConstraint("platform", "native_id", name="uq_mention_natural"),
        Index("ix_mention_created_ts", "created_ts"),
        Index("ix_mention_account", "account_id", "created_ts"),
    )
    id: int = Field(sa_column=Column(BigId, primary_key=True, autoincrement=False))
    platform: str = Field(sa_column=Column(String(20), nullable=False))
    native_id: str = Field(sa_column=Column(String(1000), nullable=False))
    url: str | None = Field(default=None, sa_column=Column(Text))
    account_id: int | None = Field(default=None, sa_column=Column(BigInteger))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    created_ts: int = Field(sa_column=Column(BigInteger, nullable=False))
    created_hour: int = Field(sa_column=Column(Integer, nullable=False))
    title: str | None = Field(default=None, sa_column=Column(Text))
    text: str | None = Field(default=None, sa_column=Column(Text))
    html: str | None = Field(default=None, sa_column=Column(Text))
    lang: str | None = Field(default=None, sa_column=Column(String(20)))
    instance: str | None = Field(default=None, sa_column=Column(String(255)))
    reply_to_id: int | None = Field(default=None, sa_column=Column(BigInteger))
    quote_of_id: int | None = Field(default=None, sa_column=Column(BigInteger))
    like_count: int = Field(default=0)
    repost_count: int = Field(default=0)
    reply_count: int = Field(default=0)
    quote_count: int = Field(default=0)
    sensitive: bool = Field(default=False)
    spoiler_text: str | None = Field(default=None, sa_column=Column(Text))
    media: list[dict[str, Any]] | None = Field(default=None, sa_column=Column(JSONType))
    links: list[str] | None = Field(default=None, sa_column=Column(JSONType))
    hashtags: list[str] | None = Field(default=None, sa_column=Column(JSONType))
    first_seen_at: datetime | None = _ts()
    updated_at: datetime | None = _ts()
    edited_at: datetime | None = _ts()
    deleted_at: datetime | None = _ts()
    # Why it is a tombstone (docs/blogs.md, "Tombstones"): "deleted" (final: the platform or
    # its author deleted it; also every tombstone from before migration 0029, NULL) or "gone"
    # (reversible: the page or its link was missing when we checked; restored when the
    # evidence returns).
    deleted_reason: str | None = Field(default=None, sa_column=Column(String(10)))


class MentionPayload(SQLModel, table=True):
    """The raw payload of a mention, for researchers and re-parsing; purged by retention."""

    __tablename__ = "mention_payload"
    mention_id: int = Field(
        sa_column=Column(BigId, ForeignKey("mention.id", ondelete="CASCADE"), primary_key=True)
    )
    payload: dict[str, Any] = Field(sa_column=Column(JSONType, nullable=False))
    fetched_at: datetime | None = _ts()


class MentionMatch(SQLModel, table=True):
    """Which movement a mention matches, and how (`hashtag`, `url`, `term`, `source`).

    Denormalised (platform, account, hour) so per-movement aggregates never join the wide
    mention table.
    """

    __tablename__ = "mention_match"
    __table_args__ = (Index("ix_match_mention", "mention_id"),)
    movement_id: int = Field(
        sa_column=Column(Integer, ForeignKey("movement.id", ondelete="CASCADE"), primary_key=True)
    )
    mention_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("mention.id", ondelete="CASCADE"), primary_key=True)
    )
    via: str = Field(sa_column=Column(String(10), nullable=False))
    platform: str = Field(sa_column=Column(String(20), nullable=False))
    account_id: int | None = Field(default=None, sa_column=Column(BigInteger))
    created_ts: int = Field(sa_column=Column(BigInteger, nullable=False))
    # Time of the same author's previous match of this movement on this platform (in
    # (created_ts, mention_id) order), NULL for the first; maintained by
    # `storage.match_chain.link_previous_matches` (migration 0020). People in any range =
    # matches in it whose `prev_ts` is NULL or before its start: a count, not a distinct count.
    prev_ts: int | None = Field(default=None, sa_column=Column(BigInteger))


class MentionSeen(SQLModel, table=True):
    """Every instance, feed or receiver that carried a mention: the federation footprint."""

    __tablename__ = "mention_seen"
    mention_id: int = Field(sa_column=Column(BigInteger, primary_key=True))
    seen_on: str = Field(sa_column=Column(String(255), primary_key=True))
    first_seen_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    # The status's id on that instance (Mastodon API), so `recheck` can ask there by it.
    local_id: str | None = Field(default=None, sa_column=Column(String(64)))


class Amplification(SQLModel, table=True):
    """A directed edge account -> mention: repost, boost, quote, reply, link, pingback..."""

    __tablename__ = "amplification"
    __table_args__ = (
        Index("ix_amp_target", "target_mention_id"),
        Index("ix_amp_source", "source_account_id", "created_ts"),
        Index("ix_amp_undo", "undo_id"),
    )
    id: int = Field(sa_column=Column(BigId, primary_key=True, autoincrement=False))
    kind: str = Field(sa_column=Column(String(12), nullable=False))
    platform: str = Field(sa_column=Column(String(20), nullable=False))
    source_account_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    target_mention_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    target_account_id: int | None = Field(default=None, sa_column=Column(BigInteger))
    via_mention_id: int | None = Field(default=None, sa_column=Column(BigInteger))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    created_ts: int = Field(sa_column=Column(BigInteger, nullable=False))
    # A repost or boost undone (migration 0038): kept with the time it was undone, for
    # researchers, and left out of `movement_edge` and so of every rollup, page and export.
    undone_at: datetime | None = _ts(nullable=True)
    # The one-way id (`domain.records.mention_id`) of the key a deletion names this edge by:
    # the repost record's at-uri (Jetstream), the boost's `local_status_key` (Mastodon).
    undo_id: int | None = Field(default=None, sa_column=Column(BigInteger))


class RollupHourly(SQLModel, table=True):
    """Mentions per movement, platform and hour; maintained in the write transaction."""

    __tablename__ = "rollup_hourly"
    movement_id: int = Field(sa_column=Column(Integer, primary_key=True))
    platform: str = Field(sa_column=Column(String(20), primary_key=True))
    hour: int = Field(sa_column=Column(Integer, primary_key=True))
    mentions: int = Field(default=0)


class MovementAuthor(SQLModel, table=True):
    """First and last appearance of each author in each movement (new voices, people)."""

    __tablename__ = "movement_author"
    __table_args__ = (Index("ix_movement_author_first", "movement_id", "first_ts"),)
    movement_id: int = Field(sa_column=Column(Integer, primary_key=True))
    account_id: int = Field(sa_column=Column(BigInteger, primary_key=True))
    platform: str = Field(sa_column=Column(String(20), nullable=False))
    first_ts: int = Field(sa_column=Column(BigInteger, nullable=False))
    last_ts: int = Field(sa_column=Column(BigInteger, nullable=False))
    mentions: int = Field(default=0)


class CollectorRun(SQLModel, table=True):
    """One poll of one source: what it fetched, stored, skipped, and how it ended."""

    __tablename__ = "collector_run"
    __table_args__ = (Index("ix_run_source_started", "source_id", "started_at"),)
    id: int | None = Field(default=None, primary_key=True)
    source_id: int | None = Field(default=None, sa_column=Column(Integer))
    worker: str | None = Field(default=None, sa_column=Column(String(200)))
    started_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    finished_at: datetime | None = _ts()
    batches: int = Field(default=0)
    fetched: int = Field(default=0)
    new: int = Field(default=0)
    updated: int = Field(default=0)
    skipped: int = Field(default=0)
    errors: int = Field(default=0)
    outcome: str = Field(default="running", sa_column=Column(String(20), nullable=False))
    error: str | None = Field(default=None, sa_column=Column(Text))
    skip_reasons: dict[str, int] = Field(
        default_factory=dict, sa_column=Column(JSONType, nullable=False)
    )
    duration_ms: int | None = Field(default=None)
    # Completeness signals (domain.records.SIGNALS) summed over the run. NULL on runs recorded
    # before migration 0016: readers fall back to the error wording for those.
    signals: dict[str, float] | None = Field(default=None, sa_column=Column(JSONType))


class WallModeration(SQLModel, table=True):
    """A moderator's decision, shared by every moderator and kept across restarts.

    `target_kind`: mention, account, instance, blog or word; `action`: hide, approve, pin,
    block. The latest row for a (wall, target_kind, target) wins; history is kept for audit.
    """

    __tablename__ = "wall_moderation"
    __table_args__ = (Index("ix_wallmod_target", "wall", "target_kind", "target"),)
    id: int | None = Field(default=None, primary_key=True)
    wall: str = Field(default="default", sa_column=Column(String(80), nullable=False))
    target_kind: str = Field(sa_column=Column(String(20), nullable=False))
    target: str = Field(sa_column=Column(String(1000), nullable=False))
    action: str = Field(sa_column=Column(String(20), nullable=False))
    active: bool = Field(default=True)
    moderator: str | None = Field(default=None, sa_column=Column(String(200)))
    note: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
