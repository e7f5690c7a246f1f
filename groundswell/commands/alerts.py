"""`groundswell alerts`: evaluate rules once (for cron, or as of a past moment), list and
acknowledge alerts (docs/alerts.md)."""

from __future__ import annotations

import getpass
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from groundswell.app import ConfigOpt, DbOpt, app, fail, load_config, open_store, out

alerts_app = typer.Typer(
    help="Alerts: evaluate the `[[alerts.rules]]` once, list them, acknowledge them.",
    invoke_without_command=True,
    no_args_is_help=False,
)
app.add_typer(alerts_app, name="alerts")


def parse_at(value: str | None) -> datetime | None:
    """An ISO 8601 time (`2026-11-03T10:30`, `2026-11-03 10:30+01:00`); no zone means UTC."""
    if value is None or value == "now":
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        fail(
            f"--at {value!r} is not a time; write it like 2026-11-03T10:30 (UTC) or with +01:00", 2
        )
    return at if at.tzinfo else at.replace(tzinfo=UTC)


@alerts_app.callback()
def alerts(
    ctx: typer.Context,
    config: ConfigOpt = None,
    db: DbOpt = None,
    once: Annotated[
        bool, typer.Option("--once", help="evaluate every rule once, deliver, and exit (cron)")
    ] = False,
    at: Annotated[
        str | None,
        typer.Option(
            "--at", help="evaluate as of this time (ISO 8601, UTC unless a zone is given)"
        ),
    ] = None,
) -> None:
    """Evaluate the rules once with `--once` (optionally `--at` a past time: the demo's
    event), or use `list` / `ack`."""
    if ctx.invoked_subcommand is not None:
        return
    if not once:
        out.print(ctx.get_help())
        raise typer.Exit(0)
    from groundswell.alerts.loop import run_cycle

    settings = load_config(config)
    if not settings.alerts.rules:
        fail("the config has no [[alerts.rules]]; see docs/alerts.md for an example", 2)
    when = parse_at(at)
    engine = open_store(db, settings, create=False)
    from sqlalchemy.exc import SQLAlchemyError

    try:
        new, report = run_cycle(engine, settings, at=when)
    except SQLAlchemyError as exc:
        fail(
            f"the store failed during evaluation: {str(exc).splitlines()[0]}; nothing was recorded"
        )
    from storage.alerts import list_alerts

    with engine.connect() as conn:
        shown = {
            a["id"]: a for a in list_alerts(conn, limit=max(len(new), 1) + 50, include_digests=True)
        }
    stamp = (when or datetime.now(UTC)).isoformat(timespec="minutes")
    out.print(
        f"evaluated {len(settings.alerts.rules)} rule(s) as of {stamp}: {len(new)} new alert(s)"
    )
    for alert_id in new:
        a = shown.get(alert_id)
        if a:
            out.print(Text(f"  #{alert_id} {a['rule']}: {a['title']}"), soft_wrap=True)
    out.print(
        f"deliveries: {len(report.delivered)} delivered, {len(report.retrying)} queued for "
        f"retry, {len(report.failed)} failed"
    )
    if report.failed:
        out.print("failed deliveries and their errors: `groundswell status`")
        raise typer.Exit(1)


