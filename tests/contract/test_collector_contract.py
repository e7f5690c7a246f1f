"""The collector contract, for every platform in `cases.CASES` (add yours there).

What every collector must guarantee to the runner and the store (DESIGN.md sections 3, 8):
keys are never null and never repeated within a page; replaying pages changes nothing; and
after every committed batch the stored cursor is a valid place to resume from: a worker killed
there and restarted loses nothing and duplicates nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text, update

from collectors.base import CollectorContext
from collectors.registry import source_specs
from collectors.runner import Runner
from domain.records import Batch
from domain.settings.config import MovementSettings
from storage.catalog import load_rules, sync_sources, upsert_movement
from storage.engine import make_engine, write_tx
from storage.migrate import upgrade
from storage.models import Source
from storage.write import write_batch
from tests.contract.cases import CASES, ContractCase


@pytest.fixture(params=sorted(CASES))
def case(request: pytest.FixtureRequest) -> Iterator[ContractCase]:
    with CASES[request.param]() as c:
        yield c


def fresh_store(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('contract') / 'gs.db'}")
    upgrade(engine)
    return engine


def prepare(engine: Engine, case: ContractCase) -> Runner:
    with write_tx(engine) as conn:
        for m in case.settings.movements:
            upsert_movement(conn, MovementSettings.model_validate(m.model_dump()))
        sync_sources(conn, source_specs(case.settings))
    context = CollectorContext(settings=case.settings, engine=engine)
    return Runner(engine, context, {case.name: case.make_collector(context)})


def all_batches(runner: Runner) -> list[Batch]:
    """Every batch of one poll of every source, without writing anything."""
    collector = runner.collectors[next(iter(runner.collectors))]
    out: list[Batch] = []
    for state in runner.claim(limit=1000, only_due=False):
        out.extend(collector.poll(state))
        runner._release(state.id)
    return out


def snapshot(engine: Engine) -> dict[str, Any]:
    queries = {
        "mentions": "SELECT count(*) FROM mention",
        "accounts": "SELECT count(*) FROM account",
        "edges": "SELECT count(*) FROM amplification",
        "seen": "SELECT count(*) FROM mention_seen",
        "matches": "SELECT count(*) FROM mention_match",
        "rollup": "SELECT coalesce(sum(mentions), 0) FROM rollup_hourly",
        "authors": "SELECT coalesce(sum(mentions), 0) FROM movement_author",
        "counters": "SELECT coalesce(sum(like_count + repost_count + reply_count), 0) FROM mention",
    }
    with engine.connect() as conn:
        return {k: conn.execute(text(q)).scalar() for k, q in queries.items()}


def test_keys_are_never_null_and_never_repeated_within_a_batch(case, tmp_path_factory):
    runner = prepare(fresh_store(tmp_path_factory), case)
    batches = all_batches(runner)
    assert batches
    for b in batches:
        keys = [(m.platform, m.native_id) for m in b.mentions]
        assert all(p and isinstance(n, str) and n.strip() for p, n in keys)
        assert len(keys) == len(set(keys))
        for m in b.mentions:
            assert m.author is None or (m.author.native_id and m.author.platform)
            assert m.created_at.tzinfo is not None
        for e in b.edges:
            assert e.source.native_id and all(e.target)
        assert b.cursor is None or isinstance(b.cursor, dict)


def test_replaying_every_page_changes_nothing(case, store):
    runner = prepare(store, case)
    batches = all_batches(runner)
    with store.connect() as conn:
        rules = load_rules(conn)
    for b in batches:
        with write_tx(store) as conn:
            write_batch(conn, b, rules)
    first = snapshot(store)
    assert first["mentions"] == case.expected_mentions
    for b in batches:
        with write_tx(store) as conn:
            write_batch(conn, b, rules)
    assert snapshot(store) == first


def test_a_restart_after_any_batch_loses_nothing_and_duplicates_nothing(case, tmp_path_factory):
    full = prepare(fresh_store(tmp_path_factory), case)
    n_batches = len(all_batches(full))
    assert n_batches >= 3, "give the case enough items for several pages"
    for crash_after in range(1, n_batches):
        engine = fresh_store(tmp_path_factory)
        runner = prepare(engine, case)
        collector = runner.collectors[case.name]
        with engine.connect() as conn:
            rules = load_rules(conn)
        written = 0
        for state in runner.claim(limit=1000, only_due=False):
            polling = collector.poll(state)
            for b in polling:
                if written == crash_after:
                    break
                with write_tx(engine) as conn:
                    write_batch(conn, b, rules, source_id=state.id, lease_owner=runner.worker_id)
                written += 1
            polling.close()  # the worker dies here
        with write_tx(engine) as conn:  # its leases expire
            conn.execute(update(Source.__table__).values(lease_owner=None, lease_until=None))
        case.grow(3)  # and the world moves on meanwhile
        restarted = prepare(engine, case)  # a new process: new collector, no memory
        outcomes = restarted.run_once()
        assert all(o.outcome == "ok" for o in outcomes), outcomes
        snap = snapshot(engine)
        assert snap["mentions"] == case.expected_mentions, f"crash after batch {crash_after}"
        assert snap["rollup"] == case.expected_mentions
        assert snap["matches"] == case.expected_mentions
        engine.dispose()


def test_polling_again_after_new_items_collects_exactly_the_new_ones(case, tmp_path_factory):
    engine = fresh_store(tmp_path_factory)
    runner = prepare(engine, case)
    runner.run_once()
    before = snapshot(engine)
    assert before["mentions"] == case.expected_mentions
    case.grow(5)
    runner.run_once()
    after = snapshot(engine)
    assert after["mentions"] == before["mentions"] + 5 == case.expected_mentions
    assert after["rollup"] == after["mentions"]
    runner.run_once()  # nothing new: nothing changes
    assert snapshot(engine)["mentions"] == after["mentions"]
