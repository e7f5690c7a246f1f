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


def _white_template() -> go.layout.Template:
    """plotly's "plotly_white" look for the traces and axes these charts use (bar, scatter,
    pie; 2-D axes), without its defaults for 3-D scenes, maps, polar plots and colour scales:
    assigning the whole template deep-copied and validated ~7 KB per figure (~15 ms each, a
    quarter of a Spread view's server time) and sent it to the browser with every chart."""
    import plotly.io as pio

    full = pio.templates["plotly_white"]
    keep = {"bar", "scatter", "pie"}
    drop = {"colorscale", "coloraxis", "geo", "polar", "ternary", "scene", "mapbox"}
    layout = {k: v for k, v in full.layout.to_plotly_json().items() if k not in drop}
    data = {k: v for k, v in full.data.to_plotly_json().items() if k in keep}
    return go.layout.Template(layout=layout, data=data)


WHITE = _white_template()


def base_layout(fig: go.Figure, title: str, x_title: str, y_title: str) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0.0, "xanchor": "left"},
        xaxis_title=x_title,
        yaxis_title=y_title,
        margin={"l": 60, "r": 20, "t": 60, "b": 50},
        # The legend at the figure's foot, below the axis title: placed in the plot's own
        # coordinates (y=-0.2) it ran into "Time (UTC)" when a two-line title shrank the plot
        # (Amplifiers' widening chart in a half-width column).
        legend={"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom"},
        template=WHITE,
        hovermode="x unified",
    )
    return fig


def add_events(
    fig: go.Figure, events: Iterable[Mapping[str, Any]], tz: str, lo: int, hi: int
) -> go.Figure:
    """Shade each event overlapping [lo, hi) and name it at the top of the chart.

    The shapes and labels `add_vrect(..., annotation_position="top left")` makes, written
    directly: add_vrect works out the subplot grid for every call, about 10 ms per event."""
    shapes, labels = [], []
    for e in events:
        s, t = int(e["start_ts"]), int(e["end_ts"])
        if t <= lo or s >= hi:
            continue
        x0, x1 = local(max(s, lo), tz), local(min(t, hi), tz)
        shapes.append(
            {
                "type": "rect",
                "xref": "x",
                "yref": "y domain",
                "x0": x0,
                "x1": x1,
                "y0": 0,
                "y1": 1,
                "fillcolor": EVENT_FILL,
                "line": {"width": 0},
                "layer": "below",
            }
        )
        labels.append(
            {
                "text": str(e["name"])[:40],
                "xref": "x",
                "yref": "y domain",
                "x": x0,
                "y": 1,
                "xanchor": "left",
                "yanchor": "top",
                "showarrow": False,
                "font": {"size": 11},
            }
        )
    if shapes:
        fig.update_layout(
            shapes=[*fig.layout.shapes, *shapes], annotations=[*fig.layout.annotations, *labels]
        )
    return fig


def time_axis_title(tz: str) -> str:
    return f"Time ({tz})"


def colour_for(platform: str) -> str:
    return PLATFORM_COLOURS.get(platform, "#888888")


def ordered_platforms(rows: Sequence[Mapping[str, Any]], key: str = "platform") -> list[str]:
    seen = {r[key] for r in rows}
    return [p for p in PLATFORM_COLOURS if p in seen] + sorted(seen - set(PLATFORM_COLOURS))
