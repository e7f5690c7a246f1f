"""Untrusted HTML in, inert HTML or plain text out.

Every post body from outside goes through here before it is stored (`html`) so nothing
unsanitised can ever reach a page. nh3 (ammonia) does the HTML work; this module fixes the
policy in one place: a small allow-list of inline tags, links forced to `rel="nofollow noopener
noreferrer ugc"`, no images, scripts, styles, event handlers or `javascript:` URLs.
"""

from __future__ import annotations

import html as html_lib
import re
import unicodedata

import nh3

ALLOWED_TAGS = {
    "a",
    "p",
    "br",
    "span",
    "em",
    "strong",
    "b",
    "i",
    "u",
    "ul",
    "ol",
    "li",
    "blockquote",
    "code",
    "pre",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "span": {"class"}}
URL_SCHEMES = {"http", "https", "mailto"}

# Characters that change how surrounding text is laid out or hide text: bidi overrides and
# isolates, zero-width joiners and spaces, the BOM. Stripped from plain text shown on pages so
# a post cannot reverse or hide the wall's text. Two exceptions keep emoji whole: a zero-width
# joiner between two pictographs (👩🏽‍⚕️, a health worker, is three emoji joined) and the tag
# characters of subdivision flags (🏴󠁧󠁢󠁳󠁣󠁴󠁿 Scotland, 🏴󠁧󠁢󠁷󠁬󠁳󠁿 Wales).
_INVISIBLE = dict.fromkeys(
    map(
        ord,
        "\u200b\u200c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068"
        "\u2069\ufeff\u2060\u180e",
    ),
    None,
)
# Bidirectional embedding, override and isolate controls (U+202A-202E, U+2066-2069): a name,
# title or post carrying them can reverse the text after it on a page, e.g. to disguise a link
# or spoof a handle ("Trojan Source"). Stripped from stored HTML too, not only plain text.
BIDI_CONTROLS = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A)], None)
_ZWJ = "\u200d"
_BLACK_FLAG = "\U0001f3f4"
_BLOCK_END = re.compile(r"</(p|div|li|blockquote|h[1-6]|pre|tr)\s*>|<br\s*/?>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")
_SPACES = re.compile(r"[ \t\r\f\v]+")
_NEWLINES = re.compile(r"\n{3,}")


def sanitize_html(raw: str | None, *, max_chars: int = 100_000) -> str:
    """Inert HTML safe to render: allow-listed tags only, safe links, no scripts, no
    bidirectional controls (stripped after nh3, so written as `&#x202e;` they go too)."""
    if not raw:
        return ""
    raw = raw[:max_chars]
    return nh3.clean(
        raw,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="nofollow noopener noreferrer ugc",
        strip_comments=True,
    ).translate(BIDI_CONTROLS)


def html_to_text(raw: str | None, *, max_chars: int = 100_000) -> str:
    """Plain text of an HTML fragment: paragraphs become line breaks, entities decoded."""
    if not raw:
        return ""
    cleaned = sanitize_html(raw, max_chars=max_chars)
    with_breaks = _BLOCK_END.sub("\n", cleaned)
    text = html_lib.unescape(_TAG.sub("", with_breaks))
    return clean_text(text)


def clean_text(text: str | None) -> str:
    """Plain text normalised for display: NFC, no bidi overrides or zero-width characters,
    no control characters, runs of blank lines collapsed."""
    if not text:
        return ""
    text = unicodedata.normalize("NFC", text).translate(_INVISIBLE)
    text = _drop_controls(text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _NEWLINES.sub("\n\n", "\n".join(lines)).strip()


def _pictograph(ch: str) -> bool:
    """Emoji and their modifiers (skin tones, the emoji variation selector)."""
    cp = ord(ch)
    return (
        0x1F000 <= cp <= 0x1FAFF
        or 0x2600 <= cp <= 0x27BF
        or cp == 0xFE0F
        or unicodedata.category(ch) == "So"
    )


def _drop_controls(text: str) -> str:
    """Remove control and format characters, except those that are part of an emoji."""
    out: list[str] = []
    in_flag = False
    for i, ch in enumerate(text):
        if ch in "\n\t" or unicodedata.category(ch)[0] != "C":
            out.append(ch)
            in_flag = ch == _BLACK_FLAG
            continue
        if ch == _ZWJ:
            nxt = text[i + 1] if i + 1 < len(text) else ""
            if out and _pictograph(out[-1]) and nxt and _pictograph(nxt):
                out.append(ch)
        elif in_flag and 0xE0020 <= ord(ch) <= 0xE007F:
            out.append(ch)
            in_flag = ord(ch) != 0xE007F  # CANCEL TAG ends the flag
    return "".join(out)


def escape(text: str | None) -> str:
    """HTML-escape plain text for direct inclusion in markup (e.g. the wall's cards)."""
    return html_lib.escape(clean_text(text), quote=True)
