"""Research exports (DESIGN.md sections 5 and 6): CSV, JSON Lines, Parquet and network files
with a data card, pseudonymisation, ID-only datasets, and the ethics rules applied in SQL."""

from groundswell.export.options import ExportError, ExportOptions
from groundswell.export.package import ExportSummary, export_dataset
from storage.queries.export import ExportFilters, FilterError

__all__ = [
    "ExportError",
    "ExportFilters",
    "ExportOptions",
    "ExportSummary",
    "FilterError",
    "export_dataset",
]
