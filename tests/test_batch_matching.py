"""Parse -> match -> write (issue 21): the movements' rules run before the write transaction
(`domain.batch_matching.match_batch`, called by the runner, the Mastodon stream and the
receiver's queue), and the store writes the matches the mentions carry.

Store tests run on SQLite and on PostgreSQL (the `store` fixture)."""

from __future__ import annotations

from sqlalchemy import text

from domain.batch_matching import match_batch
from domain.matching import Match
from storage.engine import write_tx
from storage.write import write_batch
from tests.factories import batch, mention, movement


def _rows(engine, sql: str) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def test_matching_sets_each_mentions_content_matches_before_any_write(store):
    rules = movement(store)
    page = batch(
        mention(1), mention(2, text="nothing to see"), mention(3, text="the NHS Citizen day")
    )
    match_batch(rules, page)
    got = [[(m.movement_id, m.via) for m in r.matches or []] for r in page.mentions]
    mid = rules[0].id
    assert got == [[(mid, "hashtag")], [], [(mid, "term")]]


def test_the_store_writes_the_matches_a_mention_carries_without_running_the_rules(store):
    rules = movement(store)
    mid = rules[0].id
    # Matched upstream: the text alone matches nothing, and no rules reach the store.
    carried = mention(1, text="no tag here", matches=[Match(mid, "source")])
    unmatched = mention(2, text="no tag either", matches=[])
    with write_tx(store) as conn:
        res = write_batch(conn, batch(carried, unmatched), [])
    assert (res.new, res.unmatched) == (1, 1)
    assert _rows(store, "SELECT movement_id, via FROM mention_match") == [(mid, "source")]


def test_a_batch_handed_over_unmatched_is_matched_by_the_same_rules_at_the_write(store):
    rules = movement(store)
    pre = batch(mention(1), mention(2, text="nothing"))
    match_batch(rules, pre)
    with write_tx(store) as conn:
        matched_first = write_batch(conn, pre, rules)
    raw = batch(mention(3), mention(4, text="nothing"))
    with write_tx(store) as conn:
        matched_at_write = write_batch(conn, raw, rules)
    assert (matched_first.new, matched_first.unmatched) == (1, 1)
    assert (matched_at_write.new, matched_at_write.unmatched) == (1, 1)
