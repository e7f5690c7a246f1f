"""Data stewardship commands: `hydrate`, `recheck`, `purge` (docs/exports.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from groundswell.app import ConfigOpt, DbOpt, app, console, fail, load_config, open_store, out

AppViewOpt = Annotated[
    str | None,
    typer.Option(
        "--bluesky-appview",
        help="Bluesky service for reads without a login (getPosts); default: "
        "[bluesky].appview_url, else [bluesky].base_url (the public AppView for bsky.social)",
    ),
]
LoopbackOpt = Annotated[
    bool,
    typer.Option(
        "--allow-loopback",
        help="allow servers on 127.0.0.1 / ::1 (a local test network or a site on this "
        "machine); private and other loopback addresses stay refused",
    ),
]


def _progress(total: int | None, what: str):  # type: ignore[no-untyped-def]
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    task = progress.add_task(what, total=total)
    return progress, lambda n: progress.advance(task, n)


def _lookups(settings, appview: str | None, allow_loopback: bool):  # type: ignore[no-untyped-def]
    """Platform lookups through the configured services: Bluesky through the collector's
    logged-in client when its credentials are in the environment, else anonymously through
    `--bluesky-appview` or `[bluesky]` (`BlueskySettings.read_url`), whose own address is
    allowed like the collector's (`operator_policy`)."""
    from domain.settings.checks import secret_from_env
    from groundswell.export.lookup import Lookups
    from net.fetcher import FetchPolicy, operator_policy

    bsky = settings.bluesky
    client = None
    if secret_from_env(bsky.handle_env, what="Bluesky handle") and secret_from_env(
        bsky.app_password_env, what="Bluesky app password"
    ):
        from collectors.bluesky.client import BlueskyClient

        client = BlueskyClient(bsky)
    instances = [  # recheck/hydrate ask the configured instances first, with their tokens
        (i.base_url, secret_from_env(i.token_env, what=f"Mastodon token for {i.base_url}"))
        for i in settings.mastodon.instances
    ]
    read_url = appview or bsky.read_url
    return Lookups(
        policy=FetchPolicy(allow_loopback=allow_loopback),
        mastodon_instances=instances,
        bluesky_base_url=read_url,
        bluesky_policy=operator_policy(read_url, allow_loopback=allow_loopback),
        bluesky_client=client,
        discoverable_false_is_opt_out=settings.ethics.discoverable_false_is_opt_out,
    )


