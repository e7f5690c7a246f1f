"""The dashboard starts for real and renders in Chromium on an empty store."""

from __future__ import annotations


def test_dashboard_renders_in_chromium_on_an_empty_store(
    sqlite_store, streamlit_app, page, artifacts
):
    base = streamlit_app(str(sqlite_store.url))
    page.goto(base, wait_until="networkidle")
    page.wait_for_selector("[data-testid='stApp']", timeout=60_000)
    page.wait_for_timeout(1500)
    page.screenshot(path=str(artifacts / "dashboard-empty.png"), full_page=True)
    assert "Traceback" not in page.content()
