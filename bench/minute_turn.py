"""The first reader after the minute turns, with the queries run ahead of the minute
(dashboard/ahead.py) and without, in Chromium, in the same run.

A rolling range ("Last 7 days", the default) ends at the next whole minute, so every query of
its view is new each minute. Two dashboard servers read the same store: one as shipped, one with
`GROUNDSWELL_DASHBOARD_AHEAD=off` (the baseline). For each of `--turns` minutes:

- at 40 s into the minute, every page is opened once on each server: the view is open in this
  minute (what the dashboard runs ahead for), and this visit is the "within the minute" one;
- one second after the minute turns, every page is opened again on each server (which server
  goes first alternates by turn): "first after the turn", what a reader arriving then waits for.

Times are from navigation to the page settled (bench/pages.py's `visit`), in a browser profile on
disk per server after two unmeasured visits per page. Server CPU is the dashboard process's CPU
seconds during the visit (the thread running ahead included if it overlaps). The figure to read
is the ratio of the first visit after the turn to the visits within the minute, per server.

Run: `python bench/minute_turn.py --db /path/to/store.db [--turns 4]`. Results:
docs/benchmarks/pages.md ("The first reader after the minute turns").
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.pages import CHROMIUM, CHROMIUM_ARGS, PAGES, VIEWPORT, serve, visit  # noqa: E402

ARMS = ("ahead", "ahead off")
MID_S = 40  # the visit within the minute, seconds after it began
AFTER_S = 1.0  # the first visit after the turn, seconds after it


def _sleep_until(second_of_minute: float) -> None:
    """Sleep until `second_of_minute` of the current minute, or of the next one if past."""
    now = time.time()
    target = (now // 60) * 60 + second_of_minute
    if target <= now:
        target += 60
    time.sleep(target - now)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", required=True, help="a store: a URL, or a SQLite file's path")
    ap.add_argument("--turns", type=int, default=4)
    ap.add_argument("--pages", default="overview,spread,explore", help="comma-separated pages")
    ap.add_argument("--quiet", type=float, default=0.5)
    args = ap.parse_args()
    if "://" not in args.db and not Path(args.db).is_file():
        ap.error(f"--db {args.db}: no such SQLite file")
    url = args.db if "://" in args.db else f"sqlite:///{Path(args.db).resolve()}"
    names = [n for n in args.pages.split(",") if n in PAGES]

    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="gs-turn-"))
    (tmp / "none.toml").write_text("")
    env = {"GROUNDSWELL_DB_URL": url, "GROUNDSWELL_CONFIG": str(tmp / "none.toml")}
    app = ROOT / "dashboard" / "app.py"
    servers = {
        "ahead": serve(app, env, tmp / "ahead.log"),
        "ahead off": serve(app, {**env, "GROUNDSWELL_DASHBOARD_AHEAD": "off"}, tmp / "off.log"),
    }
    # (arm, page, "mid" | "turn") -> [(wall s, server CPU s)]
    seen: dict[tuple[str, str, str], list[tuple[float, float]]] = {}
    try:
        with sync_playwright() as pw:
            contexts: dict[str, Any] = {
                arm: pw.chromium.launch_persistent_context(
                    str(tmp / f"profile-{i}"),
                    executable_path=CHROMIUM,
                    args=CHROMIUM_ARGS,
                    viewport=VIEWPORT,
                )
                for i, arm in enumerate(ARMS)
            }
            pids = frozenset(p.pid for p, _ in servers.values())

            def open_page(arm: str, name: str, when: str | None) -> None:
                proc, base = servers[arm]
                wall, cpu, _, _ = visit(
                    contexts[arm], base + PAGES[name], args.quiet, proc.pid, None, pids
                )
                if when is not None:
                    seen.setdefault((arm, name, when), []).append((wall, cpu))

            for arm in ARMS:  # the bundles compiled and kept, as in a returning reader's browser
                for name in names:
                    for _ in range(2):
                        open_page(arm, name, None)
            for turn in range(args.turns):
                order = ARMS if turn % 2 == 0 else ARMS[::-1]
                _sleep_until(MID_S)
                for arm in order:
                    for name in names:
                        open_page(arm, name, "mid")
                _sleep_until(AFTER_S)
                began = time.strftime("%H:%M:%S")
                for arm in order:
                    for name in names:
                        open_page(arm, name, "turn")
                print(f"  turn {turn + 1} of {args.turns} ({began}, {order[0]} first)", flush=True)
            for context in contexts.values():
                context.close()
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(timeout=20)

    print(f"\n{args.turns} turns; pages from navigation to settled; store {url}")
    print(
        "| page | server | within the minute p50 (s) | first after the turn p50 (s) | "
        "after the turn, max (s) | after / within | server CPU after the turn p50 (s) |"
    )
    print("|---|---|---|---|---|---|---|")
    for name in names:
        for arm in ARMS:
            mid = [w for w, _ in seen[(arm, name, "mid")]]
            after = [w for w, _ in seen[(arm, name, "turn")]]
            cpu = [c for _, c in seen[(arm, name, "turn")]]
            print(
                f"| {name} | {arm} | {statistics.median(mid):.2f} | "
                f"{statistics.median(after):.2f} | {max(after):.2f} | "
                f"{statistics.median(after) / statistics.median(mid):.2f}x | "
                f"{statistics.median(cpu):.2f} |"
            )


if __name__ == "__main__":
    main()
