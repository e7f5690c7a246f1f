"""The digest: a period's summary a comms team can forward (docs/alerts.md, "Digest").

Its numbers are the Overview's: the headline comes from `storage.queries.overview.
headline_with_change` for the same scope, and the digest links to the Overview with that
exact range (a custom range of whole days in the digest's zone), so the two cannot disagree.
Lists obey the consent rules: top posts from `overview.top_posts`, new voices from
`overview.new_voices`, amplifiers from `amplifiers.ranked_received` (each withholds opted-out
accounts and term-only/in-thread matches without consent).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, select

from domain.settings.config import Settings
from groundswell.alerts.evaluate import dashboard_link
from storage.alerts import AL, NewAlert, record_alert
from storage.engine import write_tx
from storage.queries.amplifiers import ranked_received
from storage.queries.overview import (
    HEADLINE_KEYS,
    HEADLINE_LABELS,
    headline_with_change,
    new_voices,
    top_posts,
    volume_by_platform,
)
from storage.queries.scope import Scope, list_events, list_movements

LABELS = HEADLINE_LABELS
DAYS = {"day": 1, "week": 7}
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class Period:
    """Whole days `[first, last]` in `zone`: the Overview's custom range of the same dates."""

    kind: str
    first: date
    last: date
    zone: str

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(), tzinfo=ZoneInfo(self.zone)).astimezone(UTC)

    @property
    def end(self) -> datetime:
        nxt = self.last + timedelta(days=1)
        return datetime.combine(nxt, time(), tzinfo=ZoneInfo(self.zone)).astimezone(UTC)

    def label(self) -> str:
        if self.first == self.last:
            return self.first.strftime("%A %d %B %Y")
        return f"{self.first:%d %b} to {self.last:%d %b %Y}"


def last_period(kind: str, now: datetime, zone: str = "UTC") -> Period:
    """The last complete day (or 7 days) before `now`'s date in `zone`."""
    today = now.astimezone(ZoneInfo(zone)).date()
    return Period(kind, today - timedelta(days=DAYS[kind]), today - timedelta(days=1), zone)


def _movement(conn: Connection, slug: str | None) -> dict[str, Any]:
    movements = list_movements(conn)
    if not movements:
        raise LookupError("the store has no movement yet; run `groundswell init` or `demo`")
    if slug is None:
        return movements[0]
    for m in movements:
        if m["slug"] == slug:
            return m
    raise LookupError(f"no movement {slug!r}; known: {[m['slug'] for m in movements]}")


def build(conn: Connection, period: Period, movement_slug: str | None, base_url: str) -> dict:
    """Everything the digest shows, as plain data."""
    mv = _movement(conn, movement_slug)
    scope = Scope(mv["id"], int(period.start.timestamp()), int(period.end.timestamp()))
    bucket = 3600 if period.kind == "day" else 86_400
    volume: dict[int, int] = {}
    for row in volume_by_platform(conn, scope, bucket):
        volume[row["bucket_ts"]] = volume.get(row["bucket_ts"], 0) + row["mentions"]
    events = [
        e
        for e in list_events(conn, mv["id"])
        if e["start_ts"] < scope.end_ts and e["end_ts"] > scope.start_ts
    ]
    link_params = {
        "mv": mv["slug"],
        "range": "custom",
        "from": period.first.isoformat(),
        "to": period.last.isoformat(),
        "tz": period.zone,
    }
    from urllib.parse import urlencode

    return {
        "movement": mv,
        "period": period,
        "headline": headline_with_change(conn, scope),
        "volume": [(ts, volume.get(ts, 0)) for ts in range(scope.start_ts, scope.end_ts, bucket)],
        "bucket_s": bucket,
        "top_posts": top_posts(conn, scope, limit=5),
        "new_voices": new_voices(conn, scope, limit=10),
        "amplifiers": ranked_received(conn, scope, limit=5),
        "events": events,
        "link": f"{base_url.rstrip('/')}/overview?{urlencode(link_params)}",
        "link_params": link_params,
    }


def _change(h: dict[str, int | None]) -> str:
    change = h.get("change") or 0
    return "no change" if change == 0 else f"{change:+,} on the previous period"


