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


def test_the_demo_gives_the_wall_its_hashtag_when_none_is_configured(tmp_path: Path) -> None:
    from domain.settings.config import WallSettings
    from groundswell.wall import effective_settings
    from storage.engine import make_engine

    db = f"sqlite:///{tmp_path / 'gs.db'}"
    result = CliRunner().invoke(app, ["demo", "--db", db, "--mentions", "200"])
    assert result.exit_code == 0, result.output
    engine = make_engine(db)
    with engine.connect() as conn:
        wall = effective_settings(conn, WallSettings())
    engine.dispose()
    assert wall.hashtag == "NHSCitizen" and "#NHSCitizen" in (wall.where_to_post or "")


def test_the_demo_leaves_a_configured_wall_hashtag_alone(tmp_path: Path) -> None:
    from storage.engine import make_engine
    from storage.queries.wall import load_wall_overrides

    config = tmp_path / "groundswell.toml"
    config.write_text('[wall]\nhashtag = "Mine"\n')
    db = f"sqlite:///{tmp_path / 'gs.db'}"
    args = ["demo", "--config", str(config), "--db", db, "--mentions", "200"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    engine = make_engine(db)
    with engine.connect() as conn:
        assert load_wall_overrides(conn, "default") == {}
    engine.dispose()
