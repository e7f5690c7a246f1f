"""One engine factory for every process: collectors, receiver, dashboard, CLI and tests.

SQLite (the embedded default) gets WAL, a busy timeout and `BEGIN IMMEDIATE` for writing
transactions, so there is one writer at a time and readers are never blocked. PostgreSQL goes
through psycopg 3.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

DEFAULT_DB_URL = "sqlite:///groundswell.db"
ENV_DB_URL = "GROUNDSWELL_DB_URL"
SQLITE_BUSY_TIMEOUT_MS = 30_000

# Every SQLite connection's settings, in order. One tuple, so bench/ingest.py's raw baseline
# runs with exactly the pragmas our engine uses (the ratio would mean nothing otherwise).
SQLITE_PRAGMAS: tuple[str, ...] = (
    "journal_mode=WAL",
    f"busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
    "synchronous=NORMAL",
    "foreign_keys=ON",
    "temp_store=MEMORY",
    "cache_size=-65536",
    # Checkpoint every 10,000 WAL pages (40 MB) instead of SQLite's 1,000. A page of 1,000
    # mentions dirties thousands of B-tree pages (ids are hashes, so inserts land on random
    # leaves), so at 1,000 every commit also ran a full checkpoint: each page copied back and
    # the file synced once per batch. Less often, a page rewritten by several batches is
    # copied once. docs/benchmarks/ingest.md has the measurements.
    "wal_autocheckpoint=10000",
)


class StoreConfigError(ValueError):
    """The store URL is malformed or names an unsupported database."""


def resolve_db_url(url: str | None = None) -> str:
    """The store URL: explicit argument, else GROUNDSWELL_DB_URL, else the embedded SQLite."""
    return url or os.environ.get(ENV_DB_URL) or DEFAULT_DB_URL


def normalise_db_url(url: str) -> str:
    """Accept the URLs people paste (`postgres://`, `postgresql://`) and pick psycopg 3."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def make_engine(url: str | None = None, *, echo: bool = False, **kwargs: Any) -> Engine:
    """Create the engine for `url` with the pragmas and pool settings this project relies on."""
    raw = normalise_db_url(resolve_db_url(url))
    try:
        parsed = make_url(raw)
    except ArgumentError as exc:
        raise StoreConfigError(
            f"store URL {raw!r} is not a database URL; use e.g. sqlite:///groundswell.db or "
            "postgresql://user@host:5432/dbname"
        ) from exc
    shown = parsed.render_as_string(hide_password=True)  # errors never echo a password
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(raw, echo=echo, **kwargs)
    if backend == "postgresql":
        if parsed.drivername != "postgresql+psycopg":
            raise StoreConfigError(
                f"store URL {shown!r}: only the psycopg 3 driver is supported "
                "(postgresql+psycopg://...)"
            )
        try:
            engine = create_engine(
                raw,
                echo=echo,
                pool_pre_ping=True,
                connect_args={"connect_timeout": 10},
                **kwargs,
            )
        except NoSuchModuleError as exc:  # pragma: no cover - psycopg is a dependency
            raise StoreConfigError(f"store URL {shown!r}: psycopg is not installed") from exc
        event.listen(engine, "connect", _postgres_session)
        return engine
    raise StoreConfigError(
        f"store URL {shown!r}: {backend!r} is not supported; use sqlite or postgresql"
    )


def _postgres_session(dbapi_conn: Any, _record: Any) -> None:
    """Every PostgreSQL session without JIT compilation. Our statements are index walks with
    many small subplans (the ethics rules, person checks), which PostgreSQL's cost model
    prices high enough at 10M mentions to compile, and compiling took far longer than running:
    an export's page of 5,000 mentions took 13-17 s with JIT and 1.7-2.0 s without on the
    10M benchmark store (docs/benchmarks/dashboard.md, "second attempt"). The dashboard's
    sessions have had it off since its own tuning (`tune_for_dashboard`)."""
    with dbapi_conn.cursor() as cur:
        cur.execute("SET jit = off")
    dbapi_conn.commit()


def _sqlite_engine(url: str, *, echo: bool, **kwargs: Any) -> Engine:
    parsed = make_url(url)
    if parsed.database and parsed.database != ":memory:":
        parent = Path(parsed.database).expanduser().resolve().parent
        if not parent.exists():
            raise StoreConfigError(
                f"store URL {url!r}: folder {parent} does not exist; create it or change the URL"
            )
    engine = create_engine(
        url,
        echo=echo,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        **kwargs,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control from pysqlite so BEGIN IMMEDIATE is possible (see below).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        for pragma in SQLITE_PRAGMAS:
            cur.execute(f"PRAGMA {pragma}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the write lock up front: a deferred transaction that later upgrades
        # can fail with SQLITE_BUSY without waiting, which would lose a batch to a retry.
        if conn.get_execution_options().get("gs_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")

    return engine


@contextmanager
def write_tx(engine: Engine) -> Iterator[Connection]:
    """A writing transaction: committed on success, rolled back on any exception."""
    with engine.connect() as conn:
        conn = conn.execution_options(gs_write=True)
        with conn.begin():
            yield conn


def is_postgres(bind: Engine | Connection) -> bool:
    return bind.dialect.name == "postgresql"


def describe_url(url: str) -> str:
    """The URL with any password hidden, for messages and `status`."""
    try:
        return make_url(normalise_db_url(url)).render_as_string(hide_password=True)
    except ArgumentError:
        return "<invalid URL>"
