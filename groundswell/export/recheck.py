"""`recheck`: revisit recent mentions on their platforms; deleted ones become tombstones and
newly opted-out authors get their flags stored, so every later view and export honours them.

Only a definite answer changes the store: a 404/410 or a post missing from getPosts is a
deletion; an unreachable instance or a 5xx is an error and changes nothing. A Mastodon status
is asked on a configured instance where it was seen, by its id there (`mention_seen`), whatever
its URI shape (Mastodon, Pleroma/Akkoma, GoToSocial, Misskey).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from domain.records import AccountRecord
from groundswell.export.lookup import Lookups
from storage.engine import write_tx
from storage.queries.export import recent_mentions, store_opt_out_flags
from storage.queries.sightings import sightings
from storage.write import tombstone

WEB_PLATFORMS = ("blog",)


def _flags(account: AccountRecord | None) -> dict[str, bool | None]:
    if account is None:
        return {}
    return {
        "indexable": account.indexable,
        "discoverable": account.discoverable,
        "noindex": account.noindex,
        "no_unauthenticated": account.no_unauthenticated,
    }


@dataclass(slots=True)
class RecheckReport:
    checked: int = 0
    tombstoned: int = 0
    opted_out: int = 0
    errors: int = 0
    unsupported: int = 0
    by_platform: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "tombstoned": self.tombstoned,
            "opted_out": self.opted_out,
            "errors": self.errors,
            "unsupported": self.unsupported,
            "by_platform": self.by_platform,
        }


def recheck(
    engine: Engine,
    lookups: Lookups,
    *,
    since: datetime,
    platforms: tuple[str, ...] = (),
    progress: Callable[[int], None] | None = None,
    now: datetime | None = None,
    page_size: int = 500,
) -> RecheckReport:
    report = RecheckReport()
    after: tuple[int, int] | None = None
    while True:
        # A short read per page: the lookups are slow, and no transaction stays open meanwhile.
        with engine.connect() as conn:
            chunk = recent_mentions(
                conn, since=since, platforms=platforms, after=after, limit=page_size
            )
        if not chunk:
            return report
        after = (chunk[-1].created_ts, chunk[-1].id)
        by_platform: dict[str, list[str]] = {}
        # Blog entries are often identified by a feed guid that is not a URL: ask for their
        # page URL instead, and map the answer back to the stored id.
        native_of: dict[tuple[str, str], str] = {}
        for row in chunk:
            ask = row.native_id
            if row.platform in WEB_PLATFORMS and row.url and row.url.startswith("http"):
                ask = row.url
            native_of[(row.platform, ask)] = row.native_id
            by_platform.setdefault(row.platform, []).append(ask)
        authors = {(row.platform, row.native_id): row.account_id for row in chunk}
        for platform, asked in by_platform.items():
            natives = asked
            seen = None
            if platform == "mastodon":
                # Asked where each status was seen, by its id there (any URI shape).
                with engine.connect() as conn:
                    seen = sightings(conn, platform, asked)
            found = lookups.lookup(platform, asked, seen=seen)
            for f in found:
                f.native_id = native_of.get((f.platform, f.native_id), f.native_id)
            deleted = [(f.platform, f.native_id) for f in found if f.state == "deleted"]
            # The flags seen on the post's author are stored on the stored author of that post
            # (its id), whatever spelling the platform uses for the account today.
            flags = [
                (authors[(f.platform, f.native_id)], _flags(f.account))
                for f in found
                if f.account is not None and authors.get((f.platform, f.native_id)) is not None
            ]
            for f in found:
                report.checked += 1
                report.by_platform[platform] = report.by_platform.get(platform, 0) + 1
                if f.state == "opted_out":
                    report.opted_out += 1
                elif f.state == "error":
                    report.errors += 1
                    if len(report.problems) < 10:
                        report.problems.append(f"{f.native_id}: {f.detail}")
                elif f.state == "unsupported":
                    report.unsupported += 1
                    if len(report.problems) < 10:
                        report.problems.append(f"{f.native_id}: {f.detail}")
            if deleted or flags:
                with write_tx(engine) as conn:
                    for account_id, account_flags in flags:
                        store_opt_out_flags(conn, account_id, account_flags)
                    if deleted:
                        report.tombstoned += tombstone(conn, deleted, now or datetime.now(UTC))
            if progress:
                progress(len(natives))
