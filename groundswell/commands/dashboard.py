"""`groundswell dashboard`: start Streamlit on the same store.

It listens on 127.0.0.1 unless told otherwise: with no access gate configured, anyone who can
reach the port can read every page and download full, identified exports. So `--host` beyond
loopback is refused unless a gate is configured (GROUNDSWELL_DASHBOARD_PASSWORD, or sign-in with
a viewer list: docs/dashboard.md) or `--public` says the owner means it, with a warning.
"""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from domain.settings.config import Settings
from groundswell.app import (
    ConfigOpt,
    DbOpt,
    app,
    console,
    fail,
    load_config,
    open_store,
    store_url,
)

APP_PATH = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"


LOOPBACK_HOST = "127.0.0.1"
HostOpt = Annotated[
    str,
    typer.Option(
        "--host",
        help="address to listen on: 127.0.0.1 is this machine only; 0.0.0.0 every interface "
        "(needs an access gate, or --public)",
    ),
]
PublicOpt = Annotated[
    bool,
    typer.Option(
        "--public",
        help="listen beyond this machine with no access gate configured: anyone who can reach "
        "the port sees every page and can download identified exports",
    ),
]


def is_loopback(host: str) -> bool:
    """True for an address (or `localhost`) that only this machine can reach."""
    if host.strip().lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: it may resolve to anything


def gate_configured(settings: Settings) -> bool:
    """Whether the dashboard asks visitors for a password or a sign-in (`dashboard.access`)."""
    from dashboard.gate import configured_gate

    return configured_gate(settings) != "open"


def listen_host(host: str, public: bool, settings: Settings) -> str:
    """The address to bind: refuses one beyond loopback with no access gate unless `public`."""
    if is_loopback(host):
        return host
    if gate_configured(settings):
        return host
    if not public:
        fail(
            f"--host {host}: refusing to listen beyond this machine with no access gate; set "
            "GROUNDSWELL_DASHBOARD_PASSWORD or configure sign-in (docs/security.md), or add "
            "--public if everyone who can reach the port may see everything",
            2,
        )
    console.print(
        f"[bold yellow]warning:[/] listening on {host} with no access gate (--public): anyone "
        "who can reach this port sees every page and can download identified exports",
        highlight=False,
    )
    return host


def streamlit_command(port: int, headless: bool = True, host: str = LOOPBACK_HOST) -> list[str]:
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP_PATH),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true" if headless else "false",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
        "--theme.base",
        "light",
        # An application, not a sketch: no Deploy button from the first session on, and an
        # upload box that says the 2 MB the .ics parser accepts (domain/ics.py).
        "--client.toolbarMode",
        "minimal",
        "--server.maxUploadSize",
        "2",
        # The charts' plotly.js from dashboard/static/, cacheable (dashboard/static/README.md).
        "--server.enableStaticServing",
        "true",
        # No full garbage collection after every page view (.streamlit/config.toml says why).
        "--runner.postScriptGC",
        "false",
        # Streamlit's own INFO lines ("Uvicorn server started on ...") stay out of `up`'s few
        # lines; its warnings and errors still show.
        "--logger.level",
        "warning",
    ]


@app.command()
def dashboard(
    config: ConfigOpt = None,
    db: DbOpt = None,
    port: Annotated[int, typer.Option(help="HTTP port")] = 8501,
    host: HostOpt = LOOPBACK_HOST,
    public: PublicOpt = False,
) -> None:
    """Start the dashboard (Streamlit) on the store; http://127.0.0.1:PORT (this machine only
    unless --host widens it)."""
    settings = load_config(config)
    host = listen_host(host, public, settings)
    open_store(db, settings)  # fail early, with a clear message, on a bad store
    env = dict(os.environ, GROUNDSWELL_DB_URL=store_url(db, settings))
    if config is not None:
        env["GROUNDSWELL_CONFIG"] = str(Path(config).resolve())
    raise typer.Exit(subprocess.call(streamlit_command(port, host=host), env=env))


@app.command("hash-password")
def hash_password_command() -> None:
    """Print a scrypt hash of a password: put it in GROUNDSWELL_MODERATOR_PASSWORD or
    GROUNDSWELL_DASHBOARD_PASSWORD instead of the password itself (docs/security.md)."""
    from domain.passwords import hash_password

    password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password.strip()) < 12:
        fail("a shared password needs at least 12 characters; choose a longer one", 2)
    typer.echo(hash_password(password))
