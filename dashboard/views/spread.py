"""Spread: how the conversation travels across platforms, instances and reply trees."""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard import data, ui
from dashboard.figures.spread import (
    cascade_figure,
    cascade_histogram,
    crossing_figure,
    cumulative_authors_figure,
    footprint_figure,
    is_large,
    tree_title,
)
from dashboard.figures.volume import volume_figure
from dashboard.filters import sidebar_filters
from storage.queries.scope import pick_bucket

f = sidebar_filters()
scope = f.scope()
st.title("Spread")
st.caption(f.describe())
events = data.events(scope.movement_id)
bucket = pick_bucket(scope.seconds)
lo, hi = scope.start_ts, scope.end_ts

rows = data.q("overview.volume_by_platform", scope, bucket_s=bucket)
if not rows:
    ui.empty("No mentions in this range, so nothing has spread yet.", ui.RANGE_HINT)
    st.stop()
ui.plot(
    volume_figure, rows, bucket_s=bucket, tz=f.tz, events=events, lo=lo, hi=hi, key="spread_volume"
)

left, right = st.columns(2)
with left:
    authors = data.q("spread.cumulative_authors", scope, bucket_s=bucket, by="person")
    if authors:
        ui.plot(
            cumulative_authors_figure,
            authors,
            tz=f.tz,
            events=events,
            lo=lo,
            hi=hi,
            key="spread_authors",
        )
    else:
        ui.empty("No authors known for these mentions.", ui.RANGE_HINT)
with right:
    fp = data.q("spread.footprint", scope, bucket_s=bucket)
    if fp["before"]:
        ui.plot(footprint_figure, fp, tz=f.tz, lo=lo, hi=hi, events=events, key="spread_footprint")
    else:
        ui.empty(
            "The footprint counts Mastodon instances and blog sites.",
            "Include mastodon or blog in the platform filter to see it.",
        )

st.subheader("Crossing between platforms")
crossing = data.q("spread.first_appearance", scope)
ui.plot(crossing_figure, crossing, tz=f.tz, key="spread_cross")
ui.small_table(
    [
        {
            "Platform": r["platform"],
            f"First mention in range ({f.tz})": ui.when(r["first_ts"], f.tz),
            "First mention ever": (
                f"before this range ({ui.when(r['first_ever_ts'], f.tz)})"
                if r.get("before_range")
                else "in this range"
            ),
            # Named only when a repost, quote, reply or link shows the crossing.
            "Came from": r["from_platform"] or "no evidence",
            "Hours after previous platform": round(r["after_previous_s"] / 3600, 1),
            "Hours after the first platform": round(r["after_first_s"] / 3600, 1),
        }
        for r in crossing
    ]
)
st.markdown("**People who carried it across** (one person posting on two or more platforms)")
carried = data.q("persons.carriers", scope)
if carried["people"]:
    ui.small_table(
        [
            {
                "Person": ("opted-out person" if r["opted_out"] else ui.short(r["name"] or "", 60)),
                "Accounts": "" if r["opted_out"] else ui.short(", ".join(r["handles"]), 80),
                f"Platforms, in the order they posted there ({f.tz})": " → ".join(
                    f"{p} {ui.when(ts, f.tz)}" for p, ts in r["platforms"]
                ),
            }
            for r in carried["people"]
        ]
    )
    if carried["count"] > len(carried["people"]):
        st.caption(f"The first {len(carried['people'])} of {carried['count']:,}.")
else:
    st.caption(
        "Nobody posted on two platforms in this range: no linked person's accounts were "
        "active on two of them (docs/people.md says how accounts are linked)."
    )
if fp["places"]:
    with st.expander(f"Places first reached in this range ({len(fp['places'])})"):
        ui.small_table(
            [
                {
                    "Place": ui.short(p["place"], 80),
                    "Kind": p["kind"],
                    f"First ({f.tz})": ui.when(p["first_ts"], f.tz),
                }
                for p in fp["places"]
            ]
        )


@st.fragment
def cascade_drawings(cas: dict[str, Any]) -> None:
    """The size histogram and the three largest trees, drawn when asked for: four Plotly
    figures (icicles for large trees) are half of this page's figures and most of its figure
    JSON, and the numbers above already answer "how far did it travel"
    (docs/benchmarks/pages.md). A fragment, so the switch reruns this section alone."""
    if not st.toggle(
        "Draw the cascades (sizes and the three largest trees)", key="spread_draw_cascades"
    ):
        return
    ui.plot(cascade_histogram, cas["histogram"], key="spread_cas_hist")
    if any(is_large(t) for t in cas["trees"]):
        st.caption(
            "Trees of more than a few dozen posts are drawn as icicles: the original post on the "
            "left, each step of replies and quotes one column to the right, each box as tall as "
            "its branch; a post's reposts or boosts are one box with their count."
        )
    cols = st.columns(len(cas["trees"]))
    for i, (col, tree) in enumerate(zip(cols, cas["trees"], strict=True)):
        with col:
            ui.plot(cascade_figure, tree, tree_title(tree, i + 1), key=f"spread_tree_{i}")


st.subheader("Cascades: replies, quotes and reposts")
st.caption(
    "The trees started by the movement's posts published in this range (and on the chosen "
    "platforms: the original post's), as large as they have grown by now: replies and quotes "
    "that came later count."
)
cas = data.q("spread.cascades", scope, top=3)
if not cas["count"]:
    ui.empty(
        "No reply, quote or repost cascades in this range.",
        "Cascades need amplification edges (reposts, boosts, replies, quotes); widen the range "
        "or check that the collectors fetch reposters and quotes.",
    )
else:
    ui.metrics(
        [
            ui.Metric("Cascades", f"{cas['count']:,}"),
            ui.Metric("Largest size", f"{cas['largest'][0]['size']:,}"),
            ui.Metric("Deepest", f"{max(x['depth'] for x in [*cas['largest'], *cas['trees']]):,}"),
        ]
    )
    cascade_drawings(cas)
