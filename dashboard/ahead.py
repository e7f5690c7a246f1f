"""A rolling range's queries for the next minute, run a few seconds before the minute turns.

A rolling range ("Last 7 days", "Today", "All time"...) ends at the next whole minute, so its
cached query results are good for one minute (`dashboard.data`). When the minute turns, every
query of the view is new, and the first reader of each minute used to wait for all of them: a
new tab of Spread or Explore at 1M mentions took 0.2-0.5 s longer that minute, which made it
the slowest visit of any ten (docs/benchmarks/pages.md).

Here the readers' own calls say what to run ahead: `sidebar_filters` tells `rolls` the scope the
same view will have after the minute turns, and every query a page asks (`note`) is kept, with
that later scope, until `LEAD_S` seconds before the turn, when one thread per process runs them
(`warm`) into the cache the pages read. Nothing is run for a view nobody opened in the minute
before, and a view asked by a room full of readers is run once.

The price: a page can show the store as it was up to 60 + `LEAD_S` seconds before (60 before),
and a view's queries run once more after its last reader has left. `GROUNDSWELL_DASHBOARD_AHEAD=off`
in the dashboard's environment stops running ahead (read before each turn).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from storage.queries.scope import Scope

LEAD_S = 10
SWITCH = "GROUNDSWELL_DASHBOARD_AHEAD"
# Views (scope now -> scope after the turn) and calls kept at most: bounded memory for a
# dashboard with many readers on many views; a view past these is simply not run ahead.
VIEWS_KEPT = 256
CALLS_KEPT = 2_000

# (store URL, query name, scope key, kwargs items): the arguments of the cached query runner.
Call = tuple[str, str, tuple[Any, ...], tuple[Any, ...]]
Runner = Callable[[str, str, tuple[Any, ...], tuple[Any, ...]], Any]

_log = logging.getLogger(__name__)
_lock = threading.Lock()
_noted = threading.Condition(_lock)  # a call was kept: the thread, if within the lead, runs it
_later: OrderedDict[Scope, Scope] = OrderedDict()
# The later scope's end -> its calls (in the order asked) -> whether it has been run.
_calls: dict[int, dict[Call, bool]] = {}
_thread: threading.Thread | None = None


def key_of(scope: Scope) -> tuple[Any, ...]:
    """The scope as a cache key (what `dashboard.data` hashes)."""
    return (scope.movement_id, scope.start_ts, scope.end_ts, scope.platforms)


def rolls(now: Scope, later: Scope) -> None:
    """Say that the view whose scope is `now` will have the scope `later` once the minute
    turns (a fixed range, such as an event's window, does not roll: do not call this)."""
    if later == now or later.end_ts <= now.end_ts:
        return
    with _lock:
        _later[now] = later
        _later.move_to_end(now)
        while len(_later) > VIEWS_KEPT:
            _later.popitem(last=False)


def rolling(scope: Scope) -> bool:
    """Whether `scope` is a rolling view's (one `rolls` was told of)."""
    with _lock:
        return scope in _later


def note(db_url: str, name: str, scope: Scope, kwargs: tuple[Any, ...]) -> None:
    """A page asked `name` for `scope` of the store at `db_url`: if that scope rolls, keep
    the same query for its later scope, to be run before the turn."""
    with _lock:
        later = _later.get(scope)
        if later is None:
            return
        due = _calls.setdefault(later.end_ts, {})
        call = (db_url, name, key_of(later), kwargs)
        if call not in due and len(due) < CALLS_KEPT:
            due[call] = False
            _noted.notify_all()


def due(end_ts: int) -> list[Call]:
    """Take the calls not yet run whose later scope ends at `end_ts` (each is taken once),
    and forget any for earlier ends (their minute has passed: nobody will ask them)."""
    with _lock:
        for old in [t for t in _calls if t < end_ts]:
            del _calls[old]
        kept = _calls.get(end_ts, {})
        calls = [call for call, ran in kept.items() if not ran]
        kept.update(dict.fromkeys(calls, True))
        return calls


def _waiting(end_ts: int) -> bool:
    return not all(_calls.get(end_ts, {}).values())


def warm(end_ts: int, run: Runner) -> int:
    """Run the kept calls whose later scope ends at `end_ts` through `run` (the cached query
    runner); returns how many ran. A failing query is logged and skipped: the reader who
    asks it after the turn runs it, and sees its error, as before."""
    ran = 0
    for db_url, name, key, kwargs in due(end_ts):
        try:
            run(db_url, name, key, kwargs)
            ran += 1
        except Exception:
            _log.warning("running %s ahead of the minute failed", name, exc_info=True)
    return ran


def enabled() -> bool:
    """Off only when the operator says so (`GROUNDSWELL_DASHBOARD_AHEAD=off`)."""
    return os.environ.get(SWITCH, "on").strip().lower() not in {"off", "0", "false", "no"}


def next_turn(now: float) -> int:
    """The next whole minute after `now` (epoch seconds)."""
    return (int(now) // 60 + 1) * 60


def one_turn(run: Runner, *, switch: Callable[[], bool] = enabled) -> int:
    """Sleep until `LEAD_S` before the next turn of the minute, then run the kept calls for
    after it, and any first asked before the turn comes; returns how many ran. Each pass of
    the inner loop either runs calls or waits for one to be asked, and it ends at the turn."""
    turn = next_turn(time.time())
    wake = turn - LEAD_S
    if time.time() < wake:
        time.sleep(wake - time.time())
    ran = 0
    # The views asked in this minute end at `turn`; after it, the same views end a minute
    # later. A view first opened within the lead is run as soon as it is asked.
    while time.time() < turn:
        if not switch():
            time.sleep(max(0.0, turn - time.time()))
            break
        ran += warm(turn + 60, run)
        with _noted:
            if not _waiting(turn + 60):
                _noted.wait(timeout=max(0.0, turn - time.time()))
    if ran:
        _log.debug("ran %d queries ahead of the minute turning at %d", ran, turn)
    return ran


def _forever(run: Runner) -> None:
    while True:
        one_turn(run)
        time.sleep(1)


def start(run: Runner) -> None:
    """Start the one thread per process that runs the kept calls before each turn."""
    global _thread
    with _lock:
        if _thread is not None and _thread.is_alive():
            return
        _thread = threading.Thread(
            target=_forever, args=(run,), name="groundswell-ahead", daemon=True
        )
        _thread.start()
