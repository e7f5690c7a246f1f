"""Verify one received pingback or webmention: does the source really link to the target?

The source is fetched through `net.fetcher` (time and size bounded, private addresses
refused, redirects re-checked) and must contain a real link to the target: for HTML any
URL-bearing attribute (`a href`, `img src`, ...), compared after URL normalisation; for other
text types the target URL written out. A later 404/410 or a source that no longer links turns a
verified mention into a tombstone (W3C Webmention 3.2.3, "update and delete").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from collectors.blogs.html_links import PageInfo, read_page
from collectors.blogs.pingbacks import HTML_ACCEPT, ping_edge, ping_mention
from domain.matching import normalise_url
from domain.records import Batch
from domain.url_identity import ping_native_id
from net.fetcher import (
    BlockedAddressError,
    Fetcher,
    FetchError,
    GoneError,
    PermanentFetchError,
    TooLargeError,
    TransientFetchError,
)
from storage.queries.blogs import QueuedPing

# result codes kept on the queue row (and mapped to pingback faults by the receiver)
VERIFIED = "verified"
NO_LINK = "no_link"
SOURCE_NOT_FOUND = "source_not_found"
BLOCKED = "blocked"
TOO_LARGE = "too_large"
UPSTREAM = "upstream_error"


@dataclass(slots=True)
class Verdict:
    status: str  # verified | rejected | deleted | pending (retry later)
    result: str
    error: str | None = None
    batch: Batch | None = None
    retry_at: datetime | None = None


def _linked(content_type: str, text: str, info: PageInfo | None, target: str) -> bool:
    want = normalise_url(target)
    if want is None:
        return False
    if info is not None:
        return any(normalise_url(u) == want for u in info.urls)
    return target in text


def verify(
    item: QueuedPing,
    fetcher: Fetcher,
    *,
    now: datetime,
    movement: str | None,
    max_attempts: int,
) -> Verdict:
    was_verified = item.verified_at is not None
    mention_key = (item.kind, ping_native_id(item.source, item.target))

    def gone(result: str, error: str) -> Verdict:
        # A mention that was verified is tombstoned; the result keeps why (no_link or
        # source_not_found), so a re-sent pingback gets the fault that says so (0x11 / 0x10).
        if was_verified:
            # reversible: restored if a later check finds the link again (docs/blogs.md)
            return Verdict("deleted", result, error, Batch(gone=[mention_key]))
        return Verdict("rejected", result, error)

    try:
        res = fetcher.get(item.source, accept=HTML_ACCEPT)
    except GoneError as exc:
        return gone(SOURCE_NOT_FOUND, str(exc))
    except BlockedAddressError as exc:
        return Verdict("rejected", BLOCKED, str(exc))
    except TooLargeError as exc:
        return Verdict("rejected", TOO_LARGE, str(exc))
    except PermanentFetchError as exc:
        if exc.status in (404, 410):
            return gone(SOURCE_NOT_FOUND, str(exc))
        return Verdict("rejected", SOURCE_NOT_FOUND, str(exc))
    except TransientFetchError as exc:
        if item.attempts + 1 >= max_attempts:
            return Verdict("rejected", UPSTREAM, f"gave up after {item.attempts + 1} tries: {exc}")
        delay = max(exc.retry_after or 0, 30 * 2**item.attempts)
        return Verdict("pending", UPSTREAM, str(exc), retry_at=now + timedelta(seconds=delay))
    except FetchError as exc:  # pragma: no cover - every subclass is handled above
        return Verdict("rejected", SOURCE_NOT_FOUND, str(exc))
    text = res.text()
    info = read_page(text, res.url) if "html" in res.content_type or not res.content_type else None
    if not _linked(res.content_type, text, info, item.target):
        return gone(NO_LINK, f"{item.source} does not link to {item.target}")
    mention = ping_mention(
        item.kind, item.source, item.target, info, now=now, movement=movement, method="received"
    )
    batch = Batch(mentions=[mention])
    return Verdict(VERIFIED, VERIFIED, None, batch)


def add_edges(batch: Batch, kind: str, target: str, stored: dict) -> None:  # type: ignore[type-arg]
    for m in batch.mentions:
        edge = ping_edge(kind, m, target, stored)
        if edge is not None:
            batch.edges.append(edge)
