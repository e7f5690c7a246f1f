"""Event measures on hand-built data with known answers (SQLite and PostgreSQL), and the
iCalendar import."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.ics import IcsError, parse_ics
from domain.settings.config import EventSettings
from storage.engine import write_tx
from storage.queries import events as ev
from storage.queries.scope import list_events, list_movements
from storage.write import write_batch
from tests.factories import T0, account, batch, mention, movement

H = 3600


def _at(hours: float):
    return T0 + timedelta(hours=hours)


def _setup(engine, *mentions, start_h=10, end_h=12):
    rules = movement(engine)
    with write_tx(engine) as conn:
        write_batch(conn, batch(*mentions), rules)
        ev.save_events(
            conn,
            [EventSettings(slug="talk", name="Talk", starts=_at(start_h), ends=_at(end_h))],
            "nhscitizen",
        )
    with engine.connect() as conn:
        mv = list_movements(conn)[0]["id"]
        return mv, list_events(conn, mv)[0]


def test_lift_is_the_event_rate_over_the_rate_in_an_equally_long_window_before(store):
    # Baseline [8h, 10h): 2 mentions. Event [10h, 12h): 6 mentions. Lift 3.
    ms = [mention(i, created_at=_at(8 + 0.5 * i)) for i in (1, 2)]
    ms += [mention(10 + i, created_at=_at(10 + 0.3 * i)) for i in range(6)]
    ms += [mention(99, created_at=_at(5))]  # before the baseline: ignored
    mv, event = _setup(store, *ms)
    with store.connect() as conn:
        r = ev.event_report(conn, mv, event)
    assert (r["mentions"], r["baseline_mentions"], r["lift"]) == (6, 2, 3.0)
    assert r["baseline_rate_per_hour"] == 1.0


def test_event_and_baseline_counts_are_exact_when_they_start_and_end_inside_an_hour(store):
    # Event [10:30, 12:30), baseline [08:30, 10:30): each window keeps only its own half-hours.
    hours = (8.2, 8.7, 9.5, 10.4, 10.6, 11.0, 12.4, 12.6)
    ms = [mention(i, created_at=_at(h)) for i, h in enumerate(hours, start=1)]
    mv, event = _setup(store, *ms, start_h=10.5, end_h=12.5)
    with store.connect() as conn:
        r = ev.event_report(conn, mv, event)
    assert (r["mentions"], r["baseline_mentions"]) == (3, 3)


def test_lift_is_undefined_without_a_baseline(store):
    mv, event = _setup(store, mention(1, created_at=_at(11)))
    with store.connect() as conn:
        assert ev.event_report(conn, mv, event)["lift"] is None


def test_new_authors_are_those_first_seen_during_the_event(store):
    mv, event = _setup(
        store,
        mention(1, author=account(1), created_at=_at(9)),
        mention(2, author=account(1), created_at=_at(10.5)),
        mention(3, author=account(2), created_at=_at(11)),
        mention(4, author=account(3), created_at=_at(11.5)),
    )
    with store.connect() as conn:
        assert ev.event_report(conn, mv, event)["new_authors"] == 2


def test_afterglow_counts_hours_after_the_end_while_the_rate_stays_above_baseline(store):
    # Baseline [8h,10h): 2 mentions -> 1/hour. After 12h: hour 0 has 3, hour 1 has 2,
    # hour 2 has 1 (not above 1/hour) -> after-glow 2 hours.
    ms = [mention(1, created_at=_at(8.5)), mention(2, created_at=_at(9.5))]
    ms += [mention(10 + i, created_at=_at(12.1 + 0.2 * i)) for i in range(3)]
    ms += [mention(20 + i, created_at=_at(13.1 + 0.2 * i)) for i in range(2)]
    ms += [mention(30, created_at=_at(14.5)), mention(31, created_at=_at(15.5))]
    ms += [mention(40 + i, created_at=_at(16.1 + 0.1 * i)) for i in range(5)]  # later burst
    mv, event = _setup(store, *ms)
    with store.connect() as conn:
        assert ev.event_report(conn, mv, event)["afterglow_hours"] == 2


def test_events_can_be_edited_and_deleted_from_the_page(store):
    mv, _event = _setup(store, mention(1, created_at=_at(1)))
    with write_tx(store) as conn:
        ev.save_events(
            conn,
            [EventSettings(slug="talk", name="Keynote", starts=_at(10), ends=_at(13))],
            "nhscitizen",
        )
    with store.connect() as conn:
        (e,) = list_events(conn, mv)
    assert (e["name"], e["end_ts"] - e["start_ts"], e["origin"]) == ("Keynote", 3 * H, "dashboard")
    with write_tx(store) as conn:
        assert ev.delete_events(conn, ["talk"]) == 1


ICS = b"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Test//Programme//EN
BEGIN:VEVENT
UID:session-1@assembly
SUMMARY:Opening plenary
DTSTART;TZID=Europe/London:20261103T093000
DTEND;TZID=Europe/London:20261103T103000
LOCATION:Main hall
END:VEVENT
BEGIN:VEVENT
UID:session-2@assembly
SUMMARY:Workshop <script>x</script>
DTSTART:20261103T110000Z
DURATION:PT90M
END:VEVENT
BEGIN:VEVENT
UID:broken@assembly
SUMMARY:Broken session
DTSTART:20261103T120000Z
DTEND:20261103T110000Z
END:VEVENT
END:VCALENDAR
"""


def test_an_ics_programme_becomes_one_event_per_session_with_its_zone():
    imp = parse_ics(ICS, movement="nhscitizen")
    first, second = imp.events
    assert (first.name, first.timezone, first.place) == (
        "Opening plenary",
        "Europe/London",
        "Main hall",
    )
    assert first.starts.astimezone(UTC) == datetime(2026, 11, 3, 9, 30, tzinfo=UTC)
    assert second.ends - second.starts == timedelta(minutes=90)
    assert first.slug != second.slug
    assert imp.problems == ["'Broken session': skipped (ends before it starts)"]


def test_a_file_that_is_not_icalendar_is_refused_with_a_clear_message():
    with pytest.raises(IcsError, match="not an iCalendar file"):
        parse_ics(b"<html>hello</html>")
