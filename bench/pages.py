"""What a person waits for: every dashboard page and the wall, in Chromium, from navigation to
the page settled, warm and cold, against a blank Streamlit page served in the same run.

DESIGN.md section 7 sets query p95s; a page is more than its queries (Streamlit's script run,
the websocket round trips, Plotly drawing its figures). This measures the whole wait:

- the store: the offline demo (`--mentions`, default 20,000) in a fresh SQLite file, or an
  existing store (`--db`);
- Streamlit servers started here: the dashboard (`dashboard/app.py`) and a blank app (one
  `st.write`), same flags, so the difference is what our pages add;
- "settled": the app has drawn something, its script run has finished (the
  `data-test-script-state` Streamlit keeps on its root element; until 7 Dec a page whose
  query kept the server quiet for longer than the quiet window could count as settled
  half-drawn), its running indicator is gone, no element has been added, removed or changed
  for `--quiet` seconds (default 0.5 s), and every Plotly chart in view (Streamlit's, or a
  custom component's, as the basic-bundle charts are) has drawn its SVG; the time reported
  is when the last change happened, measured from navigation start (`performance.now()`), so
  the quiet window itself is not counted. (Until 8 Dec every chart on the page; since then a
  chart below the fold is drawn when the reader scrolls near it, dashboard/static/chart.js;)
- scrolled: after settled, each chart below the fold is scrolled into view in turn, and the
  time from the scroll to its drawing is what a reader waits for on reaching it (the first
  one also starts plotly.js; a reader scrolling by hand starts it 300 px ahead);
- cold: a page's first visit from a new browser profile (empty HTTP and compiled-code
  caches) to a dashboard server started just before it (empty `st.cache_data`): each page
  gets its own fresh server, so no page's cold visit is warmed by another's;
- second: the next visit, reported on its own: Chromium keeps a script's compiled code from
  its second run on, so a reader's second visit still compiles (and stores) the bundles;
- warm: `--runs` further visits (default 5), each a new tab (a new Streamlit session) in the
  same browser profile after those two, as a person who comes back or reloads: the
  browser's HTTP cache and V8's code cache hold Streamlit's and Plotly's bundles, the
  server's `st.cache_data` holds the queries. The profile is a browser profile on disk (a
  new one per page), as a reader's browser has: Playwright's usual contexts are incognito
  ones, which keep no compiled code between tabs, so each tab compiled the bundles again
  (`--incognito` keeps that measure, used from 7 to 8 Dec; until 7 Dec each warm visit also
  opened a new context, `--fresh-context-warm`: a cold HTTP cache too);
- menu: `--runs` moves to the page by its link in the sidebar menu, from another page of an
  open tab (the Overview; Events for the Overview), after one unmeasured round trip:
  Streamlit swaps the page inside the same document, so no bundle is loaded or evaluated
  again; from the click to settled. What a reader going through the pages waits for;
- `--compare PATH`: also serve the dashboard of another checkout (e.g. a worktree of the
  old commit) against the same store and measure its pages in the same run ("old: ...");
- server CPU: the CPU seconds the Streamlit server spent during each warm visit, from
  /proc (the figure that does not swing with the machine's load; wall time on a shared
  2-core machine does, by 10x);
- browser CPU: the CPU seconds Chromium's processes (and Playwright's driver) spent from the
  visit's start to settled, from /proc: the browser's drawing, also load-independent, and the
  figure to compare before and after a change to what a page draws.

Run: `python bench/pages.py [--mentions 20000] [--runs 5]`. Results: docs/benchmarks/pages.md.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

CHROMIUM = os.environ.get("GROUNDSWELL_CHROMIUM", "/usr/bin/chromium")
PAGES = {
    "overview": "/",
    "overview (/overview)": "/overview",
    "spread": "/spread",
    "amplifiers": "/amplifiers",
    "events": "/events",
    "explore": "/explore",
    "wall": "/wall?embed=true",
    "wall both": "/wall?embed=true&mode=both",
}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"]
VIEWPORT = {"width": 1600, "height": 1000}
BLANK_APP = 'import streamlit as st\n\nst.write("ready")\n'

# Plotly charts on a page: Streamlit's own, and the custom components that draw the basic-bundle
# charts (dashboard/basic_charts.py; counted from the element Streamlit mounts, before the
# component's module has loaded); each is drawn once it holds plotly.js's SVG.
CHARTS_JS = (
    'const CHARTS = \'[data-testid="stPlotlyChart"], [data-testid="stBidiComponentRegular"]\';'
    # A chart in view (or mounted but not yet sized) must have drawn; one below the fold waits
    # until the reader scrolls near it (dashboard/static/chart.js), which SCROLL_WAITS times.
    "const inView = (c) => { const r = c.getBoundingClientRect();"
    " return r.width > 0 && r.top < innerHeight && r.bottom >= 0; };"
    "const viewDrawn = () => [...document.querySelectorAll(CHARTS)]"
    ".filter(inView).every((c) => c.querySelector('.main-svg'));"
)

# Resolves with the moment (ms since navigation start) of the last change before a quiet
# window, once the page has content, no running indicator, and every Plotly chart drawn.
SETTLED = (
    """async (quietMs) => {
  """
    + CHARTS_JS
    + """
  const scriptDone = () => {
    const app = document.querySelector('[data-testid="stApp"]');
    return !!app && app.getAttribute('data-test-script-state') === 'notRunning';
  };
  while (!document.documentElement) await new Promise(r => setTimeout(r, 10));
  let last = performance.now();
  const obs = new MutationObserver(() => { last = performance.now(); });
  obs.observe(document.documentElement, {subtree: true, childList: true, attributes: true,
                              characterData: true});
  const ready = () => {
    const main = document.querySelector('[data-testid="stMain"], .stMain, .gs-stage');
    if (!main || !main.innerText.trim()) return false;
    // The script run has finished (Streamlit's own flag on its root element): a query that
    // keeps the server quiet for longer than the quiet window must not end the wait early.
    if (!scriptDone()) return false;
    // Streamlit draws its status widget ("Running...") only while a script run is going,
    // and skeletons while a page's first elements are on their way.
    if (document.querySelector('[data-testid="stStatusWidget"] button,'
        + ' [data-testid="stSkeleton"], [data-testid="stAppSkeleton"]')) return false;
    return viewDrawn();
  };
  while (true) {
    await new Promise(r => setTimeout(r, 50));
    const now = performance.now();
    if (ready() && now - last >= quietMs) { obs.disconnect(); return last; }
    if (now > 120000) { obs.disconnect(); return -1; }
  }
}"""
)


# After settled: each chart not drawn yet (below the fold) scrolled into view in turn; resolves
# with the ms from each scroll to that chart drawn: what a reader waits for on scrolling down
# to a chart (the first one also starts plotly.js).
SCROLL_WAITS = (
    """async () => {
  """
    + CHARTS_JS
    + """
  const waits = [];
  const later = [...document.querySelectorAll(CHARTS)].filter((c) => !c.querySelector('.main-svg'));
  for (const c of later) {
    const t0 = performance.now();
    c.scrollIntoView({block: 'center'});
    while (!c.querySelector('.main-svg')) {
      await new Promise(r => setTimeout(r, 10));
      if (performance.now() - t0 > 60000) return [-1];
    }
    waits.push(performance.now() - t0);
  }
  return waits;
}"""
)


# A click on the page's link in the sidebar menu of an open dashboard tab, as a reader moves
# between pages: Streamlit swaps the page in the same document (no bundle is loaded again).
# Resolves with ms from the click to the last change before a quiet window, once the address
# is the page's, its title is drawn, nothing is stale (greyed) and every chart is drawn.
NAV_SETTLED = (
    """async ([path, title, quietMs]) => {
  """
    + CHARTS_JS
    + """
  const scriptDone = () => {
    const app = document.querySelector('[data-testid="stApp"]');
    return !!app && app.getAttribute('data-test-script-state') === 'notRunning';
  };
  const t0 = performance.now();
  let last = t0;
  const obs = new MutationObserver(() => { last = performance.now(); });
  obs.observe(document.documentElement, {subtree: true, childList: true, attributes: true,
                              characterData: true});
  const link = [...document.querySelectorAll('[data-testid="stSidebarNav"] a')]
    .find(a => new URL(a.href).pathname === path);
  if (!link) { obs.disconnect(); return -2; }
  link.click();
  const ready = () => {
    if (location.pathname !== path || !scriptDone()) return false;
    const h1 = document.querySelector('[data-testid="stMain"] h1');
    if (!h1 || h1.innerText.trim() !== title) return false;
    if (document.querySelector('[data-testid="stStatusWidget"] button, [data-stale="true"],'
        + ' [data-testid="stSkeleton"]')) return false;
    return viewDrawn();
  };
  while (true) {
    await new Promise(r => setTimeout(r, 50));
    const now = performance.now();
    if (ready() && now - last >= quietMs) { obs.disconnect(); return last - t0; }
    if (now - t0 > 120000) { obs.disconnect(); return -1; }
  }
}"""
)
# Pages reachable from the sidebar menu: (path, title); each is reached from the Overview, the
# Overview from Events.
MENU = {
    "overview": ("/", "Overview"),
    "spread": ("/spread", "Spread"),
    "amplifiers": ("/amplifiers", "Amplifiers"),
    "events": ("/events", "Events"),
    "explore": ("/explore", "Explore & export"),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(
    script: Path, env: dict[str, str], log: Path, root: Path = ROOT
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(script),
            "--server.headless=true",
            f"--server.port={port}",
            "--server.address=127.0.0.1",
            "--browser.gatherUsageStats=false",
            "--server.fileWatcherType=none",
        ],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root), **env},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/_stcore/health", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise SystemExit(f"{script} did not start: {log.read_text()[-2000:]}")


TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used: the load-independent part of a wait
    on a shared machine, where wall time swings with everyone else's work."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def browser_cpu_s(exclude: set[int]) -> float:
    """CPU seconds used so far by this process's descendants (Playwright's driver, Chromium's
    browser, renderer and GPU processes), the Streamlit servers' trees excluded: live ones'
    own time plus what each has reaped (a closed renderer's time moves to its parent's
    cutime, so the sum is conserved). The browser's share of a wait, load-independent."""
    parent: dict[int, int] = {}
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (st := _stat(int(entry.name))) is not None:
            stats[int(entry.name)] = st
            parent[int(entry.name)] = int(st[1])
    me = os.getpid()

    def mine(pid: int) -> bool:
        while pid > 1:
            if pid in exclude:
                return False
            pid = parent.get(pid, 1)
            if pid == me:
                return True
        return False

    total = 0
    for pid, st in stats.items():
        if pid != me and pid not in exclude and mine(pid):
            total += int(st[11]) + int(st[12]) + int(st[13]) + int(st[14])
    return total / TICK


