"""The live wall, for projection in the room.

Full screen without Streamlit's chrome: `/wall?embed=true`. `mode=cards|pulse|both` picks what
is shown (default from the `[wall]` config or the moderator page). Moderation happens on the
separate moderator page; nothing here can change what is shown.
"""

from __future__ import annotations

from datetime import UTC, datetime

import plotly.graph_objects as go
import streamlit as st

from dashboard import wall_common
from dashboard.wall_html import (
    ACCENT,
    BG,
    MUTED,
    PLATFORM_COLOURS,
    TEXT,
    cards_html,
    header_html,
    pulse_tiles_html,
    wall_css,
)
from groundswell.moderation import PLATFORM_LABELS
from groundswell.wall import effective_settings, moderation_state, pulse_view, wall_cards

MODES = ("cards", "pulse", "both")

config = wall_common.settings()
engine = wall_common.engine()
embed = st.query_params.get("embed", "").lower() == "true"
st.html(wall_css(embed=embed))

with engine.connect() as conn:
    start_settings = effective_settings(conn, config.wall)
requested = st.query_params.get("mode", "")
discoverable_opt_out = config.ethics.discoverable_false_is_opt_out


def volume_figure(volume: list[tuple[int, str, int]], now: datetime) -> go.Figure:
    """Posts per minute over the last hour, stacked by platform, in the wall's colours."""
    fig = go.Figure()
    for platform in sorted({p for _, p, _ in volume}):
        label = PLATFORM_LABELS.get(platform, platform.title())
        pts = [(datetime.fromtimestamp(t, UTC), n) for t, p, n in volume if p == platform]
        fig.add_bar(
            x=[t for t, _ in pts],
            y=[n for _, n in pts],
            name=label,
            marker_color=PLATFORM_COLOURS.get(label, ACCENT),
        )
    fig.update_layout(
        barmode="stack",
        height=300,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        paper_bgcolor=BG,
        plot_bgcolor=BG,
        font={"color": TEXT, "size": 18},
        title={"text": "Posts per minute, last hour", "font": {"size": 22}},
        legend={"orientation": "h", "y": -0.2},
        xaxis={
            "range": [now.timestamp() * 1000 - 3_600_000, now.timestamp() * 1000],
            "type": "date",
            "gridcolor": "#2a3350",
            "color": MUTED,
        },
        yaxis={"gridcolor": "#2a3350", "color": MUTED, "rangemode": "tozero"},
    )
    return fig


@st.fragment(run_every=start_settings.refresh_s)
def live() -> None:
    now = datetime.now(UTC)
    with engine.connect() as conn:
        s = effective_settings(conn, config.wall)
        mode = requested if requested in MODES else s.mode
        state = moderation_state(conn, s)
        cards = (
            wall_cards(
                conn, s, now=now, state=state, discoverable_false_is_opt_out=discoverable_opt_out
            )
            if mode != "pulse"
            else []
        )
        pv = pulse_view(
            conn, s, now=now, state=state, discoverable_false_is_opt_out=discoverable_opt_out
        )
    f = pv.figures
    counters = [
        ("posts today", f.mentions_today),
        ("people", f.people_today),
        ("platforms", len(f.platforms_today)),
    ]
    st.html(header_html(s.title, s.hashtag, s.where_to_post, counters))
    tiles = pulse_tiles_html(
        mentions_10m=f.mentions_10m,
        mentions_today=f.mentions_today,
        new_voices_today=f.new_voices_today,
        people_today=f.people_today,
        platforms=f.platforms_today,
        instances_today=f.instances_today,
        top_instances=f.top_instances,
        amplifiers=pv.amplifiers,
    )
    if mode == "cards":
        st.html(cards_html(cards))
    elif mode == "pulse":
        st.html(tiles)
        st.plotly_chart(
            volume_figure(pv.volume, now), config={"displayModeBar": False}, key="gs-volume"
        )
    else:
        left, right = st.columns([2, 1], gap="large")
        with left:
            st.html(cards_html(cards))
        with right:
            st.html(tiles)
            st.plotly_chart(
                volume_figure(pv.volume, now), config={"displayModeBar": False}, key="gs-volume"
            )


live()
