"""Evaluate the configured rules as of a moment and record what fired (with its outbox rows).

A cycle is one write transaction (a savepoint per rule and movement): the episode states, the
alerts and their deliveries commit together, so a crash mid-evaluation leaves either all of
them or none, and a second evaluation of the same moment records nothing new (`(rule, episode)` is
unique). What each kind reads is in `storage/queries/alerts.py`; the decisions are
`groundswell/alerts/rules.py`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from domain.settings.alerts import AlertRule, AlertsSettings
from domain.settings.config import Settings
from groundswell.alerts.rules import (
    Episode,
    baseline_windows,
    read_spike,
    spike_step,
    step,
)
from storage.alerts import (
    NewAlert,
    alert_exists,
    quoting_alerts,
    record_alert,
    rewrite_alert,
    rule_state,
    save_rule_state,
)
from storage.engine import write_tx
from storage.queries import alerts as q
from storage.queries.events import AFTERGLOW_MAX_H, event_report
from storage.queries.overview import top_posts
from storage.queries.scope import Scope, list_events, list_movements

log = logging.getLogger("groundswell.alerts")
QUOTES_KEPT_DAYS = 90  # alerts this recent have their quotes re-checked every cycle


@dataclass(slots=True)
class Outcome:
    """What one evaluation of one rule on one movement found."""

    alerts: list[NewAlert]
    state: Episode
    value: dict[str, Any]


def _ts(at: datetime) -> int:
    return int(at.timestamp())


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


def dashboard_link(
    base: str, page: str, slug: str, start_ts: int, end_ts: int, platform: str | None = None
) -> str:
    """A dashboard URL carrying the alert's filters (the query string `dashboard/filters.py`
    reads: movement, a custom date range, platform)."""
    params = {
        "mv": slug,
        "range": "custom",
        "from": datetime.fromtimestamp(start_ts, UTC).date().isoformat(),
        "to": datetime.fromtimestamp(max(start_ts, end_ts - 1), UTC).date().isoformat(),
        "tz": "UTC",
    }
    if platform:
        params["pf"] = platform
    return f"{base.rstrip('/')}/{page}?{urlencode(params)}"


# -- one function per rule kind ------------------------------------------------------------------


def _spike(conn: Connection, ctx: _Ctx) -> Outcome:
    r, mv, at = ctx.rule, ctx.movement, ctx.at
    end = _ts(at)
    start = end - r.window_minutes * 60
    platforms = (r.platform,) if r.platform else ()
    count = q.window_count(conn, Scope(mv["id"], start, end, platforms))
    lo_h = (start - r.baseline_days * 86_400) // 3600
    hi_h = -(-(end - 86_400) // 3600)
    per_hour = q.hourly(conn, mv["id"], lo_h, hi_h, r.platform)
    windows = baseline_windows(
        per_hour, start, end, r.baseline_days, q.first_hour(conn, mv["id"], r.platform)
    )
    reading = read_spike(count, windows)
    fire, state = spike_step(
        ctx.state,
        reading,
        at=at,
        min_count=r.min_count,
        lift=r.lift,
        clear_lift=r.clear_lift or 1.0,
        cooldown_minutes=r.cooldown_minutes,
        key=f"{mv['slug']}:{at.strftime('%Y-%m-%dT%H:%M')}",
    )
    value = reading.as_dict()
    found = []
    if fire:
        where = f" on {r.platform}" if r.platform else ""
        base = f"{reading.baseline:.1f}" if reading.baseline is not None else "-"
        found.append(
            NewAlert(
                rule=r.name,
                kind="spike",
                episode=state.episode or "",
                fired_at=at,
                movement_id=mv["id"],
                title=f"Spike: {count} mentions of {mv['name']}{where} in {r.window_minutes} "
                f"min, {reading.lift:.1f}x the usual",
                body=(
                    f"{count} mentions{where} between {_iso(start)} and {_iso(end)}; the same "
                    f"time of day over the previous {reading.days} days averaged {base} "
                    f"(lift {reading.lift:.1f}, threshold {r.lift})."
                ),
                evidence={**value, "window_start_ts": start, "window_end_ts": end},
                link=dashboard_link(ctx.base, "overview", mv["slug"], start, end, r.platform),
            )
        )
    return Outcome(found, state, value)


def _since(ctx: _Ctx) -> int:
    """Start of the window a "first time" rule looks at: since its last evaluation when that
    was recent (no gap between cycles), else `window_minutes` back."""
    end = _ts(ctx.at)
    start = end - ctx.rule.window_minutes * 60
    last = ctx.last_evaluated_at
    if last is not None and ctx.at - timedelta(days=1) <= last < ctx.at:
        start = min(start, _ts(last))
    return start


def _new_place(conn: Connection, ctx: _Ctx) -> Outcome:
    mv, end = ctx.movement, _ts(ctx.at)
    start = _since(ctx)
    found = []
    for p in q.new_places(conn, mv["id"], start, end):
        what = {"platform": "platform", "instance": "Mastodon instance", "blog": "blog"}[p["kind"]]
        found.append(
            NewAlert(
                rule=ctx.rule.name,
                kind="new_place",
                episode=f"{mv['slug']}:{p['kind']}:{p['place']}",
                fired_at=ctx.at,
                movement_id=mv["id"],
                title=f"New place: {mv['name']} reached the {what} {p['place']}",
                body=f"The first mention of {mv['name']} on the {what} {p['place']} was at "
                f"{_iso(p['first_ts'])}.",
                evidence=p,
                link=dashboard_link(
                    ctx.base, "spread", mv["slug"], p["first_ts"], end, p["platform"]
                ),
            )
        )
    return Outcome(found, ctx.state, {"new_places": len(found), "since_ts": start})


def terms_body(evidence: dict[str, Any]) -> str:
    """A watched-terms alert's text from its evidence: what it counted, what it may quote."""
    quotes = evidence["quotes"]
    lines = [f"- {qq['handle'] or qq['platform']}: {(qq['text'] or '')[:280]}" for qq in quotes]
    withheld = evidence["count"] - len(quotes)
    if withheld:
        lines.append(
            f"- and {withheld} more not quoted (opted-out authors, posts matched without "
            "consent, or deleted since; docs/alerts.md)"
        )
    terms = ", ".join(repr(t) for t in evidence["terms"])
    return (
        f"{evidence['count']} mentions of {evidence['movement_name']} between "
        f"{_iso(evidence['window_start_ts'])} and {_iso(evidence['window_end_ts'])} contain "
        f"{terms}:\n" + "\n".join(lines)
    )


