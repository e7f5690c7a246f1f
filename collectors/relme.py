"""The rel=me links of blogs' home pages, for linking people (issue 20; docs/people.md).

A blog says which profiles are its author's with `rel="me"` links on its home page. Each blog
account's page is read through the guarded fetcher (every hop of a redirect checked, private
and loopback addresses refused unless the policy allows them), after asking the site's
robots.txt, and cached: read again after `horizon` (a failure sooner, after `retry`). Its
links become the blog's claims (`domain.people.page_claims`: one-way until the profile links
back) and the blog goes through the linking pass at once.

A page that redirects to another site is not the blog's page: its links are not taken (a
domain that changed hands, a link shortener). One fetch per blog and pass, a bounded number
of blogs per pass (`limit`): the pass always ends.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from domain.people import page_claims, rel_me_links, site_key
from net.fetcher import (
    BlockedAddressError,
    Fetcher,
    FetchError,
    TransientFetchError,
)
from net.robots import DisallowedByRobots, RobotsCache
from storage.engine import write_tx
from storage.people_links import (
    due_profile_pages,
    link_accounts,
    record_profile_page,
    store_page_claims,
)

HTML_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1"
HORIZON = timedelta(days=7)  # a page read well is read again after a week
RETRY = timedelta(hours=6)  # a page that failed is tried again sooner
MAX_PAGE_BYTES = 2_000_000


@dataclass(slots=True)
class PageCheck:
    """What one pass over due pages did."""

    checked: int = 0
    claims: int = 0
    evidence_added: int = 0
    statuses: dict[str, int] = field(default_factory=dict)


def page_url(host: str, url: str | None) -> str:
    """The blog's home page: its stored address when it has one, else https://host/."""
    return url if url and url.lower().startswith(("http://", "https://")) else f"https://{host}/"


def _same_site(a: str, b: str) -> bool:
    from urllib.parse import urlsplit

    ka, kb = urlsplit(a), urlsplit(b)
    if ka.hostname == kb.hostname and ka.port == kb.port:
        return True
    sa, sb = site_key(ka.hostname), site_key(kb.hostname)
    return sa is not None and sa == sb


def check_pages(
    engine: Engine,
    fetcher: Fetcher,
    *,
    limit: int = 100,
    now: datetime | None = None,
    horizon: timedelta = HORIZON,
    retry: timedelta = RETRY,
    robots: RobotsCache | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> PageCheck:
    """Read the due blogs' pages (at most `limit`) and link on what they claim."""
    now = now or datetime.now(UTC)
    robots = robots or RobotsCache(fetcher)
    out = PageCheck()
    with engine.connect() as conn:
        due = due_profile_pages(conn, now, limit)
    for i, page in enumerate(due):
        url = page_url(page["host"], page["url"])
        links: list[str] | None = None
        final, error = None, None
        try:
            robots.check(url)
            res = fetcher.get(url, accept=HTML_ACCEPT, max_bytes=MAX_PAGE_BYTES)
            final = res.url
            if not _same_site(url, res.url):
                status, error = "off_site", f"redirected to another site: {res.url}"
            else:
                status, links = "ok", rel_me_links(res.text(), res.url)
        except BlockedAddressError as exc:
            status, error = "refused", str(exc)
        except DisallowedByRobots as exc:
            status, error = "robots_disallowed", str(exc)
        except TransientFetchError as exc:
            status, error = "transient", str(exc)
        except FetchError as exc:
            status, error = "failed", str(exc)
        claims = page_claims(links or [])
        with write_tx(engine) as conn:
            record_profile_page(
                conn,
                page["account_id"],
                url=url,
                status=status,
                now=now,
                next_check_at=now + (horizon if status == "ok" else retry),
                rel_me=links,
                final_url=final,
                error=error,
            )
            if (
                status == "ok" or status == "off_site"
            ):  # a page that says nothing now claims nothing
                store_page_claims(conn, page["account_id"], claims, now)
                out.evidence_added += link_accounts(conn, [page["account_id"]], now).evidence_added
        out.checked += 1
        out.claims += len(claims)
        out.statuses[status] = out.statuses.get(status, 0) + 1
        if progress:
            progress(i + 1, len(due))
    return out
