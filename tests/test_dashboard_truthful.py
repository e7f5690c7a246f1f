"""Charts that tell the truth: bars over their own day, whole-number count axes, changes
with a percentage and no arrow for none, no developer changelog on the pages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dashboard.figures.amplifiers import new_voices_figure, widening_figure
from dashboard.figures.spread import cascade_histogram, cumulative_authors_figure
from dashboard.figures.volume import volume_figure
from tests.test_dashboard_pages import _run, data_url  # noqa: F401 - the fixture

MIDNIGHT = int(datetime(2026, 11, 30, tzinfo=UTC).timestamp())
DAY_MS = 86_400_000


def _bars(fig):
    return [t for t in fig.data if t.type == "bar"]


def test_a_daily_bar_starts_at_midnight_and_spans_its_day():
    rows = [{"bucket_ts": MIDNIGHT, "platform": "mastodon", "mentions": 5}]
    (bar,) = _bars(volume_figure(rows, bucket_s=86_400, tz="UTC"))
    assert bar.offset == 0 and 0.9 * DAY_MS <= bar.width <= DAY_MS


def test_new_voices_and_widening_bars_span_their_day():
    voices = new_voices_figure(
        [{"bucket_ts": MIDNIGHT, "platform": "bluesky", "authors": 3}], tz="UTC"
    )
    wide = widening_figure(
        [
            {
                "bucket_ts": MIDNIGHT,
                "first_time": 2,
                "returning": 1,
                "instances": 1,
                "platforms": 2,
            }
        ],
        tz="UTC",
    )
    for bar in _bars(voices) + _bars(wide):
        assert bar.offset == 0 and 0.9 * DAY_MS <= bar.width <= DAY_MS


@pytest.mark.parametrize(
    "fig",
    [
        cumulative_authors_figure(
            [
                {"bucket_ts": MIDNIGHT, "cumulative": 2719},
                {"bucket_ts": MIDNIGHT + 60, "cumulative": 2720},
            ],
            tz="UTC",
        ),
        cascade_histogram([{"size": 2, "cascades": 1}, {"size": 3, "cascades": 2}]),
        volume_figure(
            [{"bucket_ts": MIDNIGHT, "platform": "blog", "mentions": 3}], bucket_s=3600, tz="UTC"
        ),
    ],
    ids=["authors", "cascade sizes", "volume"],
)
def test_count_axes_start_at_zero_with_whole_number_ticks(fig):
    axis = fig.layout.yaxis
    assert axis.rangemode == "tozero" and axis.tickformat == ",d"
    assert axis.tick0 == 0 and isinstance(axis.dtick, int) and axis.dtick >= 1


def test_a_change_shows_its_percentage_beside_the_absolute_delta():
    from dashboard.ui import change_text

    assert change_text(115, 15) == "+15 (+15%)"
    assert change_text(80, -20) == "-20 (-20%)"
    assert change_text(12, 12) == "+12 (new)"
    assert change_text(5, None) is None


def test_the_period_compared_with_is_named_by_the_range_length():
    from dashboard.ui import previous_period

    assert previous_period(7 * 86400) == "the previous 7 days"
    assert previous_period(86400) == "the previous day"
    assert previous_period(3600) == "the previous hour"
    assert previous_period(6 * 3600) == "the previous 6 hours"
    assert previous_period(5400) == "the equally long period before"


def _metrics_app() -> None:
    from dashboard import ui

    ui.metric_row(
        {"mentions": {"value": 40, "change": 0}, "people": {"value": 30, "change": 10}},
        "the previous 7 days",
    )


def test_a_change_of_zero_gets_no_arrow():
    from streamlit.testing.v1 import AppTest

    from tests.html_tables import html_metrics

    at = AppTest.from_function(_metrics_app)
    at.run()
    assert not at.exception
    mentions, people = html_metrics(at)[:2]
    assert at.caption[0].value == "Changes are against the previous 7 days."
    assert (mentions.delta, mentions.direction, mentions.arrow) == ("no change", "off", "")
    assert (people.delta, people.direction, people.arrow) == ("+10 (+50%)", "up", "↑")


@pytest.mark.parametrize("page", ["views/spread.py", "views/overview.py", "views/amplifiers.py"])
def test_pages_carry_no_changelog_written_for_developers(page, data_url, monkeypatch):  # noqa: F811
    at = _run(data_url, monkeypatch, page)
    texts = [c.value for c in at.caption] + [m.value for m in at.markdown]
    assert not [t for t in texts if "Since 26 Nov" in t or "; before," in t]
