"""Chunked writers for CSV, JSON Lines and Parquet.

Each writer takes rows (tuples in data-dictionary order) one chunk at a time and never keeps
more than that chunk: CSV and JSONL stream lines to disk, Parquet writes one row group per
chunk (`pyarrow.parquet.ParquetWriter`), which is what keeps a 10M-row export in bounded
memory. An export with no rows is still a valid file with its header/schema, so "nothing
matched" reads back as an empty table. Only the columns that need it are converted per cell
(times, booleans, lists); the rest go straight to the C writers.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from groundswell.export.columns import Col, arrow_schema
from groundswell.export.options import ExportOptions

EXTENSIONS = {"csv": "csv", "jsonl": "jsonl", "parquet": "parquet"}
Row = Sequence[Any]


class ChunkWriter(Protocol):
    path: Path
    rows: int

    def write(self, rows: Sequence[Row]) -> None: ...

    def close(self) -> None: ...


def iso(value: datetime | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return value.isoformat().replace("+00:00", "Z")


def _csv_bool(value: Any) -> str:
    return "" if value is None else ("true" if value else "false")


def _csv_list(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _converters(
    columns: Sequence[Col], table: dict[str, Callable[[Any], Any]]
) -> list[tuple[int, Callable[[Any], Any]]]:
    return [(i, table[c.kind]) for i, c in enumerate(columns) if c.kind in table]


def _apply(rows: Sequence[Row], conv: list[tuple[int, Callable[[Any], Any]]]) -> list[Row]:
    if not conv:
        return list(rows)
    out: list[Row] = []
    for r in rows:
        vals = list(r)
        for i, fn in conv:
            vals[i] = fn(vals[i])
        out.append(vals)
    return out


class CsvWriter:
    """RFC 4180 CSV, UTF-8, header first; lists as JSON arrays, empty cell for unknown."""

    def __init__(self, path: Path, columns: Sequence[Col], options: ExportOptions) -> None:
        self.path = path
        self.rows = 0
        self._conv = _converters(columns, {"time": iso, "bool": _csv_bool, "list": _csv_list})
        self._fh = path.open("w", encoding="utf-8", newline="")
        self._csv = csv.writer(self._fh)
        self._csv.writerow([c.name for c in columns])

    def write(self, rows: Sequence[Row]) -> None:
        self._csv.writerows(_apply(rows, self._conv))
        self.rows += len(rows)

    def close(self) -> None:
        self._fh.close()


class JsonlWriter:
    """One JSON object per line, UTF-8, keys in data-dictionary order."""

    def __init__(self, path: Path, columns: Sequence[Col], options: ExportOptions) -> None:
        self.path = path
        self.rows = 0
        self._names = [c.name for c in columns]
        self._conv = _converters(columns, {"time": iso})
        self._encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
        self._fh = path.open("w", encoding="utf-8", newline="\n")

    def write(self, rows: Sequence[Row]) -> None:
        # One encoder for the file: json.dumps with options builds a new encoder per call,
        # which measurably dominated JSONL exports.
        encode, names = self._encoder.encode, self._names
        self._fh.write(
            "".join(
                encode(dict(zip(names, r, strict=True))) + "\n" for r in _apply(rows, self._conv)
            )
        )
        self.rows += len(rows)

    def close(self) -> None:
        self._fh.close()


def json_lists(values: Sequence[Any]) -> list[Any]:
    """A column of list cells, some given as the JSON text SQLite stores, as Python lists:
    the whole column parsed in one `json.loads` (one C call instead of one per cell)."""
    if not any(type(v) is str for v in values):
        return list(values)
    return json.loads(
        "["
        + ",".join(
            "null" if v is None else v if type(v) is str else json.dumps(v, ensure_ascii=False)
            for v in values
        )
        + "]"
    )


class ParquetWriter:
    """Parquet with an explicit schema from the data dictionary; one row group per chunk.
    List columns may arrive as JSON text (`RowShaper.lists_as_json`); each is parsed per
    chunk, in one call."""

    def __init__(self, path: Path, columns: Sequence[Col], options: ExportOptions) -> None:
        self.path = path
        self.rows = 0
        self._schema = arrow_schema(list(columns), options)
        self._lists = [pa.types.is_list(f.type) for f in self._schema]
        self._writer = pq.ParquetWriter(str(path), self._schema, compression="zstd")

    def write(self, rows: Sequence[Row]) -> None:
        if not rows:
            return
        arrays = [
            pa.array(json_lists(col) if is_list else list(col), type=field.type)
            for col, field, is_list in zip(
                zip(*rows, strict=True), self._schema, self._lists, strict=True
            )
        ]
        self._writer.write_table(pa.Table.from_arrays(arrays, schema=self._schema))
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
