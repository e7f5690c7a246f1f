"""The command line: init creates and upgrades, status reports, collect runs, and every store
problem is one line naming the URL (exit 1), never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from typer.testing import CliRunner

from groundswell.cli import app
from storage.engine import make_engine
from storage.migrate import head_revisions
from tests.test_collect_crash import TOTAL, Posts

ROOT = Path(__file__).resolve().parents[1]
CONFIG = """
[[movements]]
slug = "nhscitizen"
name = "NHS Citizen"
hashtags = ["NHSCitizen"]
"""


def gs(*args: str) -> object:
    return CliRunner().invoke(app, list(args))


def db_url(engine) -> str:  # type: ignore[no-untyped-def]
    return engine.url.render_as_string(hide_password=False)


def one_line(output: str) -> str:
    lines = [ln for ln in output.splitlines() if ln.strip()]
    assert len(lines) == 1, output
    assert "Traceback" not in output
    return lines[0]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "groundswell.toml"
    path.write_text(CONFIG)
    return path


@pytest.fixture
def feed(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A local server of numbered posts, collected through the test plugin."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Posts)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/posts"
    monkeypatch.setenv("GROUNDSWELL_PLUGINS", "numbered=tests.plugins.numbered")
    monkeypatch.setenv("GS_TEST_FEED_URL", url)
    yield url
    server.shutdown()
    server.server_close()


# -- init -----------------------------------------------------------------------------------


def test_init_creates_a_store_at_the_head_revision(tmp_path, config):
    path = tmp_path / "new.db"
    result = gs("init", "--config", str(config), "--db", f"sqlite:///{path}")
    assert result.exit_code == 0, result.output
    assert "store ready" in result.output
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        revs = {r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version"))}
        assert conn.execute(text("SELECT slug FROM movement")).scalars().all() == ["nhscitizen"]
    assert revs == head_revisions(engine)
    engine.dispose()


def test_init_twice_is_a_no_op(store, config):
    url = db_url(store)
    assert gs("init", "--config", str(config), "--db", url).exit_code == 0
    tables = sorted(inspect(store).get_table_names())
    with store.connect() as conn:
        before = conn.execute(text("SELECT id, slug, name FROM movement")).all()
    second = gs("init", "--config", str(config), "--db", url)
    assert second.exit_code == 0, second.output
    store.dispose()
    assert sorted(inspect(store).get_table_names()) == tables
    with store.connect() as conn:
        assert conn.execute(text("SELECT id, slug, name FROM movement")).all() == before


# -- store errors ---------------------------------------------------------------------------


def test_an_unreachable_postgresql_is_one_line_naming_the_url(config):
    result = gs("status", "--config", str(config), "--db", "postgresql://gs:hunter2@127.0.0.1:1/gs")
    assert result.exit_code == 1
    line = one_line(result.output)
    assert "postgresql+psycopg://gs:***@127.0.0.1:1/gs" in line
    assert "hunter2" not in line
    assert "database server is running" in line


def test_a_url_that_is_not_a_database_url_is_one_line(config):
    result = gs("status", "--config", str(config), "--db", "not a url")
    assert result.exit_code == 1
    assert "'not a url' is not a database URL" in one_line(result.output)


def test_an_unsupported_database_is_named(config):
    result = gs("init", "--config", str(config), "--db", "mysql://root@localhost/gs")
    assert result.exit_code == 1
    assert "'mysql' is not supported" in one_line(result.output)


def test_a_sqlite_file_in_a_missing_folder_is_refused_and_nothing_is_written(tmp_path, config):
    target = tmp_path / "missing" / "gs.db"
    result = gs("init", "--config", str(config), "--db", f"sqlite:///{target}")
    assert result.exit_code == 1
    assert "does not exist" in one_line(result.output)
    assert not target.parent.exists()


def test_a_file_that_is_not_a_database_is_refused_and_left_alone(tmp_path, config):
    notes = tmp_path / "notes.txt"
    notes.write_text("my meeting notes\n" * 200)
    result = gs("init", "--config", str(config), "--db", f"sqlite:///{notes}")
    assert result.exit_code == 1
    assert "notes.txt" in one_line(result.output)
    assert notes.read_text() == "my meeting notes\n" * 200


def test_the_real_process_prints_no_traceback_for_an_unreachable_store(tmp_path, config):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "groundswell.cli",
            "status",
            "--config",
            str(config),
            "--db",
            "postgresql://postgres@127.0.0.1:1/test",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "300"},
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "127.0.0.1:1/test" in proc.stderr


# -- collect --------------------------------------------------------------------------------


def test_collect_once_with_no_sources_says_what_to_do(tmp_path, config):
    result = gs(
        "collect", "--once", "--config", str(config), "--db", f"sqlite:///{tmp_path / 'g.db'}"
    )
    assert result.exit_code == 2
    line = one_line(result.output)
    assert "no sources" in line and "groundswell demo" in line


def test_collect_needs_once_or_loop(tmp_path, config):
    result = gs("collect", "--config", str(config))
    assert result.exit_code == 2
    assert "--once or --loop" in one_line(result.output)


def test_a_bad_plugin_setting_is_a_configuration_error(tmp_path, config, monkeypatch):
    monkeypatch.setenv("GROUNDSWELL_PLUGINS", "intranet")
    result = gs(
        "collect", "--once", "--config", str(config), "--db", f"sqlite:///{tmp_path / 'g.db'}"
    )
    assert result.exit_code == 2
    assert "GROUNDSWELL_PLUGINS" in one_line(result.output)


def test_collect_once_polls_every_source_and_reports(store, config, feed):
    result = gs("collect", "--once", "--config", str(config), "--db", db_url(store))
    assert result.exit_code == 0, result.output
    assert "1 sources polled, 0 with errors" in result.output
    with store.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM mention")).scalar() == TOTAL


# -- status ---------------------------------------------------------------------------------


def test_status_json_lists_sources_cursors_errors_and_counts(store, config, feed):
    url = db_url(store)
    assert gs("collect", "--once", "--config", str(config), "--db", url).exit_code == 0
    result = gs("status", "--config", str(config), "--db", url, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["counts"]["mentions"] == TOTAL
    assert report["counts"]["sources"] == 1
    (source,) = report["sources"]
    assert source["platform"] == "numbered"
    assert source["cursor"] == {"after": TOTAL}
    assert source["status"] == "ok" and source["last_error"] is None
    assert source["last_run"]["new"] == TOTAL
    assert "hunter2" not in result.stdout


def test_status_table_shows_the_source_and_its_last_error(store, config, feed, monkeypatch):
    url = db_url(store)
    monkeypatch.setenv("GS_TEST_FEED_URL", "http://127.0.0.1:1/posts")  # nobody listens
    assert gs("collect", "--once", "--config", str(config), "--db", url).exit_code == 1
    result = CliRunner(env={"COLUMNS": "250"}).invoke(
        app, ["status", "--config", str(config), "--db", url]
    )
    assert result.exit_code == 0, result.output
    assert "numbered:http://127.0.0.1:1/posts" in result.output
    assert "backoff" in result.output
    assert "127.0.0.1:1/posts" in result.output and "transient" in result.output
    assert "mentions: 0" in result.output
