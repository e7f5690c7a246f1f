"""`groundswell demo` on the command line."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from groundswell.cli import app


@pytest.fixture(autouse=True)
def _restore_signals():  # type: ignore[no-untyped-def]
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    for s, handler in saved.items():
        signal.signal(s, handler)


def test_demo_instant_writes_the_history_and_prints_what_it_wrote(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'gs.db'}"
    result = CliRunner().invoke(app, ["demo", "--db", db, "--mentions", "200", "--seed", "5"])
    assert result.exit_code == 0, result.output
    assert "NHS Citizen Assembly" in result.output
    assert "200 (200 new)" in result.output

    again = CliRunner().invoke(app, ["demo", "--db", db, "--mentions", "200", "--seed", "5"])
    assert "200 (0 new)" in again.output


def test_an_unknown_speed_is_a_configuration_error_naming_the_choices(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'gs.db'}"
    result = CliRunner().invoke(app, ["demo", "--db", db, "--speed", "fast"])
    assert result.exit_code == 2
    assert "instant, 1x, 10x, 60x" in result.output


def test_up_on_a_busy_port_says_so_before_starting_anything(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        port = busy.getsockname()[1]
        db = tmp_path / "gs.db"
        result = CliRunner().invoke(
            app, ["up", "--db", f"sqlite:///{db}", "--port", str(port), "--no-browser"]
        )
    assert result.exit_code == 1
    assert f"port {port} is already in use" in result.output
    assert not db.exists()
