"""Spread figures: cumulative authors, federation footprint, crossing times, cascade trees."""

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
    time_axis_title,
)
from domain.sanitize import clean_text

KIND_COLOURS = {
    "post": "#222222",
    "reply": "#2a9d8f",
    "quote": "#e07a1f",
    "repost": "#1185fe",
    "boost": "#6364ff",
}


def cumulative_authors_figure(
    rows: Sequence[Mapping[str, Any]],
    *,
    tz: str,
    events: Sequence[Mapping[str, Any]] = (),
    lo: int = 0,
    hi: int = 2**62,
) -> go.Figure:
    fig = go.Figure(
        go.Scatter(
            x=[local(r["bucket_ts"], tz) for r in rows],
            y=[r["cumulative"] for r in rows],
            mode="lines+markers",
            line_shape="hv",
            name="unique authors",
            line_color="#264653",
        )
    )
    base_layout(
        fig,
        "Unique authors so far (cumulative)",
        time_axis_title(tz),
        "Authors (count)",
    )
    count_axis(fig, max((r["cumulative"] for r in rows), default=0))
    return add_events(fig, events, tz, lo, hi)


def footprint_figure(
    fp: Mapping[str, Any],
    *,
    tz: str,
    lo: int,
    hi: int,
    events: Sequence[Mapping[str, Any]] = (),
) -> go.Figure:
    """Step lines of instances and blog sites reached, starting from what was reached before."""
    fig = go.Figure()
    names = {"mastodon": "Mastodon instances", "blog": "Blog sites"}
    for kind, before in fp["before"].items():
        mine = [r for r in fp["rows"] if r["kind"] == kind]
        xs = [local(lo, tz)] + [local(r["bucket_ts"], tz) for r in mine] + [local(hi, tz)]
        last = mine[-1]["cumulative"] if mine else before
        ys = [before] + [r["cumulative"] for r in mine] + [last]
        fig.add_scatter(
            x=xs, y=ys, mode="lines", line_shape="hv", name=names[kind], line_color=colour_for(kind)
        )
    base_layout(
        fig,
        "Federation footprint: places reached (cumulative)",
        time_axis_title(tz),
        "Places reached (count)",
    )
    tops = [*fp["before"].values(), *(r["cumulative"] for r in fp["rows"])]
    count_axis(fig, max(tops, default=0))
    return add_events(fig, events, tz, lo, hi)


def crossing_figure(rows: Sequence[Mapping[str, Any]], *, tz: str) -> go.Figure:
    """One marker per platform at its first mention; hover tells the delay from the first."""
    fig = go.Figure()
    for r in rows:
        h = r["after_first_s"] / 3600
        fig.add_scatter(
            x=[local(r["first_ts"], tz)],
            y=[r["platform"]],
            mode="markers+text",
            marker={"size": 16, "color": colour_for(r["platform"])},
            text=[f"+{h:.1f} h" if r["after_first_s"] else "first"],
            textposition="middle right",
            name=r["platform"],
            showlegend=False,
        )
    base_layout(fig, "When the conversation reached each platform", time_axis_title(tz), "Platform")
    fig.update_layout(height=80 + 50 * max(1, len(rows)), hovermode="closest")
    return fig


def cascade_histogram(hist: Sequence[Mapping[str, Any]]) -> go.Figure:
    sizes: dict[int, int] = {}
    for r in hist:
        sizes[r["size"]] = sizes.get(r["size"], 0) + r["cascades"]
    fig = go.Figure(go.Bar(x=list(sizes), y=list(sizes.values()), marker_color="#2a9d8f"))
    base_layout(
        fig, "Cascade sizes", "Cascade size (posts and reposts, incl. root)", "Cascades (count)"
    )
    fig.update_layout(hovermode="closest")
    count_axis(fig, max(sizes.values(), default=0))
    return fig


