"""`groundswell up`: the main job. Store, collectors (or the demo), dashboard, in one command.

1. create or upgrade the store and load the config's movements, events and sources;
2. in a background thread: the collect loop when the config lists sources, otherwise the
   offline demo (three weeks of history at once, then new posts live at 1x);
3. the Streamlit dashboard on the same store, as a child process;
4. when `[receiver].owned_sites` lists sites: the pingback/Webmention receiver, as a second child
   process (pingbacks arrive whenever someone links to you; a receiver that is not running when
   they do loses them, so the main job runs it rather than leaving it to be remembered);
5. Ctrl-C or SIGTERM: the collector finishes its batch, the children are terminated, exit 0.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
import webbrowser
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from sqlalchemy import Engine

from domain.settings.config import Settings
from groundswell.app import (
    ConfigOpt,
    DbOpt,
    _print_outcome,
    _setup_logging,
    app,
    console,
    fail,
    load_config,
    open_store,
    out,
    store_url,
    sync_config,
)
from groundswell.commands.dashboard import LOOPBACK_HOST, HostOpt, PublicOpt
from groundswell.commands.demo import SeedOpt, _Stopper, live_printer, load_history
from net.fetcher import Fetcher, FetchError, FetchPolicy
from storage.engine import describe_url

log = logging.getLogger("groundswell.up")

HEALTH_TIMEOUT_S = 120.0


def _collect_loop(engine: Engine, settings: Settings, stop: threading.Event) -> None:
    from collectors.base import CollectorContext
    from collectors.registry import build_collectors
    from collectors.runner import Runner

    context = CollectorContext(settings=settings, engine=engine)
    runner = Runner(
        engine,
        context,
        build_collectors(context),
        lease_s=settings.collect.lease_s,
        max_backoff_s=settings.collect.max_backoff_s,
    )
    console.print(f"collecting as worker {runner.worker_id}")
    from collectors.people_pass import start_people_thread

    # rel=me pages and the accounts' names, every [people].link_every_s (docs/people.md)
    start_people_thread(engine, settings, stop, worker=runner.worker_id)
    runner.run_loop(stop, on_outcome=_print_outcome)


def _demo_loop(
    engine: Engine,
    *,
    seed: int,
    mentions: int,
    stop: threading.Event,
    ready: threading.Event | None = None,
) -> None:
    from groundswell.demo import replay_live

    summary = load_history(engine, seed=seed, mentions=mentions, stop=stop)
    if stop.is_set() or not summary.complete:
        return
    console.print(
        f"demo: {summary.mentions:,} mentions loaded; new posts now arrive live (1x)",
        highlight=False,
    )
    if ready is not None:
        ready.set()  # only now is the dashboard showing the demo: `up` may say it is up
    replay_live(
        engine, seed=seed, mentions=mentions, speed="1x", stop=stop, on_commit=live_printer()
    )


def _worker(target: Any, stop: threading.Event, failed: list[str], **kw: Any) -> None:
    try:
        target(stop=stop, **kw)
    except Exception as exc:  # keep the dashboard up; say what broke
        failed.append(f"{type(exc).__name__}: {exc}")
        log.exception("background job failed")
        console.print(
            f"[bold red]error:[/] background job stopped: {escape(str(exc))}", highlight=False
        )


def _wait_healthy(
    port: int, proc: subprocess.Popen[bytes], stop: threading.Event, host: str = LOOPBACK_HOST
) -> bool:
    if host in ("0.0.0.0", "::", ""):  # every interface: loopback among them
        host = LOOPBACK_HOST
    url = f"http://{f'[{host}]' if ':' in host else host}:{port}/_stcore/health"
    deadline = time.monotonic() + HEALTH_TIMEOUT_S
    # our own dashboard, wherever it was told to listen
    with Fetcher(FetchPolicy(allow_private=True, timeout_s=2.0)) as fetcher:
        while time.monotonic() < deadline and not stop.is_set() and proc.poll() is None:
            try:
                if fetcher.get(url).status == 200:
                    return True
            except FetchError:
                pass
            stop.wait(0.3)
    return False


def has_display() -> bool:
    """Whether a browser window can be opened here: always on macOS and Windows; on Linux
    and the BSDs only with an X11 or Wayland display (over ssh or in a container there is
    none, and `webbrowser` would start a text browser in the terminal instead)."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _announce(address: str, url: str, *, no_browser: bool) -> None:
    out.print(
        f"[bold green]Groundswell is up:[/] {address}  (store: {describe_url(url)}; "
        "Ctrl-C to stop)",
        highlight=False,
    )
    if no_browser:
        return
    if has_display():
        webbrowser.open(address)
    else:
        out.print(f"no display here to open a browser on: open {address} in yours", highlight=False)


