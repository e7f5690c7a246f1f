"""robots.txt for pages we crawl (issue 22, item 3): markup polling of tracked posts for their
pingbacks and the enrichment of pingback sources. Each site's robots.txt is read once through
the guarded fetcher, kept per site (scheme, host, port) and read again after a day
(`ROBOTS_TTL_S`), and asked for our user agent's product token (`Groundswell`).

Not asked for: feeds the operator configured (not crawling), API calls (XML-RPC
getPingbacks, Mastodon, Bluesky), and the source fetch a pingback or webmention receiver must
make to verify a ping: the specifications require it of the receiver, and the sender asked
for it (docs/blogs.md).

RFC 9309's rules for the file itself: 4xx (none there) allows everything; a 5xx or an
unreachable site is "try again later" (the fetch error goes up, the source backs off), never
taken as permission.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

from net.fetcher import Fetcher, FetchError, PermanentFetchError, TransientFetchError

ROBOTS_TTL_S = 86_400.0  # re-read each site's robots.txt daily
PRODUCT_TOKEN = "Groundswell"  # the name robots.txt groups address us by
MAX_ROBOTS_BYTES = 500_000  # RFC 9309: crawlers may stop at 500 KiB
# A source's status while its site's robots.txt disallows us (`groundswell status` shows it);
# retried on its own (storage.catalog.RETRIED_PARKED_STATUSES): the site may change its mind.
ROBOTS_DISALLOWED = "robots_disallowed"


class DisallowedByRobots(PermanentFetchError):
    """The site's robots.txt disallows our user agent for this page."""


def site_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class RobotsCache:
    """Per-site robots.txt rules, read through `fetcher`, kept `ttl_s` seconds."""

    def __init__(
        self,
        fetcher: Fetcher,
        *,
        token: str = PRODUCT_TOKEN,
        ttl_s: float = ROBOTS_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.fetcher, self.token, self.ttl_s, self.clock = fetcher, token, ttl_s, clock
        self._sites: dict[str, tuple[float, RobotFileParser]] = {}

    def rules(self, url: str) -> RobotFileParser:
        site = site_of(url)
        kept = self._sites.get(site)
        if kept is not None and self.clock() - kept[0] < self.ttl_s:
            return kept[1]
        parser = RobotFileParser()
        try:
            res = self.fetcher.get(
                f"{site}/robots.txt", accept="text/plain", max_bytes=MAX_ROBOTS_BYTES
            )
            lines = res.content.decode("utf-8", "replace").splitlines()
            parser.parse(lines)
        except TransientFetchError:
            raise  # 5xx, 429, unreachable: not a permission; the source backs off
        except FetchError:
            parser.parse([])  # 4xx, gone, refused: no rules, everything allowed
        self._sites[site] = (self.clock(), parser)
        return parser

    def check(self, url: str) -> None:
        """Raise `DisallowedByRobots` when the site's robots.txt disallows `url` for us."""
        if not self.rules(url).can_fetch(self.token, url):
            raise DisallowedByRobots(url, "disallowed by robots.txt")
