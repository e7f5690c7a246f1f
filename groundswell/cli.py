"""The `groundswell` command line (typer + rich).

Every failure a user can cause (bad config, bad store URL, unreachable database) is one line
naming the input at fault and what to do, with a non-zero exit code, never a traceback:
exit 2 for configuration, 1 for everything else.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text
from sqlalchemy.exc import SQLAlchemyError

from groundswell import __version__
from groundswell.app import (
    ConfigOpt,
    DbOpt,
    _first_line,
    _print_outcome,
    _setup_logging,
    app,
    configured_sources,
    console,
    fail,
    load_config,
    open_store,
    out,
    store_location,
    sync_config,
)
from storage.engine import describe_url

if __name__ == "__main__":  # pragma: no cover
    # `python -m groundswell.cli` runs this file as `__main__`: run the importable module
    # instead, which registers its own and the area commands on `groundswell.app.app` once.
    from groundswell.cli import main as _main

    _main()
    sys.exit(0)


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", help="print the version")] = False,
) -> None:
    if version:
        out.print(__version__)
        raise typer.Exit(0)


@app.command()
def init(config: ConfigOpt = None, db: DbOpt = None) -> None:
    """Create or upgrade the store, and load movements, events and sources from the config.

    Sources stopped by a fatal error (e.g. a missing token) are retried after `init`. A
    SQLite store whose planner statistics are missing or stale is analysed
    (storage/statistics.py).
    """
    from storage.statistics import refresh_statistics

    settings = load_config(config)
    for problem in settings.alerts.secret_problems():  # checked here, not on every command
        fail(problem, 2)
    engine = open_store(db, settings)
    sync_config(engine, settings, retry_fatal=True)
    if refresh_statistics(engine):
        out.print("analysed the store's statistics for the query planner")
    out.print(f"store ready: {describe_url(str(engine.url))}")
    from groundswell.commands.export import init_key_file

    init_key_file(settings, config)


@app.command()
def collect(
    config: ConfigOpt = None,
    db: DbOpt = None,
    once: Annotated[bool, typer.Option("--once", help="poll every source once, then exit")] = False,
    loop: Annotated[bool, typer.Option("--loop", help="poll due sources until stopped")] = False,
    worker_id: Annotated[str | None, typer.Option(help="name of this worker (leases)")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Poll the configured sources into the store."""
    from collectors.base import CollectorContext
    from collectors.registry import build_collectors
    from collectors.runner import Runner

    if once == loop:
        fail("choose exactly one of --once or --loop", 2)
    _setup_logging(verbose)
    settings = load_config(config)
    if not configured_sources(settings):
        fail(
            "the config lists no sources ([mastodon], [bluesky] or [blogs]); "
            "see config/example.toml, or run `groundswell demo` for offline data",
            2,
        )
    engine = open_store(db, settings)
    sync_config(engine, settings)
    context = CollectorContext(settings=settings, engine=engine)
    runner = Runner(
        engine,
        context,
        build_collectors(context),
        worker_id=worker_id,
        lease_s=settings.collect.lease_s,
        max_backoff_s=settings.collect.max_backoff_s,
    )
    if once:
        try:
            _collect_once(runner)
        except SQLAlchemyError as exc:  # the store went away mid-run: no traceback
            fail(
                f"store {describe_url(str(engine.url))} failed during collection: "
                f"{_first_line(exc)}. Committed pages are kept; run again to continue."
            )
        return
    stop = threading.Event()

    def _stop(*_: Any) -> None:
        console.print("stopping after the current batch...")
        stop.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    console.print(f"collecting as worker {runner.worker_id}; Ctrl-C to stop")
    from groundswell.export.retention import Horizons, start_retention_thread

    start_retention_thread(engine, None, stop, horizons=Horizons.from_settings(settings))
    from groundswell.alerts.loop import start_alerts_thread

    start_alerts_thread(engine, settings, stop)  # rules and digest, once per collect interval
    from collectors.people_pass import start_people_thread

    # rel=me pages and the accounts' names, every [people].link_every_s (docs/people.md)
    start_people_thread(engine, settings, stop, worker=runner.worker_id)
    runner.run_loop(stop, on_outcome=_print_outcome)


