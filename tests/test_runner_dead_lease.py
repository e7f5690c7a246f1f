"""A lease held by a worker on this machine whose process is gone (kill -9 of `groundswell
demo` or `collect`) is taken over at once, instead of after `lease_s` (300 s)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from typing import Any

from sqlalchemy import update

from storage.engine import write_tx
from storage.models import Source
from tests.test_runner import Clock, Scripted, add_sources, make_runner


def _dead_pid() -> int:
    """The id of a process that ran and exited (and was reaped): no process has it now."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _lease(engine: Any, owner: str, clock: Clock, seconds: int = 300) -> None:
    from datetime import timedelta

    with write_tx(engine) as conn:
        conn.execute(
            update(Source.__table__).values(
                lease_owner=owner, lease_until=clock() + timedelta(seconds=seconds)
            )
        )


def test_a_lease_whose_holder_on_this_machine_is_gone_is_taken_over_at_once(store):
    add_sources(store, "a")
    clock = Clock()
    _lease(store, f"{socket.gethostname()}:{_dead_pid()}:1234", clock)
    rerun = make_runner(store, Scripted({}), clock, worker_id=None)
    assert [s.key for s in rerun.claim()] == ["a"]


def test_a_lease_held_by_a_live_process_on_this_machine_is_respected(store):
    add_sources(store, "a")
    clock = Clock()
    _lease(store, f"{socket.gethostname()}:{os.getppid()}:1234", clock)
    rerun = make_runner(store, Scripted({}), clock, worker_id=None)
    assert rerun.claim() == []


def test_a_lease_held_on_another_machine_waits_for_its_expiry(store):
    add_sources(store, "a")
    clock = Clock()
    _lease(store, f"elsewhere-{socket.gethostname()}:{_dead_pid()}:1234", clock)
    rerun = make_runner(store, Scripted({}), clock, worker_id=None)
    assert rerun.claim() == []
    clock.advance(301)
    assert [s.key for s in rerun.claim()] == ["a"]
