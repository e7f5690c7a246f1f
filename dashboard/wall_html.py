"""The wall's markup: pure functions from cards and figures to escaped HTML and CSS.

Every field of a post is plain text that went through `groundswell.sanitize.clean_text`
(no bidi overrides or zero-width characters) and is HTML-escaped here, so a post's `<script>`
or markup is shown as the characters it is, never interpreted; Streamlit's `st.html` then runs
DOMPurify over the result as a second fence. No raw HTML from a post ever reaches the page.

Colours are chosen for projection: light text on a near-black background, every pair at least
WCAG AA (4.5:1) and the main text above AAA (7:1); `tests/test_wall_html.py` computes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape as _esc

from groundswell.moderation import Card
from groundswell.sanitize import clean_text

# Palette: (foreground, background) pairs used on the wall are listed in CONTRAST_PAIRS.
BG = "#0b1020"
CARD_BG = "#172036"
TEXT = "#ffffff"
MUTED = "#c9d3ea"
ACCENT = "#ffd34d"
PIN_BG = "#2a2350"
WARN_BG = "#4a3200"
WARN_TEXT = "#ffe9a8"
PLATFORM_COLOURS = {  # badge text on CARD_BG
    "Bluesky": "#7cc4ff",
    "Mastodon": "#c4b5ff",
    "Blog": "#8ff0b4",
    "Pingback": "#8ff0b4",
    "Webmention": "#8ff0b4",
}

CONTRAST_PAIRS = {
    "text on card": (TEXT, CARD_BG),
    "muted on card": (MUTED, CARD_BG),
    "text on page": (TEXT, BG),
    "muted on page": (MUTED, BG),
    "accent on page": (ACCENT, BG),
    "accent on card": (ACCENT, CARD_BG),
    "text on pinned card": (TEXT, PIN_BG),
    "muted on pinned card": (MUTED, PIN_BG),
    "warning text": (WARN_TEXT, WARN_BG),
    **{f"{k} badge": (v, CARD_BG) for k, v in PLATFORM_COLOURS.items()},
    **{f"{k} badge pinned": (v, PIN_BG) for k, v in PLATFORM_COLOURS.items()},
}


def esc(text: str | None) -> str:
    return _esc(clean_text(text), quote=True)


def wall_css(*, embed: bool) -> str:
    """Page-wide style. In embed mode Streamlit's own chrome is hidden too."""
    chrome = (
        """
header[data-testid="stHeader"], [data-testid="stToolbar"], [data-testid="stDecoration"],
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], footer,
[data-testid="stStatusWidget"] { display: none !important; }
"""
        if embed
        else ""
    )
    return f"""<style>
{chrome}
/* A refresh must not dim the wall (Streamlit fades "stale" elements while a run is going). */
[data-stale="true"] {{ opacity: 1 !important; transition: none !important; }}
.stApp, [data-testid="stAppViewContainer"], [data-testid="stMain"] {{ background: {BG}; }}
[data-testid="stMainBlockContainer"], .block-container {{
  max-width: 100% !important; padding: 1.2rem 2rem 2rem 2rem !important; }}
.gs-wall {{ color: {TEXT}; font-family: "DejaVu Sans", "Segoe UI", system-ui, sans-serif; }}
.gs-head {{ display: flex; flex-wrap: wrap; align-items: baseline; gap: .4rem 2rem;
  border-bottom: 3px solid {ACCENT}; padding-bottom: .6rem; margin-bottom: 1.2rem; }}
.gs-title {{ font-size: 2.8rem; font-weight: 800; color: {TEXT}; margin: 0; line-height: 1.1;
  overflow-wrap: anywhere; }}
.gs-tag {{ font-size: 2.2rem; font-weight: 800; color: {ACCENT}; overflow-wrap: anywhere; }}
.gs-where {{ font-size: 1.5rem; color: {MUTED}; overflow-wrap: anywhere; }}
.gs-counters {{ margin-left: auto; font-size: 1.4rem; color: {MUTED}; }}
.gs-counters b {{ color: {TEXT}; font-size: 1.8rem; }}
.gs-grid {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 30rem), 1fr));
  gap: 1.2rem; align-items: start; }}
.gs-card {{ background: {CARD_BG}; border-radius: 14px; padding: 1.1rem 1.3rem; min-width: 0;
  overflow: hidden; box-sizing: border-box; border-left: 6px solid transparent; }}
.gs-card.gs-pinned {{ background: {PIN_BG}; border-left-color: {ACCENT}; }}
.gs-who {{ display: flex; flex-wrap: wrap; gap: .2rem .7rem; align-items: baseline; min-width: 0; }}
.gs-name {{ font-size: 1.6rem; font-weight: 700; color: {TEXT}; overflow-wrap: anywhere;
  min-width: 0; }}
.gs-handle {{ font-size: 1.25rem; color: {MUTED}; overflow-wrap: anywhere; min-width: 0; }}
.gs-meta {{ font-size: 1.15rem; color: {MUTED}; margin: .2rem 0 .6rem 0; overflow-wrap: anywhere; }}
.gs-badge {{ font-weight: 700; }}
.gs-text {{ font-size: 1.65rem; line-height: 1.4; color: {TEXT}; white-space: pre-line;
  overflow-wrap: anywhere; word-break: break-word; display: -webkit-box;
  -webkit-line-clamp: 9; -webkit-box-orient: vertical; overflow: hidden; unicode-bidi: plaintext; }}
.gs-cw {{ background: {WARN_BG}; color: {WARN_TEXT}; border-radius: 10px; padding: .6rem .9rem;
  font-size: 1.45rem; font-weight: 700; overflow-wrap: anywhere; }}
.gs-imgs {{ display: flex; gap: .6rem; margin-top: .8rem; }}
.gs-img {{ flex: 1 1 0; min-width: 0; height: 12rem; border-radius: 10px; overflow: hidden;
  background: {BG}; color: {MUTED}; font-size: 1rem; }}
.gs-img img {{ width: 100%; height: 100%; object-fit: cover; display: block; }}
.gs-pin {{ color: {ACCENT}; font-weight: 800; font-size: 1.1rem; }}
.gs-empty {{ font-size: 2rem; color: {MUTED}; padding: 3rem 0; }}
.gs-tiles {{ display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 17rem), 1fr));
  gap: 1rem; margin-bottom: 1rem; align-items: start; }}
.gs-tile {{ background: {CARD_BG}; border-radius: 14px; padding: 1rem 1.2rem; min-width: 0; }}
.gs-num {{ font-size: 3.6rem; font-weight: 800; color: {ACCENT}; line-height: 1.05; }}
.gs-lbl {{ font-size: 1.3rem; color: {MUTED}; }}
.gs-list {{ font-size: 1.4rem; color: {TEXT}; margin: .3rem 0 0 0; padding-left: 1.4rem; }}
.gs-list li {{ overflow-wrap: anywhere; margin: .15rem 0; }}
.gs-list .gs-handle {{ font-size: 1.1rem; }}
.gs-sub {{ font-size: 1.5rem; color: {TEXT}; font-weight: 700; margin: .6rem 0 .2rem 0; }}
</style>"""


