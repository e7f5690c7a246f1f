"""The data card shipped with every export: README.md for people, datacard.json for tools.

It says what was asked (filters and options), what the store could know (collection period,
sources and how complete each one's collection was: gaps between successful polls, rate-limit
waits, result-cap splits, unreachable instances, errors), what was withheld and why (opt-outs
counted, deletions excluded), what each file holds (rows, bytes, SHA-256) and what every
column means. A dataset without this cannot be defended to an ethics committee.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select

from domain.records import (
    GAP,
    NEEDS_TOKEN,
    PACING_WAIT,
    PAGING_BUDGET_WAIT,
    RATE_LIMIT_WAIT,
    RESULT_CAP_OVERFLOW,
    RESULT_CAP_SPLIT,
    UNREACHABLE,
    merge_signals,
)
from groundswell import __version__
from groundswell.export.columns import dictionary
from groundswell.export.options import ExportOptions
from storage.models import Movement
from storage.queries import export as q

MAX_GAPS_LISTED = 50
# Runs recorded since migration 0016 carry structured completeness signals (`signals`, counts
# per name, see domain.records.SIGNALS) and are counted from those. Only older runs (signals
# NULL) fall back to the wording below.
# Matched against run errors, skip reasons and source problems as the collectors phrase them
# (Mastodon: "rate limited (429)", "paging budget ... used"; Bluesky: "rate-limit window spent",
# "over N posts at ...; some were not reachable through search" after result-cap splits).
RATE_LIMIT_WORDS = (
    "429",
    "rate limit",
    "rate-limit",
    "ratelimit",
    "too many requests",
    "paging budget",
)
UNREACHABLE_WORDS = (
    "connect",
    "timeout",
    "timed out",
    "unreachable",
    "name or service",
    "dns",
    "refused",
    "502",
    "503",
    "504",
)
CAP_WORDS = ("result cap", "result_cap", "split", "not reachable through search")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def _has(text: str | None, words: tuple[str, ...]) -> bool:
    low = (text or "").lower()
    return any(w in low for w in words)


def source_completeness(
    conn: Connection, source: dict[str, Any], start: datetime | None, end: datetime | None
) -> dict[str, Any]:
    """Walk one source's runs in the window (streamed) and summarise what may be missing."""
    interval = max(int(source.get("interval_s") or 60), 1)
    gap_threshold = max(3 * interval, 900)
    outcomes: dict[str, int] = {}
    skip_reasons: dict[str, int] = {}
    gaps: list[dict[str, Any]] = []
    gap_count = 0
    gap_seconds = 0
    runs = fetched = new = skipped = rate_limited = unreachable = cap_splits = 0
    legacy_runs = cap_overflows = needs_token = pacing = reported_gaps = 0
    wait_s = pacing_s = 0.0
    signals: dict[str, float] = {}
    first = last = last_ok = None
    last_outcome = None
    errors: dict[str, int] = {}
    for run in q.iter_runs(conn, source["id"], start, end):
        runs += 1
        first = first or run.started_at
        last = run.started_at
        last_outcome = run.outcome
        outcomes[run.outcome] = outcomes.get(run.outcome, 0) + 1
        fetched += run.fetched or 0
        new += run.new or 0
        skipped += run.skipped or 0
        structured = run.signals is not None
        legacy_runs += 0 if structured else 1
        for reason, n in (run.skip_reasons or {}).items():
            skip_reasons[reason] = skip_reasons.get(reason, 0) + int(n)
            if not structured and _has(reason, RATE_LIMIT_WORDS):
                rate_limited += int(n)
            if not structured and _has(reason, CAP_WORDS):
                cap_splits += int(n)
        if structured:
            sig = run.signals
            merge_signals(signals, sig)
            rate_limited += int(sig.get(RATE_LIMIT_WAIT, 0) + sig.get(PAGING_BUDGET_WAIT, 0))
            wait_s += sig.get(f"{RATE_LIMIT_WAIT}_s", 0) + sig.get(f"{PAGING_BUDGET_WAIT}_s", 0)
            pacing += int(sig.get(PACING_WAIT, 0))
            pacing_s += sig.get(f"{PACING_WAIT}_s", 0)
            cap_splits += int(sig.get(RESULT_CAP_SPLIT, 0))
            cap_overflows += int(sig.get(RESULT_CAP_OVERFLOW, 0))
            unreachable += int(sig.get(UNREACHABLE, 0))
            needs_token += int(sig.get(NEEDS_TOKEN, 0))
            reported_gaps += int(sig.get(GAP, 0))
        if run.outcome != "ok":
            if not structured and _has(run.error, RATE_LIMIT_WORDS):
                rate_limited += 1
            elif not structured and _has(run.error, UNREACHABLE_WORDS):
                unreachable += 1
            if run.error:
                key = run.error.splitlines()[0][:200]
                if key in errors or len(errors) < 20:
                    errors[key] = errors.get(key, 0) + 1
            continue
        if last_ok is not None:
            span = (run.started_at - last_ok).total_seconds()
            if span > gap_threshold:
                gap_count += 1
                gap_seconds += int(span)
                if len(gaps) < MAX_GAPS_LISTED:
                    gaps.append(
                        {
                            "from": _iso(last_ok),
                            "to": _iso(run.started_at),
                            "seconds": int(span),
                        }
                    )
        last_ok = run.started_at
    if legacy_runs:  # before 0016 an overflowing split was only a problem on the source
        for problem in source.get("problems") or []:
            if _has(problem, CAP_WORDS):
                cap_splits += 1
    return {
        "runs": runs,
        "outcomes": outcomes,
        "first_run": _iso(first),
        "last_run": _iso(last),
        "last_outcome": last_outcome,
        "fetched": fetched,
        "new": new,
        "skipped": skipped,
        "skip_reasons": skip_reasons,
        "gap_threshold_seconds": gap_threshold,
        "gaps": gap_count,
        "gap_seconds": gap_seconds,
        "gaps_listed": gaps,
        "reported_gaps": reported_gaps,
        "rate_limit_waits": rate_limited,
        "rate_limit_wait_seconds": round(wait_s, 1),
        "pacing_waits": pacing,
        "pacing_wait_seconds": round(pacing_s, 1),
        "result_cap_splits": cap_splits,
        "result_cap_overflows": cap_overflows,
        "unreachable_runs": unreachable,
        "needs_token": needs_token,
        "errors": errors,
        "signals": signals,
        "runs_counted_from_wording": legacy_runs,
    }


