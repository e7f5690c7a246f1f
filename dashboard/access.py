"""Who may see the dashboard at all: an optional gate in front of every page, the projected
wall included (DESIGN.md section 8). Off by default, so local use stays open.

1. OIDC: `[auth]` in .streamlit/secrets.toml and `[dashboard].viewer_emails` and/or
   `viewer_domains` in the config: every page needs a signed-in, verified email on the list
   (moderators are always viewers). A shared password is then not accepted: it would be a side
   door around the list.
2. Else a password from the environment (GROUNDSWELL_DASHBOARD_PASSWORD), asked once per
   browser session.
3. Else open, as before; except that a config naming viewers with neither sign-in nor password
   configured is locked rather than served to everyone (its owner meant it to be closed).

The moderator page keeps its own, stricter check (`dashboard.moderator_auth`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import streamlit as st

from dashboard.auth import (
    VIEWER_THROTTLE,
    email_problem,
    sign_in_button,
    signed_in_email,
    try_password,
)
from dashboard.gate import PASSWORD_ENV, mode_and_password
from dashboard.roles import grant, shown_identity, sign_in_expired, sign_out, signed_in_user
from domain.access import AccessSettings, missing_role_message, roles_from_claims
from domain.settings.config import DashboardSettings, Settings

SESSION_KEY = "gs_viewer"


def viewer_refusal(
    user: Mapping[str, Any],
    dashboard: DashboardSettings,
    moderators: Sequence[str] = (),
    access: AccessSettings | None = None,
) -> str | None:
    """Why this signed-in identity may not view the dashboard, or None when it may.

    Allowed: any role from the provider's claims under `[access.roles]`; or a verified email
    listed in `viewer_emails` or `[wall].moderator_emails`, or whose domain (the part after the
    last '@', exactly: no subdomains) is in `viewer_domains`.
    """
    if access is not None and access.mapped:
        if roles_from_claims(user, access):
            return None
        if not dashboard.restricted and not moderators:
            return missing_role_message("view", (), access)
    problem = email_problem(user, to="view this dashboard")
    if problem is not None:
        return problem
    email = signed_in_email(user)
    listed = {e.strip().lower() for e in (*dashboard.viewer_emails, *moderators)}
    if email in listed:
        return None
    if email.rpartition("@")[2] in set(dashboard.viewer_domains):
        return None
    return f"{email} is not on this dashboard's list of viewers; ask its organisers to add you."


def admitted(settings: Settings) -> bool:
    """Whether this session may see the pages now (renders nothing).

    `dashboard/app.py` asks before `st.navigation`, to keep the menu hidden from a visitor who
    has not signed in; navigation itself must still run first on every run, or the page the
    visitor asked for (say `/wall`) is forgotten and the rerun after sign-in lands on the
    default page.
    """
    mode, _ = mode_and_password(settings)
    if mode == "open":
        return True
    if mode == "password":
        return bool(st.session_state.get(SESSION_KEY))
    if mode == "oidc":
        user = signed_in_user(settings)
        if user is None:
            return False
        return _refusal(user, settings) is None
    return False


def require_viewer(settings: Settings) -> None:
    """Let the visitor through to the page, or show the sign-in and stop the run."""
    mode, password = mode_and_password(settings)
    if mode == "open":
        return
    if mode == "locked":
        st.error(
            "This dashboard is locked: the config lists viewer_emails/viewer_domains in "
            "[dashboard] or maps roles in [access.roles], but no sign-in is configured. Add an "
            "[auth] section to "
            f".streamlit/secrets.toml, or set {PASSWORD_ENV}, and restart (docs/dashboard.md)."
        )
        st.stop()
    if mode == "password":
        _password_gate(password or "")
    else:
        _oidc_gate(settings)


def _password_gate(secret: str) -> None:
    if st.session_state.get(SESSION_KEY):
        return
    st.title("Groundswell")
    with st.form("gs-viewer-login"):
        given = st.text_input("Dashboard password", type="password")
        submitted = st.form_submit_button("Open the dashboard")
        if submitted and try_password(VIEWER_THROTTLE, given, secret):
            st.session_state[SESSION_KEY] = True
            st.rerun()
    st.stop()


def _refusal(user: Mapping[str, Any], settings: Settings) -> str | None:
    return viewer_refusal(user, settings.dashboard, settings.wall.moderator_emails, settings.access)


def _oidc_gate(settings: Settings) -> None:
    provider = settings.dashboard.login_provider or settings.wall.login_provider
    if sign_in_expired(settings):
        st.title("Groundswell")
        hours = settings.access.max_session_hours
        lasts = f"{hours:g} hours" if hours >= 1 else f"{round(hours * 3600)} seconds"
        st.warning(
            f"Your sign-in has expired (a sign-in lasts {lasts} here, so a role taken away by "
            "your organisation does not linger). Sign in again to continue."
        )
        sign_in_button(provider, key="gs-viewer-login")
        st.stop()
    user = signed_in_user(settings)
    if user is None:
        st.title("Groundswell")
        st.info("Sign in with your organisation's account to see this dashboard.")
        sign_in_button(provider, key="gs-viewer-login")
        st.stop()
    reason = _refusal(user, settings)
    if reason is not None:
        st.error(reason)
        if st.button("Sign out", key="gs-viewer-logout"):
            sign_out(settings)
        st.stop()
    if not st.context.is_embedded:  # the projected wall shows no sidebar
        with st.sidebar:
            roles = ", ".join(sorted(grant(settings).roles))
            st.caption(f"Signed in as {shown_identity(user)} · {roles}")
            if st.button("Sign out", key="gs-viewer-logout"):
                sign_out(settings)
