"""The bulk write path: idempotent upserts, rollups, tombstones, cursors in one transaction.

Every test runs on SQLite and on PostgreSQL (the `store` fixture)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from domain.records import EdgeRecord, SourceSpec
from storage.catalog import sync_sources
from storage.engine import write_tx
from storage.models import Mention, MentionPayload, RollupHourly, Source
from storage.write import LeaseLost, write_batch
from tests.factories import T0, account, batch, mention, movement


def _count(engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar() or 0)


def test_the_same_page_written_twice_changes_nothing(store):
    rules = movement(store)
    page = batch(*(mention(i) for i in range(1, 51)))
    with write_tx(store) as conn:
        first = write_batch(conn, page, rules)
    with write_tx(store) as conn:
        second = write_batch(conn, page, rules)
    assert (first.new, first.updated) == (50, 0)
    assert (second.new, second.updated) == (0, 50)
    assert _count(store, "SELECT count(*) FROM mention") == 50
    assert _count(store, "SELECT sum(mentions) FROM rollup_hourly") == 50
    assert _count(store, "SELECT sum(mentions) FROM movement_author") == 50


def test_counters_and_edits_update_in_place(store):
    rules = movement(store)
    m = mention(1, like_count=2)
    with write_tx(store) as conn:
        write_batch(conn, batch(m), rules)
    edited = mention(
        1, like_count=9, text="Edited: pledged #NHSCitizen", edited_at=T0 + timedelta(hours=1)
    )
    with write_tx(store) as conn:
        write_batch(conn, batch(edited), rules)
    with store.connect() as conn:
        row = conn.execute(select(Mention.__table__)).one()
    assert row.like_count == 9
    assert row.text.startswith("Edited")
    assert row.edited_at == T0 + timedelta(hours=1)


def test_a_stale_copy_from_another_instance_never_lowers_counters(store):
    rules = movement(store)
    with write_tx(store) as conn:
        write_batch(conn, batch(mention(1, repost_count=12)), rules)
        write_batch(conn, batch(mention(1, repost_count=3)), rules)
    assert _count(store, "SELECT repost_count FROM mention") == 12


def test_mentions_matching_no_movement_are_not_stored(store):
    rules = movement(store)
    with write_tx(store) as conn:
        res = write_batch(conn, batch(mention(1, text="lunch photos #food")), rules)
    assert res.unmatched == 1
    assert _count(store, "SELECT count(*) FROM mention") == 0


def test_deletion_purges_content_but_keeps_the_aggregates(store):
    rules = movement(store)
    m = mention(1)
    with write_tx(store) as conn:
        write_batch(conn, batch(m), rules)
        res = write_batch(conn, batch(deletions=[(m.platform, m.native_id)]), rules)
    assert res.tombstoned == 1
    with store.connect() as conn:
        row = conn.execute(select(Mention.__table__)).one()
        payloads = conn.execute(select(func.count()).select_from(MentionPayload.__table__)).scalar()
        hourly = conn.execute(select(func.sum(RollupHourly.__table__.c.mentions))).scalar()
    assert row.deleted_at is not None and row.text is None and row.html is None
    assert payloads == 0
    assert hourly == 1


def test_a_tombstone_is_not_revived_by_a_late_copy(store):
    rules = movement(store)
    m = mention(1)
    with write_tx(store) as conn:
        write_batch(conn, batch(m), rules)
        write_batch(conn, batch(deletions=[(m.platform, m.native_id)]), rules)
        write_batch(conn, batch(mention(1)), rules)
    with store.connect() as conn:
        row = conn.execute(select(Mention.__table__)).one()
    assert row.text is None and row.deleted_at is not None
    assert _count(store, "SELECT count(*) FROM mention_payload") == 0


def test_unknown_opt_out_flags_never_overwrite_known_ones(store):
    rules = movement(store)
    with write_tx(store) as conn:
        write_batch(conn, batch(mention(1, author=account(1, noindex=True))), rules)
        write_batch(conn, batch(mention(2, author=account(1, noindex=None))), rules)
    assert _count(store, "SELECT count(*) FROM account WHERE noindex") == 1


def test_edges_are_idempotent(store):
    rules = movement(store)
    m = mention(1)
    edge = EdgeRecord(
        kind="boost",
        platform="mastodon",
        source=account(5),
        target=(m.platform, m.native_id),
        created_at=T0,
    )
    with write_tx(store) as conn:
        write_batch(conn, batch(m, edges=[edge]), rules)
        write_batch(conn, batch(edges=[edge, edge]), rules)
    assert _count(store, "SELECT count(*) FROM amplification") == 1


def test_rollups_count_each_movement_once_per_mention(store):
    movement(store, slug="a", hashtags=["NHSCitizen"], terms=[], urls=[])
    rules = movement(store, slug="b", hashtags=["ChangeDay"], terms=[], urls=[])
    m = mention(1, text="#NHSCitizen and #ChangeDay")
    with write_tx(store) as conn:
        write_batch(conn, batch(m, m), rules)
        write_batch(conn, batch(m), rules)
    assert _count(store, "SELECT count(*) FROM mention") == 1
    assert _count(store, "SELECT sum(mentions) FROM rollup_hourly") == 2


def _source(store) -> int:
    with write_tx(store) as conn:
        ids = sync_sources(conn, [SourceSpec("test:s", "mastodon", "hashtag", {}, 60)])
    return ids["test:s"]


def test_cursor_is_written_with_the_rows_it_covers(store):
    rules = movement(store)
    sid = _source(store)
    with pytest.raises(RuntimeError), write_tx(store) as conn:
        write_batch(conn, batch(mention(1), cursor={"min_id": "1"}), rules, source_id=sid)
        raise RuntimeError("worker killed before commit")
    assert _count(store, "SELECT count(*) FROM mention") == 0
    with store.connect() as conn:
        assert conn.execute(select(Source.__table__.c.cursor)).scalar() is None
    with write_tx(store) as conn:
        write_batch(conn, batch(mention(1), cursor={"min_id": "1"}), rules, source_id=sid)
    with store.connect() as conn:
        assert conn.execute(select(Source.__table__.c.cursor)).scalar() == {"min_id": "1"}


def test_a_batch_from_a_worker_that_lost_its_lease_is_refused(store):
    rules = movement(store)
    sid = _source(store)
    with write_tx(store) as conn:
        conn.execute(text("UPDATE source SET lease_owner = 'other-worker'"))
    with pytest.raises(LeaseLost), write_tx(store) as conn:
        write_batch(
            conn, batch(mention(1), cursor={"min_id": "9"}), rules, source_id=sid, lease_owner="me"
        )
    assert _count(store, "SELECT count(*) FROM mention") == 0


def test_payloads_the_fast_json_encoder_refuses_still_store_as_json(store):
    # orjson refuses integers beyond 64 bits and non-string keys; the standard encoder takes
    # them, so such a payload stores exactly as it did before (and reads back as the same JSON).
    rules = movement(store)
    raw = {"id": 2**70, "counts": {1: "one"}, "text": "caf\u00e9 \u2014 \U0001f600", "none": None}
    m = replace(mention(1, media=[{"url": "https://x.example/a.png", "n": 2**65}]), raw=raw)
    with write_tx(store) as conn:
        write_batch(conn, batch(m), rules)
    with store.connect() as conn:
        payload = conn.execute(select(MentionPayload.__table__.c.payload)).scalar_one()
        media = conn.execute(select(Mention.__table__.c.media)).scalar_one()
    assert payload == {"id": 2**70, "counts": {"1": "one"}, "text": raw["text"], "none": None}
    assert media == [{"url": "https://x.example/a.png", "n": 2**65}]


def _account_state(engine, a) -> tuple:
    from storage.models import Account

    t = Account.__table__
    with engine.connect() as conn:
        row = conn.execute(
            select(t.c.display_name, t.c.bot, t.c.updated_at).where(t.c.id == a.id)
        ).one()
    return row[0], row[1], row[2]


@pytest.mark.parametrize("rows", [1, 250], ids=["executemany", "copy"])
def test_an_unchanged_author_is_rewritten_at_most_hourly_a_changed_one_at_once(store, rows):
    """`account.updated_at` says when the author was last seen, to the hour: an author in
    every page is not rewritten by each (a new row version per page on PostgreSQL), but a
    profile change is stored at once; what a page does not know (None) changes nothing."""
    rules = movement(store)
    others = [account(100 + i) for i in range(rows - 1)]  # enough rows for the COPY path
    a = account(1, bot=False)

    def seen(n: int, author, now) -> None:
        with write_tx(store) as conn:
            write_batch(conn, batch(mention(n, author=author), accounts=others), rules, now=now)

    seen(1, a, T0)
    seen(2, a, T0 + timedelta(minutes=10))
    assert _account_state(store, a) == ("User 1", False, T0)
    seen(3, replace(a, bot=None, display_name=None), T0 + timedelta(minutes=20))
    assert _account_state(store, a) == ("User 1", False, T0)
    seen(4, replace(a, display_name="Renamed"), T0 + timedelta(minutes=30))
    assert _account_state(store, a) == ("Renamed", False, T0 + timedelta(minutes=30))
    later = T0 + timedelta(minutes=95)
    seen(5, replace(a, display_name="Renamed"), later)
    assert _account_state(store, a) == ("Renamed", False, later)
