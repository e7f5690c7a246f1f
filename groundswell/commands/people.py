"""`groundswell people`: link accounts into people, list suggestions, decide as a moderator
(docs/people.md)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from groundswell.app import ConfigOpt, DbOpt, app, console, fail, load_config, open_store, out

people_app = typer.Typer(
    help="One person across platforms: link accounts on evidence, review suggestions.",
    no_args_is_help=True,
)
app.add_typer(people_app, name="people")


def _progress(*what: str):  # type: ignore[no-untyped-def]
    """One progress display (rich allows one at a time) and each step's `advance(done,
    total)`."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )

    def step(description: str):  # type: ignore[no-untyped-def]
        tasks: list[Any] = []  # a bar appears when its step starts (none for skipped steps)

        def advance(done: int, total: int) -> None:
            if not tasks:
                tasks.append(progress.add_task(description, total=total))
            progress.update(tasks[0], completed=done, total=total)

        return advance

    return progress, [step(w) for w in what]


@people_app.command("link")
def link(
    config: ConfigOpt = None,
    db: DbOpt = None,
    pages: Annotated[
        int,
        typer.Option(
            help="read at most this many blogs' home pages for rel=me links (due ones only: "
            "each page is cached for a week); 0 reads none"
        ),
    ] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """The background linking pass: every account through the evidence rules, then the due
    blogs' rel=me pages. Safe to run at any time and as often as you like. It counts as the
    scheduled pass of `collect --loop` and `up`: `status` shows it, and their next pass is due
    [people].link_every_s after it."""
    from collectors.people_pass import run_by_hand
    from storage.people_links import people_count

    settings = load_config(config)
    engine = open_store(db, settings)
    progress, (walked, pages_read) = _progress("linking accounts", "reading rel=me pages")
    with progress:
        done = run_by_hand(
            engine, settings, pages=pages, accounts_progress=walked, pages_progress=pages_read
        )
    result, checked, report = done.accounts, done.pages, done.report
    with engine.connect() as conn:
        persons, accounts = people_count(conn)
    summary = {
        "people": persons,
        "accounts": accounts,
        "outcome": report.outcome,
        "evidence_added": report.evidence_added,
        "evidence_removed": result.evidence_removed,
        "accounts_moved": result.accounts_moved,
        "pages": (
            {"checked": checked.checked, "claims": checked.claims, "statuses": checked.statuses}
            if checked
            else None
        ),
    }
    if as_json:
        out.print_json(json.dumps(summary))
        return
    out.print(
        f"{persons:,} people behind {accounts:,} accounts; evidence +{report.evidence_added} "
        f"-{result.evidence_removed}; {result.accounts_moved} account(s) changed person"
    )
    if checked:
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(checked.statuses.items())) or "none due"
        out.print(f"rel=me pages read: {checked.checked} ({statuses})")


@people_app.command("suggestions")
def suggestions_cmd(
    config: ConfigOpt = None,
    db: DbOpt = None,
    limit: Annotated[int, typer.Option(help="at most this many")] = 50,
) -> None:
    """One-way claims a moderator may want to look at (they never merge by themselves)."""
    from storage.people_links import suggestions

    engine = open_store(db, load_config(config), create=False)
    with engine.connect() as conn:
        rows = suggestions(conn, limit)
    table = Table(title="suggestions (one-way claims)")
    for col in ("account", "platform", "other account", "platform", "kind", "source"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            str(r["lo_handle"] or r["account_lo"]),
            r["lo_platform"],
            str(r["hi_handle"] or r["account_hi"]),
            r["hi_platform"],
            r["kind"],
            r["source"] or "",
        )
    out.print(table)


def _decide(config, db, a: int, b: int, reason: str, kind: str) -> None:  # type: ignore[no-untyped-def]
    from groundswell.commands.audit import cli_actor
    from storage.engine import write_tx
    from storage.people_links import moderator_link, moderator_unlink

    engine = open_store(db, load_config(config), create=False)
    decide = moderator_link if kind == "link" else moderator_unlink
    from storage.audit import record_action

    actor = cli_actor()
    try:
        with write_tx(engine) as conn:
            moved = decide(conn, a, b, by=actor, reason=reason)
            # the audit trail too (docs/access.md), in the decision's transaction
            record_action(
                conn,
                actor=actor,
                role="operator",
                action=f"people.{kind}",
                target_kind="account",
                target_id=a,
                detail={"accounts": [a, b], "reason": reason[:1000], "moved": moved},
            )
    except (ValueError, LookupError) as exc:
        fail(str(exc), 2)
    out.print(f"{kind}ed {a} and {b}; {moved} account(s) changed person")


@people_app.command("join")
def join(
    a: Annotated[int, typer.Argument(help="an account id (exports' account_id)")],
    b: Annotated[int, typer.Argument(help="the other account id")],
    reason: Annotated[str, typer.Option(help="why: kept in the audit log")],
    config: ConfigOpt = None,
    db: DbOpt = None,
) -> None:
    """A moderator's link: the two accounts are one person."""
    _decide(config, db, a, b, reason, "link")


@people_app.command("split")
def split(
    a: Annotated[int, typer.Argument(help="an account id")],
    b: Annotated[int, typer.Argument(help="the other account id")],
    reason: Annotated[str, typer.Option(help="why: kept in the audit log")],
    config: ConfigOpt = None,
    db: DbOpt = None,
) -> None:
    """A moderator's unlink: the two accounts are two people, whatever evidence says."""
    _decide(config, db, a, b, reason, "unlink")
