"""Feed bytes + response headers -> mention records. Pure: no I/O, no store.

feedparser is only ever given the *bytes* the fetcher already downloaded (size and time
bounded, address checked), never a URL or a string: given a string that looks like a URL,
feedparser would fetch it itself, outside every guard in `net.fetcher`.

- RSS 0.9x, 1.0 (RDF), 2.0 and Atom all arrive as feedparser's normalised entries.
- An entry is keyed by its id (`guid`, Atom `id`), else its link; neither -> skipped.
- `bozo` feeds (malformed XML that feedparser still understood) are harvested; the complaint is
  returned as a problem for the source. A feed that declares XML entities is refused outright
  (the shape of a billion-laughs bomb; real feeds never need internal entity declarations).
- HTML goes through `domain.sanitize` before it is kept; links are read from the entry's
  content with the same tolerant parser that reads blog pages.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import feedparser

from collectors.blogs.html_links import extract_links
from domain.records import AccountRecord, MentionRecord, Skip
from domain.sanitize import clean_text, html_to_text, sanitize_html
from domain.url_identity import canonical_url, entry_id
from storage.models_blogs import MAX_URL_CHARS

PLATFORM = "blog"
MAX_TEXT_CHARS = 50_000
MAX_NATIVE_ID = 1000
# feedparser's XML parser (expat via SAX, not defusedxml) would expand internal entities, so a
# feed declaring any is refused before parsing. Searched in the whole document: a DTD may
# follow any amount of comment, and reading only the first 64 KiB let a padded bomb through.
# In every encoding an XML document can arrive in without an ASCII-compatible prolog too
# (UTF-16 and UTF-32, either byte order), where the bytes of `<!ENTITY` are interleaved with
# zeros.
_ENTITY_DECLS = tuple(
    re.compile(re.escape("<!ENTITY".encode(enc)), re.IGNORECASE)
    for enc in ("ascii", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")
)
_HTML_TYPES = ("text/html", "application/xhtml+xml", "html", "xhtml")


@dataclass(slots=True)
class ParsedFeed:
    title: str | None = None
    site_url: str | None = None
    version: str = ""
    entries: list[MentionRecord] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)
    problem: str | None = None


def site_host(url: str | None) -> str | None:
    """A blog's account id: its host (with a non-default port), lower-case."""
    if not url:
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname or parts.scheme not in ("http", "https"):
        return None
    host = parts.hostname.lower().rstrip(".")
    if port and port not in (80, 443):
        host = f"{host}:{port}"
    return host


def blog_account(url: str | None, name: str | None = None, site_url: str | None = None):  # type: ignore[no-untyped-def]
    """The account of the blog at `url` (None when `url` has no usable host)."""
    host = site_host(url)
    if host is None:
        return None
    return AccountRecord(
        platform=PLATFORM,
        native_id=host,
        handle=host,
        display_name=(clean_text(name)[:300] or None) if name else None,
        url=site_url,
        instance=host,
    )


def _when(parsed: Any) -> datetime | None:
    if not parsed:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def _plausible(when: datetime | None, fetched_at: datetime) -> datetime | None:
    """Dates from before the web or from the future are junk (or a trick to pin an entry on top
    of every timeline); such entries fall back to when we first saw them."""
    if when is None or when.year < 1995 or when > fetched_at + timedelta(days=1):
        return None
    return when


def _body(entry: Mapping[str, Any]) -> str:
    for c in entry.get("content") or []:
        if c.get("value") and (c.get("type") or "text/html") in _HTML_TYPES:
            return str(c["value"])
    for c in entry.get("content") or []:
        if c.get("value"):
            return str(c["value"])
    return str(entry.get("summary") or entry.get("description") or "")


