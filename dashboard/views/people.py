"""People: the persons behind several accounts, and a moderator's link or unlink (issue 20).

Pages count persons where they say "people" (docs/people.md): accounts are linked on evidence
or by a moderator here, with a reason kept in the log. Viewers see the linked persons;
moderators (signed in on the Moderate wall page) also link and unlink.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard import audit, data, ui, wall_common
from dashboard.roles import grant, permitted, refusal_text
from storage.engine import write_tx
from storage.people_links import suggestions
from storage.person_moderation import (
    PersonModerationError,
    audit_log,
    link_accounts,
    unlink_accounts,
)
from storage.queries.persons import find_accounts, linked_people

st.title("People")
st.caption(
    "One person or organisation behind accounts on several platforms counts once wherever a "
    "page says “people”. Accounts are linked only on evidence (verified rel=me links, a "
    "Bluesky domain handle that is the blog's host, bridge accounts) or by a moderator here."
)
engine = wall_common.engine()
settings = wall_common.settings()
# Checked on the server at every rerun (dashboard/roles.py): linking is a moderator's job.
may_link = permitted(settings, "moderate")
moderator = grant(settings).who or "open dashboard (no sign-in)"
who = audit.actor(settings)  # the audit trail's name for this session (with the subject)
done = st.session_state.pop("people_done", None)
if done:
    st.success(done)


def _label(a: dict[str, Any]) -> str:
    name = "" if a["opted_out"] else f"{ui.short(a['display_name'] or '', 40)} · "
    return f"{name}{ui.short(a['handle'] or a['native_id'], 60)} ({a['platform']})"


with engine.connect() as conn:
    linked = linked_people(conn)
st.subheader(f"Persons with more than one account ({len(linked):,})")
if linked:
    st.dataframe(
        [
            {
                "Person": "opted-out person" if p["opted_out"] else ui.short(p["name"] or "", 60),
                "Accounts": "" if p["opted_out"] else ui.short(", ".join(p["handles"]), 120),
                "Platforms": ", ".join(p["platforms"]),
            }
            for p in linked
        ],
        hide_index=True,
        key="people_linked",
    )
else:
    st.caption("No accounts are linked yet: every account counts as its own person.")

st.subheader("Link or unlink two accounts")
if not may_link:
    st.info("Only moderators can link or unlink accounts. " + refusal_text(settings, "moderate"))
else:
    st.caption(f"Signed in as {moderator}. Every link and unlink is logged with its reason.")

    def pick(label: str, key: str) -> dict[str, Any] | None:
        needle = st.text_input(f"{label}: search handle or name", key=f"{key}_q")
        if not needle:
            return None
        with engine.connect() as conn:
            found = find_accounts(conn, needle)
        if not found:
            st.caption("No account matches.")
            return None
        return st.selectbox(label, found, format_func=_label, key=f"{key}_pick")

    left, right = st.columns(2)
    with left:
        first = pick("First account", "people_a")
    with right:
        second = pick("Second account", "people_b")
    reason = st.text_input("Reason (kept in the log)", key="people_reason")
    go_link, go_unlink = st.columns(2)
    if go_link.button("Link as one person", key="people_link", disabled=not (first and second)):
        try:
            with write_tx(engine) as conn:
                link_accounts(
                    conn, first["id"], second["id"], moderator=moderator, reason=reason, actor=who
                )
        except PersonModerationError as exc:
            st.error(str(exc))
        else:
            data.clear()
            st.session_state["people_done"] = "Linked: they now count as one person."
            st.rerun()
    if go_unlink.button(
        "Two people: unlink these accounts", key="people_unlink", disabled=not (first and second)
    ):
        try:
            with write_tx(engine) as conn:
                unlink_accounts(
                    conn, first["id"], second["id"], moderator=moderator, reason=reason, actor=who
                )
        except PersonModerationError as exc:
            st.error(str(exc))
        else:
            data.clear()
            st.session_state["people_done"] = (
                "Unlinked: they count as two people, whatever evidence comes later."
            )
            st.rerun()

    st.subheader("Suggestions: one-way claims")
    st.caption(
        "A profile or page that names another account which does not name it back never "
        "merges (anyone can write someone else's address): look, then link or unlink above."
    )
    with engine.connect() as conn:
        claims = suggestions(conn, limit=50)
    if claims:
        st.dataframe(
            [
                {
                    "Claims to be": ui.short(f"{c['hi_handle']} ({c['hi_platform']})", 80),
                    "Account": ui.short(f"{c['lo_handle']} ({c['lo_platform']})", 80),
                    "Evidence": c["kind"],
                    "Checked (UTC)": c["checked_at"].strftime("%Y-%m-%d %H:%M")
                    if c["checked_at"]
                    else "",
                }
                for c in claims
            ],
            hide_index=True,
            key="people_claims",
        )
    else:
        st.caption("No one-way claims waiting.")

    st.subheader("Log of links and unlinks")
    with engine.connect() as conn:
        log = audit_log(conn)
    if log:
        st.dataframe(
            [
                {
                    "When (UTC)": r["at"].strftime("%Y-%m-%d %H:%M") if r["at"] else "",
                    "Action": r["action"],
                    "Accounts": ui.short(" + ".join(r["accounts"]), 160),
                    "Moderator": ui.short(r["moderator"] or "", 80),
                    "Reason": ui.short(r["reason"] or "", 200),
                }
                for r in log
            ],
            hide_index=True,
            key="people_log",
        )
    else:
        st.caption("No moderator has linked or unlinked accounts yet.")
