"""Chunked writers for CSV, JSON Lines and Parquet.

Each writer takes rows one chunk at a time and never keeps more than that chunk: CSV and JSONL
stream lines to disk, Parquet writes one row group per chunk (`pyarrow.parquet.ParquetWriter`),
which is what keeps a 10M-row export in bounded memory. An export with no rows is still a valid
file with its header/schema, so "nothing matched" reads back as an empty table.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from groundswell.export.columns import Col, arrow_schema
from groundswell.export.options import ExportOptions

EXTENSIONS = {"csv": "csv", "jsonl": "jsonl", "parquet": "parquet"}


class ChunkWriter(Protocol):
    path: Path
    rows: int

    def write(self, rows: Sequence[dict[str, Any]]) -> None: ...

    def close(self) -> None: ...


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, ensure_ascii=False)
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return _iso(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


class CsvWriter:
    """RFC 4180 CSV, UTF-8, header first; lists as JSON arrays, empty cell for unknown."""

    def __init__(self, path: Path, columns: Sequence[Col], options: ExportOptions) -> None:
        self.path = path
        self.rows = 0
        self._names = [c.name for c in columns]
        self._fh = path.open("w", encoding="utf-8", newline="")
        self._csv = csv.writer(self._fh)
        self._csv.writerow(self._names)

    def write(self, rows: Sequence[dict[str, Any]]) -> None:
        names = self._names
        self._csv.writerows([[_csv_value(r[n]) for n in names] for r in rows])
        self.rows += len(rows)

    def close(self) -> None:
        self._fh.close()


class JsonlWriter:
    """One JSON object per line, UTF-8, keys in data-dictionary order."""

    def __init__(self, path: Path, columns: Sequence[Col], options: ExportOptions) -> None:
        self.path = path
        self.rows = 0
        self._fh = path.open("w", encoding="utf-8", newline="\n")

    def write(self, rows: Sequence[dict[str, Any]]) -> None:
        dumps = json.dumps
        self._fh.write(
            "".join(
                dumps(r, ensure_ascii=False, default=_json_default, separators=(",", ":")) + "\n"
                for r in rows
            )
        )
        self.rows += len(rows)

    def close(self) -> None:
        self._fh.close()


class ParquetWriter:
    """Parquet with an explicit schema from the data dictionary; one row group per chunk."""

    def __init__(self, path: Path, columns: Sequence[Col], options: ExportOptions) -> None:
        self.path = path
        self.rows = 0
        self._schema = arrow_schema(list(columns), options)
        self._writer = pq.ParquetWriter(str(path), self._schema, compression="zstd")

    def write(self, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        data = {name: [r[name] for r in rows] for name in self._schema.names}
        self._writer.write_table(pa.Table.from_pydict(data, schema=self._schema))
        self.rows += len(rows)

    def close(self) -> None:
        self._writer.close()


WRITERS: dict[str, type[CsvWriter] | type[JsonlWriter] | type[ParquetWriter]] = {
    "csv": CsvWriter,
    "jsonl": JsonlWriter,
    "parquet": ParquetWriter,
}


def open_writer(
    fmt: str, folder: Path, dataset: str, columns: Sequence[Col], options: ExportOptions
) -> ChunkWriter:
    return WRITERS[fmt](folder / f"{dataset}.{EXTENSIONS[fmt]}", columns, options)
