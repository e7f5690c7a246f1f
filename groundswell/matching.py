"""Which movements a post matches (DESIGN.md section 2). Pure functions, no I/O.

A post matches a movement if it carries one of its hashtags (case-insensitive, Unicode
normalised), contains one of its terms (as whole words), or links to one of its URLs after URL
normalisation. The way it matched is kept (`hashtag` > `url` > `term`) because the ethics rules
treat a term-only match differently (DESIGN.md section 6).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

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

# A hashtag as platforms parse it: '#' then letters, digits, underscores, combining marks.
# Not preceded by a word character or '&' (HTML entities, URL fragments like page#section).
HASHTAG_RE = re.compile(r"(?<![\w&/])#([^\W_][\w·‌]*|_[\w·‌]+)", re.UNICODE)
URL_RE = re.compile(r"https?://[^\s<>\"'`\]\[)(]+", re.IGNORECASE)
_TRAILING_PUNCT = ".,;:!?…'\")]}»›"


def fold(text: str) -> str:
    """Unicode NFKC, case-folded: 'ＮＨＳ' and 'nhs', 'Straße' and 'STRASSE' compare equal."""
    return unicodedata.normalize("NFKC", text).casefold()


def normalise_hashtag(tag: str) -> str:
    tag = tag.strip()
    while tag.startswith(("#", "＃")):
        tag = tag[1:]
    # Zero-width characters are invisible and never part of the tag a person meant.
    tag = (
        tag.replace("\u200b", "").replace("\u200c", "").replace("\u200d", "").replace("\ufeff", "")
    )
    return fold(tag)


def extract_hashtags(text: str | None) -> list[str]:
    """Hashtags written in plain text, in order, without the '#'."""
    if not text:
        return []
    return [m.group(1) for m in HASHTAG_RE.finditer(unicodedata.normalize("NFKC", text))]


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


def normalise_url(url: str) -> str | None:
    """A canonical form for comparing links; None when `url` is not an absolute http(s) URL.

    Scheme and host lower-cased, default ports and `www.`-less hosts left as written (a
    different host may be a different site), tracking parameters (`utm_*`, `fbclid`, ...)
    dropped, fragment dropped, trailing slash unified (removed, except for the root).
    """
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower().rstrip(".")
    try:
        port = parts.port
    except ValueError:
        return None
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    path = parts.path or "/"
    if len(path) > 1:
        path = path.rstrip("/") or "/"
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k.lower() not in TRACKING_PARAMS and not k.lower().startswith(TRACKING_PREFIXES)
    ]
    return urlunsplit((scheme, host, path, urlencode(query, doseq=True), ""))


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
    via: str  # "source" | "hashtag" | "url" | "term"


def match_post(
    rules: Sequence[MovementRule],
    *,
    hashtags: Iterable[str] = (),
    text: str | None = None,
    links: Iterable[str] = (),
    forced: Iterable[str] = (),
) -> list[Match]:
    """The movements a post matches and how; hashtags in `text` count as well as `hashtags`."""
    post_tags = {normalise_hashtag(h) for h in hashtags}
    post_tags.update(normalise_hashtag(h) for h in extract_hashtags(text))
    post_tags.discard("")
    post_links = {u for u in (normalise_url(x) for x in links) if u}
    post_links.update(u for u in (normalise_url(x) for x in extract_urls(text)) if u)
    folded = fold(text) if text else ""
    forced_set = set(forced)
    out: list[Match] = []
    for rule in rules:
        if rule.slug in forced_set:
            out.append(Match(rule.id, "source"))
        elif rule.hashtags & post_tags:
            out.append(Match(rule.id, "hashtag"))
        elif rule.urls & post_links:
            out.append(Match(rule.id, "url"))
        elif rule.term_re is not None and folded and rule.term_re.search(folded):
            out.append(Match(rule.id, "term"))
    return out
