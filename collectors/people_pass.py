"""The scheduled people-linking pass of `collect --loop` and `up` (issue 20; docs/people.md).

`groundswell people link` runs the whole background pass by hand (`run_by_hand`, recorded as
a pass); this module runs a bounded slice of it on a schedule beside the collectors, so nobody
has to remember a cron job:

- every `[people].link_every_s` (one hour by default), at most `accounts_per_pass` accounts go
  through the evidence rules again (the walk goes on where the last pass stopped and starts
  over after the last account), then at most `pages_per_pass` due blogs' home pages are read
  for rel=me links (`collectors.relme.check_pages`: the guarded fetcher of the `[blogs]`
  policy, robots.txt first, a week's cache);
- the due time and the walk's position are stored (`people_pass`, migration 0053), so a
  restart does not run a pass again early and two workers never run it at once (the pass is
  claimed by moving its due time forward, for `LEASE` while it runs);
- failures are typed and kept for `groundswell status`: pages that could not be read make the
  pass `partial` (each page keeps its own error and is tried again after six hours), an
  exception makes it `error` with its kind (`store`, `fetch`, `internal`); neither ever stops
  collection: the thread logs, records and waits for the next pass.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from collectors.blogs.reading import blog_fetch_policy
from collectors.relme import PageCheck, check_pages
from domain.settings.config import Settings
from net.fetcher import Fetcher, FetchError
from storage.engine import write_tx
from storage.people_links import (
    LinkResult,
    claim_people_pass,
    finish_people_pass,
    relink_some,
    relink_store,
)

log = logging.getLogger("groundswell.people")

LEASE = timedelta(minutes=15)  # a pass whose worker died is taken again after this
RETRY = timedelta(minutes=10)  # a pass that failed as a whole is tried again sooner
HAND_WORKER = "people link (by hand)"  # the `worker` of a pass run by `groundswell people link`
CHUNK = 2_000  # accounts per transaction: a collector waits for one chunk at most
# Page statuses that are failures to report (robots.txt refusals and redirects to another
# site are answers, not failures).
FAILED_PAGE_STATUSES = frozenset({"transient", "failed", "refused"})


@dataclass(slots=True)
class PassReport:
    """What one scheduled pass did (None from `run_due_pass` when none was due)."""

    outcome: str = "ok"  # ok | partial | error
    error_kind: str | None = None
    error: str | None = None
    accounts_read: int = 0
    pages_checked: int = 0
    pages_failed: int = 0
    evidence_added: int = 0
    accounts_moved: int = 0
    page_statuses: dict[str, int] = field(default_factory=dict)


def _error_kind(exc: BaseException) -> str:
    if isinstance(exc, SQLAlchemyError):
        return "store"
    if isinstance(exc, FetchError):
        return "fetch"
    return "internal"


def _count_pages(report: PassReport, checked: PageCheck) -> None:
    """Add a pass's page reads to its report: pages that could not be read make it
    `partial`, with the commonest failure as its kind."""
    report.pages_checked = checked.checked
    report.evidence_added += checked.evidence_added
    report.page_statuses = dict(checked.statuses)
    failed = {s: n for s, n in checked.statuses.items() if s in FAILED_PAGE_STATUSES}
    report.pages_failed = sum(failed.values())
    if failed:
        report.outcome = "partial"
        report.error_kind = max(failed, key=lambda s: (failed[s], s))
        report.error = (
            f"{report.pages_failed} of {checked.checked} rel=me page(s) could not be "
            f"read ({', '.join(f'{s}: {n}' for s, n in sorted(failed.items()))}); "
            "each is tried again after six hours"
        )


def run_due_pass(
    engine: Engine,
    settings: Settings,
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    worker: str = "",
    fetcher: Fetcher | None = None,
) -> PassReport | None:
    """Run the scheduled pass if it is due; None when it is not (or is switched off)."""
    cfg = settings.people
    if cfg.link_every_s <= 0:
        return None
    started = now()
    with write_tx(engine) as conn:
        after = claim_people_pass(conn, started, lease_until=started + LEASE, worker=worker)
    if after is None:
        return None
    report = PassReport()
    try:
        left = cfg.accounts_per_pass
        while left > 0:
            with write_tx(engine) as conn:
                went_to, read, result = relink_some(conn, after, min(CHUNK, left))
            after = went_to  # only once the chunk is committed
            report.accounts_read += read
            report.evidence_added += result.evidence_added
            report.accounts_moved += result.accounts_moved
            left -= read
            if after == -1:  # the walk reached the last account: start over next pass
                break
        if cfg.pages_per_pass > 0:
            own = fetcher is None
            fetcher = fetcher or Fetcher(blog_fetch_policy(settings.blogs))
            try:
                checked = check_pages(engine, fetcher, limit=cfg.pages_per_pass, now=now())
            finally:
                if own:
                    fetcher.close()
            _count_pages(report, checked)
    except Exception as exc:  # recorded and shown by `status`; collection goes on
        report.outcome, report.error_kind = "error", _error_kind(exc)
        report.error = f"{type(exc).__name__}: {exc}"
        log.warning("people linking pass failed (%s): %s", report.error_kind, report.error)
    _record(engine, report, settings, started=started, ended=now(), relink_after=after)
    return report


def _record(
    engine: Engine,
    report: PassReport,
    settings: Settings,
    *,
    started: datetime,
    ended: datetime,
    relink_after: int,
) -> None:
    """Store how a pass went and when the next is due: `link_every_s` after this one started
    (sooner after an error; none while the scheduled pass is switched off)."""
    every = settings.people.link_every_s
    due = started + timedelta(seconds=every) if every > 0 else None
    if due is not None and report.outcome == "error":
        due = min(due, ended + RETRY)
    try:
        with write_tx(engine) as conn:
            finish_people_pass(
                conn,
                now=ended,
                next_due_at=due,
                relink_after=relink_after,
                outcome=report.outcome,
                error_kind=report.error_kind,
                error=report.error,
                accounts_read=report.accounts_read,
                pages_checked=report.pages_checked,
                pages_failed=report.pages_failed,
                evidence_added=report.evidence_added,
                accounts_moved=report.accounts_moved,
            )
    except SQLAlchemyError:  # the store is away: the lease runs out and a later pass retries
        log.warning("could not record the people linking pass", exc_info=True)


@dataclass(slots=True)
class HandPass:
    """What `groundswell people link` did: the pass's report as `status` shows it, what the
    accounts' walk changed, and the pages read (None with `--pages 0`)."""

    report: PassReport
    accounts: LinkResult
    pages: PageCheck | None


