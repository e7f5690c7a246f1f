"""Session settings every store connection gets, whoever opens it (storage.engine)."""

from __future__ import annotations

from sqlalchemy import text

from storage.engine import make_engine


def test_postgresql_sessions_run_without_jit_for_the_wall_and_exports(store):
    """The wall and exports open plain engines (only the dashboard's are tuned): with
    PostgreSQL's default `jit = on`, an export's page of 5,000 mentions took 13-17 s at 10M
    mentions, compiling its many small subplans, and 1.7-2.0 s without JIT."""
    engine = make_engine(store.url.render_as_string(hide_password=False))
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            assert conn.execute(text("SHOW jit")).scalar() == "off"
        else:
            assert conn.execute(text("SELECT 1")).scalar() == 1  # nothing to set on SQLite
    engine.dispose()
