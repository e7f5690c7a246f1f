"""What `groundswell status` and the dashboard's health panel show: sources, cursors, errors,
counts. Small aggregate queries only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from storage.catalog import RETRIED_PARKED_STATUSES, RUNNABLE_STATUSES
from storage.models import Account, Amplification, CollectorRun, Mention, Movement, Source

# What to do about a parked source, by status (its `last_error` names the detail: which
# variable, which instance). Shown first by `groundswell status`.
PARKED_FIXES = {
    "auth_failed": "the login was refused: put a valid handle and app password (or token) in "
    "the environment variables its error names, then run `groundswell init` to retry now",
    "needs_token": "the server wants credentials: set the environment variable its error "
    "names, then run `groundswell init` to retry now",
    "robots_disallowed": "disallowed by robots.txt: the site asks crawlers like ours not to "
    "read this page; ask its owner, or remove the tracked post from the config",
    "timeline_disabled": "the instance turned this timeline off (timelines_access): remove it "
    "from the instance's `timelines`, or run `groundswell init` once its admins turn it on",
}
DEFAULT_FIX = (
    "fix the cause its error names (usually its entry in the config: a changed entry is "
    "retried), then run `groundswell init` to retry it"
)


def is_parked(status: str | None, enabled: bool = True) -> bool:
    """A source a FatalSourceError stopped: enabled, but not in a runnable status."""
    return bool(enabled) and status not in RUNNABLE_STATUSES and status != "removed"


def parked_fix(status: str, next_due_at: datetime | None) -> str:
    """The one-line fix for a parked source, with when it is retried on its own (if ever)."""
    fix = PARKED_FIXES.get(status, DEFAULT_FIX)
    if status in RETRIED_PARKED_STATUSES and next_due_at is not None:
        fix += f"; otherwise it is retried on its own at {_iso(next_due_at.replace(microsecond=0))}"
    elif status not in RETRIED_PARKED_STATUSES:
        fix += "; it is not retried until then"
    return fix


def _t(model: Any) -> Any:
    return model.__table__


def store_counts(conn: Connection) -> dict[str, int]:
    counts = {}
    for name, model in (
        ("movements", Movement),
        ("mentions", Mention),
        ("accounts", Account),
        ("amplifications", Amplification),
        ("sources", Source),
    ):
        counts[name] = int(conn.execute(select(func.count()).select_from(_t(model))).scalar() or 0)
    # People (docs/people.md): accounts linked on evidence count once.
    a = _t(Account)
    counts["people"] = int(
        conn.execute(select(func.count(func.distinct(a.c.person_id)))).scalar() or 0
    )
    m = _t(Mention)
    counts["tombstones"] = int(
        conn.execute(select(func.count()).where(m.c.deleted_at.is_not(None))).scalar() or 0
    )
    return counts


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def source_status(conn: Connection) -> list[dict[str, Any]]:
    """One row per source with its last run's figures; parked sources (stopped by a fatal
    error: a refused login, a missing token, a bad query) first, each with its fix, because
    a parked source collects nothing until someone acts."""
    s = _t(Source)
    r = _t(CollectorRun)
    last_run = (
        select(r.c.source_id, func.max(r.c.id).label("run_id")).group_by(r.c.source_id).subquery()
    )
    q = (
        select(
            s,
            r.c.fetched,
            r.c.new,
            r.c.updated,
            r.c.skipped,
            r.c.outcome,
            r.c.started_at,
            r.c.duration_ms,
            r.c.skip_reasons,
            r.c.signals,
        )
        .select_from(
            s.outerjoin(last_run, last_run.c.source_id == s.c.id).outerjoin(
                r, r.c.id == last_run.c.run_id
            )
        )
        .order_by(s.c.platform, s.c.key)
    )
    out = []
    for row in conn.execute(q):
        parked = is_parked(row.status, row.enabled)
        out.append(
            {
                "key": row.key,
                "platform": row.platform,
                "kind": row.kind,
                "enabled": bool(row.enabled),
                "status": row.status,
                "parked": parked,
                "fix": parked_fix(row.status, row.next_due_at) if parked else None,
                "cursor": row.cursor,
                "etag": row.etag,
                "last_modified": row.last_modified,
                "last_success_at": _iso(row.last_success_at),
                "last_error": row.last_error,
                "last_error_at": _iso(row.last_error_at),
                "problems": row.problems or [],
                "consecutive_failures": row.consecutive_failures,
                "next_due_at": _iso(row.next_due_at),
                "lease_owner": row.lease_owner,
                "budget": row.budget,
                "last_run": None
                if row.outcome is None
                else {
                    "outcome": row.outcome,
                    "started_at": _iso(row.started_at),
                    "fetched": row.fetched,
                    "new": row.new,
                    "updated": row.updated,
                    "skipped": row.skipped,
                    "skip_reasons": row.skip_reasons or {},
                    "signals": row.signals or {},
                    "duration_ms": row.duration_ms,
                },
            }
        )
    out.sort(key=lambda r: not r["parked"])  # stable: platform and key order within each
    return out


def parked_sources(conn: Connection) -> list[dict[str, Any]]:
    """The parked sources alone (key, status, last error, fix): what `collect --once` names
    before it exits non-zero."""
    return [r for r in source_status(conn) if r["parked"]]