def run_by_hand(
    engine: Engine,
    settings: Settings,
    *,
    pages: int,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    fetcher: Fetcher | None = None,
    accounts_progress: Callable[[int, int], None] | None = None,
    pages_progress: Callable[[int, int], None] | None = None,
) -> HandPass:
    """`groundswell people link`: the whole pass at once (every account, then at most `pages`
    due blogs' pages), whether or not one is due, recorded as a pass like the scheduled one.

    It counts as the scheduled pass (`people_pass`): `status` shows it, the next scheduled
    pass is due `link_every_s` after it and its walk starts over, so a hand run is not
    redone at once by `collect --loop` or `up`; while it runs, they do not start one. An
    exception is recorded (`error`, with its kind) and raised to the caller."""
    started = now()
    worker = HAND_WORKER
    with write_tx(engine) as conn:
        claim_people_pass(conn, started, lease_until=started + LEASE, worker=worker, force=True)
    report, accounts, checked = PassReport(), LinkResult(), None

    def walked(done: int, total: int) -> None:
        report.accounts_read = done
        if accounts_progress is not None:
            accounts_progress(done, total)

    try:
        accounts = relink_store(engine, chunk=CHUNK, progress=walked)
        report.evidence_added += accounts.evidence_added
        report.accounts_moved += accounts.accounts_moved
        if pages > 0:
            own = fetcher is None
            fetcher = fetcher or Fetcher(blog_fetch_policy(settings.blogs))
            try:
                checked = check_pages(
                    engine, fetcher, limit=pages, now=now(), progress=pages_progress
                )
            finally:
                if own:
                    fetcher.close()
            _count_pages(report, checked)
    except BaseException as exc:  # Ctrl-C too: the pass is no longer running
        report.outcome, report.error_kind = "error", _error_kind(exc)
        report.error = f"{type(exc).__name__}: {exc}"
        _record(engine, report, settings, started=started, ended=now(), relink_after=-1)
        raise
    _record(engine, report, settings, started=started, ended=now(), relink_after=-1)
    return HandPass(report, accounts, checked)


def start_people_thread(
    engine: Engine,
    settings: Settings,
    stop: threading.Event,
    *,
    worker: str = "",
    check_every_s: float = 30.0,
    on_pass: Callable[[PassReport], None] | None = None,
) -> threading.Thread | None:
    """Look every `check_every_s` (at most `link_every_s`) whether the pass is due and run it,
    until `stop`; nothing when `[people].link_every_s` is 0. A daemon thread: it never keeps
    the process alive, and nothing it raises reaches the collectors."""
    every = settings.people.link_every_s
    if every <= 0:
        return None
    wait = max(0.05, min(check_every_s, float(every)))

    def run() -> None:
        while not stop.is_set():
            try:
                report = run_due_pass(engine, settings, worker=worker)
                if report is not None:
                    log.info(
                        "people linking pass %s: %d accounts, %d pages (%d failed), "
                        "evidence +%d, %d account(s) changed person",
                        report.outcome,
                        report.accounts_read,
                        report.pages_checked,
                        report.pages_failed,
                        report.evidence_added,
                        report.accounts_moved,
                    )
                    if on_pass is not None:
                        on_pass(report)
            except Exception:  # the claim itself failed (store away): try again later
                log.warning("people linking pass could not start", exc_info=True)
            stop.wait(wait)

    thread = threading.Thread(target=run, name="groundswell-people", daemon=True)
    thread.start()
    return thread
