"""Small builders for records and movements, so tests say only what matters to them."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from domain.matching import MovementRule
from domain.records import AccountRecord, Batch, MentionRecord
from domain.settings.config import MovementSettings
from storage.catalog import load_rules, upsert_movement
from storage.engine import write_tx
from storage.write import write_batch

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def movement(engine: Engine, slug: str = "nhscitizen", **kw: Any) -> list[MovementRule]:
    kw.setdefault("name", "NHS Citizen")
    kw.setdefault("hashtags", ["NHSCitizen"])
    kw.setdefault("terms", ["NHS Citizen"])
    kw.setdefault("urls", ["https://www.nhscitizen.org.uk/pledge"])
    with write_tx(engine) as conn:
        upsert_movement(conn, MovementSettings(slug=slug, **kw))
    with engine.connect() as conn:
        return load_rules(conn)


def account(n: int = 1, platform: str = "mastodon", **kw: Any) -> AccountRecord:
    native = f"user{n}@example.social" if platform == "mastodon" else f"did:plc:user{n}"
    kw.setdefault("handle", native)
    kw.setdefault("display_name", f"User {n}")
    return AccountRecord(platform=platform, native_id=native, **kw)


def mention(
    n: int = 1,
    *,
    platform: str = "mastodon",
    author: AccountRecord | None = None,
    created_at: datetime | None = None,
    text: str = "Pledged today #NHSCitizen",
    **kw: Any,
) -> MentionRecord:
    native = (
        f"https://example.social/users/u/statuses/{n}"
        if platform == "mastodon"
        else f"at://did:plc:user/app.bsky.feed.post/{n}"
    )
    return MentionRecord(
        platform=platform,
        native_id=native,
        created_at=created_at or T0,
        author=author or account(n % 7, platform=platform),
        text=text,
        raw={"id": str(n), "content": text},
        **kw,
    )


def batch(*mentions: MentionRecord, **kw: Any) -> Batch:
    return Batch(mentions=list(mentions), **kw)


def write_concurrently(
    engine: Engine, rules: list[MovementRule], workers: Sequence[Sequence[Batch]]
) -> None:
    """Each worker's batches written by its own thread, one transaction per batch, the threads
    started together (what two collector workers do at once); a worker's error is raised."""
    errors: list[BaseException] = []
    start = threading.Barrier(len(workers))

    def work(mine: Sequence[Batch]) -> None:
        try:
            start.wait()
            for b in mine:
                with write_tx(engine) as conn:
                    write_batch(conn, b, rules)
        except BaseException as exc:  # raised below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
