"""The audit trail in a real Chromium against the real Streamlit server (issue 23): a moderator
signs in with the shared password, hides a post, and finds the sign-in and the hide on the
Audit trail page under the name typed at sign-in, without the auditors' download.
Importing a programme (.ics) on the Events page, which AppTest cannot upload, is recorded too.
Screenshot: tests/browser/artifacts/audit-moderator.png.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from storage.audit import AuditFilter, list_actions
from tests import wall_feeder

MODERATOR_PASSWORD = "moderators-only-phrase"

pytestmark = pytest.mark.slow


def test_a_moderator_sees_their_own_hide_in_the_audit_trail(
    sqlite_store, streamlit_app, page, artifacts
):
    wall_feeder.ensure_movement(sqlite_store)
    wall_feeder.write(sqlite_store, *wall_feeder.conversation(datetime.now(UTC)))
    base = streamlit_app(
        str(sqlite_store.url), env={"GROUNDSWELL_MODERATOR_PASSWORD": MODERATOR_PASSWORD}
    )
    page.goto(f"{base}/moderate", wait_until="domcontentloaded")
    page.get_by_label("Your name (recorded with each decision)").fill("Mo", timeout=60_000)
    page.get_by_label("Moderator password").fill(MODERATOR_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Signed in as Mo").wait_for(timeout=60_000)
    page.get_by_role("button", name="Hide", exact=True).first.click()
    page.get_by_role("button", name="Show again").first.wait_for(timeout=60_000)

    page.get_by_role("link", name="Audit trail").click()
    page.get_by_text("Only the auditor role may download").wait_for(timeout=60_000)
    table = page.get_by_test_id("stTable")
    table.get_by_text("hid on the wall").wait_for(timeout=60_000)
    assert table.get_by_text("shared password: Mo").count() == 2  # the sign-in and the hide
    assert table.get_by_text("signed in", exact=True).count() == 1
    assert page.get_by_role("button", name="Prepare the audit export (CSV)").count() == 0
    assert page.get_by_role("button", name="Download as CSV").count() == 0  # no side door
    boxes = page.get_by_test_id("stSelectbox")
    boxes.nth(1).locator("input").click()  # Action
    page.get_by_role("option", name="sign_in (signed in)").wait_for(timeout=30_000)
    page.get_by_role("option", name="wall.hide (hid on the wall)").click()
    boxes.nth(0).locator("input").click()  # Actor
    page.get_by_role("option", name="shared password: Mo").click()
    table.get_by_text("signed in", exact=True).wait_for(state="detached", timeout=30_000)
    page.screenshot(path=str(artifacts / "audit-moderator.png"), full_page=True)
    with sqlite_store.connect() as conn:
        rows = list_actions(conn)
    assert [(r["actor"], r["action"]) for r in rows] == [
        ("shared password: Mo", "wall.hide"),
        ("shared password: Mo", "sign_in"),
    ]

    page.get_by_role("link", name="Events").click()
    page.locator("input[type=file]").set_input_files(
        files=[{"name": "programme.ics", "mimeType": "text/calendar", "buffer": ICS}]
    )
    page.get_by_role("button", name="Import 2 sessions").click(timeout=60_000)
    deadline, imported = time.monotonic() + 60, []
    while not imported and time.monotonic() < deadline:
        with sqlite_store.connect() as conn:
            imported = list_actions(conn, AuditFilter(action="events.import"))
        time.sleep(0.3)
    [row] = imported
    assert (row["actor"], row["role"]) == ("shared password: Mo", "editor")
    assert row["detail"] == {"sessions": 2, "file": "programme.ics"}


ICS = b"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Test//Programme//EN
BEGIN:VEVENT
UID:session-1@assembly
SUMMARY:Opening plenary
DTSTART;TZID=Europe/London:20261103T093000
DTEND;TZID=Europe/London:20261103T103000
END:VEVENT
BEGIN:VEVENT
UID:session-2@assembly
SUMMARY:Workshop
DTSTART:20261103T110000Z
DURATION:PT90M
END:VEVENT
END:VCALENDAR
"""
