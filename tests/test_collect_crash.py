"""`kill -9` of a real `groundswell collect --loop` process in the middle of a batch, then a
restart: no mention lost, none duplicated, no rollup counted twice, cursor at the end.

The process polls a local HTTP server (numbered posts, 500 a page) through a test plugin
(tests/plugins/numbered.py) loaded with GROUNDSWELL_PLUGINS; everything else is the shipped
code. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
TOTAL = 6_000
PAGE = 500
T0 = 1_793_000_000  # 2026-10-25, epoch seconds

CONFIG = """
[[movements]]
slug = "nhscitizen"
name = "NHS Citizen"
hashtags = ["NHSCitizen"]
"""


class Posts(BaseHTTPRequestHandler):
    """GET /posts?after=N -> the next page of numbered posts, oldest first."""

    def do_GET(self) -> None:
        after = int(parse_qs(urlsplit(self.path).query).get("after", ["0"])[0])
        items = [
            {"n": n, "ts": T0 + n * 37, "text": f"Post {n} for the pledge #NHSCitizen"}
            for n in range(after + 1, min(after + PAGE, TOTAL) + 1)
        ]
        body = json.dumps({"items": items}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def feed_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Posts)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/posts"
    server.shutdown()
    server.server_close()


def yielded(progress: Path) -> list[int]:
    if not progress.exists():
        return []
    return [int(line.split()[1]) for line in progress.read_text().splitlines() if line.strip()]


def stored_cursor(engine) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        raw = conn.execute(text("SELECT cursor FROM source WHERE platform = 'numbered'")).scalar()
    if raw is None:
        return 0
    cursor = json.loads(raw) if isinstance(raw, str) else raw
    return int(cursor["after"])


@pytest.mark.slow
def test_a_worker_killed_mid_batch_loses_and_duplicates_nothing(store, feed_url, tmp_path):
    url = store.url.render_as_string(hide_password=False)
    config = tmp_path / "groundswell.toml"
    config.write_text(CONFIG)
    progress = tmp_path / "progress.txt"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "GROUNDSWELL_PLUGINS": "numbered=tests.plugins.numbered",
        "GS_TEST_FEED_URL": feed_url,
        "GS_TEST_PROGRESS": str(progress),
    }
    base = [sys.executable, "-m", "groundswell.cli", "collect", "--config", str(config)]
    base += ["--db", url, "--worker-id", "crash-test"]
    rng = random.Random(2026)
    mid_batch_kills = 0
    for _ in range(4):
        start = len(yielded(progress))
        proc = subprocess.Popen(
            [*base, "--loop"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while len(yielded(progress)) < start + 1 + rng.randrange(3):
            assert proc.poll() is None, "collector exited before it was killed"
            assert time.monotonic() < deadline, "collector made no progress"
            time.sleep(0.005)
        time.sleep(rng.uniform(0, 0.03))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        # Handed a page to the runner but its transaction never committed: killed mid-batch.
        if yielded(progress)[-1] > stored_cursor(store):
            mid_batch_kills += 1
        if mid_batch_kills >= 2 or stored_cursor(store) >= TOTAL - 3 * PAGE:
            break
    assert mid_batch_kills >= 1, "no kill landed inside a batch; the test proved nothing"

    done = subprocess.run(
        [*base, "--once"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr

    with store.connect() as conn:

        def one(sql: str) -> int:
            return int(conn.execute(text(sql)).scalar() or 0)

        assert one("SELECT count(*) FROM mention") == TOTAL
        assert one("SELECT count(DISTINCT native_id) FROM mention") == TOTAL
        assert one("SELECT count(*) FROM mention_payload") == TOTAL
        assert one("SELECT count(*) FROM mention_match") == TOTAL
        assert one("SELECT sum(mentions) FROM rollup_hourly") == TOTAL
        assert one("SELECT sum(mentions) FROM movement_author") == TOTAL
        assert one("SELECT count(*) FROM collector_run WHERE outcome = 'running'") == 0
    assert stored_cursor(store) == TOTAL


@pytest.mark.slow
def test_sigterm_stops_the_loop_after_the_current_batch_and_releases_the_source(
    sqlite_store, feed_url, tmp_path
):
    url = sqlite_store.url.render_as_string(hide_password=False)
    config = tmp_path / "groundswell.toml"
    config.write_text(CONFIG)
    progress = tmp_path / "progress.txt"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "GROUNDSWELL_PLUGINS": "numbered=tests.plugins.numbered",
        "GS_TEST_FEED_URL": feed_url,
        "GS_TEST_PROGRESS": str(progress),
    }
    cmd = [sys.executable, "-m", "groundswell.cli", "collect", "--loop", "--config", str(config)]
    proc = subprocess.Popen(
        [*cmd, "--db", url],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not yielded(progress):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    with sqlite_store.connect() as conn:
        lease = conn.execute(text("SELECT lease_owner FROM source")).scalar()
        outcomes = conn.execute(text("SELECT outcome FROM collector_run")).scalars().all()
        stored = conn.execute(text("SELECT count(*) FROM mention")).scalar()
    assert lease is None
    assert outcomes and "running" not in outcomes
    assert stored == stored_cursor(sqlite_store)  # every committed page, and its cursor
    assert stored < TOTAL  # it stopped after the batch in hand, not at the end of the source