def afterglow_body(evidence: dict[str, Any]) -> str:
    """An event's closing summary: lift, new voices, after-glow, the top posts in the room
    (displayable ones only: `overview.top_posts` applies the consent rule)."""
    lift = "new" if evidence["lift"] is None else f"{evidence['lift']:.1f}x"
    text = (
        f"{evidence['name']}: {evidence['mentions']} mentions during the event (lift {lift} "
        f"over the window before it), {evidence['new_authors']} new voices, and an after-glow "
        f"of {evidence['afterglow_hours']} hours above the baseline rate."
    )
    quotes = evidence.get("quotes") or []
    if quotes:
        text += "\nTop posts in the room:\n" + "\n".join(
            f"- {qq['handle'] or qq['platform']}: {(qq['text'] or '')[:280]}" for qq in quotes
        )
    return text


BODIES = {"watched_terms": terms_body, "event": afterglow_body}


def withdraw_quotes(conn: Connection, settings: Settings, *, since: datetime) -> int:
    """Honour deletions and opt-outs that came after an alert quoted a post: its quote is
    dropped from the stored alert (and from deliveries not sent yet). Returns how many alerts
    changed. Messages already delivered cannot be recalled (docs/alerts.md)."""
    changed = 0
    for a in quoting_alerts(conn, since=since):
        ev = dict(a["evidence"])
        ids = [qq.get("id") for qq in ev.get("quotes", [])]
        keep = q.displayable_ids(
            conn,
            [i for i in ids if i is not None],
            a["movement_id"],
            discoverable_false_is_opt_out=settings.ethics.discoverable_false_is_opt_out,
        )
        quotes = [qq for qq in ev.get("quotes", []) if qq.get("id") in keep]
        if len(quotes) != len(ev.get("quotes", [])):
            ev["quotes"] = quotes
            rewrite_alert(conn, a["id"], evidence=ev, body=BODIES[a["kind"]](ev))
            changed += 1
    return changed


