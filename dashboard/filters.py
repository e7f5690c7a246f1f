"""The filters every page shares (movement, time range, platforms, event, time zone).

They live in the URL query string (`?mv=nhscitizen&range=7d&pf=bluesky,mastodon&ev=...&tz=...`)
so a view can be bookmarked and shared, and in the session so they follow the reader from page
to page. `resolve_filters` is pure (params in, `Filters` out) so it is tested without Streamlit;
`sidebar_filters` draws the widgets and writes the choice back to the URL.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from storage.models import PLATFORMS
from storage.queries.scope import Scope

PRESETS: dict[str, str] = {
    "1h": "Last hour",
    "today": "Today",
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "event": "Event window",
    "all": "All time",
    "custom": "Custom dates",
}
PLATFORM_NAMES = {
    "bluesky": "Bluesky",
    "mastodon": "Mastodon",
    "blog": "Blogs",
    "pingback": "Pingbacks",
    "webmention": "Webmentions",
}
ZONES = ("UTC", "Europe/London", "Europe/Dublin", "Europe/Berlin", "America/New_York")
# Up to this many choices (movements; events with "(none)") show as pills; more as a drop-down
# box.
PILLS_MAX = 7
KEYS = ("mv", "range", "from", "to", "pf", "ev", "tz")
# A page's own choices kept in the URL beside the shared filters (`url_choice`): the
# Amplifiers page's "Count by" (`?by=account`). The shared filters keep them when they write
# the URL back, so a shared link opens the page as it was seen.
PAGE_KEYS = ("by", "net")


@dataclass(frozen=True)
class Filters:
    """What the reader chose, resolved to a concrete UTC window."""

    movement: dict[str, Any]
    preset: str
    start: datetime
    end: datetime
    platforms: tuple[str, ...] = ()
    event: dict[str, Any] | None = None
    tz: str = "UTC"
    notes: tuple[str, ...] = field(default=())

    def scope(self) -> Scope:
        return Scope(
            int(self.movement["id"]),
            int(self.start.timestamp()),
            int(self.end.timestamp()),
            self.platforms,
        )

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    def describe(self) -> str:
        fmt = "%d %b %Y %H:%M"
        start = self.start.astimezone(self.zone).strftime(fmt)
        end = self.end.astimezone(self.zone).strftime(fmt)
        pf = ", ".join(self.platforms) if self.platforms else "all platforms"
        ev = f" · event: {self.event['name']}" if self.event else ""
        return f"{self.movement['name']} · {start} – {end} ({self.tz}) · {pf}{ev}"

    def to_params(self) -> dict[str, str]:
        """The query string for this view (what the URL bar shows)."""
        params = {"mv": self.movement["slug"], "range": self.preset, "tz": self.tz}
        if self.preset == "custom":
            params["from"] = self.start.astimezone(self.zone).date().isoformat()
            params["to"] = (
                (self.end.astimezone(self.zone) - timedelta(seconds=1)).date().isoformat()
            )
        if self.platforms:
            params["pf"] = ",".join(self.platforms)
        if self.event:
            params["ev"] = self.event["slug"]
        return params


def choice_from_params(params: Mapping[str, Any], param: str, options: Sequence[str]) -> str | None:
    """The page choice `param` names in the query string, if it is one of `options` (an
    unknown value is ignored: the page falls back to its default)."""
    value = _first(params.get(param))
    return value if value in options else None


def _first(v: Any) -> str | None:
    if isinstance(v, list | tuple):
        return str(v[-1]) if v else None
    return None if v is None else str(v)


def _ceil_minute(t: datetime) -> datetime:
    floor = t.replace(second=0, microsecond=0)
    return floor if floor == t else floor + timedelta(minutes=1)


def resolve_filters(
    params: Mapping[str, Any],
    *,
    now: datetime,
    movements: Sequence[Mapping[str, Any]],
    events_of: Callable[[int], Sequence[Mapping[str, Any]]],
    span_of: Callable[[int], tuple[int, int] | None],
) -> Filters | None:
    """Turn (possibly hand-edited, hostile) query parameters into a valid `Filters`.

    Unknown values fall back to defaults with a note, never an exception. Returns None when
    the store has no movement yet. Rolling ranges end at `now` rounded up to the minute, so
    cached query results are reused within a minute.
    """
    if not movements:
        return None
    notes: list[str] = []
    slug = _first(params.get("mv"))
    movement = next((m for m in movements if m["slug"] == slug), None)
    if movement is None:
        if slug:
            notes.append(f"Unknown movement {slug!r}; showing {movements[0]['slug']!r}.")
        movement = movements[0]
    movement = dict(movement)

    tz = _first(params.get("tz")) or "UTC"
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        notes.append(f"Unknown time zone {tz!r}; showing UTC.")
        tz, zone = "UTC", ZoneInfo("UTC")

    events = [dict(e) for e in events_of(int(movement["id"]))]
    ev_slug = _first(params.get("ev"))
    event = next((e for e in events if e["slug"] == ev_slug), None)
    if ev_slug and event is None:
        notes.append(f"Unknown event {ev_slug!r}; ignored.")

    raw_pf = _first(params.get("pf")) or ""
    platforms = tuple(p for p in PLATFORMS if p in {x.strip() for x in raw_pf.split(",")})

    end = _ceil_minute(now.astimezone(UTC))
    span = span_of(int(movement["id"]))
    preset = _first(params.get("range"))
    if preset not in PRESETS:
        if preset:
            notes.append(f"Unknown range {preset!r}.")
        # Default: the last 7 days, unless the movement has been quiet that long (then all of it).
        recent = span is not None and span[1] > end.timestamp() - 7 * 86400
        preset = "7d" if recent or span is None else "all"
    start: datetime
    if preset == "1h":
        start = end - timedelta(hours=1)
    elif preset == "today":
        local_midnight = datetime.combine(now.astimezone(zone).date(), time(), tzinfo=zone)
        start = local_midnight.astimezone(UTC)
    elif preset == "7d":
        start = end - timedelta(days=7)
    elif preset == "30d":
        start = end - timedelta(days=30)
    elif preset == "event":
        chosen = event or _latest_event(events, now)
        if chosen is None:
            notes.append("No event to take the window from; showing the last 7 days.")
            preset, start = "7d", end - timedelta(days=7)
        else:
            event = chosen
            start, end = chosen["starts_at"], chosen["ends_at"]
    elif preset == "custom":
        d_from, d_to = _date(params.get("from")), _date(params.get("to"))
        if d_from is None or d_to is None or d_to < d_from:
            notes.append("Custom range needs from/to dates (YYYY-MM-DD, from <= to).")
            preset, start = "7d", end - timedelta(days=7)
        else:
            start = datetime.combine(d_from, time(), tzinfo=zone).astimezone(UTC)
            end = datetime.combine(d_to + timedelta(days=1), time(), tzinfo=zone).astimezone(UTC)
    else:  # all
        if span is None:
            start = end - timedelta(days=7)
        else:
            start = datetime.fromtimestamp(span[0], UTC)
            end = max(end, datetime.fromtimestamp(span[1], UTC))
    return Filters(
        movement=movement,
        preset=preset,
        start=start.astimezone(UTC),
        end=end.astimezone(UTC),
        platforms=platforms,
        event=event,
        tz=tz,
        notes=tuple(notes),
    )


def a_minute_later(view: Callable[[datetime], Filters | None], now: datetime) -> Filters | None:
    """The same view once the minute after `now` has begun, or None when its window does not
    move with the clock (an event's, custom dates): what the dashboard runs ahead of the minute
    (`dashboard.ahead`). `view` resolves the reader's choice as of a moment (`resolve_filters`
    with their parameters), so the view a minute on can never disagree with what the reader
    will be shown then (today's start after midnight included)."""
    here, later = view(now), view(_ceil_minute(now) + timedelta(seconds=1))
    if here is None or later is None or later.scope() == here.scope():
        return None
    return later


def _date(v: Any) -> date | None:
    s = _first(v)
    if not s:
        return None
    try:
        return date.fromisoformat(s[:10])
    except ValueError:
        return None


def _latest_event(events: Sequence[Mapping[str, Any]], now: datetime) -> dict[str, Any] | None:
    started = [e for e in events if e["starts_at"] <= now]
    pool = started or list(events)
    return dict(pool[-1]) if pool else None


# --- Streamlit part -------------------------------------------------------------------------


def sidebar_filters() -> Filters:
    """Draw the shared filters in the sidebar and return the resolved choice.

    Stops the page (with a message saying what to do) when the store is unreachable or empty.
    """
    import streamlit as st

    from dashboard import data

    movements = data.movements()
    if not movements:
        st.title("Groundswell")
        st.info(
            "No movement in this store yet. Declare one in your config file and run "
            "`groundswell init`, or load the demo conversation with `groundswell demo`."
        )
        st.stop()

    params: dict[str, Any] = st.query_params.to_dict()
    if not any(k in params for k in KEYS):
        params = dict(st.session_state.get("_gs_params", {}))
    now = datetime.now(UTC)
    f = resolve_filters(
        params, now=now, movements=movements, events_of=data.events, span_of=data.span
    )
    assert f is not None

    sb = st.sidebar
    sb.header("Filters")
    slugs = [m["slug"] for m in movements]
    names = {m["slug"]: m["name"] for m in movements}
    # Short lists of choices are pills (one click, all in view); a drop-down box only for more
    # than PILLS_MAX movements or events. Each drop-down box costs a new tab about 0.15-0.2 s
    # of the browser's time (docs/benchmarks/pages.md), and one movement needs no choice.
    mv = f.movement["slug"]
    if len(slugs) > 1:
        mv = one_of(sb, "Movement", slugs, default=mv, format_func=names.get)
    keys = list(PRESETS)
    preset = (
        sb.pills("Time range", keys, default=f.preset, format_func=PRESETS.get, required=True)
        or f.preset
    )
    new: dict[str, Any] = {"mv": mv, "range": preset}
    if preset == "custom":
        zone = f.zone
        d_from = sb.date_input("From", value=f.start.astimezone(zone).date())
        d_to = sb.date_input(
            "To (inclusive)", value=(f.end.astimezone(zone) - timedelta(seconds=1)).date()
        )
        new["from"], new["to"] = str(d_from), str(d_to)
    pf = sb.pills(
        "Platforms (none = all)",
        list(PLATFORMS),
        selection_mode="multi",
        default=list(f.platforms),
        format_func=PLATFORM_NAMES.get,
    )
    if pf:
        new["pf"] = ",".join(pf)
    events = data.events(int(f.movement["id"])) if mv == f.movement["slug"] else []
    ev_slugs = [""] + [e["slug"] for e in events]
    ev_names = {"": "(none)", **{e["slug"]: e["name"] for e in events}}
    ev_current = f.event["slug"] if f.event and f.event["slug"] in ev_slugs else ""
    ev = one_of(sb, "Event", ev_slugs, default=ev_current, format_func=ev_names.get)
    if ev:
        new["ev"] = ev
    zones = list(dict.fromkeys([f.tz, *ZONES]))
    new["tz"] = sb.pills("Time zone", zones, default=f.tz, required=True) or f.tz

    notes = f.notes
    f = resolve_filters(new, now=now, movements=movements, events_of=data.events, span_of=data.span)
    assert f is not None
    for note in dict.fromkeys(notes + f.notes):
        sb.warning(note)
    later = a_minute_later(
        lambda t: resolve_filters(
            new, now=t, movements=movements, events_of=data.events, span_of=data.span
        ),
        now,
    )
    if later is not None:
        data.rolls(f.scope(), later.scope())
    params_out = f.to_params()
    st.session_state["_gs_params"] = params_out
    current = st.query_params.to_dict()
    params_out = {**params_out, **{k: current[k] for k in PAGE_KEYS if k in current}}
    if st.query_params.to_dict() != params_out:
        st.query_params.from_dict(params_out)
    sb.caption("Share this view: copy the address bar; it carries these filters.")
    return f


def one_of(
    where: Any,
    label: str,
    options: Sequence[str],
    *,
    default: str,
    format_func: Callable[[str], Any],
    pills_up_to: int = PILLS_MAX,
) -> str:
    """One of `options`, chosen in `where` (the sidebar, the page): pills (one click, all in
    view) for up to `pills_up_to` options, a drop-down box for more. Each drop-down box costs
    a new tab about 0.15 s of the browser's time (docs/benchmarks/pages.md)."""
    if len(options) <= pills_up_to:
        chosen = where.pills(
            label, list(options), default=default, format_func=format_func, required=True
        )
        return default if chosen is None else str(chosen)
    return str(
        where.selectbox(
            label, list(options), index=list(options).index(default), format_func=format_func
        )
    )


def url_choice(label: str, options: Sequence[str], *, param: str, key: str, **radio: Any) -> str:
    """A page's horizontal radio whose choice lives in the URL (`?param=value`) like the shared
    filters, and in the session so it follows the reader back to the page.

    A value in the URL that this page did not write itself (a shared link, a bookmark, the
    first run) sets the radio; otherwise the radio is the reader's and its choice is written
    back to the URL. `param` must be listed in `PAGE_KEYS` (the shared filters keep it)."""
    import streamlit as st

    assert param in PAGE_KEYS, f"{param!r} must be in PAGE_KEYS"
    written: dict[str, str] = st.session_state.setdefault("_gs_choices", {})
    wanted = choice_from_params(st.query_params.to_dict(), param, options)
    if wanted is not None and wanted != written.get(param):
        st.session_state[key] = wanted  # before the widget exists: allowed, and it wins
    elif key not in st.session_state and written.get(param) in options:
        st.session_state[key] = written[param]  # back on the page: the last choice
    chosen = str(st.radio(label, list(options), key=key, horizontal=True, **radio))
    written[param] = chosen
    if st.query_params.get(param) != chosen:
        st.query_params[param] = chosen
    return chosen


def url_toggle(label: str, *, param: str, key: str, **toggle: Any) -> bool:
    """A page's switch whose state lives in the URL (`?param=on` while it is on; no parameter
    while off) like `url_choice`: a shared link opens with the same drawings, and the switch
    follows the reader back to the page. `param` must be listed in `PAGE_KEYS`."""
    import streamlit as st

    assert param in PAGE_KEYS, f"{param!r} must be in PAGE_KEYS"
    written: dict[str, str] = st.session_state.setdefault("_gs_choices", {})
    wanted = choice_from_params(st.query_params.to_dict(), param, ("on", "off"))
    if wanted is not None and wanted != written.get(param):
        st.session_state[key] = wanted == "on"  # before the widget exists: allowed, and it wins
    elif key not in st.session_state and written.get(param) in ("on", "off"):
        st.session_state[key] = written[param] == "on"  # back on the page: the last state
    on = bool(st.toggle(label, key=key, **toggle))
    written[param] = "on" if on else "off"
    if on and st.query_params.get(param) != "on":
        st.query_params[param] = "on"
    elif not on and param in st.query_params:
        del st.query_params[param]
    return on
