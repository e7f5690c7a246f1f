"""The collector protocol, typed errors and the context a collector is given.

A collector turns one source and its cursor into a sequence of `Batch`es (one per page), each
carrying the cursor that covers it. The runner commits every batch together with its cursor in
one transaction, so a collector never writes anything itself and never advances a cursor apart
from the rows it covers.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from domain.records import NEEDS_TOKEN, Batch, add_signal, merge_signals

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from domain.matching import MovementRule
    from domain.settings.config import Settings


class CollectorError(Exception):
    """Base of the errors a collector may raise from `poll`.

    `signals` are completeness signals (`domain.records.SIGNALS`) this failure stands for
    (a 429, an unreachable server, a refused anonymous read) or that were met before it and
    belong to no committed batch; the runner adds them to the run.
    """

    signals: dict[str, float]

    def add_signals(self, signals: dict[str, float] | None) -> CollectorError:
        if not hasattr(self, "signals"):
            self.signals = {}
        merge_signals(self.signals, signals)
        return self


class TransientError(CollectorError):
    """Try again later; the cursor stays where the last committed batch left it.

    `retry_after` (seconds) comes from a 429's reset or Retry-After header when known.
    """

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        signal: str | None = None,
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.signals = {}
        if signal is not None:
            # A rate limit's wait is the time until the retry.
            add_signal(self.signals, signal, seconds=retry_after)


class FatalSourceError(CollectorError):
    """This source cannot work as configured (e.g. needs a token); it is not retried until the
    config changes or someone resets it. `status` is shown in `groundswell status`."""

    def __init__(self, message: str, *, status: str = "fatal") -> None:
        super().__init__(message)
        self.status = status
        self.signals = {}
        if status == NEEDS_TOKEN:
            add_signal(self.signals, NEEDS_TOKEN)


@dataclass(slots=True)
class SourceState:
    """A claimed source as the runner hands it to `poll`."""

    id: int
    key: str
    platform: str
    kind: str
    target: dict[str, Any]
    cursor: dict[str, Any] | None = None
    etag: str | None = None
    last_modified: str | None = None


@dataclass(slots=True)
class CollectorContext:
    """What a collector may use besides its source: settings, the store (read-only use, e.g.
    the counts already stored), the movements compiled for matching, and a logger."""

    settings: Settings
    engine: Engine | None = None
    rules: Sequence[MovementRule] = ()
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("groundswell.collect"))


@runtime_checkable
class Collector(Protocol):
    """One per platform."""

    platform: str

    def poll(self, source: SourceState) -> Iterator[Batch]:
        """Yield one batch per page, oldest unseen data first where the API allows, each with
        the cursor that covers it. Raise `TransientError` / `FatalSourceError` to stop."""
        ...
