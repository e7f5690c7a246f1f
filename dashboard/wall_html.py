"""The wall's markup: pure functions from cards and figures to escaped HTML and CSS.

Every field of a post is plain text that went through `domain.sanitize.clean_text`
(no bidi overrides or zero-width characters) and is HTML-escaped here, so a post's `<script>`
or markup is shown as the characters it is, never interpreted; Streamlit's `st.html` then runs
DOMPurify over the result as a second fence. No raw HTML from a post ever reaches the page.

Colours are chosen for projection: light text on a near-black background, every pair at least
WCAG AA (4.5:1) and the main text above AAA (7:1); `tests/test_wall_html.py` computes them.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from html import escape as _esc
from urllib.parse import quote

from domain.moderation import Card
from domain.sanitize import clean_text

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


@functools.lru_cache(maxsize=8)
def qr_data_uri(url: str) -> str:
    """A QR code for `url` as an SVG data URI (segno; black on white with a quiet zone, error
    correction M so a projector's blur still scans). No size: it scales with its box."""
    import segno

    return segno.make(url, error="m").svg_data_uri(
        dark="#000000", light="#ffffff", border=2, omitsize=True
    )


def esc(text: str | None) -> str:
    return _esc(clean_text(text), quote=True)


CARDS_PER_PAGE = {"cards": 6, "both": 4}  # a 3x2 grid; 2x2 beside the pulse
_GRID = {"cards": (3, 2), "both": (2, 2)}


def wall_css(*, embed: bool) -> str:
    """Page-wide style. In embed mode (the projector) the wall is a fixed stage covering the
    viewport, laid out in units of `--u` (1% of the height of a 16:9 screen, or of the width's
    16:9 equivalent on a narrower one), so the same layout fits 1280x720 and 3840x2160 alike
    and the type grows with the screen. Nothing is sized in pixels except hairlines."""
    chrome = (
        """
header[data-testid="stHeader"], [data-testid="stToolbar"], [data-testid="stDecoration"],
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], footer,
[data-testid="stStatusWidget"] { display: none !important; }
html, body, .stApp, [data-testid="stAppViewContainer"], [data-testid="stMain"] {
  overflow: hidden !important; }
.gs-stage { position: fixed; inset: 0; z-index: 999990; }
"""
        if embed
        else """
.gs-stage { position: relative; height: calc(100vh - 7rem); border-radius: 12px; }
"""
    )
    return f"""<style>
{chrome}
:root {{ --u: min(1vh, 0.5625vw); }}
/* A refresh must not dim the wall (Streamlit fades "stale" elements while a run is going). */
[data-stale="true"] {{ opacity: 1 !important; transition: none !important; }}
.stApp, [data-testid="stAppViewContainer"], [data-testid="stMain"] {{ background: {BG}; }}
[data-testid="stMainBlockContainer"], .block-container {{
  max-width: 100% !important; padding: 1.2rem 2rem 0 2rem !important; }}
.gs-stage {{ box-sizing: border-box; overflow: hidden; background: {BG}; color: {TEXT};
  font-family: "DejaVu Sans", "Segoe UI", system-ui, sans-serif; font-size: calc(2.4 * var(--u));
  display: grid; grid-template-rows: auto minmax(0, 1fr) auto; gap: calc(1.6 * var(--u));
  padding: calc(2 * var(--u)) calc(2.6 * var(--u)) calc(1.6 * var(--u)); }}
.gs-stage * {{ box-sizing: border-box; }}
.gs-head {{ display: flex; align-items: baseline; gap: calc(3 * var(--u)); min-width: 0;
  border-bottom: calc(.4 * var(--u)) solid {ACCENT}; padding-bottom: calc(1 * var(--u)); }}
.gs-title {{ font-size: calc(4.6 * var(--u)); font-weight: 800; color: {TEXT}; margin: 0;
  padding: 0; line-height: 1.15; flex: 1 1 auto; min-width: 0; white-space: nowrap;
  overflow: hidden; text-overflow: ellipsis; }}
.gs-counters {{ flex: 0 0 auto; font-size: calc(2.4 * var(--u)); color: {MUTED};
  white-space: nowrap; }}
.gs-counters b {{ color: {TEXT}; font-size: calc(3.2 * var(--u)); }}
.gs-body {{ min-height: 0; display: grid; gap: calc(2 * var(--u)); }}
.gs-mode-cards .gs-body, .gs-mode-pulse .gs-body {{ grid-template-columns: minmax(0, 1fr); }}
.gs-mode-both .gs-body {{ grid-template-columns: minmax(0, 62fr) minmax(0, 38fr); }}
.gs-grid {{ display: grid; height: 100%; min-height: 0; gap: calc(1.6 * var(--u)); }}
.gs-grid-cards {{ grid-template: repeat(2, minmax(0, 1fr)) / repeat(3, minmax(0, 1fr)); }}
.gs-grid-both {{ grid-template: repeat(2, minmax(0, 1fr)) / repeat(2, minmax(0, 1fr)); }}
.gs-card {{ background: {CARD_BG}; border-radius: calc(1.2 * var(--u));
  padding: calc(1.4 * var(--u)) calc(1.8 * var(--u)); min-width: 0; min-height: 0;
  overflow: hidden; display: flex; flex-direction: column;
  border-left: calc(.6 * var(--u)) solid transparent; }}
.gs-card.gs-pinned {{ background: {PIN_BG}; border-left-color: {ACCENT}; }}
.gs-who {{ display: flex; gap: calc(1 * var(--u)); align-items: baseline; min-width: 0;
  white-space: nowrap; overflow: hidden; flex: 0 0 auto; }}
.gs-name {{ font-size: calc(2.9 * var(--u)); font-weight: 700; color: {TEXT}; min-width: 0;
  overflow: hidden; text-overflow: ellipsis; flex: 0 0 auto; max-width: 100%; }}
.gs-handle {{ font-size: calc(2.2 * var(--u)); color: {MUTED}; min-width: 0; overflow: hidden;
  text-overflow: ellipsis; flex: 0 1000 auto; }}
.gs-meta {{ font-size: calc(2.2 * var(--u)); color: {MUTED}; margin: calc(.3 * var(--u)) 0
  calc(.8 * var(--u)); white-space: nowrap; overflow: hidden; text-overflow: ellipsis;
  flex: 0 0 auto; }}
.gs-badge {{ font-weight: 700; }}
.gs-text {{ font-size: calc(2.6 * var(--u)); line-height: 1.35; color: {TEXT};
  white-space: pre-line; overflow-wrap: anywhere; word-break: break-word; display: -webkit-box;
  -webkit-line-clamp: 6; -webkit-box-orient: vertical; overflow: hidden;
  unicode-bidi: plaintext; flex: 0 1 auto; min-height: 0; }}
.gs-card.gs-has-img .gs-text {{ -webkit-line-clamp: 2; }}
/* The text's room, as a size container: its height decides how many whole lines are shown
   (with the ellipsis on the last), so a card never shows half a line at its foot. Queries
   cannot read --u, so em here is the text's size (line-height 1.35em). */
.gs-textbox {{ flex: 1 1 0; min-height: 0; container-type: size;
  font-size: calc(2.6 * var(--u)); }}
.gs-textbox .gs-text {{ font-size: 1em; }}
@container (height < 8.1em) {{ .gs-textbox .gs-text {{ -webkit-line-clamp: 5; }} }}
@container (height < 6.75em) {{ .gs-textbox .gs-text {{ -webkit-line-clamp: 4; }} }}
@container (height < 5.4em) {{ .gs-textbox .gs-text {{ -webkit-line-clamp: 3; }} }}
@container (height < 4.05em) {{ .gs-textbox .gs-text {{ -webkit-line-clamp: 2; }} }}
@container (height < 2.7em) {{ .gs-textbox .gs-text {{ -webkit-line-clamp: 1; }} }}
.gs-cw {{ background: {WARN_BG}; color: {WARN_TEXT}; border-radius: calc(1 * var(--u));
  padding: calc(1 * var(--u)) calc(1.4 * var(--u)); font-size: calc(2.5 * var(--u));
  font-weight: 700; overflow-wrap: anywhere; display: -webkit-box; -webkit-line-clamp: 4;
  -webkit-box-orient: vertical; overflow: hidden; flex: 0 1 auto; min-height: 0; }}
.gs-imgs {{ display: flex; gap: calc(.8 * var(--u)); margin-top: calc(1 * var(--u));
  flex: 1 1 0; min-height: 0; max-height: calc(16 * var(--u)); }}
.gs-img {{ flex: 1 1 0; min-width: 0; height: 100%; border-radius: calc(1 * var(--u));
  overflow: hidden; background: {BG}; color: {MUTED}; font-size: calc(1.6 * var(--u)); }}
.gs-img img {{ width: 100%; height: 100%; object-fit: cover; display: block; }}
.gs-pin {{ color: {ACCENT}; font-weight: 800; font-size: calc(1.9 * var(--u)); flex: 0 0 auto; }}
.gs-empty {{ font-size: calc(4 * var(--u)); color: {MUTED}; padding: calc(4 * var(--u)) 0; }}
.gs-pulse {{ min-height: 0; display: grid; gap: calc(1.6 * var(--u)); overflow: hidden; }}
.gs-mode-pulse .gs-pulse {{ grid-template: auto minmax(0, 1fr) / minmax(0, 3fr) minmax(0, 2fr); }}
.gs-mode-both .gs-pulse {{ grid-template-rows: auto minmax(0, 1fr) auto; }}
.gs-tiles {{ display: grid; gap: calc(1.2 * var(--u)); min-width: 0; }}
.gs-mode-pulse .gs-tiles {{ grid-column: 1 / -1;
  grid-template-columns: repeat(5, minmax(0, 1fr)); }}
.gs-mode-both .gs-tiles {{ grid-template-columns: repeat(2, minmax(0, 1fr)); }}
.gs-tile {{ background: {CARD_BG}; border-radius: calc(1.2 * var(--u));
  padding: calc(1.2 * var(--u)) calc(1.6 * var(--u)); min-width: 0; overflow: hidden; }}
.gs-num {{ font-size: calc(5.4 * var(--u)); font-weight: 800; color: {ACCENT}; line-height: 1.05;
  white-space: nowrap; }}
.gs-mode-both .gs-num {{ font-size: calc(4.2 * var(--u)); }}
.gs-lbl {{ font-size: calc(2.1 * var(--u)); color: {MUTED}; }}
.gs-list {{ font-size: calc(2.2 * var(--u)); color: {TEXT}; margin: calc(.4 * var(--u)) 0 0 0;
  padding-left: calc(2.6 * var(--u)); }}
.gs-list li {{ white-space: nowrap; overflow: hidden; text-overflow: ellipsis;
  margin: calc(.2 * var(--u)) 0; }}
.gs-list .gs-handle {{ font-size: calc(1.9 * var(--u)); }}
.gs-amp {{ display: flex; align-items: baseline; gap: calc(.6 * var(--u)); min-width: 0; }}
.gs-amp-name {{ min-width: 0; white-space: nowrap; overflow: hidden; text-overflow: ellipsis;
  flex: 0 1 auto; }}
.gs-amp .gs-n {{ flex: 0 0 auto; }}
.gs-chart {{ min-height: 0; min-width: 0; background: {CARD_BG};
  border-radius: calc(1.2 * var(--u)); padding: calc(1 * var(--u)); overflow: hidden; }}
.gs-chart img {{ width: 100%; height: 100%; display: block; object-fit: contain; }}
.gs-amps {{ min-height: 0; min-width: 0; overflow: hidden; }}
.gs-sub {{ font-size: calc(2.6 * var(--u)); color: {TEXT}; font-weight: 700; }}
.gs-foot {{ display: flex; align-items: center; gap: calc(2.4 * var(--u)); min-width: 0;
  height: calc(13 * var(--u)); }}
.gs-qr {{ height: 100%; aspect-ratio: 1; flex: 0 0 auto; background: #ffffff;
  border-radius: calc(.6 * var(--u)); display: block; }}
.gs-call {{ flex: 1 1 auto; min-width: 0; display: flex; flex-direction: column;
  gap: calc(.4 * var(--u)); }}
.gs-tag {{ font-size: calc(5 * var(--u)); font-weight: 800; color: {ACCENT}; line-height: 1.1;
  white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }}
.gs-where {{ font-size: calc(2.6 * var(--u)); color: {MUTED}; display: -webkit-box;
  -webkit-line-clamp: 2; -webkit-box-orient: vertical; overflow: hidden; }}
.gs-pages {{ flex: 0 0 calc(22 * var(--u)); display: flex; flex-direction: column;
  gap: calc(.8 * var(--u)); font-size: calc(2.2 * var(--u)); color: {MUTED}; text-align: right; }}
.gs-bar {{ height: calc(.8 * var(--u)); background: {CARD_BG}; border-radius: calc(.4 * var(--u));
  overflow: hidden; }}
.gs-bar > div {{ height: 100%; width: 100%; background: {ACCENT}; transform-origin: left;
  animation-name: gs-turn; animation-timing-function: linear; animation-fill-mode: both; }}
@keyframes gs-turn {{ from {{ transform: scaleX(0); }} to {{ transform: scaleX(1); }} }}
</style>"""


def header_html(title: str, counters: Sequence[tuple[str, int]] = ()) -> str:
    """The stage's top line: the title and the day's counters (the hashtag and where to post
    are in the footer beside the QR code, `footer_html`)."""
    parts = [f'<h1 class="gs-title">{esc(title)}</h1>']
    if counters:
        inner = " · ".join(f"<b>{n:,}</b> {esc(label)}" for label, n in counters)
        parts.append(f'<span class="gs-counters">{inner}</span>')
    return f'<div class="gs-head">{"".join(parts)}</div>'


def footer_html(
    hashtag: str | None,
    where_to_post: str | None,
    *,
    qr_svg_uri: str | None = None,
    page: int = 0,
    pages: int = 1,
    page_s: float = 10,
    elapsed_s: float = 0,
) -> str:
    """Always on screen: the QR code, the hashtag and where to post; and, when the cards take
    more than one page, which page is up and a bar that fills until the next one."""
    qr = (
        f'<img class="gs-qr" src="{_esc(qr_svg_uri, quote=True)}" alt="QR code">'
        if qr_svg_uri
        else ""
    )
    call = ""
    if hashtag:
        call += f'<div class="gs-tag">#{esc(hashtag.lstrip("#"))}</div>'
    if where_to_post:
        call += f'<div class="gs-where">{esc(where_to_post)}</div>'
    turn = ""
    if pages > 1:
        turn = (
            f'<div class="gs-pages"><div>Page {page + 1} of {pages}</div>'
            f'<div class="gs-bar"><div style="animation-duration:{page_s:g}s;'
            f'animation-delay:-{elapsed_s:.1f}s"></div></div></div>'
        )
    return f'<div class="gs-foot">{qr}<div class="gs-call">{call}</div>{turn}</div>'


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
    elif card.images:
        body = f'<div class="gs-text">{esc(card.text)}</div>'
    else:  # the whole card below the name is the text's: whole lines only (.gs-textbox)
        body = f'<div class="gs-textbox"><div class="gs-text">{esc(card.text)}</div></div>'
    imgs = ""
    if card.images and not card.warning:
        items = "".join(
            f'<div class="gs-img"><img src="{_esc(i.url, quote=True)}" alt="{esc(i.alt)}" '
            'loading="lazy" referrerpolicy="no-referrer"></div>'
            for i in card.images[:3]
        )
        imgs = f'<div class="gs-imgs">{items}</div>'
    pin = '<div class="gs-pin">PINNED</div>' if card.pinned else ""
    cls = "gs-card" + (" gs-pinned" if card.pinned else "") + (" gs-has-img" if imgs else "")
    return (
        f'<article class="{cls}" data-mention-id="{card.id}">{pin}'
        f'<div class="gs-who">{who}</div>{meta}{body}{imgs}</article>'
    )


def page_count(n_cards: int, mode: str) -> int:
    per = CARDS_PER_PAGE.get(mode, CARDS_PER_PAGE["cards"])
    return max(1, -(-n_cards // per))


def page_of(cards: Sequence[Card], mode: str, page: int) -> Sequence[Card]:
    """The cards on page `page` (0-based): pinned posts come first in `cards`, so page 1."""
    per = CARDS_PER_PAGE.get(mode, CARDS_PER_PAGE["cards"])
    return cards[page * per : (page + 1) * per]


def cards_html(
    cards: Sequence[Card], *, mode: str = "cards", empty: str = "Waiting for the first posts…"
) -> str:
    """One page of cards (at most `CARDS_PER_PAGE[mode]`), in a grid that fills its area."""
    if not cards:
        return f'<div class="gs-empty">{esc(empty)}</div>'
    grid = "both" if mode == "both" else "cards"
    return (
        f'<section class="gs-grid gs-grid-{grid}">'
        + "".join(card_html(c) for c in cards)
        + "</section>"
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
    chart_svg: str = "",
    compact: bool = False,
) -> str:
    """The pulse: figure tiles, the volume chart and the top amplifiers. `compact` (beside
    the cards) keeps four tiles and the top three amplifiers so it fits a third of the screen."""

    def tile(num: str, label: str, extra: str = "") -> str:
        return (
            f'<div class="gs-tile"><div class="gs-num">{num}</div>'
            f'<div class="gs-lbl">{esc(label)}</div>{extra}</div>'
        )

    plat = "".join(f"<li>{esc(p.title())}: {n:,}</li>" for p, n in platforms[:4])
    inst = "".join(f"<li>{esc(h)}: {n:,}</li>" for h, n in top_instances[:3])
    # Name, handle and count are flex items, so a long name or handle is ellipsised inside
    # its own box and the count (what the list is for) always stays in sight.
    amps = "".join(
        f'<li><span class="gs-amp"><span class="gs-amp-name">{esc(name)}</span>'
        + (f'<span class="gs-handle">{esc(handle)}</span>' if handle else "")
        + f'<span class="gs-n">· {n:,}</span></span></li>'
        for name, handle, _platform, n in amplifiers[: 3 if compact else 6]
    )
    tiles = [
        tile(f"{mentions_10m:,}", "posts in the last 10 minutes"),
        tile(f"{mentions_today:,}", f"posts today from {people_today:,} people"),
        tile(f"{new_voices_today:,}", "new voices today"),
    ]
    if compact:
        tiles.append(tile(f"{instances_today:,}", "instances and blogs"))
    else:
        tiles += [
            tile(
                f"{len(platforms):,}",
                "platforms",
                f'<ul class="gs-list">{plat}</ul>' if plat else "",
            ),
            tile(
                f"{instances_today:,}",
                "instances and blogs",
                f'<ul class="gs-list">{inst}</ul>' if inst else "",
            ),
        ]
    out = f'<div class="gs-tiles">{"".join(tiles)}</div>'
    if chart_svg:
        # An image, not inline SVG: st.html's DOMPurify drops inline <svg>.
        src = "data:image/svg+xml;charset=utf-8," + quote(chart_svg, safe="")
        out += f'<div class="gs-chart"><img src="{src}" alt="Posts per minute"></div>'
    lead = '<div class="gs-sub">Top amplifiers today</div>'
    out += f'<div class="gs-amps">{lead}<ol class="gs-list">{amps}</ol></div>' if amps else ""
    return f'<aside class="gs-pulse">{out}</aside>'


def stage_html(mode: str, *, header: str, cards: str, pulse: str, footer: str) -> str:
    """The whole wall in one block: header, body (cards, pulse or both) and footer."""
    body = {"cards": cards, "pulse": pulse}.get(mode, cards + pulse)
    return (
        f'<div class="gs-wall gs-stage gs-mode-{mode}">{header}'
        f'<div class="gs-body">{body}</div>{footer}</div>'
    )


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
