"""`groundswell export`: a research dataset with its data card (docs/exports.md)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from domain.settings.config import Settings
from groundswell.app import ConfigOpt, DbOpt, app, console, fail, load_config, open_store, out


def parse_when(value: str | None, name: str) -> datetime | None:
    """ISO date or date-time; a time without a zone is UTC."""
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        fail(f"--{name} {value!r} is not a date; write it like 2026-11-02 or 2026-11-02T09:00", 2)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _config_path(config: Path | None) -> Path | None:
    from domain.settings.config import ConfigError, load_settings

    try:
        return load_settings(config)[1]
    except ConfigError:  # load_config already said so
        return None


def init_key_file(settings: Settings, config: Path | None) -> None:
    """`init`: create the per-store pseudonymisation key beside the config (mode 0600)."""
    from groundswell.export.keyfile import KeyFileError, ensure_key_file, key_path

    path = key_path(settings, _config_path(config))
    try:
        created = ensure_key_file(path)
    except KeyFileError as exc:
        fail(str(exc), 2)
    state = "created (mode 0600)" if created else "kept"
    out.print(f"export pseudonymisation key: {path} ({state}; keep it out of backups you share)")


def pseudonym_key(settings: Settings, config: Path | None, env_name: str) -> bytes:
    """The environment's key when set (an existing study keeps its pseudonyms), else the
    per-store key file."""
    from groundswell.export.keyfile import KeyFileError, key_path, read_key_file

    value = os.environ.get(env_name, "").strip()
    if value:
        return value.encode("utf-8")
    try:
        return read_key_file(key_path(settings, _config_path(config)))
    except KeyFileError as exc:
        fail(str(exc), 2)


def requester() -> str:
    """Who asked, for the export log: the OS account running the command."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


@app.command("export")
def export_cmd(
    out_path: Annotated[
        Path, typer.Option("--out", "-o", help="destination folder, or a file ending in .zip")
    ],
    config: ConfigOpt = None,
    db: DbOpt = None,
    movement: Annotated[str | None, typer.Option(help="movement slug")] = None,
    since: Annotated[
        str | None, typer.Option(help="from this date/time (UTC unless given)")
    ] = None,
    until: Annotated[str | None, typer.Option(help="up to this date/time (exclusive)")] = None,
    platform: Annotated[
        list[str] | None, typer.Option("--platform", "-p", help="repeatable; default all")
    ] = None,
    event: Annotated[str | None, typer.Option(help="event slug: its time window")] = None,
    search: Annotated[
        str | None, typer.Option(help="only mentions whose text contains this")
    ] = None,
    fmt: Annotated[
        list[str] | None, typer.Option("--format", "-f", help="csv, jsonl, parquet (repeatable)")
    ] = None,
    dataset: Annotated[
        list[str] | None,
        typer.Option("--dataset", help="mentions, accounts, edges, events (repeatable)"),
    ] = None,
    network: Annotated[
        list[str] | None, typer.Option("--network", help="gexf and/or graphml (repeatable)")
    ] = None,
    pseudonymise: Annotated[
        bool,
        typer.Option("--pseudonymise", help="the default: accounts, posts and links keyed"),
    ] = False,
    identified: Annotated[
        bool,
        typer.Option(
            "--identified", help="name people (handles, ids, URLs); needs --reason, logged"
        ),
    ] = False,
    reason: Annotated[
        str | None,
        typer.Option(help="why an identified export is needed (recorded in the export log)"),
    ] = None,
    key_env: Annotated[
        str | None,
        typer.Option(
            help="environment variable holding a pseudonymisation key (wins over the file)"
        ),
    ] = None,
    drop_text: Annotated[bool, typer.Option("--drop-text")] = False,
    drop_urls: Annotated[bool, typer.Option("--drop-urls")] = False,
    generalise_times: Annotated[
        str | None, typer.Option("--generalise-times", help="hour or day")
    ] = None,
    mask_pii: Annotated[
        bool | None,
        typer.Option("--mask-personal-data/--no-mask-personal-data", help="mask in text"),
    ] = None,
    ids_only: Annotated[
        bool, typer.Option("--ids-only", help="platform + native id only (see hydrate)")
    ] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite")] = False,
    chunk_size: Annotated[int, typer.Option(help="rows per chunk / Parquet row group")] = 5_000,
) -> None:
    """Export mentions, accounts, edges, events (and the network) with a data card."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TimeElapsedColumn

    from groundswell.export import (
        ExportError,
        ExportFilters,
        ExportOptions,
        FilterError,
        export_dataset,
    )

    settings = load_config(config)
    filters = ExportFilters(
        movement=movement,
        since=parse_when(since, "since"),
        until=parse_when(until, "until"),
        platforms=tuple(platform or ()),
        event=event,
        search=search,
    )
    if identified and pseudonymise:
        fail("--identified and --pseudonymise contradict each other; choose one", 2)
    if identified and not (reason or "").strip():
        fail(
            "--identified names people: say why with --reason '...' (recorded in the export "
            "log with who asked)",
            2,
        )
    if ids_only and not identified:
        fail(
            "--ids-only lists the platforms' post ids, which name their authors: add "
            "--identified --reason '...'",
            2,
        )
    key = (
        None
        if identified
        else pseudonym_key(settings, config, key_env or settings.ethics.pseudonym_key_env)
    )
    try:
        options = ExportOptions(
            formats=tuple(fmt or ("csv",)),
            datasets=tuple(dataset or ("mentions", "accounts", "edges", "events")),
            network=tuple(network or ()),
            pseudonym_key=key,
            drop_text=drop_text,
            drop_urls=drop_urls,
            generalise_times=generalise_times,
            mask_personal_data=settings.ethics.mask_personal_data_in_exports
            if mask_pii is None
            else mask_pii,
            ids_only=ids_only,
            chunk_size=chunk_size,
            discoverable_false_is_opt_out=settings.ethics.discoverable_false_is_opt_out,
            overwrite=overwrite,
        )
    except ExportError as exc:
        fail(str(exc), 2)
    engine = open_store(db, settings, create=False)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        tasks: dict[str, TaskID] = {}

        def report(name: str, done: int, total: int | None) -> None:
            if name not in tasks:
                tasks[name] = progress.add_task(f"exporting {name}", total=total)
            progress.update(tasks[name], completed=done, total=total)

        try:
            summary = export_dataset(
                engine,
                out_path,
                filters,
                options,
                progress=report,
                requested_by=requester(),
                reason=reason.strip() if identified and reason else None,
            )
        except FilterError as exc:
            fail(str(exc), 2)
        except ExportError as exc:
            fail(str(exc))
    m = summary.counts["mentions"]
    how = "IDENTIFIED (names people)" if identified else "pseudonymised"
    out.print(
        f"{how}: exported {m['exported']:,} mentions to {summary.path} "
        f"({m['withheld_opt_out_counted_only']:,} withheld by opt-outs, counted only; "
        f"{m['deleted_excluded']:,} deleted, excluded); data card: README.md, datacard.json"
    )
