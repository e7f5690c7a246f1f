"""Cached access to the store for pages: one engine per URL, query results cached per filters.

Pages call `data.q("overview.headline_with_change", scope)`; the result is cached (keyed on the
store URL, the query's name, the scope and keyword arguments) for `TTL_S` seconds, so a room full
of readers on the same view costs one query per minute, not one per reader. A rolling range's
queries (its scope ends at the next whole minute, so its keys change every minute) are cached
apart, and run a few seconds before the minute turns for the views readers had open
(`dashboard.ahead`).

The queries that count persons (`PERSON_QUERIES`) are handed the movement's view of the linked
accounts (`storage.queries.persons.linked_view`), itself one cached query per movement (it does
not depend on the range): a page's person counts, its last-hour block's included, read the
linked accounts once between them instead of once per count (a headline alone counted four
times). The view enters the other queries' cache keys by its digest, not its rows.
"""

from __future__ import annotations

import importlib
from typing import Any

import streamlit as st
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from dashboard import ahead
from storage.engine import StoreConfigError, describe_url, make_engine, resolve_db_url
from storage.queries.persons import Linked
from storage.queries.scope import Scope, tune_for_dashboard

TTL_S = 60
# Long enough for a result run `ahead.LEAD_S` before its minute to last through that minute.
ROLLING_TTL_S = 2 * TTL_S
# Named queries that take `linked=` (a `Linked` view) and count persons with it.
PERSON_QUERIES = frozenset(
    {
        "overview.headline_with_change",
        "overview.headline",
        "overview.new_voices",
        "amplifiers.summary",
        "amplifiers.new_voices_per_day",
        "amplifiers.widening",
        "spread.cumulative_authors",
        "persons.carriers",
    }
)


@st.cache_resource(show_spinner=False)
def _engine(url: str) -> Engine:
    return tune_for_dashboard(make_engine(url))


def url() -> str:
    return resolve_db_url()


def engine() -> Engine:
    return _engine(url())


def _fail(exc: Exception) -> None:
    st.error(
        f"Cannot read the store at {describe_url(url())}: {str(exc).splitlines()[0][:300]}. "
        "Check GROUNDSWELL_DB_URL (or --db) and run `groundswell init` to create or upgrade it."
    )
    st.stop()


def _query(db_url: str, name: str, scope: tuple[Any, ...] | None, kwargs: tuple[Any, ...]) -> Any:
    module, func = name.rsplit(".", 1)
    fn = getattr(importlib.import_module(f"storage.queries.{module}"), func)
    args = (Scope(*scope),) if scope is not None else ()
    with _engine(db_url).connect() as conn:
        return fn(conn, *args, **dict(kwargs))


@st.cache_data(
    ttl=TTL_S, show_spinner=False, max_entries=512, hash_funcs={Linked: lambda v: v.digest}
)
def _run(db_url: str, name: str, scope: tuple[Any, ...] | None, kwargs: tuple[Any, ...]) -> Any:
    """A query of a fixed scope (an event's window, custom dates) or of none."""
    return _query(db_url, name, scope, kwargs)


@st.cache_data(
    ttl=ROLLING_TTL_S,
    show_spinner=False,
    max_entries=1024,
    hash_funcs={Linked: lambda v: v.digest},
)
def _run_rolling(db_url: str, name: str, scope: tuple[Any, ...], kwargs: tuple[Any, ...]) -> Any:
    """A query of a rolling range's scope. Its key holds the range's end, the next whole
    minute, so it is asked for one minute at most whatever its ttl; the ttl only has to keep a
    result run ahead of the minute (`dashboard.ahead`) through the minute it is for."""
    return _query(db_url, name, scope, kwargs)


def q(name: str, scope: Scope | None = None, **kwargs: Any) -> Any:
    """Run the named query function `storage.queries.<module>.<func>` through the cache
    (person counts with the scope's cached view of the linked accounts)."""
    if name in PERSON_QUERIES and scope is not None and "linked" not in kwargs:
        # Per movement, not per range: the view does not depend on the range, so a page and
        # its last-hour block (another range) share one read.
        kwargs["linked"] = q("persons.linked_view", movement_id=scope.movement_id)
    items = tuple(sorted(kwargs.items()))
    try:
        db_url = url()
        if scope is None:
            return _run(db_url, name, None, items)
        if not ahead.rolling(scope):
            return _run(db_url, name, ahead.key_of(scope), items)
        ahead.note(db_url, name, scope, items)
        ahead.start(_run_rolling)
        return _run_rolling(db_url, name, ahead.key_of(scope), items)
    except (SQLAlchemyError, StoreConfigError, OSError) as exc:
        _fail(exc)


def rolls(now: Scope, later: Scope) -> None:
    """The view whose scope is `now` has the scope `later` once the minute turns: its queries
    are run a few seconds before then (`dashboard.ahead`)."""
    ahead.rolls(now, later)


def movements() -> list[dict[str, Any]]:
    return q("scope.list_movements") or []


def events(movement_id: int) -> list[dict[str, Any]]:
    return q("scope.list_events", movement_id=movement_id) or []


def span(movement_id: int) -> tuple[int, int] | None:
    return q("scope.data_span", movement_id=movement_id)


def clear() -> None:
    """Forget cached results (after the page itself changed data, e.g. edited events)."""
    _run.clear()
    _run_rolling.clear()
