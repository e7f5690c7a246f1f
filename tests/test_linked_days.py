"""`movement_linked_day` and `movement_linked_author` (storage/linked_days.py, migrations 0058
and 0059) on SQLite and PostgreSQL: the days and the first and last matches of the accounts of
persons with more than one account, kept by the write path and by every re-link exactly as a
rebuild from the presence and author rows computes them."""

from __future__ import annotations

import importlib.util
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text

from domain.records import AccountRecord
from storage import linked_days
from storage.engine import write_tx
from storage.models import Account
from storage.models_rollups import MovementLinkedAuthor, MovementLinkedDay, MovementLinkedHour
from storage.people_links import (
    moderator_detach,
    moderator_link,
    move_accounts,
    relink_all,
)
from storage.recount import recount
from storage.write import write_batch
from tests.factories import T0, batch, mention, movement
from tests.test_people_store import VERIFIED, blog, bsky, masto

A = Account.__table__
MLD = MovementLinkedDay.__table__
MLA = MovementLinkedAuthor.__table__
MLH = MovementLinkedHour.__table__
D = timedelta(days=1)


def _kept(conn) -> list[tuple]:
    """The linked days; the linked authors' rows must agree with `_authors`."""
    return sorted(tuple(r) for r in conn.execute(select(MLD)).all())


def _authors(conn) -> list[tuple]:
    return sorted(tuple(r) for r in conn.execute(select(MLA)).all())


def _hours(conn) -> list[tuple]:
    return sorted(tuple(r) for r in conn.execute(select(MLH)).all())


