"""`groundswell audit`: read and export the audit trail (docs/access.md, "The audit trail").

The trail is for auditors: on the dashboard only moderators see it (and cannot download it);
from the command line, whoever can reach the store's credentials can read it, like every other
command. Each export is itself recorded (`audit.export`, actor "cli:<os user>").
"""

from __future__ import annotations

import csv
import getpass
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from groundswell.app import ConfigOpt, DbOpt, app, fail, load_config, open_store, out
from groundswell.commands.export import parse_when

audit_app = typer.Typer(
    help="The audit trail: who signed in, moderated, edited events, exported, acknowledged.",
    no_args_is_help=True,
)
app.add_typer(audit_app, name="audit")

SinceOpt = Annotated[
    str | None, typer.Option(help="from this date or time (ISO 8601, UTC unless a zone is given)")
]
UntilOpt = Annotated[str | None, typer.Option(help="before this date or time")]
ActorOpt = Annotated[str | None, typer.Option(help="only this actor, exactly as listed")]
ActionOpt = Annotated[str | None, typer.Option(help="only this action, e.g. wall.hide, export")]


def cli_actor() -> str:
    """Who is at the keyboard, as the trail names command-line actions."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return f"cli:uid {os.getuid()}"


def _where(since: str | None, until: str | None, actor: str | None, action: str | None) -> Any:
    from storage.audit import AuditFilter

    return AuditFilter(
        actor=actor,
        action=action,
        since=parse_when(since, "since"),
        until=parse_when(until, "until"),
    )


def _flat(row: dict[str, Any]) -> dict[str, Any]:
    from storage.audit import flat_row

    return flat_row(row)


@audit_app.command("list")
def list_cmd(
    config: ConfigOpt = None,
    db: DbOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    actor: ActorOpt = None,
    action: ActionOpt = None,
    limit: Annotated[int, typer.Option(min=1, max=5000, help="newest this many")] = 50,
    as_json: Annotated[
        bool, typer.Option("--json", help="JSON (one array) instead of a table")
    ] = False,
) -> None:
    """The newest actions, newest first (withheld posts' ids are blank)."""
    from storage.audit import list_actions

    settings = load_config(config)
    engine = open_store(db, settings, create=False)
    with engine.connect() as conn:
        rows = list_actions(
            conn,
            _where(since, until, actor, action),
            limit=limit,
            discoverable_false_is_opt_out=settings.ethics.discoverable_false_is_opt_out,
        )
    if as_json:
        typer.echo(
            json.dumps([_flat(r) | {"detail": r["detail"]} for r in rows], ensure_ascii=False)
        )
        return
    if not rows:
        out.print("No audit rows match.")
        return
    table = Table("When (UTC)", "Actor", "Role", "Action", "Target", "Detail")
    for r in rows:
        target = "withheld" if r["withheld"] else r["target_id"] or ""
        table.add_row(
            r["at"].astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            r["actor"],
            r["role"],
            r["action"],
            f"{r['target_kind'] or ''} {target}".strip(),
            json.dumps(r["detail"], ensure_ascii=False)[:120],
        )
    out.print(table)


@audit_app.command("export")
def export_cmd(
    out_path: Annotated[
        Path, typer.Option("--out", help="file to write: .csv or .jsonl (one JSON object a line)")
    ],
    config: ConfigOpt = None,
    db: DbOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    actor: ActorOpt = None,
    action: ActionOpt = None,
    overwrite: Annotated[bool, typer.Option(help="replace an existing file")] = False,
) -> None:
    """Write the audit trail (oldest first) for an auditor; the export is itself recorded."""
    from storage.audit import EXPORT_FIELDS, iter_actions, record_action
    from storage.engine import write_tx

    kind = out_path.suffix.lower().lstrip(".")
    if kind not in ("csv", "jsonl"):
        fail(f"--out {out_path}: name a .csv or .jsonl file", 2)
    if out_path.exists() and not overwrite:
        fail(f"{out_path} exists; choose another name or pass --overwrite", 2)
    where = _where(since, until, actor, action)
    settings = load_config(config)
    engine = open_store(db, settings, create=False)
    tmp = out_path.with_name(f".{out_path.name}.partial")
    rows = 0
    try:
        with tmp.open("w", encoding="utf-8", newline="") as fh, engine.connect() as conn:
            writer = csv.DictWriter(fh, fieldnames=EXPORT_FIELDS) if kind == "csv" else None
            if writer is not None:
                writer.writeheader()
            for page in iter_actions(
                conn,
                where,
                discoverable_false_is_opt_out=settings.ethics.discoverable_false_is_opt_out,
            ):
                for r in page:
                    flat = _flat(r)
                    if writer is not None:
                        writer.writerow(flat)
                    else:
                        flat["detail"] = r["detail"]
                        fh.write(json.dumps(flat, ensure_ascii=False) + "\n")
                rows += len(page)
        os.replace(tmp, out_path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        fail(f"cannot write {out_path}: {exc.strerror or exc}; choose another path", 1)
    with write_tx(engine) as conn:
        record_action(
            conn,
            actor=cli_actor(),
            role="operator",
            action="audit.export",
            target_kind="file",
            target_id=out_path.name,
            detail={
                "rows": rows,
                "format": kind,
                "actor": where.actor,
                "action": where.action,
                "since": where.since.isoformat() if where.since else None,
                "until": where.until.isoformat() if where.until else None,
            },
            at=datetime.now(UTC),
        )
    out.print(f"wrote {rows:,} audit rows to {out_path}")
