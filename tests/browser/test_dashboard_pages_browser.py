"""Every dashboard page renders its charts in real Chromium on the demo conversation, with no
exception on the page; screenshots saved to tests/browser/artifacts/ for a human to look at.
The charts are drawn by plotly.js's basic bundle, served by the dashboard itself: no page loads
Streamlit's full plotly.js chunk, and nothing is fetched from another host."""

from __future__ import annotations

import pytest

from groundswell.demo import load_demo

# url path and query, switches to turn on, charts expected at least. The Overview is the
# default page, served at the root; Amplifiers' network is switched on by its URL parameter,
# Events' two charts by their switches (drawn on demand, docs/benchmarks/pages.md).
PAGES = [
    ("?", (), 1),
    ("spread?", (), 4),
    ("amplifiers?net=on&", (), 3),
    ("events?", ("Draw the lift of each event", "Draw the hours around the event"), 2),
]

CHARTS_DRAWN = "document.querySelectorAll('.js-plotly-plot .main-svg').length"


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
    fetched: list[str] = []
    page.on("request", lambda r: fetched.append(r.url))
    for path, switches, charts in PAGES:
        page.goto(f"{base}/{path}range=all&tz=Europe/London", wait_until="networkidle")
        for label in switches:
            page.get_by_text(label).click()
        page.wait_for_function(f"{CHARTS_DRAWN} >= {charts}", timeout=60_000)
        page.wait_for_timeout(1500)
        page.screenshot(path=str(artifacts / f"dashboard-{path.split('?')[0] or 'overview'}.png"))
        assert page.locator("[data-testid='stException']").count() == 0, path
        assert "Page not found" not in page.content(), path
        assert "Traceback" not in page.content()
        # The filters stay in the URL, so the view can be shared.
        assert "range=all" in page.url and "Europe" in page.url
    context.close()
    # the bundle from the static route, which a browser may keep (Last-Modified)
    assert any(u.endswith("/app/static/plotly-basic.min.js") for u in fetched), fetched
    assert not [u for u in fetched if "/PlotlyChart." in u]  # Streamlit's 4.7 MB chunk
    assert all(u.startswith(base) for u in fetched if u.startswith("http")), fetched


def test_hostile_post_text_renders_inert(sqlite_store, streamlit_app, page):
    from tests.dashboard_data import small_conversation

    small_conversation(sqlite_store)
    base = streamlit_app(str(sqlite_store.url))
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{base}/overview?range=7d", wait_until="networkidle")
    page.wait_for_selector("table.gs-table", timeout=60_000)
    page.wait_for_timeout(1500)
    assert dialogs == []
    assert page.locator("script:has-text('alert(1)')").count() == 0


def test_overview_top_posts_are_a_static_table_whose_links_open_the_posts(
    sqlite_store, streamlit_app, page, artifacts
):
    """No interactive grid on the Overview (the grid's bundle costs the browser about a CPU
    second, docs/benchmarks/pages.md): its short lists are static tables, the posts' links
    still open them, and post text reads as text: hostile markup, and addresses that
    Streamlit's Markdown would otherwise link (an e-mail address, www., http://)."""
    from datetime import UTC, datetime, timedelta

    from storage.catalog import load_rules
    from storage.engine import write_tx
    from storage.write import write_batch
    from tests.dashboard_data import small_conversation
    from tests.factories import account, batch, mention

    small_conversation(sqlite_store)
    with write_tx(sqlite_store) as conn:
        rules = load_rules(conn)
        chatty = mention(
            900,
            author=account(900),
            created_at=datetime.now(UTC) - timedelta(minutes=30),
            like_count=99,
            text="Write to organiser@evil.example or see www.evil.example and "
            "http://evil.example/x #NHSCitizen",
            url="https://example.org/p/900",
        )
        write_batch(conn, batch(chatty), rules)
    base = streamlit_app(str(sqlite_store.url))
    page.goto(f"{base}/?range=7d", wait_until="domcontentloaded")
    page.get_by_role("heading", name="Top posts").wait_for(timeout=60_000)
    table = page.locator("table.gs-table").first
    table.wait_for(timeout=60_000)
    page.wait_for_timeout(1500)
    table.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "overview-top-posts-static.png"))
    assert page.locator("[data-testid='stDataFrame']").count() == 0
    hrefs = table.locator("a").evaluate_all("links => links.map(a => a.href)")
    assert "https://example.org/p/900" in hrefs and "https://example.org/p/11" in hrefs
    assert all(h.startswith("https://example.org/p/") for h in hrefs), hrefs
    # a post opens beside the dashboard, which keeps no hold on it
    opens = table.locator("a").evaluate_all("links => links.map(a => [a.target, a.rel])")
    assert all(t == "_blank" and "noopener" in rel for t, rel in opens), opens
    text = table.inner_text().replace("\u2060", "")
    assert "<script>alert(1)</script>" in text
    assert "organiser@evil.example" in text and "http://evil.example/x" in text


def test_a_dashboard_started_without_static_serving_still_draws_its_charts(
    demo_url, streamlit_app, browser
):
    """`streamlit run dashboard/app.py` from another folder (no .streamlit/config.toml) serves
    no /app/static/: the charts then take plotly.js from the component's own route."""
    base = streamlit_app(demo_url, args=("--server.enableStaticServing=false",))
    context = browser.new_context(viewport={"width": 1500, "height": 1200})
    page = context.new_page()
    fetched: list[str] = []
    page.on("requestfinished", lambda r: fetched.append(r.url))
    page.goto(f"{base}/?range=all", wait_until="domcontentloaded")
    page.wait_for_function(f"{CHARTS_DRAWN} >= 1", timeout=60_000)
    context.close()
    assert any(u.endswith("/groundswell.chart/plotly-basic.min.js") for u in fetched), fetched


def test_the_bundle_is_served_for_the_browser_to_keep(demo_url, streamlit_app):
    """A validator on the static route: the browser may keep plotly.js between tabs instead of
    fetching and compiling 1.2 MB for every new tab (the component's route sends none)."""
    import httpx

    base = streamlit_app(demo_url)
    r = httpx.get(f"{base}/app/static/plotly-basic.min.js", timeout=30)
    assert r.status_code == 200 and r.headers.get("last-modified")
    assert r.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    assert len(r.content) > 1_000_000
