"""Writing the demo: register the movement, the event and the demo source, then let the
ordinary `Runner` poll the `DemoCollector` into the store.

`load_demo` writes the history at once (tests, `groundswell demo`, `groundswell up`);
`replay_live` keeps the conversation going in real time until asked to stop.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine

from collectors.base import CollectorContext
from collectors.runner import Runner, RunOutcome
from domain.settings.config import Settings, WallSettings
from groundswell.demo.collector import Committed, DemoCollector, cached_history, target_for
from groundswell.demo.generate import EVENT_SLUG, MOVEMENT_SLUG, DemoData, anchor_of
from groundswell.demo.live import SPEEDS, window_seconds
from storage.catalog import movement_ids, upsert_event, upsert_movement
from storage.engine import write_tx
from storage.queries.demo import ensure_demo_source, get_demo_source
from storage.queries.wall import load_wall_overrides, save_wall_overrides


class DemoError(RuntimeError):
    """The demo could not be written (the message names the cause)."""


@dataclass(slots=True)
class DemoSummary:
    """What `load_demo` wrote: the demo's counts (whether new this time or already there)."""

    seed: int
    mentions: int
    accounts: int
    edges: int
    new: int  # mentions that were new in the store this time (0 on a second load)
    movement_slug: str
    event_slug: str
    event_name: str
    start: datetime  # first instant of the history
    end: datetime  # its last instant (the anchor: "now" when first loaded)
    event_starts: datetime
    event_ends: datetime
    source_key: str
    platforms: dict[str, int] = field(default_factory=dict)
    edge_kinds: dict[str, int] = field(default_factory=dict)
    instances: int = 0
    blogs: int = 0
    complete: bool = True  # False when `stop` ended the load before the last page


def source_key(seed: int, mentions: int) -> str:
    return f"demo:{MOVEMENT_SLUG}:seed={seed}:mentions={mentions}"


def prepare(
    engine: Engine, *, seed: int, mentions: int, now: datetime | None, speed: str
) -> tuple[DemoData, str]:
    """Register movement, event and source; return the history to replay and the source key.

    A demo already in the store (same seed and size) keeps the anchor it was first generated
    with, so loading again or resuming a replay never writes a second, shifted conversation.
    """
    key = source_key(seed, mentions)
    with engine.connect() as conn:
        existing = get_demo_source(conn, key)
    if existing is not None and existing.target.get("anchor"):
        anchor = datetime.fromisoformat(existing.target["anchor"]).astimezone(UTC)
    else:
        anchor = anchor_of(now)
    data = cached_history(seed, mentions, anchor)
    interval = max(1, round(window_seconds(SPEEDS[speed]))) if speed in SPEEDS else 60
    with write_tx(engine) as conn:
        # A movement the config already defines keeps the config's hashtags, terms and URLs.
        movement_id = movement_ids(conn).get(MOVEMENT_SLUG) or upsert_movement(conn, data.movement)
        upsert_event(conn, data.event, {MOVEMENT_SLUG: movement_id}, origin="demo")
        ensure_demo_source(
            conn, key, target_for(seed, mentions, anchor, speed), interval_s=interval
        )
    return data, key


DEMO_HASHTAG = "NHSCitizen"
DEMO_WHERE_TO_POST = "Post on Mastodon or Bluesky with #NHSCitizen"


def set_demo_wall(engine: Engine, wall: WallSettings) -> bool:
    """Give the wall the demo's hashtag and where to post, so the projected demo shows what a
    room would see (and its QR code). Only when neither the config's `[wall]` nor a
    moderator has set a hashtag: stored as the wall's run-time setting, which a moderator can
    change. Returns whether it set one."""
    if wall.hashtag:
        return False
    with write_tx(engine) as conn:
        current = load_wall_overrides(conn, wall.id)
        if current.get("hashtag"):
            return False
        changes = {"hashtag": DEMO_HASHTAG}
        if not wall.where_to_post and not current.get("where_to_post"):
            changes["where_to_post"] = DEMO_WHERE_TO_POST
        save_wall_overrides(conn, wall.id, changes, moderator="groundswell demo")
    return True


