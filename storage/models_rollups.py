"""Rollups the dashboard reads instead of distinct counts over every match in a range
(migration 0011; maintained by `storage.write.bump_dashboard_rollups` in the write transaction).

Measured on the 1M-mention benchmark store (docs/benchmarks/dashboard.md): a per-day rollup of
author activity or of amplification pairs barely compresses there (93k author-days for 119k
matches in 7 days; 53k edge pairs for 54k edges), so these tables keep *one row per thing that
is counted* with the min/max times the questions need, which makes the answers index reads:

- `movement_place`: each Mastodon instance / blog site of a movement, with `first_ts` = the
  earliest first mention of an author whose first mention of the movement was on `platform`
  (exactly what the federation footprint counts from `movement_author`); only written for
  authors whose `movement_author.platform` is mastodon or blog;
- `movement_author_platform`: each (author, platform of the mention) with the latest mention:
  "people" per platform in a range that ends after the movement's newest mention is the number
  of these rows with `last_ts >= start` (a distinct count over the matches otherwise);
- `movement_place_active`: each Mastodon instance (home instance of an author of a Mastodon
  mention) with its latest mention: instances reached in such a range, without joining every
  author to `account`.

Every column is a min or a max, so writes commute: replays, overlapping instances and
concurrent workers cannot count anything twice (they are also only bumped by new matches).
Tombstones and opt-outs change nothing here: deleted and opted-out mentions are counted in
every aggregate (docs/dashboard.md, "Ethics"); they are only withheld from lists.
A place is the account's `coalesce(instance, native_id)` when its first counted mention is
written; an account whose instance changes afterwards keeps its old place here.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String
from sqlmodel import Field, SQLModel


class MovementPlace(SQLModel, table=True):
    """First appearance of each instance / blog site in a movement (federation footprint)."""

    __tablename__ = "movement_place"
    movement_id: int = Field(sa_column=Column(Integer, primary_key=True))
    platform: str = Field(sa_column=Column(String(20), primary_key=True))
    place: str = Field(sa_column=Column(String(500), primary_key=True))
    first_ts: int = Field(sa_column=Column(BigInteger, nullable=False))


class MovementAuthorPlatform(SQLModel, table=True):
    """Latest mention of each author on each platform in each movement ("people")."""

    __tablename__ = "movement_author_platform"
    __table_args__ = (Index("ix_mauthor_platform_last", "movement_id", "platform", "last_ts"),)
    movement_id: int = Field(sa_column=Column(Integer, primary_key=True))
    platform: str = Field(sa_column=Column(String(20), primary_key=True))
    account_id: int = Field(sa_column=Column(BigInteger, primary_key=True))
    last_ts: int = Field(sa_column=Column(BigInteger, nullable=False))


class MovementPlaceActive(SQLModel, table=True):
    """Latest Mastodon mention from each home instance in each movement ("instances")."""

    __tablename__ = "movement_place_active"
    movement_id: int = Field(sa_column=Column(Integer, primary_key=True))
    platform: str = Field(sa_column=Column(String(20), primary_key=True))
    place: str = Field(sa_column=Column(String(500), primary_key=True))
    last_ts: int = Field(sa_column=Column(BigInteger, nullable=False))


class MovementEdge(SQLModel, table=True):
    """Each amplification edge whose target is a mention of the movement, with the amplified
    account resolved (the edge's `target_account_id`, else the target mention's author).

    What Amplifiers' rankings and network group (and Spread's cascades are grown from): a
    covering range scan per movement instead of a probe into `mention_match` (and `mention`)
    for every edge.
    Written when the edge or the target's match arrives, whichever is later; keyed on
    (movement, edge), so writing it twice is a no-op.
    """

    __tablename__ = "movement_edge"
    __table_args__ = (
        Index(
            "ix_medge_cover",
            "movement_id",
            "created_ts",
            "kind",
            "platform",
            "source_account_id",
            "dst_account_id",
            "target_mention_id",
            "via_mention_id",
        ),
        # (`ix_medge_kind`, migration 0024, served Spread's cascades until they were kept at
        # write time; migration 0027 drops it.)
        # One account's edges in a time range (migration 0023): the exact counts of the
        # amplifier rankings' candidates and the network among the chosen accounts.
        Index(
            "ix_medge_src",
            "movement_id",
            "source_account_id",
            "created_ts",
            "platform",
            "kind",
            "dst_account_id",
        ),
        Index(
            "ix_medge_dst",
            "movement_id",
            "dst_account_id",
            "created_ts",
            "platform",
            "kind",
            "source_account_id",
        ),
    )
    movement_id: int = Field(sa_column=Column(Integer, primary_key=True))
    edge_id: int = Field(sa_column=Column(BigInteger, primary_key=True))
    created_ts: int = Field(sa_column=Column(BigInteger, nullable=False))
    kind: str = Field(sa_column=Column(String(12), nullable=False))
    platform: str = Field(sa_column=Column(String(20), nullable=False))
    source_account_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    dst_account_id: int | None = Field(default=None, sa_column=Column(BigInteger))
    target_mention_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    via_mention_id: int | None = Field(default=None, sa_column=Column(BigInteger))


# Length of the periods of `movement_amplifier_period` (16 UTC days; migration 0023 spells the
# same number in SQL). A range of the dashboard spans one to three of them.
AMPLIFIER_PERIOD_S = 16 * 86400


class MovementAmplifierPeriod(SQLModel, table=True):
    """Edges received (`side` = "dst") and given ("src") by each account per 16-day period,
    self-amplification and edges without a known target account left out: the amplifier
    rankings' upper bounds, not their answers.

    Measured on the 1M benchmark store, a per-day count per account does not compress (30
    days on two platforms: 167k (source, day, platform) rows for 176k edges), so rankings are
    not summed from a rollup. Instead an account's count in any range is at most the sum of
    its counts in the periods the range touches, and `ix_mamp_period_top` lists each period's
    accounts largest first: `storage.queries.amplifiers` reads those lists only as deep as
    needed to rule every unread account out, and counts the few candidates exactly from
    `movement_edge`. Counted up from the `movement_edge` rows an INSERT actually added
    (`storage.write.link_movement_edges`), so replays add nothing.
    """

    __tablename__ = "movement_amplifier_period"
    __table_args__ = (
        Index("ix_mamp_period_top", "movement_id", "side", "period", "edges", "account_id"),
    )
    movement_id: int = Field(sa_column=Column(Integer, primary_key=True))
    side: str = Field(sa_column=Column(String(3), primary_key=True))
    period: int = Field(sa_column=Column(Integer, primary_key=True))
    account_id: int = Field(sa_column=Column(BigInteger, primary_key=True))
    edges: int = Field(sa_column=Column(BigInteger, nullable=False))


# Length of the buckets of `movement_amplifier_day` (one UTC day; migration 0057).
AMPLIFIER_DAY_S = 86400


class MovementAmplifierDay(SQLModel, table=True):
    """`movement_amplifier_period` per UTC day (migration 0057): the same counts, the same
    write path, the bounds of ranges that touch only a few days.

    A 16-day period's count bounds a range of two days loosely: an event window's accounts
    have their whole fortnight's edges as their bound, so the threshold algorithm must count
    most of the period's accounts before the n-th exact count rises above the unread ones'
    bound (27 candidate chunks for the sources of the 1M benchmark's two-day event, whose
    distribution is flat). The days a short range touches sum to a bound close to the count
    itself. Longer ranges keep the periods: many day lists would cost more to read than the
    looser bound costs to count (`storage.queries.amplifiers.DAY_LISTS_MAX`).
    """

    __tablename__ = "movement_amplifier_day"
    __table_args__ = (
        Index("ix_mamp_day_top", "movement_id", "side", "day", "edges", "account_id"),
    )
    movement_id: int = Field(sa_column=Column(Integer, primary_key=True))
    side: str = Field(sa_column=Column(String(3), primary_key=True))
    day: int = Field(sa_column=Column(Integer, primary_key=True))
    account_id: int = Field(sa_column=Column(BigInteger, primary_key=True))
    edges: int = Field(sa_column=Column(BigInteger, nullable=False))


class MovementAuthorDay(SQLModel, table=True):
    """Who was active on each UTC day, per platform of the mention (widening's active and
    returning authors). Presence rows: written once, never counted up."""

    __tablename__ = "movement_author_day"
    __table_args__ = (
        # A few accounts' days (the linked persons' in widening by person; migration 0050).
        Index("ix_mauthor_day_account", "movement_id", "account_id", "day", "platform"),
    )
    movement_id: int = Field(sa_column=Column(Integer, primary_key=True))
    day: int = Field(sa_column=Column(Integer, primary_key=True))
    account_id: int = Field(sa_column=Column(BigInteger, primary_key=True))
    platform: str = Field(sa_column=Column(String(20), primary_key=True))


class MovementLinkedDay(SQLModel, table=True):
    """The `movement_author_day` rows of the accounts of persons with more than one account,
    with their person (migration 0058; kept by `storage.linked_days`; issue 20).

    A person count is the account count minus the overcount of the persons active through two
    or more (account, platform) keys (storage/queries/persons.py). Those persons' keys in whole
    UTC days are one range scan here, whatever the number of linked accounts; reading them per
    account (one probe each into their days or their mentions) cost ~5 us per linked account,
    a second per page at 10M mentions with 30,000 linked accounts. The write path adds the
    rows of linked authors with their day; re-linking rewrites the rows of the accounts whose
    group changed, under their row locks (`storage.people_links.regroup`). Presence rows:
    written once, never counted up."""

    __tablename__ = "movement_linked_day"
    __table_args__ = (Index("ix_mlinked_day_account", "account_id"),)
    movement_id: int = Field(sa_column=Column(Integer, primary_key=True))
    day: int = Field(sa_column=Column(Integer, primary_key=True))
    person_id: int = Field(sa_column=Column(BigInteger, primary_key=True))
    account_id: int = Field(sa_column=Column(BigInteger, primary_key=True))
    platform: str = Field(sa_column=Column(String(20), primary_key=True))


class MovementLinkedAuthor(SQLModel, table=True):
    """The `movement_author` rows of the accounts of persons with more than one account, with
    their person (migration 0059; kept by `storage.linked_days` with `movement_linked_day`).

    Every page's person counts start from these rows (`storage.queries.persons.linked_view`:
    who was heard first, who is active since a range's start): one range scan of the
    movement's rows instead of one primary-key probe of `movement_author` per linked account
    (~190 ms per page at 10M mentions with 30,000 linked accounts). The write path copies a
    linked author's `movement_author` row after bumping it (that upsert holds the row's lock
    to commit, so concurrent writers copy in turn); re-linking rewrites the rows of the
    accounts whose group changed."""

    __tablename__ = "movement_linked_author"
    __table_args__ = (Index("ix_mlinked_author_account", "account_id"),)
    movement_id: int = Field(sa_column=Column(Integer, primary_key=True))
    account_id: int = Field(sa_column=Column(BigInteger, primary_key=True))
    person_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    platform: str = Field(sa_column=Column(String(20), nullable=False))
    first_ts: int = Field(sa_column=Column(BigInteger, nullable=False))
    last_ts: int = Field(sa_column=Column(BigInteger, nullable=False))


class MovementLinkedHour(SQLModel, table=True):
    """`movement_linked_day` per UTC hour (migration 0060; kept with it by
    `storage.linked_days`): the linked accounts active in the part-days at a range's ends.

    A range's whole days read the day rows; its part-days read these hours, and only the
    minutes before its first whole hour and after its last read mentions, of the few linked
    accounts active in those hours. Without them an event window of two part-days read every
    mention of every linked account active on those days (17,000 accounts, ~0.5 s per
    statement at 10M mentions on the benchmark's busiest days), as
    `movement_instance_hour` does for the instances."""

    __tablename__ = "movement_linked_hour"
    __table_args__ = (Index("ix_mlinked_hour_account", "account_id"),)
    movement_id: int = Field(sa_column=Column(Integer, primary_key=True))
    hour: int = Field(sa_column=Column(Integer, primary_key=True))
    person_id: int = Field(sa_column=Column(BigInteger, primary_key=True))
    account_id: int = Field(sa_column=Column(BigInteger, primary_key=True))
    platform: str = Field(sa_column=Column(String(20), primary_key=True))


class MovementPlatformDay(SQLModel, table=True):
    """Platforms with a mention by a known author on each UTC day (widening's platforms)."""

    __tablename__ = "movement_platform_day"
    movement_id: int = Field(sa_column=Column(Integer, primary_key=True))
    day: int = Field(sa_column=Column(Integer, primary_key=True))
    platform: str = Field(sa_column=Column(String(20), primary_key=True))


class MovementInstanceDay(SQLModel, table=True):
    """Home instances of the authors of Mastodon mentions on each UTC day (widening)."""

    __tablename__ = "movement_instance_day"
    movement_id: int = Field(sa_column=Column(Integer, primary_key=True))
    day: int = Field(sa_column=Column(Integer, primary_key=True))
    place: str = Field(sa_column=Column(String(500), primary_key=True))


class MovementInstanceHour(SQLModel, table=True):
    """Home instances of the authors of Mastodon mentions in each UTC hour (migration 0026):
    the instances reached in the part-days at a range's ends, which otherwise meant looking up
    every author of up to a day of mentions (tens of thousands at 10M)."""

    __tablename__ = "movement_instance_hour"
    movement_id: int = Field(sa_column=Column(Integer, primary_key=True))
    hour: int = Field(sa_column=Column(Integer, primary_key=True))
    place: str = Field(sa_column=Column(String(500), primary_key=True))


class MovementPeopleCell(SQLModel, table=True):
    """How many matches (with a known author) fall on each UTC `day` with their previous match
    (`mention_match.prev_ts`, storage/match_chain.py) on UTC day `prev_day` (-1: none, the
    author's first match of the movement on the platform), per platform of the match
    (migration 0028; kept by `storage.people_cells`).

    A match whose previous one lies before a range's start is its author's first match in the
    range, so the people of whole days `[D1, D2)` are the sum of the cells with `day` in it and
    `prev_day < D1`, and the people of day `d` the cells of `d` with `prev_day < d`: a few
    thousand rows for any range instead of a count over every match in it. Counted up and
    down (`n = n + delta`) as matches are inserted and relinked, so the same n whatever order
    and however many workers wrote them.
    """

    __tablename__ = "movement_people_cell"
    movement_id: int = Field(sa_column=Column(Integer, primary_key=True))
    platform: str = Field(sa_column=Column(String(20), primary_key=True))
    day: int = Field(sa_column=Column(Integer, primary_key=True))
    prev_day: int = Field(sa_column=Column(Integer, primary_key=True))
    n: int = Field(sa_column=Column(BigInteger, nullable=False))


class MovementPeopleHour(SQLModel, table=True):
    """The people cells per UTC `hour` (migration 0061; kept by `storage.people_cells`): how
    many matches with a known author fall in each hour with their previous match in UTC hour
    `prev_hour`, when that hour is at most `HOUR_REACH` (48) hours earlier; -1 when there is
    none or it is older.

    For the hours of a range's part-days: the matches of hours `[H1, H2)` whose previous match
    lies before the range's start hour `S` are the cells with `prev_hour < S`, as long as
    `H2 - 1 <= S + 48` (so -1's "older" lies before `S` too). A two-day event window with no
    whole UTC day in it, or the minutes at a range's start, no longer count every match of a
    busy day: a few thousand cells, and only the minutes before the first whole hour and after
    the last are read from the matches. Keyed by hour first: ranges read hours, not platforms.
    """

    __tablename__ = "movement_people_hour"
    movement_id: int = Field(sa_column=Column(Integer, primary_key=True))
    hour: int = Field(sa_column=Column(Integer, primary_key=True))
    platform: str = Field(sa_column=Column(String(20), primary_key=True))
    prev_hour: int = Field(sa_column=Column(Integer, primary_key=True))
    n: int = Field(sa_column=Column(BigInteger, nullable=False))


class MovementCrossDay(SQLModel, table=True):
    """Authors with a match on a UTC day on a platform other than their account's (a blog
    sending pingbacks; migration 0028). Only they can be active on two platforms in a day, so
    widening's distinct authors per day are the people cells of the day minus the extra
    platforms of these few authors. Presence rows: written once, never counted up."""

    __tablename__ = "movement_cross_day"
    movement_id: int = Field(sa_column=Column(Integer, primary_key=True))
    day: int = Field(sa_column=Column(Integer, primary_key=True))
    account_id: int = Field(sa_column=Column(BigInteger, primary_key=True))
