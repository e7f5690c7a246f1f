"""The widening figure (a pure function of the query's rows)."""

from __future__ import annotations

from dashboard.figures.amplifiers import widening_figure

DAY = 86400


def _rows(instances: list[int]) -> list[dict[str, int]]:
    return [
        {"bucket_ts": i * DAY, "first_time": 3, "returning": 5, "instances": n, "platforms": 3}
        for i, n in enumerate(instances)
    ]


def test_instance_and_platform_ticks_are_whole_numbers():
    """Counts on the right axis: a tick at 7.5 labelled "8" beside a line at 9 misread it."""
    for top in (1, 4, 9, 23, 301):
        fig = widening_figure(_rows([top, 2]), tz="UTC")
        step = fig.layout.yaxis2.dtick
        assert step >= 1 and step == int(step), (top, step)
        assert top / step <= 5, (top, step)  # at most about five ticks


def test_the_title_fits_a_half_width_column_on_two_lines():
    fig = widening_figure(_rows([3]), tz="UTC")
    first, _, rest = fig.layout.title.text.partition("<br>")
    assert first == "Is the conversation widening?"
    assert "authors per day" in rest
