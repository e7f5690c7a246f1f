"""The Explore page's preview as a named query (`storage.queries.export.preview`), on SQLite and
PostgreSQL: the same counts and the same withheld content as the export itself."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from storage.queries.export import FilterError, preview
from storage.queries.scope import Scope
from tests.export.conftest import DELETED_TEXT, SECRET_TEXT, TERM_ONLY_TEXT

EVERYTHING = (0, 2**31 - 1)


def _scope(conn, platforms=()) -> Scope:
    movement_id = conn.execute(text("SELECT id FROM movement WHERE slug = 'nhscitizen'")).scalar()
    return Scope(int(movement_id), *EVERYTHING, platforms)


def test_the_preview_counts_the_withheld_and_shows_none_of_them(store, seeded):
    with store.connect() as conn:
        got = preview(conn, _scope(conn), movement="nhscitizen", limit=200)
    assert (got["exportable"], got["withheld"], got["deleted"]) == (3, 2, 1)
    assert got["in_filter"] == 6
    assert len(got["rows"]) == 3
    shown = " ".join(str(r["text"]) for r in got["rows"])
    for secret in (SECRET_TEXT, DELETED_TEXT, TERM_ONLY_TEXT):
        assert secret[:20] not in shown


def test_the_preview_is_bounded_newest_first_and_narrowed_by_platform_and_search(store, seeded):
    with store.connect() as conn:
        newest = preview(conn, _scope(conn), movement="nhscitizen", limit=1)["rows"]
        every = preview(conn, _scope(conn), movement="nhscitizen")["rows"]
        bluesky = preview(conn, _scope(conn, ("bluesky",)), movement="nhscitizen")["rows"]
        found = preview(conn, _scope(conn), movement="nhscitizen", search="07700")["rows"]
    assert newest == every[:1]
    times = [r["created_at"] for r in every]
    assert times == sorted(times, reverse=True)
    assert {r["platform"] for r in bluesky} == {"bluesky"}
    assert len(found) == 1


def test_an_unknown_event_is_named_in_the_error(store, seeded):
    with store.connect() as conn, pytest.raises(FilterError, match="'no-such-event'"):
        preview(conn, _scope(conn), movement="nhscitizen", event="no-such-event")
