"""Checks several settings sections share: time zones, email addresses, secrets named in the
config and read from the environment. Their own module so the sections (`config.py`,
`alerts.py`) import them without importing each other."""

from __future__ import annotations

import os
import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_EMAIL_RE = re.compile(r"^[^@\s]+@[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$")


def check_zone(v: str) -> str:
    """An IANA time zone name, or a message saying what to write instead."""
    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {v!r}; use an IANA name like 'Europe/London'") from exc
    return v


def check_emails(v: list[str]) -> list[str]:
    """Email addresses, lower-cased; a malformed one is refused with an example of the form."""
    out = []
    for email in v:
        e = email.strip().lower()
        if not _EMAIL_RE.match(e):
            raise ValueError(f"{email!r} is not an email address; write it like 'mo@nhs.uk'")
        out.append(e)
    return out


def secret_from_env(var: str | None, *, what: str) -> str | None:
    """Read a secret named in the config from the environment (never from the file)."""
    if not var:
        return None
    value = os.environ.get(var)
    if value is None or not value.strip():
        return None
    return value.strip()
