"""The opt-out rules of DESIGN.md section 6 as SQL, in one place.

Wall, top-post lists and exports must never show text, handle or media of:
- an opted-out account: Mastodon `noindex: true`, Mastodon `discoverable: false` (a setting,
  default on), Bluesky `!no-unauthenticated` self-label; unknown (NULL) is not an opt-out;
  an opt-out on any account of a person covers all of the person's accounts (DESIGN.md
  section 2, "Person"; `account.person_id`, storage/people_links.py);
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


def own_opt_out(account: Any = None, *, discoverable_false_is_opt_out: bool = True) -> Any:
    """SQL truth value: this account's own flags opt it out (NULL flags are not an opt-out)."""
    a = account if account is not None else Account.__table__
    clauses = [a.c.noindex.is_(True), a.c.no_unauthenticated.is_(True)]
    if discoverable_false_is_opt_out:
        clauses.append(and_(a.c.platform == "mastodon", a.c.discoverable.is_(False)))
    return or_(*clauses)


def account_opted_out(account: Any = None, *, discoverable_false_is_opt_out: bool = True) -> Any:
    """SQL truth value: this account opted out, itself or through another account of the same
    person (the person's opt-out; every page, the wall and the exports use this one rule).

    The person's other accounts are probed with a LIMIT 1 scalar on `ix_account_person` (one
    index entry for an account nothing links), not an EXISTS inside the caller's OR (see
    `mention_displayable` on why PostgreSQL plans those badly)."""
    a = account if account is not None else Account.__table__
    other = Account.__table__.alias("person_other")
    sibling_opted = (
        select(literal(1))
        .where(
            other.c.person_id == a.c.person_id,
            other.c.id != a.c.id,
            own_opt_out(other, discoverable_false_is_opt_out=discoverable_false_is_opt_out),
        )
        .limit(1)
        .scalar_subquery()
        .is_not(None)
    )
    own = own_opt_out(a, discoverable_false_is_opt_out=discoverable_false_is_opt_out)
    return or_(own, sibling_opted)


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


def person_opted_out(account: Any = None, *, discoverable_false_is_opt_out: bool = True) -> Any:
    """The person's opt-out, by the name the dashboard's people queries use: the same rule as
    `account_opted_out` (which covers the person since issue 20)."""
    return account_opted_out(account, discoverable_false_is_opt_out=discoverable_false_is_opt_out)


__all__ = ["account_opted_out", "mention_displayable", "own_opt_out", "person_opted_out", "true"]
