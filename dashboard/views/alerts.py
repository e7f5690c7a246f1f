"""Alerts: what the rules found (with their evidence and deliveries), how each rule stands,
and acknowledging, which only moderators may do (docs/alerts.md)."""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from dashboard import audit, data, ui, wall_common
from dashboard.filters import sidebar_filters
from dashboard.roles import grant, refusal_text
from storage.alerts import acknowledge, list_alerts, outbox_counts, rule_states
from storage.engine import write_tx

f = sidebar_filters()
settings = wall_common.settings()
st.title("Alerts")
st.caption(
    "Spikes, new places, watched terms, new large amplifiers and events, as the "
    "`[[alerts.rules]]` of the configuration found them (docs/alerts.md)."
)

show_all = st.toggle("Show acknowledged alerts too", value=False)
try:
    with data.engine().connect() as conn:
        alerts = list_alerts(
            conn, unacknowledged=not show_all, movement_id=int(f.movement["id"]), limit=200
        )
        states = rule_states(conn)
        outbox = outbox_counts(conn)
except SQLAlchemyError as exc:
    st.error(f"The store could not be read: {str(exc).splitlines()[0]}")
    st.stop()

if alerts:
    st.dataframe(
        [
            {
                "Id": a["id"],
                "Fired (UTC)": a["fired_at"].strftime("%Y-%m-%d %H:%M"),
                "Rule": a["rule"],
                "Alert": ui.short(a["title"], 200),
                "Details": ui.short(a["body"], 400),
                "Open": ui.safe_url(a["link"]),
                "Deliveries": ", ".join(a["deliveries"]) or "-",
                "Acknowledged": a["acknowledged_by"] or "",
            }
            for a in alerts
        ],
        hide_index=True,
        column_config={"Open": st.column_config.LinkColumn("Open", display_text="dashboard")},
        key="alerts_table",
    )
else:
    ui.empty(
        "No alerts waiting for acknowledgement." if not show_all else "No alerts yet.",
        "Rules are evaluated by `groundswell collect --loop`, `up`, or `alerts --once`.",
    )
if outbox:
    st.caption(
        "Deliveries: "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(outbox.items()))
        + " (`groundswell status` lists the ones not yet accepted, with their errors)."
    )

st.subheader("Rules")
rules = settings.alerts.rules
if not rules:
    st.info("No `[[alerts.rules]]` in the configuration; see docs/alerts.md for an example.")
else:
    slug = f.movement["slug"]
    rows = []
    for r in rules:
        if r.movement not in (None, slug):
            continue
        s = states.get(f"{r.name}/{slug}", {})
        last = s.get("last_evaluated_at")
        rows.append(
            {
                "Rule": r.name,
                "Kind": r.kind,
                "Channels": ", ".join(settings.alerts.channel_names(r)) or "none",
                "Last evaluated (UTC)": last.strftime("%Y-%m-%d %H:%M") if last else "never",
                "In an episode": "yes" if s.get("active") else "no",
                "Last reading": ", ".join(
                    f"{k} {v}" for k, v in (s.get("last_value") or {}).items()
                ),
                "Problem": s.get("last_error") or "",
            }
        )
    st.dataframe(rows, hide_index=True, key="alerts_rules")

st.subheader("Acknowledge")
session = grant(settings)
moderator = (session.who or "moderator") if session.allows("acknowledge_alerts") else None
waiting = [a for a in alerts if a["acknowledged_at"] is None]
if moderator is None:
    st.info(refusal_text(settings, "acknowledge_alerts"))
elif not waiting:
    st.caption("Nothing to acknowledge.")
else:
    chosen = st.multiselect(
        "Alerts to acknowledge",
        [a["id"] for a in waiting],
        format_func=lambda i: next(f"#{a['id']} {a['title']}" for a in waiting if a["id"] == i),
    )
    if st.button("Acknowledge", disabled=not chosen, type="primary"):
        with write_tx(data.engine()) as conn:
            for alert_id in chosen:
                if acknowledge(conn, alert_id, by=moderator, now=datetime.now(UTC)):
                    audit.record(
                        conn,
                        settings,
                        role="moderator",
                        action="alerts.acknowledge",
                        target_kind="alert",
                        target_id=alert_id,
                    )
        data.clear()
        st.rerun()
