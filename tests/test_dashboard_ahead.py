"""A rolling range's queries for the next minute are run before the minute turns, so the first
reader of a minute does not wait for all of a page's queries (dashboard/ahead.py,
docs/benchmarks/pages.md). Pages run under AppTest from the real entry point on the demo
conversation; the clock is moved with time-machine, as a reader's would move."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import Engine, event
from streamlit.testing.v1 import AppTest

from dashboard import ahead
from storage.queries.scope import Scope
from tests.dashboard_data import open_page, small_demo


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory) -> str:
    return small_demo(tmp_path_factory.mktemp("ahead") / "demo.db")[0]


class Statements:
    """Every SQL statement any engine sends to the store at `url` while counting."""

    def __init__(self, url: str) -> None:
        self.database = url.removeprefix("sqlite:///")
        self.sent: list[str] = []

    def _seen(self, conn, _cursor, statement, *_args) -> None:
        if conn.engine.url.database == self.database:
            self.sent.append(statement)

    def __enter__(self) -> Statements:
        event.listen(Engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(Engine, "before_cursor_execute", self._seen)


def _page(url: str, monkeypatch, page: str) -> AppTest:
    monkeypatch.setenv("GROUNDSWELL_DB_URL", url)
    # The dashboard's own thread stays out of the way: the test runs ahead itself, at a turn
    # of its own clock.
    monkeypatch.setenv(ahead.SWITCH, "off")
    monkeypatch.delenv("GROUNDSWELL_DASHBOARD_PASSWORD", raising=False)
    return open_page(page)


@pytest.mark.parametrize(
    ("page", "hours_on"),
    [
        ("views/spread.py", 1),
        ("views/overview.py", 2),
        ("views/amplifiers.py", 3),
        ("views/explore.py", 4),
    ],
)
def test_the_first_reader_after_the_minute_turns_finds_the_page_s_queries_run(
    demo_url, monkeypatch, page, hours_on
):
    # A turn of the clock no other test reaches (each page has its own): a view asked in the
    # minute before it ends at `turn`.
    turn = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(hours=hours_on)
    with time_machine.travel(turn - timedelta(seconds=30), tick=True):
        _page(demo_url, monkeypatch, page)  # a reader in the minute before the turn
    # `LEAD_S` before the turn the dashboard's thread runs what that reader's view will ask
    # after it (here the same call, made without waiting for the thread's schedule).
    with time_machine.travel(turn - timedelta(seconds=ahead.LEAD_S), tick=True):
        assert ahead.warm(int(turn.timestamp()) + 60, _run_ahead()) > 0
    with time_machine.travel(turn + timedelta(seconds=5), tick=True), Statements(demo_url) as sql:
        at = _page(demo_url, monkeypatch, page)  # the first reader after the turn
    assert at.title, "the page was drawn"
    assert sql.sent == [], f"{len(sql.sent)} statements waited for: {sql.sent[:3]}"


def _run_ahead():
    """The runner the dashboard's thread is started with: the rolling ranges' cache."""
    from dashboard.data import _run_rolling

    return _run_rolling


# --- the kept calls themselves ------------------------------------------------------------

# Minutes far from today's, which no dashboard thread of this process ever reaches.
FAR = 4_102_444_800  # 2100-01-01
NOW = Scope(1, FAR - 3600, FAR, ())
LATER = Scope(1, FAR + 60 - 3600, FAR + 60, ())


def test_only_a_rolling_view_s_queries_are_kept_and_each_once_for_its_later_scope():
    fixed = Scope(1, FAR - 900, FAR - 500, ())
    ahead.rolls(NOW, LATER)
    ahead.rolls(fixed, fixed)  # a window that does not move is not kept
    assert ahead.rolling(NOW) and not ahead.rolling(fixed)
    for _reader in range(3):
        ahead.note("sqlite:///x.db", "overview.volume", NOW, (("bucket_s", 60),))
    ahead.note("sqlite:///x.db", "overview.volume", fixed, ())
    ran: list[tuple] = []
    assert ahead.warm(LATER.end_ts, lambda *call: ran.append(call)) == 1
    assert ran == [("sqlite:///x.db", "overview.volume", ahead.key_of(LATER), (("bucket_s", 60),))]
    assert ahead.warm(LATER.end_ts, lambda *call: ran.append(call)) == 0, "run once"


def test_a_failing_query_is_skipped_and_the_others_still_run():
    ahead.rolls(NOW, LATER)
    ahead.note("sqlite:///x.db", "a.fails", NOW, ())
    ahead.note("sqlite:///x.db", "b.works", NOW, ())
    ran: list[str] = []

    def run(_url, name, _key, _kwargs):
        if name == "a.fails":
            raise RuntimeError("the store is locked")
        ran.append(name)

    assert ahead.warm(LATER.end_ts, run) == 1
    assert ran == ["b.works"]


def test_calls_for_a_minute_that_has_passed_are_dropped():
    ahead.rolls(NOW, LATER)
    ahead.note("sqlite:///x.db", "overview.volume", NOW, ())
    assert ahead.due(LATER.end_ts + 60) == []
    assert ahead.due(LATER.end_ts) == [], "an older minute's calls were dropped"


def test_a_view_asked_again_is_not_run_again_and_one_first_asked_late_still_is():
    ahead.rolls(NOW, LATER)
    ahead.note("sqlite:///x.db", "overview.volume", NOW, ())
    ran: list[str] = []
    assert ahead.warm(LATER.end_ts, lambda _u, name, _k, _kw: ran.append(name)) == 1
    ahead.note("sqlite:///x.db", "overview.volume", NOW, ())  # another reader, same view
    ahead.note("sqlite:///x.db", "spread.footprint", NOW, ())  # a page first opened late
    assert ahead.warm(LATER.end_ts, lambda _u, name, _k, _kw: ran.append(name)) == 1
    assert ran == ["overview.volume", "spread.footprint"]


def test_one_turn_runs_the_kept_calls_before_the_turn_and_one_asked_while_it_waits(
    monkeypatch,
):
    monkeypatch.setenv(ahead.SWITCH, "off")  # the dashboard's own thread, if any, stays idle
    turn = FAR + 3600  # a turn of its own
    now_view = Scope(2, turn - 3600, turn, ())
    later = Scope(2, turn + 60 - 3600, turn + 60, ())
    ahead.rolls(now_view, later)
    ahead.note("sqlite:///x.db", "overview.volume", now_view, ())
    ran: list[tuple[str, float]] = []

    def run(_url, name, _key, _kwargs):
        ran.append((name, time.time()))

    def a_late_reader():
        time.sleep(0.3)
        ahead.note("sqlite:///x.db", "spread.footprint", now_view, ())

    # A second before the turn (the clock moves on as it would).
    with time_machine.travel(turn - 1.0, tick=True):
        late = threading.Thread(target=a_late_reader)
        late.start()
        assert ahead.one_turn(run, switch=lambda: True) == 2
        late.join()
    assert [name for name, _ in ran] == ["overview.volume", "spread.footprint"]
    assert all(at < turn for _, at in ran), "both ran before the minute turned"