def _who(row: dict[str, Any]) -> str:
    return str(row.get("handle") or row.get("display_name") or row.get("platform") or "someone")


def render_text(d: dict[str, Any]) -> str:
    p: Period = d["period"]
    lines = [f"{d['movement']['name']}: {p.kind}ly digest, {p.label()} ({p.zone})", ""]
    for k in HEADLINE_KEYS:
        h = d["headline"][k]
        lines.append(f"{LABELS[k]}: {h['value']:,} ({_change(h)})")
    if d["top_posts"]:
        lines += ["", "Top posts:"]
        for post in d["top_posts"]:
            text = " ".join(str(post.get("text") or post.get("title") or "").split())[:200]
            lines.append(
                f"- {_who(post)} ({post['platform']}, {post['engagement']} interactions): {text}"
            )
            if post.get("url"):
                lines.append(f"  {post['url']}")
    if d["new_voices"]:
        lines += ["", "New voices: " + ", ".join(_who(v) for v in d["new_voices"])]
    if d["amplifiers"]:
        lines += [
            "",
            "Top amplified: " + ", ".join(f"{_who(a)} ({a['total']})" for a in d["amplifiers"]),
        ]
    if d["events"]:
        lines += ["", "Events: " + ", ".join(e["name"] for e in d["events"])]
    lines += ["", f"The same numbers on the dashboard: {d['link']}"]
    return "\n".join(lines)


def _chart_svg(volume: list[tuple[int, int]], bucket_s: int) -> str:
    """The volume chart as inline SVG bars (no script, no remote content)."""
    w, h, pad = 560, 120, 4
    top = max((n for _, n in volume), default=0) or 1
    bar = (w - pad * 2) / max(len(volume), 1)
    rects = []
    for i, (ts, n) in enumerate(volume):
        bh = (h - 20) * n / top
        when = datetime.fromtimestamp(ts, UTC).strftime(
            "%d %b %H:%M" if bucket_s < 86_400 else "%d %b"
        )
        rects.append(
            f"<rect x='{pad + i * bar:.1f}' y='{h - bh:.1f}' width='{max(bar - 1, 1):.1f}' "
            f"height='{bh:.1f}' fill='#1f4e79'><title>{when} UTC: {n}</title></rect>"
        )
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}' role='img' "
        f"aria-label='mentions per {'hour' if bucket_s < 86_400 else 'day'}'>"
        f"<text x='4' y='12' font-size='11' fill='#555'>peak {top:,}</text>{''.join(rects)}</svg>"
    )


def render_html(d: dict[str, Any]) -> str:
    """A self-contained HTML report: inline styles and chart, no script, no remote content.
    Every value from the store is escaped."""
    e = html.escape
    p: Period = d["period"]
    cells = "".join(
        f"<td style='padding:8px 14px;border:1px solid #ddd'><div style='font-size:12px;"
        f"color:#555'>{LABELS[k]}</div><div style='font-size:22px;font-weight:600'>"
        f"{d['headline'][k]['value']:,}</div><div style='font-size:11px;color:#555'>"
        f"{e(_change(d['headline'][k]))}</div></td>"
        for k in HEADLINE_KEYS
    )
    posts = "".join(
        f"<li style='margin-bottom:8px'><b>{e(_who(post))}</b> ({e(post['platform'])}, "
        f"{post['engagement']} interactions): "
        f"{e(' '.join(str(post.get('text') or post.get('title') or '').split())[:280])}"
        + (f" <a href='{e(post['url'], quote=True)}'>open</a>" if post.get("url") else "")
        + "</li>"
        for post in d["top_posts"]
    )
    voices = ", ".join(e(_who(v)) for v in d["new_voices"])
    amps = ", ".join(f"{e(_who(a))} ({a['total']})" for a in d["amplifiers"])
    events = ", ".join(e(ev["name"]) for ev in d["events"])
    section = "<h3 style='font-size:15px;margin:18px 0 6px'>{}</h3>{}"
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{e(d['movement']['name'])} digest {e(p.label())}</title></head>",
        "<body style='font-family:system-ui,sans-serif;color:#111;max-width:700px'>",
        f"<h2 style='font-size:19px'>{e(d['movement']['name'])}: {p.kind}ly digest</h2>",
        f"<p style='color:#555'>{e(p.label())} ({e(p.zone)})</p>",
        f"<table style='border-collapse:collapse'><tr>{cells}</tr></table>",
        section.format("Volume", _chart_svg(d["volume"], d["bucket_s"])),
    ]
    if posts:
        parts.append(section.format("Top posts", f"<ol>{posts}</ol>"))
    if voices:
        parts.append(section.format("New voices", f"<p>{voices}</p>"))
    if amps:
        parts.append(section.format("Top amplified", f"<p>{amps}</p>"))
    if events:
        parts.append(section.format("Events", f"<p>{events}</p>"))
    parts.append(
        f"<p><a href='{e(d['link'], quote=True)}'>The same numbers on the dashboard</a></p>"
        "</body></html>"
    )
    return "".join(parts)