def header_html(
    title: str,
    hashtag: str | None,
    where_to_post: str | None,
    counters: Sequence[tuple[str, int]] = (),
) -> str:
    parts = [f'<h1 class="gs-title">{esc(title)}</h1>']
    if hashtag:
        parts.append(f'<span class="gs-tag">#{esc(hashtag.lstrip("#"))}</span>')
    if where_to_post:
        parts.append(f'<span class="gs-where">{esc(where_to_post)}</span>')
    if counters:
        inner = " · ".join(f"<b>{n:,}</b> {esc(label)}" for label, n in counters)
        parts.append(f'<span class="gs-counters">{inner}</span>')
    return f'<div class="gs-wall"><div class="gs-head">{"".join(parts)}</div></div>'


def card_html(card: Card) -> str:
    colour = PLATFORM_COLOURS.get(card.platform, MUTED)
    who = f'<span class="gs-name">{esc(card.name)}</span>'
    if card.handle:
        who += f'<span class="gs-handle">{esc(card.handle)}</span>'
    where = f" · {esc(card.where)}" if card.where else ""
    meta = (
        f'<div class="gs-meta"><span class="gs-badge" style="color:{colour}">'
        f"{esc(card.platform)}</span>{where} · {esc(card.when)}</div>"
    )
    if card.warning:
        body = f'<div class="gs-cw">⚠ Content warning: {esc(card.warning)}</div>'
    else:
        body = f'<div class="gs-text">{esc(card.text)}</div>'
    imgs = ""
    if card.images and not card.warning:
        items = "".join(
            f'<div class="gs-img"><img src="{_esc(i.url, quote=True)}" alt="{esc(i.alt)}" '
            'loading="lazy" referrerpolicy="no-referrer"></div>'
            for i in card.images
        )
        imgs = f'<div class="gs-imgs">{items}</div>'
    pin = '<div class="gs-pin">PINNED</div>' if card.pinned else ""
    cls = "gs-card gs-pinned" if card.pinned else "gs-card"
    return (
        f'<article class="{cls}" data-mention-id="{card.id}">{pin}'
        f'<div class="gs-who">{who}</div>{meta}{body}{imgs}</article>'
    )


