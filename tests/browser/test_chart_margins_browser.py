"""A chart starts from the margins plotly.js settled on for the same chart last time
(dashboard/static/chart.js keeps them in the browser's localStorage): plotly.js's automargin
otherwise draws every chart twice, once to measure its labels and once to fit them, about half
of a chart's drawing time in a new tab (docs/benchmarks/pages.md). The look must not change, and
a kept margin that is too small must still be pushed out by the labels."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.dashboard_data import small_conversation

KEY = "groundswell.chart.margins"
# Each basic-bundle chart's input margins (what it was asked to start from) and the margins
# plotly.js drew it with, in page order, once every chart on the page has drawn.
MARGINS = """(() => {
  const charts = [...document.querySelectorAll('.gs-chart')];
  if (!charts.length || !charts.every(c => c._fullLayout && c.querySelector('.main-svg')))
    return null;
  return charts.map(c => ({
    asked: c.layout.margin || {},
    drawn: (({l, r, t, b}) => ({l, r, t, b}))(c._fullLayout._size),
  }));
})()"""


def _margins(page: object) -> list[dict]:
    page.wait_for_function(MARGINS, timeout=60_000)  # type: ignore[attr-defined]
    page.wait_for_timeout(300)  # a second (automargin) drawing, if any, has finished
    return page.evaluate(MARGINS)  # type: ignore[attr-defined]


@pytest.fixture
def overview(sqlite_store, streamlit_app, browser) -> Iterator[Callable[[object], list[dict]]]:
    """The Overview of a small conversation on a real dashboard: opens it in a given tab and
    returns its charts' margins once drawn. The browser context (one reader's storage) is
    `overview.context`."""
    small_conversation(sqlite_store)
    base = streamlit_app(str(sqlite_store.url))
    context = browser.new_context(viewport={"width": 1440, "height": 1000})

    def open_in(page: object) -> list[dict]:
        page.goto(f"{base}/?range=7d", wait_until="commit")  # type: ignore[attr-defined]
        return _margins(page)

    open_in.context = context  # type: ignore[attr-defined]
    try:
        yield open_in
    finally:
        context.close()


def test_a_new_tab_draws_each_chart_from_the_margins_kept_last_time(overview):
    context = overview.context
    first = context.new_page()
    before = overview(first)
    kept = first.evaluate(f"JSON.parse(localStorage.getItem('{KEY}') || '{{}}')")
    first.close()
    assert before and len(kept) == len(before)
    # opaque keys: nothing of what the charts show (titles, names) is kept in the browser
    assert all(k.isalnum() for k in kept) and "Mentions" not in str(kept)
    assert {tuple(sorted(m.items())) for m in kept.values()} == {
        tuple(sorted(m["drawn"].items())) for m in before
    }

    again = context.new_page()  # a reader's next tab: same browser, same storage
    after = overview(again)
    again.close()
    for b, a in zip(before, after, strict=True):
        assert {k: a["asked"][k] for k in "lrtb"} == b["drawn"]  # started from them
        # and the chart looks the same: to the pixel, as plotly.js rounds a margin it is given
        # to whole pixels, while one it pushes out itself for the legend at the figure's foot
        # may be fractional (111.4 drawn first, 111 from the kept 111.4)
        assert all(abs(a["drawn"][k] - b["drawn"][k]) < 1 for k in "lrtb"), (a, b)


def test_a_kept_margin_too_small_for_the_labels_is_still_pushed_out(overview):
    page = overview.context.new_page()
    fresh = overview(page)
    page.evaluate(
        f"""() => {{
          const all = JSON.parse(localStorage.getItem('{KEY}'));
          for (const k of Object.keys(all)) all[k] = {{l: 0, r: 0, t: 0, b: 0}};
          localStorage.setItem('{KEY}', JSON.stringify(all));
        }}"""
    )
    page.reload(wait_until="commit")
    squeezed = _margins(page)
    # it started narrower than the labels need (the figure's own margin, not the kept
    # zero, which never narrows it), and the labels pushed it out as on the first visit
    assert any(s["asked"]["l"] < f["drawn"]["l"] for s, f in zip(squeezed, fresh, strict=True))
    assert [m["drawn"] for m in squeezed] == [m["drawn"] for m in fresh]
