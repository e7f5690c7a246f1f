"""Tables and indexes the live wall adds (issue 6): the wall's shared settings, pulse indexes.

Moderation decisions live in `wall_moderation` (storage/models.py). What moderators change at
run time (pre- or post-moderation, header, privacy modes) is stored here, one row per wall, so
every moderator's laptop and the projector see the same wall, and a restart changes nothing.

The pulse's whole-day figures read covering indexes instead of the wide mention rows
(migration 0010; bench/wall_queries.py, docs/benchmarks/wall.md):

- `ix_mention_place` on mention (created_ts, platform, instance, account_id): an
  all-movements wall's posts, people, platforms and instances today, and the instances of one
  movement's posts (with its match checked on mention_match's primary key);
- `ix_mauthor_last` on movement_author (movement_id, last_ts, account_id): people today are the
  authors whose latest post in the movement is today, a range of this index.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, String
from sqlmodel import Field, SQLModel

from storage.models import Mention, MovementAuthor
from storage.types import JSONType, UTCDateTime


class WallSetting(SQLModel, table=True):
    """Moderator overrides of the `[wall]` config section for one wall (JSON of changed keys)."""

    __tablename__ = "wall_setting"
    wall: str = Field(sa_column=Column(String(80), primary_key=True))
    settings: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSONType, nullable=False)
    )
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_by: str | None = Field(default=None, sa_column=Column(String(200)))


_m = Mention.__table__.c  # type: ignore[attr-defined]
_ma = MovementAuthor.__table__.c  # type: ignore[attr-defined]
Index("ix_mention_place", _m.created_ts, _m.platform, _m.instance, _m.account_id)
Index("ix_mauthor_last", _ma.movement_id, _ma.last_ts, _ma.account_id)
