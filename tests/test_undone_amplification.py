"""Undone reposts and boosts (issue 22, item 1): the edge is kept with the time it was undone,
and leaves `movement_edge`, the amplifier periods and the cascades, so the Amplifiers page and
the network export drop it within one collect cycle. Driven through the real clients (atproto,
Mastodon.py, a websocket for Jetstream) against the local servers; the write path's own cases
on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from collectors.mastodon.parse import parse_status
from collectors.mastodon.stream import HashtagStream
from domain.records import AccountRecord, Batch, EdgeRecord, MentionRecord
from domain.settings.config import MovementSettings
from groundswell.export import ExportOptions, export_dataset
from storage.catalog import load_rules, upsert_movement
from storage.engine import write_tx
from storage.queries import amplifiers
from storage.queries.scope import Scope
from storage.write import write_batch
from tests.bluesky_support import Env, add_posts, bluesky_env, jetstream_env
from tests.mastodon_support import runner_for, settings_for
from tests.servers.bluesky_server import profile
from tests.servers.mastodon_server import MastodonServer, make_account, make_status, running
from tests.test_bluesky_jetstream import ALICE, BOB, Clock, post, repost, uri
from tests.test_mastodon_stream import eventually
from tests.test_mastodon_stream import live as _live_stream

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _scalar(engine: Engine, sql: str) -> object:
    with engine.connect() as conn:
        return conn.execute(text(sql)).scalar()


def _live_edges(engine: Engine) -> int:
    return int(_scalar(engine, "SELECT count(*) FROM movement_edge") or 0)


def _undone(engine: Engine) -> int:
    return int(_scalar(engine, "SELECT count(*) FROM amplification WHERE undone_at IS NOT NULL"))


def _period_edges(engine: Engine) -> int:
    """Edges counted in the amplifier bounds; the per-day table counts exactly the same ones."""
    periods = _scalar(engine, "SELECT coalesce(sum(edges), 0) FROM movement_amplifier_period")
    days = _scalar(engine, "SELECT coalesce(sum(edges), 0) FROM movement_amplifier_day")
    assert days == periods
    return int(periods)


def _received(engine: Engine) -> list[dict]:
    with engine.connect() as conn:
        mv = conn.execute(text("SELECT min(id) FROM movement")).scalar()
        return amplifiers.ranked_received(conn, Scope(int(mv), 0, 2**40))


def _rows(engine: Engine, sql: str) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def _network_edges(engine: Engine, out: Path) -> int:
    summary = export_dataset(
        engine, out, options=ExportOptions(datasets=("accounts",), network=("graphml",))
    )
    return int(summary.counts["network"]["edges"])


# -- Bluesky ----------------------------------------------------------------------------------


@pytest.fixture
def jet(store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    with jetstream_env(store, tmp_path, monkeypatch) as env:
        yield env


def _undo(n: int, of: int, did: str = BOB) -> dict:
    """Jetstream's event for `did` deleting its repost record made at event `of`."""
    return {
        "did": did,
        "time_us": Clock.t(n),
        "kind": "commit",
        "commit": {
            "rev": f"3l3qo2vutsz{n:02d}",
            "operation": "delete",
            "collection": "app.bsky.feed.repost",
            "rkey": f"3l3rep{of:07d}",
        },
    }


def test_a_repost_deleted_on_jetstream_is_undone_and_leaves_the_amplifiers(
    jet: Env, tmp_path: Path
) -> None:
    jet.run()
    Clock.reset()
    jet.server.publish(post(1))
    jet.server.publish(repost(2, uri(1)))
    jet.run()
    assert _live_edges(jet.engine) == 1 and _period_edges(jet.engine) == 2
    assert len(_received(jet.engine)) == 1
    assert _network_edges(jet.engine, tmp_path / "before") == 1
    assert len(_wall_amplifiers(jet.engine)) == 1

    jet.server.publish(_undo(3, of=2))
    jet.run()  # one collect cycle
    assert [kind for kind, _, _ in jet.edges()] == ["repost"]  # kept, for researchers
    assert _undone(jet.engine) == 1
    assert _live_edges(jet.engine) == 0 and _period_edges(jet.engine) == 0
    assert _received(jet.engine) == []
    assert _network_edges(jet.engine, tmp_path / "after") == 0
    assert _wall_amplifiers(jet.engine) == []