def tree_layout(nodes: Sequence[Mapping[str, Any]]) -> dict[Any, tuple[float, float]]:
    """x = depth, y = order of leaves (a tidy layout with no graphviz)."""
    children: dict[Any, list[Any]] = {}
    root = None
    for n in nodes:
        if n["parent"] is None:
            root = n["id"]
        else:
            children.setdefault(n["parent"], []).append(n["id"])
    pos: dict[Any, tuple[float, float]] = {}
    depth = {n["id"]: n["depth"] for n in nodes}
    counter = [0.0]

    def place(n: Any) -> float:
        kids = children.get(n, [])
        if not kids:
            y = counter[0]
            counter[0] += 1
        else:
            ys = [place(k) for k in kids]
            y = sum(ys) / len(ys)
        pos[n] = (float(depth[n]), y)
        return y

    if root is not None:
        import sys

        sys.setrecursionlimit(max(sys.getrecursionlimit(), 5000))
        place(root)
    return pos


FAN_NAMES = {"repost": ("repost", "reposts"), "boost": ("boost", "boosts")}


def tree_title(tree: Mapping[str, Any], rank: int) -> str:
    """ "#1: 214 posts and reposts, 3 steps deep" and, under it, who started the tree and its
    opening words (escaped: a post's text is hostile; plotly titles take a little HTML)."""
    size, depth = int(tree["size"]), int(tree["depth"])
    head = f"#{rank}: {size:,} posts and reposts, {depth} step{'s' * (depth != 1)} deep"
    started = tree.get("started_by") or {}
    if started.get("withheld"):  # deleted or opted out: counted, never named or quoted
        return f"{head}<br><sup>started by a post not shown here</sup>"
    who = clean_text(started.get("author") or "") or "someone"
    words = clean_text(started.get("text") or "").replace("\n", " ")
    words = words if len(words) <= 60 else words[:59].rsplit(" ", 1)[0] + "…"
    quote = f": “{escape(words)}”" if words else ""
    return f"{head}<br><sup>started by {escape(who[:40])}{quote}</sup>"


def tree_figure(tree: Mapping[str, Any], title: str) -> go.Figure:
    """Each post a dot at its depth (whole steps from the original post); the reposts or
    boosts of a post one counted fan ("212 boosts"), sized by its count."""
    nodes = tree["nodes"]
    pos = tree_layout(nodes)
    ex: list[Any] = []
    ey: list[Any] = []
    for n in nodes:
        if n["parent"] is not None and n["parent"] in pos and n["id"] in pos:
            (x0, y0), (x1, y1) = pos[n["parent"]], pos[n["id"]]
            ex += [x0, x1, None]
            ey += [y0, y1, None]
    fig = go.Figure(
        go.Scatter(
            x=ex,
            y=ey,
            mode="lines",
            line={"color": "#bbbbbb", "width": 1},
            hoverinfo="skip",
            showlegend=False,
        )
    )
    for kind, colour in KIND_COLOURS.items():
        mine = [n for n in nodes if n["kind"] == kind and n["id"] in pos]
        if not mine:
            continue
        counts = [int(n.get("count") or 1) for n in mine]
        one, many = FAN_NAMES.get(kind, (kind, f"{kind}s"))
        labels = [f"{c:,} {one if c == 1 else many}" if kind in FAN_NAMES else "" for c in counts]
        fig.add_scatter(
            x=[pos[n["id"]][0] for n in mine],
            y=[pos[n["id"]][1] for n in mine],
            mode="markers+text" if kind in FAN_NAMES else "markers",
            marker={"size": [9 + 4 * math.log2(c) for c in counts], "color": colour},
            name=kind,
            text=labels if kind in FAN_NAMES else None,
            textposition="middle right",
            hovertext=[
                f"{lbl or kind} on {n['platform'] or '?'}"
                for lbl, n in zip(labels, mine, strict=True)
            ],
            hoverinfo="text",
        )
    base_layout(fig, title, "Depth (steps from the original post)", "")
    top = max((int(n["depth"]) for n in nodes), default=0)
    fig.update_layout(
        hovermode="closest",
        yaxis={"showticklabels": False, "showgrid": False, "zeroline": False},
        xaxis={
            "tick0": 0,
            "dtick": 1,
            "tickformat": "d",
            "range": [-0.3, top + 0.9],  # room for the fans' counts
        },
    )
    return fig


# A tree with more posts than this (reposts and boosts are counted fans, not posts) is drawn
# as an icicle: the node-link drawing of hundreds of replies is a smear of dots at 1280 px.
ICICLE_FROM_POSTS = 40


