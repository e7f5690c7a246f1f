"""SQLite's planner statistics are kept current, so the dashboard's plans are the benchmarked
ones (storage/statistics.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine

from groundswell.demo import load_demo
from storage.statistics import analysed_rows, refresh_statistics

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _analysed(engine: Engine) -> int | None:
    with engine.connect() as conn:
        return analysed_rows(conn)


def test_a_store_filled_by_the_collector_runner_is_analysed(sqlite_store: Engine) -> None:
    load_demo(sqlite_store, seed=3, mentions=1200, now=NOW)

    assert _analysed(sqlite_store) == 1200


def test_fresh_statistics_are_left_alone_until_the_mentions_more_than_double(
    sqlite_store: Engine,
) -> None:
    load_demo(sqlite_store, seed=3, mentions=1200, now=NOW)
    assert refresh_statistics(sqlite_store) is False

    load_demo(sqlite_store, seed=4, mentions=1500, now=NOW)  # 2,700 > 2 x 1,200

    assert _analysed(sqlite_store) == 2700


def test_a_nearly_empty_store_is_not_analysed(sqlite_store: Engine) -> None:
    assert refresh_statistics(sqlite_store) is False
    assert _analysed(sqlite_store) is None


def test_postgresql_is_left_to_autovacuum(pg_store: Engine) -> None:
    assert refresh_statistics(pg_store) is False


def test_analysing_the_store_is_not_news_on_a_quiet_command_line(
    sqlite_store: Engine, caplog
) -> None:
    """`up` printed "analysed the store's statistics" among its few lines (issue 18: quiet
    unless -v, where the command line shows DEBUG)."""
    import logging

    load_demo(sqlite_store, seed=3, mentions=1200, now=NOW)
    with sqlite_store.begin() as conn:
        conn.exec_driver_sql("DELETE FROM sqlite_stat1")
    with caplog.at_level(logging.DEBUG, logger="storage.statistics"):
        assert refresh_statistics(sqlite_store) is True
    assert [r.levelno for r in caplog.records if "statistics" in r.getMessage()] == [logging.DEBUG]
