"""Bulk statements on both dialects, below the write path and its rollups (storage/write.py,
storage/people_cells.py, storage/cascades.py): the dialect's INSERT, the driver-level
executemany and, on PostgreSQL, COPY into a staging table plus one INSERT ... SELECT.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

import orjson
from sqlalchemy import JSON, Column, Connection, MetaData, Table, select
from sqlalchemy.dialects import postgresql, sqlite

from storage.types import UTCDateTime


def insert_for(conn: Connection, table: Table) -> Any:
    """The dialect's INSERT (with `on_conflict_do_*`) for `table`."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


# SQLAlchemy's per-row bind processing (type decorators, JSON serialisers, parameter dicts) was
# over half of the ingest CPU (bench/ingest.py, docs/benchmarks/ingest.md) while the driver's
# own executemany took a tenth. The hot upserts are still SQLAlchemy Core statements; they are
# compiled once per dialect and column set, and their rows converted here to what the
# UTCDateTime and JSON types would have bound, so what lands in the store is byte-identical.

_COMPILED: dict[tuple[str, str, tuple[str, ...]], tuple[str, list[str]]] = {}


def _converter(column: Any, dialect: str) -> Any:
    if isinstance(column.type, UTCDateTime):
        return _sqlite_time if dialect == "sqlite" else _pg_time
    if isinstance(column.type, JSON):
        return _sqlite_json if dialect == "sqlite" else _pg_json
    return None


def _json_bytes(value: Any) -> bytes:
    """JSON of `value`: orjson (json.dumps was 60,000 calls and a tenth of the ingest CPU),
    falling back to the standard encoder for what orjson refuses (integers beyond 64 bits,
    non-string keys), so any payload that stored before still stores."""
    try:
        return orjson.dumps(value)
    except TypeError:  # orjson.JSONEncodeError
        return json.dumps(value).encode()


def _sqlite_json(value: Any) -> str:
    # SQLAlchemy's JSON type stores Python None as the JSON text 'null' (none_as_null=False).
    # Compact and UTF-8 rather than json.dumps' spaced, ASCII-escaped text: the same JSON.
    return "null" if value is None else _json_bytes(value).decode()


def _pg_json(value: Any) -> Any:
    from psycopg.types.json import Jsonb

    return Jsonb(value, _json_bytes)


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r} given to the store; times must be aware")
    return value


def _sqlite_time(value: datetime | None) -> str | None:
    # The text SQLAlchemy's SQLite DateTime stores: UTC, 'YYYY-MM-DD HH:MM:SS.ffffff'.
    if value is None:
        return None
    return _aware(value).astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _pg_time(value: datetime | None) -> datetime | None:
    return None if value is None else _aware(value)


def _converted(f: Any, values: Sequence[Any]) -> list[Any]:
    if f is not _sqlite_time and f is not _pg_time:
        return [f(v) for v in values]  # JSON values are distinct objects: nothing to share
    # Rows of one batch share timestamps (`now`, an author's): convert each one once.
    # Keyed by id(): the values are alive for the whole call.
    memo: dict[int, Any] = {}
    return [memo[i] if (i := id(v)) in memo else memo.setdefault(i, f(v)) for v in values]


# PostgreSQL, large pages: COPY the rows into a temporary staging table, then one
# `INSERT INTO target SELECT ... FROM staging ORDER BY key ON CONFLICT ...` with the very same
# conflict clause. One statement per table instead of one per row is what the server's side of
# the ingest goal needs (docs/benchmarks/ingest.md). ORDER BY the key keeps the lock order of
# the executemany path, so two workers still cannot deadlock. Small pages keep executemany.
COPY_MIN_ROWS = 200

# One staging table per target table per database session, created on first use and kept:
# `ON COMMIT DELETE ROWS` empties it at commit, a rollback takes its rows (and, in the
# transaction that created it, the table itself) away, and the upsert consumes the rows it
# reads (`DELETE ... RETURNING` in a CTE), so it is empty after every statement and several
# batches can share one transaction. Creating and dropping one per table per page was five
# catalog inserts and deletes (pg_class, pg_attribute, pg_type ...) per page.
_STAGED: dict[tuple[str, tuple[str, ...]], Any] = {}


