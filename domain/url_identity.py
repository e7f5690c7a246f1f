"""One identity per web page: the canonical URL of blog entries, pingbacks, webmentions and
their links (DESIGN.md section 2; docs/blogs.md, "One page, one identity").

The same page reaches us spelled many ways: with a `#fragment`, a `?utm_source=` tracking
parameter, with or without a trailing `/`, an upper-case scheme or host. Matching always
compared links after `domain.matching.normalise_url`; ids, keys and lookups used the raw
string, so one source page that linked once became five mentions and five edges. Every id, key,
lookup, verification and edge of the URL-keyed platforms now goes through this one function,
and the write path applies it again (`mention_id`, `EdgeRecord.id`, the row written), so a
caller that forgets cannot split a page in two. Migration 0029 merged the duplicates stored
before (`storage/url_merge.py`).
"""

from __future__ import annotations

from domain.matching import normalise_url

# Platforms whose mentions are web pages keyed by URL (blog entries by their id or link,
# pingbacks and webmentions by "source target"). Mastodon and Bluesky keys are not URLs of
# pages we compare (a status URI, an at:// URI) and stay as the platform gives them.
URL_PLATFORMS = frozenset({"blog", "pingback", "webmention"})
PING_PLATFORMS = frozenset({"pingback", "webmention"})


def canonical_url(url: str) -> str:
    """The canonical spelling of `url` (`normalise_url`); a string that is not an absolute
    http(s) URL (an Atom `tag:` id, a `urn:uuid:`) is returned stripped, unchanged."""
    return normalise_url(url) or url.strip()


def ping_native_id(source: str, target: str) -> str:
    """A pingback/webmention is identified by its source and target, both canonical."""
    return f"{canonical_url(source)} {canonical_url(target)}"


def canonical_native_id(platform: str, native_id: str) -> str:
    """The canonical natural key of a mention: URLs canonical on the URL-keyed platforms, every
    other platform's key as given."""
    if platform not in URL_PLATFORMS:
        return native_id
    if platform in PING_PLATFORMS:
        parts = native_id.split(" ")
        if len(parts) == 2:
            return ping_native_id(*parts)
        return native_id
    return entry_id(native_id)


def entry_id(value: str) -> str:
    """A blog entry's id: canonical, except that a fragment is kept. Pages are one page
    whatever their fragment, but a feed's entry ids are the feed's own names, and some feeds
    tell entries apart by the fragment alone (feedparser's recorded Delicious feed:
    `http://delicious.com/url/<hash>#<user>`, one bookmark per user; link blogs' `#post-2`)."""
    base, sep, fragment = value.strip().partition("#")
    canon = normalise_url(base) if sep else normalise_url(value)
    if canon is None:
        return value.strip()
    return f"{canon}#{fragment}" if sep else canon


def canonical_key(key: tuple[str, str]) -> tuple[str, str]:
    """`(platform, native_id)` with its native id canonical."""
    return (key[0], canonical_native_id(key[0], key[1]))
