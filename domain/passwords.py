"""The dashboard's shared passwords: plain or scrypt-hashed secrets, and a per-client throttle.

Why hashed: the moderator and dashboard passwords live in the environment of a long-running
process (systemd units, container specs, CI variables) where they are easily read or copied. A
scrypt hash there (`groundswell hash-password` prints one) gives an onlooker nothing to type.
Plain text is still accepted, for a quick local start.

Why a throttle: a wrong try used to cost 0.13-0.22 s, so a shared password could be guessed
from any browser. After `free_failures` wrong tries from one client, that client must wait
before its next try, doubling with each further failure up to `max_wait_s`; the right password
resets it. Every failure is logged with the client's address. The state is per process, keyed
by client address: a new browser session does not reset it (a per-session counter would).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger("domain.passwords")

SCRYPT_PREFIX = "scrypt$"
# scrypt cost: 2**15 x 8 x 1 is 32 MiB and ~0.1 s per check, the interactive-login setting
# the scrypt paper recommends; stored in the hash so it can be raised later.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
MAX_SCRYPT_N = 2**20  # a hash asking for more is refused rather than eating the machine


class BadHashError(ValueError):
    """A secret that starts like a hash but is not one we can check."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, maxmem=256 * 1024 * 1024, dklen=32
    )


def hash_password(password: str) -> str:
    """`scrypt$N$r$p$salt$hash` (base64), for GROUNDSWELL_MODERATOR_PASSWORD and friends."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"{SCRYPT_PREFIX}{SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def is_hashed(secret: str) -> bool:
    return secret.strip().startswith(SCRYPT_PREFIX)


def _parse(secret: str) -> tuple[int, int, int, bytes, bytes]:
    parts = secret.strip()[len(SCRYPT_PREFIX) :].split("$")
    try:
        n, r, p = (int(x) for x in parts[:3])
        salt, digest = _unb64(parts[3]), _unb64(parts[4])
    except (ValueError, IndexError) as exc:
        raise BadHashError(
            "not a scrypt hash from `groundswell hash-password` (scrypt$N$r$p$salt$hash)"
        ) from exc
    if len(parts) != 5 or n < 2 or n & (n - 1) or n > MAX_SCRYPT_N or not (0 < r * p <= 64):
        raise BadHashError("scrypt parameters out of range (N a power of two up to 2**20)")
    return n, r, p, salt, digest


def check_secret(secret: str) -> str | None:
    """Why this configured secret cannot be used, or None (for start-up messages)."""
    if not is_hashed(secret):
        return None
    try:
        _parse(secret)
    except BadHashError as exc:
        return str(exc)
    return None


def verify_password(given: str, secret: str) -> bool:
    """Whether `given` is the password `secret` stands for (plain text or a scrypt hash).

    Constant-time either way, so timing does not tell how much of a guess was right. A
    malformed hash matches nothing (and says why in the log), never everything.
    """
    if is_hashed(secret):
        try:
            n, r, p, salt, digest = _parse(secret)
        except BadHashError as exc:
            log.error("the configured password hash is unusable: %s", exc)
            return False
        return hmac.compare_digest(_scrypt(given, salt, n, r, p), digest)
    return hmac.compare_digest(given.encode(), secret.strip().encode())


@dataclass(slots=True)
class _Record:
    failures: int = 0
    blocked_until: float = 0.0


@dataclass
class Throttle:
    """Wrong-password bookkeeping per client (its address), shared by every session."""

    what: str  # "moderator password", for the log
    free_failures: int = 3
    first_wait_s: float = 2.0
    max_wait_s: float = 300.0
    clock: Callable[[], float] = time.monotonic
    _clients: dict[str, _Record] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        """Forget every client's failures (a restart does the same)."""
        with self._lock:
            self._clients.clear()

    def wait_s(self, client: str) -> float:
        """Seconds before this client may try again (0 when it may now)."""
        with self._lock:
            rec = self._clients.get(client)
            return max(0.0, rec.blocked_until - self.clock()) if rec else 0.0

    def attempt(self, client: str, given: str, secret: str) -> bool | float:
        """True when right; False when wrong; the seconds to wait when this client may not
        try yet (then the password is not even checked)."""
        wait = self.wait_s(client)
        if wait > 0:
            log.warning("%s: try from %s refused, %.0f s to wait", self.what, client, wait)
            return wait
        if verify_password(given, secret):
            with self._lock:
                self._clients.pop(client, None)
            return True
        with self._lock:
            rec = self._clients.setdefault(client, _Record())
            rec.failures += 1
            extra = rec.failures - self.free_failures
            if extra > 0:
                wait = min(self.max_wait_s, self.first_wait_s * 2 ** (extra - 1))
                rec.blocked_until = self.clock() + wait
            failures = rec.failures
            if len(self._clients) > 10_000:  # a flood of addresses must not grow this forever
                self._clients.pop(next(iter(self._clients)))
        log.warning("wrong %s from %s (%d in a row)", self.what, client, failures)
        return False
