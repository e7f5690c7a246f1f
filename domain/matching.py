"""Which movements a post matches (DESIGN.md section 2). Pure functions, no I/O.

A post matches a movement if it carries one of its hashtags (case-insensitive, Unicode
normalised), contains one of its terms (as whole words), or links to one of its URLs after URL
normalisation. The way it matched is kept (`hashtag` > `url` > `term`) because the ethics rules
treat a term-only match differently (DESIGN.md section 6).
"""

from __future__ import annotations

import contextlib
import functools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

# Query parameters that only track the click, never identify the page.
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "mc_cid",
        "mc_eid",
        "igshid",
        "yclid",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "ref_src",
        "ref_url",
        "s_cid",
    }
)
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_")


def _mark_ranges() -> str:
    """Every combining mark (Unicode category M*) as a regex class body.

    Python's `\\w` omits combining marks, so '#हिन्दी' would stop at the first vowel sign;
    platforms (Mastodon's `[[:word:]]`, Bluesky's facets) keep marks inside a tag.
    """
    spans: list[tuple[int, int]] = []
    for lo, hi in ((0x0300, 0x20000), (0xE0100, 0xE01F0)):
        for cp in range(lo, hi):
            if unicodedata.category(chr(cp))[0] == "M":
                if spans and spans[-1][1] == cp - 1:
                    spans[-1] = (spans[-1][0], cp)
                else:
                    spans.append((cp, cp))
    return "".join(
        re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}"
        for a, b in spans
    )


_MARKS = _mark_ranges()
# Characters Mastodon allows inside (not at the end of) a tag besides word characters.
_TAG_SEPARATORS = "·・\u200c"
# A hashtag as platforms parse it: '#' then word characters, combining marks and separators.
# Not preceded by a word character, '&' or '/' (HTML entities, URL fragments like page#section).
HASHTAG_RE = re.compile(rf"#([\w{_MARKS}{_TAG_SEPARATORS}]+)", re.UNICODE)
# What may not stand right before the '#' (checked in Python: a lookbehind in front of the
# pattern made the engine test this giant class at every character of every post).
_NOT_BEFORE_TAG = re.compile(rf"[\w{_MARKS}&/]", re.UNICODE)
URL_RE = re.compile(r"https?://[^\s<>\"'`\]\[)(]+", re.IGNORECASE)
_TRAILING_PUNCT = ".,;:!?…'\")]}»›"
# Apostrophes and single quotes people's keyboards type interchangeably ("citizens’ assembly").
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u2032": "'"})
_INVISIBLE = str.maketrans({"\u200b": None, "\u200c": None, "\u200d": None, "\ufeff": None})


def fold(text: str) -> str:
    """Unicode NFKC, case-folded: 'ＮＨＳ' and 'nhs', 'Straße' and 'STRASSE' compare equal.

    Typographic apostrophes fold to "'" so a term typed on a phone matches the config's.
    """
    return unicodedata.normalize("NFKC", text).translate(_APOSTROPHES).casefold()


@functools.lru_cache(maxsize=65_536)
def normalise_hashtag(tag: str) -> str:
    """The comparable form of a tag: no leading '#', no invisible characters, folded."""
    tag = unicodedata.normalize("NFKC", tag).strip()
    while tag.startswith("#"):
        tag = tag[1:]
    # Zero-width characters are invisible and never part of the tag a person meant.
    return fold(tag.translate(_INVISIBLE))


def extract_hashtags(text: str | None) -> list[str]:
    """Hashtags written in plain text, in order, without the '#'.

    A tag ends with a word character or a mark (trailing separators are punctuation), and
    needs at least one character that is not '_' or a separator.
    """
    if not text:
        return []
    text = unicodedata.normalize("NFKC", text)
    found = []
    for m in HASHTAG_RE.finditer(text):
        start = m.start()
        if start and _NOT_BEFORE_TAG.match(text, start - 1):
            continue
        tag = m.group(1).rstrip(_TAG_SEPARATORS)
        if tag.strip("_" + _TAG_SEPARATORS):
            found.append(tag)
    return found


def extract_urls(text: str | None) -> list[str]:
    """Absolute http(s) URLs written in plain text, trailing punctuation removed."""
    if not text:
        return []
    found = []
    for m in URL_RE.finditer(text):
        url = m.group(0).rstrip(_TRAILING_PUNCT)
        if url:
            found.append(url)
    return found


_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_PCT_RE = re.compile(r"%([0-9A-Fa-f]{2})")
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"


def _pct(m: re.Match[str]) -> str:
    ch = chr(int(m.group(1), 16))
    return ch if ch in _UNRESERVED else "%" + m.group(1).upper()


def _normalise_path(path: str) -> str:
    """RFC 3986 section 6.2.2: one spelling per path (escapes, dot segments, trailing '/')."""
    path = quote(_PCT_RE.sub(_pct, path), safe=_PATH_SAFE)
    if "." in path:
        out: list[str] = []
        for seg in path.split("/"):
            if seg == "..":
                if len(out) > 1:
                    out.pop()
            elif seg != ".":
                out.append(seg)
        path = "/".join(out)
    path = path.rstrip("/")
    return path if path.startswith("/") else "/" + path


