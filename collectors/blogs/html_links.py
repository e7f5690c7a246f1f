"""What a blog page says about itself and where it links, read from untrusted HTML. Pure.

One tolerant pass of the standard library's `HTMLParser` (it never raises on broken markup and
never fetches anything) collects:

- feed autodiscovery: `<link rel="alternate" type="application/rss+xml|atom+xml|rdf+xml">`;
- the pingback endpoint (`<link rel="pingback">`) and the Webmention endpoint
  (`<link|a rel="webmention">`, the first one in document order, as the W3C spec says);
- pingbacks and trackbacks rendered by WordPress themes as `li.pingback` / `li.trackback`
  comments, whose first link is the source;
- the page's title, site name (`og:site_name`) and publication date
  (`article:published_time`, else the first `<time datetime>`), for enrichment;
- every outbound link (`a[href]`), and every URL-bearing attribute for Webmention
  verification (a link to the target may be an `a`, an `img`, a `video`...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from domain.matching import normalise_url
from domain.sanitize import clean_text

FEED_TYPES = {
    "application/rss+xml": "rss",
    "application/atom+xml": "atom",
    "application/rdf+xml": "rdf",
    "application/feed+json": "json",
    "application/xml": "xml",
    "text/xml": "xml",
}
URL_ATTRS = {"href", "src", "cite", "data", "poster"}
MAX_LINKS = 500


@dataclass(slots=True)
class FoundPing:
    source: str
    title: str
    kind: str  # pingback | trackback


@dataclass(slots=True)
class PageInfo:
    base: str
    title: str | None = None
    site_name: str | None = None
    published: datetime | None = None
    feeds: list[tuple[str, str, str]] = field(default_factory=list)  # (url, kind, title)
    pingback_endpoint: str | None = None
    webmention_endpoint: str | None = None
    links: list[str] = field(default_factory=list)  # outbound a[href], absolute
    urls: list[str] = field(default_factory=list)  # every URL-bearing attribute, absolute
    pings: list[FoundPing] = field(default_factory=list)


def _absolute(base: str, value: str | None) -> str | None:
    if not value:
        return None
    value = value.strip()
    if not value or value.startswith(("javascript:", "data:", "mailto:", "#")):
        return None
    try:
        url = urljoin(base, value)
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return url


def parse_date(value: str | None) -> datetime | None:
    """An ISO 8601 date as pages write it (`2026-11-02T09:00:00+00:00`), aware UTC, or None."""
    if not value:
        return None
    value = value.strip()
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


class _Reader(HTMLParser):
    def __init__(self, base: str) -> None:
        super().__init__(convert_charrefs=True)
        self.info = PageInfo(base=base)
        self._in_title = False
        self._title: list[str] = []
        self._ping_li: list[bool] = []  # li stack: is this li a ping comment?
        self._ping_kind: str | None = None
        self._ping_href: str | None = None
        self._ping_text: list[str] | None = None
        self._time_seen = False
        self._base_set = False

    # HTMLParser lower-cases tag and attribute names for us.
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        info = self.info
        if tag == "base" and a.get("href") and not self._base_set:
            url = _absolute(info.base, a["href"])
            if url:
                info.base, self._base_set = url, True
        rels = set(a.get("rel", "").lower().split())
        if len(info.urls) < MAX_LINKS * 4:
            for attr in URL_ATTRS & a.keys():
                url = _absolute(info.base, a[attr])
                if url:
                    info.urls.append(url)
        if tag == "link":
            href = _absolute(info.base, a.get("href"))
            if href and "alternate" in rels:
                kind = FEED_TYPES.get(a.get("type", "").lower().split(";")[0].strip())
                if kind:
                    info.feeds.append((href, kind, clean_text(a.get("title"))))
            if href and "pingback" in rels and info.pingback_endpoint is None:
                info.pingback_endpoint = href
        if tag in ("link", "a") and "webmention" in rels and info.webmention_endpoint is None:
            # an empty href means "this page itself" (W3C Webmention 3.1.2)
            raw = a.get("href")
            if raw is not None:
                info.webmention_endpoint = urljoin(info.base, raw.strip())
        if tag == "meta":
            prop = (a.get("property") or a.get("name") or "").lower()
            content = a.get("content")
            if prop == "og:site_name" and content and not info.site_name:
                info.site_name = clean_text(content)[:300]
            elif prop == "og:title" and content and not info.title:
                info.title = clean_text(content)[:500]
            elif prop in ("article:published_time", "date", "dc.date") and content:
                info.published = info.published or parse_date(content)
        elif tag == "title":
            self._in_title = True
        elif tag == "time" and not self._time_seen and a.get("datetime"):
            self._time_seen = True
            info.published = info.published or parse_date(a["datetime"])
        elif tag == "li":
            classes = set(a.get("class", "").lower().split())
            kind = (
                "pingback"
                if "pingback" in classes
                else ("trackback" if "trackback" in classes else None)
            )
            self._ping_li.append(kind is not None)
            if kind is not None:
                self._ping_kind, self._ping_href, self._ping_text = kind, None, None
        elif tag == "a":
            href = _absolute(info.base, a.get("href"))
            if href and len(info.links) < MAX_LINKS:
                info.links.append(href)
            if self._ping_kind and self._ping_href is None and href:
                self._ping_href, self._ping_text = href, []

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag == "a" and self._ping_text is not None and self._ping_kind:
            self._finish_ping()
        elif tag == "li" and self._ping_li and self._ping_li.pop() and self._ping_kind:
            self._finish_ping()
            self._ping_kind = None

    def _finish_ping(self) -> None:
        if self._ping_href and self._ping_kind:
            title = clean_text(" ".join(self._ping_text or []))[:500]
            self.info.pings.append(FoundPing(self._ping_href, title, self._ping_kind))
        self._ping_kind, self._ping_href, self._ping_text = None, None, None

    def handle_data(self, data: str) -> None:
        if self._in_title and len(self._title) < 50:
            self._title.append(data)
        if self._ping_text is not None:
            self._ping_text.append(data)

    def close(self) -> None:
        super().close()
        if not self.info.title and self._title:
            self.info.title = clean_text(" ".join(self._title))[:500] or None


def read_page(html: str, base: str) -> PageInfo:
    """Everything `PageInfo` holds, from one page of untrusted HTML."""
    reader = _Reader(base)
    try:
        reader.feed(html)
        reader.close()
    except (AssertionError, ValueError):  # HTMLParser on pathological input; keep what we have
        pass
    info = reader.info
    info.links = list(dict.fromkeys(info.links))
    info.pings = list({p.source: p for p in info.pings}.values())
    return info


def extract_links(html: str | None, base: str) -> list[str]:
    """Outbound `a[href]` links of an HTML fragment (a feed entry's content), absolute."""
    if not html:
        return []
    return read_page(html, base).links


_LINK_PART = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]*)*)")


def link_header(value: str | None, rel: str, base: str) -> str | None:
    """The first URL with relation `rel` in an HTTP `Link` header, absolute."""
    if not value:
        return None
    for m in _LINK_PART.finditer(value):
        params = m.group(2)
        for p in params.split(";"):
            k, _, v = p.strip().partition("=")
            if k.strip().lower() == "rel" and rel in v.strip().strip('"').lower().split():
                return urljoin(base, m.group(1).strip())
    return None


def links_to(html: str, base: str, target: str) -> bool:
    """Whether the page really links to `target` (any URL-bearing attribute), compared after
    URL normalisation, so `https://Site/a/?utm_source=x` links to `https://site/a`."""
    want = normalise_url(target)
    if want is None:
        return False
    return any(normalise_url(u) == want for u in read_page(html, base).urls)
