"""The command line speaks plainly: no Alembic chatter, keys in brackets kept, read-only
commands never create a store, errors cut between words."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from domain.brief import brief
from groundswell.cli import app

ROOT = Path(__file__).resolve().parents[1]

# What Mastodon.py says when a Mastodon host cannot be reached (requests under it), for a
# tag timeline whose URL is long enough that a fixed 200-character cut falls in the host.
_PATH = "/api/v1/timelines/tag/NHSVoice"
UNREACHABLE = (
    "Could not complete request: HTTPSConnectionPool(host='mastodon.social', port=443): Max "
    f'retries exceeded with url: {_PATH} (Caused by NameResolutionError("HTTPSConnection('
    "host='mastodon.social', port=443): Failed to resolve 'mastodon.social' ([Errno -2] Name "
    'or service not known)"))'
)
assert 190 < UNREACHABLE.index("host='mastodon.social', port=443): Failed") < 195


def _hosts_whole(text: str) -> bool:
    """Every `host='...` in `text` names the whole host."""
    return all(part.startswith("mastodon.social'") for part in text.split("host='")[1:])


def _gs(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real `groundswell` in a fresh process (logging set up as a user gets it)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GROUNDSWELL_")}
    return subprocess.run(
        [sys.executable, "-m", "groundswell.cli", *args],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT), "COLUMNS": "250"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _feed_config(tmp_path: Path) -> str:
    path = tmp_path / "gs.toml"
    path.write_text('[blogs]\nfeeds = [{ url = "http://127.0.0.1:9/feed.xml" }]\n')
    return str(path)


def test_collect_prints_no_alembic_lines_unless_verbose(tmp_path):
    config = _feed_config(tmp_path)
    quiet = _gs(tmp_path, "collect", "--once", "-c", config, "--db", "sqlite:///a.db")
    assert "sources polled" in quiet.stderr, quiet.stderr
    assert "alembic" not in (quiet.stdout + quiet.stderr).lower()
    loud = _gs(tmp_path, "collect", "--once", "-v", "-c", config, "--db", "sqlite:///b.db")
    assert "alembic" in loud.stderr.lower()


def test_a_sources_error_keeps_the_config_key_in_brackets(tmp_path):
    config = _feed_config(tmp_path)
    result = _gs(tmp_path, "collect", "--once", "-c", config, "--db", "sqlite:///a.db")
    assert "[blogs].allow_loopback" in " ".join(result.stderr.split())


def test_status_in_an_empty_folder_refuses_to_create_a_store(tmp_path):
    result = CliRunner().invoke(app, ["status", "--db", f"sqlite:///{tmp_path / 'gs.db'}"])
    assert result.exit_code == 1
    assert "no Groundswell store at" in result.output and "groundswell init" in result.output
    assert not (tmp_path / "gs.db").exists()


def test_status_names_the_store_it_opened_by_its_full_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GROUNDSWELL_DB_URL", raising=False)
    assert CliRunner().invoke(app, ["init", "--db", "sqlite:///gs.db"]).exit_code == 0
    result = CliRunner().invoke(app, ["status", "--db", "sqlite:///gs.db"])
    assert result.exit_code == 0, result.output
    assert f"store: sqlite:///{tmp_path.resolve() / 'gs.db'}" in result.output


@pytest.mark.postgres
def test_export_refuses_an_empty_database_without_creating_tables(pg_url, tmp_path):
    import psycopg
    from sqlalchemy import inspect

    from storage.engine import make_engine
    from tests.conftest import PG_ADMIN_URL

    admin = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    name = f"gs_empty_{secrets.token_hex(4)}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        args = ["export", "--db", url, "--out", str(tmp_path / "x")]
        args += ["--identified", "--reason", "test"]  # past the pseudonym key check
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 1
        assert "no Groundswell store at" in result.output
        engine = make_engine(url)
        assert inspect(engine).get_table_names() == []
        engine.dispose()
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_long_network_error_is_cut_between_words_and_keeps_the_host_whole():
    short = brief(UNREACHABLE)
    assert len(short) <= 202 and short.endswith(" …")
    assert _hosts_whole(short) and "host='mastodon.social'" in short


def test_a_short_error_is_left_as_it_is():
    assert brief("HTTP 503: Service Unavailable\nmore") == "HTTP 503: Service Unavailable"


def test_a_mastodon_network_error_keeps_the_host_whole():
    from mastodon.errors import MastodonNetworkError

    from collectors.mastodon.client import _short

    assert _hosts_whole(_short(MastodonNetworkError(UNREACHABLE)))
