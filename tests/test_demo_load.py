"""`load_demo` writes the generated conversation through the runner and the write path."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, func, select

from groundswell.demo import load_demo
from storage.models import Amplification, Event, Mention, MentionSeen, Movement, Source
from storage.status import store_counts

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _count(engine: Engine, model: type) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(model.__table__)).scalar() or 0)


def test_load_demo_writes_every_mention_and_registers_movement_and_event(store: Engine) -> None:
    summary = load_demo(store, seed=3, mentions=500, now=NOW)

    assert summary.mentions == 500
    assert summary.new == 500
    assert _count(store, Mention) == 500
    assert _count(store, Amplification) == summary.edges
    assert summary.movement_slug == "nhscitizen"
    assert summary.end == NOW and (summary.end - summary.start).days == 21
    with store.connect() as conn:
        assert conn.execute(select(Movement.__table__.c.slug)).scalars().all() == ["nhscitizen"]
        ev = conn.execute(select(Event.__table__)).one()
    assert ev.slug == summary.event_slug
    assert summary.start < ev.starts_at < ev.ends_at < summary.end


def test_loading_twice_duplicates_nothing(store: Engine) -> None:
    load_demo(store, seed=3, mentions=500, now=NOW)
    with store.connect() as conn:
        before = store_counts(conn)
    seen_before = _count(store, MentionSeen)

    again = load_demo(store, seed=3, mentions=500)  # a later "now": the stored anchor wins

    with store.connect() as conn:
        assert store_counts(conn) == before
    assert _count(store, MentionSeen) == seen_before
    assert again.new == 0
    assert again.end == NOW


def test_the_demo_is_a_source_whose_cursor_covers_every_page(store: Engine) -> None:
    load_demo(store, seed=3, mentions=500, now=NOW)

    with store.connect() as conn:
        row = conn.execute(select(Source.__table__)).one()
    assert row.platform == "demo"
    assert row.cursor["page"] == row.cursor["pages"] > 1
    assert row.status == "ok"


def test_a_movement_the_config_defines_keeps_its_own_rules(store: Engine) -> None:
    from domain.settings.config import MovementSettings
    from storage.catalog import upsert_movement
    from storage.engine import write_tx

    with write_tx(store) as conn:
        upsert_movement(
            conn,
            MovementSettings(
                slug="nhscitizen", name="NHS Citizen (ours)", hashtags=["NHSCitizen", "Extra"]
            ),
        )
    summary = load_demo(store, seed=3, mentions=200, now=NOW)
    with store.connect() as conn:
        row = conn.execute(select(Movement.__table__)).one()
    assert (row.name, row.hashtags) == ("NHS Citizen (ours)", ["NHSCitizen", "Extra"])
    assert summary.new > 0


def test_replaying_every_page_again_changes_nothing(store: Engine) -> None:
    from sqlalchemy import update

    from storage.engine import write_tx
    from storage.models import RollupHourly

    load_demo(store, seed=3, mentions=500, now=NOW)
    rollup = select(func.sum(RollupHourly.__table__.c.mentions))
    with store.connect() as conn:
        before = (store_counts(conn), conn.execute(rollup).scalar())
    seen_before = _count(store, MentionSeen)
    with write_tx(store) as conn:  # rewind the replay to its first page
        conn.execute(update(Source.__table__).values(cursor={"page": 0}))

    again = load_demo(store, seed=3, mentions=500, now=NOW)

    assert again.new == 0
    with store.connect() as conn:
        assert (store_counts(conn), conn.execute(rollup).scalar()) == before
    assert _count(store, MentionSeen) == seen_before
