"""The wall's moderation and privacy rules, as pure functions (DESIGN.md sections 5 and 6).

Decisions are rows in `wall_moderation` (shared by every moderator, kept across restarts);
`ModerationState.from_decisions` folds them: the latest row for a (kind, target) wins and a row
with `active=False` withdraws the decision. A mention can be `hide`, `approve` or `pin` (a pin
is also an approval); accounts, instances and blogs can be hidden; words are blocked.

What the wall shows, in order of precedence:
1. opted-out accounts and deleted posts never (enforced in SQL, `storage.queries.ethics`);
2. a hidden post, author, instance or blog never;
3. a post with a blocked word in its text, title, content warning, author's display name or
   handle, or an image's alt text never, even if approved earlier (a word added to the list
   later must take effect at once);
4. in pre-moderation only approved or pinned posts; in post-moderation everything else;
5. pinned posts first, then newest first.

Privacy on display (`present`): first names only and/or no handles for people who are not in
the configured list of public figures, and masking of likely personal data (`domain.pii`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from domain.pii import mask_personal_data
from domain.sanitize import clean_text
from domain.speakable import speak_links

MENTION_ACTIONS = ("hide", "approve", "pin")
TARGET_KINDS = ("mention", "account", "instance", "blog", "word")
BLOG_PLATFORMS = ("blog", "pingback", "webmention")
PLATFORM_LABELS = {
    "bluesky": "Bluesky",
    "mastodon": "Mastodon",
    "blog": "Blog",
    "pingback": "Pingback",
    "webmention": "Webmention",
}


@dataclass(frozen=True, slots=True)
class Decision:
    """One row of `wall_moderation`, in the order it was made."""

    target_kind: str
    target: str
    action: str
    active: bool = True


@dataclass(slots=True)
class ModerationState:
    """The folded moderation decisions of one wall."""

    mentions: dict[int, str] = field(default_factory=dict)  # id -> hide | approve | pin
    hidden_accounts: set[int] = field(default_factory=set)
    hidden_instances: set[str] = field(default_factory=set)
    hidden_blogs: set[str] = field(default_factory=set)
    words: tuple[str, ...] = ()

    @classmethod
    def from_decisions(
        cls, decisions: Iterable[Decision], extra_words: Iterable[str] = ()
    ) -> ModerationState:
        latest: dict[tuple[str, str], Decision] = {}
        for d in decisions:
            latest[(d.target_kind, d.target)] = d
        state = cls()
        words: list[str] = [w for w in extra_words if w.strip()]
        for (kind, target), d in latest.items():
            if not d.active:
                continue
            if kind == "mention" and d.action in MENTION_ACTIONS:
                try:
                    state.mentions[int(target)] = d.action
                except ValueError:
                    continue
            elif kind == "account" and d.action == "hide":
                try:
                    state.hidden_accounts.add(int(target))
                except ValueError:
                    continue
            elif kind == "instance" and d.action == "hide":
                state.hidden_instances.add(target.lower())
            elif kind == "blog" and d.action == "hide":
                state.hidden_blogs.add(target.lower())
            elif kind == "word" and d.action == "block":
                words.append(target)
        state.words = tuple(dict.fromkeys(w.strip() for w in words if w.strip()))
        return state

    @property
    def hidden_mentions(self) -> set[int]:
        return {i for i, a in self.mentions.items() if a == "hide"}

    @property
    def approved(self) -> set[int]:
        return {i for i, a in self.mentions.items() if a in ("approve", "pin")}

    @property
    def pinned(self) -> set[int]:
        return {i for i, a in self.mentions.items() if a == "pin"}


@dataclass(slots=True)
class WallPost:
    """A candidate for the wall: a mention joined with its author, straight from the store."""

    id: int
    platform: str
    created_ts: int
    text: str | None = None
    title: str | None = None
    spoiler_text: str | None = None
    sensitive: bool = False
    media: list[dict[str, Any]] | None = None
    url: str | None = None
    instance: str | None = None
    account_id: int | None = None
    account_native_id: str | None = None
    handle: str | None = None
    display_name: str | None = None


# --- word blocklist -------------------------------------------------------------------------


def normalise_for_matching(text: str | None) -> str:
    """Casefolded NFKC text without zero-width or bidi characters, so `Ｂ\u200bad` is `bad`."""
    return unicodedata.normalize("NFKC", clean_text(text)).casefold()


def blocklist_pattern(words: Sequence[str]) -> re.Pattern[str] | None:
    """One regex for the whole list. Entries match whole words (`ass` does not hide `class`);
    a trailing `*` matches any ending (`spam*` hides `spammer`); phrases are allowed."""
    parts = []
    for w in words:
        n = normalise_for_matching(w)
        if not n:
            continue
        prefix = n.endswith("*")
        n = n.rstrip("*").strip()
        if not n:
            continue
        body = r"\s+".join(re.escape(p) for p in n.split())
        parts.append(rf"(?<!\w){body}" + (r"\w*" if prefix else r"(?!\w)"))
    if not parts:
        return None
    return re.compile("|".join(parts))


def alt_texts(media: list[dict[str, Any]] | None) -> list[str]:
    """Image descriptions: Mastodon calls them `description`, Bluesky `alt`."""
    out = []
    for item in media or []:
        if isinstance(item, dict):
            for key in ("alt", "description"):
                v = item.get(key)
                if isinstance(v, str) and v:
                    out.append(v)
    return out


def blocked_field(post: WallPost, pattern: re.Pattern[str] | None) -> str | None:
    """The first field of `post` that contains a blocked word, or None."""
    if pattern is None:
        return None
    fields = {
        "text": post.text,
        "title": post.title,
        "content warning": post.spoiler_text,
        "display name": post.display_name,
        "handle": post.handle,
        "image description": " \n ".join(alt_texts(post.media)),
    }
    for name, value in fields.items():
        if value and pattern.search(normalise_for_matching(value)):
            return name
    return None


# --- visibility and order -------------------------------------------------------------------


def _host(post: WallPost) -> str | None:
    return post.instance.lower() if post.instance else None


def hidden_reason(
    post: WallPost, state: ModerationState, pattern: re.Pattern[str] | None = None
) -> str | None:
    """Why moderation keeps `post` off the wall (whatever the moderation mode), or None."""
    action = state.mentions.get(post.id)
    if action == "hide":
        return "post hidden"
    if post.account_id is not None and post.account_id in state.hidden_accounts:
        return "author hidden"
    host = _host(post)
    if host and post.platform not in BLOG_PLATFORMS and host in state.hidden_instances:
        return "instance hidden"
    if post.platform in BLOG_PLATFORMS:
        blog_hosts = {host, (post.account_native_id or "").lower()}
        if blog_hosts & state.hidden_blogs:
            return "blog hidden"
    where = blocked_field(post, pattern)
    if where:
        return f"blocked word in {where}"
    return None


def on_wall(
    post: WallPost,
    state: ModerationState,
    moderation: str,
    pattern: re.Pattern[str] | None = None,
) -> bool:
    """Whether `post` is shown: not hidden, and approved when the wall is pre-moderated."""
    if hidden_reason(post, state, pattern) is not None:
        return False
    if moderation == "pre":
        return post.id in state.approved
    return True


def wall_order(posts: Iterable[WallPost], state: ModerationState) -> list[WallPost]:
    """Pinned first (newest pin first), then newest first; ties broken by id for stability."""
    pinned = state.pinned
    return sorted(posts, key=lambda p: (p.id not in pinned, -p.created_ts, -p.id))


def select_for_wall(
    posts: Iterable[WallPost], state: ModerationState, moderation: str, limit: int
) -> list[WallPost]:
    pattern = blocklist_pattern(state.words)
    shown = [p for p in posts if on_wall(p, state, moderation, pattern)]
    return wall_order(shown, state)[:limit]


# --- privacy and presentation ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Privacy:
    show_handles: bool = True
    first_names_only: bool = False
    public_figures: tuple[str, ...] = ()
    mask_personal_data: bool = True
    text_max_chars: int = 400


@dataclass(frozen=True, slots=True)
class Image:
    url: str
    alt: str


@dataclass(frozen=True, slots=True)
class Card:
    """What one wall card shows: plain text only (the HTML layer escapes every field)."""

    id: int
    name: str
    handle: str | None
    platform: str
    where: str | None
    when: str
    text: str
    warning: str | None
    images: tuple[Image, ...]
    pinned: bool = False


def _key(s: str) -> str:
    return s.strip().lstrip("@").casefold()


def is_public_figure(post: WallPost, public_figures: Sequence[str]) -> bool:
    keys = {_key(p) for p in public_figures if p.strip()}
    return bool(keys) and any(v and _key(v) in keys for v in (post.handle, post.account_native_id))


_NAME_NOISE = re.compile(r":[\w+-]+:")  # Mastodon custom emoji shortcodes in names


def first_name(display_name: str | None) -> str | None:
    """The first word of a display name that has a letter in it, e.g. `Dr Ada :nhs:` -> `Dr`."""
    name = clean_text(_NAME_NOISE.sub(" ", display_name or ""))
    for word in name.split():
        if any(ch.isalpha() for ch in word):
            return word.strip(",.;:|()[]{}")[:40] or None
    return None


def relative_time(ts: int, now: datetime) -> str:
    delta = int(now.timestamp()) - ts
    if delta < 45:
        return "just now"
    if delta < 3600:
        return f"{max(1, round(delta / 60))} min ago"
    if delta < 86_400:
        return f"{delta // 3600} h ago"
    days = delta // 86_400
    return "yesterday" if days == 1 else f"{days} days ago"


def truncate(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a word boundary when there is one nearby."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ")
    if space > limit * 0.6:
        cut = cut[:space]
    return cut.rstrip() + "…"


def _images(post: WallPost, mask: bool) -> tuple[Image, ...]:
    if post.sensitive or post.spoiler_text:
        return ()
    out = []
    for item in post.media or []:
        if not isinstance(item, dict):
            continue
        kind = str(item.get("type") or "image")
        url = item.get("preview_url") or item.get("url") or item.get("thumb")
        if kind not in ("image", "gifv") or not isinstance(url, str):
            continue
        if not re.match(r"^https?://[^\s\"'<>]+$", url):
            continue
        alt = clean_text(item.get("alt") or item.get("description") or "")
        out.append(Image(url=url, alt=mask_personal_data(alt) if mask else alt))
        if len(out) == 2:
            break
    return tuple(out)


def present(post: WallPost, privacy: Privacy, now: datetime, *, pinned: bool = False) -> Card:
    """The card for `post` with the wall's privacy modes applied."""
    public = is_public_figure(post, privacy.public_figures)
    platform = PLATFORM_LABELS.get(post.platform, post.platform.title())
    full_name = clean_text(_NAME_NOISE.sub("", post.display_name or "")) or None
    if privacy.first_names_only and not public:
        name = first_name(post.display_name) or f"Someone on {platform}"
    else:
        name = full_name or clean_text(post.handle) or f"Someone on {platform}"
    show_handle = public or (privacy.show_handles and not privacy.first_names_only)
    handle = clean_text(post.handle) if show_handle and post.handle else None
    if handle and post.platform in ("mastodon", "bluesky"):
        handle = "@" + handle.lstrip("@")
    elif handle and post.instance and handle.casefold() == post.instance.casefold():
        handle = None  # a blog's handle is its host, already shown as where it was posted
    body = speak_links(clean_text(post.text))
    title = clean_text(post.title)
    if title and title not in body:
        body = f"{title}\n{body}" if body else title
    warning = clean_text(post.spoiler_text) or None
    if privacy.mask_personal_data:
        body = mask_personal_data(body)
        warning = mask_personal_data(warning) if warning else None
        if not public:
            name = mask_personal_data(name)
    return Card(
        id=post.id,
        name=name[:80],
        handle=handle[:80] if handle else None,
        platform=platform,
        where=_host(post) if post.platform != "bluesky" else None,
        when=relative_time(post.created_ts, now),
        # Content warning: the warning is shown, the text never (a projector cannot click).
        text="" if warning else truncate(body, privacy.text_max_chars),
        warning=truncate(warning, 200) if warning else None,
        images=_images(post, privacy.mask_personal_data),
        pinned=pinned,
    )
