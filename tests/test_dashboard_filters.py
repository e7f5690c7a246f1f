"""The shared filters: query parameters (hand-edited, shared, hostile) to a concrete window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dashboard.filters import a_minute_later, resolve_filters

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


def _later(params, now=NOW, span=RECENT_SPAN):
    def view(t):
        return resolve_filters(
            params,
            now=t,
            movements=MOVEMENTS,
            events_of=lambda _mv: [EVENT],
            span_of=lambda _mv: span,
        )

    return a_minute_later(view, now)


def test_a_rolling_range_a_minute_later_is_the_same_length_a_minute_on():
    for preset, length in (("1h", timedelta(hours=1)), ("7d", timedelta(days=7))):
        later = _later({"range": preset})
        assert later.end == datetime(2026, 11, 5, 14, 32, tzinfo=UTC), preset
        assert later.end - later.start == length, preset


def test_all_time_a_minute_later_keeps_its_start_and_ends_a_minute_on():
    now_view = _resolve({"range": "all"})
    later = _later({"range": "all"})
    assert later.start == now_view.start
    assert later.end == now_view.end + timedelta(minutes=1)


def test_today_a_minute_before_local_midnight_is_tomorrow_a_minute_later():
    late = datetime(2026, 11, 5, 4, 59, 30, tzinfo=UTC)  # 23:59:30 in New York (EST)
    later = _later({"range": "today", "tz": "America/New_York"}, now=late)
    assert later.start == datetime(2026, 11, 5, 5, tzinfo=UTC)  # the new day's midnight
    assert later.end == datetime(2026, 11, 5, 5, 1, tzinfo=UTC)


def test_an_event_window_or_custom_dates_do_not_move_with_the_clock():
    assert _later({"range": "event", "ev": "assembly"}) is None
    assert _later({"range": "custom", "from": "2026-11-01", "to": "2026-11-02"}) is None
