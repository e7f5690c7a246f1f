"""Mastodon status JSON -> records. Pure functions: no I/O, no clock, no client.

Why the shapes are what they are (DESIGN.md section 2):

- A status is keyed by its `uri`, the same on every instance; the per-instance `id` is only a
  paging cursor, so it is returned next to the record (`ParsedStatus.local_id`), never stored.
- An account is keyed by its `acct` made absolute (`user@instance`): a local account's `acct`
  is the bare username, so the instance's domain is supplied by the caller.
- A boost (`reblog` not null) is not a mention of its own: the original is the mention and the
  booster amplifies it (a `boost` edge).
- A reply's or shallow quote's parent is known only by its per-instance id; resolving that to
  a `uri` needs a request, so the parse says what to resolve and `reply_edge`/`quote_edge`
  build the edge once the collector has the parent's JSON.

Every field is treated as hostile: HTML goes through `domain.sanitize`, URLs must be
absolute http(s), counts must be non-negative integers, and a status without a usable `uri`,
`id`, `created_at` or account raises `MalformedStatus` so the caller can skip and count it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

from domain.people import mastodon_field_claims
from domain.records import AccountRecord, EdgeRecord, MentionRecord, local_status_key
from domain.sanitize import clean_text, html_to_text, sanitize_html

PLATFORM = "mastodon"
MAX_HTML_CHARS = 100_000
# Quote states in which the quoted status may be shown (Mastodon 4.4+ `Quote.state`).
_QUOTE_VISIBLE = frozenset({"accepted", "blocked_account", "blocked_domain", "muted_account"})


class MalformedStatus(ValueError):
    """A status that cannot be used; `reason` is the short code counted on the run."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(slots=True)
class ParsedStatus:
    """One status (or boost) as records, plus what the collector may still need to resolve."""

    mention: MentionRecord
    local_id: str  # the id of the item as listed (the boost's own id for a boost)
    mention_local_id: str  # the id of the mention on this instance (the original's for a boost)
    edges: list[EdgeRecord] = field(default_factory=list)
    accounts: list[AccountRecord] = field(default_factory=list)
    reblogs_count: int = 0
    reply_to_local_id: str | None = None  # parent to resolve when no edge could be built
    quote_local_id: str | None = None  # shallow quote to resolve


# -- small validators -------------------------------------------------------------------------


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _id(value: Any) -> str | None:
    """Ids are strings on the wire; tolerate a number from a sloppy server, never cast a string."""
    if isinstance(value, str) and value and len(value) <= 200:
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)
    return None


def _http_url(value: Any) -> str | None:
    if not isinstance(value, str) or len(value) > 4000:
        return None
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return value.strip()


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return 0
    return min(value, 2**31 - 1)


def _flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def parse_time(value: Any) -> datetime:
    """An aware UTC datetime from Mastodon's ISO 8601 (or an already-parsed datetime)."""
    if isinstance(value, datetime):
        when = value
    elif isinstance(value, str) and value:
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        when = datetime.fromisoformat(text)  # raises ValueError on junk
    else:
        raise ValueError(f"not a datetime: {value!r}")
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


