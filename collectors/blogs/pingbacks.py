"""Pingbacks of blog posts you do not own, polled the three public ways WordPress answers.

In this order (DESIGN.md section 4):
1. `pingback.extensions.getPingbacks(post_url)` over XML-RPC on the blog's advertised pingback
   endpoint (`X-Pingback` header or `<link rel="pingback">`): the list of source URLs;
2. the post page itself, where themes render pingbacks and trackbacks as `li.pingback` /
   `li.trackback` comments linking to the source (for blogs that turned XML-RPC off);
3. the post's comment feed (`<post>/feed/`), only as a cheap change signal: with its ETag /
   Last-Modified an unchanged post costs one 304, and the full check is skipped until
   `full_check_every_s` has passed. (The feed carries no comment type and no source link, and
   the anonymous REST API refuses `type=pingback`, so neither is used for the list itself.)

Each new source becomes a `pingback` mention (native id "source target") and a `pingback` edge
from the source blog to the post, enriched with the source page's title, blog name and date.
Enrichment is polite and bounded: at most `max_enrich_per_poll` pages per poll, one at a time
with a pause; the rest wait for the next poll (the cursor remembers to do a full check).
"""

from __future__ import annotations

import hashlib
import time
import xmlrpc.client
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from collectors.base import SourceState
from collectors.blogs import xmlrpc_safe
from collectors.blogs.feeds import blog_account, site_host
from collectors.blogs.html_links import PageInfo, link_header, read_page
from collectors.blogs.reading import typed
from domain.matching import normalise_url
from domain.records import AccountRecord, Batch, EdgeRecord, MentionRecord
from domain.sanitize import clean_text
from domain.url_identity import canonical_url, ping_native_id
from net.fetcher import Fetcher, FetchError, GoneError, PermanentFetchError
from storage.models_blogs import MAX_URL_CHARS
from storage.queries.blogs import mentions_by_url

if TYPE_CHECKING:
    from collectors.blogs.reading import BlogReader

MAX_SEEN = 5000
HTML_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.1"


class XmlRpcUnavailable(Exception):
    """The blog does not answer getPingbacks (XML-RPC off, blocked, or not a pingback resource);
    fall back to the page markup."""


def get_pingbacks(fetcher: Fetcher, endpoint: str, post_url: str) -> list[str]:
    """Source URLs that pinged `post_url`, from the blog's XML-RPC endpoint."""
    body = xmlrpc_safe.dumps_call("pingback.extensions.getPingbacks", post_url)
    try:
        res = fetcher.post(endpoint, content=body, content_type="text/xml")
    except PermanentFetchError as exc:  # 403/404/405: XML-RPC disabled or blocked
        raise XmlRpcUnavailable(str(exc)) from None
    try:
        params, _ = xmlrpc_safe.loads(res.content)
    except xmlrpc.client.Fault as fault:
        raise XmlRpcUnavailable(
            f"{endpoint}: fault {fault.faultCode}: {fault.faultString}"
        ) from None
    except xmlrpc_safe.XmlRpcParseError as exc:
        raise XmlRpcUnavailable(f"{endpoint}: {exc}") from None
    value = params[0] if params else []
    if not isinstance(value, list):
        raise XmlRpcUnavailable(f"{endpoint}: getPingbacks answered {type(value).__name__}")
    return [v.strip() for v in value if isinstance(v, str) and v.strip()]


def fetch_page(fetcher: Fetcher, url: str) -> tuple[PageInfo, dict[str, str]]:
    res = fetcher.get(url, accept=HTML_ACCEPT)
    info = read_page(res.text(), res.url)
    headers = {k.lower(): v for k, v in res.headers.items()}
    if info.pingback_endpoint is None and headers.get("x-pingback"):
        info.pingback_endpoint = headers["x-pingback"].strip()
    header_wm = link_header(headers.get("link"), "webmention", res.url)
    if header_wm:  # the HTTP Link header comes first (W3C Webmention 3.1.2)
        info.webmention_endpoint = header_wm
    return info, headers


