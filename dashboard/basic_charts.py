"""Plotly figures drawn with plotly.js's basic bundle (scatter, bar, pie) instead of
Streamlit's full plotly.js chunk: a new tab that shows a chart starts ~1.2 MB of plotly.js
instead of ~4.7 MB, about a third of the CPU (docs/benchmarks/pages.md).

The figure is still built with plotly's Python API and sent as its JSON; a Streamlit custom
component (v2: a JavaScript module in the page itself, no iframe) loads the vendored bundle
(`dashboard/static/`, README.md there) once per document from the dashboard's own server
and draws every chart of the page with it, in the look st.plotly_chart gives. Figures with
other traces (icicles, treemaps) are for `st.plotly_chart` (`supports`).

The component is registered with the running Streamlit server here, not through a
pyproject manifest: Streamlit finds manifests only in installed distributions whose
pyproject.toml it can locate, which a wheel install of Groundswell does not ship.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import streamlit as st

# The component's full name: the manifest's name, a dot, its entry's name.
NAME = "groundswell.chart"
ASSETS = "static"
# The traces the basic bundle draws (plotly.js's `plotly.js-basic-dist-min`).
TRACES = frozenset({"scatter", "bar", "pie"})

_mounts: weakref.WeakKeyDictionary[Any, Callable[..., Any]] = weakref.WeakKeyDictionary()


def supports(fig: go.Figure) -> bool:
    """True when every trace of `fig` is one the basic bundle draws."""
    return all(t.type in TRACES for t in fig.data)


def _mount() -> Callable[..., Any]:
    """The component's mount function on the running server, registered on first use (each
    server, and each AppTest run, has its own component registry)."""
    from streamlit.components.v2.manifest_scanner import ComponentConfig, ComponentManifest
    from streamlit.runtime import Runtime

    manager = Runtime.instance().bidi_component_registry
    mount = _mounts.get(manager)
    if mount is None:
        if manager.get_component_path(NAME) is None:
            manager.register_from_manifest(
                ComponentManifest(
                    name=NAME.split(".")[0],
                    version="1",
                    components=[ComponentConfig(name=NAME.split(".")[1], asset_dir=ASSETS)],
                ),
                Path(__file__).resolve().parent,
            )
        # Not isolated in a shadow root: plotly.js styles its charts through the document's
        # own stylesheet, which a shadow root would keep out.
        mount = st.components.v2.component(NAME, js="chart.js", isolate_styles=False)
        _mounts[manager] = mount
    return mount


def draw(fig: go.Figure | str, key: str, alt: str | None = None) -> None:
    """Draw `fig` (traces the basic bundle supports; a figure or its JSON) at the container's
    full width and the figure's height (plotly's 450 px when it sets none), as
    st.plotly_chart would; `alt` names the figure for screen readers."""
    figure = fig if isinstance(fig, str) else fig.to_json()
    _mount()(data={"figure": figure, "alt": alt or ""}, key=key)