def _optional_time(value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_time(value)
    except (ValueError, TypeError, OverflowError):
        return None


def instance_of(acct: str) -> str:
    return acct.rsplit("@", 1)[1] if "@" in acct else ""


def absolute_acct(acct: str, instance_domain: str) -> str:
    """`user` -> `user@instance`; `user@Other.Social` -> `user@other.social` (domain folded)."""
    acct = acct.strip().lstrip("@")
    if "@" in acct:
        user, domain = acct.rsplit("@", 1)
    else:
        user, domain = acct, instance_domain
    if not user or not domain or any(ch.isspace() for ch in acct):
        raise MalformedStatus("bad_account", f"acct {acct!r}")
    return f"{user}@{domain.lower()}"


# -- accounts -----------------------------------------------------------------------------------


def parse_account(account: Any, instance_domain: str) -> AccountRecord:
    """Mastodon Account entity -> AccountRecord, opt-out flags kept as given (None = unknown)."""
    if not isinstance(account, Mapping):
        raise MalformedStatus("missing_account")
    acct = _str(account.get("acct"))
    if acct is None:
        raise MalformedStatus("missing_account", "account without acct")
    native = absolute_acct(acct, instance_domain)
    display = account.get("display_name")
    return AccountRecord(
        platform=PLATFORM,
        native_id=native,
        handle=native,
        display_name=clean_text(display)[:500] or None if isinstance(display, str) else None,
        url=_http_url(account.get("url")),
        instance=instance_of(native),
        avatar_url=_http_url(account.get("avatar_static")) or _http_url(account.get("avatar")),
        bot=_flag(account.get("bot")),
        indexable=_flag(account.get("indexable")),
        discoverable=_flag(account.get("discoverable")),
        noindex=_flag(account.get("noindex")),
        claims=mastodon_field_claims(account["fields"]) if "fields" in account else None,
    )


# -- content ------------------------------------------------------------------------------------


class _LinkCollector(HTMLParser):
    """Hrefs of ordinary links; Mastodon marks @-mentions and hashtags with `mention`/`hashtag`
    classes, and those are not links to content."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "a":
            return
        d = dict(attrs)
        classes = set((d.get("class") or "").split())
        if classes & {"mention", "hashtag", "u-url"}:
            return
        href = _http_url(d.get("href"))
        if href:
            self.links.append(href)


def links_in(html: str | None) -> list[str]:
    if not html:
        return []
    collector = _LinkCollector()
    try:
        collector.feed(html[:MAX_HTML_CHARS])
        collector.close()
    except Exception:  # html.parser is lenient; never let a link sink the status
        pass
    return collector.links


def _media(status: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    items = status.get("media_attachments")
    if not isinstance(items, list) or not items:
        return None
    out = []
    for item in items[:16]:
        if not isinstance(item, Mapping):
            continue
        url = _http_url(item.get("url")) or _http_url(item.get("remote_url"))
        if not url:
            continue
        desc = item.get("description")
        out.append(
            {
                "type": item.get("type") if isinstance(item.get("type"), str) else "unknown",
                "url": url,
                "preview_url": _http_url(item.get("preview_url")),
                "description": clean_text(desc)[:1500] if isinstance(desc, str) else None,
            }
        )
    return out or None


def _tags(status: Mapping[str, Any]) -> list[str]:
    tags = status.get("tags")
    if not isinstance(tags, list):
        return []
    out = []
    for t in tags:
        name = t.get("name") if isinstance(t, Mapping) else None
        if isinstance(name, str) and name.strip() and len(name) <= 200:
            out.append(name.strip().lstrip("#"))
    return out


def _dedupe(items: list[str]) -> list[str]:
    seen: set[str] = set()
    return [x for x in items if not (x in seen or seen.add(x))]  # type: ignore[func-returns-value]


# -- statuses -----------------------------------------------------------------------------------


def status_key(uri: str) -> tuple[str, str]:
    return (PLATFORM, uri)


def _mention(status: Mapping[str, Any], instance_domain: str) -> tuple[MentionRecord, str]:
    uri = _http_url(status.get("uri"))
    if uri is None:
        raise MalformedStatus("missing_uri", repr(status.get("uri"))[:80])
    local_id = _id(status.get("id"))
    if local_id is None:
        raise MalformedStatus("missing_id", uri)
    try:
        created = parse_time(status.get("created_at"))
    except (ValueError, TypeError, OverflowError):
        raise MalformedStatus("bad_date", f"{uri}: {status.get('created_at')!r}"[:200]) from None
    author = parse_account(status.get("account"), instance_domain)
    content = status.get("content")
    if content is not None and not isinstance(content, str):
        raise MalformedStatus("bad_content", uri)
    spoiler = status.get("spoiler_text")
    card = status.get("card")
    links = links_in(content)
    if isinstance(card, Mapping) and _http_url(card.get("url")):
        links.append(card["url"].strip())
    lang = status.get("language")
    mention = MentionRecord(
        platform=PLATFORM,
        native_id=uri,
        created_at=created,
        author=author,
        url=_http_url(status.get("url")) or uri,
        text=html_to_text(content, max_chars=MAX_HTML_CHARS) or None,
        html=sanitize_html(content, max_chars=MAX_HTML_CHARS) or None,
        lang=lang[:20] if isinstance(lang, str) and lang else None,
        instance=instance_of(author.native_id),
        like_count=_count(status.get("favourites_count")),
        repost_count=_count(status.get("reblogs_count")),
        reply_count=_count(status.get("replies_count")),
        quote_count=_count(status.get("quotes_count")),
        sensitive=status.get("sensitive") is True,
        spoiler_text=clean_text(spoiler)[:2000] or None if isinstance(spoiler, str) else None,
        media=_media(status),
        links=_dedupe(links),
        hashtags=_tags(status),
        edited_at=_optional_time(status.get("edited_at")),
        raw=dict(status),
        seen_on=instance_domain or None,
        seen_local_id=local_id if instance_domain else None,
        # A streaming `delete` names the status by this id only (storage/models_deletions.py).
        aliases=((PLATFORM, local_status_key(instance_domain, local_id)),)
        if instance_domain
        else (),
    )
    return mention, local_id


def parse_status(status: Any, instance_domain: str) -> ParsedStatus:
    """One status from a timeline, stream or lookup on `instance_domain`.

    Raises `MalformedStatus` when the status (or, for a boost, its original) is unusable.
    """
    if not isinstance(status, Mapping):
        raise MalformedStatus("not_an_object", type(status).__name__)
    reblog = status.get("reblog")
    if reblog is not None:
        # A boost: the original is the mention; the booster amplifies it.
        if not isinstance(reblog, Mapping):
            raise MalformedStatus("bad_reblog")
        inner = parse_status(reblog, instance_domain)
        local_id = _id(status.get("id"))
        if local_id is None:
            raise MalformedStatus("missing_id", "boost without id")
        booster = parse_account(status.get("account"), instance_domain)
        boosted_at = _optional_time(status.get("created_at")) or inner.mention.created_at
        inner.edges.append(
            EdgeRecord(
                kind="boost",
                platform=PLATFORM,
                source=booster,
                target=status_key(inner.mention.native_id),
                created_at=boosted_at,
                target_account=inner.mention.author,
                # A boost undone is a streaming `delete` of the boost's own local id.
                undo_key=(PLATFORM, local_status_key(instance_domain, local_id)),
            )
        )
        inner.accounts.append(booster)
        inner.local_id = local_id
        return inner

    mention, local_id = _mention(status, instance_domain)
    parsed = ParsedStatus(
        mention=mention,
        local_id=local_id,
        mention_local_id=local_id,
        reblogs_count=mention.repost_count,
    )
    reply_to = _id(status.get("in_reply_to_id"))
    if reply_to is not None:
        parsed.reply_to_local_id = reply_to
    quote = status.get("quote")
    if isinstance(quote, Mapping) and quote.get("state", "accepted") in _QUOTE_VISIBLE:
        quoted = quote.get("quoted_status")
        if isinstance(quoted, Mapping):
            try:
                edge = quote_edge(mention, quoted, instance_domain)
            except MalformedStatus:
                edge = None
            if edge is not None:
                parsed.edges.append(edge)
        else:
            parsed.quote_local_id = _id(quote.get("quoted_status_id"))
    return parsed


def _parent(parent: Mapping[str, Any], instance_domain: str) -> tuple[str, AccountRecord]:
    uri = _http_url(parent.get("uri"))
    if uri is None:
        raise MalformedStatus("missing_uri", "parent")
    return uri, parse_account(parent.get("account"), instance_domain)


def reply_edge(reply: MentionRecord, parent: Mapping[str, Any], instance_domain: str) -> EdgeRecord:
    """The reply edge once the parent's JSON is known; also records `reply_to` on the mention."""
    uri, author = _parent(parent, instance_domain)
    reply.reply_to = status_key(uri)
    assert reply.author is not None
    return EdgeRecord(
        kind="reply",
        platform=PLATFORM,
        source=reply.author,
        target=status_key(uri),
        created_at=reply.created_at,
        via=status_key(reply.native_id),
        target_account=author,
    )


def quote_edge(
    quoting: MentionRecord, quoted: Mapping[str, Any], instance_domain: str
) -> EdgeRecord:
    """The quote edge for `quoting` of `quoted`; also records `quote_of` on the mention."""
    uri, author = _parent(quoted, instance_domain)
    quoting.quote_of = status_key(uri)
    assert quoting.author is not None
    return EdgeRecord(
        kind="quote",
        platform=PLATFORM,
        source=quoting.author,
        target=status_key(uri),
        created_at=quoting.created_at,
        via=status_key(quoting.native_id),
        target_account=author,
    )


def boost_edges(
    target: MentionRecord, boosters: list[Any], instance_domain: str, *, seen_at: datetime
) -> tuple[list[EdgeRecord], int]:
    """Edges from `status_reblogged_by` accounts; returns (edges, malformed accounts).

    The endpoint does not say when each boost happened, so the edge carries `seen_at` (when
    the growth was noticed), never earlier than the status itself.
    """
    edges: list[EdgeRecord] = []
    bad = 0
    when = max(seen_at, target.created_at)
    for acc in boosters:
        try:
            source = parse_account(acc, instance_domain)
        except MalformedStatus:
            bad += 1
            continue
        edges.append(
            EdgeRecord(
                kind="boost",
                platform=PLATFORM,
                source=source,
                target=status_key(target.native_id),
                created_at=when,
                target_account=target.author,
            )
        )
    return edges, bad


def to_plain(value: Any) -> Any:
    """A client entity (dict subclasses, datetimes, id string subclasses) as plain JSON data,
    so parse functions and stored payloads see exactly the wire format's types."""
    if isinstance(value, Mapping):
        return {str(k): to_plain(v) for k, v in value.items() if not str(k).startswith("_")}
    if isinstance(value, list | tuple):
        return [to_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, str):
        return str(value)
    return value