def build(
    conn: Connection,
    resolved: q.Resolved,
    options: ExportOptions,
    *,
    counts: dict[str, Any],
    files: list[dict[str, Any]],
    created_at: datetime,
    scrub: Callable[[Any], Any] = lambda v: v,
) -> dict[str, Any]:
    """The card. `scrub` rewrites free-form strings from the store (source keys and targets,
    errors, problems) so a pseudonymised card names no blog host or person-link."""
    first, last = q.exported_period(conn, resolved)
    window_from = datetime.fromtimestamp(resolved.ts_from, UTC) if resolved.ts_from else None
    window_to = datetime.fromtimestamp(resolved.ts_to, UTC) if resolved.ts_to else None
    run_from = window_from or (first - timedelta(days=1) if first else None)
    run_to = window_to or (last + timedelta(days=1) if last else None)
    sources = []
    for s in q.sources_in_scope(conn, resolved):
        completeness = source_completeness(conn, s, run_from, run_to)
        completeness["errors"] = {scrub(k): n for k, n in completeness["errors"].items()}
        completeness["skip_reasons"] = {
            scrub(k): n for k, n in completeness["skip_reasons"].items()
        }
        sources.append(
            {
                "key": scrub(s["key"]),
                "platform": s["platform"],
                "kind": s["kind"],
                "target": scrub(s["target"]),
                "enabled": bool(s["enabled"]),
                "status": s["status"],
                "last_success_at": _iso(s["last_success_at"]),
                "last_error": scrub(s["last_error"]),
                "problems": [scrub(p) for p in s["problems"] or []],
                "completeness": completeness,
            }
        )
    mv = Movement.__table__  # type: ignore[attr-defined]
    mq = select(mv.c.slug, mv.c.name, mv.c.hashtags, mv.c.terms, mv.c.urls)
    if resolved.movement_id is not None:
        mq = mq.where(mv.c.id == resolved.movement_id)
    movements = [dict(r._mapping) for r in conn.execute(mq.order_by(mv.c.slug))]
    datasets = ["mention_ids"] if options.ids_only else list(options.datasets)
    return {
        "title": "Groundswell research export",
        "created_at": _iso(created_at),
        "groundswell_version": __version__,
        "query": {
            "filters": resolved.filters.describe(),
            "window": {"from": _iso(window_from), "to": _iso(window_to)},
            "options": options.describe(),
        },
        "movements": movements,
        "collection_period": {"first_mention": _iso(first), "last_mention": _iso(last)},
        "sources": sources,
        "counts": counts,
        "ethics": {
            "opt_outs": "Accounts that opted out (Mastodon noindex or discoverable=false"
            + ("" if options.discoverable_false_is_opt_out else " [not applied: setting off]")
            + ", Bluesky !no-unauthenticated) and posts matched only by a free-text term or "
            "only in thread (replies without the hashtag) from Mastodon accounts that did not "
            "opt in to search (indexable) are counted only: no row, text or handle of theirs "
            "is in this export. An opt-out on any account of a person covers all the person's "
            "accounts (see people).",
            "deletions": "Posts deleted by their authors before the export are excluded.",
            "pseudonymised": options.pseudonymised,
            "pseudonym_key_fingerprint": options.describe()["pseudonym_key_fingerprint"],
            "remaining_risks": remaining_risks(options),
        },
        "people": people_card(conn),
        "files": files,
        "data_dictionary": {d: dictionary(d, options) for d in datasets},
    }


