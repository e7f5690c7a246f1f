"""The pulse's rolling volume chart, styled for projection (pure: data in, figure out)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import plotly.graph_objects as go

from dashboard.wall_html import ACCENT, BG, MUTED, PLATFORM_COLOURS, TEXT
from groundswell.moderation import PLATFORM_LABELS

GRID = "#2a3350"


def volume_figure(
    volume: list[tuple[int, str, int]], now: datetime, timezone: str = "UTC", minutes: int = 60
) -> go.Figure:
    """Posts per minute over the last `minutes`, stacked by platform, in the wall's zone."""
    zone = ZoneInfo(timezone)

    def local(ts: float) -> datetime:
        return datetime.fromtimestamp(ts, zone).replace(tzinfo=None)

    fig = go.Figure()
    for platform in sorted({p for _, p, _ in volume}):
        label = PLATFORM_LABELS.get(platform, platform.title())
        pts = [(local(t + 30), n) for t, p, n in volume if p == platform]
        fig.add_bar(
            x=[t for t, _ in pts],
            y=[n for _, n in pts],
            name=label,
            width=54_000,  # ms: one minute wide with a small gap
            marker_color=PLATFORM_COLOURS.get(label, ACCENT),
            hoverinfo="skip",
        )
    end = local(now.timestamp())
    fig.update_layout(
        barmode="stack",
        height=320,
        margin={"l": 60, "r": 20, "t": 50, "b": 40},
        paper_bgcolor=BG,
        plot_bgcolor=BG,
        font={"color": TEXT, "size": 18},
        title={"text": f"Posts per minute, last {minutes} minutes", "font": {"size": 24}},
        legend={"orientation": "h", "y": 1.12, "x": 1, "xanchor": "right"},
        xaxis={
            "range": [end - timedelta(minutes=minutes), end],
            "type": "date",
            "tickformat": "%H:%M",
            "gridcolor": GRID,
            "color": MUTED,
        },
        yaxis={"gridcolor": GRID, "color": MUTED, "rangemode": "tozero", "tickformat": "d"},
        showlegend=True,
    )
    return fig
