"""What collectors hand to the write path: plain, typed records, one per row-to-be.

Collectors' pure parse functions turn platform payloads into these; `storage.write` turns a
`Batch` of them into one transaction. They are slotted dataclasses, not ORM objects, because
the write path moves tens of thousands of them a second (DESIGN.md section 7).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from domain.ids import stable_id
from domain.matching import Match
from domain.people import Claim
from domain.url_identity import URL_PLATFORMS, canonical_native_id


def account_id(platform: str, native_id: str) -> int:
    return stable_id("account", platform, native_id)


def mention_id(platform: str, native_id: str) -> int:
    """A mention's id from its natural key; URL-keyed platforms' keys are made canonical first
    (`domain.url_identity`), so no spelling of a page can give it a second id."""
    if platform in URL_PLATFORMS:
        native_id = canonical_native_id(platform, native_id)
    return stable_id("mention", platform, native_id)


def local_status_key(instance: str, local_id: str) -> str:
    """A Mastodon status as one instance names it (its local id there), for deletions: a
    streaming `delete` event carries only that id, not the status's `uri`."""
    return f"local:{instance.lower()}/{local_id}"


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
    # What the profile says of other identities (domain/people.py: a Mastodon field's link,
    # verified or not). None: the payload did not carry the profile's links (keep what is
    # stored); []: it carries none (any stored ones are gone).
    claims: list[Claim] | None = None

    @property
    def id(self) -> int:
        return account_id(self.platform, self.native_id)


@dataclass(slots=True)
class MentionRecord:
    """A post, status, blog entry, pingback or webmention, already parsed and sanitised.

    `text` is plain text; `html` has been through `domain.sanitize` (never raw HTML).
    `hashtags` are as written (matching normalises them); `links` are absolute URLs.
    `movements` names movements this mention belongs to regardless of its content (e.g. a
    webmention received for a page the movement owns).
    `thread_of` is the (platform, native_id) of a stored, matched post whose thread (replies
    and their replies) brought this one in: a reply that does not repeat the hashtag is still
    part of the conversation, so it belongs to that post's movements, matched "thread"
    (`storage.threads`), and is shown only as far as its author's consent flags allow.
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
    seen_local_id: str | None = None  # its id on that instance (Mastodon), for `recheck`
    movements: tuple[str, ...] = ()
    thread_of: tuple[str, str] | None = None
    # Other keys a deletion of this post may be announced under before it is stored (a
    # Mastodon streaming `delete` names only the status's id on one instance:
    # `local_status_key`). The write path stores the post as a tombstone when a deletion was
    # seen under its key or any of these (storage/models_deletions.py).
    aliases: tuple[tuple[str, str], ...] = ()
    # The movements its own content matches (hashtag, URL, term, source), set by
    # `domain.batch_matching.match_batch` before the write transaction; None: not matched yet
    # (the write path then matches it itself). Thread matches are added by the write path.
    matches: list[Match] | None = None

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
    # The key a deletion names this repost or boost by, when it has one of its own: the
    # repost record's at-uri (Jetstream), the boost's `local_status_key` (Mastodon). A
    # deletion of that key undoes the edge (`storage.write.undo_edges`). Not part of the id.
    undo_key: tuple[str, str] | None = None

    @property
    def id(self) -> int:
        target = canonical_native_id(*self.target)
        via = "|".join((self.via[0], canonical_native_id(*self.via))) if self.via else ""
        return stable_id("edge", self.kind, str(self.source.id), self.target[0], target, via)


# Completeness signals: what a collector knows it missed or waited for, counted on the
# `collector_run` row (`signals`, a name -> number map) so the export data card counts them
# instead of guessing from error wording. A name counts events; `<name>_s` sums their seconds.
RATE_LIMIT_WAIT = "rate_limit_wait"  # a 429 or a spent rate-limit window: waited or retry later
PAGING_BUDGET_WAIT = "paging_budget_wait"  # Mastodon's min_id/max_id budget (300 per 15 min)
PACING_WAIT = "pacing_wait"  # spreading requests under an advertised limit (not a loss)
RESULT_CAP_SPLIT = "result_cap_split"  # a search reached the service's result cap: split
RESULT_CAP_OVERFLOW = "result_cap_overflow"  # over the cap in one instant: posts unreachable
UNREACHABLE = "unreachable"  # connection failure, timeout, 502/503/504
NEEDS_TOKEN = "needs_token"  # the server refuses anonymous access
GAP = "gap"  # the collector knows it could not read a stretch of time
BACKFILL_HORIZON = "backfill_horizon"  # statuses older than backfill_days left out on a first run
SIGNALS = (
    RATE_LIMIT_WAIT,
    PAGING_BUDGET_WAIT,
    PACING_WAIT,
    RESULT_CAP_SPLIT,
    RESULT_CAP_OVERFLOW,
    UNREACHABLE,
    NEEDS_TOKEN,
    GAP,
    BACKFILL_HORIZON,
)


def add_signal(
    signals: dict[str, float], name: str, n: int = 1, *, seconds: float | None = None
) -> None:
    """Count `n` events called `name` (one of `SIGNALS`), and their seconds when known."""
    signals[name] = signals.get(name, 0) + n
    if seconds is not None:
        key = f"{name}_s"
        signals[key] = round(signals.get(key, 0) + max(0.0, seconds), 3)


def merge_signals(into: dict[str, float], other: dict[str, float] | None) -> None:
    for name, value in (other or {}).items():
        into[name] = round(into.get(name, 0) + value, 3)


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
    # Complete re-reads of who reposted or boosted a post (`getRepostedBy`,
    # `status_reblogged_by`, as many accounts as the post's count says): (kind, target key,
    # ids of the edges listed). A stored edge of that kind and target not listed was undone
    # (`storage.write.undo_edges`).
    listed: list[tuple[str, tuple[str, str], list[int]]] = field(default_factory=list)
    # Reversible deletions (docs/blogs.md, "Tombstones"): the page or its link was gone when
    # checked. Tombstoned like `deletions`, but restored when the mention is seen again (a
    # webmention verified again, a link back); `deletions` (the platform deleted it) are final.
    gone: list[tuple[str, str]] = field(default_factory=list)
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
    # Completeness signals (see `SIGNALS`) met while fetching this page; summed on the run.
    signals: dict[str, float] = field(default_factory=dict)

    def skip(self, reason: str, detail: str = "") -> None:
        self.skipped.append(Skip(reason, detail))

    def signal(self, name: str, n: int = 1, *, seconds: float | None = None) -> None:
        add_signal(self.signals, name, n, seconds=seconds)


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """A source as the configuration describes it (synchronised into the `source` table)."""

    key: str
    platform: str
    kind: str
    target: dict[str, Any]
    interval_s: int
