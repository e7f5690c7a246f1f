"""Every exported column, its type, its class and what it means: the single source of the
data dictionary (README.md and datacard.json), the Parquet schema and the CSV header.

Every column is classified (DESIGN.md section 6; issue 17):
- **identifying**: names or links to a person (native ids, handles, URLs, internal ids, which
  are an unkeyed hash anyone can recompute). In a pseudonymised export it is removed, or
  replaced by a keyed reference (`keyed`: ids; `rewritten`: links and blog hosts become
  `mention:`/`account:` references with the same HMAC as the id columns);
- **quasi-identifying**: harmless alone, identifying in combination (exact times, rare
  instances, free text one can search for, exact counts). Kept; the data card names the
  remaining risk and `--generalise-times` coarsens the times;
- **safe**: says nothing about who (platform, kind, flags).

Drop-text and drop-URLs remove their columns too. A removed column is absent, not empty, so
nobody mistakes it for missing data.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from groundswell.export.options import ExportOptions

IDENTIFYING = "identifying"
QUASI = "quasi-identifying"
SAFE = "safe"
# What a pseudonymised export does with a column.
REMOVED, KEYED, REWRITTEN, KEPT = "removed", "keyed", "rewritten", "kept"


@dataclass(frozen=True, slots=True)
class Col:
    name: str
    kind: str  # key | str | int | bool | time | list
    description: str
    klass: str = SAFE
    pseudonymised: str = KEPT  # removed | keyed | rewritten | kept
    text: bool = False  # removed with drop_text
    link: bool = False  # removed with drop_urls

    @property
    def identifying(self) -> bool:
        """Removed when pseudonymised."""
        return self.pseudonymised == REMOVED


def _id(name: str, description: str) -> Col:
    """An internal id column: identifying (recomputable), keyed when pseudonymised."""
    return Col(name, "key", description, klass=IDENTIFYING, pseudonymised=KEYED)


def _gone(name: str, kind: str, description: str, **kw: bool) -> Col:
    """An identifying column a pseudonymised export leaves out."""
    return Col(name, kind, description, klass=IDENTIFYING, pseudonymised=REMOVED, **kw)


def _quasi(name: str, kind: str, description: str, **kw: bool) -> Col:
    return Col(name, kind, description, klass=QUASI, **kw)


KEY_NOTE = (
    "Groundswell id: a stable hash of (platform, native id), identical in every Groundswell "
    "store; when the export is pseudonymised, a keyed HMAC pseudonym instead"
)

FREE_TEXT = (
    " Free text can be searched for on the platform; in a pseudonymised export links to "
    "people and @handles inside it are keyed."
)
INSTANCE = (
    "Mastodon instance (a small one narrows down who), or the blog's host, which is its "
    "author: keyed like accounts (`account:<pseudonym>`) when pseudonymised."
)

PERSON_NOTE = (
    "The person behind the account (docs/people.md): accounts linked on evidence (a verified "
    "profile link, a Bluesky domain handle, a bridge, profiles linking each other, a "
    "moderator) share it; it is the smallest account_id of the person, keyed like the other "
    "ids (in its own namespace) when pseudonymised"
)

MENTIONS = (
    _id("mention_id", f"{KEY_NOTE}."),
    Col("platform", "str", "bluesky, mastodon, blog, pingback or webmention."),
    _gone(
        "native_id",
        "str",
        "The platform's id: Bluesky at:// URI, Mastodon status URI, blog entry id or link, "
        "pingback/webmention source + target.",
    ),
    _gone("url", "str", "Public web address of the post.", link=True),
    _id("account_id", f"The author. {KEY_NOTE}."),
    _id("person_id", f"The author's person. {PERSON_NOTE}."),
    _gone(
        "account",
        "str",
        "The author's platform id: Bluesky DID, Mastodon user@instance, blog host.",
    ),
    _gone("handle", "str", "The author's handle when the post was collected."),
    _quasi("created_at", "time", "When the post was published (UTC, ISO 8601)."),
    Col(
        "title",
        "str",
        "Title (blog entries)." + FREE_TEXT,
        klass=QUASI,
        pseudonymised=REWRITTEN,
        text=True,
    ),
    Col(
        "text",
        "str",
        "Plain text of the post (HTML removed)." + FREE_TEXT,
        klass=QUASI,
        pseudonymised=REWRITTEN,
        text=True,
    ),
    Col("lang", "str", "Language tag given by the author or platform."),
    Col("instance", "str", INSTANCE, klass=QUASI, pseudonymised=REWRITTEN),
    _id(
        "reply_to_id",
        "mention_id of the post this replies to, if any; empty when that post is withheld "
        "(see reply_to_withheld).",
    ),
    Col(
        "reply_to_withheld",
        "bool",
        "True when this replies to a post withheld from exports (its author opted out or it "
        "was deleted): reply_to_id is then left empty.",
    ),
    _id(
        "quote_of_id",
        "mention_id of the post this quotes, if any; empty when that post is withheld "
        "(see quote_of_withheld).",
    ),
    Col(
        "quote_of_withheld",
        "bool",
        "True when this quotes a post withheld from exports: quote_of_id is then left empty.",
    ),
    _quasi("like_count", "int", "Likes/favourites (highest value seen)."),
    _quasi("repost_count", "int", "Reposts/boosts (highest value seen)."),
    _quasi("reply_count", "int", "Replies (highest value seen)."),
    _quasi("quote_count", "int", "Quotes (highest value seen)."),
    Col("sensitive", "bool", "Marked sensitive by the author."),
    Col(
        "spoiler_text",
        "str",
        "Content warning text." + FREE_TEXT,
        klass=QUASI,
        pseudonymised=REWRITTEN,
        text=True,
    ),
    Col(
        "links",
        "list",
        "Absolute URLs linked from the post. Links to the wider web stay; when pseudonymised, "
        "links to people's posts and profiles (and to tracked blogs) are keyed references: "
        "`mention:<pseudonym>` / `account:<pseudonym>` (the same HMAC as mention_id and "
        "account_id) or `link:<pseudonym>` for a person's page outside the dataset. Links to "
        "withheld posts or opted-out accounts are removed (see links_withheld).",
        klass=IDENTIFYING,
        pseudonymised=REWRITTEN,
        link=True,
    ),
    Col(
        "links_withheld",
        "bool",
        "True when links to withheld posts or opted-out accounts were removed from links.",
        link=True,
    ),
    _quasi("hashtags", "list", "Hashtags as written (a rare one narrows down who)."),
    _quasi("edited_at", "time", "Last edit time (UTC), if edited."),
    Col(
        "matched_by",
        "str",
        "How the post belongs to the movement (the export's movement, else any), strongest "
        "first: source (a source of the movement, e.g. a webmention to its page), hashtag, "
        "url (links to one of its URLs), term (contains one of its free-text terms), thread "
        "(in thread: a reply, or a reply to a reply, in the thread of a matched post, that "
        "matches nothing by itself; it does not repeat the hashtag). term and thread posts are "
        "exported only when their author's consent flags allow (Mastodon indexable).",
    ),
)

ACCOUNTS = (
    _id("account_id", f"{KEY_NOTE}."),
    _id("person_id", f"{PERSON_NOTE}."),
    Col("platform", "str", "bluesky, mastodon, blog, pingback or webmention."),
    _gone("account", "str", "Platform id: Bluesky DID, Mastodon user@instance, blog host."),
    _gone("handle", "str", "Handle when last seen."),
    _gone("display_name", "str", "Display name when last seen.", text=True),
    _gone("url", "str", "Profile address.", link=True),
    Col("instance", "str", INSTANCE, klass=QUASI, pseudonymised=REWRITTEN),
    Col("bot", "bool", "Declared a bot by its owner (unknown when empty)."),
    _quasi("first_seen_at", "time", "First mention or amplification inside this export's filter."),
    _quasi("mentions", "int", "Exported mentions written by the account in the filter."),
    _quasi("amplifications_given", "int", "Exported edges from this account in the filter."),
    _quasi("amplifications_received", "int", "Exported edges into this account's posts."),
)

EDGES = (
    _id("edge_id", f"The amplification. {KEY_NOTE}."),
    Col("kind", "str", "repost, boost, quote, reply, link, pingback or webmention."),
    Col("platform", "str", "Platform of the amplification."),
    _id("source_account_id", "account_id of who amplified."),
    _id("target_mention_id", "mention_id of the amplified post."),
    _id("target_account_id", "account_id of the amplified post's author."),
    _id("source_person_id", "person_id of who amplified (see the accounts' person_id)."),
    _id("target_person_id", "person_id of the amplified post's author."),
    _id(
        "via_mention_id",
        "mention_id of the reply, quote or linking post, if any; empty when that post is "
        "withheld (see via_withheld).",
    ),
    Col(
        "via_withheld",
        "bool",
        "True when the reply, quote or linking post is withheld from exports: via_mention_id "
        "is then left empty.",
    ),
    _quasi("created_at", "time", "When the amplification happened (UTC)."),
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
        "The platform's id of the post; `groundswell hydrate` fetches its current content. "
        "Identifying by design: an ID-only export is an identified export.",
        klass=IDENTIFYING,
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


def treatment(col: Col, options: ExportOptions) -> str:
    """What this export did with the column, in the data dictionary's words."""
    if not options.pseudonymised or col.pseudonymised == KEPT:
        if col.kind == "time" and options.generalise_times:
            return f"generalised to the {options.generalise_times}"
        return "as collected"
    return {
        KEYED: "keyed pseudonym (HMAC-SHA256)",
        REWRITTEN: "links to people, @handles and blog hosts keyed",
    }[col.pseudonymised]


def dictionary(dataset: str, options: ExportOptions) -> list[dict[str, str]]:
    return [
        {
            "name": c.name,
            "type": type_name(c, options),
            "class": c.klass,
            "treatment": treatment(c, options),
            "description": c.description,
        }
        for c in columns_for(dataset, options)
    ]