def people_card(conn: Connection) -> dict[str, Any]:
    """How accounts were linked into people (`person_id`): every evidence kind, whether it
    merges, what it means, and how many links of it the store holds (docs/people.md)."""
    from domain.people import KINDS
    from storage.people_links import counts_by_kind

    n = counts_by_kind(conn)
    return {
        "person_id": "Accounts of one person share person_id (the smallest account id of the "
        "person). They are linked only on evidence; a claim alone never merges two accounts. "
        "An opt-out on any of a person's accounts withholds all of them.",
        "evidence": {
            kind: {"strength": strength, "meaning": meaning, "links": n.get(kind, 0)}
            for kind, (strength, meaning) in KINDS.items()
        },
    }


def remaining_risks(options: ExportOptions) -> list[str]:
    """What can still point at a person under these options: said plainly, so nobody takes
    a pseudonymised file for an anonymous one."""
    risks = []
    if not options.pseudonymised:
        risks.append(
            "This export is IDENTIFIED: handles, account ids, post ids and URLs name people. "
            "Keep it under the access controls of your ethics approval."
        )
    else:
        risks.append(
            "Pseudonymised is not anonymous: whoever holds the key (fingerprint above) can "
            "re-identify every account; the key never leaves the store's host."
        )
    if options.generalise_times:
        risks.append(
            f"Times are generalised to the {options.generalise_times}; within one "
            f"{options.generalise_times} posts can still be told apart by their other columns."
        )
    else:
        risks.append(
            "Exact times (created_at, edited_at, first_seen_at) are quasi-identifiers: a post's "
            "time to the second, with its platform, usually finds it again by searching the "
            "platform. Use --generalise-times hour or day to coarsen them."
        )
    risks.append(
        "Rare values are quasi-identifiers: a small Mastodon instance, a rare language or "
        "hashtag, exact like and repost counts can single out a person; aggregate them or "
        "suppress small groups before publishing."
    )
    if not options.drop_text and not options.ids_only:
        risks.append(
            "Free text (text, title, spoiler_text) can be searched for on the platforms, "
            "which finds the author; distinctive phrasing, quoted names and bare @names stay. "
            "Use --drop-text, or quote sparingly and paraphrase."
        )
    if options.ids_only:
        risks.append(
            "An ID-only export lists the platforms' own post ids: it identifies by design."
        )
    return risks