def queue_digest(
    engine: Engine, settings: Settings, d: dict[str, Any], *, now: datetime
) -> int | None:
    """Put the digest in the outbox (email only): a `digest` alert, once per movement and
    period. Returns its id, or None when this period's digest was already queued."""
    if settings.alerts.email is None:
        raise LookupError("sending a digest needs [alerts.email] in the config (docs/alerts.md)")
    p: Period = d["period"]
    alert = NewAlert(
        rule="digest",
        kind="digest",
        episode=f"{d['movement']['slug']}:{p.kind}:{p.first.isoformat()}:{p.zone}",
        fired_at=now,
        movement_id=d["movement"]["id"],
        title=f"{d['movement']['name']} {p.kind}ly digest, {p.label()}",
        body=render_text(d),
        html=render_html(d),
        evidence={k: d["headline"][k]["value"] for k in HEADLINE_KEYS},
        link=d["link"],
    )
    with write_tx(engine) as conn:
        return record_alert(conn, alert, ["email"], now=now)


def schedule_due(schedule: str, now: datetime) -> tuple[Period, datetime]:
    """The period the schedule's latest slot at or before `now` reports on, and that slot:
    `daily 08:00 Europe/London` reports yesterday (London) from 08:00; `weekly mon 08:00 UTC`
    the seven days before Monday. Queued once per period (the alert's episode)."""
    tokens = schedule.split()
    kind = "day" if tokens[0].lower() == "daily" else "week"
    last = tokens[-1]
    zone = "UTC" if ":" in last or last.lower() in WEEKDAYS or last.lower() == "utc" else last
    hhmm = next(t for t in tokens if ":" in t)
    local = now.astimezone(ZoneInfo(zone))
    slot = local.replace(hour=int(hhmm[:2]), minute=int(hhmm[3:5]), second=0, microsecond=0)
    if slot > local:
        slot -= timedelta(days=1)
    if kind == "week":
        day = next((t.lower() for t in tokens if t.lower() in WEEKDAYS), "mon")
        while slot.weekday() != WEEKDAYS.index(day):
            slot -= timedelta(days=1)
    return last_period(kind, slot, zone), slot


def queue_scheduled_digest(engine: Engine, settings: Settings, *, now: datetime) -> int | None:
    """Queue the digest `[alerts.digest].schedule` asks for, once per period."""
    cfg = settings.alerts
    if not cfg.digest.schedule or cfg.email is None:
        return None
    period, _slot = schedule_due(cfg.digest.schedule, now)
    kind, zone = period.kind, period.zone
    with engine.connect() as conn:
        try:
            mv = _movement(conn, cfg.digest.movement)
        except LookupError:
            return None
        episode = f"{mv['slug']}:{kind}:{period.first.isoformat()}:{zone}"
        done = conn.execute(
            select(AL.c.id).where(AL.c.rule == "digest", AL.c.episode == episode)
        ).first()
        if done is not None:
            return None
        d = build(conn, period, mv["slug"], cfg.dashboard_url)
    return queue_digest(engine, settings, d, now=now)


__all__ = ["build", "dashboard_link", "last_period", "queue_digest", "render_html", "render_text"]
