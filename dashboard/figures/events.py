"""Event figures: lift per event, and one event's volume against its baseline window."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from dashboard.figures.common import base_layout, local
from dashboard.figures.volume import volume_figure


def lift_figure(reports: Sequence[Mapping[str, Any]]) -> go.Figure:
    """Lift per event; events with no baseline mentions are marked "new" at height 0."""
    names = [str(r["name"])[:40] for r in reports]
    fig = go.Figure(
        go.Bar(
            x=names,
            y=[r["lift"] or 0 for r in reports],
            text=[f"{r['lift']:.1f}×" if r["lift"] is not None else "new" for r in reports],
            textposition="outside",
            marker_color=["#e76f51" if (r["lift"] or 0) >= 1 else "#a8dadc" for r in reports],
        )
    )
    if len(reports) < 5:
        fig.update_traces(width=0.35)
    fig.add_hline(y=1, line_dash="dot", annotation_text="baseline (1×)")
    base_layout(
        fig,
        "Lift per event (rate during ÷ rate in the equally long window before)",
        "Event",
        "Lift (×)",
    )
    fig.update_layout(hovermode="closest")
    return fig


def event_window_figure(
    around: Mapping[str, Any], event: Mapping[str, Any], report: Mapping[str, Any], tz: str
) -> go.Figure:
    """Volume from the baseline window through the after-glow, event and baseline shaded."""
    fig = volume_figure(
        around["rows"],
        bucket_s=around["bucket_s"],
        tz=tz,
        events=[event],
        lo=around["lo"],
        hi=around["hi"],
        title=f"{str(event['name'])[:60]}: before, during and after",
    )
    s, e = int(event["start_ts"]), int(event["end_ts"])
    fig.add_vrect(
        x0=local(s - (e - s), tz),
        x1=local(s, tz),
        fillcolor="rgba(120,120,120,0.12)",
        line_width=0,
        layer="below",
        annotation_text="baseline",
        annotation_position="top right",
    )
    if report.get("afterglow_hours"):
        fig.add_vrect(
            x0=local(e, tz),
            x1=local(e + 3600 * report["afterglow_hours"], tz),
            fillcolor="rgba(231,111,81,0.12)",
            line_width=0,
            layer="below",
            annotation_text="after-glow",
            annotation_position="top right",
        )
    return fig