def ping_mention(
    kind: str,
    source: str,
    target: str,
    info: PageInfo | None,
    *,
    now: datetime,
    fallback_title: str | None = None,
    movement: str | None = None,
    method: str | None = None,
) -> MentionRecord:
    """The mention a pingback/webmention becomes, enriched from the source page when known."""
    title = (info.title if info else None) or fallback_title or source
    site = info.site_name if info else None
    published = info.published if info and info.published and info.published <= now else None
    author = blog_account(source, site, _root(source)) or AccountRecord(kind, source)
    return MentionRecord(
        platform=kind,
        native_id=ping_native_id(source, target),
        created_at=published or now,
        author=author,
        url=source,
        title=clean_text(title)[:1000],
        text=clean_text(f"{title}" + (f" — {site}" if site else ""))[:2000],
        instance=site_host(source),
        links=[canonical_url(target)],
        raw={
            "source": source,
            "target": target,
            "method": method,
            "title": title,
            "site_name": site,
            "published": published.isoformat() if published else None,
        },
        seen_on=(site_host(target) or "")[:255] or None,
        movements=(movement,) if movement else (),
    )


def _target_page(
    collector: BlogReader,
    post_url: str,
    page: PageInfo | None,
    *,
    now: datetime,
    movement: str | None,
) -> MentionRecord | None:
    """The tracked post as a blog mention (`page_mention`); None when its page cannot be read
    (the edge then waits for a later poll, which tries again)."""
    if page is None:
        try:
            collector.robots.check(post_url)
            page, _ = fetch_page(collector.fetcher, post_url)
        except FetchError as exc:
            collector.context.log.info("tracked post %s: page unreadable: %s", post_url, exc)
            return None
    return page_mention(post_url, page, now=now, movement=movement)


def page_mention(
    post_url: str, page: PageInfo, *, now: datetime, movement: str | None
) -> MentionRecord:
    """A pinged page (a tracked post, or an owned page a received ping names) as a blog
    mention: title, site and time from its markup, keyed as `ping_edge` keys a target it does
    not find stored, so the ping's edge resolves to it."""
    url = canonical_url(post_url)
    title = page.title or url
    published = page.published if page.published and page.published <= now else None
    return MentionRecord(
        platform="blog",
        native_id=url,
        created_at=published or now,
        author=blog_account(post_url, page.site_name, _root(post_url)),
        url=url,
        title=clean_text(title)[:1000],
        instance=site_host(post_url),
        links=[url],
        seen_on=(site_host(post_url) or "")[:255] or None,
        movements=(movement,) if movement else (),
    )


def _root(url: str) -> str | None:
    host = site_host(url)
    return f"{url.split('://', 1)[0]}://{host}" if host else None


def ping_edge(
    kind: str, mention: MentionRecord, target: str, stored: dict[str, Any]
) -> EdgeRecord | None:
    """`kind` edge from the source blog to the target post (a stored mention when one has the
    target's URL, else the post keyed by its URL)."""
    if mention.author is None:
        return None
    norm = normalise_url(target) or target
    hit = stored.get(norm)
    if hit is not None:
        key = (hit.platform, hit.native_id)
        target_account = AccountRecord(*hit.account) if hit.account else None
    else:
        key = ("blog", canonical_url(target))
        target_account = blog_account(target)
    return EdgeRecord(
        kind=kind,
        platform=kind,
        source=mention.author,
        target=key,
        created_at=mention.created_at,
        via=(mention.platform, mention.native_id),
        target_account=target_account,
    )


