"""Opt-outs as SQL: who may be shown (DESIGN.md section 6). On SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select

from storage.engine import write_tx
from storage.models import Account, Mention
from storage.queries.ethics import mention_displayable
from storage.write import write_batch
from tests.factories import account, batch, mention, movement


def _shown(store, **kw) -> set[str]:
    m, a = Mention.__table__, Account.__table__
    q = (
        select(m.c.native_id)
        .select_from(m.outerjoin(a, a.c.id == m.c.account_id))
        .where(mention_displayable(m, a, **kw))
    )
    with store.connect() as conn:
        return {r[0] for r in conn.execute(q)}


def test_opted_out_and_term_only_unindexable_posts_are_not_displayable(store):
    rules = movement(store)
    posts = [
        mention(1, author=account(1, indexable=True)),
        mention(2, author=account(2, noindex=True)),
        mention(3, author=account(3, discoverable=False)),
        mention(4, author=account(4, indexable=False), text="Talking about NHS Citizen today"),
        mention(5, author=account(5, indexable=True), text="Talking about NHS Citizen today"),
        mention(6, author=account(6, indexable=None)),
    ]
    with write_tx(store) as conn:
        write_batch(conn, batch(*posts), rules)
    ids = {p.native_id.rsplit("/", 1)[1] for p in posts}
    shown = {n.rsplit("/", 1)[1] for n in _shown(store)}
    assert shown == ids - {"2", "3", "4"}
    shown_setting_off = {
        n.rsplit("/", 1)[1] for n in _shown(store, discoverable_false_is_opt_out=False)
    }
    assert shown_setting_off == ids - {"2", "4"}
