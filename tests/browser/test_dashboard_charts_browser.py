"""What travels with the conversation (Overview) and the icicle of a large cascade (Spread, drawn
when asked for) in real Chromium at 1280x720 and 1920x1080, on the demo conversation with one
large reply tree added; screenshots saved to tests/browser/artifacts/ for a human to look at."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.records import EdgeRecord
from groundswell.demo import load_demo
from storage.catalog import load_rules
from storage.engine import write_tx
from storage.write import write_batch
from tests.factories import account, batch, mention

SIZES = [(1280, 720), (1920, 1080)]
# Plotly charts on the page (Streamlit's, and the basic-bundle component's: dashboard/ui.chart),
# once every one of them has drawn its SVG (else -1).
CHARTS = "[data-testid='stPlotlyChart'], .gs-chart"
ALL_DRAWN = f"""(() => {{ const c = [...document.querySelectorAll("{CHARTS}")];
  return c.every(x => x.querySelector('.main-svg')) ? c.length : -1; }})()"""


def scroll_through_charts(page, n: int) -> None:
    """Scrolls to each of the page's `n` charts in turn, as a reader would (a chart is drawn
    when it comes near the screen, dashboard/static/chart.js), until all are drawn."""
    page.wait_for_function(f'document.querySelectorAll("{CHARTS}").length >= {n}', timeout=60_000)
    for i in range(page.locator(CHARTS).count()):
        page.locator(CHARTS).nth(i).scroll_into_view_if_needed()
    page.wait_for_function(f"{ALL_DRAWN} === {n}", timeout=60_000)


@pytest.fixture
def demo_with_a_large_tree(sqlite_store) -> str:
    load_demo(sqlite_store, seed=7, mentions=500)
    with sqlite_store.connect() as conn:
        rules = load_rules(conn)
        start = conn.exec_driver_sql("SELECT min(created_at) FROM mention").scalar()
    t0 = datetime.fromisoformat(str(start)).replace(tzinfo=UTC) + timedelta(hours=1)
    star = mention(
        9001, author=account(9001), created_at=t0, text="Come to the assembly #NHSCitizen"
    )
    replies = [
        mention(9100 + i, author=account(9100 + i), created_at=t0 + timedelta(minutes=i))
        for i in range(70)
    ]
    key = (star.platform, star.native_id)
    edges = [
        EdgeRecord("reply", "mastodon", r.author, key, r.created_at, via=(r.platform, r.native_id))
        for r in replies
    ] + [
        EdgeRecord("boost", "mastodon", account(9500 + i), key, t0 + timedelta(hours=2))
        for i in range(300)
    ]
    with write_tx(sqlite_store) as conn:
        write_batch(conn, batch(star, *replies, edges=edges), rules)
    return str(sqlite_store.url)


@pytest.mark.slow  # two pages at two sizes in a real browser
@pytest.mark.parametrize(("width", "height"), SIZES)
def test_overview_lists_what_travels_and_spread_draws_the_large_tree_as_an_icicle(
    demo_with_a_large_tree, streamlit_app, browser, artifacts, width, height
):
    base = streamlit_app(demo_with_a_large_tree)
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()

    page.goto(f"{base}/?range=all", wait_until="networkidle")
    heading = page.get_by_role("heading", name="What travels with it")
    heading.wait_for(timeout=60_000)
    heading.scroll_into_view_if_needed()
    for label in ("Linked sites", "Hashtags used with it", "Linked pages"):
        # drawn after the heading, in the same script run: wait for each, then count it once
        page.get_by_text(label, exact=True).first.wait_for(timeout=60_000)
        assert page.get_by_text(label, exact=True).count() == 1, label
    page.wait_for_timeout(1500)
    heading.scroll_into_view_if_needed()  # again: late elements above it may have moved it
    page.screenshot(path=str(artifacts / f"overview-travels-{width}x{height}.png"))
    assert page.locator("[data-testid='stException']").count() == 0

    page.goto(f"{base}/spread?range=all", wait_until="networkidle")
    # The cascade drawings are built on demand: the page settles with the numbers and its
    # four other figures (volume, authors, footprint, crossing) only.
    page.get_by_text("Largest size").wait_for(timeout=60_000)
    scroll_through_charts(page, 4)
    page.wait_for_timeout(1000)
    assert page.locator(CHARTS).count() == 4
    assert page.locator(".iciclelayer .slice").count() == 0
    page.get_by_text("Draw the cascades", exact=False).click()
    # the histogram and the three largest trees join them
    scroll_through_charts(page, 8)
    page.wait_for_selector(".js-plotly-plot .iciclelayer .slice", timeout=60_000)
    icicle = page.locator(".js-plotly-plot:has(.iciclelayer .slice)").first
    icicle.scroll_into_view_if_needed()
    page.wait_for_timeout(1500)
    text = icicle.inner_text()
    assert "300 boosts" in text and "original post" in text and "70 replies" in text
    page.screenshot(path=str(artifacts / f"spread-icicle-{width}x{height}.png"))
    assert page.locator("[data-testid='stException']").count() == 0
    context.close()
