"""`DemoCollector`: the demo as a source, polled by the same runner as Bluesky or Mastodon.

The source's `target` holds what regenerates the conversation (seed, size, anchor time, speed);
its `cursor` is the replay position: `{"page": n}` for the history (n pages written), plus
`{"live": "<ISO time>"}` for the start of the next live window once the history is done. Each
batch carries the cursor that covers it, so the runner commits rows and position together: a
replay killed at any moment resumes where its last committed page ended, and replaying a page
twice changes nothing (the write path is idempotent).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from collectors.base import FatalSourceError, SourceState
from domain.records import Batch
from groundswell.demo.generate import DemoData, generate
from groundswell.demo.live import SPEEDS, LiveStream

# A replay that was stopped for longer than this many windows skips ahead rather than writing
# hours of back-dated "live" posts in one go (10 minutes at 1x, 2 at 60x).
MAX_CATCH_UP_WINDOWS = 120


@functools.lru_cache(maxsize=2)
def cached_history(seed: int, mentions: int, anchor: datetime) -> DemoData:
    """Generation takes a couple of seconds at 20k mentions; share it within a process."""
    return generate(seed=seed, mentions=mentions, now=anchor)


@dataclass(slots=True)
class Committed:
    """What the runner has just committed (reported to `on_commit`)."""

    phase: str  # "history" | "live"
    mentions: int
    edges: int
    page: int  # history pages done
    pages: int  # history pages in all
    live_at: datetime | None = None  # start of the next live window


def target_for(seed: int, mentions: int, anchor: datetime, speed: str) -> dict[str, Any]:
    return {"seed": seed, "mentions": mentions, "anchor": anchor.isoformat(), "speed": speed}


class DemoCollector:
    """Replays the generated conversation; `clock` decides which live windows are due."""

    platform = "demo"

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_commit: Callable[[Committed], None] | None = None,
        live: bool = True,
        stop: threading.Event | None = None,
    ) -> None:
        self.clock = clock
        self.on_commit = on_commit
        self.live = live
        # Checked between pages: a stop request ends the poll cleanly after the page in
        # progress is committed, with the cursor exactly covering what was written.
        self.stop = stop or threading.Event()
        self._streams: dict[tuple[Any, ...], LiveStream] = {}

    def _history(self, target: dict[str, Any]) -> DemoData:
        try:
            seed = int(target["seed"])
            mentions = int(target["mentions"])
            anchor = datetime.fromisoformat(target["anchor"]).astimezone(UTC)
        except (KeyError, TypeError, ValueError) as exc:
            raise FatalSourceError(
                f"demo source target {target!r} is not a demo replay target ({exc}); "
                "run `groundswell demo` again to recreate it"
            ) from exc
        return cached_history(seed, mentions, anchor)

    def poll(self, source: SourceState) -> Iterator[Batch]:
        data = self._history(source.target)
        cursor = dict(source.cursor or {})
        pages = data.pages
        start = int(cursor.get("page", 0))
        for n in range(start, len(pages)):
            page = pages[n]
            yield Batch(
                mentions=page.mentions,
                edges=page.edges,
                cursor={"page": n + 1, "pages": len(pages)},
                fetched=len(page.mentions),
            )
            # Resumed by the runner: the page above is committed.
            self._report(
                Committed("history", len(page.mentions), len(page.edges), n + 1, len(pages))
            )
            if self.stop.is_set():
                return
        speed = SPEEDS.get(str(source.target.get("speed")))
        if not self.live or speed is None:
            return
        key = (data.seed, len(data.mentions), data.anchor, speed)
        stream = self._streams.get(key)
        if stream is None:
            stream = self._streams[key] = LiveStream(data, speed)
        at = datetime.fromisoformat(cursor["live"]) if "live" in cursor else data.anchor
        now = self.clock()
        if now - at > MAX_CATCH_UP_WINDOWS * stream.window:
            at = stream.window_start(now - MAX_CATCH_UP_WINDOWS * stream.window)
        while at + stream.window <= now:
            page = stream.page(at)
            at = at + stream.window
            yield Batch(
                mentions=page.mentions,
                edges=page.edges,
                cursor={"page": len(pages), "pages": len(pages), "live": at.isoformat()},
                fetched=len(page.mentions),
            )
            self._report(
                Committed("live", len(page.mentions), len(page.edges), len(pages), len(pages), at)
            )
            if self.stop.is_set():
                return

    def _report(self, c: Committed) -> None:
        if self.on_commit is not None:
            self.on_commit(c)