def _watched_terms(conn: Connection, ctx: _Ctx) -> Outcome:
    r, mv, end = ctx.rule, ctx.movement, _ts(ctx.at)
    start = end - r.window_minutes * 60
    seen = q.term_mentions(
        conn,
        Scope(mv["id"], start, end),
        r.terms,
        discoverable_false_is_opt_out=ctx.settings.ethics.discoverable_false_is_opt_out,
    )
    fire, state = step(
        ctx.state,
        opens=seen["count"] > 0,
        closes=seen["count"] == 0,
        at=ctx.at,
        cooldown_minutes=r.cooldown_minutes,
        key=f"{mv['slug']}:{ctx.at.strftime('%Y-%m-%dT%H:%M')}",
    )
    found = []
    if fire:
        quotes = [
            {k: qq[k] for k in ("id", "platform", "handle", "text", "url", "created_ts")}
            for qq in seen["quotes"]
        ]
        evidence = {
            "count": seen["count"],
            "terms": r.terms,
            "quotes": quotes,
            "movement_name": mv["name"],
            "window_start_ts": start,
            "window_end_ts": end,
        }
        found.append(
            NewAlert(
                rule=r.name,
                kind="watched_terms",
                episode=state.episode or "",
                fired_at=ctx.at,
                movement_id=mv["id"],
                title=f"Watched terms: {seen['count']} mentions of {', '.join(r.terms)}",
                body=terms_body(evidence),
                evidence=evidence,
                link=dashboard_link(ctx.base, "explore", mv["slug"], start, end),
            )
        )
    return Outcome(found, state, {"count": seen["count"]})


def _new_amplifier(conn: Connection, ctx: _Ctx) -> Outcome:
    r, mv, end = ctx.rule, ctx.movement, _ts(ctx.at)
    start = end - r.window_minutes * 60
    found = []
    amps = q.new_amplifiers(
        conn,
        mv["id"],
        start,
        end,
        min_reposts=r.min_reposts,
        discoverable_false_is_opt_out=ctx.settings.ethics.discoverable_false_is_opt_out,
    )
    for a in amps:
        who = a["handle"] or f"an account on {a['platform']} (opted out: not named)"
        found.append(
            NewAlert(
                rule=r.name,
                kind="new_amplifier",
                episode=f"{mv['slug']}:account:{a['account_id']}",
                fired_at=ctx.at,
                movement_id=mv["id"],
                title=f"New large amplifier: {who}",
                body=f"{who} first joined the {mv['name']} conversation after {_iso(start)}; "
                f"its posts drew {a['amplifications']} amplifications (threshold "
                f"{r.min_reposts}).",
                evidence=a,
                link=dashboard_link(ctx.base, "amplifiers", mv["slug"], start, end),
            )
        )
    return Outcome(found, ctx.state, {"new_amplifiers": len(found)})


