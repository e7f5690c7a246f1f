"""`groundswell dashboard`: start Streamlit on the same store."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from groundswell.cli import ConfigOpt, DbOpt, app, load_config, open_store, store_url

APP_PATH = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"


def streamlit_command(port: int, headless: bool = True) -> list[str]:
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP_PATH),
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
    ]


@app.command()
def dashboard(
    config: ConfigOpt = None,
    db: DbOpt = None,
    port: Annotated[int, typer.Option(help="HTTP port")] = 8501,
) -> None:
    """Start the dashboard (Streamlit) on the store; http://localhost:PORT."""
    settings = load_config(config)
    open_store(db, settings)  # fail early, with a clear message, on a bad store
    env = dict(os.environ, GROUNDSWELL_DB_URL=store_url(db, settings))
    if config is not None:
        env["GROUNDSWELL_CONFIG"] = str(Path(config).resolve())
    raise typer.Exit(subprocess.call(streamlit_command(port), env=env))
