"""Read an ID list (what `groundswell export --ids-only` writes, or a colleague's file).

CSV (`platform,native_id`, header optional), JSON Lines (`{"platform":..,"native_id":..}`) or
Parquet. The file is hostile input: every line is checked, and a bad one is reported with its
line number and reason and skipped; it never stops the rest.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from groundswell.export.lookup import valid_native_id
from storage.models import PLATFORMS

MAX_LINE_CHARS = 4_000


@dataclass(frozen=True, slots=True)
class IdLine:
    line: int
    platform: str
    native_id: str


@dataclass(frozen=True, slots=True)
class BadLine:
    line: int
    reason: str


def _check(line: int, platform: object, native_id: object) -> IdLine | BadLine:
    if not isinstance(platform, str) or not isinstance(native_id, str):
        return BadLine(line, "platform and native_id must both be text")
    platform = platform.strip().lower()
    native_id = native_id.strip()
    if platform not in PLATFORMS:
        return BadLine(line, f"unknown platform {platform[:40]!r}; use {', '.join(PLATFORMS)}")
    why = valid_native_id(platform, native_id)
    if why:
        return BadLine(line, f"native_id {native_id[:60]!r}: {why}")
    return IdLine(line, platform, native_id)


def _csv(path: Path) -> Iterator[IdLine | BadLine]:
    with path.open(encoding="utf-8", errors="replace", newline="") as fh:
        for n, raw in enumerate(fh, start=1):
            if len(raw) > MAX_LINE_CHARS:
                yield BadLine(n, f"line longer than {MAX_LINE_CHARS} characters")
                continue
            text = raw.strip()
            if not text or text.startswith("#"):
                continue
            try:
                fields = next(csv.reader([text], delimiter="\t" if "\t" in text else ","))
            except csv.Error as exc:
                yield BadLine(n, f"not CSV: {exc}")
                continue
            if n == 1 and [f.strip().lower() for f in fields] == ["platform", "native_id"]:
                continue
            if len(fields) != 2:
                yield BadLine(n, f"expected 2 fields (platform,native_id), found {len(fields)}")
                continue
            yield _check(n, fields[0], fields[1])


def _jsonl(path: Path) -> Iterator[IdLine | BadLine]:
    with path.open(encoding="utf-8", errors="replace") as fh:
        for n, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            if len(raw) > MAX_LINE_CHARS:
                yield BadLine(n, f"line longer than {MAX_LINE_CHARS} characters")
                continue
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError as exc:
                yield BadLine(n, f"not JSON: {exc.msg}")
                continue
            if not isinstance(obj, dict):
                yield BadLine(n, "expected a JSON object with platform and native_id")
                continue
            yield _check(n, obj.get("platform"), obj.get("native_id"))


def _parquet(path: Path) -> Iterator[IdLine | BadLine]:
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    n = 0
    for batch in pf.iter_batches(batch_size=10_000, columns=["platform", "native_id"]):
        for row in batch.to_pylist():
            n += 1
            yield _check(n, row.get("platform"), row.get("native_id"))


def read_id_list(path: str | Path) -> Iterator[IdLine | BadLine]:
    """Yield each usable line or the reason it is not usable, streaming the file."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return _jsonl(path)
    if suffix == ".parquet":
        return _parquet(path)
    return _csv(path)
