"""Pure functions: Bluesky JSON (XRPC `postView`s, profiles, Jetstream events) -> records.

Nothing here does I/O, so every rule is tested on recorded payloads
(`tests/payloads/bluesky/`). Decisions that are easy to get wrong:

- Facet offsets (`index.byteStart` / `byteEnd`) count UTF-8 *bytes*, not characters; a facet
  whose offsets are out of range or split a character is ignored, never fatal for the post.
- The link facet's `uri` and the tag facet's `tag` are authoritative; the visible text may be
  shortened ("example.org/long…").
- `created_at` is the post's *sortAt*: the earlier of `record.createdAt` and `indexedAt`. That is
  the time Bluesky orders and filters search results by (`since`/`until`), and it stops a
  client-set future `createdAt` from jumping ahead of the conversation.
- Accounts are keyed on the DID; the handle is a changing attribute ("handle.invalid" is
  treated as unknown so it never overwrites a good handle).
- A quote whose quoted post is not found or blocked still points at its URI; a *detached* quote
  (the quoted author removed the association) is honoured: no `quote_of`, no edge.
- The `!no-unauthenticated` self-label is the Bluesky opt-out (DESIGN.md section 6). When the
  payload carries the author's labels, its absence means False; when it carries none (Jetstream
  records), the flag stays unknown (None) so it never erases what a search taught us.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from typing import Any

from domain.people import bluesky_profile_claims
from domain.records import AccountRecord, EdgeRecord, MentionRecord, Skip
from domain.sanitize import clean_text, sanitize_html

PLATFORM = "bluesky"
POST_COLLECTION = "app.bsky.feed.post"
REPOST_COLLECTION = "app.bsky.feed.repost"
PROFILE_COLLECTION = "app.bsky.actor.profile"  # its record key is `self`
OPT_OUT_LABEL = "!no-unauthenticated"
# Labels that mean "do not show the media (or the post) without a warning".
SENSITIVE_LABELS = frozenset(
    {"porn", "sexual", "nudity", "graphic-media", "gore", "sexual-figurative", "!warn", "!hide"}
)
MAX_TEXT_CHARS = 20_000
MAX_MEDIA = 10

# Characters that reorder or hide text (bidi overrides, zero-width): gone from the HTML as
# they are from the plain text (`clean_text`), so a post cannot reverse or hide a page's text.
_HIDDEN = dict.fromkeys(
    map(
        ord,
        "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068"
        "\u2069\ufeff\u2060\u180e",
    ),
    None,
)
_DID_RE = re.compile(r"^did:[a-z]+:[a-zA-Z0-9._:%-]{1,2000}$")
_RKEY_RE = re.compile(r"^[A-Za-z0-9._:~-]{1,512}$")
_NSID_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]*(\.[a-zA-Z0-9-]+)+$")


class MalformedPost(ValueError):
    """A payload item that cannot become a record; `reason` is what the run counts."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail

    def as_skip(self) -> Skip:
        return Skip(self.reason, self.detail[:300])


@dataclass(slots=True)
class Facets:
    """What a post's rich-text facets say, each as the facet states it."""

    hashtags: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    mentions: list[tuple[str, str]] = field(default_factory=list)  # (did, text as shown)
    spans: list[tuple[int, int, str, str]] = field(default_factory=list)  # start, end, kind, value


@dataclass(slots=True)
class ParsedPost:
    """One post: the mention, the edges it constitutes (reply, quote) and who it mentions."""

    mention: MentionRecord
    edges: list[EdgeRecord]
    sort_at: datetime
    mentioned_dids: list[str]


# -- small validators ---------------------------------------------------------------------


def parse_at_uri(uri: Any) -> tuple[str, str, str]:
    """`at://<did>/<collection>/<rkey>` -> (did, collection, rkey); MalformedPost otherwise."""
    if not isinstance(uri, str) or not uri.startswith("at://") or len(uri) > 3000:
        raise MalformedPost("invalid_uri", repr(uri)[:200])
    parts = uri[5:].split("/")
    if len(parts) != 3:
        raise MalformedPost("invalid_uri", uri[:200])
    did, collection, rkey = parts
    if not _DID_RE.match(did) or not _NSID_RE.match(collection) or not _RKEY_RE.match(rkey):
        raise MalformedPost("invalid_uri", uri[:200])
    if rkey in (".", ".."):
        raise MalformedPost("invalid_uri", uri[:200])
    return did, collection, rkey


