"""The live wall, for projection in the room.

Full screen without Streamlit's chrome: `/wall?embed=true`. `mode=cards|pulse|both` picks what
is shown (default from the `[wall]` config or the moderator page). Moderation happens on the
separate moderator page; nothing here can change what is shown.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

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
from storage.queries import wall as q

MODES = ("cards", "pulse", "both")

config = wall_common.settings()
engine = wall_common.engine()
embed = bool(st.context.is_embedded)  # `?embed=true`; Streamlit hides it from query_params
st.html(wall_css(embed=embed))

requested = st.query_params.get("mode", "")
discoverable_opt_out = config.ethics.discoverable_false_is_opt_out


PROBE_S = 1.0


def build(now: datetime) -> dict[str, Any]:
    """Everything the wall shows, as markup and a figure (queried once per change/refresh)."""
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
            conn,
            s,
            now=now,
            state=state,
            discoverable_false_is_opt_out=discoverable_opt_out,
            figures_only=mode == "cards",
        )
    f = pv.figures
    n_platforms = len(f.platforms_today)
    counters = [
        ("post today" if f.mentions_today == 1 else "posts today", f.mentions_today),
        ("person" if f.people_today == 1 else "people", f.people_today),
        ("platform" if n_platforms == 1 else "platforms", n_platforms),
    ]
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
    return {
        "mode": mode,
        "refresh_s": s.refresh_s,
        "header": header_html(s.title, s.hashtag, s.where_to_post, counters),
        "cards": cards_html(cards),
        "tiles": tiles,
        "figure": volume_figure(pv.volume, now, s.timezone) if mode != "cards" else None,
    }


def chart(view: dict[str, Any]) -> None:
    st.plotly_chart(view["figure"], config={"displayModeBar": False}, theme=None, key="gs-volume")


@st.fragment(run_every=PROBE_S)
def live() -> None:
    """Probe every second, rebuild when something changed or every `refresh_s` seconds.

    New posts and moderators' decisions reach the wall within about a second; relative times
    and the pulse are refreshed every `refresh_s` (default 3 s). Unchanged markup is re-sent
    as is, which the browser does not repaint, so the wall never flickers.
    """
    now = datetime.now(UTC)
    with engine.connect() as conn:
        version = q.wall_version(conn, config.wall.id, since_ts=int(now.timestamp()) - 3600)
    cached = st.session_state.get("gs_wall_view")
    if (
        cached is None
        or cached["version"] != version
        or time.monotonic() - cached["built"] >= cached["refresh_s"]
    ):
        cached = {**build(now), "version": version, "built": time.monotonic()}
        st.session_state["gs_wall_view"] = cached
    st.html(cached["header"])
    if cached["mode"] == "cards":
        st.html(cached["cards"])
    elif cached["mode"] == "pulse":
        st.html(cached["tiles"])
        chart(cached)
    else:
        left, right = st.columns([2, 1], gap="large")
        with left:
            st.html(cached["cards"])
        with right:
            st.html(cached["tiles"])
            chart(cached)


live()
