"""Id lists bound as one parameter (storage/id_lists.py): the same rows on both dialects, and on
PostgreSQL never a plan that searches the whole list once per row (issue 21's cliff: a
sequential scan with `= ANY(array)` as its filter took minutes in a freshly loaded store)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, Table, select, text

from storage.engine import write_tx
from storage.id_lists import among, ids_param, in_ids_text
from storage.models import MentionMatch
from storage.write import write_batch
from tests.factories import batch, mention, movement

MM: Table = MentionMatch.__table__  # type: ignore[assignment]


def _plan(conn, stmt, params=None) -> str:  # type: ignore[no-untyped-def]
    # What a planner does when it believes the table empty or its index useless: the case in
    # which `= ANY(array)` became a per-row linear search.
    conn.execute(text("SET LOCAL enable_indexscan = off"))
    conn.execute(text("SET LOCAL enable_bitmapscan = off"))
    compiled = stmt.compile(dialect=conn.dialect)
    rows = conn.exec_driver_sql("EXPLAIN " + str(compiled), {**compiled.params, **(params or {})})
    return "\n".join(r[0] for r in rows)


@pytest.mark.postgres
def test_an_id_list_is_never_a_per_row_filter_on_postgresql(pg_store: Engine) -> None:
    ids = list(range(1, 50_001))
    with pg_store.begin() as conn:
        stmt = select(MM.c.mention_id).where(among(conn, MM.c.mention_id, ids))
        plan = _plan(conn, stmt)
    assert "ANY" not in plan, plan[:400]


@pytest.mark.postgres
def test_the_write_paths_id_list_is_never_a_per_row_filter_on_postgresql(pg_store: Engine) -> None:
    with pg_store.begin() as conn:
        stmt = select(MM.c.mention_id).where(in_ids_text(conn, "mention_match.mention_id"))
        plan = _plan(conn, stmt, ids_param(conn, range(1, 50_001)))
    assert "ANY" not in plan, plan[:400]


def test_an_id_list_selects_exactly_its_ids(store: Engine) -> None:
    rules = movement(store)
    with write_tx(store) as conn:
        write_batch(conn, batch(*(mention(n) for n in (3, 5, 8, 13))), rules=rules)
    with store.connect() as conn:
        stored = sorted(conn.execute(select(MM.c.mention_id)).scalars())
        chosen = [stored[1], stored[2], 21, stored[2]]
        by_expr = conn.execute(
            select(MM.c.mention_id).where(among(conn, MM.c.mention_id, chosen))
        ).scalars()
        by_text = conn.execute(
            select(MM.c.mention_id).where(in_ids_text(conn, "mention_match.mention_id")),
            ids_param(conn, chosen),
        ).scalars()
        none = conn.execute(select(MM.c.mention_id).where(among(conn, MM.c.mention_id, [])))
        assert sorted(by_expr) == stored[1:3]
        assert sorted(by_text) == stored[1:3]
        assert list(none) == []