def _normalise_host(host: str) -> str:
    host = host.lower().rstrip(".")
    if ":" in host:  # IPv6 literal: keep the brackets the URL syntax needs
        return f"[{host}]"
    if not host.isascii():
        # 'bücher.example' and 'xn--bcher-kva.example' are the same host.
        with contextlib.suppress(UnicodeError):
            host = host.encode("idna").decode("ascii")
    return host


@functools.lru_cache(maxsize=65_536)  # the same links recur in thousands of posts
def normalise_url(url: str) -> str | None:
    """A canonical form for comparing links; None when `url` is not an absolute http(s) URL.

    Scheme and host lower-cased (international hosts in their punycode form), default ports
    dropped, tracking parameters (`utm_*`, `fbclid`, ...) dropped and the rest sorted, fragment
    dropped, percent-escapes and dot segments normalised, trailing slash unified (removed,
    except for the root). `www.` and http-vs-https are left as written: a different host or
    scheme may be a different site.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    host = _normalise_host(parts.hostname)
    if not host.strip("[]"):
        return None
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    query = sorted(
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k.lower() not in TRACKING_PARAMS and not k.lower().startswith(TRACKING_PREFIXES)
    )
    return urlunsplit((scheme, host, _normalise_path(parts.path), urlencode(query), ""))


@dataclass(frozen=True, slots=True)
class MovementRule:
    """A movement compiled for matching."""

    id: int
    slug: str
    hashtags: frozenset[str]
    urls: frozenset[str]
    term_re: re.Pattern[str] | None

    @classmethod
    def compile(
        cls, id: int, slug: str, hashtags: Iterable[str], terms: Iterable[str], urls: Iterable[str]
    ) -> MovementRule:
        tags = frozenset(t for t in (normalise_hashtag(h) for h in hashtags) if t)
        norm_urls = frozenset(u for u in (normalise_url(x) for x in urls) if u)
        folded_terms = sorted({fold(t).strip() for t in terms if t.strip()}, key=len, reverse=True)
        term_re = None
        if folded_terms:
            # Whole words: 'NHS Citizen' does not match 'NHS Citizenship'. Spaces in a term
            # match any run of white space.
            alternatives = "|".join(r"\s+".join(map(re.escape, t.split())) for t in folded_terms)
            term_re = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.UNICODE)
        return cls(id=id, slug=slug, hashtags=tags, urls=norm_urls, term_re=term_re)


@dataclass(frozen=True, slots=True)
class Match:
    movement_id: int
    via: str  # "source" | "hashtag" | "url" | "term" | "thread"


# A reply fetched with the thread of a matched post, matching nothing by its own content
# (`storage.threads`): part of the conversation, but its author published nothing into it.
THREAD = "thread"
# How a post can match without its author publishing it into the movement (no hashtag, no
# link, no source): a free-text term, or only being in a matched post's thread. Such a post
# is counted, but shown or exported only when its author's consent flags allow (DESIGN.md
# section 6; `storage.queries.ethics.mention_displayable` is the one rule).
CONSENT_GATED_VIAS = ("term", THREAD)
# How a post matched, strongest evidence first: the author put it in the movement (a source of
# the movement, its hashtag, its link), then its words, then only its place in a thread. A
# stored match only ever moves up this list (an edit that adds the hashtag to a reply matched
# "thread"); an older copy of the post never moves it down.
VIA_STRENGTH = ("source", "hashtag", "url", "term", THREAD)


def weaker_vias(via: str) -> tuple[str, ...]:
    """The ways of matching that `via` is stronger evidence than (none for an unknown via)."""
    if via not in VIA_STRENGTH:
        return ()
    return VIA_STRENGTH[VIA_STRENGTH.index(via) + 1 :]


def match_post(
    rules: Sequence[MovementRule],
    *,
    hashtags: Iterable[str] = (),
    text: str | None = None,
    links: Iterable[str] = (),
    forced: Iterable[str] = (),
) -> list[Match]:
    """The movements a post matches and how; hashtags in `text` count as well as `hashtags`.

    Cheapest evidence first: links are normalised and the text folded only for movements a
    hashtag did not already settle (this runs for every post the write path sees).
    """
    forced_set = set(forced)
    post_tags = {normalise_hashtag(h) for h in hashtags}
    post_tags.update(normalise_hashtag(h) for h in extract_hashtags(text))
    post_tags.discard("")
    found: dict[int, Match] = {}
    pending: list[tuple[int, MovementRule]] = []
    for i, rule in enumerate(rules):
        if rule.slug in forced_set:
            found[i] = Match(rule.id, "source")
        elif rule.hashtags & post_tags:
            found[i] = Match(rule.id, "hashtag")
        else:
            pending.append((i, rule))
    if pending:
        post_links: set[str] = set()
        if any(rule.urls for _, rule in pending):
            for link in (*links, *extract_urls(text)):
                norm = normalise_url(link)
                if norm:
                    post_links.add(norm)
        folded = fold(text) if text and any(r.term_re for _, r in pending) else ""
        for i, rule in pending:
            if rule.urls & post_links:
                found[i] = Match(rule.id, "url")
            elif rule.term_re is not None and folded and rule.term_re.search(folded):
                found[i] = Match(rule.id, "term")
    return [found[i] for i in sorted(found)]
