"""iCalendar (.ics) files to events: a programme's sessions each become an event with its
own lift. The file is outside input: size-capped, parsed by `icalendar`, and every problem is
reported per entry (named by its summary) instead of failing the whole import.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from domain.settings.config import EventSettings

MAX_BYTES = 2_000_000
MAX_EVENTS = 2_000
_SLUG_BAD = re.compile(r"[^a-z0-9_-]+")


class IcsError(ValueError):
    """The file is not a usable iCalendar file (the message says why and what to do)."""


@dataclass(slots=True)
class IcsImport:
    events: list[EventSettings] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def slugify(text: str, salt: str = "") -> str:
    base = _SLUG_BAD.sub("-", text.lower()).strip("-_")[:80] or "event"
    if salt:
        base = f"{base}-{hashlib.blake2b(salt.encode(), digest_size=3).hexdigest()}"
    return base if base[0].isalnum() else f"e{base}"[:120]


def _aware(v: date | datetime, zone: ZoneInfo) -> datetime:
    if isinstance(v, datetime):
        return v if v.tzinfo else v.replace(tzinfo=zone)
    return datetime.combine(v, time(), tzinfo=zone)


def _zone_name(dt: datetime, default: str) -> str:
    key = getattr(dt.tzinfo, "key", None) or getattr(dt.tzinfo, "zone", None)
    if key:
        try:
            ZoneInfo(str(key))
            return str(key)
        except (KeyError, ValueError):
            pass
    return "UTC" if dt.utcoffset() == timedelta(0) and dt.tzinfo is UTC else default


def parse_ics(data: bytes, *, default_tz: str = "UTC", movement: str | None = None) -> IcsImport:
    """Every VEVENT with a start becomes an `EventSettings` (slug from UID, else summary)."""
    if len(data) > MAX_BYTES:
        raise IcsError(f"the .ics file is {len(data):,} bytes; the limit is {MAX_BYTES:,}")
    import icalendar

    try:
        cal = icalendar.Calendar.from_ical(data)
    except (ValueError, IndexError, KeyError) as exc:
        raise IcsError(
            f"not an iCalendar file ({str(exc)[:120]}); export the programme as .ics"
        ) from exc
    zone = ZoneInfo(default_tz)
    out = IcsImport()
    for comp in cal.walk("VEVENT")[:MAX_EVENTS]:
        summary = str(comp.get("SUMMARY") or "").strip()[:300] or "Untitled session"
        try:
            start_prop = comp.get("DTSTART")
            if start_prop is None:
                raise ValueError("no DTSTART")
            starts = _aware(start_prop.dt, zone)
            if comp.get("DTEND") is not None:
                ends = _aware(comp.get("DTEND").dt, zone)
            elif comp.get("DURATION") is not None:
                ends = starts + comp.get("DURATION").dt
            elif isinstance(start_prop.dt, datetime):
                ends = starts + timedelta(hours=1)
            else:
                ends = starts + timedelta(days=1)
            if ends <= starts:
                raise ValueError("ends before it starts")
            uid = str(comp.get("UID") or "")
            tz = _zone_name(starts, default_tz)
            location = comp.get("LOCATION")
            out.events.append(
                EventSettings(
                    slug=slugify(summary, uid or starts.isoformat()),
                    name=summary,
                    movement=movement,
                    starts=starts,
                    ends=ends,
                    timezone=tz,
                    place=str(location)[:300] if location else None,
                )
            )
        except (ValueError, TypeError, AttributeError, ValidationError) as exc:
            out.problems.append(f"{summary!r}: skipped ({str(exc).splitlines()[0][:120]})")
    if not out.events and not out.problems:
        out.problems.append("the file has no events (VEVENT); nothing to import")
    return out
