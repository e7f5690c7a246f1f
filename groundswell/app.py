"""The `groundswell` application object and what every command shares: the typer `app`, the
consoles, the `--config`/`--db` options, config loading (which also configures the guarded
fetcher process-wide), opening the store and making it agree with the config.

Why its own module: the command modules (`groundswell/commands/*.py`) register themselves on
`app` from here, and `groundswell/cli.py` imports them all; with `app` living in `cli.py` every
command imported the module that imports it (a circle, docs/architecture.md).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy import Engine
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError

from domain.settings.config import ConfigError, Settings, load_settings
from net.fetcher import configure as configure_network
from storage.engine import StoreConfigError, describe_url, make_engine, resolve_db_url

app = typer.Typer(
    name="groundswell",
    help="Collect a movement's conversation from Bluesky, Mastodon, blogs and pingbacks, "
    "and show how it spreads.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    # Help text quotes config keys like `[store].url`; as Rich markup they vanish ("the
    # config's .url"). Markdown leaves brackets as written (tests/test_cli_help.py).
    rich_markup_mode="markdown",
)
console = Console(stderr=True)
out = Console()

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="TOML config (default: groundswell.toml, "
        "config/groundswell.toml or $GROUNDSWELL_CONFIG)",
    ),
]
DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="store URL (default: $GROUNDSWELL_DB_URL, the config's "
        "[store].url, else sqlite:///groundswell.db)",
    ),
]


def fail(message: str, code: int = 1) -> NoReturn:
    # escaped: messages quote keys like `[receiver].port`, which rich would eat as markup
    console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def load_config(path: Path | None) -> Settings:
    try:
        settings, _ = load_settings(path)
    except ConfigError as exc:
        console.print(
            f"[bold red]config error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True
        )
        raise typer.Exit(2) from None
    configure_network(settings.network)  # every fetcher, client and stream of this process
    return settings


def store_url(db: str | None, settings: Settings) -> str:
    return db or os.environ.get("GROUNDSWELL_DB_URL") or settings.store.url or resolve_db_url()


def store_location(url: str) -> str:
    """The store as a person can find it: a SQLite file's absolute path, else the URL
    without its password."""
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except ArgumentError:  # an unparsable URL is reported by open_store
        return describe_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        return f"sqlite:///{Path(parsed.database).resolve()}"
    return describe_url(url)


def _no_store(url: str) -> NoReturn:
    fail(
        f"no Groundswell store at {store_location(url)}; this command only reads one and "
        "creates none. Run `groundswell init` (or `up` / `demo`) here first, or point --db or "
        "$GROUNDSWELL_DB_URL at your store."
    )


def _sqlite_file_missing(url: str) -> bool:
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except ArgumentError:  # reported by make_engine
        return False
    return (
        parsed.get_backend_name() == "sqlite"
        and parsed.database not in (None, "", ":memory:")
        and not str(parsed.database).startswith("file:")
        and not Path(parsed.database).exists()
    )


def open_store(
    db: str | None, settings: Settings, *, migrate: bool = True, create: bool = True
) -> Engine:
    """An engine on an up-to-date store, or a one-line error naming the URL.

    `create=False` for commands that only read (`status`, `export`): they refuse to create a
    store where there is none (a SQLite file that does not exist, a database without our
    tables), so a typo'd folder is not answered with a fresh, empty store and zeros."""
    from sqlalchemy import inspect

    from storage import migrate as migrations

    url = store_url(db, settings)
    if not create and _sqlite_file_missing(url):
        _no_store(url)
    try:
        engine = make_engine(url)
        if not create and not inspect(engine).has_table("alembic_version"):
            engine.dispose()
            _no_store(url)
        if migrate:
            migrations.upgrade(engine)
        else:
            with engine.connect():
                pass
    except StoreConfigError as exc:
        fail(str(exc))
    except OperationalError as exc:
        fail(
            f"cannot open store {describe_url(url)}: {_first_line(exc)}. Check the URL and "
            "that the database server is running."
        )
    except SQLAlchemyError as exc:
        fail(
            f"cannot use store {describe_url(url)}: {_first_line(exc)}. Is this a Groundswell "
            "store? Point --db at another database or file."
        )
    return engine


def _first_line(exc: SQLAlchemyError) -> str:
    """The driver's own words, without SQLAlchemy's multi-line SQL and background links."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def configured_sources(settings: Settings) -> list[Any]:
    """The sources the config (and any GROUNDSWELL_PLUGINS) asks for; exit 2 on a bad plugin."""
    from collectors.registry import PluginError, source_specs

    try:
        return source_specs(settings)
    except PluginError as exc:
        fail(str(exc), 2)


def sync_config(engine: Engine, settings: Settings, *, retry_fatal: bool = False) -> dict[str, int]:
    """Make the store's movements, events and sources agree with the config."""
    from storage.catalog import sync_sources, upsert_event, upsert_movement
    from storage.engine import write_tx

    specs = configured_sources(settings)
    with write_tx(engine) as conn:
        ids = {m.slug: upsert_movement(conn, m) for m in settings.movements}
        for ev in settings.events:
            upsert_event(conn, ev, ids)
        sync_sources(conn, specs, retry_fatal=retry_fatal)
    return ids


def _setup_logging(verbose: bool) -> None:
    from rich.logging import RichHandler

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False, rich_tracebacks=False)],
    )
    for noisy in ("httpx", "httpcore", "urllib3", "websockets"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # Alembic logs every plugin and revision it runs at INFO (about 150 lines on a first run):
    # the store's upgrade is not news unless asked for (-v).
    logging.getLogger("alembic").setLevel(logging.DEBUG if verbose else logging.WARNING)
    if not verbose:  # the outcome line per source says it; -v adds the runner's tracebacks
        logging.getLogger("groundswell.runner").setLevel(logging.CRITICAL)


def _print_outcome(o: Any) -> None:
    colour = {"ok": "green", "transient": "yellow"}.get(o.outcome, "red")
    console.print(
        f"[{colour}]{o.outcome:>9}[/] {escape(o.source_key)}: {o.fetched} fetched, "
        f"{o.result.new} new, "
        f"{o.result.updated} updated, {o.result.skipped} skipped"
        + _horizon_text(o.signals)
        + (f" — {escape(o.error)}" if o.error else ""),  # errors name `[blogs].keys`
        highlight=False,
        soft_wrap=True,
    )


def _horizon_text(signals: Any) -> str:
    """What a first run's backfill horizon hid ("; 12 older statuses left out by
    backfill_days"): a quiet instance's first run may otherwise store nothing, silently."""
    n = signals.get("backfill_horizon") if isinstance(signals, dict) else None
    return f"; {n:g} older statuses left out by backfill_days" if n else ""
