"""What every timeline and chart carries: events shaded and named, and plotly's white look
without the defaults for traces and axes these charts never draw."""

from __future__ import annotations

import json

import plotly.graph_objects as go

from dashboard.figures.common import add_events, base_layout

HOUR = 3600
LO, HI = 1_700_000_000, 1_700_000_000 + 48 * HOUR


def _event(name: str, start: int, end: int) -> dict:
    return {"name": name, "start_ts": start, "end_ts": end}


def test_an_event_is_shaded_over_the_whole_plot_height_behind_the_bars_and_named_at_its_start():
    fig = add_events(
        go.Figure(go.Bar(x=[1], y=[1])),
        [
            _event("Assembly", LO + 2 * HOUR, LO + 5 * HOUR),
            _event("Long before", LO - 10 * HOUR, LO - 5 * HOUR),
            _event("Runs past the range", HI - HOUR, HI + 5 * HOUR),
        ],
        "Europe/London",
        LO,
        HI,
    )
    shapes = [s.to_plotly_json() for s in fig.layout.shapes]
    labels = [a.to_plotly_json() for a in fig.layout.annotations]
    assert [a["text"] for a in labels] == ["Assembly", "Runs past the range"]
    first = shapes[0]
    assert first["type"] == "rect" and first["layer"] == "below"
    assert (first["xref"], first["yref"], first["y0"], first["y1"]) == ("x", "y domain", 0, 1)
    assert labels[0]["x"] == first["x0"] and labels[0]["xanchor"] == "left"
    assert (labels[0]["y"], labels[0]["yanchor"], labels[0]["showarrow"]) == (1, "top", False)
    # clipped to the range: the shading ends where the chart does
    assert (
        shapes[1]["x1"]
        == add_events(go.Figure(), [_event("e", LO, HI)], "Europe/London", LO, HI)
        .layout.shapes[0]
        .x1
    )


def test_charts_get_the_white_look_without_defaults_for_maps_scenes_or_colour_scales():
    fig = base_layout(go.Figure(go.Bar(x=[1], y=[1])), "Title", "x", "y")
    template = fig.layout.template.to_plotly_json()
    assert template["layout"]["paper_bgcolor"] == "white"
    assert template["layout"]["xaxis"]["gridcolor"] == "#EBF0F8"
    assert template["data"]["bar"][0]["marker"]["line"]["color"] == "white"  # stacked bars
    assert set(template["data"]) == {"bar", "scatter", "pie"}
    assert not {"scene", "geo", "colorscale"} & set(template["layout"])
    assert len(json.dumps(template)) < 2_000


def test_a_pages_figure_is_built_once_for_the_same_inputs_and_again_for_new_ones():
    """Every new tab of a page asks for the same figures within a minute; plotly's checks of
    every property made building them most of a warm view's server time."""
    from dashboard.ui import _built

    calls: list[tuple] = []

    def bars(rows: list[int], *, tz: str) -> go.Figure:
        calls.append((tuple(rows), tz))
        return base_layout(go.Figure(go.Bar(x=rows, y=rows)), "Bars", tz, "n")

    first = _built(bars, [1, 2], tz="UTC")
    assert _built(bars, [1, 2], tz="UTC") == first and len(calls) == 1
    _built(bars, [1, 3], tz="UTC")
    _built(bars, [1, 2], tz="Europe/London")
    assert calls == [((1, 2), "UTC"), ((1, 3), "UTC"), ((1, 2), "Europe/London")]
    figure, basic = first
    assert basic and json.loads(figure)["data"][0]["type"] == "bar"
