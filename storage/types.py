"""Column types shared by every table.

SQLite has no time zone type: SQLAlchemy hands back naive datetimes there. Everything in the
store is UTC (DESIGN.md section 3), so this decorator normalises on the way in and re-attaches
UTC on the way out; the rest of the code can rely on aware datetimes on both dialects.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Integer
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given to the store; times must be aware")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# JSONB on PostgreSQL (indexable, compact), plain JSON text elsewhere.
JSONType = JSON().with_variant(JSONB(), "postgresql")

# 64-bit ids everywhere. On SQLite only a column spelled INTEGER PRIMARY KEY is the rowid alias
# (no second index, fastest inserts); SQLite's INTEGER is 64-bit, so the variant loses nothing.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def epoch_seconds(when: datetime) -> int:
    return int(when.timestamp())
