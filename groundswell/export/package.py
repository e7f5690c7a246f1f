"""`export_dataset`: one export, from filters to a finished folder or zip with its data card.

The export is built in a hidden temporary folder next to the destination and moved into place
only when complete, so a failed or interrupted export never leaves a half-written dataset that
looks finished. Rows flow query chunk -> row shaper -> every format's writer, one chunk at a
time.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from groundswell.export import datacard
from groundswell.export.links import LinkPolicy
from groundswell.export.options import ExportError, ExportOptions
from groundswell.export.rows import RowShaper
from groundswell.export.writers import ChunkWriter, open_writer
from storage.queries import export as q

# progress(dataset, rows_done, rows_expected or None)
Progress = Callable[[str, int, int | None], None]


@dataclass(slots=True)
class ExportSummary:
    path: Path
    counts: dict[str, Any] = field(default_factory=dict)
    files: list[dict[str, Any]] = field(default_factory=list)
    card: dict[str, Any] = field(default_factory=dict)


def _check_destination(out: Path, overwrite: bool) -> None:
    parent = out.parent
    if not parent.exists():
        raise ExportError(
            f"cannot write export to {out}: folder {parent} does not exist; "
            "create it or choose another output path"
        )
    if not parent.is_dir():
        raise ExportError(f"cannot write export to {out}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ExportError(
            f"cannot write export to {out}: no permission to write in {parent}; "
            "choose another output path"
        )
    if out.exists() and not overwrite:
        if out.is_dir() and not any(out.iterdir()):
            return
        raise ExportError(
            f"cannot write export to {out}: it already exists; "
            "choose a new path or pass --overwrite"
        )


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def export_dataset(
    engine: Engine,
    out: str | Path,
    filters: q.ExportFilters | None = None,
    options: ExportOptions | None = None,
    *,
    progress: Progress | None = None,
    now: datetime | None = None,
    tool: str = "cli",
    requested_by: str | None = None,
    reason: str | None = None,
    audit_actor: str | None = None,
    audit_role: str | None = None,
) -> ExportSummary:
    """Write an export to `out` (a folder, or a `.zip` file) and return what was written.

    Raises `ExportError` (unwritable destination) or `storage.queries.export.FilterError`
    (unknown movement or event), both with one-line messages for the user. `requested_by`
    and `reason` go to the export log (an identified export's reason is required by the
    front ends); the same transaction writes the audit trail's row (`audit_actor`, default
    "cli:<requested_by>" from the CLI; `audit_role`, default "operator" from the CLI, else
    researcher for an identified export and viewer for a pseudonymised one).
    """
    out = Path(out).expanduser()
    filters = filters or q.ExportFilters()
    options = options or ExportOptions()
    as_zip = out.suffix.lower() == ".zip"
    _check_destination(out, options.overwrite)
    try:
        work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    except OSError as exc:
        raise ExportError(
            f"cannot write export to {out}: {exc.strerror or exc}; choose another output path"
        ) from None
    try:
        summary = _build(engine, work, filters, options, progress, now or datetime.now(UTC))
        if as_zip:
            tmp_zip = work.with_suffix(".zip")
            with zipfile.ZipFile(tmp_zip, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                for f in sorted(work.iterdir()):
                    zf.write(f, arcname=f"{out.stem}/{f.name}")
            if out.exists():
                out.unlink()
            os.replace(tmp_zip, out)
        else:
            if out.exists():
                shutil.rmtree(out) if out.is_dir() else out.unlink()
            os.replace(work, out)
        summary.path = out
        _log(
            engine,
            summary,
            filters,
            options,
            tool,
            now or datetime.now(UTC),
            requested_by=requested_by,
            reason=reason,
            audit_actor=audit_actor,
            audit_role=audit_role,
        )
        return summary
    except OSError as exc:
        raise ExportError(
            f"cannot write export to {out}: {exc.strerror or exc}; "
            "check free space and permissions, or choose another output path"
        ) from None
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
        stale = work.with_suffix(".zip")
        if stale.exists():
            stale.unlink()


def _log(
    engine: Engine,
    summary: ExportSummary,
    filters: q.ExportFilters,
    options: ExportOptions,
    tool: str,
    now: datetime,
    *,
    requested_by: str | None = None,
    reason: str | None = None,
    audit_actor: str | None = None,
    audit_role: str | None = None,
) -> None:
    """The export log (who exported what, when and how protected, never the key) and the
    audit trail's row for it, in one transaction."""
    from storage.audit import record_action
    from storage.engine import write_tx
    from storage.models_export import ExportLog

    described = options.describe()
    with write_tx(engine) as conn:
        log_id = conn.execute(
            ExportLog.__table__.insert()
            .values(  # type: ignore[attr-defined]
                created_at=now,
                destination=str(summary.path),
                filters=filters.describe(),
                options=described,
                counts=summary.counts,
                tool=tool,
                requested_by=requested_by,
                reason=reason,
            )
            .returning(ExportLog.__table__.c.id)  # type: ignore[attr-defined]
        ).scalar_one()
        identified = not options.pseudonymised
        cli = tool == "cli"
        record_action(
            conn,
            actor=audit_actor or (f"cli:{requested_by}" if cli else requested_by) or tool,
            role=audit_role or ("operator" if cli else "researcher" if identified else "viewer"),
            action="export",
            target_kind="export_log",
            target_id=log_id,
            detail={
                "tool": tool,
                "identified": identified,
                "ids_only": options.ids_only,
                "datasets": described["datasets"],
                "formats": described["formats"],
                "network": described["network"],
                "movement": filters.movement,
                "mentions": (summary.counts.get("mentions") or {}).get("exported"),
                "reason": reason[:500] if reason else None,
            },
            at=now,
        )