def _parse_iso(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def poll_pingbacks(collector: BlogReader, source: SourceState) -> Iterator[Batch]:
    fetcher = collector.fetcher
    settings = collector.settings
    log = collector.context.log
    post_url = str(source.target["url"])
    movement = source.target.get("movement")
    cursor: dict[str, Any] = dict(source.cursor or {})
    now = datetime.now(UTC)
    what = f"tracked post {post_url}"

    # 3. the cheap change signal first
    comment_feed = cursor.get("comment_feed") or post_url.rstrip("/") + "/feed/"
    etag = last_modified = None
    full_at = _parse_iso(cursor.get("full_at"))
    recent = full_at is not None and now - full_at < timedelta(seconds=settings.full_check_every_s)
    try:
        res = fetcher.get(comment_feed, etag=source.etag, last_modified=source.last_modified)
        settled = recent and not cursor.get("pending")
        if res.not_modified and settled:
            return  # nothing new on the post: one 304
        digest = hashlib.sha256(res.content).hexdigest() if not res.not_modified else None
        if digest is not None and digest == cursor.get("comment_sha") and settled:
            return  # a server without validators resent the same comment feed
        if digest is not None:
            cursor["comment_sha"] = digest
        etag, last_modified = res.headers.get("etag"), res.headers.get("last-modified")
    except FetchError as exc:
        log.info("%s: no usable comment feed (%s); doing a full check", what, exc)

    # 1. getPingbacks on the advertised endpoint, 2. else the post page's markup
    page: PageInfo | None = None
    endpoint = cursor.get("endpoint")
    if not endpoint:
        try:
            collector.robots.check(post_url)  # markup polling is crawling
            page, _ = fetch_page(fetcher, post_url)
        except FetchError as exc:
            raise typed(exc, what) from None
        endpoint = page.pingback_endpoint
    sources: list[tuple[str, str | None]] | None = None
    method = "markup"
    if endpoint and cursor.get("xmlrpc") != "off":
        try:
            sources = [(s, None) for s in get_pingbacks(fetcher, endpoint, post_url)]
            method = "xmlrpc"
            cursor["xmlrpc"] = "on"
        except XmlRpcUnavailable as exc:
            log.info("%s: getPingbacks unavailable (%s); reading the page", what, exc)
            cursor["xmlrpc"] = "off"
        except FetchError as exc:
            raise typed(exc, f"{what} (XML-RPC {endpoint})") from None
    if sources is None:
        if page is None:
            try:
                collector.robots.check(post_url)
                page, _ = fetch_page(fetcher, post_url)
            except FetchError as exc:
                raise typed(exc, what) from None
        sources = [(p.source, p.title) for p in page.pings]

    seen: list[str] = list(cursor.get("seen") or [])
    # compared canonically: a source listed with a fragment or a tracking parameter is the
    # same page (domain/url_identity.py)
    seen_set = {canonical_url(s) for s in seen}
    own = canonical_url(post_url)
    new: list[tuple[str, str | None]] = []
    for s, t in dict(sources).items():
        c = canonical_url(s)
        if c not in seen_set and c != own:
            seen_set.add(c)
            new.append((s, t))
    budget = settings.max_enrich_per_poll
    batch = Batch(fetched=len(sources))
    for i, (src, fallback_title) in enumerate(new):
        if i >= budget:
            break
        if normalise_url(src) is None or len(src) > MAX_URL_CHARS:
            batch.skip("bad_source_url", src[:200])
            seen.append(src)
            continue
        info: PageInfo | None = None
        try:
            if i and settings.enrich_delay_s:
                time.sleep(settings.enrich_delay_s)
            collector.robots.check(src)  # enrichment is crawling too
            info, _ = fetch_page(fetcher, src)
        except GoneError:
            batch.skip("source_gone", src[:200])
            seen.append(src)
            continue
        except FetchError as exc:  # keep the pingback; only its enrichment is missing
            log.info("%s: cannot enrich %s: %s", what, src, exc)
        batch.mentions.append(
            ping_mention(
                "pingback",
                src,
                post_url,
                info,
                now=now,
                fallback_title=fallback_title,
                movement=movement,
                method=method,
            )
        )
        seen.append(src)
    stored = {}
    pings = list(batch.mentions)
    if collector.context.engine is not None and (pings or seen):
        with collector.context.engine.connect() as conn:
            stored = mentions_by_url(conn, [post_url])
    known = collector.context.engine is not None and (pings or seen)
    followed = {site_host(f.url) for f in collector.settings.feeds}
    if known and normalise_url(post_url) not in stored and site_host(post_url) not in followed:
        # The tracked post is not stored and its blog is not followed: store it, so the
        # pingbacks' edges point at a mention on every page and in every export. A followed
        # blog's feed stores the post under the feed's own entry id; storing the page too
        # would give one post two mentions (the contract suite's replay caught it).
        target = _target_page(collector, post_url, page, now=now, movement=movement)
        if target is not None:
            batch.mentions.append(target)
    for m in pings:
        edge = ping_edge("pingback", m, post_url, stored)
        if edge is not None:
            batch.edges.append(edge)
    cursor.update(
        endpoint=endpoint,
        method=method,
        comment_feed=comment_feed,
        full_at=now.isoformat(),
        seen=seen[-MAX_SEEN:],
        pending=len(new) > budget,
        sources=len(sources),
    )
    batch.cursor = cursor
    batch.etag, batch.last_modified = etag, last_modified
    yield batch
