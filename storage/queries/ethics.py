"""The opt-out rules of DESIGN.md section 6 as SQL, in one place.

Wall, top-post lists and exports must never show text, handle or media of:
- an opted-out account: Mastodon `noindex: true`, Mastodon `discoverable: false` (a setting,
  default on), Bluesky `!no-unauthenticated` self-label; unknown (NULL) is not an opt-out;
- a mention matched *only* by a free-text term, or only by being in a matched post's thread
  (`domain.matching.CONSENT_GATED_VIAS`), whose author's `indexable` is not true (the
  full-text search the person did not consent to; a reply that does not repeat the hashtag
  did not publish into the movement either);
- a deleted mention (tombstone).
Such mentions are still counted in aggregates.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, false, literal, not_, or_, select, true

from domain.matching import CONSENT_GATED_VIAS
from storage.models import Account, Mention, MentionMatch


def account_opted_out(account: Any = None, *, discoverable_false_is_opt_out: bool = True) -> Any:
    """SQL truth value: this account opted out (NULL flags count as not opted out)."""
    a = account if account is not None else Account.__table__
    clauses = [a.c.noindex.is_(True), a.c.no_unauthenticated.is_(True)]
    if discoverable_false_is_opt_out:
        clauses.append(and_(a.c.platform == "mastodon", a.c.discoverable.is_(False)))
    return or_(*clauses)


def person_opted_out(account: Any = None, *, discoverable_false_is_opt_out: bool = True) -> Any:
    """SQL truth value: this account, or another account of the same person, opted out
    (DESIGN.md section 2: an opt-out on any of a person's accounts covers the person).

    The other accounts are one probe of the `person_id` index per row: an unlinked account
    finds only itself there."""
    a = account if account is not None else Account.__table__
    other = Account.__table__.alias("person_other")
    own = account_opted_out(a, discoverable_false_is_opt_out=discoverable_false_is_opt_out)
    theirs = (
        select(literal(1))
        .where(
            other.c.person_id == a.c.person_id,
            other.c.id != a.c.id,
            account_opted_out(other, discoverable_false_is_opt_out=discoverable_false_is_opt_out),
        )
        .limit(1)
        .scalar_subquery()
        .is_not(None)
    )
    return or_(own, theirs)


def mention_displayable(
    mention: Any = None,
    account: Any = None,
    *,
    movement_id: int | None = None,
    discoverable_false_is_opt_out: bool = True,
) -> Any:
    """SQL truth value: this mention's content may be shown or exported.

    `mention` and `account` are the (possibly aliased) tables in the caller's query; the
    account must be outer-joined on `mention.account_id`.
    """
    m = mention if mention is not None else Mention.__table__
    a = account if account is not None else Account.__table__
    mm = MentionMatch.__table__
    # Matched by something other than a term or a thread (hashtag, URL, source) for this
    # movement / any.
    # Spelled as a LIMIT 1 scalar probe, not EXISTS: inside this OR, PostgreSQL turns an EXISTS
    # into a hashed subplan over *every* match row, rebuilt for each query, so each 5,000-row
    # export page cost a full scan of mention_match (measured: 90 ms at 200k matches, growing
    # with the store). The probe uses ix_match_mention per row on both dialects.
    consented_match = (
        select(literal(1))
        .where(
            mm.c.mention_id == m.c.id,
            mm.c.via.not_in(CONSENT_GATED_VIAS),
            *([mm.c.movement_id == movement_id] if movement_id is not None else []),
        )
        .limit(1)
        .scalar_subquery()
        .is_not(None)
    )
    indexable = a.c.indexable.is_(True)
    not_mastodon = or_(a.c.platform.is_(None), a.c.platform != "mastodon")
    return and_(
        m.c.deleted_at.is_(None),
        not_(
            func_coalesce(
                person_opted_out(a, discoverable_false_is_opt_out=discoverable_false_is_opt_out)
            )
        ),
        # Cheap column tests first: an OR is evaluated in the order written.
        or_(indexable, not_mastodon, consented_match),
    )


def func_coalesce(expr: Any) -> Any:
    """NULL-safe truth: a NULL opt-out (unknown account) is not an opt-out."""
    from sqlalchemy import func

    return func.coalesce(expr, false())


__all__ = ["account_opted_out", "mention_displayable", "person_opted_out", "true"]
