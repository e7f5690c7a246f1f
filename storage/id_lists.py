"""A list of ids bound as ONE parameter, for `column IN (ids)` on both dialects.

SQLAlchemy's `in_(list)` coerces and binds every id as its own literal on every call: in the
write path's SELECTs that coercion and post-compile expansion were most of the time spent, and
an expanding IN of thousands of candidate accounts cost the Amplifiers rankings three times
what the database spent on the lookups. A JSON array unpacked by `json_each` (SQLite) or an
array literal cast to BIGINT[] and unpacked by `unnest` (PostgreSQL) is one parameter, needs no
500-id chunks, and the planners still probe the index per id.

Why `IN (SELECT unnest(...))` and not `= ANY(array)` on PostgreSQL: `= ANY` of an array that is
not a plan-time constant is a per-row filter with a linear search of the array. When the
planner picks a sequential scan (a table just bulk-loaded, its statistics saying "empty", as in
a migration's backfill or a repair before autovacuum ran), every row searched the whole list:
`cascades.rebuild` over 200,000 mentions sat for minutes on one 50,000-id chunk. A semi-join
against the unnested list is probed by index or hashed, never searched row by row
(`tests/test_id_lists.py` checks the plans).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from sqlalchemy import ARRAY, BigInteger, Connection, Text, cast, func, literal, select, text


def encode_ids(conn: Connection, ids: Iterable[int]) -> str:
    """The list as one value: a PostgreSQL array literal as text (cast by the server; psycopg's
    list dumper took longer) or a JSON array (SQLite)."""
    values = list(ids)
    if conn.dialect.name == "postgresql":
        return "{" + ",".join(map(str, values)) + "}"
    return orjson.dumps(values).decode()


def in_ids_text(conn: Connection, column: str) -> Any:
    """`column IN (:ids)` as text, for statements built once and executed with
    `ids_param(conn, ids)` (the write path)."""
    if conn.dialect.name == "postgresql":
        return text(f"{column} IN (SELECT unnest(CAST(:ids AS BIGINT[])))")
    return text(f"{column} IN (SELECT value FROM json_each(:ids))")


def ids_param(conn: Connection, ids: Iterable[int]) -> dict[str, Any]:
    """The `:ids` parameter of `in_ids_text`."""
    return {"ids": encode_ids(conn, ids)}


def among(conn: Connection, column: Any, ids: Iterable[int]) -> Any:
    """`column IN ids` as an expression with its own bound list (several may share one
    statement)."""
    value = literal(encode_ids(conn, sorted(ids)))
    if conn.dialect.name == "postgresql":
        return column.in_(select(func.unnest(cast(value, ARRAY(BigInteger)))))
    each = func.json_each(value).table_valued("value")
    return column.in_(select(each.c.value))


def ids_table(conn: Connection, ids: Iterable[int]) -> Any:
    """The ids as a one-column derived table (`value`) bound as ONE parameter: to drive a
    correlated subquery per id (an EXISTS that stops at its first row)."""
    value = literal(encode_ids(conn, sorted(ids)))
    if conn.dialect.name == "postgresql":
        return select(func.unnest(cast(value, ARRAY(BigInteger))).label("value")).subquery()
    each = func.json_each(value).table_valued("value")
    return select(each.c.value.label("value")).subquery()


def encode_texts(conn: Connection, values: Iterable[str]) -> Any:
    """A list of strings as one value: a Python list (psycopg sends it as one text[]) or a
    JSON array (SQLite)."""
    if conn.dialect.name == "postgresql":
        return list(values)
    return orjson.dumps(list(values)).decode()


def texts_table(conn: Connection, values: Iterable[str]) -> Any:
    """The strings as a one-column derived table (`value`), bound as ONE parameter: for joins
    on text keys (URLs) whatever the list's length; an `OR`/`IN` of thousands of literals hit
    SQLite's expression depth limit (issue 16: "Expression tree is too large")."""
    if conn.dialect.name == "postgresql":
        value = literal(encode_texts(conn, values), ARRAY(Text))
        return select(func.unnest(value).label("value")).subquery()
    each = func.json_each(literal(encode_texts(conn, values))).table_valued("value")
    return select(each.c.value.label("value")).subquery()
