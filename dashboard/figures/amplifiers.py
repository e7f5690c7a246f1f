"""Amplifier figures: the interactive network, new voices per day, widening."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

import plotly.graph_objects as go

from dashboard.figures.common import (
    add_events,
    base_layout,
    colour_for,
    count_axis,
    local,
    ordered_platforms,
    span_buckets,
    stacked_top,
    time_axis_title,
)
from domain.sanitize import clean_text

COMMUNITY_COLOURS = ("#264653", "#2a9d8f", "#e9c46a", "#f4a261", "#e76f51", "#6a4c93")


LABELLED = 8  # top accounts by amplification received named on the network chart


def network_figure(net: Mapping[str, Any], colour_by: str = "platform") -> go.Figure:
    """Nodes sized by amplification received, coloured by platform or community; hover names
    the account (opted-out accounts are anonymous)."""
    nodes = {n["id"]: n for n in net["nodes"]}
    ex: list[Any] = []
    ey: list[Any] = []
    for e in net["edges"]:
        s, t = nodes.get(e["source"]), nodes.get(e["target"])
        if s and t:
            ex += [s["x"], t["x"], None]
            ey += [s["y"], t["y"], None]
    fig = go.Figure(
        go.Scatter(
            x=ex,
            y=ey,
            mode="lines",
            line={"color": "rgba(120,120,120,0.35)", "width": 1},
            hoverinfo="skip",
            showlegend=False,
        )
    )
    biggest = max((n["received"] for n in net["nodes"]), default=1) or 1
    if colour_by == "community":
        groups = sorted({n["community"] for n in net["nodes"]})
        key = "community"
    else:
        groups = ordered_platforms(net["nodes"])
        key = "platform"
    for g in groups:
        mine = [n for n in net["nodes"] if n[key] == g]
        colour = (
            COMMUNITY_COLOURS[g % len(COMMUNITY_COLOURS)]
            if key == "community"
            else colour_for(str(g))
        )
        fig.add_scatter(
            x=[n["x"] for n in mine],
            y=[n["y"] for n in mine],
            mode="markers",
            name=f"community {g + 1}" if key == "community" else str(g),
            marker={
                "size": [8 + 32 * (n["received"] / biggest) ** 0.5 for n in mine],
                "color": colour,
                "line": {"width": 0.5, "color": "white"},
            },
            text=[
                f"{escape(clean_text(n['label'])[:80])}<br>{n['platform']} · received "
                f"{n['received']}"
                f" · given {n['given']}"
                for n in mine
            ],
            hoverinfo="text",
        )
    # The accounts a reader looks for first carry their names on the chart (hover for the
    # rest); opted-out accounts are never named.
    top = sorted(
        (n for n in net["nodes"] if not n.get("opted_out") and n["received"] > 0),
        key=lambda n: (-n["received"], str(n["id"])),
    )[:LABELLED]
    if top:
        fig.add_scatter(
            x=[n["x"] for n in top],
            y=[n["y"] for n in top],
            mode="text",
            text=[escape(clean_text(n.get("name") or n["label"])[:30]) for n in top],
            textposition="top center",
            textfont={"size": 12, "color": "#222222"},
            hoverinfo="skip",
            showlegend=False,
            name="labels",
        )
    base_layout(
        fig,
        "Amplification network (node size = amplification received)",
        "",
        "",
    )
    fig.update_layout(
        hovermode="closest",
        height=560,
        xaxis={"showticklabels": False, "showgrid": False, "zeroline": False},
        yaxis={"showticklabels": False, "showgrid": False, "zeroline": False},
    )
    return fig


def new_voices_figure(
    rows: Sequence[Mapping[str, Any]],
    *,
    tz: str,
    events: Sequence[Mapping[str, Any]] = (),
    lo: int = 0,
    hi: int = 2**62,
) -> go.Figure:
    fig = go.Figure()
    for p in ordered_platforms(rows):
        mine = [r for r in rows if r["platform"] == p]
        fig.add_bar(
            x=[local(r["bucket_ts"], "UTC") for r in mine],
            y=[r["authors"] for r in mine],
            name=p,
            marker_color=colour_for(p),
            **span_buckets(86_400),
        )
    fig.update_layout(barmode="stack")
    base_layout(fig, "New voices per day", "Day (UTC)", "First-time authors per day")
    count_axis(fig, stacked_top(rows, "bucket_ts", "authors"))
    return add_events(fig, events, "UTC", lo, hi)


def widening_figure(
    rows: Sequence[Mapping[str, Any]],
    *,
    tz: str,
    events: Sequence[Mapping[str, Any]] = (),
    lo: int = 0,
    hi: int = 2**62,
) -> go.Figure:
    """Stacked first-time/returning authors, with instances and platforms on a second axis."""
    xs = [local(r["bucket_ts"], tz) for r in rows]
    mid = [local(r["bucket_ts"] + 43_200, tz) for r in rows]  # the lines' points mid-day
    day = span_buckets(86_400)
    fig = go.Figure()
    fig.add_bar(
        x=xs,
        y=[r["first_time"] for r in rows],
        name="first-time authors",
        marker_color="#2a9d8f",
        **day,
    )
    fig.add_bar(
        x=xs,
        y=[r["returning"] for r in rows],
        name="returning authors",
        marker_color="#a8dadc",
        **day,
    )
    fig.add_scatter(
        x=mid,
        y=[r["instances"] for r in rows],
        name="Mastodon instances active",
        yaxis="y2",
        mode="lines+markers",
        line_color=colour_for("mastodon"),
    )
    fig.add_scatter(
        x=mid,
        y=[r["platforms"] for r in rows],
        name="platforms active",
        yaxis="y2",
        mode="lines+markers",
        line_color="#e07a1f",
    )
    # Whole-number ticks: with plotly's own steps (2.5) and "d" labels, 7.5 read as "8" beside
    # a line at 9.
    top = max((max(r["instances"], r["platforms"]) for r in rows), default=1)
    fig.update_layout(
        barmode="stack",
        yaxis2={
            "title": "Instances / platforms (count)",
            "overlaying": "y",
            "side": "right",
            "rangemode": "tozero",
            "tickformat": "d",
            "dtick": max(1, math.ceil(top / 5)),
            "showgrid": False,
        },
    )
    base_layout(
        fig,
        # Two lines: the figure sits in a half-width column, where one line was cut off.
        "Is the conversation widening?<br><sup>First-time vs returning authors per day</sup>",
        time_axis_title(tz),
        "Authors per day",
    )
    count_axis(fig, max((r["first_time"] + r["returning"] for r in rows), default=0))
    return add_events(fig, events, tz, lo, hi)