def is_large(tree: Mapping[str, Any]) -> bool:
    return sum(1 for n in tree["nodes"] if n["kind"] not in FAN_NAMES) > ICICLE_FROM_POSTS


def cascade_figure(tree: Mapping[str, Any], title: str) -> go.Figure:
    """The drawing that reads for this tree's size: node-link up to ICICLE_FROM_POSTS posts,
    an icicle above."""
    return cascade_icicle(tree, title) if is_large(tree) else tree_figure(tree, title)


LEAF_NAMES = {"reply": ("reply", "replies"), "quote": ("quote", "quotes")}
# Siblings of one kind with nothing under them, from this many on, are one counted box: 70
# replies that drew no reply are 70 slivers one pixel high otherwise.
GROUP_LEAVES_FROM = 4


def _grouped_leaves(nodes: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The nodes with each post's unanswered replies (and quotes) folded into one counted
    node per kind ("70 replies") when there are GROUP_LEAVES_FROM or more of them."""
    has_children = {n["parent"] for n in nodes if n["parent"] is not None}
    leaves: dict[tuple[Any, str], list[Mapping[str, Any]]] = {}
    for n in nodes:
        if n["kind"] in LEAF_NAMES and n["id"] not in has_children:
            leaves.setdefault((n["parent"], n["kind"]), []).append(n)
    folded = {id(n) for group in leaves.values() if len(group) >= GROUP_LEAVES_FROM for n in group}
    out = [dict(n) for n in nodes if id(n) not in folded]
    for (parent, kind), group in leaves.items():
        if len(group) >= GROUP_LEAVES_FROM:
            platforms = {g.get("platform") for g in group}
            out.append({"id": (parent, f"{kind}-leaves"), "parent": parent,
                        "depth": group[0]["depth"], "kind": kind, "count": len(group),
                        "platform": platforms.pop() if len(platforms) == 1 else None})  # fmt: skip
    return out


def cascade_icicle(tree: Mapping[str, Any], title: str) -> go.Figure:
    """The tree as an icicle: the original post on the left, each step one column to the
    right, every post's box as tall as its branch (itself, its replies and quotes, their
    reposts and boosts), a post's reposts or boosts one counted box ("212 boosts")."""
    nodes = _grouped_leaves(tree["nodes"])
    ids = {n["id"]: str(i) for i, n in enumerate(nodes)}
    total: dict[Any, int] = {n["id"]: int(n.get("count") or 1) for n in nodes}
    # Deepest first, so each branch is summed before its parent takes it.
    for n in sorted(nodes, key=lambda n: -int(n["depth"])):
        if n["parent"] is not None and n["parent"] in total:
            total[n["parent"]] += total[n["id"]]
    labels, hover = [], []
    for n in nodes:
        c = int(n.get("count") or 1)
        if n["kind"] in FAN_NAMES or c > 1:
            one, many = {**FAN_NAMES, **LEAF_NAMES}.get(n["kind"], (n["kind"], n["kind"]))
            label = f"{c:,} {one if c == 1 else many}"
        elif n["parent"] is None:
            label = "original post"
        else:
            label = n["kind"]
        labels.append(label)
        where = f" on {n['platform']}" if n.get("platform") else ""
        hover.append(f"{label}{where}<br>{total[n['id']]:,} in this branch")
    fig = go.Figure(
        go.Icicle(
            ids=[ids[n["id"]] for n in nodes],
            parents=[ids.get(n["parent"], "") if n["parent"] is not None else "" for n in nodes],
            labels=labels,
            values=[total[n["id"]] for n in nodes],
            branchvalues="total",
            marker={"colors": [KIND_COLOURS.get(n["kind"], "#888888") for n in nodes]},
            hovertext=hover,
            hoverinfo="text",
            textinfo="label+value",
            tiling={"orientation": "h"},
            sort=False,
        )
    )
    drawn = sum(total[n["id"]] for n in nodes if n["parent"] is None)
    note = f" (the first {drawn:,} of {int(tree['size']):,} drawn)" if drawn < tree["size"] else ""
    head, br, rest = title.partition("<br>")
    base_layout(fig, head + note + br + rest, "", "")
    fig.update_layout(hovermode="closest", margin={"l": 10, "r": 10, "t": 70, "b": 10})
    return fig