def render_readme(card: dict[str, Any]) -> str:
    """The data card as Markdown, for people."""
    f = card["query"]["filters"]
    o = card["query"]["options"]
    c = card["counts"]
    lines = [
        "# Groundswell research export",
        "",
        f"Created {card['created_at']} by Groundswell {card['groundswell_version']}.",
        "",
        "## Query",
        "",
        f"- Movement: {f['movement'] or 'all'}",
        f"- Time range: {f['since'] or 'start'} to {f['until'] or 'now'} (until exclusive)",
        f"- Platforms: {', '.join(f['platforms']) or 'all'}",
        f"- Event: {f['event'] or 'none'}",
    ]
    if f.get("search"):
        lines.append(f"- Text search: {f['search']!r}")
    lines += [
        "",
        "## Protection applied",
        "",
        f"- Pseudonymised accounts: {'yes' if o['pseudonymised'] else 'no'}"
        + (
            f" (HMAC-SHA256, key fingerprint `{o['pseudonym_key_fingerprint']}`)"
            if o["pseudonymised"]
            else ""
        ),
        f"- ID-only: {'yes' if o['ids_only'] else 'no'}",
        f"- Text dropped: {'yes' if o['drop_text'] else 'no'}",
        f"- URLs dropped: {'yes' if o['drop_urls'] else 'no'}",
        f"- Times generalised to: {o['generalise_times'] or 'not generalised'}",
        f"- Personal data masked in text: {'yes' if o['mask_personal_data'] else 'no'}",
        f"- {card['ethics']['opt_outs']}",
        f"- {card['ethics']['deletions']}",
        "",
        "## Collection period",
        "",
        f"- First mention: {card['collection_period']['first_mention'] or '-'}",
        f"- Last mention: {card['collection_period']['last_mention'] or '-'}",
        "",
        "## Counts",
        "",
    ]
    for name, value in c.items():
        if isinstance(value, dict):
            inner = ", ".join(f"{k}: {v}" for k, v in value.items() if not isinstance(v, dict))
            lines.append(f"- {name}: {inner}")
        else:
            lines.append(f"- {name}: {value}")
    people = card.get("people")
    if people:
        lines += ["", "## People (person_id)", "", people["person_id"], ""]
        lines += [
            "| evidence | merges | links in the store | meaning |",
            "| --- | --- | --- | --- |",
        ]
        for kind, e in people["evidence"].items():
            merges = "yes" if e["strength"] == "strong" else "no (a suggestion)"
            lines.append(f"| {kind} | {merges} | {e['links']} | {e['meaning']} |")
    lines += ["", "## Sources and completeness", ""]
    if not card["sources"]:
        lines.append("No collector sources recorded (e.g. demo data or received pingbacks).")
    else:
        lines.append(
            "| source | status | runs | gaps | rate-limit waits | result-cap splits "
            "| unreachable | errors |"
        )
        lines.append("|---|---|---|---|---|---|---|---|")
        legacy = sum(s["completeness"]["runs_counted_from_wording"] for s in card["sources"])
        for s in card["sources"]:
            k = s["completeness"]
            overflowing = k["result_cap_overflows"]
            lines.append(
                f"| {s['key']} | {s['status']} | {k['runs']} | {k['gaps']} "
                f"({k['gap_seconds']} s)"
                + (f" + {k['reported_gaps']} reported" if k["reported_gaps"] else "")
                + f" | {k['rate_limit_waits']} "
                f"({k['rate_limit_wait_seconds']:g} s) | {k['result_cap_splits']}"
                + (f" ({overflowing} overflowing)" if overflowing else "")
                + f" | {k['unreachable_runs']} | {sum(k['errors'].values())} |"
            )
        lines += [
            "",
            "Rate-limit waits include Mastodon's paging budget; their seconds are the time "
            "waited or until the retry. A result-cap split means a search reached the "
            "service's result cap and was continued in a narrower time window (nothing "
            "lost); an overflowing split means more posts than the cap shared one instant, "
            "so some were not reachable through search.",
        ]
        if legacy:
            lines.append(
                f"{legacy} run(s) were recorded before Groundswell kept these counts as "
                "structured signals; for them the counts are inferred from the error wording "
                "and may be incomplete."
            )
    lines += ["", "## Files", ""]
    for fl in card["files"]:
        lines.append(
            f"- `{fl['name']}`: {fl['rows']} rows, {fl['bytes']} bytes, sha256 {fl['sha256']}"
        )
    lines += ["", "## Data dictionary", ""]
    for dataset, cols in card["data_dictionary"].items():
        lines += [
            f"### {dataset}",
            "",
            "| column | type | class | in this export | meaning |",
            "|---|---|---|---|---|",
        ]
        for col in cols:
            lines.append(
                f"| `{col['name']}` | {col['type']} | {col['class']} | {col['treatment']} "
                f"| {col['description']} |"
            )
        lines.append("")
    lines += [
        "Column classes: **identifying** names or links to a person (removed or keyed when "
        "pseudonymised); **quasi-identifying** is harmless alone but identifying in "
        "combination (kept; see the risks below); **safe** says nothing about who.",
        "",
        "## Re-identification risks that remain",
        "",
    ]
    lines += [f"- {risk}" for risk in card["ethics"]["remaining_risks"]]
    lines.append("")
    lines += [
        "## Using this data responsibly",
        "",
        "Posts belong to their authors. Do not republish text or handles, do not try to "
        "re-identify pseudonymised accounts, honour later deletions (re-run `groundswell "
        "hydrate` on the ID list before publication), and cite the collection period and "
        "completeness above with any finding.",
        "",
    ]
    return "\n".join(lines)


def dumps(card: dict[str, Any]) -> str:
    return json.dumps(card, indent=2, ensure_ascii=False, default=str) + "\n"
