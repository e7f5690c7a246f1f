"""Shared look: platform colours, time axes in the reader's zone, events on every timeline."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import plotly.graph_objects as go

PLATFORM_COLOURS = {
    "bluesky": "#1185fe",
    "mastodon": "#6364ff",
    "blog": "#e07a1f",
    "pingback": "#2a9d8f",
    "webmention": "#b5179e",
}
EVENT_FILL = "rgba(255, 183, 3, 0.18)"


def local(ts: int | float, tz: str) -> datetime:
    """An epoch second as an aware datetime in the reader's zone (what the axes show)."""
    return datetime.fromtimestamp(ts, UTC).astimezone(ZoneInfo(tz))


def bucket_label(bucket_s: int) -> str:
    for s, name in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if bucket_s % s == 0:
            n = bucket_s // s
            return f"{n} {name}s" if n > 1 else name
    return f"{bucket_s} s"


def nice_step(top: float, ticks: int = 5) -> int:
    """A whole-number tick step giving about `ticks` ticks up to `top`: 1, 2, 5, 10, 20, ..."""
    raw = max(top, 1) / ticks
    step = 1
    while True:
        for m in (1, 2, 5):
            if step * m >= raw:
                return step * m
        step *= 10


def count_axis(fig: go.Figure, top: float, axis: str = "yaxis") -> go.Figure:
    """Counts read as whole numbers: from zero, integer steps, no "2,719.5" (plotly picks
    half steps on short ranges and starts near the data)."""
    fig.update_layout(
        {axis: {"rangemode": "tozero", "tickformat": ",d", "tick0": 0, "dtick": nice_step(top)}}
    )
    return fig


def stacked_top(rows: Iterable[Mapping[str, Any]], x: str, y: str) -> int:
    """The tallest stack: the largest sum of `y` over rows sharing an `x`."""
    sums: dict[Any, int] = {}
    for r in rows:
        sums[r[x]] = sums.get(r[x], 0) + int(r[y] or 0)
    return max(sums.values(), default=0)


def span_buckets(bucket_s: int) -> dict[str, Any]:
    """Bar settings so a bar covers its bucket [start, start + bucket) on a date axis instead
    of being centred on the bucket's start (a day's bar then sits over its own day, and an
    event's shading lines up with the bars it caused)."""
    return {"offset": 0, "width": bucket_s * 1000 * 0.92}


def base_layout(fig: go.Figure, title: str, x_title: str, y_title: str) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0.0, "xanchor": "left"},
        xaxis_title=x_title,
        yaxis_title=y_title,
        margin={"l": 60, "r": 20, "t": 60, "b": 50},
        legend={"orientation": "h", "y": -0.2},
        template="plotly_white",
        hovermode="x unified",
    )
    return fig


def add_events(
    fig: go.Figure, events: Iterable[Mapping[str, Any]], tz: str, lo: int, hi: int
) -> go.Figure:
    """Shade each event overlapping [lo, hi) and name it at the top of the chart."""
    for e in events:
        s, t = int(e["start_ts"]), int(e["end_ts"])
        if t <= lo or s >= hi:
            continue
        fig.add_vrect(
            x0=local(max(s, lo), tz),
            x1=local(min(t, hi), tz),
            fillcolor=EVENT_FILL,
            line_width=0,
            layer="below",
            annotation_text=str(e["name"])[:40],
            annotation_position="top left",
            annotation_font_size=11,
        )
    return fig


def time_axis_title(tz: str) -> str:
    return f"Time ({tz})"


def colour_for(platform: str) -> str:
    return PLATFORM_COLOURS.get(platform, "#888888")


def ordered_platforms(rows: Sequence[Mapping[str, Any]], key: str = "platform") -> list[str]:
    seen = {r[key] for r in rows}
    return [p for p in PLATFORM_COLOURS if p in seen] + sorted(seen - set(PLATFORM_COLOURS))
