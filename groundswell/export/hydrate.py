"""`hydrate`: rebuild an ID-only dataset from the platforms, honouring what changed since.

A shared ID list carries no posts; whoever holds it refetches the current content, so a post
deleted since, or an author who opted out since, simply does not come back. A local store
(when given) adds what Groundswell itself learnt (tombstones, opt-out flags) on top.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from groundswell.export.idlist import BadLine, IdLine, read_id_list
from groundswell.export.lookup import Found, Lookups

BATCH = 25
StoreStates = Callable[[list[tuple[str, str]]], dict[tuple[str, str], str]]
# (platform, native ids) -> native id -> [(instance, local id)] where the store saw them
StoreSightings = Callable[[str, list[str]], dict[str, list[tuple[str, str | None]]]]


@dataclass(slots=True)
class HydrateReport:
    lines: int = 0
    hydrated: int = 0
    deleted: int = 0
    opted_out: int = 0
    unsupported: int = 0
    errors: int = 0
    duplicates: int = 0
    bad_lines: list[BadLine] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # first few errors, for the user

    def as_dict(self) -> dict[str, Any]:
        return {
            "lines": self.lines,
            "hydrated": self.hydrated,
            "deleted": self.deleted,
            "opted_out": self.opted_out,
            "unsupported": self.unsupported,
            "errors": self.errors,
            "duplicates": self.duplicates,
            "bad_lines": [{"line": b.line, "reason": b.reason} for b in self.bad_lines],
        }


def _batches(lines: Iterable[IdLine | BadLine], report: HydrateReport) -> Iterable[list[IdLine]]:
    """Good lines grouped per platform in batches; bad lines recorded as they pass."""
    pending: dict[str, list[IdLine]] = {}
    seen: set[tuple[str, str]] = set()
    for item in lines:
        report.lines += 1
        if isinstance(item, BadLine):
            report.bad_lines.append(item)
            continue
        key = (item.platform, item.native_id)
        if key in seen:  # bounded by the list's distinct ids; a list is far smaller than a store
            report.duplicates += 1
            continue
        seen.add(key)
        group = pending.setdefault(item.platform, [])
        group.append(item)
        if len(group) >= BATCH:
            yield group
            pending[item.platform] = []
    for group in pending.values():
        if group:
            yield group


def hydrate(
    id_list: str | Path,
    out: str | Path,
    lookups: Lookups,
    *,
    store_states: StoreStates | None = None,
    store_sightings: StoreSightings | None = None,
    progress: Callable[[int], None] | None = None,
) -> HydrateReport:
    """Refetch every id in `id_list` and write the posts still available to `out` (JSONL).

    `store_sightings` (with a local store): where the store saw each Mastodon status and its
    id there, so it is asked on that instance by that id, as `recheck` does."""
    report = HydrateReport()
    out = Path(out)
    with out.open("w", encoding="utf-8") as fh:
        for group in _batches(read_id_list(id_list), report):
            platform = group[0].platform
            natives = [g.native_id for g in group]
            known = store_states([(platform, n) for n in natives]) if store_states else {}
            ask = [n for n in natives if known.get((platform, n)) not in ("deleted", "opted_out")]
            for n in natives:
                state = known.get((platform, n))
                if state == "deleted":
                    report.deleted += 1
                elif state == "opted_out":
                    report.opted_out += 1
            seen = store_sightings(platform, ask) if store_sightings and ask else None
            for found in lookups.lookup(platform, ask, seen=seen) if ask else []:
                _tally(report, found)
                if found.state == "ok" and found.record is not None:
                    fh.write(json.dumps(found.record, ensure_ascii=False, default=str) + "\n")
            if progress:
                progress(len(group))
    return report


def _tally(report: HydrateReport, found: Found) -> None:
    if found.state == "ok":
        report.hydrated += 1
    elif found.state == "deleted":
        report.deleted += 1
    elif found.state == "opted_out":
        report.opted_out += 1
    elif found.state == "unsupported":
        report.unsupported += 1
        if len(report.problems) < 10:
            report.problems.append(f"{found.native_id}: {found.detail}")
    else:
        report.errors += 1
        if len(report.problems) < 10:
            report.problems.append(f"{found.native_id}: {found.detail}")
