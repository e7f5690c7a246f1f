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
    page.wait_for_selector(".gs-metrics", timeout=60_000)
    page.wait_for_timeout(1500)
    page.screenshot(path=str(artifacts / "overview-route.png"))
    assert page.get_by_text("Page not found").count() == 0
    assert "/overview" in page.url
    # The option is set by the app's script (dashboard/app.py) for every session after the
    # server's first one; `groundswell dashboard`/`up` also pass it on the command line.
    page.reload(wait_until="domcontentloaded")
    page.wait_for_selector(".gs-metrics", timeout=60_000)
    page.wait_for_timeout(1000)
    assert page.locator("[data-testid='stAppDeployButton']").count() == 0


def test_streamlit_run_from_the_repository_shows_no_deploy_button_on_the_first_visit(
    sqlite_store, streamlit_app, page, artifacts
):
    """`streamlit run dashboard/app.py` from the repository root, without the flags
    `groundswell dashboard` passes: the repository's .streamlit/config.toml hides the Deploy
    button from the server's very first session (the app script's own `st.set_option` only
    reaches the sessions after it) and states the 2 MB upload limit."""
    from tests.dashboard_data import small_conversation

    small_conversation(sqlite_store)
    base = streamlit_app(str(sqlite_store.url))  # cwd = repository root, no toolbar flag
    page.goto(f"{base}/?range=7d", wait_until="domcontentloaded")
    page.get_by_role("heading", name="Overview").first.wait_for(timeout=60_000)
    page.wait_for_selector(".gs-metrics", timeout=60_000)
    page.wait_for_timeout(1500)
    page.screenshot(path=str(artifacts / "overview-first-visit-streamlit-run.png"))
    assert page.locator("[data-testid='stAppDeployButton']").count() == 0
    assert page.get_by_text("Deploy", exact=True).count() == 0