def port_in_use(port: int, host: str = "0.0.0.0") -> bool:
    """Whether `host:port` is taken; found out before starting anything."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


@app.command()
def up(
    config: ConfigOpt = None,
    db: DbOpt = None,
    port: Annotated[int, typer.Option(help="dashboard HTTP port")] = 8501,
    host: HostOpt = LOOPBACK_HOST,
    public: PublicOpt = False,
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="do not open a browser window")
    ] = False,
    seed: SeedOpt = 7,
    demo_mentions: Annotated[
        int,
        typer.Option(
            "--demo-mentions", min=100, help="size of the demo history when nothing is configured"
        ),
    ] = 20_000,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """The main job: store, collectors (or the offline demo), and the dashboard."""
    # Imported here: `python -m groundswell.cli` runs cli.py as __main__ and the dashboard
    # module imports `groundswell.cli` again, which is still initialising at import time.
    from groundswell.commands.dashboard import listen_host, streamlit_command

    if port_in_use(port, host):
        fail(f"port {port} is already in use (another dashboard?); choose one with --port")
    _setup_logging(verbose)
    if not verbose:  # migrations narrate every step at INFO
        logging.getLogger("alembic").setLevel(logging.WARNING)
    settings = load_config(config)
    host = listen_host(host, public, settings)
    rs = settings.receiver
    if rs.owned_sites and port_in_use(rs.port, rs.host):
        fail(
            f"[receiver].port {rs.port} on {rs.host} is already in use (a receiver already "
            "running?); stop it or set another port in [receiver]",
            2,
        )
    engine = open_store(db, settings)
    sync_config(engine, settings)
    url = store_url(db, settings)

    stopper = _Stopper()
    stopper.install()
    stop = stopper.event

    env = dict(os.environ, GROUNDSWELL_DB_URL=url)
    if config is not None:
        env["GROUNDSWELL_CONFIG"] = str(Path(config).resolve())
    # stdout (Streamlit's own banner) is dropped: `up` prints the address itself. stderr is
    # inherited, never piped: an unread pipe fills up over a day of warnings and would freeze
    # the dashboard.
    proc = subprocess.Popen(streamlit_command(port, host=host), env=env, stdout=subprocess.DEVNULL)
    children = {"the dashboard": proc}
    if rs.owned_sites:
        receiver_cmd = [sys.executable, "-m", "groundswell.cli", "serve-receiver", "--db", url]
        children["the pingback/Webmention receiver"] = subprocess.Popen(
            receiver_cmd, env=env, stdout=subprocess.DEVNULL
        )
        console.print(
            f"receiving pingbacks and webmentions for {', '.join(rs.owned_sites)} on "
            f"http://{rs.host}:{rs.port}",
            highlight=False,
        )

    failed: list[str] = []
    # Set when the dashboard shows what it is for: at once when collecting, after the
    # history is loaded for the demo (until then `up` says it is still loading).
    ready = threading.Event()
    if settings.has_sources:
        ready.set()
        job: Any = _collect_loop
        kw: dict[str, Any] = {"engine": engine, "settings": settings}
    else:
        console.print("no sources configured: loading the offline demo conversation")
        from groundswell.demo import set_demo_wall

        set_demo_wall(engine, settings.wall)
        job = _demo_loop
        kw = {"engine": engine, "seed": seed, "mentions": demo_mentions, "ready": ready}
    worker = threading.Thread(
        target=_worker, args=(job, stop, failed), kwargs=kw, name="groundswell-up", daemon=True
    )
    worker.start()
    from groundswell.alerts.loop import start_alerts_thread

    start_alerts_thread(engine, settings, stop)  # rules and digest, once per collect interval

    code = 0
    try:
        announced = False
        address = f"http://localhost:{port}"
        if _wait_healthy(port, proc, stop, host):
            if ready.is_set():
                _announce(address, url, no_browser=no_browser)
                announced = True
            else:
                out.print(
                    f"the dashboard answers on {address}, but the demo conversation is "
                    "still loading (progress below); you will be told when it is up",
                    highlight=False,
                )
        elif not stop.is_set():
            console.print(
                f"[bold red]error:[/] the dashboard did not start on port {port} (see its "
                "messages above)",
                highlight=False,
            )
            code = 1
            stop.set()
        while not stop.is_set():
            if not announced and ready.is_set():
                _announce(address, url, no_browser=no_browser)
                announced = True
            exited = [(name, c) for name, c in children.items() if c.poll() is not None]
            for name, child in exited:
                console.print(f"[bold red]error:[/] {name} exited ({child.returncode})")
            if exited:
                code = 1
                stop.set()
                break
            stop.wait(0.5)
    finally:
        stop.set()
        for child in children.values():
            _terminate(child)
        worker.join(timeout=60)
        engine.dispose()
    console.print("stopped")
    raise typer.Exit(code)
