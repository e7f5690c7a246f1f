"""The one filter every dashboard query takes: movement, half-open time range, platforms.

Kept in storage (not in the dashboard) so query functions, the benchmark and tests share it
without importing Streamlit. Times are integer epoch seconds because the hot tables bucket and
filter on integer columns (DESIGN.md section 7).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Connection, select

from storage.models import Event, Movement, RollupHourly


@dataclass(frozen=True, slots=True)
class Scope:
    """`[start_ts, end_ts)` of one movement; `platforms` empty means every platform."""

    movement_id: int
    start_ts: int
    end_ts: int
    platforms: tuple[str, ...] = ()

    @property
    def seconds(self) -> int:
        return max(0, self.end_ts - self.start_ts)

    def previous(self) -> Scope:
        """The equally long period just before this one (for "change vs previous period")."""
        return replace(self, start_ts=self.start_ts - self.seconds, end_ts=self.start_ts)

    def shifted(self, start_ts: int, end_ts: int) -> Scope:
        return replace(self, start_ts=start_ts, end_ts=end_ts)


def in_scope(table: Any, scope: Scope, ts_column: str = "created_ts") -> list[Any]:
    """WHERE clauses for a table carrying movement_id, platform and an epoch column."""
    clauses = [
        table.c.movement_id == scope.movement_id,
        table.c[ts_column] >= scope.start_ts,
        table.c[ts_column] < scope.end_ts,
    ]
    if scope.platforms:
        clauses.append(table.c.platform.in_(scope.platforms))
    return clauses


def pick_bucket(seconds: int, target_buckets: int = 60) -> int:
    """A readable interval giving at most about `target_buckets` bars for a range."""
    for step in (60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 7 * 86400):
        if seconds / step <= target_buckets:
            return step
    return 30 * 86400


def list_movements(conn: Connection) -> list[dict[str, Any]]:
    """Movements for the filter, oldest first (the first one is the default)."""
    t = Movement.__table__
    rows = conn.execute(select(t.c.id, t.c.slug, t.c.name).order_by(t.c.id))
    return [dict(r._mapping) for r in rows]


def list_events(conn: Connection, movement_id: int | None = None) -> list[dict[str, Any]]:
    """Events of a movement (and events tied to no movement), earliest first."""
    t = Event.__table__
    stmt = select(t).order_by(t.c.starts_at, t.c.id)
    if movement_id is not None:
        stmt = stmt.where((t.c.movement_id == movement_id) | t.c.movement_id.is_(None))
    out = []
    for r in conn.execute(stmt):
        d = dict(r._mapping)
        d["start_ts"] = int(d["starts_at"].timestamp())
        d["end_ts"] = int(d["ends_at"].timestamp())
        out.append(d)
    return out


def data_span(conn: Connection, movement_id: int) -> tuple[int, int] | None:
    """First and last hour (epoch seconds) holding mentions of a movement, from the rollup."""
    t = RollupHourly.__table__
    from sqlalchemy import func

    row = conn.execute(
        select(func.min(t.c.hour), func.max(t.c.hour)).where(t.c.movement_id == movement_id)
    ).one()
    if row[0] is None:
        return None
    return int(row[0]) * 3600, (int(row[1]) + 1) * 3600


def tune_for_dashboard(engine: Any) -> Any:
    """Session settings for the dashboard's read-only aggregates on PostgreSQL: enough
    `work_mem` that distinct counts and groupings sort in memory (the 4 MB default spilled to
    disk at 1M mentions), and no JIT (its compile time costs more than it saves on queries
    this size), and a custom plan for every execution: psycopg prepares a statement run five
    times on one connection, and PostgreSQL may then switch to a generic plan that cannot see
    the bound ranges and value lists; "what travels" for the event window went from 0.2-0.5 s
    to 20-40 s per call from the third call on (1M store, docs/benchmarks/dashboard.md).
    No-op on SQLite. Returns the engine."""
    from sqlalchemy import event

    if engine.dialect.name != "postgresql":
        return engine

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        with dbapi_conn.cursor() as cur:
            cur.execute("SET work_mem = '64MB'")
            cur.execute("SET jit = off")
            cur.execute("SET plan_cache_mode = force_custom_plan")
        dbapi_conn.commit()

    return engine


def _driver_sql(conn: Connection, stmt: Any) -> tuple[str, Any]:
    compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params: Any = compiled.params
    if compiled.positiontup is not None:
        params = tuple(params[k] for k in compiled.positiontup)
    return str(compiled), params


STREAM_CHUNK = 20_000


def stream_rows(
    conn: Connection, stmt: Any, chunk: int = STREAM_CHUNK
) -> Iterator[tuple[Any, ...]]:
    """The rows of `stmt` as plain tuples, `chunk` at a time, for a consumer that reads them once.

    `plain_rows` holds the whole result twice (the driver's buffer and the list): at 10M
    mentions a 30-day range has ~1M cascade links, and that alone took the dashboard process
    past DESIGN.md's 500 MB. PostgreSQL streams through a server-side (named) cursor; SQLite's
    cursor already steps through the result lazily. Same parameter rules as `plain_rows`.
    """
    sql, params = _driver_sql(conn, stmt)
    raw = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        cur = raw.cursor(name=f"gs_stream_{next(_STREAM_IDS)}")  # type: ignore[union-attr]
        cur.itersize = chunk
    else:
        cur = conn.connection.cursor()
    try:
        cur.execute(sql, params)
        while rows := cur.fetchmany(chunk):
            yield from rows
    finally:
        cur.close()


_STREAM_IDS = itertools.count()


def plain_rows(conn: Connection, stmt: Any) -> list[tuple[Any, ...]]:
    """All rows of `stmt` as plain tuples from the driver's cursor.

    For the few queries that hand 50k-200k rows to Python (amplification edges, cascade
    links): SQLAlchemy's Row objects cost about 1.3 us a row on top of the driver, most of the
    time of such a fetch on SQLite. Only for statements whose parameters are plain ints and
    strings (no type conversion is applied to them).
    """
    sql, params = _driver_sql(conn, stmt)
    cur = conn.connection.cursor()
    try:
        cur.execute(sql, params)
        return list(cur.fetchall())
    finally:
        cur.close()
