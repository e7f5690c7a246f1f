"""`groundswell bluesky-live`: follow Bluesky through Jetstream into the store until stopped.

The stream is the `bluesky:jetstream` source (configured by `[bluesky].jetstream_url`). This
command leases it for as long as it runs, so a `collect --loop` worker never reads it at the
same time; the runner commits every batch with its cursor, so Ctrl-C, a crash or a dropped
connection resume from where the store says, without gaps or duplicates.
"""

from __future__ import annotations

import typer

from groundswell.app import (
    ConfigOpt,
    DbOpt,
    _print_outcome,
    _setup_logging,
    app,
    console,
    fail,
    load_config,
    open_store,
    sync_config,
)
from groundswell.commands.live import DurationOpt, VerboseOpt, WorkerOpt, stop_signal


@app.command("bluesky-live")
def bluesky_live(
    config: ConfigOpt = None,
    db: DbOpt = None,
    worker_id: WorkerOpt = None,
    duration: DurationOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Follow Bluesky live (Jetstream posts and reposts) into the store."""
    from collectors.base import CollectorContext, SourceState
    from collectors.bluesky.collector import BlueskyCollector
    from collectors.bluesky.plugin import JETSTREAM_KEY
    from collectors.runner import Runner
    from storage.engine import write_tx
    from storage.queries.bluesky import lease_source_by_key

    _setup_logging(verbose)
    settings = load_config(config)
    if not settings.bluesky.jetstream_url:
        fail(
            "[bluesky].jetstream_url is not set; add e.g. "
            'jetstream_url = "wss://jetstream2.us-east.bsky.network/subscribe" to the config',
            2,
        )
    if not settings.movements:
        fail("the config lists no [[movements]]: there is nothing to follow", 2)
    engine = open_store(db, settings)
    sync_config(engine, settings)

    with stop_signal("stopping after the current batch...", duration) as stop:
        context = CollectorContext(settings=settings, engine=engine)
        collector = BlueskyCollector(context, live=True, stop=stop)
        runner = Runner(
            engine,
            context,
            {"bluesky": collector},
            worker_id=worker_id,
            lease_s=settings.collect.lease_s,
            max_backoff_s=settings.collect.max_backoff_s,
        )
        console.print(
            f"following {settings.bluesky.jetstream_url} as worker {runner.worker_id}; "
            "Ctrl-C to stop"
        )
        pause = 1.0
        while not stop.is_set():
            with write_tx(engine) as conn:
                row = lease_source_by_key(conn, JETSTREAM_KEY, runner.worker_id, runner.lease_s)
            if row is None:
                console.print("another worker is following the stream; waiting for its lease")
                stop.wait(min(30.0, runner.lease_s))
                continue
            state = SourceState(
                id=row["id"],
                key=row["key"],
                platform=row["platform"],
                kind=row["kind"],
                target=row["target"] or {},
                cursor=row["cursor"],
            )
            outcome = runner.run_source(state)
            _print_outcome(outcome)
            if outcome.outcome == "fatal":
                raise typer.Exit(1)
            if outcome.outcome != "ok" and not stop.is_set():
                stop.wait(pause)
                pause = min(60.0, pause * 2)
            else:
                pause = 1.0
