"""Only moderators edit events, in a real Chromium against the real Streamlit server: a viewer
on the Events page gets no editor, no Save button and no importer; after signing in on the
Moderate page, the same browser session finds them there.
Screenshots: tests/browser/artifacts/events-*.png.
"""

from __future__ import annotations

import pytest

from tests import wall_feeder

MODERATOR_PASSWORD = "moderators-only-phrase"

pytestmark = pytest.mark.slow


def test_events_are_edited_by_signed_in_moderators_only(
    sqlite_store, streamlit_app, page, artifacts
):
    wall_feeder.ensure_movement(sqlite_store)
    base = streamlit_app(
        str(sqlite_store.url), env={"GROUNDSWELL_MODERATOR_PASSWORD": MODERATOR_PASSWORD}
    )
    page.goto(f"{base}/events", wait_until="domcontentloaded")
    page.get_by_text("You need the editor role").wait_for(timeout=60_000)
    assert page.get_by_role("button", name="Save events").count() == 0
    assert page.get_by_text("iCalendar file").count() == 0
    page.screenshot(path=str(artifacts / "events-viewer.png"))

    page.get_by_role("link", name="Moderate wall").click()
    page.get_by_label("Your name (recorded with each decision)").fill("Mo")
    page.get_by_label("Moderator password").fill(MODERATOR_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Signed in as Mo").wait_for(timeout=60_000)

    page.get_by_role("link", name="Events").click()
    page.get_by_role("button", name="Save events").wait_for(timeout=60_000)
    assert page.get_by_text("You need the editor role").count() == 0
    page.screenshot(path=str(artifacts / "events-moderator.png"))
