"""Every dashboard page renders its charts in real Chromium on the demo conversation, with no
exception on the page; screenshots saved to tests/browser/artifacts/ for a human to look at."""

from __future__ import annotations

import pytest

from groundswell.demo import load_demo

PAGES = [
    (
        "",
        2,
    ),  # the Overview is the default page, served at the root  # url path, charts expected at least
    ("spread", 5),
    ("amplifiers", 3),
    ("events", 2),
]

CHARTS_DRAWN = "document.querySelectorAll('[data-testid=\"stPlotlyChart\"] .main-svg').length"


@pytest.fixture
def demo_url(sqlite_store) -> str:
    load_demo(sqlite_store, seed=7, mentions=500)
    return str(sqlite_store.url)


@pytest.mark.slow  # four pages in a real browser: 40-80 s on the shared machine
def test_every_page_renders_its_charts_on_demo_data(demo_url, streamlit_app, browser, artifacts):
    base = streamlit_app(demo_url)
    # Tall enough to capture whole pages (Streamlit scrolls inside its own container).
    context = browser.new_context(viewport={"width": 1500, "height": 4200})
    page = context.new_page()
    for path, charts in PAGES:
        page.goto(f"{base}/{path}?range=all&tz=Europe/London", wait_until="networkidle")
        page.wait_for_selector("[data-testid='stPlotlyChart']", timeout=60_000)
        page.wait_for_function(f"{CHARTS_DRAWN} >= {charts}", timeout=60_000)
        page.wait_for_timeout(1500)
        page.screenshot(path=str(artifacts / f"dashboard-{path or 'overview'}.png"))
        assert page.locator("[data-testid='stException']").count() == 0, path
        assert "Page not found" not in page.content(), path
        assert "Traceback" not in page.content()
        # The filters stay in the URL, so the view can be shared.
        assert "range=all" in page.url and "Europe" in page.url
    context.close()


def test_hostile_post_text_renders_inert(sqlite_store, streamlit_app, page):
    from tests.dashboard_data import small_conversation

    small_conversation(sqlite_store)
    base = streamlit_app(str(sqlite_store.url))
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{base}/overview?range=7d", wait_until="networkidle")
    page.wait_for_selector("[data-testid='stDataFrame']", timeout=60_000)
    page.wait_for_timeout(1500)
    assert dialogs == []
    assert page.locator("script:has-text('alert(1)')").count() == 0
