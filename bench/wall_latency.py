"""Live wall latency: a post accepted by a (local) Mastodon server -> visible on the wall.

DESIGN.md section 7: p95 at most 5 s when the collector streams, at most the poll interval
+ 2 s when it polls. Everything on the path is real: a local Mastodon instance speaking the
wire format (tests/servers/mastodon_server.py), the Mastodon.py client, our parse functions
and write path into SQLite, `streamlit run dashboard/app.py` serving `/wall?embed=true`, and
headless Chromium showing it. A MutationObserver in the page stamps when each card first
appears in the DOM; the server stamps when it accepted the post (same machine, same clock).

Modes, each measured in the same run:
- direct: the post is written to the store the moment it is accepted (no collector at all).
  The baseline: what the wall itself adds (its refresh interval and rendering).
- stream: the real streaming collector (`collectors.mastodon.stream.HashtagStream`: Mastodon.py's
  hashtag stream, server-sent events), which writes each update as it arrives.
- poll: the real MastodonCollector run by the real Runner every `--poll` seconds.

Posts arrive at random gaps (uniform 0.5-3.5 s) so they land at random phases of the poll and
refresh cycles. Run: `python bench/wall_latency.py [--posts 20] [--poll 10] [--refresh 3]`.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import select  # noqa: E402

from collectors.mastodon.parse import parse_status, to_plain  # noqa: E402
from collectors.mastodon.stream import HashtagStream  # noqa: E402
from domain.records import Batch, mention_id  # noqa: E402
from storage.catalog import load_rules  # noqa: E402
from storage.engine import make_engine, write_tx  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import Source  # noqa: E402
from storage.write import write_batch  # noqa: E402
from tests.mastodon_support import runner_for, settings_for  # noqa: E402
from tests.servers.mastodon_server import MastodonServer, make_account, make_status  # noqa: E402

CHROMIUM = os.environ.get("GROUNDSWELL_CHROMIUM", "/usr/bin/chromium")
TOKEN = "bench-token"
DOMAIN = "assembly.example"
OBSERVER = """() => {
  window.__seen = {};
  const stamp = () => {
    for (const el of document.querySelectorAll('[data-mention-id]')) {
      const id = el.getAttribute('data-mention-id');
      if (!(id in window.__seen)) window.__seen[id] = Date.now();
    }
  };
  new MutationObserver(stamp).observe(document.body, {childList: true, subtree: true});
  stamp();
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (no interpolation: an observed latency)."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[k]


class Wall:
    """The real dashboard in a subprocess and a Chromium page on its wall."""

    def __init__(self, db_url: str, refresh_s: int, workdir: Path) -> None:
        config = workdir / "groundswell.toml"
        config.write_text(f"[wall]\nrefresh_s = {refresh_s}\nmax_cards = 40\n")
        self.port = free_port()
        self.log = open(workdir / "streamlit.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard" / "app.py"),
                "--server.headless=true", f"--server.port={self.port}",
                "--server.address=127.0.0.1", "--browser.gatherUsageStats=false",
                "--server.fileWatcherType=none",
            ],
            cwd=ROOT,
            env={**os.environ, "GROUNDSWELL_DB_URL": db_url, "GROUNDSWELL_CONFIG": str(config),
                 "PYTHONPATH": str(ROOT)},
            stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/_stcore/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            raise RuntimeError("streamlit did not start; see streamlit.log")
        from playwright.sync_api import sync_playwright

        self.pw = sync_playwright().start()
        self.browser = self.pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        self.page = self.browser.new_page(viewport={"width": 1920, "height": 1080})
        self.page.goto(f"{base}/wall?embed=true", wait_until="domcontentloaded")
        self.page.wait_for_selector(".gs-head", timeout=60_000)
        self.page.evaluate(OBSERVER)

    def seen(self) -> dict[int, float]:
        raw = self.page.evaluate("() => window.__seen")
        return {int(k): v / 1000 for k, v in raw.items()}

    def close(self) -> None:
        self.browser.close()
        self.pw.stop()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def _source_keys(engine: Any) -> list[str]:
    with engine.connect() as conn:
        return [r[0] for r in conn.execute(select(Source.__table__.c.key))]


def write_status(engine: Any, status: dict[str, Any]) -> None:
    parsed = parse_status(to_plain(status), DOMAIN)
    with engine.connect() as conn:
        rules = load_rules(conn)
    with write_tx(engine) as conn:
        write_batch(
            conn,
            Batch(mentions=[parsed.mention], edges=parsed.edges, accounts=parsed.accounts),
            rules,
        )


