"""`groundswell mastodon-live`: follow Mastodon hashtags live (streaming) into the store.

Every source of an instance configured with `stream = true` gets its own `HashtagStream`
thread: it catches up through the timeline API from the stored cursor, then streams, and after
a drop reconnects with backoff and catches up again, so nothing posted during the gap is lost.
Streaming needs a token (`token_env`); an instance without one is reported as "needs a token".
"""

from __future__ import annotations

import threading
from typing import Any

import typer

from groundswell.app import (
    ConfigOpt,
    DbOpt,
    _setup_logging,
    app,
    console,
    fail,
    load_config,
    open_store,
    sync_config,
)
from groundswell.commands.live import DurationOpt, VerboseOpt, WorkerOpt, stop_signal


@app.command("mastodon-live")
def mastodon_live(
    config: ConfigOpt = None,
    db: DbOpt = None,
    worker_id: WorkerOpt = None,
    duration: DurationOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Stream the hashtags of every instance with `stream = true` into the store."""
    from collectors.base import CollectorContext
    from collectors.mastodon.collector import MastodonCollector
    from collectors.mastodon.plugin import source_specs
    from collectors.mastodon.stream import HashtagStream

    _setup_logging(verbose)
    settings = load_config(config)
    streamed = {i.base_url for i in settings.mastodon.instances if i.stream}
    if not streamed:
        fail(
            "no Mastodon instance has stream = true; add it under [[mastodon.instances]] "
            "together with token_env (streaming needs a token)",
            2,
        )
    engine = open_store(db, settings)
    sync_config(engine, settings)
    keys = [  # hashtags stream; local/public timeline sources are polled
        s.key
        for s in source_specs(settings)
        if s.target["base_url"] in streamed and s.kind == "hashtag"
    ]
    context = CollectorContext(settings=settings, engine=engine)
    collector = MastodonCollector(context)  # shared: one client (and rate budget) per instance

    def _written(key: str) -> Any:
        def report(kind: str, result: Any) -> None:
            if result.new or result.tombstoned:
                console.print(
                    f"{key}: {kind}, {result.new} new, {result.tombstoned} deleted", highlight=False
                )

        return report

    with stop_signal("stopping streams...") as stop:
        streams = [
            HashtagStream(
                engine,
                context,
                key,
                stop=stop,
                collector=collector,
                worker_id=worker_id,
                on_write=_written(key),
            )
            for key in keys
        ]
        threads = [threading.Thread(target=s.run, name=s.key, daemon=True) for s in streams]
        for t in threads:
            t.start()
        console.print(f"streaming {len(streams)} Mastodon hashtag sources; Ctrl-C to stop")
        stop.wait(duration)
        stop.set()
        for t in threads:
            t.join(timeout=15)
    for s in streams:
        console.print(
            f"{s.key}: {s.status}" + (f" — {s.error}" if s.error else ""), highlight=False
        )
    if streams and all(s.status in ("fatal", "needs_token") for s in streams):
        raise typer.Exit(1)
