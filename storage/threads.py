"""Thread replies: the movements a reply inherits from the matched post whose thread it is in.

A reply that does not repeat the hashtag is still part of the conversation (issue 15): the
collectors fetch the threads of matched posts whose reply counts grew and hand each reply to
the write path with `MentionRecord.thread_of` naming that post (the *anchor*). The reply then
belongs to every movement the anchor belongs to, matched `"thread"` wherever its own content
(hashtag, URL, term, source) does not already match that movement. The anchor's movements are
read from this batch's own matches and from the store, inside the caller's transaction, so a
thread written in the same batch as its anchor, or long after it, inherits the same.

A reply whose anchor belongs to no movement (not stored, or matched nothing) gains nothing and
is not stored, like any unmatched post. How such replies are shown is the ethics rule for
consent-gated matches (`storage.queries.ethics.mention_displayable`), not a rule of its own.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import Connection, select

from domain.batch_matching import anchors_in_batch, inherit_thread_matches, thread_anchors
from domain.matching import Match, MovementRule
from domain.records import MentionRecord
from storage.id_lists import among
from storage.models import MentionMatch


def anchor_movements(
    conn: Connection, anchors: set[int], in_batch: dict[int, set[int]]
) -> dict[int, set[int]]:
    """Movement ids of each anchor mention: its matches in this batch plus those stored."""
    out: dict[int, set[int]] = defaultdict(set)
    for aid in anchors:
        out[aid].update(in_batch.get(aid, ()))
    if anchors:
        mm = MentionMatch.__table__  # type: ignore[attr-defined]
        stmt = select(mm.c.mention_id, mm.c.movement_id).where(
            among(conn, mm.c.mention_id, anchors)
        )
        for mid, movement_id in conn.execute(stmt):
            out[mid].add(movement_id)
    return out


def add_thread_matches(
    conn: Connection,
    rules: Sequence[MovementRule],
    matched: list[tuple[MentionRecord, list[Match]]],
) -> list[tuple[MentionRecord, list[Match]]]:
    """`matched` (each mention with its content matches) with the thread matches added: the
    anchors' movements are read here (this batch and the store), the rule is the domain's."""
    anchors = thread_anchors(matched)
    if not anchors:
        return matched
    inherited = anchor_movements(conn, anchors, anchors_in_batch(matched, anchors))
    return inherit_thread_matches(matched, inherited, rules)