def _kept_and_rebuilt(engine) -> tuple[list[tuple], list[tuple]]:
    """The rows as kept, and as `rebuild` computes them from the presence rows (rolled back)."""
    with engine.connect() as conn:
        tx = conn.begin()
        kept, kept_authors, kept_hours = _kept(conn), _authors(conn), _hours(conn)
        linked_days.rebuild(conn)
        rebuilt, rebuilt_authors, rebuilt_hours = _kept(conn), _authors(conn), _hours(conn)
        tx.rollback()
    assert kept_authors == rebuilt_authors
    assert kept_hours == rebuilt_hours
    assert {(h[1] // 24, h[2], h[3], h[4]) for h in kept_hours} == {r[1:] for r in kept}
    assert {(r[1], r[2]) for r in kept_authors} == {(r[3], r[2]) for r in kept}
    return kept, rebuilt


def _assert_kept(engine) -> list[tuple]:
    kept, rebuilt = _kept_and_rebuilt(engine)
    assert kept == rebuilt
    return kept


def _post(engine, rules, n: int, author: AccountRecord, day: int, platform: str | None = None):
    with write_tx(engine) as conn:
        write_batch(
            conn,
            batch(
                mention(
                    n, platform=platform or author.platform, author=author, created_at=T0 + day * D
                )
            ),
            rules,
            now=T0 + day * D,
        )


def _accounts_of(rows: list[tuple]) -> set[int]:
    return {r[3] for r in rows}


def test_the_migration_backfills_with_the_definition_the_store_rebuilds_with():
    path = Path(__file__).parents[1] / "storage/migrations/versions/0058_linked_days.py"
    spec = importlib.util.spec_from_file_location("m0058", path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert (linked_days.REBUILD.format(mv="1 = 1"),) == mod.BACKFILL


def test_writes_links_and_unlinks_keep_the_linked_days_a_rebuild_computes(store):
    rules = movement(store)
    dora = AccountRecord(platform="mastodon", native_id="dora@example.social", handle="dora")
    # Nobody linked yet: a blog, a Mastodon account that claims nothing, and dora.
    _post(store, rules, 1, blog(), 0)
    _post(store, rules, 2, masto(), 0)
    _post(store, rules, 3, dora, 1)
    assert _assert_kept(store) == []
    # A Bluesky account whose handle is the blog's domain: the blog and it are one person,
    # found in the same write; the blog's earlier day joins the table with it.
    _post(store, rules, 4, bsky(), 1)
    rows = _assert_kept(store)
    assert _accounts_of(rows) == {blog().id, bsky().id}
    assert {(r[1], r[3]) for r in rows} >= {(rows[0][1], blog().id)}
    # The Mastodon account verifies the site: three platforms, one person; then all post again
    # (the write path adds their days), a blog that also sends pingbacks included.
    _post(store, rules, 5, masto([VERIFIED]), 2)
    for n, who in enumerate((masto(), blog(), bsky(), dora), start=6):
        _post(store, rules, n, who, 3)
    _post(store, rules, 10, blog(), 3, platform="pingback")
    rows = _assert_kept(store)
    assert _accounts_of(rows) == {blog().id, bsky().id, masto().id}
    assert len({r[2] for r in rows}) == 1
    # A moderator takes the Mastodon account out: it leaves the table, the others stay.
    with write_tx(store) as conn:
        moderator_detach(conn, masto().id, by="mod@example", reason="not the charity")
    assert _accounts_of(_assert_kept(store)) == {blog().id, bsky().id}
    # A moderator joins dora to the Mastodon account: a new group of two.
    with write_tx(store) as conn:
        moderator_link(conn, dora.id, masto().id, by="mod@example", reason="same nurse")
    rows = _assert_kept(store)
    assert _accounts_of(rows) == {blog().id, bsky().id, masto().id, dora.id}
    assert len({r[2] for r in rows}) == 2
    # The background pass over every account finds the same persons and changes nothing.
    with write_tx(store) as conn:
        relink_all(conn)
    assert _assert_kept(store) == rows
    # A recount of the movement computes the same.
    with write_tx(store) as conn:
        recount(conn, conn.execute(text("SELECT id FROM movement")).scalars().all())
    assert _assert_kept(store) == rows


def test_moving_accounts_by_hand_takes_the_groups_first_account_with_it(store):
    rules = movement(store)
    a = AccountRecord(platform="mastodon", native_id="a@example.social", handle="a")
    b = AccountRecord(platform="bluesky", native_id="did:plc:b", handle="b.bsky.social")
    _post(store, rules, 1, a, 0)
    _post(store, rules, 2, b, 1)
    first, second = sorted((a.id, b.id))
    with write_tx(store) as conn:
        move_accounts(conn, {second: first})
    assert _accounts_of(_assert_kept(store)) == {first, second}
    with write_tx(store) as conn:
        move_accounts(conn, {second: second})
    assert _assert_kept(store) == []


def test_a_relink_waits_for_a_write_by_its_accounts_and_keeps_its_new_day(store):
    """PostgreSQL, two transactions: a write by an account is open (its account upsert holds
    the row) when a re-link gives that account a second account. The account itself does not
    move (it is the group's first), yet it becomes linked: the re-link waits for the write to
    commit and then sees its new presence row; without the wait the new day would be
    missing."""
    if store.dialect.name != "postgresql":
        pytest.skip("row locks between concurrent writers: PostgreSQL")
    rules = movement(store)
    a = AccountRecord(platform="mastodon", native_id="a@example.social", handle="a")
    b = AccountRecord(platform="bluesky", native_id="did:plc:b", handle="b.bsky.social")
    _post(store, rules, 1, a, 0)
    _post(store, rules, 2, b, 0)
    first, second = sorted((a.id, b.id))
    author = a if a.id == first else b
    writer = store.connect()
    tx = writer.begin()
    write_batch(
        writer,
        batch(mention(3, platform=author.platform, author=author, created_at=T0 + 5 * D)),
        rules,
        now=T0 + 5 * D,  # a known author: the write takes no linking lock
    )
    errors: list[BaseException] = []

    def relink() -> None:
        try:
            with write_tx(store) as conn:
                move_accounts(conn, {second: first})
        except BaseException as e:
            errors.append(e)

    t = threading.Thread(target=relink)
    t.start()
    t.join(timeout=1)
    waited = t.is_alive()
    tx.commit()
    writer.close()
    t.join(timeout=60)
    assert not errors
    assert waited, "the re-link did not wait for the open write of its account"
    rows = _assert_kept(store)
    assert {r[1] for r in rows if r[3] == first} == {
        int(T0.timestamp()) // 86400,
        int((T0 + 5 * D).timestamp()) // 86400,
    }