def _stream(
    dataset: str,
    chunks: Any,
    shape: Callable[[Any], dict[str, Any]],
    writers: list[ChunkWriter],
    progress: Progress | None,
    expected: int | None,
    prepare: Callable[[Any], None] | None = None,
) -> int:
    done = 0
    for chunk in chunks:
        if prepare is not None:
            prepare(chunk)
        rows: list[Any] = [shape(r) for r in chunk]
        for w in writers:
            w.write(rows)
        done += len(rows)
        if progress:
            progress(dataset, done, expected)
    return done


def _build(
    engine: Engine,
    work: Path,
    filters: q.ExportFilters,
    options: ExportOptions,
    progress: Progress | None,
    now: datetime,
) -> ExportSummary:
    shaper = RowShaper(options)
    counts: dict[str, Any] = {}
    written: list[ChunkWriter] = []
    chunk = options.chunk_size
    with engine.connect() as conn:
        resolved = q.resolve(
            conn, filters, discoverable_false_is_opt_out=options.discoverable_false_is_opt_out
        )
        scope = q.scope_counts(conn, resolved)
        counts["mentions"] = {
            "in_filter": scope.in_scope,
            "exported": 0,
            "withheld_opt_out_counted_only": scope.withheld_opt_out,
            "deleted_excluded": scope.deleted,
            "by_platform": scope.by_platform,
        }
        datasets = ("mention_ids",) if options.ids_only else options.datasets
        links = LinkPolicy(
            conn,
            pseudo=shaper.pseudo,
            discoverable_false_is_opt_out=options.discoverable_false_is_opt_out,
        )
        for dataset in datasets:
            cols = shaper.cols(dataset)
            writers = [open_writer(fmt, work, dataset, cols, options) for fmt in options.formats]
            written.extend(writers)
            try:
                if dataset in ("mentions", "mention_ids"):
                    prepare = None
                    if dataset == "mentions":
                        shape = shaper.mentions(q.MENTION_QUERY_COLUMNS, links)
                        urls = shaper.chunk_urls(q.MENTION_QUERY_COLUMNS, links)

                        def prepare(rows: Any, urls: Any = urls) -> None:
                            links.prepare(urls(rows))
                    else:
                        shape = shaper.mention_ids(q.MENTION_QUERY_COLUMNS)
                    n = _stream(
                        dataset,
                        q.iter_mentions(conn, resolved, chunk_size=chunk),
                        shape,
                        writers,
                        progress,
                        scope.exportable,
                        prepare,
                    )
                    counts["mentions"]["exported"] = n
                elif dataset == "accounts":
                    n = _stream(
                        dataset,
                        q.iter_accounts(conn, resolved, chunk_size=chunk),
                        shaper.accounts(links),
                        writers,
                        progress,
                        None,
                    )
                    counts["accounts"] = {
                        "exported": n,
                        "opted_out_authors_counted_only": q.opted_out_account_count(conn, resolved),
                    }
                elif dataset == "edges":
                    ec = q.edge_counts(conn, resolved)
                    n = _stream(
                        dataset,
                        q.iter_edges(conn, resolved, chunk_size=chunk),
                        shaper.edges(q.EDGE_QUERY_COLUMNS),
                        writers,
                        progress,
                        ec["exportable"],
                    )
                    counts["edges"] = {
                        "in_filter": ec["in_scope"],
                        "exported": n,
                        "withheld_opt_out_or_deleted": ec["in_scope"] - n,
                    }
                elif dataset == "events":
                    rows = q.events(conn, resolved)
                    n = _stream(dataset, [rows], shaper.events(), writers, progress, len(rows))
                    counts["events"] = {"exported": n}
            finally:
                for w in writers:
                    w.close()
        if options.network and not options.ids_only:
            from groundswell.export.network import write_network

            counts["network"] = write_network(conn, resolved, shaper, work, options.network)
        files = [
            {
                "name": w.path.name,
                "dataset": w.path.stem,
                "format": w.path.suffix.lstrip("."),
                "rows": w.rows,
                "bytes": w.path.stat().st_size,
                "sha256": _sha256(w.path),
            }
            for w in written
        ]
        for fmt in options.network if not options.ids_only else ():
            p = work / f"network.{fmt}"
            files.append(
                {
                    "name": p.name,
                    "dataset": "network",
                    "format": fmt,
                    "rows": counts["network"]["edges"],
                    "bytes": p.stat().st_size,
                    "sha256": _sha256(p),
                }
            )
        card = datacard.build(
            conn,
            resolved,
            options,
            counts=counts,
            files=files,
            created_at=now,
            scrub=links.scrub,
        )
    (work / "datacard.json").write_text(datacard.dumps(card), encoding="utf-8")
    (work / "README.md").write_text(datacard.render_readme(card), encoding="utf-8")
    return ExportSummary(path=work, counts=counts, files=files, card=card)
