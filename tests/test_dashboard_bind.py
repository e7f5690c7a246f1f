"""`groundswell dashboard` listens on this machine only unless told otherwise, and will not
listen beyond it with no access gate unless `--public` says so (issue 17 item 5).

The real command starts the real Streamlit; "beyond loopback" is probed on this machine's own
non-loopback address (skipped where it has none)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from domain.settings.config import Settings
from groundswell.cli import app
from groundswell.commands.dashboard import listen_host

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _outside_address() -> str | None:
    """This machine's address on its outward interface (a UDP 'connect' sends nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.123", 9))
        except OSError:
            return None
        ip = str(s.getsockname()[0])
    return None if ip.startswith("127.") or ip == "0.0.0.0" else ip


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture
def run_dashboard(tmp_path: Path) -> Iterator[Callable[..., tuple[int, Path]]]:
    """Start `groundswell dashboard ARGS --port P` on a fresh store; (port, stderr log)."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(*args: str, env: dict[str, str] | None = None) -> tuple[int, Path]:
        port = _free_port()
        log = tmp_path / f"dashboard-{port}.log"
        base_env = {k: v for k, v in os.environ.items() if not k.startswith("GROUNDSWELL_")}
        proc = subprocess.Popen(
            [sys.executable, "-m", "groundswell.cli", "dashboard", *args, "--port", str(port)],
            cwd=tmp_path,
            env={
                **base_env,
                "GROUNDSWELL_DB_URL": f"sqlite:///{tmp_path / 'store.db'}",
                "PYTHONPATH": str(ROOT),
                **(env or {}),
            },
            stdout=subprocess.DEVNULL,
            stderr=log.open("wb"),
            start_new_session=True,  # Streamlit is its child: stop the whole group
        )
        procs.append(proc)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).is_success:
                    return port, log
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"the dashboard did not start: {log.read_text()[-2000:]}")

    yield start
    for proc in procs:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)  # the group this test started, Streamlit included
            except ProcessLookupError:
                break
            try:
                proc.wait(timeout=15)
                break
            except subprocess.TimeoutExpired:
                continue


def test_the_dashboard_with_no_options_answers_on_127_0_0_1_only(run_dashboard):
    outside = _outside_address()
    if outside is None:
        pytest.skip("this machine has no non-loopback IPv4 address to probe")
    port, _ = run_dashboard()
    assert _answers("127.0.0.1", port)
    assert not _answers(outside, port)


def test_listening_beyond_loopback_with_no_access_gate_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("GROUNDSWELL_DASHBOARD_PASSWORD", raising=False)
    monkeypatch.setenv("GROUNDSWELL_DB_URL", f"sqlite:///{tmp_path / 'store.db'}")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["dashboard", "--host", "0.0.0.0", "--port", "1"])
    assert result.exit_code == 2
    assert "no access gate" in result.output and "--public" in result.output


def test_public_listens_beyond_loopback_with_a_warning(run_dashboard):
    outside = _outside_address()
    if outside is None:
        pytest.skip("this machine has no non-loopback IPv4 address to probe")
    port, log = run_dashboard("--host", "0.0.0.0", "--public")
    assert _answers(outside, port)
    assert "warning" in log.read_text() and "no access gate" in log.read_text()


def test_a_dashboard_password_lets_the_dashboard_listen_beyond_loopback(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no .streamlit/secrets.toml here
    monkeypatch.setenv("GROUNDSWELL_DASHBOARD_PASSWORD", "a long shared passphrase")
    assert listen_host("0.0.0.0", False, Settings()) == "0.0.0.0"
