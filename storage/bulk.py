"""Bulk statements on both dialects, below the write path and its rollups (storage/write.py,
storage/people_cells.py, storage/cascades.py): the dialect's INSERT, the driver-level
executemany and, on PostgreSQL, COPY into a staging table plus one INSERT ... SELECT.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Sequence
from datetime import UTC, datetime
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
    # orjson inline (not through `_json_bytes`): four values per mention.
    if value is None:
        return "null"
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # orjson.JSONEncodeError: what the standard encoder still takes
        return json.dumps(value)


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


# Row dict -> driver parameters, one generated function per statement and column set. A
# transpose into columns, a conversion per column and a transpose back cost a fifth of the
# SQLite ingest CPU; one tuple (or dict) display per row, with the conversions inline, costs
# a third of that.
_ROW_MAKERS: dict[tuple[str, tuple[str, ...], tuple[str, ...], bool], Any] = {}


def _row_maker(name: str, order: Sequence[str], kinds: Sequence[str], as_dict: bool) -> Any:
    """A function `(rows, fs, ks, ls) -> params` for rows of these columns. Column i is taken
    as it is (kind ""), converted by `fs[i]` ("f"), or, for times ("t"), converted unless it
    is the very object `ks[i]`, whose conversion `ls[i]` is known: rows of one batch share
    their timestamps (`now`), so most are never converted at all."""
    key = (name, tuple(order), tuple(kinds), as_dict)
    hit = _ROW_MAKERS.get(key)
    if hit is not None:
        return hit
    items, unpack = [], []
    for i, (c, kind) in enumerate(zip(order, kinds, strict=True)):
        if kind == "f":
            value = f"f{i}(r[{c!r}])"
            unpack.append(f"f{i} = fs[{i}]")
        elif kind == "t":
            value = f"(l{i} if (v{i} := r[{c!r}]) is k{i} else f{i}(v{i}))"
            unpack.append(f"f{i}, k{i}, l{i} = fs[{i}], ks[{i}], ls[{i}]")
        else:
            value = f"r[{c!r}]"
        items.append(f"{c!r}: {value}" if as_dict else value)
    display = "{" + ", ".join(items) + "}" if as_dict else "(" + ", ".join(items) + ",)"
    body = "".join(f"    {u}\n" for u in unpack)
    code = f"def make(rows, fs, ks, ls):\n{body}    return [{display} for r in rows]\n"
    scope: dict[str, Any] = {}
    exec(code, scope)  # column names are our tables' identifiers, repr'd: no injection
    hit = _ROW_MAKERS[key] = scope["make"]
    return hit


def _params(
    table: Table,
    name: str,
    order: Sequence[str],
    rows: list[dict],
    dialect: str,
    *,
    as_dict: bool = False,
    json_text: bool = False,
) -> list[Any]:
    """The rows as the driver's parameters in `order`, converted as the column types would
    have bound them (`json_text`: JSON as text, for COPY)."""
    fs: list[Any] = []
    ks: list[Any] = []
    ls: list[Any] = []
    kinds: list[str] = []
    for c in order:
        f = _converter(table.c[c], dialect)
        if f is _pg_json and json_text:
            f = _sqlite_json
        k = known = None
        if f is None:
            kinds.append("")
        elif f is _sqlite_time or f is _pg_time:
            kinds.append("t")
            k = rows[0][c]
            known = f(k)
        else:
            kinds.append("f")
        fs.append(f)
        ks.append(k)
        ls.append(known)
    make = _row_maker(name, order, kinds, as_dict)
    return make(rows, fs, ks, ls)  # type: ignore[no-any-return]


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


def _built(stmt: Any) -> Any:
    """`stmt`, or what it builds when it is a function: the write path passes its statements
    as functions, so they are built (SQLAlchemy's `excluded`, `on_conflict_do_update` ...,
    a tenth of the write path's Python time when done per page) only on a cache miss."""
    return stmt() if callable(stmt) else stmt


def _staged_upsert(
    conn: Connection, stmt: Any, table: Table, name: str, cols: tuple[str, ...]
) -> Any:
    """`stmt` (an INSERT ... ON CONFLICT) as `WITH taken AS (DELETE FROM staging RETURNING
    cols) INSERT INTO table (cols) SELECT cols FROM taken ORDER BY key ON CONFLICT ...`,
    built and compiled once per statement and column set: the SQL text, or the statement when
    it carries bound parameters."""
    key = (name, cols)
    hit = _STAGED.get(key)
    if hit is None:
        staging = Table(
            f"_stage_{table.name}", MetaData(), *(Column(c, table.c[c].type) for c in cols)
        )
        taken = staging.delete().returning(*(staging.c[c] for c in cols)).cte("taken")
        order = [taken.c[c.name] for c in table.primary_key.columns]
        sel = select(*(taken.c[c] for c in cols)).order_by(*order)
        upsert = _built(stmt).from_select(list(cols), sel)
        compiled = upsert.compile(dialect=conn.dialect)
        hit = _STAGED[key] = upsert if compiled.params else str(compiled)
    return hit


# The target tables this process has staged rows for: each transaction creates all their
# staging tables at its first COPY, in one round trip (see `_ensure_staging`).
_STAGE_TABLES: set[str] = set()


def _create_staging(name: str) -> str:
    return (
        f'CREATE TEMP TABLE IF NOT EXISTS "_stage_{name}" (LIKE "{name}" INCLUDING DEFAULTS) '
        "ON COMMIT DELETE ROWS"
    )


def _ensure_staging(conn: Connection, raw: Any, name: str) -> None:
    """Make sure the staging table for table `name` exists in this transaction.

    `CREATE TEMP TABLE IF NOT EXISTS` is a catalog lookup once the table exists, but one
    statement per table per page was a dozen of a page's sixty round trips, each a wait for
    the server (a scheduling delay on a loaded machine). So the first COPY of a transaction
    creates the staging tables of every table this process has staged before, in one simple-
    protocol round trip; later COPYs in the transaction create nothing. What a transaction
    created is remembered for that transaction only (its innermost savepoint, by weak
    reference): a rollback can take a table created inside it away, while a table that
    existed when it began survives any rollback of it."""
    tx = conn.get_nested_transaction() or conn.get_transaction()
    made: set[str] | None = None
    if tx is not None:
        ref, made = conn.info.get("gs_staging", (None, None))
        if ref is None or ref() is not tx:
            made = set()
            conn.info["gs_staging"] = (weakref.ref(tx), made)
        if name in made:
            return
    _STAGE_TABLES.add(name)
    others = sorted(_STAGE_TABLES - (made or set()) - {name})
    sql = _create_staging(name)
    if others:
        # Guarded: this store may lack a table another store of this process has (a store
        # at an older migration, in tests and tools).
        sql += (
            "; DO $$ BEGIN "
            + " ".join(
                f"IF to_regclass('\"{t}\"') IS NOT NULL THEN {_create_staging(t)}; END IF;"
                for t in others
            )
            + " END $$"
        )
    with raw.cursor() as cur:  # no parameters: the simple protocol takes several statements
        cur.execute(sql)
    if made is not None:
        made.add(name)
        made.update(others)


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
    CONFLICT, or a function building it) as one INSERT ... SELECT from it in key order; what
    `stmt` RETURNs, if `returning`.

    `name` names the statement: two different statements on one table need two names (the
    built statement is kept under it)."""
    cols = tuple(rows[0])
    stage = f"_stage_{table.name}"
    upsert = _staged_upsert(conn, stmt, table, name, cols)
    # COPY's text format: the server parses JSON text into jsonb itself, so no Jsonb wrapper
    # and dumper per value (a fifth of the client's COPY time).
    params = _params(table, name, cols, rows, "postgresql", json_text=True)
    raw = conn.connection.dbapi_connection
    assert raw is not None
    _ensure_staging(conn, raw, table.name)
    names = ", ".join(f'"{c}"' for c in cols)
    with raw.cursor() as cur, cur.copy(f'COPY "{stage}" ({names}) FROM STDIN') as copy:
        for row in params:
            copy.write_row(row)
    result = conn.exec_driver_sql(upsert) if isinstance(upsert, str) else conn.execute(upsert)
    return list(result.all()) if returning else []


def executemany(conn: Connection, stmt: Any, table: Table, name: str, rows: list[dict]) -> None:
    """Run a Core INSERT statement (or a function building it) over `rows` with the driver's
    executemany (or, on PostgreSQL with at least COPY_MIN_ROWS rows, COPY + one INSERT ...
    SELECT). `name` names the statement: two different statements on one table need two
    names (the compiled statement is kept under it and the rows' columns)."""
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
        compiled = _built(stmt).compile(dialect=dialect, column_keys=list(cols))
        order = list(compiled.positiontup) if compiled.positional else list(cols)
        hit = _COMPILED[key] = (str(compiled), order)
    sql, order = hit
    params = _params(table, name, order, rows, dialect.name, as_dict=not dialect.positional)
    conn.exec_driver_sql(sql, params)