@app.command()
def hydrate(
    id_list: Annotated[Path, typer.Argument(help="ID list: CSV, JSONL or Parquet")],
    out_path: Annotated[
        Path, typer.Option("--out", "-o", help="where to write the posts (JSON Lines)")
    ],
    config: ConfigOpt = None,
    db: Annotated[
        str | None,
        typer.Option("--db", help="also skip what this store knows was deleted or opted out"),
    ] = None,
    appview: AppViewOpt = None,
    report_path: Annotated[
        Path | None, typer.Option("--report", help="write the counts and bad lines as JSON")
    ] = None,
    allow_loopback: LoopbackOpt = False,
) -> None:
    """Refetch the posts of an ID-only export; deleted or opted-out posts are skipped."""
    from groundswell.export.hydrate import hydrate as run_hydrate

    settings = load_config(config)
    if not id_list.is_file():
        fail(f"{id_list}: no such ID list; pass the mention_ids file of an --ids-only export")
    if not out_path.parent.is_dir():
        fail(f"cannot write {out_path}: folder {out_path.parent} does not exist")
    states = sightings_in_store = None
    if db:
        from storage.queries.export import mention_states
        from storage.queries.sightings import sightings

        engine = open_store(db, settings)

        def sightings_in_store(
            platform: str, natives: list[str]
        ) -> dict[str, list[tuple[str, str | None]]]:
            if platform != "mastodon":
                return {}
            with engine.connect() as conn:
                return sightings(conn, platform, natives)

        def states(keys: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
            with engine.connect() as conn:
                return mention_states(
                    conn,
                    keys,
                    discoverable_false_is_opt_out=settings.ethics.discoverable_false_is_opt_out,
                )

    progress, advance = _progress(None, f"hydrating {id_list.name}")
    try:
        with (
            progress,
            _lookups(settings, appview, allow_loopback) as lookups,
        ):
            report = run_hydrate(
                id_list,
                out_path,
                lookups,
                store_states=states,
                store_sightings=sightings_in_store,
                progress=advance,
            )
    except OSError as exc:
        fail(f"cannot write {out_path}: {exc.strerror or exc}; choose another --out")
    for bad in report.bad_lines[:20]:
        console.print(
            f"[yellow]skipped[/] {id_list.name} line {bad.line}: {bad.reason}", highlight=False
        )
    if len(report.bad_lines) > 20:
        console.print(f"... and {len(report.bad_lines) - 20} more bad lines (see --report)")
    for problem in report.problems:
        console.print(f"[yellow]problem[/] {problem}", highlight=False)
    if report_path:
        report_path.write_text(json.dumps(report.as_dict(), indent=2) + "\n", encoding="utf-8")
    out.print(
        f"{report.hydrated} hydrated to {out_path}; skipped: {report.deleted} deleted since, "
        f"{report.opted_out} opted out since, {report.unsupported} unsupported, "
        f"{report.errors} errors, {len(report.bad_lines)} bad lines, "
        f"{report.duplicates} duplicates"
    )


@app.command()
def recheck(
    config: ConfigOpt = None,
    db: DbOpt = None,
    days: Annotated[
        int | None,
        typer.Option(help="revisit mentions this recent (default [ethics].recheck_days)"),
    ] = None,
    platform: Annotated[
        list[str] | None, typer.Option("--platform", "-p", help="repeatable; default all")
    ] = None,
    appview: AppViewOpt = None,
    allow_loopback: LoopbackOpt = False,
) -> None:
    """Revisit recent mentions on their platforms: deleted ones become tombstones."""
    from groundswell.export.recheck import recheck as run_recheck

    settings = load_config(config)
    engine = open_store(db, settings)
    span = days or settings.ethics.recheck_days
    since = datetime.now(UTC) - timedelta(days=span)
    progress, advance = _progress(None, f"rechecking the last {span} days")
    with (
        progress,
        _lookups(settings, appview, allow_loopback) as lookups,
    ):
        report = run_recheck(
            engine, lookups, since=since, platforms=tuple(platform or ()), progress=advance
        )
    for problem in report.problems:
        console.print(f"[yellow]problem[/] {problem}", highlight=False)
    out.print(
        f"{report.checked} mentions rechecked; {report.tombstoned} deleted since (now "
        f"tombstones), {report.opted_out} by authors who opted out, {report.errors} could not be "
        f"checked, {report.unsupported} unsupported"
    )


@app.command()
def purge(
    config: ConfigOpt = None,
    db: DbOpt = None,
    days: Annotated[
        int | None,
        typer.Option(help="purge raw payloads older than this (default [ethics].retention_days)"),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="only count what each horizon would purge")
    ] = False,
) -> None:
    """Purge what is past its retention horizon: raw payloads, text (redacted like a
    tombstone), accounts no longer referenced, received pings, run and export logs, and the
    audit trail."""
    from groundswell.export.retention import Horizons, purge_all

    settings = load_config(config)
    if days is not None and days < 1:
        fail("--days must be at least 1", 2)
    horizons = Horizons.from_settings(settings, payload_days=days)
    configured = horizons.configured()
    if not configured:
        fail(
            "no retention horizon: set [ethics].retention_days (or text_, account_, ping_, "
            "run_log_, export_log_retention_days) in the config, or pass --days",
            2,
        )
    engine = open_store(db, settings)
    done = purge_all(engine, horizons, dry_run=dry_run)
    verb = "would purge" if dry_run else "purged"
    for (name, horizon), (table, n) in zip(configured.items(), done.items(), strict=True):
        what = "raw payloads" if name == "payloads" else "rows"
        out.print(f"{table}: {verb} {n:,} {what} older than {horizon} days")