@alerts_app.command("list")
def list_cmd(
    config: ConfigOpt = None,
    db: DbOpt = None,
    all_: Annotated[bool, typer.Option("--all", help="acknowledged ones too")] = False,
    limit: Annotated[int, typer.Option(help="at most this many, newest first")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Alerts, newest first (unacknowledged only unless `--all`), with their deliveries."""
    from storage.alerts import list_alerts

    settings = load_config(config)
    engine = open_store(db, settings, create=False)
    with engine.connect() as conn:
        rows = list_alerts(conn, unacknowledged=not all_, limit=limit)
    if as_json:
        out.print_json(json.dumps(rows, default=str))
        return
    if not rows:
        out.print(
            "no alerts" + ("" if all_ else " waiting for acknowledgement (--all for every one)")
        )
        return
    table = Table(title="alerts")
    for col in ("id", "fired (UTC)", "rule", "alert", "deliveries", "acknowledged"):
        table.add_column(col, overflow="fold")
    for a in rows:
        ack = "-" if a["acknowledged_at"] is None else f"{a['acknowledged_by']}"
        table.add_row(
            str(a["id"]),
            a["fired_at"].strftime("%Y-%m-%d %H:%M"),
            Text(a["rule"]),
            Text(a["title"]),
            Text(", ".join(a["deliveries"]) or "-"),
            Text(ack),
        )
    out.print(table)


@alerts_app.command("ack")
def ack_cmd(
    alert_ids: Annotated[list[int], typer.Argument(help="alert id(s) from `alerts list`")],
    config: ConfigOpt = None,
    db: DbOpt = None,
    by: Annotated[
        str | None, typer.Option(help="who acknowledges (default: your user name)")
    ] = None,
) -> None:
    """Acknowledge alerts: they leave the Overview's and `alerts list`'s unacknowledged list."""
    from groundswell.commands.audit import cli_actor
    from storage.alerts import acknowledge
    from storage.audit import record_action
    from storage.engine import write_tx

    settings = load_config(config)
    engine = open_store(db, settings, create=False)
    who = by or getpass.getuser() or "cli"
    missing = []
    with write_tx(engine) as conn:
        for alert_id in alert_ids:
            if not acknowledge(conn, alert_id, by=who, now=datetime.now(UTC)):
                missing.append(alert_id)
                continue
            record_action(
                conn,
                actor=cli_actor(),
                role="operator",
                action="alerts.acknowledge",
                target_kind="alert",
                target_id=alert_id,
                detail={"as": who},
            )
    if missing:
        fail(
            f"no alert with id {', '.join(map(str, missing))}; see `groundswell alerts list --all`"
        )
    out.print(f"acknowledged {len(alert_ids)} alert(s) as {who}")


@app.command("digest")
def digest_cmd(
    config: ConfigOpt = None,
    db: DbOpt = None,
    period: Annotated[
        str, typer.Option("--period", help="day (yesterday) or week (the 7 days before today)")
    ] = "day",
    movement: Annotated[str | None, typer.Option("--movement", help="movement slug")] = None,
    out_path: Annotated[
        Path | None, typer.Option("--out", help="write the self-contained HTML report here")
    ] = None,
    send: Annotated[bool, typer.Option("--send", help="email it ([alerts.email])")] = False,
    tz: Annotated[str, typer.Option("--tz", help="whole days in this time zone")] = "UTC",
    at: Annotated[
        str | None,
        typer.Option("--at", help="report the period before this time's date (default: now)"),
    ] = None,
) -> None:
    """The period's summary: headline numbers with changes (the Overview's, for the same
    dates), the volume chart, top posts, new voices, top amplified accounts, events; HTML with
    a plain-text alternative (docs/alerts.md, "Digest")."""
    from domain.settings.checks import check_zone
    from groundswell.alerts.deliver import deliver_due
    from groundswell.alerts.digest import (
        DAYS,
        build,
        last_period,
        queue_digest,
        render_html,
        render_text,
    )

    if period not in DAYS:
        fail(f"--period {period!r}: choose day or week", 2)
    try:
        check_zone(tz)
    except ValueError as exc:
        fail(f"--tz: {exc}", 2)
    settings = load_config(config)
    if send and settings.alerts.email is None:
        fail("--send needs [alerts.email] in the config (docs/alerts.md)", 2)
    engine = open_store(db, settings, create=False)
    now = datetime.now(UTC)
    when = parse_at(at) or now
    slug = movement or settings.alerts.digest.movement
    with engine.connect() as conn:
        try:
            d = build(conn, last_period(period, when, tz), slug, settings.alerts.dashboard_url)
        except LookupError as exc:
            fail(str(exc), 2)
    if out_path is not None:
        out_path.write_text(render_html(d), encoding="utf-8")
        out.print(f"wrote {out_path}")
    else:
        out.print(Text(render_text(d)), soft_wrap=True)
    if send:
        queued = queue_digest(engine, settings, d, now=now)
        if queued is None:
            out.print("this period's digest was already sent (or is queued); nothing new queued")
        report = deliver_due(engine, settings.alerts, now=now)
        out.print(
            f"deliveries: {len(report.delivered)} delivered, {len(report.retrying)} queued for "
            f"retry, {len(report.failed)} failed"
        )
        if report.failed:
            raise typer.Exit(1)
