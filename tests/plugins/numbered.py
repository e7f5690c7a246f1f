"""A test platform: numbered posts served in pages by a local HTTP server.

Loaded into a real `groundswell collect` process with
`GROUNDSWELL_PLUGINS=numbered=tests.plugins.numbered` (tests/test_collect_crash.py). It is a
test double of an external platform, not of our code: the runner, the write path and the
store it feeds are the real ones.

Environment: GS_TEST_FEED_URL (the server's /posts URL), GS_TEST_PROGRESS (a file to which
the collector appends "yielded <cursor>" just before handing each page to the runner, so the
test can tell a kill inside a batch's transaction from a kill between batches).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx

from collectors.base import CollectorContext, SourceState, TransientError
from domain.records import AccountRecord, Batch, MentionRecord, SourceSpec

PLATFORM = "numbered"


def source_specs(settings: Any) -> list[SourceSpec]:
    url = os.environ.get("GS_TEST_FEED_URL")
    if not url:
        return []
    return [SourceSpec(f"numbered:{url}", PLATFORM, "posts", {"url": url}, 1)]


def build(context: CollectorContext) -> NumberedCollector:
    return NumberedCollector()


def to_record(item: dict[str, Any]) -> MentionRecord:
    n = int(item["n"])
    author = AccountRecord("mastodon", f"user{n % 97}@crash.test", handle=f"user{n % 97}")
    return MentionRecord(
        platform="mastodon",
        native_id=f"https://crash.test/users/u/statuses/{n}",
        created_at=datetime.fromtimestamp(int(item["ts"]), UTC),
        author=author,
        text=item["text"],
        raw=item,
    )


class NumberedCollector:
    platform = PLATFORM

    def poll(self, source: SourceState) -> Iterator[Batch]:
        after = int((source.cursor or {}).get("after", 0))
        progress = os.environ.get("GS_TEST_PROGRESS")
        with httpx.Client(timeout=10) as client:
            while True:
                try:
                    reply = client.get(source.target["url"], params={"after": after})
                except httpx.TransportError as exc:
                    raise TransientError(f"{source.target['url']}: {exc}") from exc
                items = reply.json()["items"]
                if not items:
                    return
                after = int(items[-1]["n"])
                batch = Batch(mentions=[to_record(i) for i in items], cursor={"after": after})
                batch.fetched = len(items)
                if progress:
                    with open(progress, "a", encoding="utf-8") as f:
                        f.write(f"yielded {after}\n")
                yield batch
