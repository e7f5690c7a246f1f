"""Keyed pseudonyms (HMAC-SHA256) for accounts, mentions and edges.

Why a keyed HMAC and not a plain hash: Groundswell's own ids are an *unkeyed* hash of the
public (platform, native_id), so anyone can recompute them for a guessed account and
re-identify it. With a secret key the pseudonym is stable within one key (the same account has
the same pseudonym in every file of one export, and in later exports with the same key) and
unlinkable across keys. The key never enters the export; the data card records only a short
fingerprint so two exports can be seen to share a key.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

PSEUDONYM_HEX_CHARS = 32  # 128 bits: collisions are negligible at any realistic size


class Pseudonymiser:
    """Maps (kind, internal id) to a hex pseudonym under one key."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        # Accounts recur across rows (authors, edges); a small cache saves most HMACs.
        self.pseudonym = lru_cache(maxsize=65_536)(self._pseudonym)  # type: ignore[method-assign]

    def _pseudonym(self, kind: str, value: int | str | None) -> str | None:
        if value is None:
            return None
        mac = hmac.new(self._key, f"{kind}:{value}".encode(), hashlib.sha256)
        return mac.hexdigest()[:PSEUDONYM_HEX_CHARS]

    def pseudonym(self, kind: str, value: int | str | None) -> str | None:  # replaced in __init__
        return self._pseudonym(kind, value)


def key_fingerprint(key: bytes) -> str:
    """A short public fingerprint of a key: equal fingerprints mean linkable exports."""
    return hmac.new(key, b"groundswell-export-key-fingerprint", hashlib.sha256).hexdigest()[:12]
