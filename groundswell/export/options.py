"""What an export contains and how it is protected: the options every front end (CLI, page,
benchmark) passes to `groundswell.export.export_dataset`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FORMATS = ("csv", "jsonl", "parquet")
DATASETS = ("mentions", "accounts", "edges", "events")
NETWORK_FORMATS = ("gexf", "graphml")
TIME_GRAINS = ("hour", "day")
PSEUDONYM_KEY_ENV = "GROUNDSWELL_PSEUDONYM_KEY"


class ExportError(RuntimeError):
    """An export could not be written; the message names the input at fault and the fix."""


@dataclass(frozen=True, slots=True)
class ExportOptions:
    """Formats, datasets and the protections applied to every row.

    `pseudonym_key`: when set, accounts (and the mention ids, native ids and URLs that would
    reveal them) are replaced by a keyed HMAC, stable within one key and unlinkable across
    keys. `ids_only`: only (platform, native_id) of mentions plus the data card, for sharing
    a dataset that recipients rebuild with `groundswell hydrate`.
    """

    formats: tuple[str, ...] = ("csv",)
    datasets: tuple[str, ...] = DATASETS
    network: tuple[str, ...] = ()
    pseudonym_key: bytes | None = field(default=None, repr=False)
    drop_text: bool = False
    drop_urls: bool = False
    generalise_times: str | None = None
    mask_personal_data: bool = False
    ids_only: bool = False
    chunk_size: int = 5_000
    discoverable_false_is_opt_out: bool = True
    overwrite: bool = False

    def __post_init__(self) -> None:
        bad = [f for f in self.formats if f not in FORMATS]
        if bad or not self.formats:
            raise ExportError(
                f"unknown export format {', '.join(bad) or '(none)'}; use {', '.join(FORMATS)}"
            )
        bad = [d for d in self.datasets if d not in DATASETS]
        if bad:
            raise ExportError(f"unknown dataset {', '.join(bad)}; use {', '.join(DATASETS)}")
        bad = [n for n in self.network if n not in NETWORK_FORMATS]
        if bad:
            raise ExportError(
                f"unknown network format {', '.join(bad)}; use {', '.join(NETWORK_FORMATS)}"
            )
        if self.generalise_times not in (None, *TIME_GRAINS):
            raise ExportError(
                f"cannot generalise times to {self.generalise_times!r}; use hour or day"
            )
        if self.pseudonym_key is not None and len(self.pseudonym_key) < 16:
            raise ExportError(
                "the pseudonymisation key is shorter than 16 bytes; use a long random secret "
                "(e.g. `python -c 'import secrets; print(secrets.token_hex(32))'` "
                f"in ${PSEUDONYM_KEY_ENV})"
            )
        if self.chunk_size < 1:
            raise ExportError("chunk size must be at least 1")

    @property
    def pseudonymised(self) -> bool:
        return self.pseudonym_key is not None

    def describe(self) -> dict[str, Any]:
        """The options as recorded in the data card (never the key itself)."""
        from groundswell.export.pseudonym import key_fingerprint

        return {
            "formats": list(self.formats),
            "datasets": ["mention_ids"] if self.ids_only else list(self.datasets),
            "network": [] if self.ids_only else list(self.network),
            "ids_only": self.ids_only,
            "pseudonymised": self.pseudonymised,
            "pseudonym_key_fingerprint": key_fingerprint(self.pseudonym_key)
            if self.pseudonym_key
            else None,
            "drop_text": self.drop_text,
            "drop_urls": self.drop_urls,
            "generalise_times": self.generalise_times,
            "mask_personal_data": self.mask_personal_data,
            "discoverable_false_is_opt_out": self.discoverable_false_is_opt_out,
        }
