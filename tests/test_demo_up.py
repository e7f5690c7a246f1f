"""`groundswell up` as a user runs it: a real process, a real Streamlit, a real SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from storage.engine import make_engine
from storage.models import Mention

ROOT = Path(__file__).resolve().parents[1]
WAIT_S = 180  # generous: only ever waited on, never asserted


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            out.append(int(entry.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@contextmanager
def _up(tmp_path: Path, port: int, *extra: str) -> Iterator[subprocess.Popen[bytes]]:
    """`groundswell up` on a store in `tmp_path` (and its groundswell.toml, if the test wrote
    one), killed at the end if the test did not stop it."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("GROUNDSWELL_CONFIG", None)
    env.pop("GROUNDSWELL_DB_URL", None)
    args = ["up", "--db", f"sqlite:///{tmp_path / 'gs.db'}", "--port", str(port), "--no-browser"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "groundswell.cli", *args, *extra],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def _sigterm(proc: subprocess.Popen[bytes]) -> str:
    """Stop `up` as a service manager would; it must exit 0. Returns what it printed."""
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=WAIT_S)
    text = output.decode(errors="replace")
    assert proc.returncode == 0, text
    return text


@pytest.mark.slow
def test_up_with_no_config_serves_the_dashboard_on_demo_data_and_stops_on_sigterm(
    tmp_path: Path,
) -> None:
    port = _free_port()
    with _up(tmp_path, port, "--demo-mentions", "300") as proc:  # no groundswell.toml: no config
        deadline = time.monotonic() + WAIT_S
        status = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=5).status_code
            except httpx.HTTPError:
                status = None
            if status == 200:
                break
            time.sleep(0.5)
        assert status == 200, "dashboard never became healthy"

        engine = make_engine(f"sqlite:///{tmp_path / 'gs.db'}")
        count = 0
        while time.monotonic() < deadline and count < 300:
            with engine.connect() as conn:
                count = conn.execute(select(func.count()).select_from(Mention.__table__)).scalar()
            time.sleep(0.5)
        engine.dispose()
        assert count >= 300  # the demo history is in the store the dashboard reads

        children = _children(proc.pid)
        assert children, "the dashboard runs as a child process"
        text = _sigterm(proc)
    assert f"http://localhost:{port}" in text
    assert "Uvicorn server started" not in text  # quiet unless -v: Streamlit's INFO lines too
    assert not any(_alive(c) for c in children), "a child outlived `up`"


@pytest.mark.slow
def test_up_with_configured_sources_collects_them_instead_of_loading_the_demo(
    tmp_path: Path,
) -> None:
    from tests.servers.blog_server import BlogServer

    db = tmp_path / "gs.db"
    with BlogServer("Healthcare Radicals") as blog:
        blog.add_post("assembly", "Assembly notes", "<p>Day one of the #NHSCitizen Assembly</p>")
        (tmp_path / "groundswell.toml").write_text(
            '[[movements]]\nslug = "nhscitizen"\nname = "NHS Citizen"\n'
            'hashtags = ["NHSCitizen"]\n\n[blogs]\nallow_loopback = true\n\n'
            f'[[blogs.feeds]]\nurl = "{blog.url}/feed/"\n'
        )
        with _up(tmp_path, _free_port()) as proc:
            deadline = time.monotonic() + WAIT_S
            count = 0
            while time.monotonic() < deadline and proc.poll() is None and count < 1:
                time.sleep(0.5)
                if not db.exists():
                    continue
                engine = make_engine(f"sqlite:///{db}")
                try:
                    with engine.connect() as conn:
                        count = conn.execute(
                            select(func.count()).select_from(Mention.__table__)
                        ).scalar()
                except OperationalError:  # `up` is still creating the tables
                    count = 0
                engine.dispose()
            assert count == 1, "the configured feed's entry was never collected"
            assert blog.hits("/feed/") >= 1
            text = _sigterm(proc)
    assert "demo" not in text.lower()


def test_demo_live_replay_stops_cleanly_on_ctrl_c_with_its_cursor_saved(tmp_path: Path) -> None:
    from storage.models import Source

    db = tmp_path / "gs.db"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    # Live posts arrive at the history's rate times the speed: 200 mentions over three weeks at
    # 60x is one every ~2.5 minutes (by the clock, so sometimes far longer); 5,000 is ~6 s.
    args = ["demo", "--db", f"sqlite:///{db}", "--mentions", "5000", "--speed", "60x"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "groundswell.cli", *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        lines = []
        assert proc.stdout is not None
        for raw in proc.stdout:  # wait for the first live batch
            lines.append(raw.decode(errors="replace"))
            if "live: +" in lines[-1]:
                break
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=WAIT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    text = "".join(lines) + rest.decode(errors="replace")
    assert proc.returncode == 0, text
    assert "the cursor is saved" in text
    assert "Traceback" not in text
    engine = make_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        cursor = conn.execute(select(Source.__table__.c.cursor)).scalar_one()
    engine.dispose()
    assert "live" in cursor


@pytest.mark.slow
def test_up_runs_the_pingback_receiver_when_owned_sites_are_configured(tmp_path: Path) -> None:
    receiver_port = _free_port()
    (tmp_path / "groundswell.toml").write_text(
        '[[movements]]\nslug = "nhscitizen"\nname = "NHS Citizen"\nhashtags = ["NHSCitizen"]\n\n'
        f'[receiver]\nport = {receiver_port}\nowned_sites = ["https://www.example.org"]\n'
        'movement = "nhscitizen"\n'
    )
    with _up(tmp_path, _free_port(), "--demo-mentions", "100") as proc:
        deadline = time.monotonic() + WAIT_S
        health = None
        while time.monotonic() < deadline and proc.poll() is None and health is None:
            try:
                health = httpx.get(f"http://127.0.0.1:{receiver_port}/healthz", timeout=5).json()
            except httpx.HTTPError:
                time.sleep(0.5)
        assert health is not None and health["ok"], "the receiver never answered"
        children = _children(proc.pid)
        assert len(children) >= 2, "dashboard and receiver run as child processes"
        text = _sigterm(proc)
    assert f"http://127.0.0.1:{receiver_port}" in text
    assert not any(_alive(c) for c in children), "a child outlived `up`"


def test_up_refuses_a_receiver_port_already_in_use(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        (tmp_path / "groundswell.toml").write_text(
            f'[receiver]\nport = {taken}\nowned_sites = ["https://www.example.org"]\n'
        )
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        env.pop("GROUNDSWELL_CONFIG", None)
        result = subprocess.run(
            [sys.executable, "-m", "groundswell.cli", "up", "--db",
             f"sqlite:///{tmp_path / 'gs.db'}", "--port", str(_free_port()), "--no-browser"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert result.returncode == 2
    assert f"[receiver].port {taken}" in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