def cards_html(cards: Sequence[Card], *, empty: str = "Waiting for the first posts…") -> str:
    if not cards:
        return f'<div class="gs-wall"><div class="gs-empty">{esc(empty)}</div></div>'
    return (
        '<div class="gs-wall"><div class="gs-grid">'
        + "".join(card_html(c) for c in cards)
        + "</div></div>"
    )


def pulse_tiles_html(
    *,
    mentions_10m: int,
    mentions_today: int,
    new_voices_today: int,
    people_today: int,
    platforms: Sequence[tuple[str, int]],
    instances_today: int,
    top_instances: Sequence[tuple[str, int]],
    amplifiers: Sequence[tuple[str, str | None, str, int]],
) -> str:
    def tile(num: str, label: str, extra: str = "") -> str:
        return (
            f'<div class="gs-tile"><div class="gs-num">{num}</div>'
            f'<div class="gs-lbl">{esc(label)}</div>{extra}</div>'
        )

    plat = "".join(f"<li>{esc(p.title())}: {n:,}</li>" for p, n in platforms)
    inst = "".join(f"<li>{esc(h)}: {n:,}</li>" for h, n in top_instances[:5])
    amps = "".join(
        f"<li>{esc(name)}"
        + (f' <span class="gs-handle">{esc(handle)}</span>' if handle else "")
        + f" · {n:,}</li>"
        for name, handle, _platform, n in amplifiers
    )
    tiles = [
        tile(f"{mentions_10m:,}", "posts in the last 10 minutes"),
        tile(f"{mentions_today:,}", f"posts today from {people_today:,} people"),
        tile(f"{new_voices_today:,}", "new voices today"),
        tile(
            f"{len(platforms):,}", "platforms", f'<ul class="gs-list">{plat}</ul>' if plat else ""
        ),
        tile(
            f"{instances_today:,}",
            "instances and blogs",
            f'<ul class="gs-list">{inst}</ul>' if inst else "",
        ),
    ]
    out = f'<div class="gs-wall"><div class="gs-tiles">{"".join(tiles)}</div>'
    if amps:
        out += f'<div class="gs-sub">Top amplifiers today</div><ol class="gs-list">{amps}</ol>'
    return out + "</div>"


# --- WCAG contrast --------------------------------------------------------------------------


def _linear(c: float) -> float:
    return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4


def relative_luminance(hex_colour: str) -> float:
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) / 255 for i in (0, 2, 4))
    return 0.2126 * _linear(r) + 0.7152 * _linear(g) + 0.0722 * _linear(b)


def contrast_ratio(fg: str, bg: str) -> float:
    """WCAG 2.x contrast ratio between two sRGB colours, from 1 to 21."""
    a, b = sorted((relative_luminance(fg), relative_luminance(bg)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def moderator_item_html(
    *,
    name: str | None,
    handle: str | None,
    platform: str,
    where: str | None,
    when: str,
    text: str,
    warning: str | None,
    status: str,
    alt_texts: Sequence[str] = (),
) -> str:
    """A post as moderators see it: full name and handle, the whole text (escaped), the
    content warning and image descriptions, and its status on the wall. Light theme: this
    page is read on a laptop, not projected."""
    cw = f"<div><b>CW:</b> {esc(warning)}</div>" if warning else ""
    alts = "".join(f"<div><b>Image:</b> {esc(a)}</div>" for a in alt_texts)
    where_s = f" · {esc(where)}" if where else ""
    return (
        '<div class="gs-mod" style="overflow-wrap:anywhere;min-width:0">'
        f"<div><b>{esc(name or '(no name)')}</b> {esc(handle or '')}"
        f" <small>· {esc(platform)}{where_s} · {esc(when)} · <b>{esc(status)}</b></small></div>"
        f'{cw}<div style="white-space:pre-line;max-height:12em;overflow:auto">{esc(text)}</div>'
        f"{alts}</div>"
    )
