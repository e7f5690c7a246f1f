"""Amplifiers: who carries the conversation, the network they form, and whether it widens."""

from __future__ import annotations

import streamlit as st

from dashboard import data, ui
from dashboard.figures.amplifiers import network_figure, new_voices_figure, widening_figure
from dashboard.filters import sidebar_filters, url_choice

f = sidebar_filters()
scope = f.scope()
st.title("Amplifiers")
st.caption(f.describe())
events = data.events(scope.movement_id)
lo, hi = scope.start_ts, scope.end_ts
# A person's accounts on several platforms count as one (docs/people.md); by account shows
# each account on its own.
by = url_choice(
    "Count by",
    ["person", "account"],
    param="by",  # kept in the URL like the filters: a shared link opens the same view
    key="amp_by",
    help="By person, one human or organisation's accounts on several platforms count once "
    "(linked on evidence, docs/people.md); by account, each account counts on its own.",
)
who = "Person" if by == "person" else "Account"


def ranked_table(rows: list[dict], key: str) -> None:
    """The top 20 as a static table: no grid bundle on this page (docs/benchmarks/pages.md)."""
    del key
    ui.small_table(
        [
            {
                who: ui.short(r["display_name"] or r["handle"] or "", 60),
                "Handle" if by == "account" else "Accounts": ui.short(r["handle"] or "", 60),
                "Platform" if by == "account" else "Platforms": r["platform"],
                "Total": r["total"],
                "Reposts/boosts": r["reposts"],
                "Quotes": r["quotes"],
                "Replies": r["replies"],
                "Links": r["links"],
            }
            for r in rows
        ]
    )


summary = data.q("amplifiers.summary", scope, limit=20, max_nodes=120, by=by)
received, given, net = summary["received"], summary["given"], summary["network"]
st.subheader("Who amplifies, who is amplified")
if by == "person":
    several = {r["person_id"]: r for r in [*received, *given] if len(r.get("platforms") or ()) > 1}
    if several:
        st.caption(
            "On several platforms, counted once: "
            + "; ".join(
                f"{ui.short(r['display_name'] or r['handle'] or '', 60)} "
                f"({', '.join(r['platforms'])})"
                for r in list(several.values())[:8]
            )
        )
tab_received, tab_given = st.tabs(["Amplification received", "Amplification given"])
with tab_received:
    if received:
        ranked_table(received, "amp_received")
    else:
        ui.empty("No amplification in this range.", ui.RANGE_HINT)
with tab_given:
    if given:
        ranked_table(given, "amp_given")
    else:
        ui.empty("Nobody amplified the movement in this range.", ui.RANGE_HINT)

st.subheader("Network")


def network_drawing() -> None:
    """The network figure, drawn when asked for: the page's heaviest figure to draw."""
    colour_by = st.radio(
        "Colour by", ["platform", "community"], horizontal=True, key="amp_colour_by"
    )
    ui.plot(network_figure, net, colour_by, key="amp_network")


if net["nodes"]:
    st.caption(
        f"{len(net['nodes'])} of the most active {by}s (the top 60 by amplification "
        "received and the top 60 by amplification given) and the amplification among them; "
        "communities by Louvain modularity."
        + (" A person on several platforms is grey." if by == "person" else "")
    )
    ui.on_demand(
        "Draw the network (who amplifies whom)",
        key="amp_draw_network",
        draw=network_drawing,
        param="net",  # kept in the URL like "Count by": a shared link opens it drawn
    )
    st.markdown("**Bridges** (highest betweenness: accounts joining groups or platforms)")
    if net["bridges"]:
        ui.small_table(
            [
                {
                    "Name": ui.short(b.get("name") or "", 60),
                    who: ui.short(b["label"], 60),
                    "Platform": b["platform"],
                    "Betweenness": b["betweenness"],
                    "Communities joined": b["communities"],
                    "Platforms joined": b["platforms"],
                }
                for b in net["bridges"]
            ]
        )
    else:
        st.caption("No account lies between others yet.")
else:
    ui.empty("No amplification network in this range.", ui.RANGE_HINT)

left, right = st.columns(2)
with left:
    voices = data.q("amplifiers.new_voices_per_day", scope, by=by)
    if voices:
        ui.plot(new_voices_figure, voices, tz=f.tz, events=events, lo=lo, hi=hi, key="amp_voices")
    else:
        ui.empty("No new voices in this range.", ui.RANGE_HINT)
with right:
    wide = data.q("amplifiers.widening", scope, bucket_s=86400, by=by)
    if wide:
        ui.plot(widening_figure, wide, tz=f.tz, events=events, lo=lo, hi=hi, key="amp_widening")
    else:
        ui.empty("No authors in this range.", ui.RANGE_HINT)
