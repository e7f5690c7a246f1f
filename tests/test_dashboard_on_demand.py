"""The figures that cost a new tab most are drawn when the reader asks (docs/benchmarks/pages.md):
Amplifiers' network and Events' two charts wait behind a switch, as Spread's cascades do; the
page's numbers and tables are there without them. Pages run under AppTest from the real entry
point on the demo conversation."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.dashboard_data import open_page, small_demo
from tests.html_tables import html_metrics


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory) -> str:
    return small_demo(tmp_path_factory.mktemp("demo") / "demo.db")[0]


def _open(url: str, monkeypatch, page: str, params: dict[str, str]) -> AppTest:
    monkeypatch.setenv("GROUNDSWELL_DB_URL", url)
    monkeypatch.delenv("GROUNDSWELL_DASHBOARD_PASSWORD", raising=False)
    return open_page(page, params)


def _charts(at: AppTest) -> int:
    """Plotly figures on the page, drawn by st.plotly_chart or the basic-bundle component."""
    drawn = [c for c in at.get("bidi_component") if c.proto.component_name == "groundswell.chart"]
    return len(at.get("plotly_chart")) + len(drawn)


def _param(at: AppTest, name: str) -> str | None:
    v = at.query_params.get(name)
    return v[-1] if isinstance(v, list) and v else v


def test_amplifiers_draws_its_network_only_when_asked_and_keeps_the_switch_in_the_url(
    demo_url, monkeypatch
):
    at = _open(demo_url, monkeypatch, "views/amplifiers.py", {"range": "all"})
    assert _charts(at) == 2  # new voices and widening; the network waits
    assert any("Bridges" in m.value for m in at.markdown)  # its numbers stay on the page
    at.toggle(key="amp_draw_network").set_value(True).run()
    assert not at.exception, at.exception
    assert _charts(at) == 3
    assert _param(at, "net") == "on"
    at.toggle(key="amp_draw_network").set_value(False).run()
    assert _charts(at) == 2 and _param(at, "net") is None


def test_a_shared_amplifiers_link_with_the_network_on_opens_it_drawn(demo_url, monkeypatch):
    at = _open(demo_url, monkeypatch, "views/amplifiers.py", {"range": "all", "net": "on"})
    assert at.toggle(key="amp_draw_network").value is True
    assert _charts(at) == 3


def test_events_draws_its_two_charts_only_when_asked(demo_url, monkeypatch):
    at = _open(demo_url, monkeypatch, "views/events.py", {"range": "all"})
    assert _charts(at) == 0
    assert any(m.label == "Lift" for m in html_metrics(at))  # the numbers are there without them
    at.toggle(key="events_draw_lift").set_value(True).run()
    assert not at.exception, at.exception
    assert _charts(at) == 1
    at.toggle(key="events_draw_window").set_value(True).run()
    assert not at.exception, at.exception
    assert _charts(at) == 2


def test_scatter_and_bar_figures_are_drawn_with_the_basic_bundle_and_others_by_streamlit(
    demo_url, monkeypatch
):
    """A new tab with a chart starts plotly.js's basic bundle, not Streamlit's full chunk
    (docs/benchmarks/pages.md): every chart the Overview and Spread show at first is a bar or
    scatter figure and goes through the component; an icicle would need the full chunk."""
    import plotly.graph_objects as go

    from dashboard.basic_charts import supports

    for page in ("views/overview.py", "views/spread.py"):
        at = _open(demo_url, monkeypatch, page, {"range": "all"})
        assert not at.get("plotly_chart"), page
        assert _charts(at) >= 1, page
    assert supports(go.Figure([go.Bar(x=[1], y=[2]), go.Scatter(x=[1], y=[2])]))
    assert not supports(go.Figure(go.Icicle(labels=["a"], parents=[""])))
