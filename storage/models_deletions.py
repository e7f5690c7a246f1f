"""Deletions seen before the post they delete (migration 0033; written by
`storage.write.tombstone`, read by `storage.write.write_batch`).

A stream can announce a deletion before any poll or search has stored the post: Jetstream's
delete of a post our search index has not returned yet, Mastodon's streaming `delete` of a
status no page has carried. Dropping such a deletion would let a later poll or search hit
bring the deleted post back, text and all. So the deletion is remembered here, and the write
path stores any post it names as a tombstone, whichever order the two arrive in.

Only the key's one-way 63-bit id is kept (`domain.records.mention_id`, or the id of a
Mastodon status's instance-local key, `local_status_key`): Jetstream carries every deletion on
the network, and the store has no business keeping the handles or post addresses of people
outside the conversation. Rows older than `storage.write.DELETION_MEMORY` are dropped: the
race they guard against lasts minutes (an index or a timeline catching up), not weeks.

The other half: a Mastodon streaming `delete` of a status that *is* stored but that this
process has not met since it started (stored before a restart, or by another worker) names it
by its id on the streaming instance only. `ix_seen_local` on `mention_seen (seen_on, local_id)`
(migration 0055) finds the mention from that id (`storage.queries.sightings.seen_as`), so the
deletion tombstones the stored status instead of waiting for a poll that never brings it again.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, text
from sqlmodel import Field, SQLModel

from storage.models import MentionSeen
from storage.types import BigId, UTCDateTime


class DeletedKey(SQLModel, table=True):
    """A deletion whose post was not stored when it arrived: its key's id and when."""

    __tablename__ = "deleted_key"
    __table_args__ = (Index("ix_deleted_key_at", "deleted_at"),)
    id: int = Field(sa_column=Column(BigId, primary_key=True, autoincrement=False))
    deleted_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


_seen = MentionSeen.__table__.c  # type: ignore[attr-defined]
_HAS_LOCAL_ID = text("local_id IS NOT NULL")
Index(
    "ix_seen_local",
    _seen.seen_on,
    _seen.local_id,
    _seen.mention_id,
    sqlite_where=_HAS_LOCAL_ID,
    postgresql_where=_HAS_LOCAL_ID,
)
