"""Every exported column, its type and what it means: the single source of the data
dictionary (README.md and datacard.json), the Parquet schema and the CSV header.

Which columns a file has depends on the options: pseudonymisation removes the columns that
name or link to a person (native ids and URLs contain handles and DIDs); drop-text and
drop-URLs remove theirs. A removed column is absent, not empty, so nobody mistakes it for
missing data.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from groundswell.export.options import ExportOptions


@dataclass(frozen=True, slots=True)
class Col:
    name: str
    kind: str  # key | str | int | bool | time | list
    description: str
    identifying: bool = False  # removed when pseudonymised
    text: bool = False  # removed with drop_text
    link: bool = False  # removed with drop_urls


KEY_NOTE = (
    "Groundswell id: a stable hash of (platform, native id), identical in every Groundswell "
    "store; when the export is pseudonymised, a keyed HMAC pseudonym instead"
)

MENTIONS = (
    Col("mention_id", "key", f"{KEY_NOTE}."),
    Col("platform", "str", "bluesky, mastodon, blog, pingback or webmention."),
    Col(
        "native_id",
        "str",
        "The platform's id: Bluesky at:// URI, Mastodon status URI, blog entry id or link, "
        "pingback/webmention source + target.",
        identifying=True,
    ),
    Col("url", "str", "Public web address of the post.", identifying=True, link=True),
    Col("account_id", "key", f"The author. {KEY_NOTE}."),
    Col(
        "account",
        "str",
        "The author's platform id: Bluesky DID, Mastodon user@instance, blog host.",
        identifying=True,
    ),
    Col("handle", "str", "The author's handle when the post was collected.", identifying=True),
    Col("created_at", "time", "When the post was published (UTC, ISO 8601)."),
    Col("title", "str", "Title (blog entries).", text=True),
    Col("text", "str", "Plain text of the post (HTML removed).", text=True),
    Col("lang", "str", "Language tag given by the author or platform."),
    Col("instance", "str", "Mastodon instance or blog host that published it."),
    Col(
        "reply_to_id",
        "key",
        "mention_id of the post this replies to, if any; empty when that post is withheld "
        "(see reply_to_withheld).",
    ),
    Col(
        "reply_to_withheld",
        "bool",
        "True when this replies to a post withheld from exports (its author opted out or it "
        "was deleted): reply_to_id is then left empty.",
    ),
    Col(
        "quote_of_id",
        "key",
        "mention_id of the post this quotes, if any; empty when that post is withheld "
        "(see quote_of_withheld).",
    ),
    Col(
        "quote_of_withheld",
        "bool",
        "True when this quotes a post withheld from exports: quote_of_id is then left empty.",
    ),
    Col("like_count", "int", "Likes/favourites (highest value seen)."),
    Col("repost_count", "int", "Reposts/boosts (highest value seen)."),
    Col("reply_count", "int", "Replies (highest value seen)."),
    Col("quote_count", "int", "Quotes (highest value seen)."),
    Col("sensitive", "bool", "Marked sensitive by the author."),
    Col("spoiler_text", "str", "Content warning text.", text=True),
    Col("links", "list", "Absolute URLs linked from the post.", link=True),
    Col("hashtags", "list", "Hashtags as written."),
    Col("edited_at", "time", "Last edit time (UTC), if edited."),
)

ACCOUNTS = (
    Col("account_id", "key", f"{KEY_NOTE}."),
    Col("platform", "str", "bluesky, mastodon, blog, pingback or webmention."),
    Col(
        "account",
        "str",
        "Platform id: Bluesky DID, Mastodon user@instance, blog host.",
        identifying=True,
    ),
    Col("handle", "str", "Handle when last seen.", identifying=True),
    Col("display_name", "str", "Display name when last seen.", identifying=True, text=True),
    Col("url", "str", "Profile address.", identifying=True, link=True),
    Col("instance", "str", "Mastodon instance or blog host."),
    Col("bot", "bool", "Declared a bot by its owner (unknown when empty)."),
    Col("first_seen_at", "time", "First mention or amplification inside this export's filter."),
    Col("mentions", "int", "Exported mentions written by the account in the filter."),
    Col("amplifications_given", "int", "Exported edges from this account in the filter."),
    Col("amplifications_received", "int", "Exported edges into this account's posts."),
)

EDGES = (
    Col("edge_id", "key", f"The amplification. {KEY_NOTE}."),
    Col("kind", "str", "repost, boost, quote, reply, link, pingback or webmention."),
    Col("platform", "str", "Platform of the amplification."),
    Col("source_account_id", "key", "account_id of who amplified."),
    Col("target_mention_id", "key", "mention_id of the amplified post."),
    Col("target_account_id", "key", "account_id of the amplified post's author."),
    Col(
        "via_mention_id",
        "key",
        "mention_id of the reply, quote or linking post, if any; empty when that post is "
        "withheld (see via_withheld).",
    ),
    Col(
        "via_withheld",
        "bool",
        "True when the reply, quote or linking post is withheld from exports: via_mention_id "
        "is then left empty.",
    ),
    Col("created_at", "time", "When the amplification happened (UTC)."),
)

EVENTS = (
    Col("event_id", "int", "Groundswell's id of the event."),
    Col("slug", "str", "Short name of the event."),
    Col("name", "str", "Name of the event."),
    Col("movement", "str", "Slug of the movement the event belongs to (empty: all)."),
    Col("starts_at", "time", "Start (UTC)."),
    Col("ends_at", "time", "End (UTC)."),
    Col("timezone", "str", "The event's own time zone (IANA name)."),
    Col("hashtags", "list", "The event's hashtags."),
    Col("place", "str", "Where it happened."),
    Col(
        "mentions",
        "int",
        "Mentions in the event's window inside the filter (counted, including those withheld "
        "from the mentions file).",
    ),
)

MENTION_IDS = (
    Col("platform", "str", "bluesky, mastodon, blog, pingback or webmention."),
    Col(
        "native_id",
        "str",
        "The platform's id of the post; `groundswell hydrate` fetches its current content.",
    ),
)

DATASET_COLUMNS: dict[str, tuple[Col, ...]] = {
    "mentions": MENTIONS,
    "accounts": ACCOUNTS,
    "edges": EDGES,
    "events": EVENTS,
    "mention_ids": MENTION_IDS,
}


def columns_for(dataset: str, options: ExportOptions) -> list[Col]:
    """The columns of one dataset under these options."""
    out = []
    for col in DATASET_COLUMNS[dataset]:
        if options.pseudonymised and col.identifying:
            continue
        if options.drop_text and col.text:
            continue
        if options.drop_urls and col.link:
            continue
        out.append(col)
    return out


def arrow_type(col: Col, options: ExportOptions) -> pa.DataType:
    if col.kind == "key":
        return pa.string() if options.pseudonymised else pa.int64()
    return {
        "str": pa.string(),
        "int": pa.int64(),
        "bool": pa.bool_(),
        "time": pa.timestamp("us", tz="UTC"),
        "list": pa.list_(pa.string()),
    }[col.kind]


def arrow_schema(columns: list[Col], options: ExportOptions) -> pa.Schema:
    return pa.schema([pa.field(c.name, arrow_type(c, options)) for c in columns])


def type_name(col: Col, options: ExportOptions) -> str:
    if col.kind == "key":
        return "string (pseudonym)" if options.pseudonymised else "integer"
    return {
        "str": "string",
        "int": "integer",
        "bool": "boolean",
        "time": "timestamp (UTC)",
        "list": "list of strings (JSON array in CSV)",
    }[col.kind]


def dictionary(dataset: str, options: ExportOptions) -> list[dict[str, str]]:
    return [
        {"name": c.name, "type": type_name(c, options), "description": c.description}
        for c in columns_for(dataset, options)
    ]