def visit(
    context: Any,
    url: str,
    quiet_s: float,
    server: int,
    shot: Path | None = None,
    servers: frozenset[int] = frozenset(),
) -> tuple[float, float, float, list[float]]:
    """Seconds from navigation start to the page settled, in a new tab of `context` (a new
    Streamlit session), the CPU seconds the Streamlit server spent meanwhile, the browser's
    CPU seconds (its processes, measured before the tab closes), and then, for each chart
    below the fold, the seconds from scrolling to it to its drawing (SCROLL_WAITS)."""
    page = context.new_page()
    before = cpu_s(server)
    b_before = browser_cpu_s(set(servers))
    try:
        page.goto(url, wait_until="commit", timeout=120_000)
        ms = page.evaluate(SETTLED, int(quiet_s * 1000))
        b_after = browser_cpu_s(set(servers))
        server_s = cpu_s(server) - before
        if shot is not None:
            page.screenshot(path=str(shot))
        waits = [math.inf if w < 0 else w / 1000 for w in page.evaluate(SCROLL_WAITS)]
    finally:
        page.close()
    wall = math.inf if ms < 0 else ms / 1000
    return wall, server_s, b_after - b_before, waits


def menu_visits(
    context: Any, base: str, name: str, runs: int, quiet_s: float, server: int
) -> tuple[list[float], list[float]]:
    """`runs` moves to the page by its menu link from another page of the same tab (the
    Overview, or Events for the Overview; and back, unmeasured), after one unmeasured round
    trip: seconds from the click to settled, and the browser's CPU seconds."""
    path, title = MENU[name]
    home_path, home_title = MENU["events" if name == "overview" else "overview"]
    page = context.new_page()
    walls: list[float] = []
    cpus: list[float] = []
    try:
        page.goto(base + home_path, wait_until="commit", timeout=120_000)
        page.evaluate(SETTLED, int(quiet_s * 1000))
        # one unmeasured round trip first: the reader has been to the page before
        page.evaluate(NAV_SETTLED, [path, title, int(quiet_s * 1000)])
        page.evaluate(NAV_SETTLED, [home_path, home_title, int(quiet_s * 1000)])
        for _ in range(runs):
            b_before = browser_cpu_s({server})
            ms = page.evaluate(NAV_SETTLED, [path, title, int(quiet_s * 1000)])
            cpus.append(browser_cpu_s({server}) - b_before)
            walls.append(math.inf if ms < 0 else ms / 1000)
            page.evaluate(NAV_SETTLED, [home_path, home_title, int(quiet_s * 1000)])
    finally:
        page.close()
    return walls, cpus


