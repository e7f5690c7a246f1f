"""The pulse's rolling volume chart, drawn as inline SVG for projection (pure: data in, markup
out).

SVG rather than a Plotly figure: it scales with the wall's stage like its text does (one
viewBox, no pixel sizes), it needs no JavaScript bundle on the projector, and it is part of the
wall's single block of markup, so it fits the screen without measuring it.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from dashboard.wall_html import ACCENT, MUTED, PLATFORM_COLOURS, TEXT
from domain.moderation import PLATFORM_LABELS

GRID = "#3a4566"
W, H = 640, 300  # the viewBox; the chart is scaled to its box keeping this aspect
LEFT, RIGHT, TOP, BOTTOM = 52, 12, 64, 40


def _nice_max(n: int) -> int:
    """The top of a count axis: a round number at or above `n` (integer ticks only)."""
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10_000):
        if n <= step * 4:
            return step * 4
    return -(-n // 10_000) * 10_000


def volume_svg(
    volume: list[tuple[int, str, int]], now: datetime, timezone: str = "UTC", minutes: int = 60
) -> str:
    """Posts per minute over the last `minutes`, stacked by platform, in the wall's zone.
    Each bar spans its minute (left edge at the minute's start)."""
    zone = ZoneInfo(timezone)
    end = int(now.timestamp())
    start = end - minutes * 60
    per_minute: dict[int, list[tuple[str, int]]] = {}
    for t, platform, n in volume:
        if start - 60 < t <= end and n > 0:
            per_minute.setdefault(t, []).append((platform, n))
    totals = {t: sum(n for _, n in v) for t, v in per_minute.items()}
    top = _nice_max(max(totals.values(), default=0))
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM

    def x(ts: float) -> float:
        return LEFT + (ts - start) / (end - start) * pw

    def y(n: float) -> float:
        return TOP + ph - n / top * ph

    out = [
        f'<svg viewBox="0 0 {W} {H}" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'aria-label="Posts per minute, last {minutes} minutes" '
        'font-family="DejaVu Sans, sans-serif">',
        f'<text x="{LEFT}" y="24" font-size="22" font-weight="700" fill="{TEXT}">'
        f"Posts per minute, last {minutes} minutes</text>",
    ]
    for i in range(5):  # integer ticks: 0, top/4, ... top
        v = top * i // 4
        out.append(
            f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
            f'stroke="{GRID}" stroke-width="1"/>'
            f'<text x="{LEFT - 8}" y="{y(v) + 6:.1f}" font-size="17" text-anchor="end" '
            f'fill="{MUTED}">{v:,}</text>'
        )
    first_tick = start - start % 900 + 900
    for t in range(first_tick, end + 1, 900):  # every quarter hour
        label = datetime.fromtimestamp(t, zone).strftime("%H:%M")
        out.append(
            f'<text x="{x(t):.1f}" y="{H - 12}" font-size="17" text-anchor="middle" '
            f'fill="{MUTED}">{label}</text>'
        )
    platforms = sorted({p for v in per_minute.values() for p, _ in v})
    bar_w = pw / minutes * 0.85
    for t, parts in sorted(per_minute.items()):
        base = 0
        for platform, n in sorted(parts):
            label = PLATFORM_LABELS.get(platform, platform.title())
            colour = PLATFORM_COLOURS.get(label, ACCENT)
            x0 = max(float(LEFT), x(t))
            w = min(bar_w, x(t) + bar_w - x0)
            if w > 0:
                out.append(
                    f'<rect x="{x0:.1f}" y="{y(base + n):.1f}" width="{w:.1f}" '
                    f'height="{y(base) - y(base + n):.1f}" fill="{colour}"/>'
                )
            base += n
    lx = W - RIGHT
    for platform in reversed(platforms):  # legend, right-aligned under the title
        label = escape(PLATFORM_LABELS.get(platform, platform.title()))
        colour = PLATFORM_COLOURS.get(label, ACCENT)
        out.append(
            f'<text x="{lx}" y="52" font-size="17" text-anchor="end" fill="{colour}">'
            f"■ {label}</text>"
        )
        lx -= 14 + 11 * len(label) + 22
    out.append("</svg>")
    return "".join(out)
