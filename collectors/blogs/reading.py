"""What every blog poll reads with, shared by the feed collector and the pingback pollers:
the guarded fetcher built from `[blogs]`, the robots.txt cache, and fetch failures as the
collector protocol's typed errors.

Its own module so that `collector.py` (which dispatches to the pingback pollers) and
`pingbacks.py` / `site_pingbacks.py` (which read through the collector's fetcher) do not import
each other (docs/architecture.md, "No circles").
"""

from __future__ import annotations

from collectors.base import CollectorContext, FatalSourceError, TransientError
from domain.records import RATE_LIMIT_WAIT, UNREACHABLE
from domain.settings.blogs import BlogsSettings, refusal_hint
from net.fetcher import (
    BlockedAddressError,
    Fetcher,
    FetchError,
    FetchPolicy,
    GoneError,
    PermanentFetchError,
    TooLargeError,
    TransientFetchError,
)
from net.robots import ROBOTS_DISALLOWED, DisallowedByRobots, RobotsCache


def blog_fetch_policy(settings: BlogsSettings) -> FetchPolicy:
    """The `FetchPolicy` the `[blogs]` settings ask for."""
    return FetchPolicy(
        user_agent=settings.user_agent,
        timeout_s=settings.timeout_s,
        max_bytes=settings.max_bytes,
        allow_loopback=settings.allow_loopback,
        allow_private=settings.allow_private_addresses,
    )


class BlogReader:
    """The context, `[blogs]` settings, guarded fetcher and robots.txt cache of a blog poll."""

    def __init__(self, context: CollectorContext, fetcher: Fetcher | None = None) -> None:
        self.context = context
        self.settings = context.settings.blogs
        self.fetcher = fetcher or Fetcher(blog_fetch_policy(self.settings))
        self.robots = RobotsCache(self.fetcher)

    def close(self) -> None:
        self.fetcher.close()


# 4xx that mean "this URL is wrong", not "try again later".
_FATAL_STATUSES = {400, 401, 403, 404, 405, 406, 410, 451}


def typed(exc: FetchError, what: str) -> Exception:
    """A fetch failure as the collector protocol's typed error, naming what failed and the fix."""
    if isinstance(exc, TransientFetchError):
        # No status: the connection failed or timed out; a gateway error: the site is down.
        if exc.status == 429:
            signal: str | None = RATE_LIMIT_WAIT
        elif exc.status is None or exc.status in (502, 503, 504):
            signal = UNREACHABLE
        else:
            signal = None
        return TransientError(f"{what}: {exc}", retry_after=exc.retry_after, signal=signal)
    if isinstance(exc, DisallowedByRobots):
        return FatalSourceError(f"{what}: disallowed by robots.txt", status=ROBOTS_DISALLOWED)
    if isinstance(exc, GoneError):
        return FatalSourceError(f"{what}: {exc}; the page is gone, remove it from the config")
    if isinstance(exc, BlockedAddressError):
        return FatalSourceError(f"{what}: {exc}; {refusal_hint(exc, 'blogs')}")
    if isinstance(exc, TooLargeError):
        return FatalSourceError(f"{what}: {exc}; raise [blogs].max_bytes if this is expected")
    if isinstance(exc, PermanentFetchError) and (exc.status in _FATAL_STATUSES):
        return FatalSourceError(f"{what}: {exc}; check the URL in the config")
    return TransientError(f"{what}: {exc}")


def moved_problem(configured: str, cursor: dict[str, object]) -> list[str]:
    """The notes `status` shows from a feed's cursor: polled at the address it moved to; its
    blog's comments feed (pingbacks) disallowed by robots.txt (`site_pingbacks`), said rather
    than silently skipped."""
    out = []
    moved_to = cursor.get("moved_to")
    if moved_to and moved_to != configured:
        out.append(
            f"moved permanently to {moved_to} (polled there now; put that URL in the config)"
        )
    comments = cursor.get("comments")
    why = comments.get("absent") if isinstance(comments, dict) else None
    if isinstance(why, str) and "robots.txt" in why:
        out.append("comments feed (pingbacks) disallowed by robots.txt; asked again in a week")
    return out
