"""Pure rule logic: baselines, lift and episodes (no I/O; `evaluate.py` feeds it numbers).

An *episode* is one stretch during which a rule's condition holds. A rule fires once when an
episode opens and stays quiet until it closes (hysteresis: a spike closes only when its lift
falls below `clear_lift`, lower than the `lift` that opened it, so a rate hovering at the
threshold does not fire again and again) and, after that, until `cooldown_minutes` have passed
since it last fired.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

DAY_S = 86_400
HOUR_S = 3_600


def prorated(per_hour: dict[int, int], start_ts: int, end_ts: int) -> float:
    """Mentions in `[start_ts, end_ts)` from hourly counts, a part-hour counting its share:
    the baseline is a rate, so spreading an hour's count evenly is the honest reading."""
    total = 0.0
    for hour in range(start_ts // HOUR_S, -(-end_ts // HOUR_S)):
        lo, hi = max(start_ts, hour * HOUR_S), min(end_ts, (hour + 1) * HOUR_S)
        if hi > lo:
            total += per_hour.get(hour, 0) * (hi - lo) / HOUR_S
    return total


def baseline_windows(
    per_hour: dict[int, int], start_ts: int, end_ts: int, days: int, first_hour: int | None
) -> list[float]:
    """The same window at the same time of day on each of the previous `days` days, leaving
    out days before the movement's first mention (they are no evidence of a quiet time)."""
    out = []
    for d in range(1, days + 1):
        lo, hi = start_ts - d * DAY_S, end_ts - d * DAY_S
        if first_hour is None or lo < first_hour * HOUR_S:
            continue
        out.append(prorated(per_hour, lo, hi))
    return out


@dataclass(frozen=True, slots=True)
class SpikeReading:
    count: int
    baseline: float | None  # mean of the baseline windows; None: no baseline day yet
    days: int
    lift: float | None  # count / max(baseline, 1); None without a baseline

    def as_dict(self) -> dict[str, float | int | None]:
        return {
            "count": self.count,
            "baseline": None if self.baseline is None else round(self.baseline, 2),
            "baseline_days": self.days,
            "lift": None if self.lift is None else round(self.lift, 2),
        }


def read_spike(count: int, windows: list[float]) -> SpikeReading:
    """Lift of the window over the baseline mean. A baseline under one mention counts as one,
    so a first few posts in a dead hour are judged by `min_count`, not by a division by ~0."""
    if not windows:
        return SpikeReading(count, None, 0, None)
    mean = sum(windows) / len(windows)
    return SpikeReading(count, mean, len(windows), count / max(mean, 1.0))


@dataclass(frozen=True, slots=True)
class Episode:
    """A rule's episode state, as stored in `alert_rule_state`."""

    active: bool = False
    episode: str | None = None
    last_fired_at: datetime | None = None


def cooled_down(state: Episode, at: datetime, cooldown_minutes: int) -> bool:
    return state.last_fired_at is None or at - state.last_fired_at >= timedelta(
        minutes=cooldown_minutes
    )


def step(
    state: Episode, *, opens: bool, closes: bool, at: datetime, cooldown_minutes: int, key: str
) -> tuple[bool, Episode]:
    """One evaluation: (fire?, next state). `opens`: the condition to start an episode;
    `closes`: the (weaker) condition that ends one. Fires only when an episode opens."""
    if state.active:
        if closes:
            return False, replace(state, active=False)
        return False, state
    if opens and cooled_down(state, at, cooldown_minutes):
        return True, Episode(active=True, episode=key, last_fired_at=at)
    return False, state


def spike_step(
    state: Episode,
    reading: SpikeReading,
    *,
    at: datetime,
    min_count: int,
    lift: float,
    clear_lift: float,
    cooldown_minutes: int,
    key: str,
) -> tuple[bool, Episode]:
    """A spike opens at `lift` with at least `min_count` mentions, closes below `clear_lift`
    (or when the count falls under half of `min_count`)."""
    if reading.lift is None:
        return False, state
    opens = reading.count >= min_count and reading.lift >= lift
    closes = reading.lift < clear_lift or reading.count < min_count / 2
    return step(
        state, opens=opens, closes=closes, at=at, cooldown_minutes=cooldown_minutes, key=key
    )