def test_a_repost_undone_in_the_same_stream_batch_is_never_counted(jet: Env) -> None:
    jet.run()
    Clock.reset()
    jet.server.publish(post(1))
    jet.server.publish(repost(2, uri(1)))
    jet.server.publish(_undo(3, of=2))
    jet.run()
    assert _undone(jet.engine) == 1
    assert _live_edges(jet.engine) == 0 and _period_edges(jet.engine) == 0


def test_a_repost_missing_from_a_later_get_reposted_by_is_undone(
    store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with bluesky_env(store, tmp_path, monkeypatch) as bsky:
        (target,) = add_posts(bsky.server, 1)
        fans = [profile(f"did:plc:fan{i:021d}", f"fan{i}.bsky.social") for i in range(3)]
        bsky.server.add_reposts(target, fans)
        bsky.run()
        assert _live_edges(store) == 3
        assert _network_edges(store, tmp_path / "before") == 3
        bsky.server.undo_repost(target, fans[1]["did"])
        bsky.run()  # one collect cycle
        assert _undone(store) == 1 and _live_edges(store) == 2
        assert _period_edges(store) == 4
        assert len(_received(store)) == 1 and _received(store)[0]["total"] == 2
        assert _network_edges(store, tmp_path / "after") == 2
        assert fans[1]["did"] not in {
            r[0] for r in _rows(store, "SELECT a.native_id FROM amplification e JOIN account a "
                                       "ON a.id = e.source_account_id WHERE e.undone_at IS NULL")
        }  # fmt: skip
        calls = bsky.server.calls["app.bsky.feed.getRepostedBy"]
        bsky.run()  # the stored count followed the list down: no re-read without news
        assert bsky.server.calls["app.bsky.feed.getRepostedBy"] == calls
        assert ALICE != BOB


# -- Mastodon ---------------------------------------------------------------------------------


def test_a_boost_missing_from_reblogged_by_when_the_count_fell_is_undone(
    store: Engine, tmp_path: Path
) -> None:
    with running(MastodonServer("alpha.test")) as (alpha,):
        s = alpha.carry(make_status("alpha.test", "ann", 1))
        runner, _ = runner_for(store, settings_for(alpha))
        runner.run_once()
        for name in ("fan1", "fan2"):
            alpha.boost(s["uri"], make_account(name, "beta.test"), origin="beta.test")
        runner.run_once()
        assert _live_edges(store) == 2
        assert _network_edges(store, tmp_path / "before") == 2
        alpha.unboost(s["uri"], "fan1@beta.test")
        runner.run_once()  # one collect cycle
        assert _undone(store) == 1 and _live_edges(store) == 1
        assert _period_edges(store) == 2
        assert len(_received(store)) == 1
        assert _network_edges(store, tmp_path / "after") == 1
        assert [n for _, n in _wall_amplifiers(store)] == [1]


live_alpha = _live_stream  # the stream suite's fixture: a token-protected alpha.test followed live


def test_a_boost_deleted_on_the_live_stream_leaves_the_amplifiers_and_the_network_export(
    sqlite_store: Engine, live_alpha: tuple[MastodonServer, Callable[[], HashtagStream]],
    tmp_path: Path,
) -> None:  # fmt: skip
    """The boost arrives as a status of its own on the stream (its own local id), and its
    undoing as the `delete` of that id: Mastodon's stream names nothing else."""
    server, start = live_alpha
    start()
    original = server.carry(make_status("alpha.test", "ann", 1))
    booster = make_account("bob", "alpha.test")
    reblog = server.carry(
        {**make_status("alpha.test", "bob", 2, account=booster), "reblog": original}
    )
    eventually(lambda: _scalar(sqlite_store, "SELECT count(*) FROM amplification") == 1)
    assert _live_edges(sqlite_store) == 1
    assert _network_edges(sqlite_store, tmp_path / "before") == 1
    assert len(_received(sqlite_store)) == 1 and len(_wall_amplifiers(sqlite_store)) == 1

    server.delete(reblog["uri"])  # the boost undone: `delete` of the boost's local id
    eventually(lambda: _undone(sqlite_store) == 1)
    assert _live_edges(sqlite_store) == 0 and _period_edges(sqlite_store) == 0
    assert _received(sqlite_store) == [] and _wall_amplifiers(sqlite_store) == []
    assert _network_edges(sqlite_store, tmp_path / "after") == 0
    # the boosted post itself stays: only the boost was taken back
    assert _scalar(sqlite_store, "SELECT count(*) FROM mention WHERE deleted_at IS NULL") == 1
    assert _scalar(sqlite_store, "SELECT undone_at FROM amplification") is not None


def test_a_boost_list_from_another_instance_undoes_nothing(store: Engine) -> None:
    """Another instance knows only the boosts that reached it: its shorter list proves no undo."""
    with running(MastodonServer("alpha.test")) as (alpha,):
        s = alpha.carry(make_status("beta.test", "ann", 1), origin="beta.test")
        runner, _ = runner_for(store, settings_for(alpha))
        runner.run_once()
        for name in ("fan1", "fan2"):
            alpha.boost(s["uri"], make_account(name, "gamma.test"), origin="gamma.test")
        runner.run_once()
        alpha.unboost(s["uri"], "fan1@gamma.test")
        runner.run_once()
        assert _undone(store) == 0 and _live_edges(store) == 2


# -- the write path ---------------------------------------------------------------------------


def _boost_status(local_id: str, booster: str) -> dict:
    original = make_status("alpha.test", "ann", 1)
    return {
        **make_status("alpha.test", booster, 2),
        "id": local_id,
        "reblog": original,
        "content": "",
    }


def _write(engine: Engine, batch: Batch) -> None:
    with engine.connect() as conn:
        rules = load_rules(conn)
    with write_tx(engine) as conn:
        write_batch(conn, batch, rules)


def _movement(engine: Engine) -> None:
    with write_tx(engine) as conn:
        upsert_movement(conn, MovementSettings(slug="nhs", name="NHS", hashtags=["NHSCitizen"]))


def test_a_streamed_boost_delete_undoes_the_boost_and_shrinks_its_cascade(store: Engine) -> None:
    _movement(store)
    parsed = parse_status(_boost_status("9001", "bob"), "alpha.test")
    _write(store, Batch(mentions=[parsed.mention], edges=parsed.edges))
    assert _scalar(store, "SELECT max(size) FROM cascade_root") == 2
    # Mastodon's stream names a deleted boost by its local id only.
    (edge,) = parsed.edges
    assert edge.undo_key is not None
    _write(store, Batch(deletions=[edge.undo_key]))
    assert _undone(store) == 1 and _live_edges(store) == 0 and _period_edges(store) == 0
    assert _scalar(store, "SELECT max(size) FROM cascade_root") == 1
    assert _scalar(store, "SELECT coalesce(sum(boosts), 0) FROM cascade_node") == 0
    assert _scalar(store, "SELECT count(*) FROM mention WHERE deleted_at IS NOT NULL") == 0


def test_an_undo_seen_before_its_repost_stores_the_repost_undone(store: Engine) -> None:
    _movement(store)
    author = AccountRecord("bluesky", ALICE)
    target = MentionRecord(
        "bluesky", uri(1), T0, author=author, text="#NHSCitizen", hashtags=["NHSCitizen"]
    )
    key = ("bluesky", f"at://{BOB}/app.bsky.feed.repost/3l3rep0000002")
    _write(store, Batch(deletions=[key]))
    edge = EdgeRecord(
        "repost", "bluesky", AccountRecord("bluesky", BOB), ("bluesky", uri(1)),
        T0 + timedelta(minutes=1), target_account=author, undo_key=key,
    )  # fmt: skip
    _write(store, Batch(mentions=[target], edges=[edge]))
    assert _undone(store) == 1 and _live_edges(store) == 0 and _period_edges(store) == 0


def test_a_repost_made_again_after_an_undo_counts_again(store: Engine) -> None:
    _movement(store)
    author = AccountRecord("bluesky", ALICE)
    target = MentionRecord(
        "bluesky", uri(1), T0, author=author, text="#NHSCitizen", hashtags=["NHSCitizen"]
    )

    def made(rkey: str) -> EdgeRecord:
        return EdgeRecord(
            "repost", "bluesky", AccountRecord("bluesky", BOB), ("bluesky", uri(1)),
            T0 + timedelta(minutes=1), target_account=author,
            undo_key=("bluesky", f"at://{BOB}/app.bsky.feed.repost/{rkey}"),
        )  # fmt: skip

    first = made("3l3rep0000002")
    _write(store, Batch(mentions=[target], edges=[first]))
    assert first.undo_key is not None
    _write(store, Batch(deletions=[first.undo_key]))
    assert _live_edges(store) == 0
    _write(store, Batch(edges=[made("3l3rep0000009")]))
    assert _undone(store) == 0 and _live_edges(store) == 1 and _period_edges(store) == 2


# -- the wall ---------------------------------------------------------------------------------


def _wall_amplifiers(engine: Engine) -> list[tuple[int, int]]:
    from storage.queries import wall

    with engine.connect() as conn:
        got = wall.top_amplifiers(conn, movement_id=None, since_ts=0, limit=10)
    return [(a.account_id, a.amplifications) for a in got]


def test_the_wall_s_amplifiers_leave_out_an_undone_boost(store: Engine) -> None:
    _movement(store)
    parsed = parse_status(_boost_status("9001", "bob"), "alpha.test")
    _write(store, Batch(mentions=[parsed.mention], edges=parsed.edges))
    (edge,) = parsed.edges
    assert [n for _, n in _wall_amplifiers(store)] == [1]
    assert edge.undo_key is not None
    _write(store, Batch(deletions=[edge.undo_key]))
    assert _wall_amplifiers(store) == []
    assert _undone(store) == 1  # the history keeps it


def _amplification_plans(engine: Engine) -> list[str]:
    """EXPLAIN of each statement `top_amplifiers` sends that reads `amplification`, with the
    planner told to avoid table scans (a small test table would be scanned whatever the
    indexes): what remains shows whether the index alone answers."""
    from sqlalchemy import event

    seen: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, params, *_):  # type: ignore[no-untyped-def]
        if "amplification" in statement:
            seen.append((statement, params))

    pg = engine.dialect.name == "postgresql"
    with engine.connect() as conn:
        if pg:
            conn.exec_driver_sql("SET enable_seqscan = off")
            conn.exec_driver_sql("SET enable_bitmapscan = off")
        event.listen(engine, "before_cursor_execute", capture)
        try:
            from storage.queries import wall

            wall.top_amplifiers(conn, movement_id=None, since_ts=0, limit=5)
        finally:
            event.remove(engine, "before_cursor_execute", capture)
        prefix = "EXPLAIN " if pg else "EXPLAIN QUERY PLAN "
        return [
            "\n".join(str(r[-1]) for r in conn.exec_driver_sql(prefix + s, p))  # type: ignore[arg-type]
            for s, p in seen
        ]


def test_the_wall_s_amplifiers_leave_out_undone_edges_from_the_covering_index_alone(
    store: Engine,
) -> None:
    _movement(store)
    parsed = parse_status(_boost_status("9001", "bob"), "alpha.test")
    _write(store, Batch(mentions=[parsed.mention], edges=parsed.edges))
    plans = _amplification_plans(store)
    assert plans
    for plan in plans:
        if store.dialect.name == "sqlite":
            assert "COVERING INDEX ix_amp_cover" in plan, plan
        else:
            assert "Index Only Scan using ix_amp_cover" in plan, plan