def _http_url(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value if value.lower().startswith(("http://", "https://")) else None


def parse_feed(
    content: bytes,
    headers: Mapping[str, str],
    *,
    feed_url: str,
    fetched_at: datetime,
) -> ParsedFeed:
    """The entries of one feed document as `MentionRecord`s (not yet matched to movements)."""
    out = ParsedFeed()
    if any(p.search(content) for p in _ENTITY_DECLS):
        out.problem = "the feed declares XML entities (the shape of an XML bomb); refused"
        return out
    lowered = {k.lower(): v for k, v in headers.items()}
    response_headers = {
        "content-type": lowered.get("content-type", "application/xml"),
        "content-location": feed_url,
    }
    d = feedparser.parse(content, response_headers=response_headers, sanitize_html=False)
    out.version = d.get("version") or ""
    feed = d.get("feed") or {}
    out.title = clean_text(feed.get("title"))[:300] or None
    out.site_url = _http_url(feed.get("link")) or feed_url
    if d.get("bozo"):
        exc = d.get("bozo_exception")
        out.problem = f"malformed feed ({type(exc).__name__}: {exc})"[:500]
    if not d.get("entries") and d.get("bozo") and not out.version:
        out.problem = (out.problem or "not a feed") + "; no entries could be read"
        return out
    feed_host = site_host(out.site_url)
    lang = (feed.get("language") or "")[:20] or None
    seen: set[str] = set()
    for entry in d.get("entries") or []:
        record = _entry(entry, out, feed_url, feed_host, lang, fetched_at)
        if isinstance(record, Skip):
            out.skipped.append(record)
        elif record.native_id in seen:
            out.skipped.append(Skip("duplicate_entry", record.native_id[:200]))
        else:
            seen.add(record.native_id)
            out.entries.append(record)
    return out


def _entry(
    entry: Mapping[str, Any],
    feed: ParsedFeed,
    feed_url: str,
    feed_host: str | None,
    lang: str | None,
    fetched_at: datetime,
) -> MentionRecord | Skip:
    link = _http_url(entry.get("link"))
    if link and len(link) > MAX_URL_CHARS:  # kept out of the URL index; the id still keys it
        link = None
    # One page, one identity: ids and links in their canonical spelling (domain/url_identity.py)
    native_id = entry_id(entry.get("id") or "") or (entry_id(link) if link else None)
    if not native_id:
        return Skip("no_id", clean_text(entry.get("title"))[:200])
    if len(native_id) > MAX_NATIVE_ID:
        return Skip("id_too_long", native_id[:200])
    raw_html = _body(entry)
    title_raw = entry.get("title") or ""
    title = (html_to_text(title_raw) if "<" in title_raw else clean_text(title_raw))[:1000]
    # a plain dict: feedparser's own .get maps updated<->published with a deprecation warning
    plain: dict[str, Any] = dict(entry)
    published = _plausible(_when(plain.get("published_parsed")), fetched_at)
    updated = _plausible(_when(plain.get("updated_parsed")), fetched_at)
    created = published or updated or fetched_at
    host = site_host(link) or feed_host
    author = None
    if host is not None:
        author = blog_account(
            link or feed.site_url,
            feed.title if host == feed_host else None,
            feed.site_url if host == feed_host else f"{urlsplit(link or '').scheme}://{host}",
        )
    base = link or feed.site_url or feed_url
    own = canonical_url(link) if link else None
    links = [c for c in (canonical_url(u) for u in extract_links(raw_html, base)) if c and c != own]
    tags = [
        clean_text(t.get("term"))[:100]
        for t in entry.get("tags") or []
        if isinstance(t, Mapping) and t.get("term")
    ]
    raw = {
        "id": entry.get("id"),
        "link": link,
        "title": title_raw[:2000],
        "author": entry.get("author"),
        "published": plain.get("published"),
        "updated": plain.get("updated"),
        "tags": tags,
        "summary": (entry.get("summary") or "")[:MAX_TEXT_CHARS],
        "content": raw_html[:MAX_TEXT_CHARS],
        "feed": feed_url,
        "feed_version": feed.version,
    }
    return MentionRecord(
        platform=PLATFORM,
        native_id=native_id,
        created_at=created,
        author=author,
        url=link,
        title=title or None,
        text=html_to_text(raw_html, max_chars=MAX_TEXT_CHARS)[:MAX_TEXT_CHARS] or None,
        html=sanitize_html(raw_html, max_chars=MAX_TEXT_CHARS) or None,
        lang=lang,
        instance=host,
        links=list(dict.fromkeys(links))[:200],
        hashtags=[t for t in tags if t],
        edited_at=updated if published and updated and updated > published else None,
        raw=raw,
        seen_on=feed_url[:255],
    )