def post_uri(did: str, rkey: str) -> str:
    return f"at://{did}/{POST_COLLECTION}/{rkey}"


def repost_uri(did: str, rkey: str) -> str:
    """A repost record's at-uri: what Jetstream's delete of an undone repost names."""
    return f"at://{did}/{REPOST_COLLECTION}/{rkey}"


def is_did(value: Any) -> bool:
    return isinstance(value, str) and bool(_DID_RE.match(value))


def parse_datetime(value: Any) -> datetime | None:
    """An ATProto datetime (RFC 3339 with a zone) as aware UTC; None when invalid or naive."""
    if not isinstance(value, str) or not 10 <= len(value) <= 40:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        return None
    try:
        return dt.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def iso(dt: datetime) -> str:
    """The datetime format Bluesky writes: UTC, milliseconds, 'Z'."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return 0
    return min(value, 2**31 - 1)


def _https(url: Any) -> str | None:
    if isinstance(url, str) and url.startswith(("https://", "http://")) and len(url) < 4000:
        return url
    return None


def _alt(value: Any) -> str:
    return clean_text(value)[:2000] if isinstance(value, str) else ""


def _label_values(labels: Any) -> set[str]:
    """Values of a `labels` array (com.atproto.label.defs#label), negations applied."""
    if not isinstance(labels, list):
        return set()
    on: set[str] = set()
    off: set[str] = set()
    for label in labels:
        if isinstance(label, dict) and isinstance(label.get("val"), str):
            (off if label.get("neg") is True else on).add(label["val"])
    return on - off


def _self_label_values(record: dict[str, Any]) -> set[str]:
    labels = record.get("labels")
    if isinstance(labels, dict) and isinstance(labels.get("values"), list):
        return {
            v["val"]
            for v in labels["values"]
            if isinstance(v, dict) and isinstance(v.get("val"), str)
        }
    return set()


# -- accounts -----------------------------------------------------------------------------


def parse_author(view: Any) -> AccountRecord:
    """A `profileViewBasic` / `profileView` -> AccountRecord keyed on the DID."""
    if not isinstance(view, dict) or not is_did(view.get("did")):
        raise MalformedPost("bad_author", repr(view)[:200])
    did: str = view["did"]
    handle = view.get("handle")
    if not isinstance(handle, str) or handle == "handle.invalid" or len(handle) > 253:
        handle = None
    name = view.get("displayName")
    display_name = clean_text(name)[:500] or None if isinstance(name, str) else None
    labels = view.get("labels")
    no_unauth: bool | None = None
    if isinstance(labels, list):
        no_unauth = OPT_OUT_LABEL in _label_values(labels)
    return AccountRecord(
        platform=PLATFORM,
        native_id=did,
        handle=handle,
        display_name=display_name,
        url=f"https://bsky.app/profile/{did}",
        avatar_url=_https(view.get("avatar")),
        no_unauthenticated=no_unauth,
        # a profileView's website and description: one-way claims (docs/people.md); None
        # from a post's profileViewBasic, which carries neither
        claims=bluesky_profile_claims(view),
    )


def account_for_did(did: str) -> AccountRecord:
    """An account known only by its DID (a reply parent, a Jetstream author)."""
    return AccountRecord(platform=PLATFORM, native_id=did, url=f"https://bsky.app/profile/{did}")


# -- facets and text ----------------------------------------------------------------------


def parse_facets(text: str, facets: Any) -> Facets:
    """Facets of `text`; byte offsets are UTF-8, bad ones are dropped one by one."""
    out = Facets()
    if not isinstance(facets, list):
        return out
    data = text.encode("utf-8")
    for facet in facets:
        if not isinstance(facet, dict):
            continue
        index = facet.get("index")
        features = facet.get("features")
        if not isinstance(index, dict) or not isinstance(features, list):
            continue
        start, end = index.get("byteStart"), index.get("byteEnd")
        if (
            isinstance(start, bool)
            or isinstance(end, bool)
            or not isinstance(start, int)
            or not isinstance(end, int)
            or not 0 <= start < end <= len(data)
        ):
            continue
        try:
            shown = data[start:end].decode("utf-8")
        except UnicodeDecodeError:  # the offsets split a multi-byte character
            continue
        for feature in features:
            if not isinstance(feature, dict):
                continue
            kind = feature.get("$type")
            if kind == "app.bsky.richtext.facet#tag" and isinstance(feature.get("tag"), str):
                tag = feature["tag"].lstrip("#").strip()
                if tag and len(tag) <= 640:
                    out.hashtags.append(tag)
                    out.spans.append((start, end, "tag", tag))
            elif kind == "app.bsky.richtext.facet#link":
                uri = _https(feature.get("uri"))
                if uri:
                    out.links.append(uri)
                    out.spans.append((start, end, "link", uri))
            elif kind == "app.bsky.richtext.facet#mention" and is_did(feature.get("did")):
                out.mentions.append((feature["did"], shown))
                out.spans.append((start, end, "mention", feature["did"]))
    return out


def render_html(text: str, facets: Facets) -> str:
    """Text with its links and mentions as anchors, then sanitised (nothing raw leaves here)."""
    data = text.encode("utf-8")
    parts: list[str] = []
    pos = 0
    for start, end, kind, value in sorted(facets.spans):
        if start < pos or kind == "tag":
            continue  # overlapping facets: the first wins; tags stay plain text
        href = value if kind == "link" else f"https://bsky.app/profile/{value}"
        parts.append(escape(data[pos:start].decode("utf-8", "replace")))
        parts.append(f'<a href="{escape(href)}">{escape(data[start:end].decode("utf-8"))}</a>')
        pos = end
    parts.append(escape(data[pos:].decode("utf-8", "replace")))
    body = "".join(parts).translate(_HIDDEN).replace("\n", "<br>")
    return sanitize_html(f"<p>{body}</p>")


# -- embeds -------------------------------------------------------------------------------


@dataclass(slots=True)
class _Embed:
    quote_uri: str | None = None
    quote_author: AccountRecord | None = None
    detached: bool = False
    media: list[dict[str, Any]] = field(default_factory=list)
    links: list[str] = field(default_factory=list)


def _media_view(media: Any, out: _Embed) -> None:
    if not isinstance(media, dict):
        return
    kind = media.get("$type")
    if kind == "app.bsky.embed.images#view" and isinstance(media.get("images"), list):
        for img in media["images"][:MAX_MEDIA]:
            if isinstance(img, dict) and _https(img.get("fullsize")):
                out.media.append(
                    {
                        "type": "image",
                        "url": img["fullsize"],
                        "preview_url": _https(img.get("thumb")),
                        "alt": _alt(img.get("alt")),
                    }
                )
    elif kind == "app.bsky.embed.video#view" and _https(media.get("playlist")):
        alt = media.get("alt")
        out.media.append(
            {
                "type": "video",
                "url": media["playlist"],
                "preview_url": _https(media.get("thumbnail")),
                "alt": _alt(alt),
            }
        )
    elif kind == "app.bsky.embed.external#view" and isinstance(media.get("external"), dict):
        uri = _https(media["external"].get("uri"))
        if uri:
            out.links.append(uri)


def _quoted_view(rec: Any, out: _Embed) -> None:
    if not isinstance(rec, dict):
        return
    kind = rec.get("$type", "")
    uri = rec.get("uri")
    if not isinstance(kind, str) or not isinstance(uri, str):
        return
    try:
        did, collection, _ = parse_at_uri(uri)
    except MalformedPost:
        return
    if collection != POST_COLLECTION:
        return  # a quoted feed generator, list, labeler or starter pack is not a post
    if kind.endswith("#viewDetached") or rec.get("detached") is True:
        out.detached = True
        return
    out.quote_uri = uri
    author = rec.get("author")
    if kind.endswith("#viewRecord") and isinstance(author, dict):
        try:
            out.quote_author = parse_author(author)
        except MalformedPost:
            out.quote_author = account_for_did(did)
    else:  # viewNotFound, viewBlocked: the URI still names the author
        out.quote_author = account_for_did(did)


def _record_embed(embed: Any, did: str, out: _Embed) -> None:
    """The embed as the author wrote it (Jetstream, or a view without `embed`)."""
    if not isinstance(embed, dict):
        return
    kind = embed.get("$type")
    record = None
    media = None
    if kind == "app.bsky.embed.record":
        record = embed.get("record")
    elif kind == "app.bsky.embed.recordWithMedia":
        inner = embed.get("record")
        record = inner.get("record") if isinstance(inner, dict) else None
        media = embed.get("media")
    else:
        media = embed
    if isinstance(record, dict) and isinstance(record.get("uri"), str):
        try:
            qdid, collection, _ = parse_at_uri(record["uri"])
        except MalformedPost:
            qdid, collection = "", ""
        if collection == POST_COLLECTION and not out.detached and out.quote_uri is None:
            out.quote_uri = record["uri"]
            out.quote_author = account_for_did(qdid)
    if isinstance(media, dict) and not out.media:
        mkind = media.get("$type")
        if mkind == "app.bsky.embed.images" and isinstance(media.get("images"), list):
            for img in media["images"][:MAX_MEDIA]:
                cid = _blob_cid(img.get("image") if isinstance(img, dict) else None)
                if cid:
                    alt = img.get("alt")
                    out.media.append(
                        {
                            "type": "image",
                            "url": f"https://cdn.bsky.app/img/feed_fullsize/plain/{did}/{cid}@jpeg",
                            "preview_url": (
                                f"https://cdn.bsky.app/img/feed_thumbnail/plain/{did}/{cid}@jpeg"
                            ),
                            "alt": _alt(alt),
                        }
                    )
        elif mkind == "app.bsky.embed.external" and isinstance(media.get("external"), dict):
            uri = _https(media["external"].get("uri"))
            if uri and uri not in out.links:
                out.links.append(uri)


def _blob_cid(blob: Any) -> str | None:
    if not isinstance(blob, dict):
        return None
    ref = blob.get("ref")
    cid = ref.get("$link") if isinstance(ref, dict) else blob.get("cid")
    if isinstance(cid, str) and re.fullmatch(r"[a-z2-7]{20,200}", cid):
        return cid
    return None


def parse_embeds(view_embed: Any, record_embed: Any, did: str) -> _Embed:
    out = _Embed()
    if isinstance(view_embed, dict):
        kind = view_embed.get("$type")
        if kind == "app.bsky.embed.record#view":
            _quoted_view(view_embed.get("record"), out)
        elif kind == "app.bsky.embed.recordWithMedia#view":
            inner = view_embed.get("record")
            _quoted_view(inner.get("record") if isinstance(inner, dict) else None, out)
            _media_view(view_embed.get("media"), out)
        else:
            _media_view(view_embed, out)
    _record_embed(record_embed, did, out)
    return out


# -- posts --------------------------------------------------------------------------------


def parse_post_view(view: Any, *, seen_on: str | None = None) -> ParsedPost:
    """An `app.bsky.feed.defs#postView` -> the mention and the edges it makes.

    Raises MalformedPost (with a short reason) for anything that cannot be stored faithfully.
    """
    if not isinstance(view, dict):
        raise MalformedPost("not_an_object", type(view).__name__)
    uri = view.get("uri")
    did, collection, rkey = parse_at_uri(uri)
    if collection != POST_COLLECTION:
        raise MalformedPost("not_a_post", str(uri)[:200])
    author = parse_author(view.get("author"))
    if author.native_id != did:
        raise MalformedPost("author_mismatch", f"{uri} by {author.native_id}")
    record = view.get("record")
    if not isinstance(record, dict):
        raise MalformedPost("missing_record", str(uri))
    text = record.get("text")
    if not isinstance(text, str):
        raise MalformedPost("missing_text", str(uri))
    text = text[:MAX_TEXT_CHARS]
    created = parse_datetime(record.get("createdAt"))
    indexed = parse_datetime(view.get("indexedAt"))
    if created is None or indexed is None:
        raise MalformedPost(
            "bad_date",
            f"{uri}: createdAt={record.get('createdAt')!r} indexedAt={view.get('indexedAt')!r}",
        )
    sort_at = min(created, indexed)

    facets = parse_facets(text, record.get("facets"))
    hashtags = list(facets.hashtags)
    tags = record.get("tags")
    if isinstance(tags, list):
        hashtags += [t.lstrip("#") for t in tags[:8] if isinstance(t, str) and 0 < len(t) <= 640]
    hashtags = list(dict.fromkeys(hashtags))

    embed = parse_embeds(view.get("embed"), record.get("embed"), did)
    links = list(dict.fromkeys(facets.links + embed.links))

    labels = _label_values(view.get("labels")) | _self_label_values(record)
    sensitive = bool(labels & SENSITIVE_LABELS)
    warn = sorted(labels & {"!warn", "!hide"})
    spoiler = f"content warning ({', '.join(warn)})" if warn else None

    langs = record.get("langs")
    lang = (
        langs[0][:20] if isinstance(langs, list) and langs and isinstance(langs[0], str) else None
    )

    key = (PLATFORM, str(uri))
    edges: list[EdgeRecord] = []
    reply_to: tuple[str, str] | None = None
    reply = record.get("reply")
    if isinstance(reply, dict) and isinstance(reply.get("parent"), dict):
        parent_uri = reply["parent"].get("uri")
        try:
            pdid, pcoll, _ = parse_at_uri(parent_uri)
        except MalformedPost:
            pcoll = ""
        if pcoll == POST_COLLECTION:
            reply_to = (PLATFORM, parent_uri)
            edges.append(
                EdgeRecord(
                    kind="reply",
                    platform=PLATFORM,
                    source=author,
                    target=reply_to,
                    created_at=sort_at,
                    via=key,
                    target_account=account_for_did(pdid),
                )
            )
    quote_of = (PLATFORM, embed.quote_uri) if embed.quote_uri else None
    if quote_of is not None and quote_of != key:
        edges.append(
            EdgeRecord(
                kind="quote",
                platform=PLATFORM,
                source=author,
                target=quote_of,
                created_at=sort_at,
                via=key,
                target_account=embed.quote_author,
            )
        )

    mention = MentionRecord(
        platform=PLATFORM,
        native_id=str(uri),
        created_at=sort_at,
        author=author,
        url=f"https://bsky.app/profile/{did}/post/{rkey}",
        text=clean_text(text),
        html=render_html(text, facets),
        lang=lang,
        reply_to=reply_to,
        quote_of=quote_of,
        like_count=_count(view.get("likeCount")),
        repost_count=_count(view.get("repostCount")),
        reply_count=_count(view.get("replyCount")),
        quote_count=_count(view.get("quoteCount")),
        sensitive=sensitive,
        spoiler_text=spoiler,
        media=embed.media or None,
        links=links,
        hashtags=hashtags,
        raw=view,
        seen_on=seen_on,
    )
    return ParsedPost(
        mention=mention,
        edges=edges,
        sort_at=sort_at,
        mentioned_dids=[d for d, _ in facets.mentions],
    )


def parse_posts(items: Any, *, seen_on: str | None = None) -> tuple[list[ParsedPost], list[Skip]]:
    """A list of postViews: the good ones parsed, each bad one skipped with its reason."""
    if not isinstance(items, list):
        return [], [Skip("bad_page", "posts is not a list")]
    parsed: list[ParsedPost] = []
    skipped: list[Skip] = []
    for item in items:
        try:
            parsed.append(parse_post_view(item, seen_on=seen_on))
        except MalformedPost as exc:
            skipped.append(exc.as_skip())
    return parsed, skipped


def parse_search_page(payload: Any) -> tuple[list[ParsedPost], list[Skip], str | None]:
    """An `app.bsky.feed.searchPosts` output -> (posts, skips, next cursor)."""
    if not isinstance(payload, dict):
        return [], [Skip("bad_page", "output is not an object")], None
    posts, skipped = parse_posts(payload.get("posts", []), seen_on="bsky-search")
    cursor = payload.get("cursor")
    return posts, skipped, cursor if isinstance(cursor, str) and cursor else None


def parse_reposted_by(
    payload: Any, target: str, *, observed_at: datetime
) -> tuple[list[EdgeRecord], list[Skip], str | None]:
    """`app.bsky.feed.getRepostedBy` -> repost edges (the API gives no repost time, so the
    edge is stamped with when we observed it)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("repostedBy"), list):
        return [], [Skip("bad_page", "repostedBy is not a list")], None
    tdid, _, _ = parse_at_uri(target)
    edges: list[EdgeRecord] = []
    skipped: list[Skip] = []
    for view in payload["repostedBy"]:
        try:
            who = parse_author(view)
        except MalformedPost as exc:
            skipped.append(exc.as_skip())
            continue
        edges.append(
            EdgeRecord(
                kind="repost",
                platform=PLATFORM,
                source=who,
                target=(PLATFORM, target),
                created_at=observed_at,
                target_account=account_for_did(tdid),
            )
        )
    cursor = payload.get("cursor")
    return edges, skipped, cursor if isinstance(cursor, str) and cursor else None


def parse_quotes(payload: Any, target: str) -> tuple[list[ParsedPost], list[Skip], str | None]:
    """`app.bsky.feed.getQuotes` -> the quoting posts (each carries its own quote edge)."""
    if not isinstance(payload, dict):
        return [], [Skip("bad_page", "output is not an object")], None
    posts, skipped = parse_posts(payload.get("posts", []), seen_on="bsky-quotes")
    cursor = payload.get("cursor")
    return posts, skipped, cursor if isinstance(cursor, str) and cursor else None


# -- Jetstream ----------------------------------------------------------------------------


@dataclass(slots=True)
class StreamItem:
    """One Jetstream event, classified. `time_us` is the stream cursor it carries."""

    time_us: int
    post: ParsedPost | None = None
    repost: EdgeRecord | None = None
    deleted: tuple[str, str] | None = None
    handle: AccountRecord | None = None  # an identity event: a DID's new handle
    skip: Skip | None = None


JETSTREAM_KINDS = ("commit", "identity", "account")


def is_jetstream_event(event: Any) -> bool:
    """Whether a decoded message has Jetstream's envelope: a `kind` Jetstream sends and an
    integer `time_us`. What tells a Jetstream endpoint from any other websocket (a firehose,
    an echo server, a proxy's welcome message); a malformed record inside a valid envelope
    is still Jetstream."""
    if not isinstance(event, dict) or event.get("kind") not in JETSTREAM_KINDS:
        return False
    value = event.get("time_us")
    return isinstance(value, int) and not isinstance(value, bool)


def _time_us(event: dict[str, Any]) -> int:
    value = event.get("time_us")
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise MalformedPost("bad_event", "time_us missing")
    return value


def datetime_from_us(time_us: int) -> datetime:
    return datetime.fromtimestamp(time_us / 1_000_000, tz=UTC)


def match_fields(record: Any) -> tuple[list[str], str, list[str]]:
    """(hashtags, plain text, links) of a raw post record, cheaply: what matching needs,
    without rendering HTML. A firehose reader asks this first and parses only the few posts
    that can match; the values are the ones `parse_post_view` would give."""
    if not isinstance(record, dict) or not isinstance(record.get("text"), str):
        return [], "", []
    text = record["text"][:MAX_TEXT_CHARS]
    tags: list[str] = []
    links: list[str] = []
    facets = record.get("facets")
    if isinstance(facets, list):
        for facet in facets:
            features = facet.get("features") if isinstance(facet, dict) else None
            for feature in features if isinstance(features, list) else ():
                if not isinstance(feature, dict):
                    continue
                if isinstance(feature.get("tag"), str):
                    tags.append(feature["tag"].lstrip("#"))
                elif isinstance(feature.get("uri"), str):
                    links.append(feature["uri"])
    extra = record.get("tags")
    if isinstance(extra, list):
        tags += [t.lstrip("#") for t in extra[:8] if isinstance(t, str)]
    embed = record.get("embed")
    if isinstance(embed, dict):
        media = embed.get("media") if isinstance(embed.get("media"), dict) else embed
        external = media.get("external") if isinstance(media, dict) else None
        if isinstance(external, dict) and isinstance(external.get("uri"), str):
            links.append(external["uri"])
    return tags, clean_text(text), links


def parse_jetstream_event(
    event: Any, *, wanted: Callable[[dict[str, Any]], bool] | None = None
) -> StreamItem | None:
    """A Jetstream (v1) JSON event -> StreamItem; None for events we do not use.

    `wanted(record)`, when given, is asked before a post is fully parsed; a post it declines
    only moves the cursor. Raises MalformedPost when even `time_us` cannot be read.
    """
    if not isinstance(event, dict):
        raise MalformedPost("bad_event", "not an object")
    kind = event.get("kind")
    if kind not in ("commit", "identity"):
        if kind in ("account", "heartbeat"):
            return (
                StreamItem(time_us=event["time_us"])
                if isinstance(event.get("time_us"), int)
                else None
            )
        return None
    time_us = _time_us(event)
    raw_did = event.get("did")
    if not is_did(raw_did):
        return StreamItem(time_us=time_us, skip=Skip("bad_event", f"did {raw_did!r}"[:200]))
    did = str(raw_did)
    if kind == "identity":
        ident = event.get("identity")
        handle = ident.get("handle") if isinstance(ident, dict) else None
        if isinstance(handle, str) and handle and handle != "handle.invalid" and len(handle) <= 253:
            acc = account_for_did(did)
            acc.handle = handle
            return StreamItem(time_us=time_us, handle=acc)
        return StreamItem(time_us=time_us)
    commit = event.get("commit")
    if not isinstance(commit, dict):
        return StreamItem(time_us=time_us, skip=Skip("bad_event", "commit missing"))
    op, collection, rkey = commit.get("operation"), commit.get("collection"), commit.get("rkey")
    if not isinstance(rkey, str) or not _RKEY_RE.match(rkey):
        return StreamItem(time_us=time_us, skip=Skip("bad_event", f"rkey {rkey!r}"[:200]))
    if collection == POST_COLLECTION:
        uri = post_uri(did, rkey)
        if op == "delete":
            return StreamItem(time_us=time_us, deleted=(PLATFORM, uri))
        if op not in ("create", "update"):
            return StreamItem(time_us=time_us)
        record = commit.get("record")
        if wanted is not None and isinstance(record, dict) and not wanted(record):
            return StreamItem(time_us=time_us)
        view = {
            "uri": uri,
            "cid": commit.get("cid"),
            "author": {"did": did},
            "record": commit.get("record"),
            "indexedAt": iso(datetime_from_us(time_us)),
        }
        try:
            post = parse_post_view(view, seen_on="jetstream")
        except MalformedPost as exc:
            return StreamItem(time_us=time_us, skip=exc.as_skip())
        return StreamItem(time_us=time_us, post=post)
    if collection == PROFILE_COLLECTION and op in ("create", "update") and rkey == "self":
        # A profile edited: its website and description's links are the account's claims
        # now (kept for accounts already stored; docs/people.md).
        record = commit.get("record")
        claims = bluesky_profile_claims(record)
        if claims is None:
            return StreamItem(time_us=time_us)
        acc = account_for_did(did)
        acc.claims = claims
        name = record.get("displayName") if isinstance(record, dict) else None
        if isinstance(name, str):
            acc.display_name = clean_text(name)[:500] or None
        return StreamItem(time_us=time_us, handle=acc)
    if collection == REPOST_COLLECTION and op == "delete":
        # An undone repost: the record's at-uri is the key its edge is undone by.
        return StreamItem(time_us=time_us, deleted=(PLATFORM, repost_uri(did, rkey)))
    if collection == REPOST_COLLECTION and op == "create":
        record = commit.get("record")
        subject = record.get("subject") if isinstance(record, dict) else None
        target = subject.get("uri") if isinstance(subject, dict) else None
        try:
            tdid, tcoll, _ = parse_at_uri(target)
        except MalformedPost as exc:
            return StreamItem(time_us=time_us, skip=exc.as_skip())
        if tcoll != POST_COLLECTION:
            return StreamItem(time_us=time_us)
        when = parse_datetime(record.get("createdAt")) if isinstance(record, dict) else None
        seen = datetime_from_us(time_us)
        return StreamItem(
            time_us=time_us,
            repost=EdgeRecord(
                kind="repost",
                platform=PLATFORM,
                source=account_for_did(did),
                target=(PLATFORM, str(target)),
                created_at=min(when, seen) if when else seen,
                target_account=account_for_did(tdid),
                undo_key=(PLATFORM, repost_uri(did, rkey)),
            ),
        )
    return StreamItem(time_us=time_us)
