"""The shared filters: query parameters (hand-edited, shared, hostile) to a concrete window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dashboard.filters import resolve_filters

NOW = datetime(2026, 11, 5, 14, 30, 20, tzinfo=UTC)
MOVEMENTS = [
    {"id": 1, "slug": "nhscitizen", "name": "NHS Citizen"},
    {"id": 2, "slug": "cd", "name": "Change Day"},
]
EVENT = {
    "id": 7,
    "slug": "assembly",
    "name": "Assembly",
    "starts_at": datetime(2026, 11, 3, 9, tzinfo=UTC),
    "ends_at": datetime(2026, 11, 3, 17, tzinfo=UTC),
    "start_ts": int(datetime(2026, 11, 3, 9, tzinfo=UTC).timestamp()),
    "end_ts": int(datetime(2026, 11, 3, 17, tzinfo=UTC).timestamp()),
}
RECENT_SPAN = (int((NOW - timedelta(days=2)).timestamp()), int(NOW.timestamp()))


def _resolve(params, span=RECENT_SPAN, events=(EVENT,)):
    return resolve_filters(
        params,
        now=NOW,
        movements=MOVEMENTS,
        events_of=lambda _mv: list(events),
        span_of=lambda _mv: span,
    )


def test_no_movement_means_no_filters():
    assert (
        resolve_filters({}, now=NOW, movements=[], events_of=list, span_of=lambda _: None) is None
    )


def test_defaults_to_the_first_movement_and_the_last_seven_days_ending_at_the_next_minute():
    f = _resolve({})
    assert f.movement["slug"] == "nhscitizen"
    assert f.preset == "7d"
    assert f.end == datetime(2026, 11, 5, 14, 31, tzinfo=UTC)
    assert f.end - f.start == timedelta(days=7)


def test_a_quiet_movement_defaults_to_all_time():
    old = (int((NOW - timedelta(days=40)).timestamp()), int((NOW - timedelta(days=30)).timestamp()))
    f = _resolve({}, span=old)
    assert f.preset == "all"
    assert int(f.start.timestamp()) == old[0]


def test_today_starts_at_local_midnight_in_the_chosen_zone():
    f = _resolve({"range": "today", "tz": "America/New_York"})
    assert f.start == datetime(2026, 11, 5, 5, tzinfo=UTC)  # midnight EST


def test_event_window_uses_the_named_event():
    f = _resolve({"range": "event", "ev": "assembly"})
    assert (f.start, f.end) == (EVENT["starts_at"], EVENT["ends_at"])
    assert f.event["slug"] == "assembly"


def test_custom_dates_are_whole_local_days_inclusive():
    f = _resolve({"range": "custom", "from": "2026-11-01", "to": "2026-11-02", "tz": "UTC"})
    assert (f.start, f.end) == (
        datetime(2026, 11, 1, tzinfo=UTC),
        datetime(2026, 11, 3, tzinfo=UTC),
    )


def test_platforms_are_kept_only_when_known():
    f = _resolve({"pf": "mastodon,<script>,bluesky"})
    assert f.platforms == ("bluesky", "mastodon")


def test_hostile_or_unknown_values_fall_back_with_a_note_not_an_error():
    f = _resolve({"mv": "nope", "range": "'; drop", "tz": "Mars/Base", "ev": "x"})
    assert f.movement["slug"] == "nhscitizen"
    assert f.tz == "UTC"
    assert len(f.notes) == 4


def test_params_round_trip_through_the_url():
    f = _resolve(
        {
            "mv": "cd",
            "range": "custom",
            "from": "2026-11-01",
            "to": "2026-11-02",
            "pf": "blog",
            "ev": "assembly",
            "tz": "Europe/London",
        }
    )
    assert _resolve(f.to_params()) == f
