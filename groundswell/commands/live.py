"""What every `*-live` command shares: its options and a stop signal.

A live command runs until Ctrl-C, SIGTERM or `--duration` seconds; each then finishes the batch
in hand, so the cursor stays with the rows it covers.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from groundswell.app import console

WorkerOpt = Annotated[str | None, typer.Option(help="name of this worker (leases)")]
DurationOpt = Annotated[
    float | None, typer.Option(help="stop after this many seconds (default: run until Ctrl-C)")
]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v")]


@contextmanager
def stop_signal(message: str, duration: float | None = None) -> Iterator[threading.Event]:
    """An event set by Ctrl-C, SIGTERM or after `duration` seconds; handlers restored after."""
    stop = threading.Event()

    def _stop(*_: Any) -> None:
        console.print(message)
        stop.set()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    timer: threading.Timer | None = None
    if duration is not None:
        timer = threading.Timer(duration, stop.set)
        timer.daemon = True
        timer.start()
    try:
        yield stop
    finally:
        stop.set()
        if timer is not None:
            timer.cancel()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