def _runner(engine: Engine, collector: DemoCollector, **kw: object) -> Runner:
    return Runner(
        engine,
        CollectorContext(settings=Settings(), engine=engine),
        {"demo": collector},
        backoff_base_s=2.0,
        max_backoff_s=30.0,
        **kw,  # type: ignore[arg-type]
    )


def summarise(data: DemoData, key: str, new: int) -> DemoSummary:
    authors = {m.author.id for m in data.mentions if m.author}
    amplifiers = {e.source.id for e in data.edges}
    return DemoSummary(
        seed=data.seed,
        mentions=len(data.mentions),
        accounts=len(authors | amplifiers),
        edges=len(data.edges),
        new=new,
        movement_slug=MOVEMENT_SLUG,
        event_slug=EVENT_SLUG,
        event_name=data.event.name,
        start=data.start,
        end=data.end,
        event_starts=data.event.starts.astimezone(UTC),
        event_ends=data.event.ends.astimezone(UTC),
        source_key=key,
        platforms=dict(Counter(m.platform for m in data.mentions)),
        edge_kinds=dict(Counter(e.kind for e in data.edges)),
        instances=len(
            {m.seen_on for m in data.mentions + data.sightings if m.platform == "mastodon"}
        ),
        blogs=len({m.author.native_id for m in data.mentions if m.platform == "blog" and m.author}),
    )


def load_demo(
    engine: Engine,
    *,
    seed: int = 7,
    mentions: int = 20_000,
    now: datetime | None = None,
    on_commit: Callable[[Committed], None] | None = None,
    stop: threading.Event | None = None,
) -> DemoSummary:
    """Write the demo history (three weeks ending at `now`, default the current time) at once.

    Registers the movement `nhscitizen` and the event `nhs-citizen-assembly`, then replays
    every page through the runner and the write path. Idempotent: a second call with the same
    seed and size writes nothing new (and keeps the first call's anchor). `on_commit` is told
    about every committed page (progress bars); setting `stop` ends the load cleanly after
    the page in progress (the next call resumes from there).
    """
    data, key = prepare(engine, seed=seed, mentions=mentions, now=now, speed="instant")
    collector = DemoCollector(on_commit=on_commit, live=False, stop=stop)
    outcomes = _runner(engine, collector).run_once(only_due=False)
    mine = [o for o in outcomes if o.source_key == key]
    for o in mine:
        if o.outcome != "ok":
            raise DemoError(f"demo source {key}: {o.outcome}: {o.error}")
    if not mine:
        raise DemoError(
            f"demo source {key} is being replayed by another worker; try again when it stops"
        )
    summary = summarise(data, key, sum(o.result.new for o in mine))
    with engine.connect() as conn:
        row = get_demo_source(conn, key)
    summary.complete = bool(row and (row.cursor or {}).get("page") == len(data.pages))
    return summary


def replay_live(
    engine: Engine,
    *,
    seed: int = 7,
    mentions: int = 20_000,
    speed: str = "1x",
    stop: threading.Event,
    now: datetime | None = None,
    clock: Callable[[], datetime] | None = None,
    on_commit: Callable[[Committed], None] | None = None,
    on_outcome: Callable[[RunOutcome], None] | None = None,
) -> None:
    """Keep the demo conversation going at `speed` (1x, 10x, 60x) until `stop` is set.

    Writes whatever history is missing first, then one batch per live window as it falls due.
    Runs `Runner.run_loop`, so it stops cleanly after the batch in progress.
    """
    if speed not in SPEEDS:
        raise DemoError(f"speed {speed!r} is not one of {', '.join(SPEEDS)}")
    prepare(engine, seed=seed, mentions=mentions, now=now, speed=speed)
    if clock is None:
        collector = DemoCollector(on_commit=on_commit, stop=stop)
        runner = _runner(engine, collector)
    else:
        collector = DemoCollector(on_commit=on_commit, stop=stop, clock=clock)
        runner = _runner(engine, collector, clock=clock)
    runner.run_loop(
        stop, idle_sleep_s=min(1.0, window_seconds(SPEEDS[speed])), on_outcome=on_outcome
    )