def _event(conn: Connection, ctx: _Ctx) -> Outcome:
    r, mv, end = ctx.rule, ctx.movement, _ts(ctx.at)
    start = _since(ctx)
    found = []
    for ev in list_events(conn, mv["id"]):
        if start < ev["start_ts"] <= end:
            found.append(
                NewAlert(
                    rule=r.name,
                    kind="event",
                    episode=f"{mv['slug']}:{ev['slug']}:start",
                    fired_at=ctx.at,
                    movement_id=mv["id"],
                    title=f"Event started: {ev['name']}",
                    body=f"{ev['name']} started at {_iso(ev['start_ts'])}"
                    + (f" ({ev['place']})" if ev.get("place") else "")
                    + ".",
                    evidence={"event": ev["slug"], "start_ts": ev["start_ts"]},
                    link=dashboard_link(ctx.base, "events", mv["slug"], ev["start_ts"], end),
                )
            )
        if ev["end_ts"] > end or ev["end_ts"] + (AFTERGLOW_MAX_H + 2) * 3600 < start:
            continue  # not over yet, or its after-glow ended before this window in any case
        episode = f"{mv['slug']}:{ev['slug']}:afterglow"
        if alert_exists(conn, r.name, episode):
            continue  # reported already: no need to measure it again every cycle
        rep = event_report(conn, mv["id"], ev)
        glow_end = -(-ev["end_ts"] // 3600) * 3600 + rep["afterglow_hours"] * 3600
        if rep["afterglow_hours"] >= AFTERGLOW_MAX_H or not (start < glow_end + 3600 <= end):
            continue
        top = top_posts(conn, Scope(mv["id"], ev["start_ts"], ev["end_ts"]), limit=3)
        evidence = {k: v for k, v in rep.items() if k != "event_id"}
        evidence["quotes"] = [
            {k: p[k] for k in ("id", "platform", "handle", "text", "url", "created_ts")}
            for p in top
        ]
        found.append(
            NewAlert(
                rule=r.name,
                kind="event",
                episode=episode,
                fired_at=ctx.at,
                movement_id=mv["id"],
                title=f"After-glow ended: {ev['name']}",
                body=afterglow_body(evidence),
                evidence=evidence,
                link=dashboard_link(ctx.base, "events", mv["slug"], ev["start_ts"], glow_end),
            )
        )
    return Outcome(found, ctx.state, {"events_checked": True})


@dataclass(slots=True)
class _Ctx:
    rule: AlertRule
    movement: dict[str, Any]
    at: datetime
    state: Episode
    last_evaluated_at: datetime | None
    settings: Settings

    @property
    def base(self) -> str:
        return self.settings.alerts.dashboard_url


KINDS: dict[str, Callable[[Connection, _Ctx], Outcome]] = {
    "spike": _spike,
    "new_place": _new_place,
    "watched_terms": _watched_terms,
    "new_amplifier": _new_amplifier,
    "event": _event,
}


def state_key(rule: AlertRule, slug: str) -> str:
    return f"{rule.name}/{slug}"


def _evaluate_one(
    conn: Connection,
    rule: AlertRule,
    mv: dict[str, Any],
    key: str,
    channels: list[str],
    at: datetime,
    now: datetime,
    settings: Settings,
) -> list[int]:
    """One rule on one movement: read, decide, record what fired and the new state."""
    row = rule_state(conn, key)
    state = Episode(
        active=bool(row.get("active")),
        episode=row.get("episode"),
        last_fired_at=row.get("last_fired_at"),
    )
    out = KINDS[rule.kind](conn, _Ctx(rule, mv, at, state, row.get("last_evaluated_at"), settings))
    new_ids = []
    for alert in out.alerts:
        alert_id = record_alert(conn, alert, channels, now=now)
        if alert_id is not None:
            new_ids.append(alert_id)
    later = row.get("last_evaluated_at")
    save_rule_state(
        conn,
        key,
        active=out.state.active,
        episode=out.state.episode,
        last_fired_at=out.state.last_fired_at,
        last_evaluated_at=at if later is None else max(later, at),
        last_value=out.value,
        last_error=None,
    )
    return new_ids


def evaluate(
    engine: Engine, settings: Settings, *, at: datetime, now: datetime | None = None
) -> list[int]:
    """Evaluate every rule on every movement it names as of `at`; returns the new alerts' ids.
    A rule whose SQL fails is rolled back alone and its error recorded on its state."""
    cfg: AlertsSettings = settings.alerts
    if not cfg.rules:
        return []
    now = now or datetime.now(UTC)
    new_ids: list[int] = []
    # One transaction for the cycle (a commit per rule was most of a cycle's time on SQLite),
    # one savepoint per rule and movement: a rule that fails is rolled back alone, recorded on
    # its state, and the others go on.
    with write_tx(engine) as conn:
        movements = list_movements(conn)
        withdraw_quotes(conn, settings, since=now - timedelta(days=QUOTES_KEPT_DAYS))
        for rule in cfg.rules:
            channels = cfg.channel_names(rule)
            for mv in movements:
                if rule.movement is not None and mv["slug"] != rule.movement:
                    continue
                key = state_key(rule, mv["slug"])
                try:
                    with conn.begin_nested():
                        new_ids += _evaluate_one(conn, rule, mv, key, channels, at, now, settings)
                except SQLAlchemyError as exc:
                    log.error("alert rule %s on %s failed: %s", rule.name, mv["slug"], exc)
                    save_rule_state(conn, key, last_error=str(exc).splitlines()[0][:500])
    return new_ids
