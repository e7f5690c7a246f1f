"""`groundswell up` (what `scripts/up.sh` runs) says it is up only when it is, and opens a
browser only where there is a display to open it on."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.test_demo_up import WAIT_S, _free_port

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_up_on_the_demo_says_up_after_loading_and_names_the_address_without_a_display(
    tmp_path: Path,
) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "GROUNDSWELL_CONFIG", "GROUNDSWELL_DB_URL")
    }
    port = _free_port()
    args = ["up", "--db", f"sqlite:///{tmp_path / 'gs.db'}", "--port", str(port)]
    args += ["--demo-mentions", "2000"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "groundswell.cli", *args],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT), "COLUMNS": "200"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout or []), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline and not any("open http" in ln for ln in lines):
            assert proc.poll() is None, "".join(lines)
            time.sleep(0.3)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=WAIT_S)
        reader.join(timeout=10)
    text = "".join(lines)
    loaded = text.index("mentions loaded")
    assert text.index("Groundswell is up") > loaded, text  # not before the demo is there
    assert f"open http://localhost:{port} in yours" in text
