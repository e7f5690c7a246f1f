"""Replies fetched with a matched post's thread: matched "thread", counted, shown only with
consent (issue 15, Mastodon 5 / Bluesky 3; DESIGN.md sections 2 and 6). SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from storage.engine import write_tx
from storage.models import Mention, MentionMatch, RollupHourly
from storage.queries.ethics import mention_displayable
from storage.queries.export import ExportFilters, iter_mentions, resolve
from storage.write import write_batch
from tests.factories import T0, account, batch, mention, movement

REPLY_TEXT = "Agreed, see you on Saturday"  # no hashtag, no term, no link


def _reply(n: int, anchor, *, author=None, text: str = REPLY_TEXT, platform: str = "mastodon"):
    return mention(
        n,
        platform=platform,
        author=author,
        text=text,
        created_at=T0 + timedelta(minutes=n),
        thread_of=(anchor.platform, anchor.native_id),
        reply_to=(anchor.platform, anchor.native_id),
    )


def _write(store, rules, *mentions):
    with write_tx(store) as conn:
        return write_batch(conn, batch(*mentions), rules)


def _vias(store, native_id: str) -> dict[int, str]:
    mm, m = MentionMatch.__table__, Mention.__table__
    q = (
        select(mm.c.movement_id, mm.c.via)
        .select_from(mm.join(m, m.c.id == mm.c.mention_id))
        .where(m.c.native_id == native_id)
    )
    with store.connect() as conn:
        return {r.movement_id: r.via for r in conn.execute(q)}


def _shown(store, native_id: str) -> bool:
    from storage.models import Account

    m, a = Mention.__table__, Account.__table__
    q = (
        select(func.count())
        .select_from(m.outerjoin(a, a.c.id == m.c.account_id))
        .where(m.c.native_id == native_id, mention_displayable(m, a))
    )
    with store.connect() as conn:
        return bool(conn.execute(q).scalar())


def test_a_reply_without_the_hashtag_in_a_stored_posts_thread_is_matched_in_thread(store):
    rules = movement(store)
    anchor = mention(1)
    _write(store, rules, anchor)
    reply = _reply(2, anchor)
    result = _write(store, rules, reply)
    assert result.unmatched == 0 and result.new == 1
    assert _vias(store, reply.native_id) == {rules[0].id: "thread"}


def test_a_reply_written_in_the_same_batch_as_its_anchor_inherits_its_movements(store):
    rules = movement(store) + movement(store, "pledge", hashtags=["Pledge"], terms=[], urls=[])
    anchor = mention(1, text="Going #NHSCitizen #Pledge")
    reply = _reply(2, anchor)
    _write(store, rules, reply, anchor)  # order within the batch does not matter
    assert _vias(store, reply.native_id) == {r.id: "thread" for r in rules}


def test_a_reply_keeps_its_own_match_and_is_thread_only_for_the_other_movements(store):
    rules = movement(store) + movement(store, "pledge", hashtags=["Pledge"], terms=[], urls=[])
    anchor = mention(1, text="Going #NHSCitizen #Pledge")
    reply = _reply(2, anchor, text="Me too #NHSCitizen")
    _write(store, rules, anchor, reply)
    by_slug = {r.slug: r.id for r in rules}
    assert _vias(store, reply.native_id) == {
        by_slug["nhscitizen"]: "hashtag",
        by_slug["pledge"]: "thread",
    }


def test_a_reply_in_the_thread_of_an_unmatched_or_unknown_post_is_not_stored(store):
    rules = movement(store)
    unmatched = mention(1, text="Nothing to do with it")
    never_stored = mention(9)
    result = _write(store, rules, unmatched, _reply(2, unmatched), _reply(3, never_stored))
    assert result.new == 0 and result.unmatched == 3


def test_thread_replies_are_counted_in_the_rollups(store):
    rules = movement(store)
    anchor = mention(1)
    _write(store, rules, anchor)
    _write(store, rules, _reply(2, anchor), _reply(3, anchor))
    rh = RollupHourly.__table__
    with store.connect() as conn:
        total = conn.execute(select(func.sum(rh.c.mentions))).scalar()
    assert total == 3


def test_a_thread_only_reply_is_shown_only_when_its_author_consents(store):
    rules = movement(store)
    anchor = mention(1)
    unindexable = _reply(2, anchor, author=account(2, indexable=False))
    unknown = _reply(3, anchor, author=account(3, indexable=None))
    indexable = _reply(4, anchor, author=account(4, indexable=True))
    bsky_anchor = mention(10, platform="bluesky")
    bsky = _reply(11, bsky_anchor, platform="bluesky", author=account(11, platform="bluesky"))
    bsky_opted_out = _reply(
        12,
        bsky_anchor,
        platform="bluesky",
        author=account(12, platform="bluesky", no_unauthenticated=True),
    )
    _write(store, rules, anchor, bsky_anchor)
    _write(store, rules, unindexable, unknown, indexable, bsky, bsky_opted_out)
    assert not _shown(store, unindexable.native_id)
    assert not _shown(store, unknown.native_id)
    assert _shown(store, indexable.native_id)
    assert _shown(store, bsky.native_id)
    assert not _shown(store, bsky_opted_out.native_id)


def test_a_thread_only_reply_of_an_unindexable_author_is_withheld_from_exports(store):
    rules = movement(store)
    anchor = mention(1, author=account(1, indexable=True))
    hidden = _reply(2, anchor, author=account(2, indexable=False))
    own_tag = _reply(3, anchor, author=account(3, indexable=False), text="Yes #NHSCitizen")
    _write(store, rules, anchor, hidden, own_tag)
    with store.connect() as conn:
        r = resolve(conn, ExportFilters(movement="nhscitizen"))
        exported = {row.native_id for rows in iter_mentions(conn, r) for row in rows}
    assert exported == {anchor.native_id, own_tag.native_id}


def test_exports_say_how_each_post_matched_so_thread_replies_can_be_filtered(store, tmp_path):
    import pandas as pd

    from groundswell.export import ExportOptions, export_dataset

    rules = movement(store)
    anchor = mention(1, author=account(1, indexable=True))
    in_thread = _reply(2, anchor, author=account(2, indexable=True))
    by_term = mention(3, author=account(3, indexable=True), text="At the NHS Citizen day")
    _write(store, rules, anchor, in_thread, by_term)
    export_dataset(store, tmp_path / "out", options=ExportOptions(formats=("csv",)))
    frame = pd.read_csv(tmp_path / "out" / "mentions.csv", dtype=str)
    assert dict(zip(frame["native_id"], frame["matched_by"], strict=True)) == {
        anchor.native_id: "hashtag",
        in_thread.native_id: "thread",
        by_term.native_id: "term",
    }
    card = (tmp_path / "out" / "README.md").read_text()
    assert "matched_by" in card and "in thread" in card


def test_the_wall_and_top_posts_show_a_thread_only_reply_only_with_consent(store):
    from storage.queries.overview import top_posts
    from storage.queries.scope import Scope
    from storage.queries.wall import recent_posts

    rules = movement(store)
    anchor = mention(1, author=account(1, indexable=True))
    hidden = _reply(2, anchor, author=account(2, indexable=False), text="Quietly agreeing")
    shown = _reply(3, anchor, author=account(3, indexable=True), text="Loudly agreeing")
    hidden.like_count = 50  # the most engaged post of all: still never on top
    _write(store, rules, anchor, hidden, shown)
    mv = rules[0].id
    start = int(T0.timestamp())
    with store.connect() as conn:
        wall = {p.id for p in recent_posts(conn, movement_id=mv)}
        top = top_posts(conn, Scope(movement_id=mv, start_ts=start, end_ts=start + 3600))
    assert wall == {anchor.id, shown.id}
    assert {t["text"] for t in top} == {anchor.text, shown.text}


def _hourly(store) -> int:
    with store.connect() as conn:
        return int(conn.execute(select(func.sum(RollupHourly.__table__.c.mentions))).scalar())


def test_a_thread_reply_edited_to_carry_the_hashtag_is_then_matched_by_it(store):
    """An edit that publishes the post into the movement upgrades how it matched (and so its
    consent gate), counted once however often the edit is seen again."""
    rules = movement(store)
    anchor = mention(1)
    _write(store, rules, anchor)
    shy = account(2, indexable=False)  # a thread-only or term-only post of theirs is withheld
    _write(store, rules, _reply(2, anchor, author=shy))
    assert _vias(store, _reply(2, anchor).native_id) == {rules[0].id: "thread"}
    assert _hourly(store) == 2
    edited = _reply(2, anchor, author=shy, text="Agreed #NHSCitizen")
    edited.edited_at = T0 + timedelta(hours=1)
    for _ in range(2):  # the edit, then the same edit from another instance or a refresh
        result = _write(store, rules, edited)
        assert result.new == 0 and result.new_matches == 0
    assert _vias(store, edited.native_id) == {rules[0].id: "hashtag"}
    assert _shown(store, edited.native_id)  # a hashtag is an act of publishing
    assert _hourly(store) == 2  # counted once


def test_a_term_match_is_upgraded_by_an_edit_and_never_downgraded_by_an_older_copy(store):
    rules = movement(store)
    term_only = mention(1, text="Off to the NHS Citizen assembly")
    _write(store, rules, term_only)
    assert _vias(store, term_only.native_id) == {rules[0].id: "term"}
    linked = mention(1, text="Off to https://www.nhscitizen.org.uk/pledge")
    _write(store, rules, linked)
    assert _vias(store, term_only.native_id) == {rules[0].id: "url"}
    tagged = mention(1, text="Off to the #NHSCitizen assembly")
    _write(store, rules, tagged)
    assert _vias(store, term_only.native_id) == {rules[0].id: "hashtag"}
    # A remote instance's stale copy (before the edits) never weakens the stored match.
    _write(store, rules, term_only)
    _write(store, rules, linked)
    assert _vias(store, term_only.native_id) == {rules[0].id: "hashtag"}
