"""Parse -> match -> write: the matching step between a collector's batch and the store.

The runner, the Mastodon live stream and the receiver's queue call `match_batch` before they
open the write transaction, so the movements' rules run outside it and `storage.write` receives
mentions already carrying their content matches (`MentionRecord.matches`). A reply fetched with
the thread of a matched post inherits that post's movements; whether the post (the *anchor*)
is matched is a question for the store (`storage.threads.anchor_movements`, asked inside the
write transaction so a concurrent writer's match counts), and the rule is
`inherit_thread_matches` here. Pure: no I/O.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from domain.matching import THREAD, Match, MovementRule, match_post
from domain.records import Batch, MentionRecord, mention_id


def match_text(m: MentionRecord) -> str | None:
    """The text a mention's terms are matched in: a blog entry's title counts as its text."""
    if m.title and m.text:
        return f"{m.title}\n{m.text}"
    return m.text or m.title


def content_matches(rules: Sequence[MovementRule], m: MentionRecord) -> list[Match]:
    """The movements `m` matches by itself (its hashtags, links, text, forced movements)."""
    return match_post(
        rules, hashtags=m.hashtags, text=match_text(m), links=m.links, forced=m.movements
    )


def match_batch(rules: Sequence[MovementRule], batch: Batch) -> Batch:
    """Set every mention's `matches` (content matches; thread matches come at the write)."""
    for m in batch.mentions:
        m.matches = content_matches(rules, m)
    return batch


def thread_anchors(matched: list[tuple[MentionRecord, list[Match]]]) -> set[int]:
    """Mention ids of the posts whose threads brought these replies in."""
    return {mention_id(*m.thread_of) for m, _ in matched if m.thread_of is not None}


def anchors_in_batch(
    matched: list[tuple[MentionRecord, list[Match]]], anchors: set[int]
) -> dict[int, set[int]]:
    """Movement ids of the anchors written in this same batch, from their content matches."""
    in_batch: dict[int, set[int]] = defaultdict(set)
    for m, matches in matched:
        if m.id in anchors:
            in_batch[m.id].update(x.movement_id for x in matches)
    return in_batch


def inherit_thread_matches(
    matched: list[tuple[MentionRecord, list[Match]]],
    inherited: dict[int, set[int]],
    rules: Sequence[MovementRule],
) -> list[tuple[MentionRecord, list[Match]]]:
    """`matched` with each reply's thread matches added: every movement of its anchor
    (`inherited`, anchor id -> movement ids) that its own content does not already match.
    A movement dropped from the config (not in `rules`) gains nothing."""
    known = {r.id for r in rules}
    out: list[tuple[MentionRecord, list[Match]]] = []
    for m, matches in matched:
        if m.thread_of is not None:
            have = {x.movement_id for x in matches}
            extra = sorted((inherited.get(mention_id(*m.thread_of)) or set()) & known - have)
            if extra:
                matches = [*matches, *(Match(mv, THREAD) for mv in extra)]
        out.append((m, matches))
    return out
