"""Real-browser fixtures: Debian's Chromium driven by Playwright, and the Streamlit dashboard
started for real (`streamlit run dashboard/app.py`) on a free port against a given store.

Outside CI a missing Chromium skips these tests with a message; in CI (CI=true, set by
`.ci/run`) it is an error, because the dashboard must be shown to work in a real browser.
Screenshots go to tests/browser/artifacts/ (ignored by git) for a human to look at.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from tests.conftest import migrated_sqlite

CHROMIUM = os.environ.get("GROUNDSWELL_CHROMIUM", "/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(__file__).parent / "artifacts"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = str(Path(__file__).parent)
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(pytest.mark.browser)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """One headless Chromium for the session (Playwright's sync API)."""
    if not Path(CHROMIUM).exists():
        msg = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
        if IN_CI:
            pytest.fail(msg + "; CI must run the browser tests (.ci/run installs it)")
        pytest.skip(msg)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
        )
        yield b
        b.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1600, "height": 1000})  # type: ignore[attr-defined]
    p = context.new_page()
    yield p
    context.close()


@pytest.fixture
def streamlit_app(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """Start the real dashboard against a store URL; returns its base URL. Stopped afterwards."""
    yield from streamlit_starter(tmp_path)


@pytest.fixture(scope="module")
def module_streamlit_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., str]]:
    """`streamlit_app` shared by a module's tests (one dashboard, each test in a fresh browser
    context), for tests whose set-up costs more than the test."""
    yield from streamlit_starter(tmp_path_factory.mktemp("streamlit"))


def streamlit_starter(tmp_path: Path) -> Iterator[Callable[..., str]]:
    procs: list[subprocess.Popen[bytes]] = []

    def start(
        db_url: str,
        *,
        env: dict[str, str] | None = None,
        timeout: float = 90,
        args: tuple[str, ...] = (),
    ) -> str:
        port = free_port()
        log = open(tmp_path / f"streamlit-{port}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                str(ROOT / "dashboard" / "app.py"),
                "--server.headless=true",
                f"--server.port={port}",
                "--server.address=127.0.0.1",
                "--browser.gatherUsageStats=false",
                "--server.fileWatcherType=none",
                *args,
            ],
            cwd=ROOT,
            env={
                # a developer's own dashboard password would close every page under test
                **{k: v for k, v in os.environ.items() if k != "GROUNDSWELL_DASHBOARD_PASSWORD"},
                "GROUNDSWELL_DB_URL": db_url,
                "PYTHONPATH": str(ROOT),
                **(env or {}),
            },
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        procs.append(proc)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"streamlit exited with {proc.returncode}: "
                    + (tmp_path / f"streamlit-{port}.log").read_text()[-2000:]
                )
            try:
                if httpx.get(f"{base}/_stcore/health", timeout=2).status_code == 200:
                    return base
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"streamlit did not become healthy on {base} in {timeout} s")

    yield start
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def module_sqlite_store(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[Engine]:
    """A migrated, empty SQLite store shared by a module's tests (seed it once, only read it)."""
    engine = migrated_sqlite(sqlite_template, tmp_path_factory.mktemp("store") / "gs.db")
    yield engine
    engine.dispose()
