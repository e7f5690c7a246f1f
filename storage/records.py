"""What collectors hand to the write path: plain, typed records, one per row-to-be.

Collectors' pure parse functions turn platform payloads into these; `storage.write` turns a
`Batch` of them into one transaction. They are slotted dataclasses, not ORM objects, because
the write path moves tens of thousands of them a second (DESIGN.md section 7).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from storage.types import stable_id


def account_id(platform: str, native_id: str) -> int:
    return stable_id("account", platform, native_id)


def mention_id(platform: str, native_id: str) -> int:
    return stable_id("mention", platform, native_id)


@dataclass(slots=True)
class AccountRecord:
    """An author. `native_id`: Bluesky DID, Mastodon `user@instance`, a blog's host."""

    platform: str
    native_id: str
    handle: str | None = None
    display_name: str | None = None
    url: str | None = None
    instance: str | None = None
    avatar_url: str | None = None
    bot: bool | None = None
    indexable: bool | None = None
    discoverable: bool | None = None
    noindex: bool | None = None
    no_unauthenticated: bool | None = None

    @property
    def id(self) -> int:
        return account_id(self.platform, self.native_id)


@dataclass(slots=True)
class MentionRecord:
    """A post, status, blog entry, pingback or webmention, already parsed and sanitised.

    `text` is plain text; `html` has been through `groundswell.sanitize` (never raw HTML).
    `hashtags` are as written (matching normalises them); `links` are absolute URLs.
    `movements` names movements this mention belongs to regardless of its content (e.g. a
    webmention received for a page the movement owns).
    """

    platform: str
    native_id: str
    created_at: datetime
    author: AccountRecord | None = None
    url: str | None = None
    title: str | None = None
    text: str | None = None
    html: str | None = None
    lang: str | None = None
    instance: str | None = None
    reply_to: tuple[str, str] | None = None  # (platform, native_id) of the parent
    quote_of: tuple[str, str] | None = None
    like_count: int = 0
    repost_count: int = 0
    reply_count: int = 0
    quote_count: int = 0
    sensitive: bool = False
    spoiler_text: str | None = None
    media: list[dict[str, Any]] | None = None
    links: list[str] = field(default_factory=list)
    hashtags: list[str] = field(default_factory=list)
    edited_at: datetime | None = None
    raw: dict[str, Any] | None = None
    seen_on: str | None = None  # instance host / feed / receiver that carried it this time
    movements: tuple[str, ...] = ()

    @property
    def id(self) -> int:
        return mention_id(self.platform, self.native_id)


@dataclass(slots=True)
class EdgeRecord:
    """An amplification: `source` account -> `target` mention (platform, native_id).

    `via` is the mention that constitutes the amplification when there is one (the reply, the
    quote post, the linking blog entry); boosts and reposts have none of their own.
    """

    kind: str
    platform: str
    source: AccountRecord
    target: tuple[str, str]
    created_at: datetime
    via: tuple[str, str] | None = None
    target_account: AccountRecord | None = None

    @property
    def id(self) -> int:
        via = "|".join(self.via) if self.via else ""
        return stable_id("edge", self.kind, str(self.source.id), *self.target, via)


@dataclass(slots=True)
class Skip:
    """An item that could not be used: counted on the run with its reason, never fatal."""

    reason: str
    detail: str = ""


@dataclass(slots=True)
class Batch:
    """One page of results and the cursor that covers it, written in one transaction."""

    mentions: list[MentionRecord] = field(default_factory=list)
    accounts: list[AccountRecord] = field(default_factory=list)
    edges: list[EdgeRecord] = field(default_factory=list)
    deletions: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)
    cursor: dict[str, Any] | None = None
    # HTTP validators for conditional GET (feeds); written with the cursor.
    etag: str | None = None
    last_modified: str | None = None
    problems: list[str] | None = None  # e.g. a bozo feed's complaint, shown by `status`
    # A rate-limit snapshot (e.g. Mastodon's remaining requests and paging budget), shown by
    # `status`; written with the cursor.
    budget: dict[str, Any] | None = None
    fetched: int = 0

    def skip(self, reason: str, detail: str = "") -> None:
        self.skipped.append(Skip(reason, detail))