def _collect_once(runner: Any) -> None:
    from rich.progress import Progress

    states = runner.claim(limit=10_000, only_due=False)
    failures = 0
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("polling sources", total=len(states))
        for state in states:
            progress.update(task, description=f"polling {state.key}")
            o = runner.run_source(state)
            failures += o.outcome != "ok"
            _print_outcome(o)
            progress.advance(task)
    console.print(f"{len(states)} sources polled, {failures} with errors")
    parked = _print_parked(runner.engine)
    if parked or (states and failures == len(states)):
        raise typer.Exit(1)


def _print_parked(engine: Any) -> int:
    """Name every parked source (stopped by a refused login, a missing token, a bad query)
    and its fix; returns how many. A parked source collects nothing, so `collect --once`
    must not look like success while one exists."""
    from storage.status import parked_sources

    with engine.connect() as conn:
        parked = parked_sources(conn)
    if parked:
        console.print(f"[red]{len(parked)} source(s) parked, collecting nothing:[/]")
        for s in parked:
            console.print(f"  {s['key']} ({s['status']}): {s['fix']}", markup=False, soft_wrap=True)
    return len(parked)


@app.command()
def status(
    config: ConfigOpt = None,
    db: DbOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Sources, cursors, last errors and counts."""
    from storage.alerts import outbox_counts, undelivered
    from storage.people_links import people_pass_status
    from storage.queries.blogs import queue_counts
    from storage.status import source_status, store_counts

    settings = load_config(config)
    engine = open_store(db, settings, create=False)
    with engine.connect() as conn:
        counts = store_counts(conn)
        sources = source_status(conn)
        received = queue_counts(conn)  # the pingback/webmention receiver's queue
        outbox = outbox_counts(conn)  # alert deliveries (docs/alerts.md)
        pending = undelivered(conn) if set(outbox) - {"delivered"} else []
        linking = people_pass_status(conn)  # the scheduled people pass (docs/people.md)
    if as_json:
        out.print_json(
            json.dumps(
                {
                    "store": store_location(str(engine.url)),
                    "counts": counts,
                    "sources": sources,
                    "received": received,
                    "alert_deliveries": outbox,
                    "undelivered_alerts": pending,
                    "people_linking": linking,
                },
                default=str,
            )
        )
        return
    out.print(f"store: {store_location(str(engine.url))}", highlight=False, soft_wrap=True)
    out.print(", ".join(f"{k}: {v:,}" for k, v in counts.items()))
    parked = [s for s in sources if s.get("parked")]
    if parked:  # first: these collect nothing until someone acts
        out.print(f"{len(parked)} source(s) parked, collecting nothing:")
        for s in parked:
            out.print(f"  {s['key']} ({s['status']}): {s['fix']}", markup=False, soft_wrap=True)
    table = Table(title="sources", show_lines=False)
    for col in ("source", "status", "cursor", "last success", "last run", "last error"):
        table.add_column(col, overflow="fold")
    for s in sources:
        run = s["last_run"]
        run_txt = (
            "-"
            if run is None
            else (
                f"{run['outcome']}: {run['fetched']} fetched, {run['new']} new, "
                f"{run['skipped']} skipped" + _signals_text(run.get("signals"))
            )
        )
        problems = "; ".join(s["problems"])
        table.add_row(
            Text(s["key"] + ("" if s["enabled"] else " (disabled)")),
            ("PARKED " if s.get("parked") else "") + s["status"] + _budget_text(s.get("budget")),
            json.dumps(s["cursor"])[:60] if s["cursor"] else "-",
            s["last_success_at"] or "never",
            run_txt,
            Text((s["last_error"] or "") + (f" [{problems}]" if problems else "")),  # no markup
        )
    out.print(table)
    if received:
        out.print(
            "received pingbacks/webmentions: "
            + ", ".join(f"{k}: {v:,}" for k, v in sorted(received.items()))
        )
    if outbox:
        _print_outbox(outbox, pending)
    if linking:
        _print_linking(linking)


def _print_linking(p: dict[str, Any]) -> None:
    """The scheduled people-linking pass: how the last one went and when the next is due, then
    the rel=me pages that could not be read, each with its error (docs/people.md)."""
    from collectors.people_pass import HAND_WORKER

    if p.get("outcome"):
        # `worker` is whoever took the pass last: the finished one's unless one runs now
        finished = p["started_at"] is None or p["finished_at"] >= p["started_at"]
        how = " (run by hand: people link)" if finished and p["worker"] == HAND_WORKER else ""
        line = (
            f"people linking: last pass {p['outcome']}{how} at "
            f"{p['finished_at']:%Y-%m-%d %H:%M} UTC "
            f"({p['accounts_read']:,} accounts, {p['pages_checked']} pages read, "
            f"{p['pages_failed']} failed, evidence +{p['evidence_added']})"
        )
        if p.get("next_due_at"):
            line += f"; next due {p['next_due_at']:%Y-%m-%d %H:%M} UTC"
        out.print(Text(line), soft_wrap=True)
        if p.get("error"):
            out.print(Text(f"  {p['error_kind']}: {p['error']}"), soft_wrap=True)
    pages = p.get("pages") or {}
    if pages:
        out.print("rel=me pages: " + ", ".join(f"{k}: {v:,}" for k, v in sorted(pages.items())))
    for f in p.get("page_failures") or []:
        out.print(Text(f"  {f['status']} {f['url']}: {f['error'] or ''}"), soft_wrap=True)


def _print_outbox(outbox: dict[str, int], pending: list[dict[str, Any]]) -> None:
    """Alert deliveries by state, then each one not accepted yet with its last error: an
    unreachable SMTP server or webhook must be visible, not silent (docs/alerts.md)."""
    out.print("alert deliveries: " + ", ".join(f"{k}: {v:,}" for k, v in sorted(outbox.items())))
    for d in pending:
        when = (
            ""
            if d["status"] == "failed"
            else f", next try {d['next_attempt_at']:%Y-%m-%d %H:%M} UTC"
        )
        out.print(
            Text(
                f"  {d['status'].upper()} {d['channel']}: {d['title']} (attempt {d['attempts']}"
                f"{when})" + (f" — {d['last_error']}" if d["last_error"] else "")
            ),
            soft_wrap=True,
        )


def _signals_text(signals: Any) -> str:
    """The last run's completeness signals, e.g. "; result_cap_split 3, rate_limit_wait 1
    (12 s)" (a name's `_s` companion holds the seconds waited)."""
    if not isinstance(signals, dict) or not signals:
        return ""
    parts = []
    for name, n in sorted(signals.items()):
        if name.endswith("_s") and name[:-2] in signals:
            continue
        secs = signals.get(f"{name}_s")
        parts.append(f"{name} {n:g}" + (f" ({secs:.0f} s)" if secs is not None else ""))
    return "; " + ", ".join(parts)


def _budget_text(budget: Any) -> str:
    """A source's rate-limit snapshot in a few words (collectors fill `budget` when they know)."""
    if not isinstance(budget, dict):
        return ""
    parts = []
    if budget.get("remaining") is not None and budget.get("limit"):
        parts.append(f"{budget['remaining']}/{budget['limit']} requests left")
    if budget.get("paging_budget"):
        parts.append(f"paging {budget.get('paging_used', 0)}/{budget['paging_budget']} used")
    return ("\n" + ", ".join(parts)) if parts else ""


# Area commands register themselves on `app` (one import line each; keep them sorted).
from groundswell.commands import alerts as _alerts  # noqa: E402, F401
from groundswell.commands import audit as _audit  # noqa: E402, F401
from groundswell.commands import blogs as _blogs  # noqa: E402, F401
from groundswell.commands import bluesky as _bluesky  # noqa: E402, F401
from groundswell.commands import dashboard as _dashboard  # noqa: E402, F401
from groundswell.commands import demo as _demo  # noqa: E402, F401
from groundswell.commands import export as _export  # noqa: E402, F401
from groundswell.commands import mastodon as _mastodon  # noqa: E402, F401
from groundswell.commands import people as _people  # noqa: E402, F401
from groundswell.commands import stewardship as _stewardship  # noqa: E402, F401
from groundswell.commands import up as _up  # noqa: E402, F401


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover - interactive
        sys.exit(130)
