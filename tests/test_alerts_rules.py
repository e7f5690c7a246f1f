"""Pure rule logic: prorated baselines, lift, and episodes that fire once (cooldown and
hysteresis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from groundswell.alerts.rules import (
    Episode,
    baseline_windows,
    prorated,
    read_spike,
    spike_step,
    step,
)

T = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
H = 3600


def _spike(state, count, baseline_windows_, at=T):
    return spike_step(
        state,
        read_spike(count, baseline_windows_),
        at=at,
        min_count=20,
        lift=3.0,
        clear_lift=1.5,
        cooldown_minutes=180,
        key=at.isoformat(),
    )


def test_a_part_hour_counts_its_share_of_the_hour():
    assert prorated({10: 60, 11: 120}, 10 * H + 1800, 11 * H + 900) == 30 + 30


def test_baseline_days_before_the_first_mention_are_left_out():
    per_hour = {h: 10 for h in range(0, 24 * 10)}
    start = 9 * 86400 + 12 * H
    windows = baseline_windows(per_hour, start, start + H, 7, first_hour=5 * 24)
    assert windows == [10.0] * 4  # days 8, 7, 6, 5 back... only those after hour 120


def test_a_spike_fires_once_when_the_lift_and_the_count_are_reached():
    fire, state = _spike(Episode(), 60, [10, 12, 8])
    assert fire and state.active
    again, state = _spike(state, 80, [10, 12, 8], at=T + timedelta(minutes=5))
    assert not again and state.active


def test_too_few_mentions_never_fire_however_large_the_lift():
    assert not _spike(Episode(), 19, [0.1, 0.0])[0]


def test_no_baseline_yet_means_no_spike():
    fire, state = _spike(Episode(), 500, [])
    assert not fire and state == Episode()


def test_hovering_between_the_clear_and_fire_thresholds_keeps_the_episode_open():
    _, state = _spike(Episode(), 60, [10])
    for minutes, count in ((10, 25), (20, 31), (30, 18)):  # lift 2.5, 3.1, 1.8: still open
        fire, state = _spike(state, count, [10], at=T + timedelta(minutes=minutes))
        assert not fire and state.active


def test_an_episode_closes_below_the_clear_lift_and_a_new_one_waits_for_the_cooldown():
    _, state = _spike(Episode(), 60, [10])
    _, state = _spike(state, 12, [10], at=T + timedelta(minutes=30))  # lift 1.2 < 1.5
    assert not state.active
    early, state = _spike(state, 60, [10], at=T + timedelta(minutes=90))
    assert not early
    late, state = _spike(state, 60, [10], at=T + timedelta(minutes=180))
    assert late and state.episode == (T + timedelta(minutes=180)).isoformat()


def test_a_generic_condition_fires_on_opening_only():
    fire, s = step(Episode(), opens=True, closes=False, at=T, cooldown_minutes=0, key="a")
    assert fire
    fire, s = step(s, opens=True, closes=False, at=T, cooldown_minutes=0, key="b")
    assert not fire and s.episode == "a"
    fire, s = step(s, opens=False, closes=True, at=T, cooldown_minutes=0, key="c")
    assert not fire and not s.active
