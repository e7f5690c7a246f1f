"""Indexes the dashboard's queries need (migration 0007).

Both are covering indexes, so the windowed aggregates read only the index, never the wide rows
(DESIGN.md section 7 measured covering indexes and rollups as what makes 1M-10M rows fast):

- `ix_match_cover` on mention_match (movement_id, created_ts, platform, account_id, prev_ts):
  headline counts, people (prev_ts since migration 0020), platforms, first appearance,
  widening;
- `ix_amp_cover` on amplification (created_ts, kind, target_mention_id, source_account_id,
  target_account_id, platform, via_mention_id, undone_at since migration 0042): rankings, the
  network, cascades and the wall's amplifiers scan a time range of live edges without touching
  the table;
- `ix_mention_engagement` on mention (created_ts, counters, platform, id): the top-posts
  candidates of a range come from the index alone;
- `ix_mention_top` on mention (likes + reposts + replies + quotes DESC, created_ts DESC, id,
  platform) (migration 0025): the top posts of a wide range in engagement order, stopping at
  the first candidates in the range, instead of reading and sorting every mention of the range
  (30 days of the 10M benchmark is ~4M index entries);
- `ix_match_prev` on mention_match (movement_id, prev_ts, created_ts, platform) (migration
  0028): the matches of a range whose previous match falls in the part of a day before the
  range's start (people of a range starting mid-day, with the people cells);
- `ix_mauthor_cover` on movement_author (movement_id, first_ts, platform): new voices and
  cumulative authors with a platform filter;
- `ix_account_instance` on account (instance): "is this instance new?" looks up its accounts;
- `ix_account_linked` on account (person_id, id) where person_id <> id (migration 0044): the
  accounts of persons with more than one account, which people counts correct for
  (`storage/queries/persons.py`); it holds only linked accounts, so it costs unlinked writes
  nothing.
"""

from __future__ import annotations

from sqlalchemy import Index, text

from storage.models import Account, Amplification, Mention, MentionMatch, MovementAuthor

_mm = MentionMatch.__table__.c  # type: ignore[attr-defined]
_m = Mention.__table__.c  # type: ignore[attr-defined]
_ma = MovementAuthor.__table__.c  # type: ignore[attr-defined]
_a = Account.__table__.c  # type: ignore[attr-defined]
_amp = Amplification.__table__.c  # type: ignore[attr-defined]

Index(
    "ix_match_cover",
    _mm.movement_id,
    _mm.created_ts,
    _mm.platform,
    _mm.account_id,
    _mm.prev_ts,
)
Index(
    "ix_amp_cover",
    _amp.created_ts,
    _amp.kind,
    _amp.target_mention_id,
    _amp.source_account_id,
    _amp.target_account_id,
    _amp.platform,
    _amp.via_mention_id,
    _amp.undone_at,
)
Index(
    "ix_mention_engagement",
    _m.created_ts,
    _m.like_count,
    _m.repost_count,
    _m.reply_count,
    _m.quote_count,
    _m.platform,
    _m.id,
)
Index(
    "ix_mention_top",
    # Spelt as text so Alembic's comparison matches what PostgreSQL reflects; it must read
    # like `storage.queries.overview.engagement()` for the planners to use it.
    text("(like_count + repost_count + reply_count + quote_count) DESC"),
    _m.created_ts.desc(),
    _m.id,
    _m.platform,
)
# The matches whose previous match (prev_ts) lies in a stretch of time: the correction for a
# range starting inside a UTC day, where the people cells (day of the previous match) cannot
# tell before from after the start (storage/queries/people.py; migration 0028).
Index("ix_match_prev", _mm.movement_id, _mm.prev_ts, _mm.created_ts, _mm.platform)
Index("ix_mauthor_cover", _ma.movement_id, _ma.first_ts, _ma.platform)
Index("ix_account_instance", _a.instance)
# Only the linked accounts (a person's accounts after its first): people counts read them on
# every page (storage/queries/persons.py, migration 0044).
Index(
    "ix_account_linked",
    _a.person_id,
    _a.id,
    sqlite_where=_a.person_id != _a.id,
    postgresql_where=_a.person_id != _a.id,
)