def run_mode(
    mode: str,
    engine: Any,
    server: MastodonServer,
    wall: Wall,
    posts: int,
    rng: random.Random,
    seq: list[int],
) -> list[float]:
    """Post `posts` statuses to the server and return each one's accepted->visible seconds."""
    accepted: dict[int, float] = {}
    stop = threading.Event()
    worker: threading.Thread | None = None
    if mode == "stream":
        runner = worker_runner[0]
        [key] = _source_keys(engine)
        stream = HashtagStream(engine, runner.context, key, stop=stop, read_timeout_s=30)
        worker = threading.Thread(target=stream.run, daemon=True)
        worker.start()
        deadline = time.monotonic() + 30
        while server.stream_count() == 0 and time.monotonic() < deadline:
            time.sleep(0.05)  # connected (after its timeline catch-up)
    elif mode == "poll":
        runner = worker_runner[0]
        worker = threading.Thread(target=runner.run_loop, args=(stop,),
                                  kwargs={"idle_sleep_s": 0.2}, daemon=True)  # fmt: skip
        worker.start()
    author = make_account("ada", DOMAIN, display_name=f"Ada ({mode})")
    try:
        for _ in range(posts):
            time.sleep(rng.uniform(0.5, 3.5))
            seq[0] += 1
            status = make_status(DOMAIN, "ada", seq[0], text=f"{mode} post {seq[0]}",
                                 created_at=datetime.now(UTC), account=author)  # fmt: skip
            local = server.carry(status)  # the server accepts the post (and streams it)
            t_accept = time.time()
            accepted[mention_id("mastodon", local["uri"])] = t_accept
            if mode == "direct":
                write_status(engine, local)
        deadline = time.time() + 60
        while time.time() < deadline and not set(accepted) <= set(wall.seen()):
            time.sleep(0.2)
    finally:
        stop.set()
        if worker is not None:
            worker.join(timeout=30)
    seen = wall.seen()
    missing = [m for m in accepted if m not in seen]
    if missing:
        print(f"  {mode}: {len(missing)} posts never appeared on the wall within 60 s")
    return [seen[m] - t for m, t in accepted.items() if m in seen]


worker_runner: list[Any] = []


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--posts", type=int, default=20, help="posts per mode")
    ap.add_argument("--poll", type=int, default=10, help="collector poll interval, s (>= 3)")
    ap.add_argument("--refresh", type=int, default=3, help="wall refresh interval, s")
    ap.add_argument("--modes", default="direct,stream,poll")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="gs-wall-bench-"))
    db_url = f"sqlite:///{work / 'gs.db'}"
    engine = make_engine(db_url)
    upgrade(engine)
    server = MastodonServer(DOMAIN, tokens=(TOKEN,)).start()
    os.environ["GS_BENCH_MASTODON_TOKEN"] = TOKEN  # streaming needs a token (Mastodon >= 4.2)
    settings = settings_for(
        server,
        backfill_days=1,
        interval_s=args.poll,
        timeout_s=5.0,
        token_env="GS_BENCH_MASTODON_TOKEN",
    )
    runner, _ = runner_for(engine, settings)  # also creates the movement and the source
    runner.run_once()  # first run: backfill of an empty timeline, cursor set
    worker_runner.append(runner)
    wall = Wall(db_url, args.refresh, work)
    results: dict[str, list[float]] = {}
    seq = [0]
    try:
        for mode in args.modes.split(","):
            print(f"measuring {mode} ({args.posts} posts)...", flush=True)
            results[mode] = run_mode(mode, engine, server, wall, args.posts, rng, seq)
    finally:
        wall.close()
        server.stop()
        engine.dispose()
        shutil.rmtree(work, ignore_errors=True)
    goals = {"direct": None, "stream": 5.0, "poll": args.poll + 2.0}
    base = results.get("direct")
    base_p95 = percentile(base, 95) if base else None
    print(f"\nwall refresh {args.refresh} s, collector poll {args.poll} s, {args.posts} posts/mode")
    print(f"{'mode':8} {'n':>3} {'p50 s':>7} {'p95 s':>7} {'max s':>7} {'goal s':>7} "
          f"{'p95/goal':>9} {'p95/direct':>11}")  # fmt: skip
    for mode, lat in results.items():
        if not lat:
            print(f"{mode:8} no post appeared")
            continue
        p95 = percentile(lat, 95)
        goal = goals.get(mode)
        ratio = f"{p95 / goal:9.2f}" if goal else f"{'-':>9}"
        rel = f"{p95 / base_p95:11.2f}" if base_p95 else f"{'-':>11}"
        print(f"{mode:8} {len(lat):3d} {statistics.median(lat):7.2f} {p95:7.2f} {max(lat):7.2f} "
              f"{goal if goal else '-':>7} {ratio} {rel}")  # fmt: skip
    verdicts = [
        f"{m}: {'PASS' if percentile(v, 95) <= goals[m] else 'FAIL'}"
        for m, v in results.items()
        if v and goals.get(m)
    ]
    print("goals: " + ", ".join(verdicts))


if __name__ == "__main__":
    main()
