"""One person across platforms (issue 20, migration 0040; rules in `domain/people.py`, SQL in
`storage/people_links.py`, docs/people.md).

- `account.person_id` (storage/models.py) is the person an account belongs to: the smallest
  account id of its group, the account's own id while nothing links it.
- `person_link`: one row per piece of evidence that two accounts are one person (or, for a
  moderator, are not). The pair is stored ordered (`account_lo < account_hi`). Only `strong`
  rows merge; a `claim` is a suggestion for a moderator. Moderator rows are an audit log: each
  decision is its own row with who and why, and the newest decision on a pair wins.
- `person_claim`: what an account says about itself that points at another identity (a profile
  field's link, a blog page's `rel=me`), kept so that the account named can be linked when it
  arrives later. Keyed by the identity it points at (`domain.people` keys such as
  `site:example.org`, `mastodon:alice@example.social`, `bluesky:alice.example.org`).
- `profile_page`: the `rel=me` links of a blog's home page, fetched through the guarded
  fetcher, cached until `next_check_at`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, Index, Integer, String, Text
from sqlmodel import Field, SQLModel

from storage.types import BigId, JSONType, UTCDateTime


class PersonLink(SQLModel, table=True):
    """Evidence that two accounts are (or, for `moderator_unlink`, are not) one person."""

    __tablename__ = "person_link"
    __table_args__ = (
        Index("ix_person_link_lo", "account_lo"),
        Index("ix_person_link_hi", "account_hi"),
    )
    # stable_id of (lo, hi, kind, source), or of the decision's time for moderator rows: the
    # same evidence seen again is the same row (checked_at moves), never a second one.
    id: int = Field(sa_column=Column(BigId, primary_key=True, autoincrement=False))
    account_lo: int = Field(sa_column=Column(BigInteger, nullable=False))
    account_hi: int = Field(sa_column=Column(BigInteger, nullable=False))
    kind: str = Field(sa_column=Column(String(40), nullable=False))
    strength: str = Field(sa_column=Column(String(10), nullable=False))  # strong | claim
    source: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    checked_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    decided_by: str | None = Field(default=None, sa_column=Column(String(200)))
    reason: str | None = Field(default=None, sa_column=Column(Text))


class PersonClaim(SQLModel, table=True):
    """An account's own pointer at another identity (`key`), as the account's profile or page
    says it, with the evidence kind and strength it would give."""

    __tablename__ = "person_claim"
    __table_args__ = (
        Index("ix_person_claim_key", "key"),
        Index("ix_person_claim_account", "account_id"),
    )
    id: int = Field(sa_column=Column(BigId, primary_key=True, autoincrement=False))
    account_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    key: str = Field(sa_column=Column(String(600), nullable=False))
    kind: str = Field(sa_column=Column(String(40), nullable=False))
    strength: str = Field(sa_column=Column(String(10), nullable=False))
    source: str | None = Field(default=None, sa_column=Column(Text))
    checked_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class ProfilePage(SQLModel, table=True):
    """A fetched page's `rel=me` links (a blog's home page), cached with a re-check horizon."""

    __tablename__ = "profile_page"
    __table_args__ = (Index("ix_profile_page_due", "next_check_at"),)
    id: int = Field(sa_column=Column(BigId, primary_key=True, autoincrement=False))
    account_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    url: str = Field(sa_column=Column(Text, nullable=False))
    final_url: str | None = Field(default=None, sa_column=Column(Text))
    status: str = Field(sa_column=Column(String(30), nullable=False))  # ok | refused | error ...
    error: str | None = Field(default=None, sa_column=Column(Text))
    rel_me: list[Any] | None = Field(default=None, sa_column=Column(JSONType))
    checked_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    next_check_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class PeoplePass(SQLModel, table=True):
    """The scheduled linking pass of `collect --loop` and `up` (migration 0053): one row (id 1)
    saying when it is next due, where the accounts' walk stopped, and how the last pass
    went, so a restart does not redo a pass and `status` can show its errors."""

    __tablename__ = "people_pass"
    id: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    # Claimed by moving it forward (a worker running the pass holds it for a lease), so two
    # workers never run one pass twice; set to started + link_every_s when the pass ends.
    next_due_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    started_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    finished_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    worker: str | None = Field(default=None, sa_column=Column(String(200)))
    # The last account id the walk re-read (-1: start over at the smallest).
    relink_after: int = Field(default=-1, sa_column=Column(BigInteger, nullable=False))
    outcome: str | None = Field(default=None, sa_column=Column(String(20)))  # ok | partial | error
    error_kind: str | None = Field(default=None, sa_column=Column(String(60)))
    error: str | None = Field(default=None, sa_column=Column(Text))
    accounts_read: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    pages_checked: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    pages_failed: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    evidence_added: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    accounts_moved: int = Field(default=0, sa_column=Column(Integer, nullable=False))
