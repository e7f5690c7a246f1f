"""The scheduled digest: which period a slot reports, queued once per period."""

from __future__ import annotations

from datetime import UTC, date, datetime

from domain.settings.config import parse_settings
from groundswell.alerts.digest import queue_scheduled_digest, schedule_due
from storage.alerts import list_alerts
from tests.factories import movement

EMAIL = {
    "host": "127.0.0.1",
    "port": 1025,
    "security": "none",
    "sender": "a@b.org",
    "to": ["c@d.org"],
}


def test_a_daily_slot_reports_yesterday_only_once_the_slot_has_passed():
    at_7 = datetime(2026, 11, 10, 7, 59, tzinfo=UTC)
    at_8 = datetime(2026, 11, 10, 8, 0, tzinfo=UTC)
    assert schedule_due("daily 08:00 UTC", at_7)[0].first == date(2026, 11, 8)
    assert schedule_due("daily 08:00 UTC", at_8)[0].first == date(2026, 11, 9)


def test_a_weekly_slot_reports_the_seven_days_before_its_day_in_its_zone():
    period, slot = schedule_due(
        "weekly mon 08:00 Europe/London", datetime(2026, 11, 12, tzinfo=UTC)
    )
    assert slot.strftime("%a %H:%M") == "Mon 08:00" and period.zone == "Europe/London"
    assert (period.first, period.last) == (date(2026, 11, 2), date(2026, 11, 8))


def test_the_scheduled_digest_is_queued_once_per_period(sqlite_store):
    movement(sqlite_store)
    s = parse_settings({"alerts": {"email": EMAIL, "digest": {"schedule": "daily 08:00 UTC"}}})
    now = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)
    first = queue_scheduled_digest(sqlite_store, s, now=now)
    again = queue_scheduled_digest(sqlite_store, s, now=now.replace(hour=12))
    assert first is not None and again is None
    with sqlite_store.connect() as conn:
        (digest,) = list_alerts(conn, include_digests=True)
    assert digest["kind"] == "digest" and "Monday 09 November 2026" in digest["title"]
    assert digest["html"].startswith("<!doctype html>") and digest["deliveries"] == [
        "email: queued"
    ]
