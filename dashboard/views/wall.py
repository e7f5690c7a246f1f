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
# The pulse (and the header's counters) aggregate the whole day: on a busy day (50,000 posts)
# that is 70-200 ms of queries (rollups and covering indexes), so they refresh on their own,
# slower clock, while the cards follow every change (bench/wall_queries.py,
# docs/benchmarks/wall.md).
PULSE_S = 10.0


def build_cards(now: datetime) -> dict[str, Any]:
    """The settings-dependent parts and the cards (queried on every change or `refresh_s`)."""
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
    return {"settings": s, "mode": mode, "state": state, "cards": cards_html(cards)}


def build_pulse(now: datetime, view: dict[str, Any]) -> dict[str, Any]:
    """The day's figures, tiles and chart (queried every `PULSE_S` at most)."""
    s, mode = view["settings"], view["mode"]
    with engine.connect() as conn:
        pv = pulse_view(
            conn,
            s,
            now=now,
            state=view["state"],
            discoverable_false_is_opt_out=discoverable_opt_out,
            figures_only=mode == "cards",
        )
    f = pv.figures
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
    figure = volume_figure(pv.volume, now, s.timezone) if mode != "cards" else None
    return {"figures": f, "tiles": tiles, "figure": figure, "mode": mode}


def header(view: dict[str, Any], pulse: dict[str, Any]) -> str:
    s, f = view["settings"], pulse["figures"]
    n_platforms = len(f.platforms_today)
    counters = [
        ("post today" if f.mentions_today == 1 else "posts today", f.mentions_today),
        ("person" if f.people_today == 1 else "people", f.people_today),
        ("platform" if n_platforms == 1 else "platforms", n_platforms),
    ]
    return header_html(s.title, s.hashtag, s.where_to_post, counters)


def chart(pulse: dict[str, Any]) -> None:
    st.plotly_chart(pulse["figure"], config={"displayModeBar": False}, theme=None, key="gs-volume")


@st.fragment(run_every=PROBE_S)
def live() -> None:
    """Probe every second; rebuild the cards when something changed or every `refresh_s`
    seconds, the pulse every `PULSE_S` seconds.

    New posts and moderators' decisions reach the wall within about a second; relative times
    are refreshed every `refresh_s` (default 3 s). Unchanged markup is re-sent as is, which
    the browser does not repaint, so the wall never flickers.
    """
    now = datetime.now(UTC)
    tick = time.monotonic()
    with engine.connect() as conn:
        version = q.wall_version(conn, config.wall.id, since_ts=int(now.timestamp()) - 3600)
    view = st.session_state.get("gs_wall_view")
    if (
        view is None
        or view["version"] != version
        or tick - view["built"] >= view["settings"].refresh_s
    ):
        view = {**build_cards(now), "version": version, "built": tick}
        st.session_state["gs_wall_view"] = view
    pulse = st.session_state.get("gs_wall_pulse")
    if pulse is None or pulse["mode"] != view["mode"] or tick - pulse["built"] >= PULSE_S:
        pulse = {**build_pulse(now, view), "built": tick}
        st.session_state["gs_wall_pulse"] = pulse
    st.html(header(view, pulse))
    if view["mode"] == "cards":
        st.html(view["cards"])
    elif view["mode"] == "pulse":
        st.html(pulse["tiles"])
        chart(pulse)
    else:
        left, right = st.columns([2, 1], gap="large")
        with left:
            st.html(view["cards"])
        with right:
            st.html(pulse["tiles"])
            chart(pulse)


live()
