"""What travels with the conversation: linked domains, linked URLs and co-occurring hashtags
counted per movement, UTC day or hour, platform and value (migration 0043; kept by
`storage.shares.bump_shares` in the write transaction, rebuilt by `storage.shares.rebuild`).

A top-N over a range sums `n` over the range's buckets: whole UTC days from
`movement_share_day`, the whole hours of the part-days at the ends from `movement_share_hour`,
and the minutes left over from the raw matches (storage/queries/shares.py). A day bucket
compresses a domain or a hashtag shared thousands of times a day into one row, which a per-hour
table does not, so a 30-day range reads at most 30 days of rows, not 720 hours of them.

Rows are counted up (`n = n + excluded.n`) only by the matches an INSERT actually added, as
`rollup_hourly` is, so replays and concurrent workers add nothing twice. As in every other
rollup, deleted and opted-out posts stay counted (docs/dashboard.md, "Ethics"); what is
withheld is decided when a list is shown. Clustered on their key on SQLite (WITHOUT ROWID), so
a range scan reads the counts from the key's own b-tree.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String
from sqlmodel import Field, SQLModel

# What is counted: `domain` (a link's host, without a leading "www."), `url` (the link's
# canonical spelling: domain.url_identity), `tag` (a hashtag, normalised as matching does).
SHARE_KINDS = ("domain", "url", "tag")
# Longer values are not counted (a URL of 500+ characters is a tracking blob, not a page
# people pass on; the key must stay indexable on PostgreSQL).
SHARE_VALUE_MAX = 500


class MovementShareDay(SQLModel, table=True):
    """Mentions of a movement carrying a domain / URL / hashtag, per UTC day and platform."""

    __tablename__ = "movement_share_day"
    __table_args__ = (
        # A value's rows in a range (migration 0049): the range counts of the top values by
        # all-time count are index reads, not a scan of every value's rows in the range.
        Index("ix_mshare_day_value", "movement_id", "kind", "value", "day", "platform", "n"),
        {"sqlite_with_rowid": False},
    )
    movement_id: int = Field(sa_column=Column(Integer, primary_key=True))
    kind: str = Field(sa_column=Column(String(6), primary_key=True))
    day: int = Field(sa_column=Column(Integer, primary_key=True))
    platform: str = Field(sa_column=Column(String(20), primary_key=True))
    value: str = Field(sa_column=Column(String(SHARE_VALUE_MAX), primary_key=True))
    n: int = Field(sa_column=Column(BigInteger, nullable=False))


class MovementShareHour(SQLModel, table=True):
    """The same per UTC hour: the part-days at the ends of a range."""

    __tablename__ = "movement_share_hour"
    __table_args__ = {"sqlite_with_rowid": False}
    movement_id: int = Field(sa_column=Column(Integer, primary_key=True))
    kind: str = Field(sa_column=Column(String(6), primary_key=True))
    hour: int = Field(sa_column=Column(Integer, primary_key=True))
    platform: str = Field(sa_column=Column(String(20), primary_key=True))
    value: str = Field(sa_column=Column(String(SHARE_VALUE_MAX), primary_key=True))
    n: int = Field(sa_column=Column(BigInteger, nullable=False))


class MovementShareTotal(SQLModel, table=True):
    """All-time count of each value per movement and kind (migration 0049): the bound that
    lets a range's top N skip grouping the long tail. A value's count in any range is at most
    its all-time count, so when the N-th best range count among the values with the largest
    all-time counts beats the all-time count of the first value not read, no other value can
    enter the list (storage/queries/shares.py)."""

    __tablename__ = "movement_share_total"
    __table_args__ = (Index("ix_mshare_total_top", "movement_id", "kind", "n"),)
    movement_id: int = Field(sa_column=Column(Integer, primary_key=True))
    kind: str = Field(sa_column=Column(String(6), primary_key=True))
    value: str = Field(sa_column=Column(String(SHARE_VALUE_MAX), primary_key=True))
    n: int = Field(sa_column=Column(BigInteger, nullable=False))