def p95(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, math.ceil(0.95 * len(xs)) - 1)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mentions", type=int, default=20_000)
    ap.add_argument(
        "--db", help="an existing store (a URL, or a SQLite file's path) instead of a fresh demo"
    )
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--quiet", type=float, default=0.5)
    ap.add_argument("--pages", default=",".join(PAGES), help="comma-separated page names")
    ap.add_argument(
        "--compare",
        metavar="PATH",
        help="another checkout (e.g. a worktree of the old commit) whose dashboard is measured "
        "too, against the same store, in the same run",
    )
    ap.add_argument(
        "--fresh-context-warm",
        action="store_true",
        help="each warm visit in a new browser context (the measure used until 7 Dec: a cold "
        "browser cache on every visit)",
    )
    ap.add_argument(
        "--incognito",
        action="store_true",
        help="the warm visits in an incognito browser context, as measured from 7 to 8 Dec: it "
        "keeps no compiled code between tabs, which a reader's own browser profile does",
    )
    ap.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also print every warm visit (wall, server CPU, browser CPU, the minute it began): "
        "a p95 of a few runs is its slowest visit, and this says why that one was slow",
    )
    args = ap.parse_args()

    from playwright.sync_api import sync_playwright

    # Stopped with SIGTERM (a timeout), still stop the running Streamlit server (finally).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    tmp = Path(tempfile.mkdtemp(prefix="gs-pages-"))
    if args.db:
        # A bare path is a SQLite file (a dashboard given it shows only an error, which the
        # runs below would wait for until their timeouts).
        url = args.db if "://" in args.db else f"sqlite:///{Path(args.db).resolve()}"
        if "://" not in args.db and not Path(args.db).is_file():
            ap.error(f"--db {args.db}: no such SQLite file")
    else:
        from groundswell.demo import load_demo
        from storage.engine import make_engine
        from storage.migrate import upgrade

        url = f"sqlite:///{tmp / 'demo.db'}"
        engine = make_engine(url)
        upgrade(engine)
        started = time.monotonic()
        load_demo(engine, mentions=args.mentions)
        engine.dispose()
        print(f"demo store: {args.mentions:,} mentions in {time.monotonic() - started:.0f} s")
    blank_script = tmp / "blank.py"
    blank_script.write_text(BLANK_APP)
    env = {"GROUNDSWELL_DB_URL": url, "GROUNDSWELL_CONFIG": str(tmp / "none.toml")}
    (tmp / "none.toml").write_text("")
    names = [n for n in args.pages.split(",") if n in PAGES]
    roots = [("", ROOT)] + ([("old: ", Path(args.compare).resolve())] if args.compare else [])
    load = os.getloadavg()[0]
    rows: list[tuple[str, float, float, list[float], list[float], list[float], list[float]]] = []
    menus: dict[str, tuple[list[float], list[float]]] = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)

        profiles = itertools.count()
        incognito = args.incognito or args.fresh_context_warm

        def new_context() -> Any:
            """A browser context as a reader's browser has one: a new profile on disk (its HTTP
            cache and V8's code cache kept between tabs), or an incognito one (--incognito,
            --fresh-context-warm), which keeps no compiled code between tabs."""
            if incognito:
                return browser.new_context(viewport=VIEWPORT)
            return pw.chromium.launch_persistent_context(
                str(tmp / f"profile-{next(profiles)}"),
                executable_path=CHROMIUM,
                args=CHROMIUM_ARGS,
                viewport=VIEWPORT,
            )

        def measure(
            name: str, script: Path, root: Path, path: str, env: dict[str, str], menu_name: str
        ) -> None:
            """A fresh server and a new browser context: one cold visit, then `--runs` warm
            visits (new tabs in the same context, or new contexts with --fresh-context-warm),
            then `--runs` moves to the page by its menu link (pages in MENU)."""
            log = tmp / f"{name.replace(' ', '-').replace('/', '').replace(':', '')}.log"
            server, base = serve(script, env, log, root)
            shot = log.with_suffix(".png")
            try:
                context = new_context()
                servers = frozenset({server.pid})
                cold, _, _, _ = visit(context, base + path, args.quiet, server.pid, shot, servers)
                # Chromium keeps a script's compiled code from its second run on: a reader's
                # second visit still compiles (and stores) the bundles, the third and later use
                # them. The second visit is reported on its own; warm is the visits after it.
                second = (
                    visit(context, base + path, args.quiet, server.pid, None, servers)[0]
                    if not incognito
                    else math.nan
                )
                warm = []
                for _ in range(args.runs):
                    if args.fresh_context_warm:
                        context.close()
                        context = new_context()
                    began = time.strftime("%H:%M:%S")
                    warm.append(visit(context, base + path, args.quiet, server.pid, None, servers))
                    if args.verbose:
                        w, c, b, sc = warm[-1]
                        print(
                            f"    {name} warm at {began}: {w:.2f} s, server CPU {c:.2f} s, "
                            f"browser CPU {b:.2f} s, scrolled to charts below the fold: "
                            + (", ".join(f"{x:.2f} s" for x in sc) or "none"),
                            flush=True,
                        )
                if menu_name in MENU:
                    menus[name] = menu_visits(
                        context, base, menu_name, args.runs, args.quiet, server.pid
                    )
                context.close()
            finally:
                server.terminate()
                server.wait(timeout=20)
            rows.append(
                (
                    name,
                    cold,
                    second,
                    [w[0] for w in warm],
                    [w[1] for w in warm],
                    [w[2] for w in warm],
                    [x for w in warm for x in w[3]],
                )
            )
            print(
                f"  {name}: cold {cold:.2f} s, warm p95 {p95([w[0] for w in warm]):.2f} s, "
                f"server CPU p95 {p95([w[1] for w in warm]):.2f} s, "
                f"browser CPU p95 {p95([w[2] for w in warm]):.2f} s",
                flush=True,
            )

        measure("blank Streamlit page", blank_script, ROOT, "/", {}, "")
        for name in names:
            for label, root in roots:
                measure(label + name, root / "dashboard" / "app.py", root, PAGES[name], env, name)
        browser.close()
    base_wall, base_cpu = p95(rows[0][3]), p95(rows[0][4])
    base_browser = statistics.median(rows[0][5])
    print(f"screenshots at settled: {tmp}/*.png")
    print(
        f"\nload average at start {load:.1f}; {args.runs} warm runs per page; quiet {args.quiet} s"
    )
    print(
        "| page | cold (s) | second visit (s) | warm p50 (s) | warm p95 (s) | p95 over blank (s) | "
        "server CPU p95 (s) | CPU over blank (s) | browser CPU p50 (s) | browser CPU / blank | "
        "charts below the fold | scrolled to one, drawn in p95 (s) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, cold, second, warm, cpu, bcpu, waits in rows:
        ratio = statistics.median(bcpu) / max(base_browser, 0.01)
        below = f"{len(waits) / len(warm):.0f} | {p95(waits):.2f}" if waits else "0 | -"
        print(
            f"| {name} | {cold:.2f} | {second:.2f} | {statistics.median(warm):.2f} | "
            f"{p95(warm):.2f} | "
            f"{p95(warm) - base_wall:+.2f} | {p95(cpu):.2f} | {p95(cpu) - base_cpu:+.2f} | "
            f"{statistics.median(bcpu):.2f} | {ratio:.1f}x | {below} |"
        )
    if menus:
        print(
            "\nBy the sidebar menu (a click from another page of an open tab: the same document,"
            " no bundle loaded again):"
        )
        print("| page | menu p50 (s) | menu p95 (s) | p95 over blank (s) | browser CPU p50 (s) |")
        print("|---|---|---|---|---|")
        for name, (walls, cpus) in menus.items():
            print(
                f"| {name} | {statistics.median(walls):.2f} | {p95(walls):.2f} | "
                f"{p95(walls) - base_wall:+.2f} | {statistics.median(cpus):.2f} |"
            )


if __name__ == "__main__":
    main()
