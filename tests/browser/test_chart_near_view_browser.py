"""A chart is drawn when the reader comes near it, not before (dashboard/static/chart.js): a
new tab of Amplifiers on a laptop's screen shows its rankings first, and its two charts,
below the fold, cost nothing until the reader scrolls to them (about 0.1 s of the browser's
time each otherwise, docs/benchmarks/pages.md). A waiting chart keeps its height, so nothing
moves when it is drawn; a chart in view is drawn at once; printing draws every chart; a
legend stays clear of its axis title."""

from __future__ import annotations

import pytest

from groundswell.demo import load_demo

# Every basic-bundle chart: its state, whether it holds plotly.js's drawing, where it is and
# how tall, and the viewport's height.
CHARTS = """(() => [...document.querySelectorAll('.gs-chart')].map((c) => {
  const r = c.getBoundingClientRect();
  return {state: c.dataset.chart, drawn: !!c.querySelector('.main-svg'), top: r.top,
          height: r.height, view: innerHeight};
}))()"""
ALL_DRAWN = "[...document.querySelectorAll('.gs-chart')].every(c => c.dataset.chart === 'drawn')"
SETTLED = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  return app && app.getAttribute('data-test-script-state') === 'notRunning'
    && document.querySelectorAll('.gs-chart').length >= 2
    && !document.querySelector('[data-testid="stStatusWidget"] button');
}"""


@pytest.fixture
def dashboard(sqlite_store, streamlit_app) -> str:
    load_demo(sqlite_store, seed=7, mentions=500)  # rankings of 20: the charts lie far down
    return streamlit_app(str(sqlite_store.url))


@pytest.fixture
def page(browser):
    """A laptop's screen, 1280x720: Amplifiers' charts lie below its fold."""
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    yield context.new_page()
    context.close()


def test_charts_below_the_fold_wait_until_the_reader_scrolls_to_them(dashboard, page, artifacts):
    page.goto(f"{dashboard}/amplifiers?range=all", wait_until="commit")
    page.wait_for_function(SETTLED, timeout=60_000)
    page.wait_for_timeout(1500)  # anything that would be drawn at once has been
    charts = page.evaluate(CHARTS)
    # further down than the 300 px ahead of the screen at which drawing starts
    assert len(charts) == 2 and all(c["top"] > c["view"] + 300 for c in charts), charts
    assert all(c["state"] == "waiting" and not c["drawn"] for c in charts), charts
    # kept at the height they will be drawn at (the figures' own, or plotly's 450 px)
    heights = [c["height"] for c in charts]
    assert all(h >= 300 for h in heights), heights

    chart = page.locator(".gs-chart").first
    chart.scroll_into_view_if_needed()
    page.wait_for_function(
        "document.querySelector('.gs-chart').dataset.chart === 'drawn'", timeout=30_000
    )
    after = page.evaluate(CHARTS)
    assert after[0]["drawn"] and after[0]["state"] == "drawn"
    # drawn in the space kept for it: the page below did not move
    assert [c["height"] for c in after] == heights, (heights, after)
    # its neighbour in the same row came into view with it and was drawn too
    page.wait_for_function(ALL_DRAWN, timeout=30_000)
    page.wait_for_timeout(500)
    page.screenshot(path=str(artifacts / "amplifiers-charts-scrolled-to-1280x720.png"))


def test_a_chart_in_view_is_drawn_without_scrolling(dashboard, browser):
    context = browser.new_context(viewport={"width": 1600, "height": 4000})
    page = context.new_page()
    try:
        page.goto(f"{dashboard}/amplifiers?range=all", wait_until="commit")
        page.wait_for_function(SETTLED, timeout=60_000)
        page.wait_for_function(ALL_DRAWN, timeout=30_000)
        assert all(c["drawn"] for c in page.evaluate(CHARTS))
    finally:
        context.close()


def test_printing_draws_the_charts_never_scrolled_to(dashboard, page, tmp_path):
    page.goto(f"{dashboard}/amplifiers?range=all", wait_until="commit")
    page.wait_for_function(SETTLED, timeout=60_000)
    # the bundle is started while the page is idle, so a printout need not wait for it
    page.wait_for_function("!!window.Plotly", timeout=30_000)
    assert not any(c["drawn"] for c in page.evaluate(CHARTS))
    page.pdf(path=str(tmp_path / "amplifiers.pdf"))
    assert all(c["drawn"] and c["state"] == "drawn" for c in page.evaluate(CHARTS))


# For each chart, whether its legend's box overlaps its x-axis title's.
LEGEND_ON_TITLE = """(() => [...document.querySelectorAll('.gs-chart')].map((c) => {
  const a = c.querySelector('.legend'), b = c.querySelector('.g-xtitle');
  if (!a || !b) return false;
  const r = a.getBoundingClientRect(), s = b.getBoundingClientRect();
  return r.left < s.right && s.left < r.right && r.top < s.bottom && s.top < r.bottom;
}))()"""


def test_a_charts_legend_stays_clear_of_its_axis_title(dashboard, page):
    """In a half-width column, the widening chart's two-line title shrank its plot, and a
    legend placed in the plot's coordinates ran into "Time (UTC)"."""
    page.goto(f"{dashboard}/amplifiers?range=all", wait_until="commit")
    page.wait_for_function(SETTLED, timeout=60_000)
    page.locator(".gs-chart").first.scroll_into_view_if_needed()
    page.wait_for_function(
        "[...document.querySelectorAll('.gs-chart')].every(c => c.querySelector('.legend'))",
        timeout=30_000,
    )
    assert page.evaluate(LEGEND_ON_TITLE) == [False, False]
