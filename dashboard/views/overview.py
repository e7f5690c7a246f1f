"""Overview for comms teams: how big is the conversation now, and what changed."""

from __future__ import annotations

import time

import streamlit as st

from dashboard import data, ui
from dashboard.figures.volume import volume_figure
from dashboard.filters import sidebar_filters
from storage.queries.scope import Scope, pick_bucket

f = sidebar_filters()
scope = f.scope()
st.title("Overview")
st.caption(f.describe())

waiting = data.q("alerts.unacknowledged", scope, limit=5)  # docs/alerts.md
if waiting:
    st.warning(
        "**Unacknowledged alerts:** "
        + "; ".join(ui.short(a["title"], 120) for a in waiting)
        + " (the Alerts page has their evidence and acknowledges them)"
    )

changes = data.q("overview.headline_with_change", scope)
ui.metric_row(changes, ui.previous_period(scope.seconds))

bucket = pick_bucket(scope.seconds)
rows = data.q("overview.volume_by_platform", scope, bucket_s=bucket)
if rows:
    events = data.events(scope.movement_id)
    ui.plot(
        volume_figure,
        rows,
        bucket_s=bucket,
        tz=f.tz,
        events=events,
        lo=scope.start_ts,
        hi=scope.end_ts,
        key="overview_volume",
    )
else:
    ui.empty("No mentions in this range.", ui.RANGE_HINT)

st.subheader("Top posts")
posts = data.q("overview.top_posts", scope, limit=10)
if posts:
    ui.posts_table(posts, f.tz, key="overview_top")
else:
    ui.empty("No posts to show in this range.", ui.RANGE_HINT)

st.subheader("What travels with it")
st.caption(
    "What the mentions in this range link to and which other hashtags they carry, counted "
    "once per mention. Links count by their page (tracking parameters such as utm_* dropped); "
    "links to posts that are not shown (deleted, opted out) are left out of the list."
)
ui.shares_tables(data.q("shares.travels", scope, limit=10), key="overview_travels")


@st.fragment(run_every=60)
def last_hour() -> None:
    """Refreshes itself every minute without rerunning the page."""
    st.subheader("What changed in the last hour")
    now = int(time.time()) // 60 * 60 + 60
    hour = Scope(scope.movement_id, now - 3600, now, scope.platforms)
    data.rolls(hour, Scope(scope.movement_id, now + 60 - 3600, now + 60, scope.platforms))
    ch = data.q("overview.headline_with_change", hour)
    ui.metric_row(ch, "the hour before")
    places = data.q("overview.first_seen_places", hour)
    voices = data.q("overview.new_voices", hour, limit=10)
    left, right = st.columns(2)
    with left:
        if places:
            st.markdown("**Reached for the first time**")
            ui.small_table([{"Where": ui.short(p["place"], 80), "Kind": p["kind"]} for p in places])
        else:
            st.caption("No new platforms, instances or blogs in the last hour.")
    with right:
        if voices:
            st.markdown("**New voices**")
            ui.small_table(
                [
                    {
                        "Who": ui.short(v["display_name"] or v["handle"] or "", 60),
                        "Platform": v["platform"],
                        f"First ({f.tz})": ui.when(v["first_ts"], f.tz),
                    }
                    for v in voices
                ]
            )
        else:
            st.caption("No new voices in the last hour.")


last_hour()
