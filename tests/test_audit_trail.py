"""The audit trail's storage (issue 23; docs/access.md): rows commit with the action they record,
list and export filter by actor, action and time, never leak a withheld post's id, and expire
at their own retention horizon."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from storage.audit import AuditError, AuditFilter, facets, iter_actions, list_actions, record_action
from storage.engine import write_tx
from storage.models import Mention
from storage.models_audit import AuditEvent
from storage.write import tombstone, write_batch
from tests.factories import T0, account, batch, mention, movement


def _count(store) -> int:
    with store.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(AuditEvent.__table__)).scalar())


def test_an_audit_row_commits_with_its_action_and_rolls_back_with_it(store):
    with write_tx(store) as conn:
        record_action(
            conn,
            actor="ana@org.example",
            role="moderator",
            action="wall.hide",
            target_kind="mention",
            target_id=7,
            detail={"wall": "default"},
        )
    with pytest.raises(RuntimeError), write_tx(store) as conn:
        record_action(
            conn,
            actor="ana@org.example",
            role="moderator",
            action="wall.pin",
            target_kind="mention",
            target_id=8,
        )
        raise RuntimeError("the action failed after its audit row was written")
    with store.connect() as conn:
        [row] = list_actions(conn)
    assert (row["actor"], row["role"], row["action"]) == (
        "ana@org.example",
        "moderator",
        "wall.hide",
    )
    assert row["detail"] == {"wall": "default"}
    assert row["at"].tzinfo is not None


@pytest.mark.parametrize(
    "kw",
    [
        {"actor": "  ", "action": "wall.hide"},
        {"actor": "ana", "action": "Wall Hide"},
        {"actor": "ana", "action": "export", "detail": {"post": {"text": "content"}}},
    ],
)
def test_a_malformed_audit_call_is_refused_and_writes_nothing(sqlite_store, kw):
    with pytest.raises(AuditError), write_tx(sqlite_store) as conn:
        record_action(conn, role="moderator", **kw)
    assert _count(sqlite_store) == 0


def test_an_oversized_detail_is_shortened_not_refused_so_the_action_still_commits(
    sqlite_store,
):
    slugs = [f"session-{i:03d}-" + "x" * 60 for i in range(300)]  # a large programme saved
    with write_tx(sqlite_store) as conn:
        record_action(
            conn,
            actor="ed",
            role="editor",
            action="events.save",
            detail={"saved": slugs, "file": "y" * 5000},
        )
    with sqlite_store.connect() as conn:
        [row] = list_actions(conn)
    assert row["detail"]["truncated"] is True
    assert row["detail"]["saved"] == slugs[:20] and row["detail"]["saved_count"] == 300
    assert row["detail"]["file"] == "y" * 200


def test_the_trail_filters_by_actor_action_and_time_newest_first(store):
    with write_tx(store) as conn:
        for i, (actor, action) in enumerate(
            [("ana", "wall.hide"), ("ben", "export"), ("ana", "export"), ("ana", "wall.pin")]
        ):
            record_action(
                conn, actor=actor, role="moderator", action=action, at=T0 + timedelta(hours=i)
            )
    with store.connect() as conn:
        assert [r["action"] for r in list_actions(conn, AuditFilter(actor="ana"))] == [
            "wall.pin",
            "export",
            "wall.hide",
        ]
        assert [r["actor"] for r in list_actions(conn, AuditFilter(action="export"))] == [
            "ana",
            "ben",
        ]
        window = AuditFilter(since=T0 + timedelta(hours=1), until=T0 + timedelta(hours=3))
        assert [r["action"] for r in list_actions(conn, window)] == ["export", "export"]
        assert facets(conn) == (["ana", "ben"], ["export", "wall.hide", "wall.pin"])
        pages = list(iter_actions(conn, batch=3))
    assert [len(p) for p in pages] == [3, 1]
    assert [r["at"] for p in pages for r in p] == [T0 + timedelta(hours=i) for i in range(4)]


def test_a_withheld_post_or_opted_out_author_never_leaves_the_trail_by_its_id(store):
    rules = movement(store)
    shown, hidden_author, gone = (
        mention(1, author=account(1)),
        mention(2, author=account(2, noindex=True)),
        mention(3, author=account(3)),
    )
    with write_tx(store) as conn:
        write_batch(conn, batch(shown, hidden_author, gone), rules)
        tombstone(conn, [(gone.platform, gone.native_id)], T0)
    m = Mention.__table__
    with store.connect() as conn:
        ids = dict(conn.execute(select(m.c.native_id, m.c.id)).all())
        authors = dict(conn.execute(select(m.c.id, m.c.account_id)).all())
    targets = [("mention", ids[x.native_id]) for x in (shown, hidden_author, gone)]
    targets += [
        ("account", authors[ids[shown.native_id]]),
        ("account", authors[ids[hidden_author.native_id]]),
    ]
    shown_acc, hidden_acc = (authors[ids[x.native_id]] for x in (shown, hidden_author))
    with write_tx(store) as conn:
        record_action(
            conn,
            actor="ana",
            role="moderator",
            action="people.link",
            target_kind="person",
            target_id=1,
            detail={"accounts": [shown_acc, hidden_acc], "reason": "same blog"},
        )
        for kind, target in targets:
            record_action(
                conn,
                actor="ana",
                role="moderator",
                action="wall.hide",
                target_kind=kind,
                target_id=target,
            )
        record_action(
            conn,
            actor="ana",
            role="moderator",
            action="wall.hide",
            target_kind="mention",
            target_id=999_999,
        )  # purged since
    with store.connect() as conn:
        listed = list(reversed(list_actions(conn)))
        exported = [r for page in iter_actions(conn) for r in page]
    for rows in (listed, exported):
        link = rows.pop(0)
        assert link["detail"] == {"accounts": [shown_acc, "withheld"], "reason": "same blog"}
        assert [(r["target_id"], r["withheld"]) for r in rows] == [
            (str(ids[shown.native_id]), False),
            (None, True),
            (None, True),
            (str(authors[ids[shown.native_id]]), False),
            (None, True),
            (None, True),
        ]


def test_the_audit_horizon_purges_only_rows_older_than_it(store):
    from groundswell.export.retention import Horizons, purge_all

    with write_tx(store) as conn:
        for days in (500, 10):
            record_action(
                conn,
                actor="ana",
                role="moderator",
                action="wall.hide",
                at=T0 - timedelta(days=days),
            )
    assert purge_all(store, Horizons(audit=400), now=T0, dry_run=True) == {"audit_event": 1}
    assert purge_all(store, Horizons(audit=400), now=T0) == {"audit_event": 1}
    with store.connect() as conn:
        assert [r["at"] for r in list_actions(conn)] == [T0 - timedelta(days=10)]


def test_the_audit_trail_is_kept_400_days_unless_configured():
    from domain.settings.config import Settings
    from groundswell.export.retention import Horizons

    assert Horizons.from_settings(Settings()).audit == 400
    assert Horizons.from_settings(Settings(ethics={"audit_retention_days": 30})).audit == 30
