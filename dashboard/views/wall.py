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
from dashboard.figures.wall_pulse import volume_svg
from dashboard.wall_html import (
    cards_html,
    footer_html,
    header_html,
    page_count,
    page_of,
    pulse_tiles_html,
    qr_data_uri,
    stage_html,
    wall_css,
)
from groundswell.wall import (
    effective_settings,
    hashtag_page,
    moderation_state,
    pulse_view,
    wall_cards,
)
from storage.queries import wall as q

MODES = ("cards", "pulse", "both")

config = wall_common.settings()
engine = wall_common.engine()
embed = bool(st.context.is_embedded)  # `?embed=true`; Streamlit hides it from query_params
st.html(wall_css(embed=embed))

requested = st.query_params.get("mode", "")
discoverable_opt_out = config.ethics.discoverable_false_is_opt_out
mastodon_urls = [i.base_url for i in config.mastodon.instances]


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
    return {"settings": s, "mode": mode, "state": state, "cards": cards}


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
    tiles = ""
    if mode != "cards":
        tiles = pulse_tiles_html(
            mentions_10m=f.mentions_10m,
            mentions_today=f.mentions_today,
            new_voices_today=f.new_voices_today,
            people_today=f.people_today,
            platforms=f.platforms_today,
            instances_today=f.instances_today,
            top_instances=f.top_instances,
            amplifiers=pv.amplifiers,
            chart_svg=volume_svg(pv.volume, now, s.timezone),
            compact=mode == "both",
        )
    return {"figures": f, "tiles": tiles, "mode": mode}


def header(view: dict[str, Any], pulse: dict[str, Any]) -> str:
    s, f = view["settings"], pulse["figures"]
    n_platforms = len(f.platforms_today)
    counters = [
        ("post today" if f.mentions_today == 1 else "posts today", f.mentions_today),
        ("person" if f.people_today == 1 else "people", f.people_today),
        ("platform" if n_platforms == 1 else "platforms", n_platforms),
    ]
    return header_html(s.title, counters)


def stage(view: dict[str, Any], pulse: dict[str, Any], wall_now: float) -> str:
    """The whole wall for this moment. Pages turn every `page_s` seconds from when the wall
    was opened (`wall_now` counts from then), so it opens on the newest and pinned posts and
    every card is shown once per rotation; the progress bar's animation starts where the page
    already is."""
    s, mode, cards = view["settings"], view["mode"], view["cards"]
    pages = page_count(len(cards), mode) if mode != "pulse" else 1
    turn = int(wall_now // s.page_s)
    page = turn % pages
    link = hashtag_page(s, mastodon_urls)
    footer = footer_html(
        s.hashtag,
        s.where_to_post,
        qr_svg_uri=qr_data_uri(link) if link else None,
        page=page,
        pages=pages,
        page_s=s.page_s,
        elapsed_s=wall_now - turn * s.page_s,
    )
    return stage_html(
        mode,
        header=header(view, pulse),
        cards=cards_html(page_of(cards, mode, page), mode=mode),
        pulse=pulse["tiles"],
        footer=footer,
    )


NEWEST_AFTER_S = 3.0  # a page stays up at least this long before a new post takes over


def _back_to_the_newest(view: dict[str, Any], tick: float, wall_now: float) -> float:
    """A new post is shown within seconds, not when the rotation next reaches page 1: when the
    newest card changes while a later page is up, the rotation starts again from page 1 (once
    the page has been up `NEWEST_AFTER_S`, so a busy room still sees each page it turns to)."""
    cards, s = view["cards"], view["settings"]
    newest = next((c.id for c in cards if not c.pinned), None)
    if newest is None or newest == st.session_state.get("gs_wall_newest"):
        return wall_now
    page = int(wall_now // s.page_s) % page_count(len(cards), view["mode"])
    if page != 0 and wall_now % s.page_s < NEWEST_AFTER_S:
        return wall_now  # not yet: look again at the next probe
    st.session_state["gs_wall_newest"] = newest
    if page != 0:
        st.session_state["gs_wall_opened"] = tick
        return 0.0
    return wall_now


@st.fragment(run_every=PROBE_S)
def live() -> None:
    """Probe every second; rebuild the cards when something changed or every `refresh_s`
    seconds, the pulse every `PULSE_S` seconds, and turn the page every `page_s` seconds.

    New posts and moderators' decisions reach the wall within about a second; relative times
    are refreshed every `refresh_s` (default 3 s). Markup for an unchanged page is re-sent
    exactly as before (the progress bar keeps the start it was given when the page came up),
    which the browser does not repaint, so the wall never flickers.
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
    wall_now = tick - st.session_state.setdefault("gs_wall_opened", tick)
    wall_now = _back_to_the_newest(view, tick, wall_now)
    markup = stage(view, pulse, wall_now)
    shown = st.session_state.get("gs_wall_shown")
    # Same content on the same page: send what is already on screen (the bar's start is the
    # only part that depends on the moment the markup was made).
    key = stage(view, pulse, int(wall_now // view["settings"].page_s) * view["settings"].page_s)
    if shown is not None and shown[0] == key:
        markup = shown[1]
    else:
        st.session_state["gs_wall_shown"] = (key, markup)
    st.html(markup)


live()
