"""`groundswell demo`: write the offline demo conversation, and optionally keep it going live."""

from __future__ import annotations

import signal
import threading
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from groundswell.app import ConfigOpt, DbOpt, app, console, fail, load_config, open_store, out
from storage.engine import describe_url

SPEED_CHOICES = ("instant", "1x", "10x", "60x")

SeedOpt = Annotated[int, typer.Option("--seed", help="same seed, same conversation")]
MentionsOpt = Annotated[
    int, typer.Option("--mentions", min=100, help="mentions in the three weeks of history")
]


class _Stopper:
    """SIGINT/SIGTERM set an event instead of raising: the page in progress is committed,
    then everything winds down. A second Ctrl-C is the user insisting: raise."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def install(self) -> None:
        signal.signal(signal.SIGINT, self._handle)
        signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, signum: int, _frame: Any) -> None:
        if self.event.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        console.print("stopping after the page in progress...")
        self.event.set()


def load_history(engine: Any, *, seed: int, mentions: int, stop: threading.Event) -> Any:
    """`load_demo` with a rich progress bar; returns the summary."""
    from groundswell.demo import load_demo

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("mentions"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task("generating the conversation", total=None)

        def on_commit(c: Any) -> None:
            if c.phase != "history":
                return
            progress.update(task, description="writing the demo", total=mentions)
            progress.advance(task, c.mentions)

        summary = load_demo(engine, seed=seed, mentions=mentions, on_commit=on_commit, stop=stop)
        progress.update(task, total=mentions, completed=mentions if summary.complete else None)
    return summary


def print_summary(summary: Any, url: str) -> None:
    table = Table(title=f"demo conversation (seed {summary.seed})", show_header=False)
    table.add_column("what")
    table.add_column("value", overflow="fold")
    table.add_row("store", url)
    table.add_row("movement", summary.movement_slug)
    table.add_row("history", f"{summary.start:%Y-%m-%d %H:%M} → {summary.end:%Y-%m-%d %H:%M} UTC")
    table.add_row(
        "event",
        f"{summary.event_name} ({summary.event_slug}), "
        f"{summary.event_starts:%a %d %b %H:%M} → {summary.event_ends:%a %d %b %H:%M} UTC",
    )
    table.add_row(
        "mentions",
        f"{summary.mentions:,} ({summary.new:,} new): "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(summary.platforms.items())),
    )
    table.add_row(
        "amplifications",
        f"{summary.edges:,}: "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(summary.edge_kinds.items())),
    )
    table.add_row(
        "accounts",
        f"{summary.accounts:,} on {summary.instances} Mastodon instances, Bluesky and "
        f"{summary.blogs} blogs",
    )
    out.print(table)


def live_printer() -> Any:
    """One line per live window that brought something."""

    def on_commit(c: Any) -> None:
        if c.phase == "live" and (c.mentions or c.edges):
            at = c.live_at.astimezone().strftime("%H:%M:%S") if c.live_at else ""
            console.print(
                f"[dim]{at}[/] live: +{c.mentions} mentions, +{c.edges} amplifications",
                highlight=False,
            )

    return on_commit


@app.command()
def demo(
    config: ConfigOpt = None,
    db: DbOpt = None,
    seed: SeedOpt = 7,
    mentions: MentionsOpt = 20_000,
    speed: Annotated[
        str,
        typer.Option(
            "--speed",
            help="instant: write the three weeks at once; 1x/10x/60x: then keep the "
            "conversation going in real time (10x: ten times as busy) until Ctrl-C",
        ),
    ] = "instant",
) -> None:
    """Write a realistic offline #NHSCitizen conversation (deterministic for --seed)."""
    from groundswell.demo import DemoError, replay_live, set_demo_wall

    if speed not in SPEED_CHOICES:
        fail(f"--speed {speed!r} is not one of {', '.join(SPEED_CHOICES)}", 2)
    settings = load_config(config)
    engine = open_store(db, settings)
    set_demo_wall(engine, settings.wall)
    stopper = _Stopper()
    stopper.install()
    try:
        summary = load_history(engine, seed=seed, mentions=mentions, stop=stopper.event)
    except DemoError as exc:
        fail(str(exc))
    print_summary(summary, describe_url(str(engine.url)))
    if not summary.complete:
        console.print("stopped; run the same command again to finish loading")
        return
    if speed == "instant" or stopper.event.is_set():
        return
    console.print(f"replaying live at {speed}; Ctrl-C to stop")
    try:
        replay_live(
            engine,
            seed=seed,
            mentions=mentions,
            speed=speed,
            stop=stopper.event,
            on_commit=live_printer(),
        )
    except DemoError as exc:
        fail(str(exc))
    console.print("replay stopped; the cursor is saved, run again to continue")