def _staged_upsert(stmt: Any, table: Table, name: str, cols: tuple[str, ...]) -> Any:
    """`stmt` (an INSERT ... ON CONFLICT) as `WITH taken AS (DELETE FROM staging RETURNING
    cols) INSERT INTO table (cols) SELECT cols FROM taken ORDER BY key ON CONFLICT ...`,
    built once per statement and column set."""
    key = (name, cols)
    hit = _STAGED.get(key)
    if hit is None:
        staging = Table(
            f"_stage_{table.name}", MetaData(), *(Column(c, table.c[c].type) for c in cols)
        )
        taken = staging.delete().returning(*(staging.c[c] for c in cols)).cte("taken")
        order = [taken.c[c.name] for c in table.primary_key.columns]
        sel = select(*(taken.c[c] for c in cols)).order_by(*order)
        hit = _STAGED[key] = stmt.from_select(list(cols), sel)
    return hit


def copy_upsert(
    conn: Connection,
    stmt: Any,
    table: Table,
    name: str,
    rows: list[dict],
    *,
    returning: bool = False,
) -> list[Any]:
    """COPY `rows` into the session's staging table, then run `stmt` (an INSERT ... ON
    CONFLICT) as one INSERT ... SELECT from it in key order; what `stmt` RETURNs, if
    `returning`."""
    cols = tuple(rows[0])
    stage = f"_stage_{table.name}"
    upsert = _staged_upsert(stmt, table, name, cols)
    columns: list[Any] = [[r[c] for r in rows] for c in cols]
    for i, c in enumerate(cols):
        f = _converter(table.c[c], "postgresql")
        if f is _pg_json:
            # COPY's text format: the server parses JSON text into jsonb itself, so no
            # Jsonb wrapper and dumper per value (a fifth of the client's COPY time).
            f = _sqlite_json
        if f is not None:
            columns[i] = _converted(f, columns[i])
    raw = conn.connection.dbapi_connection
    assert raw is not None
    # IF NOT EXISTS every time (a catalog lookup, no write): remembering "created" per
    # connection would be wrong after a rollback of the transaction that created it.
    conn.exec_driver_sql(
        f'CREATE TEMP TABLE IF NOT EXISTS "{stage}" (LIKE "{table.name}" INCLUDING DEFAULTS) '
        "ON COMMIT DELETE ROWS"
    )
    names = ", ".join(f'"{c}"' for c in cols)
    with raw.cursor() as cur, cur.copy(f'COPY "{stage}" ({names}) FROM STDIN') as copy:
        for row in zip(*columns, strict=True):
            copy.write_row(row)
    result = conn.execute(upsert)
    return list(result.all()) if returning else []


def executemany(conn: Connection, stmt: Any, table: Table, name: str, rows: list[dict]) -> None:
    """Run a Core INSERT statement over `rows` with the driver's executemany (or, on
    PostgreSQL with at least COPY_MIN_ROWS rows, COPY + one INSERT ... SELECT)."""
    if not rows:
        return
    dialect = conn.dialect
    if dialect.name == "postgresql" and len(rows) >= COPY_MIN_ROWS:
        copy_upsert(conn, stmt, table, name, rows)
        return
    cols = tuple(rows[0])
    key = (dialect.name, name, cols)
    hit = _COMPILED.get(key)
    if hit is None:
        compiled = stmt.compile(dialect=dialect, column_keys=list(cols))
        order = list(compiled.positiontup) if compiled.positional else list(cols)
        hit = _COMPILED[key] = (str(compiled), order)
    sql, order = hit
    columns: list[Any] = list(zip(*map(itemgetter(*order), rows), strict=True))
    if len(order) == 1:
        columns = [[r[order[0]] for r in rows]]
    for i, c in enumerate(order):
        f = _converter(table.c[c], dialect.name)
        if f is not None:
            columns[i] = _converted(f, columns[i])
    params: list[Any] = list(zip(*columns, strict=True))
    if not dialect.positional:
        params = [dict(zip(order, p, strict=True)) for p in params]
    conn.exec_driver_sql(sql, params)
