"""Shared fixtures: a migrated store on SQLite and on the real PostgreSQL server.

PostgreSQL tests run in a database created for this test session (`gs_test_<worker>_<random>`)
and dropped at the end, so parallel runs (several developers, CI, and pytest-xdist's workers,
each of which is a session of its own) never share tables. Set GROUNDSWELL_TEST_PG_URL to point
elsewhere. Outside CI a missing server skips the PostgreSQL half with a message; in CI
(CI=true) it is an error, because the suite must cover both.

SQLite stores are copies of one store migrated once per session (per xdist worker): running
the migrations again for each test gave every test the same empty schema at ~0.25 s of CPU.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import Engine, inspect, text

from storage.engine import make_engine, write_tx
from storage.migrate import upgrade

PG_ADMIN_URL = os.environ.get(
    "GROUNDSWELL_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# Hypothesis' wall-clock checks (a 200 ms deadline per example, the "input generation is slow"
# health check) fail on a loaded machine, or beside another xdist worker, for reasons that are
# no property of our code: no test has a wall-clock threshold (docs/development.md). The
# examples, their number and every assertion stay as they were.
settings.register_profile(
    "groundswell", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("groundswell")

if os.environ.get("PYTEST_XDIST_WORKER"):
    # pytest-xdist's workers start with COLUMNS=80 and LINES=24 in their environment; the CLI's
    # rich consoles (made when groundswell.cli is imported) would fix their width at 80 from
    # them, and tests that widen the terminal with COLUMNS (as a serial run can) would see
    # tables cut at 80 columns
    for _name in ("COLUMNS", "LINES"):
        os.environ.pop(_name, None)


def _pg_available() -> str | None:
    import psycopg

    url = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(url, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0]


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session."""
    import psycopg

    problem = _pg_available()
    if problem:
        msg = f"PostgreSQL at {PG_ADMIN_URL} is not reachable: {problem}"
        if IN_CI:
            pytest.fail(msg + " (CI must test PostgreSQL; .ci/run starts it)")
        pytest.skip(msg)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")  # gw0, gw1, ... under xdist
    name = f"gs_test_{worker}_{secrets.token_hex(4)}"
    admin = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
        # A commit need not wait for its WAL flush: a lost server crash is no test's subject,
        # and a session commits thousands of times (every write_tx, every _truncate)
        conn.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    url = f"{base}/{name}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _truncate(engine: Engine) -> None:
    """Empty every table the migrations made (whatever areas added), keeping the schema."""
    tables = [t for t in inspect(engine).get_table_names() if t != "alembic_version"]
    with write_tx(engine) as conn:
        if engine.dialect.name == "postgresql":
            quoted = ", ".join(f'"{t}"' for t in tables)
            conn.execute(text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))
        else:
            conn.execute(text("PRAGMA defer_foreign_keys = ON"))
            for t in tables:
                conn.execute(text(f'DELETE FROM "{t}"'))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty SQLite store migrated to the heads, once per session; tests get copies."""
    path = tmp_path_factory.mktemp("template") / "gs.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.connect() as conn:  # everything in the main file, so a file copy is whole
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    for sidecar in ("-wal", "-shm"):
        Path(f"{path}{sidecar}").unlink(missing_ok=True)
    return path


def migrated_sqlite(template: Path, path: Path) -> Engine:
    """A migrated, empty SQLite store at `path`: a copy of the session's migrated template."""
    shutil.copyfile(template, path)
    return make_engine(f"sqlite:///{path}")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """A migrated, empty store; every test using it runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("store") / "gs.db"
        engine = migrated_sqlite(request.getfixturevalue("sqlite_template"), path)
    else:
        engine = make_engine(request.getfixturevalue("pg_url"))
        _truncate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_store(tmp_path: Path, sqlite_template: Path) -> Iterator[Engine]:
    """A migrated, empty SQLite store at tmp_path/gs.db (some tests hand that path to a CLI)."""
    engine = migrated_sqlite(sqlite_template, tmp_path / "gs.db")
    yield engine
    engine.dispose()


@pytest.fixture
def pg_store(pg_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_url)
    _truncate(engine)
    yield engine
    engine.dispose()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)
