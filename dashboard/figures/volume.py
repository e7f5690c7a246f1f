"""Mentions per interval by platform (stacked), with events shaded."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from dashboard.figures.common import (
    add_events,
    base_layout,
    bucket_label,
    colour_for,
    count_axis,
    local,
    ordered_platforms,
    span_buckets,
    stacked_top,
    time_axis_title,
)


def volume_figure(
    rows: Sequence[Mapping[str, Any]],
    *,
    bucket_s: int,
    tz: str,
    events: Sequence[Mapping[str, Any]] = (),
    lo: int = 0,
    hi: int = 2**62,
    title: str = "Mentions by platform",
) -> go.Figure:
    """A stacked bar per bucket; `rows` as returned by `overview.volume_by_platform`."""
    fig = go.Figure()
    for p in ordered_platforms(rows):
        mine = [r for r in rows if r["platform"] == p]
        fig.add_bar(
            x=[local(r["bucket_ts"], tz) for r in mine],
            y=[r["mentions"] for r in mine],
            name=p,
            marker_color=colour_for(p),
            hovertemplate=f"{p}: %{{y}}<extra></extra>",
            **span_buckets(bucket_s),
        )
    fig.update_layout(barmode="stack", bargap=0.05)
    unit = bucket_label(bucket_s)
    base_layout(fig, f"{title} (per {unit})", time_axis_title(tz), f"Mentions per {unit}")
    count_axis(fig, stacked_top(rows, "bucket_ts", "mentions"))
    return add_events(fig, events, tz, lo, hi)
