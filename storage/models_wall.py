"""Tables the live wall adds (issue 6): the wall's shared settings.

Moderation decisions live in `wall_moderation` (storage/models.py). What moderators change at
run time (pre- or post-moderation, header, privacy modes) is stored here, one row per wall, so
every moderator's laptop and the projector see the same wall, and a restart changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, String
from sqlmodel import Field, SQLModel

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
