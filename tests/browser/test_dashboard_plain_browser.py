"""The dashboard in Chromium as a reader meets it: every page at its own address, no Deploy
button."""

from __future__ import annotations


def test_overview_answers_at_its_own_address_and_shows_no_deploy_button(
    sqlite_store, streamlit_app, page, artifacts
):
    from tests.dashboard_data import small_conversation

    small_conversation(sqlite_store)
    base = streamlit_app(str(sqlite_store.url))
    page.goto(f"{base}/overview?range=7d", wait_until="domcontentloaded")
    page.get_by_role("heading", name="Overview").first.wait_for(timeout=60_000)
    page.wait_for_selector("[data-testid='stMetric']", timeout=60_000)
    page.wait_for_timeout(1500)
    page.screenshot(path=str(artifacts / "overview-route.png"))
    assert page.get_by_text("Page not found").count() == 0
    assert "/overview" in page.url
    # The option is set by the app's script (dashboard/app.py) for every session after the
    # server's first one; `groundswell dashboard`/`up` also pass it on the command line.
    page.reload(wait_until="domcontentloaded")
    page.wait_for_selector("[data-testid='stMetric']", timeout=60_000)
    page.wait_for_timeout(1000)
    assert page.locator("[data-testid='stAppDeployButton']").count() == 0
