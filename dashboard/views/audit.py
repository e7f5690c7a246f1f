"""Audit trail: who signed in, hid, pinned, approved, exported, edited events and acknowledged
alerts, and when (docs/access.md, "The audit trail").

Moderators and auditors read it here, filtered by actor, action and time; only auditors may
download it, and each download is itself recorded. Withheld posts' and opted-out authors' ids
are blank (`storage.audit`): the trail names staff, not the public.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, time, timedelta

import streamlit as st

from dashboard import audit, ui, wall_common
from dashboard.roles import permitted, refuse
from storage.audit import (
    ACTIONS,
    EXPORT_FIELDS,
    AuditFilter,
    facets,
    flat_row,
    iter_actions,
    list_actions,
)
from storage.engine import write_tx

LIMIT = 200  # drawn as a static table: st.dataframe would offer every viewer a CSV download


def describe(detail: dict[str, object]) -> str:
    """An audit row's detail as one readable line (lists joined, empty values left out)."""
    parts = []
    for key, value in detail.items():
        if value in (None, [], ""):
            continue
        shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        parts.append(f"{key}: {shown}")
    return "; ".join(parts)


settings = wall_common.settings()
engine = wall_common.engine()
st.title("Audit trail")
if not permitted(settings, "view_audit"):
    refuse(settings, "view_audit")
st.caption(
    "Who did what, and when: sign-ins, wall moderation, event edits, exports and alert "
    "acknowledgements. Targets are the store's own ids; a withheld post's is never shown."
)
opt_out = settings.ethics.discoverable_false_is_opt_out
with engine.connect() as conn:
    actors, actions = facets(conn)

c1, c2, c3 = st.columns([3, 2, 3])
actor = c1.selectbox("Actor", ["(everyone)", *actors], key="audit_actor")
action = c2.selectbox(
    "Action",
    ["(every action)", *actions],
    format_func=lambda a: f"{a} ({ACTIONS[a]})" if a in ACTIONS else a,
    key="audit_action",
)
today = datetime.now(UTC).date()
days = c3.date_input(
    "Between (UTC)", (today - timedelta(days=30), today), max_value=today, key="audit_days"
)
first, last = (days[0], days[-1]) if isinstance(days, tuple) and days else (today, today)
where = AuditFilter(
    actor=None if actor == "(everyone)" else actor,
    action=None if action == "(every action)" else action,
    since=datetime.combine(first, time.min, UTC),
    until=datetime.combine(last, time.min, UTC) + timedelta(days=1),
)
with engine.connect() as conn:
    rows = list_actions(conn, where, limit=LIMIT, discoverable_false_is_opt_out=opt_out)

if rows:
    # A static table, not st.dataframe: its built-in "Download as CSV" would hand the trail to
    # moderators, and only auditors may take it away (below).
    st.table(
        [
            {
                "When (UTC)": r["at"].astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
                "Actor": r["actor"],
                "Role": r["role"],
                "Action": ACTIONS.get(r["action"], r["action"]),
                "Target": (r["target_kind"] or "")
                + (" (withheld)" if r["withheld"] else f" {r['target_id'] or ''}"),
                "Detail": ui.short(describe(r["detail"]), 300),
            }
            for r in rows
        ],
        hide_index=True,
    )
    if len(rows) == LIMIT:
        st.caption(f"The newest {LIMIT}; narrow the filters, or export, to see older rows.")
else:
    ui.empty("No recorded actions match these filters.", "Widen the dates or the filters.")

st.subheader("Export for auditors")
if not permitted(settings, "export_audit"):
    st.caption(
        "Only the auditor role may download the audit trail (it names staff); "
        "`groundswell audit export` writes it on the server."
    )
    st.stop()
if st.button("Prepare the audit export (CSV)", key="audit_prepare"):
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_FIELDS)
    writer.writeheader()
    count = 0
    with engine.connect() as conn:
        for page in iter_actions(conn, where, discoverable_false_is_opt_out=opt_out):
            writer.writerows(flat_row(r) for r in page)
            count += len(page)
    with write_tx(engine) as conn:
        audit.record(
            conn,
            settings,
            role="auditor",
            action="audit.export",
            target_kind="download",
            detail={
                "rows": count,
                "format": "csv",
                "actor": where.actor,
                "action": where.action,
                "since": first.isoformat(),
                "until": last.isoformat(),
            },
        )
    st.session_state["audit_csv"] = (f"groundswell-audit-{first}-{last}.csv", buffer.getvalue())
if "audit_csv" in st.session_state:
    name, payload = st.session_state["audit_csv"]
    st.download_button("Download the audit trail", payload, file_name=name, mime="text/csv")
