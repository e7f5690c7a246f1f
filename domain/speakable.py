"""Links as a person would say them on a projected card: host and a short path.

A raw URL on the wall wraps over three lines and is unreadable from the back of a hall, and
its tracking parameters (`utm_*`, `fbclid`, ...) tell the room nothing. On the wall a link
reads `nhscitizen.org.uk/pledge`: the host without `www.`, at most two path segments (each
cut when long), no query, no fragment. Pure text in, text out.
"""

from __future__ import annotations

import contextlib
import re
from urllib.parse import unquote, urlsplit

from domain.matching import _TRAILING_PUNCT, URL_RE, normalise_url

SEGMENTS = 2
SEGMENT_CHARS = 24


def _segment(seg: str) -> str:
    seg = unquote(seg)
    return seg if len(seg) <= SEGMENT_CHARS else seg[: SEGMENT_CHARS - 1] + "…"


def spoken_url(url: str) -> str:
    """`https://www.example.org/a/b/c?utm_source=x` -> `example.org/a/b/…`; a string that is
    not an http(s) URL is returned as it was."""
    canonical = normalise_url(url)
    if canonical is None:
        return url
    parts = urlsplit(canonical)
    host = parts.hostname or ""
    with contextlib.suppress(UnicodeError):
        host = host.encode("ascii").decode("idna")  # xn--bcher-kva.example -> bücher.example
    host = host.removeprefix("www.")
    segments = [s for s in parts.path.split("/") if s]
    shown = "/".join(_segment(s) for s in segments[:SEGMENTS])
    if len(segments) > SEGMENTS:
        shown += "/…"
    return f"{host}/{shown}" if shown else host


def speak_links(text: str) -> str:
    """Every http(s) URL written in `text` replaced by its spoken form (`spoken_url`)."""

    def one(m: re.Match[str]) -> str:
        raw = m.group(0)
        url = raw.rstrip(_TRAILING_PUNCT)
        return spoken_url(url) + raw[len(url) :]

    return URL_RE.sub(one, text) if text and "://" in text else text
