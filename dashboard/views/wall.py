"""The live wall, for projection in the room.

Full screen without Streamlit's chrome: `/wall?embed=true`. `mode=cards|pulse|both` picks what
is shown (default from the `[wall]` config or the moderator page). Moderation happens on the
separate moderator page; nothing here can change what is shown.
"""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from dashboard import wall_common
from dashboard.figures.wall_pulse import volume_figure
from dashboard.wall_html import (
    cards_html,
    header_html,
    pulse_tiles_html,
    wall_css,
)
from groundswell.wall import effective_settings, moderation_state, pulse_view, wall_cards

MODES = ("cards", "pulse", "both")

config = wall_common.settings()
engine = wall_common.engine()
embed = bool(st.context.is_embedded)  # `?embed=true`; Streamlit hides it from query_params
st.html(wall_css(embed=embed))

with engine.connect() as conn:
    start_settings = effective_settings(conn, config.wall)
requested = st.query_params.get("mode", "")
discoverable_opt_out = config.ethics.discoverable_false_is_opt_out


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
            volume_figure(pv.volume, now, s.timezone),
            config={"displayModeBar": False},
            theme=None,
            key="gs-volume",
        )
    else:
        left, right = st.columns([2, 1], gap="large")
        with left:
            st.html(cards_html(cards))
        with right:
            st.html(tiles)
            st.plotly_chart(
                volume_figure(pv.volume, now, s.timezone),
                config={"displayModeBar": False},
                theme=None,
                key="gs-volume",
            )


live()
