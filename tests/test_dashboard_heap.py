"""The dashboard leaves its start-up heap out of the collector's full passes, once."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _fresh_python(code: str) -> str:
    """What `code` prints in a fresh interpreter (freezing lasts for a process's life)."""
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip()


def test_the_start_up_heap_is_frozen_once_per_process():
    code = (
        "import gc\n"
        "from dashboard.heap import freeze_start_up_heap\n"
        "alive = [object() for _ in range(1000)]\n"
        "assert gc.get_freeze_count() == 0\n"
        "assert freeze_start_up_heap() is True\n"
        "frozen = gc.get_freeze_count()\n"
        "assert frozen >= 1000, frozen\n"
        "more = [[] for _ in range(500)]\n"
        "assert freeze_start_up_heap() is False\n"
        "assert gc.get_freeze_count() == frozen\n"
        "print('ok')\n"
    )
    assert _fresh_python(code) == "ok"


def test_the_dashboard_freezes_its_heap_after_its_first_page(tmp_path):
    """The Overview run once (AppTest, in a fresh interpreter) leaves the heap frozen."""
    from storage.engine import make_engine
    from storage.migrate import upgrade
    from tests.dashboard_data import small_conversation

    url = f"sqlite:///{tmp_path / 'gs.db'}"
    engine = make_engine(url)
    upgrade(engine)
    small_conversation(engine)
    engine.dispose()
    code = (
        "import gc, os\n"
        "from streamlit.testing.v1 import AppTest\n"
        f"os.environ['GROUNDSWELL_DB_URL'] = {url!r}\n"
        f"at = AppTest.from_file({str(ROOT / 'dashboard' / 'app.py')!r}, default_timeout=60)\n"
        "assert gc.get_freeze_count() == 0\n"
        "at.run()\n"
        "assert not at.exception, at.exception\n"
        "print(gc.get_freeze_count())\n"
    )
    assert int(_fresh_python(code).split()[-1]) > 10_000  # the modules' objects, not a handful
    assert gc.isenabled()  # collection itself stays on
